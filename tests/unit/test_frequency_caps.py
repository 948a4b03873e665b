"""Rolling caps: a send counts for the whole window after it, wherever the epoch's boundaries fall."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sms_consent.config import load_config
from sms_consent.consent import NumberState
from sms_consent.frequency_caps import Cap, caps_for, first_reached, log_after_send
from sms_consent.messages import Category, OutboundRequest
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
MIDNIGHT = datetime(2026, 11, 24, tzinfo=UTC)
STATE_CAP = Cap("alerts", timedelta(hours=24), 3, "US-FL")


def sent_at(*moments: datetime) -> NumberState:
    return NumberState("+13055550123", recent_sends={"alerts": tuple(int(m.timestamp()) for m in moments)})


def test_three_sends_before_midnight_hold_a_fourth_after_it() -> None:
    # Fixed daily windows would let 3 more through at 00:01; a rolling 24 hours does not.
    late = sent_at(*(MIDNIGHT - timedelta(minutes=minute) for minute in (3, 2, 1)))
    assert first_reached([STATE_CAP], late, MIDNIGHT + timedelta(minutes=1)) is STATE_CAP
    assert first_reached([STATE_CAP], late, MIDNIGHT + timedelta(hours=23, minutes=58)) is None


@pytest.mark.parametrize("already", range(7))
def test_the_log_keeps_exactly_what_a_cap_can_still_see(already: int) -> None:
    now = MIDNIGHT
    recent = [now - timedelta(hours=hour) for hour in range(already, 0, -1)]
    old = now - timedelta(days=3)
    five = Cap("alerts", timedelta(hours=24), 5, "program")
    key, log = log_after_send([STATE_CAP, five], sent_at(old, *recent), now) or ("", ())
    assert key == "alerts"
    assert log[-1] == int(now.timestamp())
    assert list(log[:-1]) == [int(m.timestamp()) for m in recent][-(five.limit - 1) :]  # the most any cap needs
    assert int(old.timestamp()) not in log


def test_a_marketing_send_counts_against_the_program_and_the_state_cap() -> None:
    request = OutboundRequest(program="alerts", category=Category.MARKETING, recipients=("+13055550123",), body="x")
    program_cap, state_cap = caps_for(CONFIG.programs["alerts"], request, (3, timedelta(hours=24), "US-FL"))
    assert (program_cap.key, state_cap.key) == ("alerts", "alerts")  # one log serves both
    assert state_cap.limit == 3
    transactional = request.model_copy(update={"category": Category.TRANSACTIONAL})
    assert caps_for(CONFIG.programs["alerts"], transactional, (3, timedelta(hours=24), "US-FL")) == ()
