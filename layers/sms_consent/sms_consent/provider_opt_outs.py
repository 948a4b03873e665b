"""Agreement with the SMS provider's opt-out list, both ways.

In: a scheduled sync reads the account's opt-out list (End User Messaging's, or SNS's) and records
each number on it as a consumer opt-out (source `carrier`, evidence `provider`) from every program it
is not already opted out of by the consumer, with an audit event. A number already opted out
everywhere is left alone, so a sync repeated over the same list records nothing twice; a watermark
skips entries the last sync saw (where the provider gives their time). A consumer's later START
wins over an older provider opt-out (the opt-out's time is its `at`).

Out: a consumer's own opt-out (a STOP, the preference center) is put on the provider's list too, so
that traffic sent around the platform stops as well; a consumer's own opt-in (a keyword) takes it
off where the provider allows. Opt-outs that came from the provider are not echoed back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    state: NumberState, config: ProgramConfig, entry: ProviderOptOut, provider: str, now: datetime
) -> consent.Change:
    """The number's opt-out from every program it is not already opted out of by the consumer."""
    programs = [program for program in config.programs if not _opted_out_by_consumer(state, program, now)]
    evidence: dict[str, Any] = {"provider": provider}
    if entry.opted_out_at is not None:
        evidence["opted_out_at"] = iso(entry.opted_out_at)
    at = entry.opted_out_at or now
    return consent.revoke_all(state, programs, source=Source.CARRIER, at=at, now=now, evidence=evidence)


def sync_in(deps: SyncDeps) -> SyncOutcome:
    since = deps.checkpoint.watermark()
    newest = since
    listed = recorded = 0
    for entry in deps.provider.opted_out():
        listed += 1
        if since is not None and entry.opted_out_at is not None and entry.opted_out_at <= since:
            continue  # the last sync saw it
        now = deps.clock()
        stored = deps.store.update(
            entry.phone,
            lambda state, entry=entry, now=now: provider_opt_out(state, deps.config, entry, deps.provider.name, now),  # type: ignore[misc]
        )
        recorded += bool(stored.events)
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
