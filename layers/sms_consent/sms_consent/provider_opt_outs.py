"""Agreement with the SMS provider's opt-out list, both ways.

In: a scheduled sync reads the account's opt-out list (End User Messaging's, or SNS's) and records
each number on it as a consumer opt-out (source `carrier`, evidence `provider`) from every program it
is not already opted out of by the consumer, with an audit event. A number already opted out
everywhere is left alone, so a sync repeated over the same list records nothing twice; a watermark
skips entries the last sync saw (where the provider gives their time). A consumer's later START
wins over an older provider opt-out (the opt-out's time is its `at`).

Delivery events: a message the recipient's carrier or device blocked (End User Messaging's final
TEXT_BLOCKED, MEDIA_BLOCKED and kin, from the configuration set's event destination) is a cue to look
the number up on the provider's list at once, not at the next sync: if it is there, the opt-out is
recorded as above, its evidence naming the event. The event alone proves nothing (a carrier blocks for
many reasons), so a number not on the list is left as it is.

Out: a consumer's own opt-out (a STOP, the preference center) is put on the provider's list too, so
that traffic sent around the platform stops as well; a consumer's own opt-in (a keyword) takes it
off where the provider allows. Opt-outs that came from the provider are not echoed back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sms_consent import consent
from sms_consent.clock import iso
from sms_consent.config import ProgramConfig
from sms_consent.consent import NumberState, Source, Status
from sms_consent.ports import NumberStore, ProviderOptOut, ProviderOptOutList, SyncCheckpoint

# Consumer decisions the provider's list should mirror.
MIRRORED_OPT_OUTS = frozenset({Source.KEYWORD, Source.PREFERENCE_CENTER})
MIRRORED_OPT_INS = frozenset({Source.KEYWORD})


@dataclass(frozen=True)
class SyncDeps:
    config: ProgramConfig
    store: NumberStore
    provider: ProviderOptOutList
    checkpoint: SyncCheckpoint
    clock: Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    listed: int  # entries on the provider's list
    recorded: int  # numbers whose opt-out was recorded now
    watermark: datetime | None


def _opted_out_by_consumer(state: NumberState, program: str, now: datetime) -> bool:
    current = state.programs.get(program)
    return current is not None and current.consumer_opted_out and current.effective_status(now) is Status.UNSUBSCRIBED


def provider_opt_out(
    state: NumberState, config: ProgramConfig, entry: ProviderOptOut, provider: str, now: datetime, **cue: str
) -> consent.Change:
    """The number's opt-out from every program it is not already opted out of by the consumer. `cue`:
    what made us look (a delivery event), kept in the evidence."""
    programs = [program for program in config.programs if not _opted_out_by_consumer(state, program, now)]
    evidence: dict[str, Any] = {"provider": provider, **cue}
    if entry.opted_out_at is not None:
        evidence["opted_out_at"] = iso(entry.opted_out_at)
    at = entry.opted_out_at or now
    return consent.revoke_all(state, programs, source=Source.CARRIER, at=at, now=now, evidence=evidence)


def _record(entry: ProviderOptOut, deps: SyncDeps, **evidence: str) -> bool:
    """Store the provider's opt-out of one number; whether anything was recorded (not already out)."""
    now = deps.clock()
    stored = deps.store.update(
        entry.phone,
        lambda state: provider_opt_out(state, deps.config, entry, deps.provider.name, now, **evidence),
    )
    return bool(stored.events)


def sync_in(deps: SyncDeps) -> SyncOutcome:
    since = deps.checkpoint.watermark()
    newest = since
    listed = recorded = 0
    for entry in deps.provider.opted_out():
        listed += 1
        if since is not None and entry.opted_out_at is not None and entry.opted_out_at <= since:
            continue  # the last sync saw it
        recorded += _record(entry, deps)
        if entry.opted_out_at is not None and (newest is None or entry.opted_out_at > newest):
            newest = entry.opted_out_at
    if newest is not None and newest != since:
        deps.checkpoint.save(newest)
    return SyncOutcome(listed=listed, recorded=recorded, watermark=newest)


@dataclass(frozen=True, slots=True)
class Mirrored:
    action: str  # "added", "removed", "unsupported", "ignored"
    phone: str | None


def mirror(detail_type: str, detail: Mapping[str, Any], provider: ProviderOptOutList) -> Mirrored:
    """One consent event from the bus (ConsentRevoked or ConsentGranted) reflected on the provider's list."""
    phone, source = detail.get("phone"), detail.get("source")
    if not isinstance(phone, str) or not phone.startswith("+"):
        return Mirrored("ignored", None)
    if detail_type == consent.EventType.REVOKED.value and source in MIRRORED_OPT_OUTS:
        return Mirrored("added" if provider.add(phone) else "unsupported", phone)
    if (
        detail_type == consent.EventType.GRANTED.value
        and source in MIRRORED_OPT_INS
        and detail.get("old_status") == Status.UNSUBSCRIBED
    ):
        return Mirrored("removed" if provider.remove(phone) else "unsupported", phone)
    return Mirrored("ignored", phone)


# Final delivery events that may mean the recipient refuses our texts: the number is looked up on the
# provider's list. (Not the transient ones, nor an invalid number or message, nor our own protect rules.)
REFUSAL_EVENTS = frozenset(
    f"{kind}_{status}" for kind in ("TEXT", "MEDIA") for status in ("BLOCKED", "CARRIER_BLOCKED", "SPAM", "UNKNOWN")
)


class DeliveryEvent(BaseModel):
    """The fields of an End User Messaging SMS event (a configuration set's event destination, SNS)
    that matter here; the rest (prices, carrier, mcc) is ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: str = Field(alias="eventType", min_length=1, max_length=64)
    is_final: bool = Field(alias="isFinal")
    phone: str = Field(alias="destinationPhoneNumber", pattern=r"^\+[1-9][0-9]{1,18}$")
    message_id: str = Field(alias="messageId", min_length=1, max_length=128)
    status_description: str = Field(default="", alias="messageStatusDescription", max_length=2000)


@dataclass(frozen=True, slots=True)
class Looked:
    action: str  # "recorded", "already_out", "not_listed", "ignored"


def delivery_event(event: DeliveryEvent, deps: SyncDeps) -> Looked:
    """A final refusal (blocked, spam, unknown) of a message, or one whose description says opted out:
    look the number up on the provider's list and record the opt-out it finds. One lookup per event."""
    cue = event.is_final and (event.event_type in REFUSAL_EVENTS or "opted out" in event.status_description.lower())
    if not cue:
        return Looked("ignored")
    entry = deps.provider.lookup(event.phone)
    if entry is None:
        return Looked("not_listed")
    recorded = _record(entry, deps, delivery_event=event.event_type, message_id=event.message_id)
    return Looked("recorded" if recorded else "already_out")
