"""Generated outbound requests (Hypothesis) through the real send gate on moto: whatever reaches
OutboundRequestsTopic, the gate decides or rejects it without an exception, and nothing marketing
reaches a handset that never consented (nobody has in this stack)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import AwsStack, load_event

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
requests = st.fixed_dictionaries(
    {
        "program": st.sampled_from(["alerts", "tone1", "nope", "", "x" * 50]),
        "category": st.sampled_from(["marketing", "transactional", "compliance_reply", "optin_prompt", "spam"]),
        "recipients": st.lists(
            st.sampled_from(["+14155550123", "(415) 555-0124", "not-a-number", "+442071838750", "12345"]),
            max_size=4,
        ),
        "body": st.text(max_size=300),
    },
    optional={
        "request_id": st.text(max_size=140),
        "media_urls": st.lists(st.text(max_size=40), max_size=3),
        "sender": st.sampled_from(["+18005550100", "12345", "+18005559999", ""]),
        "metadata": st.dictionaries(st.text(max_size=8), json_values, max_size=3),
    },
)
FUZZ = settings(
    max_examples=40, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _event(message: str) -> dict[str, Any]:
    event = load_event("send_gate/marketing.json")
    event["Records"][0]["Sns"]["Message"] = message
    event["Records"][0]["Sns"]["MessageId"] = str(uuid.uuid4())
    return event


@FUZZ
@given(payload=json_values | requests)
def test_any_outbound_payload_is_decided_or_rejected_and_no_marketing_goes_out(
    aws_stack: AwsStack, payload: Any
) -> None:
    aws_stack.invoke("SendGateFunction", _event(json.dumps(payload)))
    assert [line for line in aws_stack.outbox_lines() if line.get("category") == "marketing"] == []


@FUZZ
@given(raw=st.text(max_size=300))
def test_any_text_on_the_outbound_topic_is_rejected_without_an_exception(aws_stack: AwsStack, raw: str) -> None:
    aws_stack.invoke("SendGateFunction", _event(raw))
    assert aws_stack.outbox_lines() == []
