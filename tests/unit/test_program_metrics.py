"""The program figures' rules: what each audit event counts, the duration buckets and their medians,
and the FCC's 10 business days counted over weekends and federal holidays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sms_consent.consent import AuditEvent, EventType, Source
from sms_consent.program_metrics import (
    DELAY_BOUNDS,
    ProgramFigures,
    business_days_between,
    day_figures,
    delay_bucket,
    subscriber_change,
    timer,
)

FRIDAY_BEFORE_THANKSGIVING = datetime(2026, 11, 20, 16, tzinfo=UTC)


@pytest.mark.parametrize(
    ("recorded", "days"),
    [
        (datetime(2026, 11, 20, 23, tzinfo=UTC), 0),  # the same day
        (datetime(2026, 11, 22, 12, tzinfo=UTC), 0),  # a weekend
        (datetime(2026, 11, 23, 0, tzinfo=UTC), 1),
        (datetime(2026, 11, 27, 12, tzinfo=UTC), 4),  # Thursday 26 is Thanksgiving
        (datetime(2026, 12, 7, 12, tzinfo=UTC), 10),  # the last day that honours it in time
        (datetime(2026, 12, 8, 12, tzinfo=UTC), 11),
    ],
)
def test_business_days_skip_weekends_and_federal_holidays(recorded: datetime, days: int) -> None:
    assert business_days_between(FRIDAY_BEFORE_THANKSGIVING, recorded) == days


def test_each_duration_falls_in_the_bucket_of_the_first_bound_it_does_not_exceed() -> None:
    assert [delay_bucket(seconds) for seconds in (0, 10, 10.5, 300, 301, 604_800, 10**9)] == [
        0,
        0,
        1,
        DELAY_BOUNDS.index(300),
        DELAY_BOUNDS.index(300) + 1,
        len(DELAY_BOUNDS) - 1,
        len(DELAY_BOUNDS),
    ]


def test_a_timer_reads_the_median_bucket_and_the_counts_on_each_side_of_its_limit() -> None:
    counts = {"d_00": 1, "d_03": 1, "d_04": 2, "d_06": 3}  # 10 s, 120 s, 300 s x2, 1800 s x3

    found = timer(counts, "d_", 300)

    assert (found.median_seconds, found.within_limit, found.over_limit) == (300, 4, 3)
    assert timer({}, "d_", 300).median_seconds is None
    assert timer({f"d_{len(DELAY_BOUNDS):02d}": 1}, "d_", 300).median_seconds is None  # past the last bound


def _event(kind: EventType, source: str, **evidence: object) -> AuditEvent:
    old = "subscribed" if kind is EventType.REVOKED else None
    return AuditEvent(kind, FRIDAY_BEFORE_THANKSGIVING, "+14155550123", "alerts", old, None, source, evidence)


def test_an_opt_out_by_text_counts_its_keyword_source_and_confirmation_delay() -> None:
    received = FRIDAY_BEFORE_THANKSGIVING - timedelta(seconds=45)
    stop = _event(EventType.REVOKED, Source.KEYWORD, keyword="Arrêt", received_at=received.isoformat())

    assert day_figures(stop) == {
        "opt_outs": 1,
        "opt_outs_source_KEYWORD": 1,
        "opt_outs_keyword_ARR_T": 1,  # a counter name keeps to safe characters
        f"opt_out_delay_{DELAY_BOUNDS.index(60):02d}": 1,
    }
    assert subscriber_change(stop) == -1


def test_an_unsubscribe_entered_late_counts_as_a_late_revocation_and_no_keyword() -> None:
    asked = _event(EventType.REVOKED, Source.API, requested_at="2026-11-01T10:00:00Z", keyword="STOP")

    assert day_figures(asked) == {"opt_outs": 1, "opt_outs_source_API": 1, "revocations_late": 1}


def test_events_without_a_program_or_with_unreadable_times_count_only_what_they_prove() -> None:
    bare = AuditEvent(EventType.REVOKED, FRIDAY_BEFORE_THANKSGIVING, "+14155550123", None, None, None, "keyword")
    odd = _event(EventType.GRANTED, Source.KEYWORD, double_opt_in=True, prompt_requested_at="yesterday")

    assert day_figures(bare) == {}
    assert subscriber_change(bare) == 0
    assert day_figures(odd) == {"opt_ins": 1, "opt_ins_source_KEYWORD": 1, "confirmations": 1}


def test_figures_break_down_by_source_and_keyword() -> None:
    figures = ProgramFigures(
        "alerts",
        counts={"opt_ins": 3, "opt_ins_source_KEYWORD": 2, "opt_ins_source_WEB_FORM": 1, "opt_ins_keyword_JOIN": 2},
        subscribers=3,
    )

    assert figures.by_source("opt_ins") == {"keyword": 2, "web_form": 1}
    assert figures.by_keyword("opt_ins") == {"JOIN": 2}
    assert figures.by_source("opt_outs") == {}
