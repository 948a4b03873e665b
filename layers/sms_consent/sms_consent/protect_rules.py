"""Breakers pushed to the provider's protect configuration, so that traffic sent around the platform
(another app of the same AWS account, a console test) is stopped too.

A country breaker blocks the country in the configuration's country rules while it is open, and
allows it again once it has closed (country rules have no expiry). A prefix breaker blocks the numbers
of that prefix the attack prompted, as number overrides that expire with the breaker. IP breakers have
no counterpart there. Each breaker remembers what the configuration was told, so a closed breaker is
released once, not on every tick. A push that fails leaves the breaker as it is (the platform's own
gate already honours it) and is tried again on the next tick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sms_consent.breakers import Breaker
from sms_consent.ports import BreakerStore, KeyCounts, ProtectRules

BLOCKED, RELEASED = "blocked", "released"


@dataclass(frozen=True, slots=True)
class Pushed:
    blocked: tuple[tuple[str, str], ...] = ()
    released: tuple[tuple[str, str], ...] = ()
    failed: tuple[tuple[str, str], ...] = ()


def _numbers(counts: KeyCounts | None) -> list[str]:
    if counts is None:
        return []
    return sorted(f"{counts.key}{suffix}" for suffix in counts.suffixes if suffix.isdigit())


def push(
    breakers: Mapping[tuple[str, str], Breaker],
    counts: Mapping[tuple[str, str], KeyCounts],
    store: BreakerStore,
    protect: ProtectRules,
    now: datetime,
) -> Pushed:
    """Tell the protect configuration what changed since the last tick; mark each breaker told."""
    blocked: list[tuple[str, str]] = []
    released: list[tuple[str, str]] = []
    failed: list[tuple[str, str]] = []
    for target, breaker in sorted(breakers.items()):
        dimension, key = target
        if dimension not in ("country", "prefix") or breaker.watch:  # a watch stops nothing, here either
            continue
        is_open = breaker.is_open(now)
        if is_open and breaker.protect != BLOCKED:
            action, state = ("block", BLOCKED)
        elif not is_open and breaker.protect == BLOCKED:
            action, state = ("release", RELEASED)
        else:
            continue
        try:
            if dimension == "country" and action == "block":
                protect.block_country(key)
            elif dimension == "country":
                protect.allow_country(key)
            elif action == "block":
                protect.block_numbers(_numbers(counts.get(target)), breaker.expires_at)
            # a prefix's number overrides expire with the breaker: nothing to call on release
            store.mark_protect(dimension, key, state)
        except Exception:  # the provider refused or is unreachable: the next tick tries again
            failed.append(target)
            continue
        (blocked if action == "block" else released).append(target)
    return Pushed(tuple(blocked), tuple(released), tuple(failed))
