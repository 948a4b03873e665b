"""Reassigned numbers: who the gate asks the database about, what an answer does to the decision and to
the consent on file, one batch per request, and the per-process cache (calls counted on the local
stand-in, a real file)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sms_consent import consent, reassigned_numbers, send_gate, subscriptions
from sms_consent.adapters.reassigned_numbers import CachedReassignedNumbers, LocalReassignedNumbers
from sms_consent.breakers import Breaker
from sms_consent.config import load_config
from sms_consent.consent import EventType, NumberState, Source, Status
from sms_consent.messages import Category, OutboundRequest
from sms_consent.ports import MediaReport
from sms_consent.reassigned_numbers import RndAnswer, RndQuery
from sms_consent.send_gate import GateDecision, GateReaders, Reason, Verdict
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from tests.fakes import MemoryStore

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)  # no quiet hours
OLD = NOW - timedelta(days=100)
RECENT = NOW - timedelta(days=10)
NY, NY2, NY3, STRANGER = "+12125550123", "+12125550124", "+12125550125", "+12125550199"
TORONTO = "+14165550123"


class NoBreakers:
    def open_breakers(self, now: datetime) -> Mapping[tuple[str, str], Breaker]:
        return {}

    def all_breakers(self) -> Mapping[tuple[str, str], Breaker]:
        return {}


class NoMedia:
    def inspect(self, urls: Sequence[str]) -> MediaReport:
        return MediaReport()


def subscribed(phone: str, at: datetime, *programs: str) -> NumberState:
    state = NumberState(phone=phone)
    for program in programs or ("alerts",):
        state = consent.grant(state, program, source="keyword", at=at, now=at, evidence={}).state
    return state


def disconnections(path: Path, *entries: tuple[str, date]) -> Path:
    lines = [json.dumps({"phone": phone, "disconnected_at": day.isoformat()}) for phone, day in entries]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def readers(store: MemoryStore, database: LocalReassignedNumbers, clock: list[datetime] | None = None) -> GateReaders:
    moments = clock or [NOW]
    return GateReaders(
        config=CONFIG,
        store=store,
        breakers=NoBreakers(),
        media=NoMedia(),
        clock=lambda: moments[-1],
        reassigned=CachedReassignedNumbers(database, clock=lambda: moments[-1]),
        reassigned_check_after=timedelta(days=45),
    )


def marketing(*recipients: str, category: Category = Category.MARKETING) -> OutboundRequest:
    return OutboundRequest(
        program="alerts", category=category, recipients=recipients, body="Example Corp Alerts: sale today."
    )


def reasons(decisions: list[GateDecision]) -> dict[str, tuple[Verdict, Reason]]:
    return {decision.phone: (decision.decision, decision.reason) for decision in decisions}


def test_old_consent_on_a_number_disconnected_since_is_denied(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY, (OLD + timedelta(days=30)).date())))
    store = MemoryStore(subscribed(NY, OLD))

    (decision,) = send_gate.check(marketing(NY), readers(store, database))

    assert (decision.decision, decision.reason) == (Verdict.DENY, Reason.NUMBER_REASSIGNED)
    assert database.batches == [(RndQuery(NY, OLD.date()),)]


def test_a_disconnection_on_the_consent_date_itself_counts(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY, OLD.date())))
    (decision,) = send_gate.check(marketing(NY), readers(MemoryStore(subscribed(NY, OLD)), database))
    assert decision.reason is Reason.NUMBER_REASSIGNED  # the database's "on or after the date"


def test_a_disconnection_before_the_consent_is_allowed(tmp_path: Path) -> None:
    # The number was disconnected, then given to the consumer who consented: the consent is theirs.
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY, (OLD - timedelta(days=60)).date())))

    (decision,) = send_gate.check(marketing(NY), readers(MemoryStore(subscribed(NY, OLD)), database))

    assert (decision.decision, decision.reason) == (Verdict.ALLOW, Reason.ALLOWED)
    assert len(database.batches) == 1


def test_recent_consent_is_not_asked_about(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY, NOW.date())))

    (decision,) = send_gate.check(marketing(NY), readers(MemoryStore(subscribed(NY, RECENT)), database))

    assert decision.reason is Reason.ALLOWED
    assert database.batches == []


@pytest.mark.parametrize("category", [Category.TRANSACTIONAL, Category.COMPLIANCE_REPLY])
def test_only_marketing_asks(tmp_path: Path, category: Category) -> None:
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY, NOW.date())))
    send_gate.check(marketing(NY, category=category), readers(MemoryStore(subscribed(NY, OLD)), database))
    assert database.batches == []


def test_numbers_outside_the_us_are_not_asked(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(tmp_path / "absent.jsonl")
    send_gate.check(marketing(TORONTO), readers(MemoryStore(subscribed(TORONTO, OLD)), database))
    assert database.batches == []


def test_one_batch_asks_about_every_old_consent_of_a_request(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY2, NOW.date())))
    store = MemoryStore(subscribed(NY, OLD), subscribed(NY2, OLD), subscribed(NY3, RECENT))

    decided = send_gate.check(marketing(NY, NY2, NY3, STRANGER, "not a number"), readers(store, database))

    assert database.batches == [(RndQuery(NY, OLD.date()), RndQuery(NY2, OLD.date()))]
    assert reasons(decided) == {
        NY: (Verdict.ALLOW, Reason.ALLOWED),
        NY2: (Verdict.DENY, Reason.NUMBER_REASSIGNED),
        NY3: (Verdict.ALLOW, Reason.ALLOWED),
        STRANGER: (Verdict.DENY, Reason.NOT_SUBSCRIBED),
        "not a number": (Verdict.DENY, Reason.INVALID_NUMBER),
    }


def test_a_second_request_is_answered_from_the_cache_until_it_expires(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(tmp_path / "absent.jsonl")
    store = MemoryStore(subscribed(NY, OLD), subscribed(NY2, OLD))
    clock = [NOW]
    gate = readers(store, database, clock)

    send_gate.check(marketing(NY), gate)
    second = send_gate.check(marketing(NY, NY2), gate)  # only the number not asked yet goes out
    send_gate.check(marketing(NY, NY2), gate)
    clock.append(NOW + timedelta(hours=25))
    send_gate.check(marketing(NY), gate)

    assert [decision.reason for decision in second] == [Reason.ALLOWED, Reason.ALLOWED]
    assert database.batches == [(RndQuery(NY, OLD.date()),), (RndQuery(NY2, OLD.date()),), (RndQuery(NY, OLD.date()),)]


def test_a_new_consent_date_is_a_new_question(tmp_path: Path) -> None:
    database = LocalReassignedNumbers(tmp_path / "absent.jsonl")
    store = MemoryStore(subscribed(NY, OLD))
    gate = readers(store, database)
    send_gate.check(marketing(NY), gate)

    store.states[NY] = subscribed(NY, OLD + timedelta(days=20))  # confirmed again since
    send_gate.check(marketing(NY), gate)

    assert [batch[0].consent_date for batch in database.batches] == [OLD.date(), (OLD + timedelta(days=20)).date()]


def test_no_data_leaves_the_consent_standing(tmp_path: Path) -> None:
    before_the_database = datetime(2020, 6, 1, tzinfo=UTC)
    database = LocalReassignedNumbers(disconnections(tmp_path / "rnd.jsonl", (NY, date(2020, 1, 1))))

    (decision,) = send_gate.check(marketing(NY), readers(MemoryStore(subscribed(NY, before_the_database)), database))

    assert database.check([RndQuery(NY, before_the_database.date())]) == {
        RndQuery(NY, before_the_database.date()): RndAnswer.NO_DATA
    }
    assert decision.reason is Reason.ALLOWED


def test_a_database_that_cannot_answer_defers_and_is_asked_again(tmp_path: Path) -> None:
    broken = tmp_path / "rnd.jsonl"
    broken.write_text("{not json\n", encoding="utf-8")
    database = LocalReassignedNumbers(broken)
    store = MemoryStore(subscribed(NY, OLD), subscribed(NY3, RECENT))
    gate = readers(store, database)

    decided = send_gate.check(marketing(NY, NY3), gate)
    send_gate.check(marketing(NY), gate)

    assert reasons(decided) == {
        NY: (Verdict.DEFER, Reason.REASSIGNED_CHECK_UNAVAILABLE),
        NY3: (Verdict.ALLOW, Reason.ALLOWED),  # not due for a check: unaffected
    }
    assert decided[0].retry_at == NOW + send_gate.REASSIGNED_RETRY_DELAY
    assert len(database.batches) == 2  # a failure is not cached


def test_the_previous_holders_consents_end_and_the_new_holders_stand() -> None:
    before = subscribed(NY, OLD, "alerts", "tone1")
    newer = consent.grant(before, "tone2", source="keyword", at=RECENT, now=RECENT, evidence={}).state
    query = RndQuery(NY, OLD.date())

    change = reassigned_numbers.end_reassigned_consent(
        newer, query, database="local", now=NOW, extra={"request_id": "r1"}
    )

    assert {program: change.state.status(program) for program in ("alerts", "tone1", "tone2")} == {
        "alerts": Status.UNSUBSCRIBED,
        "tone1": Status.UNSUBSCRIBED,  # given the same day: also the previous holder's
        "tone2": Status.SUBSCRIBED,  # given after the disconnection date asked about: the new holder's
    }
    assert [(event.event_type, event.program, event.source) for event in change.events] == [
        (EventType.REVOKED, "alerts", Source.REASSIGNED_NUMBERS),
        (EventType.REVOKED, "tone1", Source.REASSIGNED_NUMBERS),
    ]
    evidence = change.events[0].evidence
    assert evidence["reassigned_numbers_answer"] == "yes"
    assert evidence["queried_consent_date"] == evidence["consent_date"] == OLD.date().isoformat()
    assert evidence["database"] == "local"
    assert evidence["request_id"] == "r1"
    assert not change.state.programs["alerts"].consumer_opted_out  # nobody holding the number opted out


def test_only_the_new_holder_subscribes_a_reassigned_number_again() -> None:
    state = reassigned_numbers.end_reassigned_consent(
        subscribed(NY, OLD), RndQuery(NY, OLD.date()), database="local", now=NOW, extra={}
    ).state
    program = CONFIG.programs["alerts"]

    assert not consent.may_subscribe_directly(state, "alerts", Source.IMPORT)  # the old list's consent
    assert consent.may_subscribe_directly(state, "alerts", Source.KEYWORD)  # the new holder texting us
    assert (
        subscriptions.double_opt_in_reason(state, "alerts", program, Source.IMPORT, False)
        is subscriptions.DoubleOptInReason.NUMBER_REASSIGNED
    )
