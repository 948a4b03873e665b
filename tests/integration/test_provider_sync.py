"""The provider's opt-out list and ours agree: the adapters' request shapes (botocore's Stubber for End
User Messaging SMS, which moto lacks; moto for SNS), and ProviderSyncFunction on the in-process stack
with the local list: a provider opt-out is synced and denies the next marketing send; a consumer's
own STOP and START reach the provider's list, the provider's own opt-outs are not echoed back."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from sms_consent import consent, wiring
from sms_consent.adapters.opt_out_lists import EndUserMessagingOptOutList, LocalOptOutList, SnsOptOutList
from sms_consent.consent import EventType, Source, Status
from sms_consent.ports import ProviderOptOut
from tests.conftest import AwsStack, load_event, stores

REGION = "us-east-1"
PHONE = "+14155550123"  # the marketing sample's recipient


@pytest.fixture
def eum_client() -> Any:
    return boto3.client("pinpoint-sms-voice-v2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def test_the_end_user_messaging_list_is_read_page_by_page_and_written_by_name(eum_client: Any) -> None:
    listed = EndUserMessagingOptOutList(eum_client, "shop-list")
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    with Stubber(eum_client) as stub:
        stub.add_response(
            "describe_opted_out_numbers",
            {
                "OptOutListArn": "arn:aws:sms-voice:us-east-1:123456789012:opt-out-list/shop-list",
                "OptOutListName": "shop-list",
                "OptedOutNumbers": [{"OptedOutNumber": PHONE, "OptedOutTimestamp": at, "EndUserOptedOut": True}],
                "NextToken": "page-2",
            },
            {"OptOutListName": "shop-list"},
        )
        stub.add_response(
            "describe_opted_out_numbers",
            {
                "OptOutListArn": "arn:aws:sms-voice:us-east-1:123456789012:opt-out-list/shop-list",
                "OptOutListName": "shop-list",
                "OptedOutNumbers": [
                    {"OptedOutNumber": "+14155550124", "OptedOutTimestamp": at, "EndUserOptedOut": False}
                ],
            },
            {"OptOutListName": "shop-list", "NextToken": "page-2"},
        )
        stub.add_response(
            "put_opted_out_number",
            {"OptedOutNumber": PHONE, "OptOutListName": "shop-list", "OptedOutTimestamp": at, "EndUserOptedOut": False},
            {"OptOutListName": "shop-list", "OptedOutNumber": PHONE},
        )
        stub.add_response(
            "delete_opted_out_number",
            {"OptedOutNumber": PHONE, "OptOutListName": "shop-list", "OptedOutTimestamp": at, "EndUserOptedOut": False},
            {"OptOutListName": "shop-list", "OptedOutNumber": PHONE},
        )
        stub.add_client_error(
            "delete_opted_out_number",
            service_error_code="ValidationException",
            service_message="the end user opted out: only they can opt in",
            expected_params={"OptOutListName": "shop-list", "OptedOutNumber": "+14155550124"},
        )

        entries = list(listed.opted_out())
        assert [(entry.phone, entry.opted_out_at) for entry in entries] == [(PHONE, at), ("+14155550124", at)]
        assert listed.add(PHONE) is True
        assert listed.remove(PHONE) is True
        assert listed.remove("+14155550124") is False
        stub.assert_no_pending_responses()


def test_the_sns_list_is_read_and_a_number_opted_back_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        listed = SnsOptOutList(sns)
        opted_out = [entry.phone for entry in listed.opted_out()]
        assert opted_out  # moto's account starts with a few opted-out numbers
        assert all(entry.opted_out_at is None for entry in listed.opted_out())  # SNS does not say when

        assert listed.add(PHONE) is False  # SNS has no call to add a number
        assert listed.remove(opted_out[0]) is True
        assert opted_out[0] not in [entry.phone for entry in listed.opted_out()]


def _local_list() -> LocalOptOutList:
    return LocalOptOutList(wiring.provider_sync_settings().local_opt_out_list)


def _subscribe(phone: str) -> None:
    at = datetime.now(UTC) - timedelta(days=1)
    stores().numbers.update(
        phone, lambda s: consent.grant(s, "alerts", source=Source.WEB_FORM, at=at, now=at, evidence={})
    )


def test_a_provider_opt_out_is_synced_and_denies_the_next_marketing_send(aws_stack: AwsStack) -> None:
    _subscribe(PHONE)
    aws_stack.runner.load("ProviderSyncFunction")
    _local_list().add(PHONE)  # the consumer texted STOP to the carrier, around the platform

    outcome = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/scheduled.json"))
    again = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/scheduled.json"))
    aws_stack.invoke("SendGateFunction", load_event("send_gate/marketing.json"))

    assert (outcome["recorded"], again["recorded"]) == (1, 0)
    state = stores().numbers.get(PHONE)
    assert state.status("alerts") is Status.UNSUBSCRIBED
    assert state.programs["alerts"].consumer_opted_out
    (revoked,) = [
        e for e in stores().numbers.history(PHONE) if e.event_type is EventType.REVOKED and e.program == "alerts"
    ]
    assert (revoked.source, revoked.evidence["provider"]) == ("carrier", "local")
    assert [line for line in aws_stack.outbox_lines() if line["to"] == PHONE] == []


def test_a_consumers_stop_and_start_reach_the_provider_list_and_its_own_opt_outs_do_not(aws_stack: AwsStack) -> None:
    aws_stack.runner.load("ProviderSyncFunction")
    listed = _local_list()

    stop = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/consumer_stop.json"))
    assert stop == {"action": "added"}
    assert [entry.phone for entry in listed.opted_out()] == [PHONE]

    echoed = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/carrier_opt_out.json"))
    assert echoed == {"action": "ignored"}

    start = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/consumer_start.json"))
    assert start == {"action": "removed"}
    assert list(listed.opted_out()) == []


def test_one_number_is_looked_up_on_the_end_user_messaging_list_by_name(eum_client: Any) -> None:
    listed = EndUserMessagingOptOutList(eum_client, "shop-list")
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    arn = "arn:aws:sms-voice:us-east-1:123456789012:opt-out-list/shop-list"
    with Stubber(eum_client) as stub:
        stub.add_response(
            "describe_opted_out_numbers",
            {
                "OptOutListArn": arn,
                "OptOutListName": "shop-list",
                "OptedOutNumbers": [{"OptedOutNumber": PHONE, "OptedOutTimestamp": at, "EndUserOptedOut": True}],
            },
            {"OptOutListName": "shop-list", "OptedOutNumbers": [PHONE]},
        )
        stub.add_response(  # a number not on the list is left out of the answer
            "describe_opted_out_numbers",
            {"OptOutListArn": arn, "OptOutListName": "shop-list", "OptedOutNumbers": []},
            {"OptOutListName": "shop-list", "OptedOutNumbers": ["+14155550124"]},
        )

        found = listed.lookup(PHONE)
        absent = listed.lookup("+14155550124")
        stub.assert_no_pending_responses()

    assert found == ProviderOptOut(PHONE, at)
    assert absent is None


def test_one_number_is_looked_up_on_the_sns_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        listed = SnsOptOutList(boto3.client("sns", region_name=REGION))
        opted_out = listed.lookup("+14155550199")  # moto's SNS says numbers ending in 99 opted out
        subscribed = listed.lookup(PHONE)

    assert opted_out == ProviderOptOut("+14155550199", None)
    assert subscribed is None


def test_a_blocked_delivery_to_a_number_on_the_list_records_the_opt_out_before_the_next_sync(
    aws_stack: AwsStack,
) -> None:
    _subscribe(PHONE)
    aws_stack.runner.load("ProviderSyncFunction")
    _local_list().add(PHONE)  # the consumer texted STOP to the carrier, around the platform

    delivered = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/delivery_successful.json"))
    assert delivered == {"actions": ["ignored"]}
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED  # a delivery proves nothing

    blocked = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/delivery_blocked.json"))
    aws_stack.invoke("SendGateFunction", load_event("send_gate/marketing.json"))

    assert blocked == {"actions": ["recorded"]}
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    (revoked,) = [
        e for e in stores().numbers.history(PHONE) if e.event_type is EventType.REVOKED and e.program == "alerts"
    ]
    assert revoked.source == "carrier"
    assert (revoked.evidence["provider"], revoked.evidence["delivery_event"]) == ("local", "TEXT_BLOCKED")
    assert [line for line in aws_stack.outbox_lines() if line["to"] == PHONE] == []


def test_a_blocked_delivery_to_a_number_not_on_the_list_leaves_its_consent(aws_stack: AwsStack) -> None:
    _subscribe(PHONE)
    aws_stack.runner.load("ProviderSyncFunction")

    blocked = aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/delivery_blocked.json"))

    assert blocked == {"actions": ["not_listed"]}
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED


HOSTILE_DELIVERY_EVENTS = [
    "not json at all",
    "[" * 8000 + "]" * 8000,
    '{"a":' * 5000 + "1" + "}" * 5000,
    json.dumps({"eventType": "TEXT_BLOCKED", "isFinal": True, "messageId": "m-1"}),  # no number
    json.dumps(
        {
            "eventType": "TEXT_BLOCKED",
            "isFinal": True,
            "messageId": "m-1",
            "destinationPhoneNumber": "+1415'; DROP TABLE--",
        }
    ),
    json.dumps(
        {"eventType": "TEXT_BLOCKED", "isFinal": "maybe", "messageId": "m-1", "destinationPhoneNumber": PHONE}
    ),
    json.dumps(
        {"eventType": "TEXT_BLOCKED" * 1000, "isFinal": True, "messageId": "m-1", "destinationPhoneNumber": PHONE}
    ),
    json.dumps(
        {
            **json.loads(load_event("provider_sync/delivery_blocked.json")["Records"][0]["Sns"]["Message"]),
            "messageStatusDescription": "x" * 3_000_000,
        }
    ),
]


def test_malformed_delivery_events_are_dropped_and_the_rest_of_the_batch_is_looked_up(aws_stack: AwsStack) -> None:
    _subscribe(PHONE)
    aws_stack.runner.load("ProviderSyncFunction")
    _local_list().add(PHONE)
    event = load_event("provider_sync/delivery_blocked.json")
    good = event["Records"][0]
    event["Records"] = [
        {**good, "Sns": {**good["Sns"], "Message": message, "MessageId": str(uuid.uuid4())}}
        for message in HOSTILE_DELIVERY_EVENTS
    ] + [good]

    outcome = aws_stack.invoke("ProviderSyncFunction", event)

    assert outcome == {"actions": ["rejected"] * len(HOSTILE_DELIVERY_EVENTS) + ["recorded"]}
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED


def test_a_failed_lookup_fails_the_invocation_for_a_retry(aws_stack: AwsStack) -> None:
    _subscribe(PHONE)
    aws_stack.runner.load("ProviderSyncFunction")
    listed = _local_list()
    listed.path.parent.mkdir(parents=True, exist_ok=True)
    listed.path.write_text("{ not a list entry\n", encoding="utf-8")  # the provider's answer is unreadable

    with pytest.raises(ValueError):
        aws_stack.invoke("ProviderSyncFunction", load_event("provider_sync/delivery_blocked.json"))
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED
