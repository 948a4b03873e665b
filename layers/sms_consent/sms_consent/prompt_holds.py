"""Prompts held until confirmations vouch for them, and released when they do.

A sign-up whose prompt would leave more unconfirmed prompts in its 1k block, area code or country
than confirmations vouch for (`pumping.unconfirmed`) is stored as usual, answered as usual, and its
prompt is kept back on its scope's waiting list. Each double opt-in confirmed counts for its block,
area code and country (folded from the table's stream) and, in the same run of the stream's consumer,
releases the held prompts of its scopes that now fit: a campaign's first confirmations arrive within a
minute or two and let the rest of its spike out; pumped numbers never confirm, so an attack's prompts
stay held until they expire (`hold_minutes`). The consumer who was held can also sign up again once
the scope is quiet.

Pure domain code: counters, the waiting list, the number store and the outbound topic are ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sms_consent import phones, pumping
from sms_consent.breakers import blocking
from sms_consent.clock import Clock
from sms_consent.config import ProgramConfig
from sms_consent.consent import Source
from sms_consent.ports import (
    BreakerSource,
    CounterStore,
    HeldPrompt,
    HeldPrompts,
    KeyCounts,
    NumberStore,
    OutboundRequests,
)
from sms_consent.subscriptions import send_prompt, unsent_prompt

RELEASE_BATCH = 25  # newest held prompts looked at per scope and confirmation


@dataclass(frozen=True)
class ReleaseDeps:
    counters: CounterStore
    held: HeldPrompts
    store: NumberStore
    outbound: OutboundRequests
    programs: ProgramConfig
    config: pumping.PumpingConfig
    clock: Clock
    breakers: BreakerSource  # a prompt an open breaker covers stays held (it expires); a closed one is half-open


def hold(phone: str, program: str, language: str | None, scope: tuple[str, str], now: datetime, held: HeldPrompts,
         config: pumping.PumpingConfig) -> None:  # fmt: skip
    """Put a held prompt on its scope's waiting list, for `hold_minutes`."""
    held.hold(HeldPrompt(phone, program, language, now, scope), now + timedelta(minutes=config.hold_minutes))


def release_held(confirmed: Sequence[phones.PhoneInfo], deps: ReleaseDeps) -> int:
    """After confirmations were counted: send the held prompts of their blocks, area codes and countries
    that now fit, oldest first. Returns how many were sent.

    Each prompt is published before it leaves the waiting list: a failure in between publishes it again
    on the retry, as the same request, which the gate sends once; never the other way round, which
    could take a prompt off the list and lose it."""
    now = deps.clock()
    since = now - timedelta(minutes=deps.config.hold_minutes)
    scopes = list(dict.fromkeys(scope for phone in confirmed for scope in pumping.hold_scopes(phone)))
    candidates: dict[tuple[str, str], HeldPrompt] = {}
    for scope in scopes:
        for held in deps.held.waiting(scope, since, RELEASE_BATCH):
            candidates.setdefault((held.phone, held.program), held)
    if not candidates:
        return 0
    numbers = {held.phone: phones.parse(held.phone) for held in candidates.values()}
    keys = list(dict.fromkeys(key for info in numbers.values() for key in pumping.hold_scopes(info)))
    live = dict(deps.counters.read_live(keys, now))
    baselines = deps.counters.baselines(keys, pumping.slot_of_week(pumping.bucket_start(now)))
    open_breakers = deps.breakers.open_breakers(now)
    half_opened = pumping.half_open(deps.breakers.all_breakers(), now, deps.config)
    stale = now - timedelta(minutes=deps.config.half_open_release_minutes)
    released = 0
    for held in sorted(candidates.values(), key=lambda item: item.held_at):
        info = numbers[held.phone]
        if blocking(info, open_breakers) is not None:
            continue
        if held.scope in half_opened and held.held_at < stale:
            continue  # an attack's leftovers, let out once it stops knocking otherwise; it expires
        if pumping.unconfirmed(info, live, baselines, deps.config, half_opened):
            continue
        state = deps.store.get(held.phone)
        prompt = unsent_prompt(state, held.program, config=deps.programs, language=held.language, now=now)
        if prompt is not None:
            send_prompt(prompt, held.phone, deps.programs, deps.outbound,
                        {"source": Source.WEB_FORM.value, "released_after_hold": True})  # fmt: skip
        if not deps.held.take(held) or prompt is None:  # released by another run, or confirmed meanwhile
            continue
        deps.counters.record_release(info, now)
        for key in pumping.hold_scopes(info):
            live[key] = pumping.merge(live.get(key, KeyCounts(*key)), KeyCounts(*key, released=1))
        released += 1
    return released
