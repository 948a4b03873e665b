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
from sms_consent.provider_opt_outs import DeliveryEvent, SyncDeps, delivery_event, mirror, sync_in
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
    looked_up: list[str] = field(default_factory=list)

    def opted_out(self) -> Iterable[ProviderOptOut]:
        return iter(self.entries)

    def lookup(self, phone: str) -> ProviderOptOut | None:
        self.looked_up.append(phone)
        return next((entry for entry in self.entries if entry.phone == phone), None)

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


def blocked(event_type: str = "TEXT_BLOCKED", *, final: bool = True, description: str = "") -> DeliveryEvent:
    return DeliveryEvent.model_validate(
        {
            "eventType": event_type,
            "isFinal": final,
            "destinationPhoneNumber": PHONE,
            "messageId": "862a8790-60c0-4430-9b2b-658bd1e2c3f4",
            "messageStatusDescription": description,
        }
    )


def test_a_blocked_delivery_to_a_number_on_the_providers_list_records_its_opt_out_at_once() -> None:
    store = MemoryStore(subscribed("alerts", "tone1"))
    opted_out_at = NOW - timedelta(minutes=3)  # minutes ago: the next scheduled sync is up to 15 away
    provider = ProviderList([ProviderOptOut(PHONE, opted_out_at)])

    first = delivery_event(blocked(), deps(store, provider))
    again = delivery_event(blocked(), deps(store, provider))

    assert (first.action, again.action) == ("recorded", "already_out")
    state = store.get(PHONE)
    assert all(state.programs[program].status is Status.UNSUBSCRIBED for program in ("alerts", "tone1"))
    revoked = [event for event in store.events if event.event_type is EventType.REVOKED]
    assert {event.program for event in revoked} == set(CONFIG.programs)
    assert {event.source for event in revoked} == {Source.CARRIER}
    assert state.programs["alerts"].decided_at == opted_out_at  # when the consumer opted out, not when we learnt
    assert revoked[0].evidence["provider"] == "eum"
    assert revoked[0].evidence["delivery_event"] == "TEXT_BLOCKED"
    assert revoked[0].evidence["message_id"] == "862a8790-60c0-4430-9b2b-658bd1e2c3f4"


def test_a_blocked_delivery_to_a_number_not_on_the_list_changes_nothing() -> None:
    store = MemoryStore(subscribed("alerts"))
    provider = ProviderList()

    assert delivery_event(blocked("TEXT_CARRIER_BLOCKED"), deps(store, provider)).action == "not_listed"
    assert provider.looked_up == [PHONE]
    assert store.get(PHONE).status("alerts") is Status.SUBSCRIBED
    assert store.events == []


@pytest.mark.parametrize(
    ("event", "looks"),
    [
        (blocked("TEXT_SUCCESSFUL"), False),
        (blocked("TEXT_DELIVERED"), False),
        (blocked("TEXT_BLOCKED", final=False), False),  # not the message's last word yet
        (blocked("TEXT_TTL_EXPIRED"), False),  # transient: the phone was off
        (blocked("TEXT_INVALID"), False),
        (blocked("TEXT_PROTECT_BLOCKED"), False),  # our own protect rules, not the recipient
        (blocked("TEXT_SPAM"), True),
        (blocked("TEXT_UNKNOWN"), True),
        (blocked("MEDIA_BLOCKED"), True),
        (blocked("TEXT_PENDING", final=False, description="Destination phone number opted out"), False),
        (blocked("TEXT_CARRIER_UNREACHABLE", description="The destination phone number has opted out"), True),
    ],
)
def test_only_a_final_refusal_makes_it_look_the_number_up(event: DeliveryEvent, looks: bool) -> None:
    store = MemoryStore(subscribed("alerts"))
    provider = ProviderList([ProviderOptOut(PHONE, None)])

    looked = delivery_event(event, deps(store, provider))

    assert provider.looked_up == ([PHONE] if looks else [])
    assert (looked.action == "recorded") is looks
    assert (store.get(PHONE).status("alerts") is Status.UNSUBSCRIBED) is looks
