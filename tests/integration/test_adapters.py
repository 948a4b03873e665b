"""The adapters behind the ports, against moto (SNS, EventBridge) and botocore's Stubber for
End User Messaging SMS (pinpoint-sms-voice-v2), which moto does not emulate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from sms_consent.adapters.event_bus import EventBridgeSink
from sms_consent.adapters.outbound_topic import SnsOutboundRequests
from sms_consent.adapters.senders import EndUserMessagingSender, OutboxSender, SnsSender
from sms_consent.messages import BusEvent, Category, OutboundRequest, OutgoingSms
from sms_consent.ports import RecipientOptedOut, SendError

REGION = "us-east-1"
MOTO_ACCOUNT_ID = "123456789012"  # moto's default account


def _sms(**overrides: Any) -> OutgoingSms:
    fields: dict[str, Any] = {
        "to": "+14155550123",
        "sender": "+18005550100",
        "body": "Example Corp Alerts: sale today. Reply STOP to opt out.",
        "category": Category.MARKETING,
        "program": "alerts",
        "request_id": "req-1",
    }
    return OutgoingSms(**{**fields, **overrides})


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


# ---------------------------------------------------------------- End User Messaging SMS (Stubber)


@pytest.fixture
def eum_client() -> Any:
    return boto3.client("pinpoint-sms-voice-v2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def test_eum_text_message_request_shape(eum_client: Any) -> None:
    sender = EndUserMessagingSender(eum_client, configuration_set="cs-1", protect_configuration_id="protect-1")
    with Stubber(eum_client) as stub:
        stub.add_response(
            "send_text_message",
            {"MessageId": "msg-1"},
            {
                "DestinationPhoneNumber": "+14155550123",
                "OriginationIdentity": "+18005550100",
                "MessageBody": "Example Corp Alerts: sale today. Reply STOP to opt out.",
                "MessageType": "PROMOTIONAL",
                "ConfigurationSetName": "cs-1",
                "ProtectConfigurationId": "protect-1",
                "Context": {"request_id": "req-1", "program": "alerts", "category": "marketing"},
            },
        )
        result = sender.send(_sms())
        stub.assert_no_pending_responses()
    assert result.message_id == "msg-1"


def test_eum_replies_are_transactional(eum_client: Any) -> None:
    sender = EndUserMessagingSender(eum_client)
    with Stubber(eum_client) as stub:
        stub.add_response(
            "send_text_message",
            {"MessageId": "msg-2"},
            {
                "DestinationPhoneNumber": "+14155550123",
                "OriginationIdentity": "12345",
                "MessageBody": "help text",
                "MessageType": "TRANSACTIONAL",
                "Context": {"request_id": "req-1", "program": "alerts", "category": "compliance_reply"},
            },
        )
        sender.send(_sms(sender="12345", body="help text", category=Category.COMPLIANCE_REPLY))
        stub.assert_no_pending_responses()


def test_eum_media_message_request_shape(eum_client: Any) -> None:
    sender = EndUserMessagingSender(eum_client)
    with Stubber(eum_client) as stub:
        stub.add_response(
            "send_media_message",
            {"MessageId": "mms-1"},
            {
                "DestinationPhoneNumber": "+14155550123",
                "OriginationIdentity": "+18005550100",
                "MessageBody": "look",
                "MediaUrls": ["s3://media/cat.jpg"],
                "Context": {"request_id": "req-1", "program": "alerts", "category": "marketing"},
            },
        )
        assert sender.send(_sms(body="look", media_urls=("s3://media/cat.jpg",))).message_id == "mms-1"
        stub.assert_no_pending_responses()


def test_eum_opted_out_conflict_becomes_recipient_opted_out(eum_client: Any) -> None:
    sender = EndUserMessagingSender(eum_client)
    with Stubber(eum_client) as stub:
        stub.add_client_error(
            "send_text_message",
            service_error_code="ConflictException",
            service_message="opted out",
            http_status_code=409,
            response_meta={},
            modeled_fields={
                "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
                "ResourceType": "opt-out-list",
                "ResourceId": "default",
            },
        )
        with pytest.raises(RecipientOptedOut):
            sender.send(_sms())


def test_eum_throttling_is_retryable_and_validation_is_not(eum_client: Any) -> None:
    sender = EndUserMessagingSender(eum_client)
    with Stubber(eum_client) as stub:
        stub.add_client_error("send_text_message", service_error_code="ThrottlingException", http_status_code=400)
        stub.add_client_error("send_text_message", service_error_code="ValidationException", http_status_code=400)
        with pytest.raises(SendError) as throttled:
            sender.send(_sms())
        assert throttled.value.retryable is True
        with pytest.raises(SendError) as invalid:
            sender.send(_sms())
        assert invalid.value.retryable is False


# ---------------------------------------------------------------- SNS sender, outbound topic, event bus (moto)


def test_sns_sender_publishes_to_the_phone_number(aws: None) -> None:
    from moto.sns.models import sns_backends

    client = boto3.client("sns", region_name=REGION)
    result = SnsSender(client).send(_sms(category=Category.TRANSACTIONAL))
    assert result.message_id
    sent = sns_backends[MOTO_ACCOUNT_ID][REGION].sms_messages
    assert list(sent.values()) == [("+14155550123", "Example Corp Alerts: sale today. Reply STOP to opt out.")]


def test_sns_sender_refuses_mms(aws: None) -> None:
    with pytest.raises(SendError, match="MMS"):
        SnsSender(boto3.client("sns", region_name=REGION)).send(_sms(media_urls=("s3://b/k.jpg",)))


def test_outbox_sender_appends_one_line_per_message(tmp_path: Path) -> None:
    outbox = tmp_path / "nested" / "outbox.jsonl"
    sender = OutboxSender(outbox)
    sender.send(_sms())
    sender.send(_sms(to="+14155550124", body="second"))
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert [line["to"] for line in lines] == ["+14155550123", "+14155550124"]
    assert set(lines[0]) >= {"to", "from", "body", "media_urls", "category", "request_id", "sent_at"}
    assert lines[0]["from"] == "+18005550100"
    assert datetime.fromisoformat(lines[0]["sent_at"].replace("Z", "+00:00")).tzinfo == UTC


def _subscribe_queue(topic_arn: str) -> tuple[Any, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns", region_name=REGION).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return sqs, queue_url


def test_outbound_topic_marks_platform_categories(aws: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic_arn = sns.create_topic(Name="OutboundRequests")["TopicArn"]
    sqs, queue_url = _subscribe_queue(topic_arn)
    publisher = SnsOutboundRequests(sns, topic_arn)
    publisher.publish(
        OutboundRequest(program="alerts", category=Category.COMPLIANCE_REPLY, recipients=("+14155550123",), body="hi")
    )
    publisher.publish(
        OutboundRequest(program="alerts", category=Category.MARKETING, recipients=("+14155550123",), body="sale")
    )
    envelopes = [
        json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    ]
    by_category = {json.loads(e["Message"])["category"]: e for e in envelopes}
    assert by_category["compliance_reply"]["MessageAttributes"]["sms_consent_origin"]["Value"] == "platform"
    assert "sms_consent_origin" not in by_category["marketing"]["MessageAttributes"]
    assert json.loads(by_category["marketing"]["Message"])["recipients"] == ["+14155550123"]


def test_event_bus_sends_batches_of_ten(aws: None) -> None:
    events_client = boto3.client("events", region_name=REGION)
    events_client.create_event_bus(Name="bus")
    calls: list[int] = []
    events_client.meta.events.register(
        "provide-client-params.events.PutEvents", lambda params, **_: calls.append(len(params["Entries"]))
    )
    sink = EventBridgeSink(events_client, "bus")
    sink.publish([BusEvent(detail_type="SendDecided", detail={"phone": f"+1415555{i:04d}"}) for i in range(23)])
    assert calls == [10, 10, 3]
