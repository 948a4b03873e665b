"""A request reaches a number once, however often it is delivered: the gate claims each (request,
number) send before it sends, and the platform's own replies and prompts are the same request each
time they are published again (a redelivered STOP, a sign-up retried after its prompt was lost)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from sms_consent import wiring
from sms_consent.consent import EventType, Status
from sms_consent.repository.numbers import SEND_CLAIM_SK_PREFIX
from tests.conftest import AwsStack, load_event, stores
from tests.integration.test_optin_api import PHONE, deliver_outbound, form, inbound, post
from tests.integration.test_send_gate import AFTERNOON, SUBSCRIBED, sns_request_event, subscribe


def texts_to(stack: AwsStack, phone: str) -> list[dict[str, Any]]:
    return [line for line in stack.outbox_lines() if line["to"] == phone]


def test_a_request_delivered_twice_is_sent_once_and_decided_twice(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wiring, "utc_now", lambda: AFTERNOON)  # marketing: outside the number's quiet hours
    subscribe(SUBSCRIBED)
    request = json.loads(load_event("send_gate/marketing.json")["Records"][0]["Sns"]["Message"])
    request.update(recipients=[SUBSCRIBED], request_id="campaign-42")

    first = aws_stack.invoke("SendGateFunction", sns_request_event(request))
    again = aws_stack.invoke("SendGateFunction", sns_request_event(request))

    assert first == again == {"decided": 1}
    assert len(texts_to(aws_stack, SUBSCRIBED)) == 1
    claims = boto3.client("dynamodb").query(
        TableName=aws_stack.table_name,
        KeyConditionExpression="PK = :pk AND begins_with(SK, :claim)",
        ExpressionAttributeValues={":pk": {"S": f"PHONE#{SUBSCRIBED}"}, ":claim": {"S": SEND_CLAIM_SK_PREFIX}},
    )["Items"]
    assert [item["SK"]["S"] for item in claims] == [SEND_CLAIM_SK_PREFIX + "campaign-42"]
    assert int(claims[0]["ttl"]["N"]) > 0  # claims expire: the table does not grow with every send


def test_another_request_with_the_same_text_is_sent(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "utc_now", lambda: AFTERNOON)
    subscribe(SUBSCRIBED)
    request = json.loads(load_event("send_gate/marketing.json")["Records"][0]["Sns"]["Message"])
    for request_id in ("sale-monday", "sale-tuesday"):
        request.update(recipients=[SUBSCRIBED], request_id=request_id)
        aws_stack.invoke("SendGateFunction", sns_request_event(request))
    assert len(texts_to(aws_stack, SUBSCRIBED)) == 2


def test_a_redelivered_stop_is_confirmed_once(aws_stack: AwsStack) -> None:
    subscribe(PHONE)
    at = datetime.now(UTC)

    inbound(aws_stack, "STOP", at=at)
    first = deliver_outbound(aws_stack)
    inbound(aws_stack, "STOP", at=at)  # SNS delivers at least once: the same message again
    second = deliver_outbound(aws_stack)

    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    assert len(first) == 1
    assert second == []  # the message's idempotency record answers the redelivery (a failed first
    # attempt replies again, as the same request: test_fault_injection's inbound STOP cases)
    assert len(texts_to(aws_stack, PHONE)) == 1


def test_a_sign_up_whose_prompt_never_went_out_sends_it_on_the_retry_once(aws_stack: AwsStack) -> None:
    first = post(aws_stack, form())
    lost = aws_stack.outbound_requests()  # the prompt's publish is lost: the gate never sees it
    second = post(aws_stack, form(), ip="198.51.100.99")  # the consumer presses the button again
    third = post(aws_stack, form(), ip="198.51.100.98")
    resent = deliver_outbound(aws_stack)

    assert first[0] == second[0] == third[0] == 202
    assert second[1]["prompt_sent"] is True
    assert [r["request_id"] for r in resent] == [lost[0]["request_id"]] * 2  # the same prompt, not a new one
    prompts = texts_to(aws_stack, PHONE)
    assert len(prompts) == 1
    pending = stores().numbers.get(PHONE).programs["alerts"].pending
    assert pending is not None
    assert pending.prompt_message_id == prompts[0]["message_id"]
    requested = [e for e in stores().numbers.history(PHONE) if e.event_type is EventType.DOUBLE_OPT_IN_REQUESTED]
    assert len(requested) == 1
    # Once the gate has sent it, a resubmission publishes nothing.
    post(aws_stack, form(), ip="198.51.100.97")
    assert aws_stack.outbound_requests() == []
