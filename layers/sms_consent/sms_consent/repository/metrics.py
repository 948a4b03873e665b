"""Opt-in and opt-out figures per program: daily counters and a running subscriber count.

They are folded from the table's stream (consent_feed, repository.feed_ledger), off the request
path: a request writes only its number's partition. The counters are sharded
(`METRICS#<program>#<NN>`, the shard picked per batch) so that concurrent consumers of several stream
shards rarely meet on one item. Reading a period is one Query per shard and one BatchGetItem for the
running totals; items written before the sharding (`METRICS#<program>`) are read as one more shard.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from pynamodb.attributes import NumberAttribute

from sms_consent.consent import AuditEvent, EventType, Status
from sms_consent.repository.table import Increment, Table, TableItem, item_key

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


def _keys(program: str) -> list[str]:
    return [_key(program, None), *(_key(program, shard) for shard in range(SHARDS))]


def increments(event: AuditEvent, shard: int) -> dict[tuple[str, str], Increment]:
    """(partition, sort key) -> what one audit event adds to its program's figures, on one shard."""
    if event.program is None:
        return {}
    key = _key(event.program, shard)
    day, total = Increment(), Increment()
    if event.event_type is EventType.GRANTED:
        day.adds["opt_ins"] += 1
        day.adds["confirmations"] += bool(event.evidence.get("double_opt_in"))
        total.adds["subscribers"] += 1
    elif event.event_type is EventType.REVOKED:
        day.adds["opt_outs"] += 1
        total.adds["subscribers"] -= event.old_status == Status.SUBSCRIBED
    elif event.event_type is EventType.DOUBLE_OPT_IN_REQUESTED:
        day.adds["prompts"] += 1
    found = {(key, f"DAY#{event.at.date().isoformat()}"): day, (key, "TOTAL"): total}
    return {item: change for item, change in found.items() if not change.empty}


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
