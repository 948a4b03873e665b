"""Deeply nested and oversized input at every entry point: the admin routes, the inbound topic and the
outbound topic. Python's JSON parser gives up on thousands of nested brackets with a RecursionError,
and a body of megabytes costs memory before any model sees it: each entry point answers a 4xx
problem (the API) or drops the message with a reason (the topics), never an unhandled exception, and
nothing is written or sent."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.conftest import AwsStack, api_request, load_event, response_headers, stores

PHONE = "+14155550123"
DEEP_ARRAY = "[" * 8000 + "]" * 8000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
DEEP_IN_A_FIELD = '{"status": ' + "[" * 8000 + "]" * 8000 + "}"
OVERSIZED = json.dumps({"status": "subscribed", "padding": "x" * 5_000_000})

ADMIN_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "PUT",
        f"/v1/numbers/{PHONE}/programs/alerts",
        {
            "resource": "/v1/numbers/{phone}/programs/{program}",
            "path_parameters": {"phone": PHONE, "program": "alerts"},
        },
    ),
    ("PUT", f"/v1/blocklist/{PHONE}", {"resource": "/v1/blocklist/{phone}", "path_parameters": {"phone": PHONE}}),
    ("POST", "/v1/gate/check", {}),
    (
        "PUT",
        "/v1/users/user-1/phone",
        {"resource": "/v1/users/{user_id}/phone", "path_parameters": {"user_id": "user-1"}},
    ),
]


@pytest.mark.parametrize(("method", "path", "route"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p, _ in ADMIN_ROUTES])
@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (DEEP_ARRAY, 400, "nested too deeply"),
        (DEEP_OBJECT, 400, "nested too deeply"),
        (DEEP_IN_A_FIELD, 400, "nested too deeply"),
        (OVERSIZED, 413, "larger than"),
    ],
    ids=["deep array", "deep object", "deep field", "5 MB"],
)
def test_admin_routes_refuse_nested_and_oversized_bodies_with_a_problem(
    aws_stack: AwsStack, method: str, path: str, route: dict[str, Any], body: str, status: int, detail: str
) -> None:
    response = aws_stack.invoke("AdminApiFunction", api_request(method, path, body=body, **route))

    assert response["statusCode"] == status
    assert response_headers(response)["Content-Type"] == "application/problem+json"
    assert detail in json.loads(response["body"])["detail"]
    assert stores().numbers.history(PHONE) == []
    assert aws_stack.outbound_requests() == []


def _topic_event(sample: str, message: str) -> dict[str, Any]:
    event = load_event(sample)
    event["Records"][0]["Sns"]["Message"] = message
    event["Records"][0]["Sns"]["MessageId"] = str(uuid.uuid4())
    return event


def _inbound(**overrides: Any) -> str:
    message = json.loads(load_event("inbound_sms/stop.json")["Records"][0]["Sns"]["Message"])
    return json.dumps({**message, **overrides})


STOP_SENDER = json.loads(_inbound())["originationNumber"]


@pytest.mark.parametrize(
    "message",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        '{"originationNumber": ' + "[" * 8000 + "]" * 8000 + "}",
        _inbound(messageBody="HELLO " * 40_000),  # 240 KB, under SNS's 256 KB message limit
        _inbound(messageBody="HELLO", previousPublishedMessageId="m" * 200_000),
        _inbound(messageBody="HELLO", inboundMessageId=["nested"] * 10_000),
    ],
    ids=["deep array", "deep object", "deep field", "240 KB body", "200 KB id", "list id"],
)
def test_the_inbound_topic_drops_nested_and_oversized_messages_without_a_crash(
    aws_stack: AwsStack, message: str
) -> None:
    aws_stack.invoke("InboundSmsFunction", _topic_event("inbound_sms/stop.json", message))

    assert aws_stack.outbound_requests() == []
    assert stores().numbers.history(STOP_SENDER) == []


@pytest.mark.parametrize(
    "fields",
    [{"previousPublishedMessageId": "m" * 200_000}, {"inboundMessageId": ["nested"] * 10_000}],
    ids=["200 KB id", "list id"],
)
def test_a_stop_in_a_malformed_message_is_kept_for_a_retry_not_dropped(
    aws_stack: AwsStack, fields: dict[str, Any]
) -> None:
    # It cannot be recorded as it is, but it may be an opt-out: SNS retries it, then the dead-letter
    # queue holds it, with the reason, for a person to record.
    with pytest.raises(Exception, match="possible opt-out that cannot be processed") as raised:
        aws_stack.invoke("InboundSmsFunction", _topic_event("inbound_sms/stop.json", _inbound(**fields)))

    assert type(raised.value).__name__ == "RetainedMessage"
    assert aws_stack.outbound_requests() == []


def test_a_long_stop_is_still_an_opt_out(aws_stack: AwsStack) -> None:
    # A handset's STOP with a long signature pasted after it: the opt-out counts, the rest is ignored.
    message = _inbound(messageBody="STOP " + "sent from my phone " * 60)

    aws_stack.invoke("InboundSmsFunction", _topic_event("inbound_sms/stop.json", message))

    assert "ConsentRevoked" in [event.event_type.value for event in stores().numbers.history(STOP_SENDER)]
    (confirmation,) = aws_stack.outbound_requests()  # answered exactly once
    assert (confirmation["category"], confirmation["recipients"]) == ("compliance_reply", [STOP_SENDER])


def _outbound(**fields: Any) -> str:
    request = json.loads(load_event("send_gate/marketing.json")["Records"][0]["Sns"]["Message"])
    return json.dumps({**request, **fields})


@pytest.mark.parametrize(
    "message",
    [
        DEEP_ARRAY,
        DEEP_OBJECT,
        _outbound(metadata={"a": json.loads("[" * 500 + "]" * 500)}),
        _outbound(recipients=[PHONE] * 100_000),
        _outbound(body="x" * 250_000),
        _outbound(media_urls=["s3://media/a.jpg"] * 10_000),
    ],
    ids=["deep array", "deep object", "deep metadata", "100k recipients", "250 KB body", "10k media"],
)
def test_the_outbound_topic_rejects_nested_and_oversized_requests_without_a_crash(
    aws_stack: AwsStack, message: str
) -> None:
    aws_stack.invoke("SendGateFunction", _topic_event("send_gate/marketing.json", message))

    assert aws_stack.outbox_lines() == []
