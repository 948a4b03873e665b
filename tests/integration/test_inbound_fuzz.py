"""Generated inbound payloads (Hypothesis) through the real inbound handler on moto: whatever reaches
the topic, the handler either answers it, drops it as malformed, or (when it could be an opt-out it
cannot process) raises RetainedMessage so that SNS retries and the dead-letter queue keeps it. No
other exception, and no readable opt-out is ever lost."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sms_consent.consent import Status
from sms_consent.keywords import Intent, classify
from tests.conftest import AwsStack, load_event, stores

SENDERS = ["+18005550100", "12345", "+18005559999"]
ORIGINS = ["+14155550123", "(415) 555-0124", "4155550125", "not-a-number", "+1", ""]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
bodies = st.text(max_size=200) | st.sampled_from(["STOP", "stop please", "Stpo", "YES", "HELP", "\u0000STOP", "ARRÊT"])


def _event(message: str) -> dict[str, Any]:
    event = load_event("inbound_sms/help.json")
    event["Records"][0]["Sns"]["Message"] = message
    event["Records"][0]["Sns"]["MessageId"] = str(uuid.uuid4())
    return event


def _invoke(stack: AwsStack, message: str) -> str:
    """'ok', or 'retained' when the handler kept the message for a retry."""
    try:
        stack.invoke("InboundSmsFunction", _event(message))
    except Exception as exc:
        if type(exc).__name__ != "RetainedMessage":  # the handler module's own class
            raise
        return "retained"
    return "ok"


FUZZ = settings(
    max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(payload=json_values)
def test_any_json_on_the_topic_is_answered_dropped_or_retained(aws_stack: AwsStack, payload: Any) -> None:
    assert _invoke(aws_stack, json.dumps(payload)) in ("ok", "retained")


@FUZZ
@given(raw=st.text(max_size=300))
def test_any_text_on_the_topic_is_answered_dropped_or_retained(aws_stack: AwsStack, raw: str) -> None:
    outcome = _invoke(aws_stack, raw)
    if outcome == "retained":  # kept only when it reads as an opt-out: nothing else clogs the queue
        assert classify(raw).intent is Intent.OPT_OUT or "stop" in raw.lower()


@FUZZ
@given(
    origin=st.sampled_from(ORIGINS),
    sender=st.sampled_from(SENDERS),
    body=bodies,
    extra=st.dictionaries(st.text(max_size=8), json_values, max_size=3),
)
def test_a_message_of_the_documented_shape_never_loses_an_opt_out(
    aws_stack: AwsStack, origin: str, sender: str, body: str, extra: dict[str, Any]
) -> None:
    message = {
        **extra,
        "originationNumber": origin,
        "destinationNumber": sender,
        "messageBody": body,
        "inboundMessageId": str(uuid.uuid4()),
    }
    outcome = _invoke(aws_stack, json.dumps(message))
    readable = origin not in ("not-a-number", "+1", "") and sender != "+18005559999"
    if outcome == "ok" and readable and classify(body).intent is Intent.OPT_OUT and sender == "+18005550100":
        state = stores().numbers.get("+1" + "".join(ch for ch in origin if ch.isdigit())[-10:])
        assert state.status("alerts") is not Status.SUBSCRIBED
