"""Every sample in events/inbound_sms/ through the function, as `sam local invoke -e` would run it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sms_consent import blocklist, consent
from sms_consent.consent import Change, NumberState
from tests.conftest import EVENTS_DIR, AwsStack, load_event, stores

Setup = Callable[[NumberState], Change]
SAMPLE_TIME = datetime(1970, 1, 1, tzinfo=UTC)


def _blocked(state: NumberState) -> Change:
    subscribed = consent.grant(
        state, "alerts", source="keyword", at=_now(), now=_now(), evidence={"note": "subscribed before the block"}
    )
    return consent.merge(
        subscribed,
        blocklist.block(
            subscribed.state, block_type=1, reason="abuse", text="", source="admin", now=_now(), evidence={}
        ),
    )


def _expired_prompt(state: NumberState) -> Change:
    long_ago = _now() - timedelta(days=31)
    return consent.request_confirmation(
        state, "alerts", source="web_form", at=long_ago, now=long_ago, window=timedelta(days=30),
        prompt_request_id="r-old", evidence={},
    )  # fmt: skip


def _two_prompts(state: NumberState) -> Change:
    """Prompts for tone1 (older, provider id m-tone1, which the sample names) and tone2 (newer)."""
    changes = [Change(state)]
    for age, program in ((timedelta(hours=2), "tone1"), (timedelta(hours=1), "tone2")):
        at = _now() - age
        changes.append(
            consent.request_confirmation(
                changes[-1].state,
                program,
                source="keyword",
                at=at,
                now=at,
                window=timedelta(days=30),
                prompt_request_id=f"r-{program}",
                evidence={},
            )
        )
    change = consent.merge(*changes)
    tone1 = change.state.programs["tone1"]
    assert tone1.pending is not None
    stamped = replace(tone1, pending=replace(tone1.pending, prompt_message_id="m-tone1"))
    return Change(replace(change.state, programs={**change.state.programs, "tone1": stamped}), change.events)


def _now() -> datetime:
    """Shortly before the samples' SNS timestamp (sam generates them at 1970-01-01T00:00:00Z)."""
    return SAMPLE_TIME - timedelta(minutes=5)


@dataclass(frozen=True)
class Expected:
    processed: int
    replies: int
    statuses: dict[str, str | None]  # program -> status afterwards, for the sample's number
    setup: Setup | None = None


# sample -> what it does; None = the invocation fails so that Lambda retries it and then dead-letters
# it (a possible opt-out we could not process).
EXPECTED: dict[str, Expected | None] = {
    "help": Expected(1, 1, {"alerts": None}),
    "help_spanish": Expected(1, 1, {"alerts": None}),
    "help_french": Expected(1, 1, {"alerts": None}),
    "help_program": Expected(1, 1, {"tone2": None}),
    "stop": Expected(1, 1, {"alerts": "unsubscribed"}),
    "stop_french": Expected(1, 1, {"alerts": "unsubscribed"}),
    "stop_short_code_menu": Expected(1, 1, {"tone1": "unsubscribed", "tone2": "unsubscribed"}),
    "stop_program": Expected(1, 1, {"tone1": "unsubscribed", "tone2": None}),
    "stop_all": Expected(1, 1, {"tone1": "unsubscribed", "tone2": "unsubscribed"}),
    "start": Expected(1, 1, {"alerts": "pending"}),
    "join_program": Expected(1, 1, {"tone1": "pending"}),
    "keyword_opt_in": Expected(1, 1, {"alerts": "pending"}),
    "confirm_yes": Expected(1, 1, {"alerts": None}),
    "confirm_named_prompt": Expected(1, 1, {"tone1": "subscribed", "tone2": "pending"}, _two_prompts),
    "confirm_after_window": Expected(1, 1, {"alerts": "pending"}, _expired_prompt),
    "revocation_phrase": Expected(1, 1, {"alerts": "unsubscribed"}),
    "other_text": Expected(1, 0, {"alerts": None}),
    "misrouted_sender": Expected(1, 0, {"alerts": "unsubscribed"}),
    "blocked_number_stop": Expected(1, 0, {"alerts": "unsubscribed"}, _blocked),
    "blocked_number_help": Expected(1, 0, {"alerts": "subscribed"}, _blocked),
    "oversized_stop": Expected(1, 1, {"alerts": "unsubscribed"}),
    "control_characters": Expected(1, 1, {"alerts": "unsubscribed"}),
    "lone_surrogate": Expected(1, 1, {"alerts": "unsubscribed"}),
    "not_json": None,
    "stop_missing_id": None,
    "stop_unparseable_number": None,
    "missing_fields": Expected(0, 0, {"alerts": None}),
    "unparseable_number": Expected(0, 0, {}),
}


def test_every_sample_has_an_expectation() -> None:
    assert {path.stem for path in (EVENTS_DIR / "inbound_sms").glob("*.json")} == set(EXPECTED)


def _origin(sample: str) -> str:
    message = load_event(f"inbound_sms/{sample}.json")["Records"][0]["Sns"]["Message"]
    try:
        return str(json.loads(message).get("originationNumber", "+14155550123"))
    except ValueError:
        return "+14155550123"


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_sample(aws_stack: AwsStack, sample: str) -> None:
    expected = EXPECTED[sample]
    path = Path("inbound_sms") / f"{sample}.json"
    if expected is None:
        with pytest.raises(RuntimeError, match="possible opt-out"):
            aws_stack.invoke("InboundSmsFunction", str(path))
        assert aws_stack.outbound_requests() == []
        return
    phone = _origin(sample)
    if expected.setup is not None:
        stores().numbers.update(phone, expected.setup)
    result = aws_stack.invoke("InboundSmsFunction", str(path))
    assert result["processed"] == expected.processed
    assert len(aws_stack.outbound_requests()) == expected.replies
    state = stores().numbers.get(phone) if expected.statuses else None
    for program, status in expected.statuses.items():
        assert state is not None
        current = state.status(program)
        assert (current.value if current else None) == status, program
    if sample == "stop_short_code_menu":
        # A stranger's STOP on the shared short code: nothing to choose between, so no menu.
        assert state is not None
        assert state.ask_pending == {}
    if sample == "blocked_number_stop":
        assert state is not None
        assert state.block is not None, "the opt-out is recorded; the block stays"
