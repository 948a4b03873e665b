"""Consent transitions: ordering by decision time, the consumer-only undo, double opt-in proof."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sms_consent import consent, signup
from sms_consent.consent import EventType, NumberState, Source, Status

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PHONE = "+14155550123"


def _at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_later_decision_wins_whatever_the_arrival_order() -> None:
    state = NumberState(phone=PHONE)
    start = consent.grant(state, "alerts", source=Source.KEYWORD, at=_at(2), now=_at(5), evidence={})
    late_stop = consent.revoke(start.state, "alerts", source=Source.KEYWORD, at=_at(1), now=_at(6), evidence={})
    assert late_stop.state.status("alerts") is Status.SUBSCRIBED
    assert not late_stop.changed


def test_a_repeated_start_still_moves_the_decision_time() -> None:
    subscribed = consent.grant(NumberState(phone=PHONE), "alerts", source="keyword", at=_at(1), now=_at(1), evidence={})
    again = consent.grant(subscribed.state, "alerts", source="keyword", at=_at(3), now=_at(3), evidence={})
    assert again.changed
    assert again.events == ()
    older_stop = consent.revoke(again.state, "alerts", source="keyword", at=_at(2), now=_at(4), evidence={})
    assert older_stop.state.status("alerts") is Status.SUBSCRIBED


def test_stop_is_recorded_even_when_already_out() -> None:
    first = consent.revoke(NumberState(phone=PHONE), "alerts", source="keyword", at=_at(1), now=_at(1), evidence={})
    second = consent.revoke(first.state, "alerts", source="keyword", at=_at(2), now=_at(2), evidence={"text": "STOP"})
    assert second.events[0].event_type is EventType.REVOKED
    assert second.events[0].old_status == Status.UNSUBSCRIBED


def test_only_the_consumer_undoes_an_opt_out() -> None:
    out = consent.revoke(NumberState(phone=PHONE), "alerts", source=Source.KEYWORD, at=_at(1), now=_at(1), evidence={})
    for source in (Source.API, Source.IMPORT, Source.ADMIN, Source.SDK, Source.PREFERENCE_CENTER, Source.WEB_FORM):
        assert not consent.may_subscribe_directly(out.state, "alerts", source)
    assert consent.may_subscribe_directly(out.state, "alerts", Source.KEYWORD)
    # An admin opt-out (not the consumer's) may be undone by an admin.
    admin_out = consent.revoke(
        NumberState(phone=PHONE), "alerts", source=Source.ADMIN, at=_at(1), now=_at(1), evidence={}
    )
    assert consent.may_subscribe_directly(admin_out.state, "alerts", Source.ADMIN)


def test_confirmation_links_the_grant_to_its_prompt() -> None:
    pending = consent.request_confirmation(
        NumberState(phone=PHONE),
        "alerts",
        source=Source.WEB_FORM,
        at=_at(0),
        now=_at(0),
        window=timedelta(days=30),
        prompt_request_id="req-9",
        evidence={"ip": "203.0.113.9"},
    )
    assert pending.state.status("alerts") is Status.PENDING
    program = pending.state.programs["alerts"]
    assert program.pending is not None
    assert program.pending.is_open(_at(60))
    assert not program.pending.is_open(T0 + timedelta(days=30))
    assert pending.events[0].evidence["expires_at"] == "2026-12-23T12:00:00.000000Z"
    confirmed = consent.grant(pending.state, "alerts", source=Source.KEYWORD, at=_at(60), now=_at(60), evidence={})
    assert confirmed.events[0].evidence == {
        "double_opt_in": True,
        "prompt_request_id": "req-9",
        "prompt_requested_at": "2026-11-23T12:00:00.000000Z",  # the time to confirm is measured from it
    }
    assert confirmed.state.programs["alerts"].pending is None


def test_a_yes_to_a_held_prompt_confirms_but_vouches_for_no_other_prompt() -> None:
    """The sign-up page tells people with no text to text YES: that confirms their held sign-up (the
    proof says no prompt reached them), but counts for none of the held prompts around it."""

    def held_prompt() -> NumberState:
        return consent.request_confirmation(
            NumberState(phone=PHONE), "alerts", source=Source.WEB_FORM, at=_at(0), now=_at(0),
            window=timedelta(days=30), prompt_request_id="req-7", evidence={}, held=True,
        ).state  # fmt: skip

    unprompted = consent.grant(held_prompt(), "alerts", source=Source.KEYWORD, at=_at(90), now=_at(90), evidence={})
    assert unprompted.state.status("alerts") is Status.SUBSCRIBED
    assert unprompted.events[0].evidence[consent.PROMPT_NEVER_SENT] is True
    assert not consent.vouches_for_prompts(unprompted.events[0])
    # Released later and sent (the gate recorded its message id): an answer to it vouches as usual.
    sent = consent.record_prompt_message(held_prompt(), "alerts", "req-7", "msg-1").state
    answered = consent.grant(sent, "alerts", source=Source.KEYWORD, at=_at(90), now=_at(90), evidence={})
    assert consent.PROMPT_NEVER_SENT not in answered.events[0].evidence
    assert consent.vouches_for_prompts(answered.events[0])
    # A prompt that was never held vouches whether or not its id was recorded yet.
    direct = consent.request_confirmation(
        NumberState(phone=PHONE), "alerts", source=Source.WEB_FORM, at=_at(0), now=_at(0),
        window=timedelta(days=30), prompt_request_id="req-8", evidence={},
    ).state  # fmt: skip
    assert consent.vouches_for_prompts(
        consent.grant(direct, "alerts", source=Source.KEYWORD, at=_at(30), now=_at(30), evidence={}).events[0]
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        consent.grant(NumberState(phone=PHONE), "alerts", source="api", at=datetime(2026, 1, 1), now=T0, evidence={})


def test_bus_events_carry_the_contract_fields() -> None:
    change = consent.revoke(NumberState(phone=PHONE), "alerts", source="keyword", at=_at(1), now=_at(1), evidence={})
    (event,) = consent.bus_events(change.events)
    assert event.detail_type == "ConsentRevoked"
    assert {"phone", "program", "source", "timestamp"} <= set(event.detail)
    assert event.detail["phone"] == PHONE
    assert event.detail["timestamp"].endswith("Z")


def test_text_hash_is_stable() -> None:
    assert signup.text_hash("I agree") == signup.text_hash("I agree")
    assert signup.text_hash("I agree").startswith("sha256:")
    assert signup.text_hash("I agree") != signup.text_hash("I agree.")
