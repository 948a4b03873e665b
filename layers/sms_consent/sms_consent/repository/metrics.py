"""Opt-in and opt-out figures per program: daily counters and a running subscriber count.

They are folded from the table's stream (consent_feed), off the request path: a request writes only
its number's partition, and the consumer adds a whole batch of committed audit events in one
transaction, with a marker keyed by the batch's first sequence number so that a retried batch is
counted once. The counters are sharded (`METRICS#<program>#<NN>`, the shard picked per batch) so that
concurrent consumers of several stream shards rarely meet on one item. Reading a period is one Query
per shard and one BatchGetItem for the running totals; items written before the sharding
(`METRICS#<program>`) are read as one more shard.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute

from sms_consent.consent import AuditEvent, EventType, Status
from sms_consent.ports import Committed, ConcurrentUpdate
from sms_consent.repository.table import THROTTLED, TTL_ATTRIBUTE, Key, Table, TableItem, error_code, item_key

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


def deltas(events: Iterable[AuditEvent], shard: int) -> dict[tuple[str, str], Counter[str]]:
    """(partition, sort key) -> counter increments for a set of audit events, on one shard."""
    changes: dict[tuple[str, str], Counter[str]] = {}
    for event in events:
        if event.program is None:
            continue
        key = _key(event.program, shard)
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


# ---------------------------------------------------------------------- folding the stream

MARKER_SK = "FOLDED"
MARKER_LIFETIME = timedelta(days=2)  # stream records live 24 hours: no retry comes later than that
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems, the marker included


def _chunks(committed: Sequence[Committed]) -> Iterator[list[Committed]]:
    """Runs of the batch whose counters fit one transaction beside the marker."""
    chunk: list[Committed] = []
    touched: set[tuple[str, str]] = set()
    for item in committed:
        event = item.event
        new = {(event.program, "TOTAL"), (event.program, event.at.date().isoformat())} if event.program else set()
        if chunk and len(touched | new) > TRANSACTION_ITEMS - 1:
            yield chunk
            chunk, touched = [], set()
        chunk.append(item)
        touched |= new
    if chunk:
        yield chunk


class DynamoMetricsLedger:
    """The MetricsLedger port: a batch's counter increments and a marker `FOLDED#<first sequence>`
    (holding the last sequence) commit together, or not at all."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def fold(self, committed: Sequence[Committed]) -> int:
        return sum(self._fold(chunk) for chunk in _chunks(sorted(committed, key=lambda item: item.sequence)))

    def _fold(self, chunk: list[Committed]) -> int:
        first, last = chunk[0].sequence, chunk[-1].sequence
        marker_key = item_key(f"FOLDED#{first}", MARKER_SK)
        expires = int((chunk[-1].event.at + MARKER_LIFETIME).timestamp())
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table.name,
                    "Item": {**marker_key, "last": {"S": str(last)}, TTL_ATTRIBUTE: {"N": str(expires)}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        for (pk, sk), counts in deltas((item.event for item in chunk), first % SHARDS).items():
            added = {name: value for name, value in counts.items() if value}
            if added:
                actions.append(
                    {
                        "Update": {
                            "TableName": self.table.name,
                            "Key": item_key(pk, sk),
                            "UpdateExpression": "ADD " + ", ".join(f"#{name} :{name}" for name in added),
                            "ExpressionAttributeNames": {f"#{name}": name for name in added},
                            "ExpressionAttributeValues": {f":{name}": {"N": str(n)} for name, n in added.items()},
                        }
                    }
                )
        try:
            self.table.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            code = error_code(exc)
            if code == "TransactionCanceledException" and _marker_exists(exc):
                return self._fold_rest(chunk, marker_key)
            if code in THROTTLED or code == "TransactionCanceledException":  # a conflict: Lambda retries
                raise ConcurrentUpdate(f"metrics fold not committed ({code})") from exc
            raise
        return len(chunk)

    def _fold_rest(self, chunk: list[Committed], marker_key: Key) -> int:
        """The batch starting here was counted before, up to the marker's last sequence; a retry
        that grew count the rest only."""
        raw = self.table.client.get_item(TableName=self.table.name, Key=marker_key, ConsistentRead=True)
        counted_through = int(raw.get("Item", {}).get("last", {}).get("S", "0"))
        rest = [item for item in chunk if item.sequence > counted_through]
        return self._fold(rest) if rest else 0


def _marker_exists(error: Exception) -> bool:
    """The transaction was cancelled by the marker's condition (the first action), nothing else."""
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
