"""The provider's opt-out list and ours, in the domain: what a sync records, what it leaves alone,
and which consumer decisions are mirrored to the provider."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from sms_consent import consent
from sms_consent.config import load_config
from sms_consent.consent import EventType, NumberState, Source, Status
from sms_consent.ports import ProviderOptOut
from sms_consent.provider_opt_outs import SyncDeps, mirror, sync_in
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from tests.fakes import MemoryStore

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PHONE = "+14155550123"


@dataclass
class ProviderList:
    entries: list[ProviderOptOut] = field(default_factory=list)
    supports_add: bool = True
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    name: str = "eum"

    def opted_out(self) -> Iterable[ProviderOptOut]:
        return iter(self.entries)

    def add(self, phone: str) -> bool:
        self.added.append(phone)
        return self.supports_add

    def remove(self, phone: str) -> bool:
        self.removed.append(phone)
        return True


@dataclass
class Checkpoint:
    saved: datetime | None = None

    def watermark(self) -> datetime | None:
        return self.saved

    def save(self, watermark: datetime) -> None:
        self.saved = watermark


def subscribed(*programs: str) -> NumberState:
    state = NumberState(phone=PHONE)
    for program in programs:
        at = NOW - timedelta(days=3)
        state = consent.grant(state, program, source=Source.WEB_FORM, at=at, now=at, evidence={}).state
    return state


def deps(store: MemoryStore, provider: ProviderList, checkpoint: Checkpoint | None = None) -> SyncDeps:
    return SyncDeps(CONFIG, store, provider, checkpoint or Checkpoint(), clock=lambda: NOW)


def test_a_provider_opt_out_ends_every_program_as_the_consumers_own_decision() -> None:
    store = MemoryStore(subscribed("alerts", "tone1"))
    opted_out_at = NOW - timedelta(hours=1)

    outcome = sync_in(deps(store, ProviderList([ProviderOptOut(PHONE, opted_out_at)])))

    state = store.get(PHONE)
    assert outcome.recorded == 1
    assert all(state.programs[program].status is Status.UNSUBSCRIBED for program in CONFIG.programs)
    assert all(state.programs[program].consumer_opted_out for program in CONFIG.programs)
    revoked = [event for event in store.events if event.event_type is EventType.REVOKED]
    assert {event.program for event in revoked} == set(CONFIG.programs)
    assert {event.source for event in revoked} == {Source.CARRIER}
    assert revoked[0].evidence == {"provider": "eum", "opted_out_at": "2026-11-23T11:00:00.000000Z"}


def test_a_repeated_sync_records_nothing_twice_and_the_watermark_skips_what_it_saw() -> None:
    store = MemoryStore(subscribed("alerts"))
    provider = ProviderList([ProviderOptOut(PHONE, NOW - timedelta(hours=1)), ProviderOptOut("+14155550124", None)])
    checkpoint = Checkpoint()

    first = sync_in(deps(store, provider, checkpoint))
    events_after_first = len(store.events)
    second = sync_in(deps(store, provider, checkpoint))

    assert (first.recorded, second.recorded) == (2, 0)
    assert len(store.events) == events_after_first
    assert checkpoint.saved == NOW - timedelta(hours=1)


def test_a_consumers_start_after_the_provider_opt_out_is_not_undone_by_it() -> None:
    state = subscribed("alerts")
    start = NOW - timedelta(minutes=10)
    store = MemoryStore(state)
    opted_out = NOW - timedelta(hours=2)  # the carrier-level STOP came first, the START later

    store.update(PHONE, lambda s: consent.grant(s, "alerts", source=Source.KEYWORD, at=start, now=start, evidence={}))
    sync_in(deps(store, ProviderList([ProviderOptOut(PHONE, opted_out)])))

    assert store.get(PHONE).status("alerts") is Status.SUBSCRIBED


@pytest.mark.parametrize(
    ("detail_type", "source", "old", "action", "added", "removed"),
    [
        ("ConsentRevoked", "keyword", "subscribed", "added", [PHONE], []),
        ("ConsentRevoked", "preference_center", "subscribed", "added", [PHONE], []),
        ("ConsentRevoked", "carrier", "subscribed", "ignored", [], []),  # it came from the provider
        ("ConsentRevoked", "admin", "subscribed", "ignored", [], []),  # the business's decision, not the consumer's
        ("ConsentGranted", "keyword", "unsubscribed", "removed", [], [PHONE]),
        ("ConsentGranted", "keyword", None, "ignored", [], []),
        ("ConsentGranted", "web_form", "unsubscribed", "ignored", [], []),
    ],
)
def test_only_the_consumers_own_decisions_are_mirrored(
    detail_type: str, source: str, old: str | None, action: str, added: list[str], removed: list[str]
) -> None:
    provider = ProviderList()
    detail = {"phone": PHONE, "program": "alerts", "source": source, "old_status": old}

    assert mirror(detail_type, detail, provider).action == action
    assert (provider.added, provider.removed) == (added, removed)


def test_a_provider_without_an_add_call_is_reported_not_pretended() -> None:
    provider = ProviderList(supports_add=False, name="sns")
    detail = {"phone": PHONE, "source": "keyword", "old_status": "subscribed"}

    assert mirror("ConsentRevoked", detail, provider).action == "unsupported"
    assert mirror("ConsentRevoked", {"phone": "not a number", "source": "keyword"}, provider).action == "ignored"
