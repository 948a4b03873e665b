"""Opt-in and opt-out figures per program: daily counters and a running subscriber count.

They are updated inside the same transaction that changes a number (repository.numbers.save), so they
never drift from the audit trail. They are write-sharded: a number's changes go to one of `SHARDS`
partitions chosen by its number, so that a STOP storm spreads over them instead of queueing on one
item (one item takes about 1,000 writes a second; concurrent transactions on it conflict). Reading a
period is one Query per shard and one BatchGetItem for the running totals; items written before the
sharding (`METRICS#<program>`) are read as one more shard.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from pynamodb.attributes import NumberAttribute

from sms_consent.consent import AuditEvent, EventType, Status
from sms_consent.repository.table import Table, TableItem, item_key

FIGURES = ("opt_ins", "opt_outs", "prompts", "confirmations")


class ProgramMetricsItem(TableItem):
    opt_ins = NumberAttribute(default=0)
    opt_outs = NumberAttribute(default=0)
    prompts = NumberAttribute(default=0)
    confirmations = NumberAttribute(default=0)
    subscribers = NumberAttribute(default=0)


SHARDS = 64


def _key(program: str, shard: int | None) -> str:
    return f"METRICS#{program}" if shard is None else f"METRICS#{program}#{shard:02d}"


def shard_of(phone: str) -> int:
    return zlib.crc32(phone.encode()) % SHARDS


def _keys(program: str) -> list[str]:
    return [_key(program, None), *(_key(program, shard) for shard in range(SHARDS))]


def deltas(events: Iterable[AuditEvent]) -> dict[tuple[str, str], Counter[str]]:
    """(partition, sort key) -> counter increments for a set of audit events."""
    changes: dict[tuple[str, str], Counter[str]] = {}
    for event in events:
        if event.program is None:
            continue
        key = _key(event.program, shard_of(event.phone))
        day = (key, f"DAY#{event.at.date().isoformat()}")
        total = (key, "TOTAL")
        if event.event_type is EventType.GRANTED:
            changes.setdefault(day, Counter())["opt_ins"] += 1
            if event.evidence.get("double_opt_in"):
                changes[day]["confirmations"] += 1
            changes.setdefault(total, Counter())["subscribers"] += 1
        elif event.event_type is EventType.REVOKED:
            changes.setdefault(day, Counter())["opt_outs"] += 1
            if event.old_status == Status.SUBSCRIBED:
                changes.setdefault(total, Counter())["subscribers"] -= 1
        elif event.event_type is EventType.DOUBLE_OPT_IN_REQUESTED:
            changes.setdefault(day, Counter())["prompts"] += 1
    return changes


def transaction_updates(table: Table, events: Iterable[AuditEvent]) -> list[tuple[ProgramMetricsItem, list[Any]]]:
    """One update per counter item (a transaction may touch each item once)."""
    model = table.model(ProgramMetricsItem)
    updates = []
    for (pk, sk), counts in deltas(events).items():
        item = model(pk=pk, sk=sk)
        actions = [getattr(model, name).add(value) for name, value in counts.items() if value]
        if actions:
            updates.append((item, actions))
    return updates


@dataclass(frozen=True, slots=True)
class ProgramFigures:
    program: str
    opt_ins: int
    opt_outs: int
    prompts: int
    confirmations: int
    subscribers: int

    @property
    def double_opt_in_conversion(self) -> float | None:
        return round(self.confirmations / self.prompts, 4) if self.prompts else None


class DynamoMetrics:
    """Program figures for a period: one Query over the days plus one GetItem for the running total."""

    def __init__(self, table: Table) -> None:
        self._table = table
        self._items = table.model(ProgramMetricsItem)

    def read(self, program: str, first_day: date, last_day: date) -> ProgramFigures:
        model = self._items
        sums: Counter[str] = Counter()
        for key in _keys(program):
            days = model.query(key, model.sk.between(f"DAY#{first_day.isoformat()}", f"DAY#{last_day.isoformat()}"))
            for item in days:
                for name in FIGURES:
                    sums[name] += int(getattr(item, name) or 0)
        totals = self._table.batch_get([item_key(key, "TOTAL") for key in _keys(program)])
        subscribers = sum(int(raw.get("subscribers", {}).get("N", 0)) for raw in totals.values())
        return ProgramFigures(
            program,
            opt_ins=sums["opt_ins"],
            opt_outs=sums["opt_outs"],
            prompts=sums["prompts"],
            confirmations=sums["confirmations"],
            subscribers=max(subscribers, 0),
        )
