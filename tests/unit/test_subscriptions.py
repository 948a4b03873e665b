"""Who enters double opt-in (`subscriptions`), and what a user's move to a new number carries (`profiles`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sms_consent import consent, profiles, subscriptions
from sms_consent.config import load_config
from sms_consent.consent import NumberState, Source, Status
from sms_consent.profiles import Carried
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from sms_consent.subscriptions import DoubleOptInReason, SubscriptionAction

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
PHONE = "+14155550123"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NO_DOUBLE_OPT_IN = CONFIG.programs["alerts"].model_copy(update={"double_opt_in": False})


def opted_out(by: str) -> NumberState:
    state = consent.grant(NumberState(PHONE), "alerts", source="import", at=NOW - timedelta(days=2), now=NOW,
                          evidence={}).state  # fmt: skip
    return consent.revoke(state, "alerts", source=by, at=NOW - timedelta(days=1), now=NOW, evidence={}).state


@pytest.mark.parametrize(
    ("source", "program_uses_it", "requested", "reason"),
    [
        (Source.WEB_FORM, True, False, DoubleOptInReason.PROGRAM),
        (Source.SDK, True, False, DoubleOptInReason.PROGRAM),
        (Source.PREFERENCE_CENTER, True, False, DoubleOptInReason.PROGRAM),
        (Source.API, True, False, None),
        (Source.API, True, True, DoubleOptInReason.REQUESTED),
        (Source.API, False, True, DoubleOptInReason.REQUESTED),
        (Source.IMPORT, True, True, None),
        (Source.SDK, False, False, None),
        (Source.WEB_FORM, False, True, DoubleOptInReason.REQUESTED),
    ],
)
def test_which_sources_enter_double_opt_in(
    source: Source, program_uses_it: bool, requested: bool, reason: DoubleOptInReason | None
) -> None:
    program = CONFIG.programs["alerts"] if program_uses_it else NO_DOUBLE_OPT_IN
    assert subscriptions.double_opt_in_reason(NumberState(PHONE), "alerts", program, source, requested) is reason


@pytest.mark.parametrize("source", [Source.API, Source.IMPORT, Source.SDK, Source.WEB_FORM, Source.PROFILE])
def test_after_a_consumer_opt_out_every_other_source_must_ask_the_consumer(source: Source) -> None:
    reason = subscriptions.double_opt_in_reason(opted_out("keyword"), "alerts", NO_DOUBLE_OPT_IN, source, False)
    assert reason is DoubleOptInReason.CONSUMER_OPTED_OUT


def test_an_admin_opt_out_may_be_undone_by_an_admin() -> None:
    assert subscriptions.double_opt_in_reason(opted_out("api"), "alerts", NO_DOUBLE_OPT_IN, Source.API, False) is None


def test_subscribe_opens_a_prompt_and_a_resubmission_within_ten_minutes_sends_none() -> None:
    opened = subscriptions.subscribe(NumberState(PHONE), "alerts", config=CONFIG, source=Source.WEB_FORM,
                             use_double_opt_in=True, now=NOW, evidence={"page_url": "https://x.example"})  # fmt: skip
    assert opened.prompt is not None
    sent = consent.record_prompt_message(opened.change.state, "alerts", opened.prompt.request_id, "msg-1").state
    first = replace(opened, change=replace(opened.change, state=sent))
    again = subscriptions.subscribe(first.change.state, "alerts", config=CONFIG, source=Source.WEB_FORM,
                             use_double_opt_in=True, now=NOW + timedelta(minutes=9), evidence={})  # fmt: skip
    later = subscriptions.subscribe(first.change.state, "alerts", config=CONFIG, source=Source.WEB_FORM,
                             use_double_opt_in=True, now=NOW + timedelta(minutes=11), evidence={})  # fmt: skip

    assert first.action is SubscriptionAction.PROMPTED
    assert first.prompt is not None
    assert first.expires_at == NOW + timedelta(days=CONFIG.confirmation_window_days)
    assert first.change.state.status("alerts") is Status.PENDING
    assert (again.action, again.prompt, again.change.events) == (SubscriptionAction.PROMPT_RECENT, None, ())
    assert again.expires_at == first.expires_at
    assert later.action is SubscriptionAction.PROMPTED


def test_a_resubmission_within_ten_minutes_repeats_a_prompt_the_gate_never_sent_as_the_same_request() -> None:
    first = subscriptions.subscribe(NumberState(PHONE), "alerts", config=CONFIG, source=Source.WEB_FORM,
                             use_double_opt_in=True, now=NOW, evidence={})  # fmt: skip
    again = subscriptions.subscribe(first.change.state, "alerts", config=CONFIG, source=Source.WEB_FORM,
                             use_double_opt_in=True, now=NOW + timedelta(minutes=2), evidence={})  # fmt: skip

    assert (again.action, again.change.events) == (SubscriptionAction.PROMPT_RECENT, ())
    assert again.prompt == first.prompt  # same words, same request id: the gate sends it to the number once


def test_a_move_carries_opt_outs_always_and_subscriptions_unless_the_new_consumer_opted_out() -> None:
    previous = consent.grant(NumberState("+14155550100"), "alerts", source="import", at=NOW, now=NOW,
                             evidence={}).state  # fmt: skip
    previous = consent.revoke(previous, "tone1", source="keyword", at=NOW, now=NOW, evidence={}).state
    later = NOW + timedelta(hours=1)

    moved = profiles.carry_statuses(NumberState(PHONE), previous, user_id="u-1", now=later)
    fresh, outcome = moved.change, moved.carried
    kept = profiles.carry_statuses(opted_out("keyword"), previous, user_id="u-1", now=later)
    guarded, guarded_outcome = kept.change, kept.carried

    assert outcome == {"alerts": Carried.SUBSCRIBED, "tone1": Carried.UNSUBSCRIBED}
    assert fresh.state.status("alerts") is Status.SUBSCRIBED
    assert fresh.state.programs["tone1"].consumer_opted_out
    assert {event.source for event in fresh.events} == {Source.PROFILE}
    assert guarded_outcome["alerts"] is Carried.KEPT_OPTED_OUT
    assert guarded.state.status("alerts") is Status.UNSUBSCRIBED
