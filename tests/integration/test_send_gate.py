"""The send gate on moto: the SNS path, the synchronous check, caps under concurrency, deferral and
resend, carrier opt-outs, MMS media, fail closed and bad input."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import Stubber

from sms_consent import consent, send_gate, wiring
from sms_consent.adapters.senders import EndUserMessagingSender
from sms_consent.breakers import Trip
from sms_consent.consent import Status
from sms_consent.messages import Category, OutboundRequest
from sms_consent.send_gate import Reason, Verdict
from tests.conftest import AwsStack, api_request, load_event, stores

SUBSCRIBED = "+12125550123"
STRANGER = "+12125550124"
AFTERNOON = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def subscribe(phone: str, program: str = "alerts") -> None:
    at = AFTERNOON - timedelta(days=1)  # before every moment these tests decide at, whatever today's date
    stores().numbers.update(phone, lambda s: consent.grant(s, program, source="keyword", at=at, now=at, evidence={}))


def deps_at(moment: datetime) -> send_gate.GateDeps:
    deps: send_gate.GateDeps = wiring.gate_deps()
    return replace(deps, clock=lambda: moment)


def marketing(*recipients: str, body: str = "Example Corp Alerts: sale today.", **extra: Any) -> OutboundRequest:
    return OutboundRequest(program="alerts", category=Category.MARKETING, recipients=recipients, body=body, **extra)


def sns_request_event(request: dict[str, Any], *, platform: bool = False) -> dict[str, Any]:
    event: dict[str, Any] = load_event("send_gate/marketing.json")
    sns = event["Records"][0]["Sns"]
    sns["Message"] = json.dumps(request)
    sns["MessageAttributes"] = {"sms_consent_origin": {"Type": "String", "Value": "platform"}} if platform else {}
    return event


def test_sns_path_sends_to_the_subscribed_and_publishes_every_decision(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    request = json.loads(load_event("send_gate/marketing.json")["Records"][0]["Sns"]["Message"])
    request["recipients"] = [SUBSCRIBED, STRANGER, "not a number"]
    result = aws_stack.invoke("SendGateFunction", sns_request_event(request))
    assert result == {"decided": 3}
    decided = [e["detail"] for e in aws_stack.bus_events() if e["detail-type"] == "SendDecided"]
    reasons = {d["phone"]: d["reason"] for d in decided}
    # Quiet hours depend on the real clock here, so the subscribed number is either sent or deferred.
    assert reasons[SUBSCRIBED] in ("ALLOWED", "QUIET_HOURS")
    assert reasons[STRANGER] == "NOT_SUBSCRIBED"
    assert reasons["not a number"] == "INVALID_NUMBER"
    sent = aws_stack.outbox_lines()
    assert [line["to"] for line in sent] == ([SUBSCRIBED] if reasons[SUBSCRIBED] == "ALLOWED" else [])


def test_check_route_gives_the_same_decisions_as_the_sns_path(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    now = datetime.now(UTC)
    body = {"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED, STRANGER, "+33612345678", "x"],
            "body": "Example Corp Alerts: sale today.", "media_urls": []}  # fmt: skip
    response = aws_stack.invoke("AdminApiFunction", api_request("POST", "/v1/gate/check", body=json.dumps(body)))
    assert response["statusCode"] == 200
    checked = json.loads(response["body"])["decisions"]
    processed = send_gate.process(OutboundRequest.model_validate(body), deps_at(now))
    assert [(d["phone"], d["decision"], d["reason"]) for d in checked] == [
        (d.phone, d.decision.value, d.reason.value) for d in processed
    ]
    assert aws_stack.outbox_lines() == [] or processed[0].decision is Verdict.ALLOW


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"program": "nope", "category": "marketing", "recipients": [SUBSCRIBED], "body": "x"}, 400),
        ({"program": "alerts", "category": "shouting", "recipients": [SUBSCRIBED], "body": "x"}, 400),
        ({"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED] * 101, "body": "x"}, 400),
        ({"program": "alerts", "category": "marketing", "recipients": [], "body": "x"}, 400),
        ({"program": "alerts", "category": "marketing", "recipients": ["1" * 65], "body": "x"}, 400),
        ({"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED], "at": "2027-01-05T10:00"}, 400),
        ({"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED], "at": "2099-01-05T10:00Z"}, 400),
        ({"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED], "at": "tomorrow"}, 400),
    ],
)
def test_check_route_rejects_bad_requests(aws_stack: AwsStack, body: dict[str, Any], status: int) -> None:
    response = aws_stack.invoke("AdminApiFunction", api_request("POST", "/v1/gate/check", body=json.dumps(body)))
    assert response["statusCode"] == status
    assert json.loads(response["body"])["detail"]


def test_check_route_decides_as_of_a_given_instant_and_counts_segments(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    tomorrow = datetime.now(ZoneInfo("America/New_York")).date() + timedelta(days=1)

    def check_at(hour: int, body: str) -> dict[str, Any]:
        at = datetime.combine(tomorrow, time(hour), ZoneInfo("America/New_York"))
        request = {"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED], "body": body,
                   "at": at.isoformat()}  # fmt: skip
        response = aws_stack.invoke("AdminApiFunction", api_request("POST", "/v1/gate/check", body=json.dumps(request)))
        assert response["statusCode"] == 200
        answer: dict[str, Any] = json.loads(response["body"])
        return answer

    day = check_at(15, "Example Corp Alerts: sale today.")
    assert (day["decisions"][0]["decision"], day["decisions"][0]["reason"]) == ("allow", "ALLOWED")
    assert (day["segments"], day["encoding"]) == (1, "GSM-7")
    night = check_at(23, "Example Corp Alerts: sale today 🎉")
    assert (night["decisions"][0]["decision"], night["decisions"][0]["reason"]) == ("defer", "QUIET_HOURS")
    morning = datetime.combine(tomorrow + timedelta(days=1), time(8), ZoneInfo("America/New_York"))
    assert datetime.fromisoformat(night["decisions"][0]["retry_at"]) == morning
    assert (night["segments"], night["encoding"]) == (1, "UCS-2")
    assert aws_stack.outbox_lines() == []  # a check sends nothing


def test_opt_out_instructions_are_appended_once_a_month(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    deps = deps_at(AFTERNOON)
    send_gate.process(marketing(SUBSCRIBED), deps)
    send_gate.process(marketing(SUBSCRIBED), deps)
    bodies = [line["body"] for line in aws_stack.outbox_lines()]
    assert bodies == ["Example Corp Alerts: sale today. Reply STOP to opt out", "Example Corp Alerts: sale today."]
    send_gate.process(marketing(SUBSCRIBED), deps_at(AFTERNOON + timedelta(days=31)))
    assert aws_stack.outbox_lines()[-1]["body"].endswith("Reply STOP to opt out")


@pytest.mark.usefixtures("atomic_requests")
def test_frequency_cap_holds_under_concurrent_gates(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    deps = deps_at(AFTERNOON)
    results: list[send_gate.GateDecision] = []
    lock = threading.Lock()

    def gate() -> None:
        (decision,) = send_gate.process(marketing(SUBSCRIBED), deps)
        with lock:
            results.append(decision)

    threads = [threading.Thread(target=gate) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    allowed = [d for d in results if d.decision is Verdict.ALLOW]
    assert len(allowed) == 3  # alerts: 3 marketing messages per 24 hours
    assert {d.reason for d in results if d.decision is not Verdict.ALLOW} == {Reason.FREQUENCY_CAP}
    assert len(aws_stack.outbox_lines()) == 3


def test_writes_per_allowed_send(aws_stack: AwsStack) -> None:
    from sms_consent_local import aws_calls

    subscribe(SUBSCRIBED)
    deps = deps_at(AFTERNOON)
    send_gate.process(marketing(SUBSCRIBED), deps)  # first of the window
    with aws_calls.counting() as counts:
        send_gate.process(marketing(SUBSCRIBED), deps)
    writes = sum(v for k, v in counts.items() if k.split(".")[1] in ("UpdateItem", "PutItem", "TransactWriteItems"))
    assert writes == 2  # the cap's reservation and the claim on this request's one send (test_send_once)


def test_quiet_hours_defer_through_the_queue_and_resend(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    late_evening = datetime(2026, 11, 24, 7, 50, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
    (decision,) = send_gate.process(marketing(SUBSCRIBED), deps_at(late_evening))
    assert (decision.decision, decision.reason) == (Verdict.DEFER, Reason.QUIET_HOURS)
    assert aws_stack.outbox_lines() == []
    sqs = boto3.client("sqs", region_name=aws_stack.region)
    queue = aws_stack.resources["DeferredSendQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    # Ten minutes later the queue hands it back (moto's clock is moved on); the gate decides again.
    from moto.sqs.models import sqs_backends

    backend = sqs_backends["123456789012"][aws_stack.region]
    for message in backend.queues[queue.rsplit("/", 1)[1]]._messages:
        message.delayed_until = 0
    received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"][0]
    deferred = OutboundRequest.model_validate_json(received["Body"])
    assert deferred.recipients == (SUBSCRIBED,)
    (again,) = send_gate.process(deferred, deps_at(late_evening + timedelta(minutes=11)))
    assert again.reason is Reason.ALLOWED
    assert [line["to"] for line in aws_stack.outbox_lines()] == [SUBSCRIBED]


def test_long_deferral_becomes_a_one_time_schedule(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    (decision,) = send_gate.process(marketing(SUBSCRIBED), deps_at(NIGHT))
    assert decision.decision is Verdict.DEFER
    schedules = boto3.client("scheduler", region_name=aws_stack.region).list_schedules()["Schedules"]
    assert len(schedules) == 1
    detail = boto3.client("scheduler", region_name=aws_stack.region).get_schedule(Name=schedules[0]["Name"])
    assert detail["ScheduleExpression"] == "at(2026-11-24T13:00:00)"
    assert detail["Target"]["Arn"] == aws_stack.outbound_topic_arn
    assert json.loads(detail["Target"]["Input"])["recipients"] == [SUBSCRIBED]


def test_carrier_opt_out_is_recorded(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    client = boto3.client("pinpoint-sms-voice-v2", region_name=aws_stack.region)
    deps = replace(deps_at(AFTERNOON), sender=EndUserMessagingSender(client))
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_text_message",
            service_error_code="ConflictException",
            http_status_code=409,
            modeled_fields={"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "ResourceType": "opt-out-list",
                            "ResourceId": "default"},
        )  # fmt: skip
        (decision,) = send_gate.process(marketing(SUBSCRIBED), deps)
    assert decision.reason is Reason.OPTED_OUT
    state = stores().numbers.get(SUBSCRIBED)
    assert state.status("alerts") is Status.UNSUBSCRIBED
    assert state.programs["alerts"].source == "carrier"
    assert "ConsentRevoked" in [e["detail-type"] for e in aws_stack.bus_events()]


def test_mms_media_checked_with_head_object(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    s3 = boto3.client("s3", region_name=aws_stack.region)
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="small.jpg", Body=b"x" * 1000, ContentType="image/jpeg")
    s3.put_object(Bucket="media", Key="big.jpg", Body=b"x" * (5 * 1024 * 1024 + 1), ContentType="image/jpeg")
    s3.put_object(Bucket="media", Key="tool.exe", Body=b"x", ContentType="application/x-msdownload")
    deps = deps_at(AFTERNOON)
    for url, reason in [
        ("s3://media/small.jpg", Reason.ALLOWED),
        ("s3://media/big.jpg", Reason.MESSAGE_INVALID),
        ("s3://media/tool.exe", Reason.MESSAGE_INVALID),
        ("s3://media/missing.jpg", Reason.MESSAGE_INVALID),
        ("https://example.com/cat.jpg", Reason.MESSAGE_INVALID),
    ]:
        (decision,) = send_gate.process(marketing(SUBSCRIBED, media_urls=(url,)), deps)
        assert decision.reason is reason, url


def test_open_breaker_denies(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    stores().breakers.open_breaker(Trip("volume_spike", "country", "US", {}, {}), now=AFTERNOON, previous=None)
    (decision,) = send_gate.process(marketing(SUBSCRIBED), deps_at(AFTERNOON))
    assert decision.reason is Reason.PUMPING_BREAKER


def test_a_watch_on_the_programs_country_denies_nothing(aws_stack: AwsStack) -> None:
    """A watch (the detector's answer to a drip into a programs' own country) only holds new prompts."""
    subscribe(SUBSCRIBED)
    watch = Trip("conversion_collapse", "country", "US", {}, {})
    stores().breakers.open_breaker(watch, now=AFTERNOON, previous=None, watch=True)
    (decision,) = send_gate.process(marketing(SUBSCRIBED), deps_at(AFTERNOON))
    assert decision.decision is Verdict.ALLOW
    assert stores().breakers.all_breakers()[("country", "US")].watch


def test_fail_closed_when_state_cannot_be_read(aws_stack: AwsStack) -> None:
    subscribe(SUBSCRIBED)
    boto3.client("dynamodb", region_name=aws_stack.region).delete_table(TableName=aws_stack.table_name)
    request = json.loads(load_event("send_gate/marketing.json")["Records"][0]["Sns"]["Message"])
    with pytest.raises(Exception, match=r"(?i)resource|table|not found"):
        aws_stack.invoke("SendGateFunction", sns_request_event(request))
    assert aws_stack.outbox_lines() == []


@pytest.mark.parametrize(
    ("request_body", "platform"),
    [
        ({"program": "alerts", "category": "compliance_reply", "recipients": [SUBSCRIBED], "body": "x"}, False),
        ({"program": "alerts", "category": "optin_prompt", "recipients": [SUBSCRIBED], "body": "x"}, False),
        ({"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED] * 101, "body": "x"}, False),
        ({"program": "nope", "category": "marketing", "recipients": [SUBSCRIBED], "body": "x"}, False),
        ({"program": "alerts", "category": "spam", "recipients": [SUBSCRIBED], "body": "x"}, False),
        ({"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED], "body": "x" * 2000}, False),
    ],
)
def test_bad_requests_are_rejected_and_nothing_is_sent(
    aws_stack: AwsStack, request_body: dict[str, Any], platform: bool
) -> None:
    subscribe(SUBSCRIBED)
    result = aws_stack.invoke("SendGateFunction", sns_request_event(request_body, platform=platform))
    assert result == {"decided": 0}
    assert aws_stack.outbox_lines() == []


def test_platform_marker_lets_replies_through(aws_stack: AwsStack) -> None:
    request = {"program": "alerts", "category": "compliance_reply", "recipients": [STRANGER], "body": "help text"}
    aws_stack.invoke("SendGateFunction", sns_request_event(request, platform=True))
    assert [line["to"] for line in aws_stack.outbox_lines()] == [STRANGER]
