"""Every sample in events/inbound_sms/ through the function, as `sam local invoke -e` would run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sms_consent.repository import numbers
from tests.conftest import EVENTS_DIR, AwsStack

# sample -> (records processed, replies queued, alerts program status afterwards); None = the invocation
# fails so that Lambda retries it and then dead-letters it (a possible opt-out we could not process).
EXPECTED: dict[str, tuple[int, int, str | None] | None] = {
    "help": (1, 1, None),
    "help_spanish": (1, 1, None),
    "stop": (1, 1, "unsubscribed"),
    "stop_short_code_menu": (1, 1, None),
    "stop_program": (1, 1, None),
    "stop_all": (1, 1, None),
    "start": (1, 1, "pending"),
    "join_program": (1, 1, None),
    "keyword_opt_in": (1, 1, "pending"),
    "confirm_yes": (1, 1, None),
    "revocation_phrase": (1, 1, "unsubscribed"),
    "other_text": (1, 0, None),
    "misrouted_sender": (1, 0, "unsubscribed"),
    "oversized_stop": (1, 1, "unsubscribed"),
    "control_characters": (1, 1, "unsubscribed"),
    "lone_surrogate": (1, 1, "unsubscribed"),
    "not_json": None,
    "missing_fields": (0, 0, None),
    "unparseable_number": (0, 0, None),
}


def test_every_sample_has_an_expectation() -> None:
    assert {path.stem for path in (EVENTS_DIR / "inbound_sms").glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_sample(aws_stack: AwsStack, sample: str) -> None:
    expected = EXPECTED[sample]
    path = Path("inbound_sms") / f"{sample}.json"
    if expected is None:
        with pytest.raises(RuntimeError, match="possible opt-out"):
            aws_stack.invoke("InboundSmsFunction", str(path))
        return
    processed, replies, status = expected
    result = aws_stack.invoke("InboundSmsFunction", str(path))
    assert result["processed"] == processed
    assert len(aws_stack.outbound_requests()) == replies
    state = numbers.get("+14155550123").status("alerts")
    assert (state.value if state else None) == status
