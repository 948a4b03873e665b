"""Opt-in and opt-out figures per program: daily counters and a running subscriber count.

They are folded from the table's stream (consent_feed, repository.feed_ledger), off the request
path: a request writes only its number's partition. The counters are sharded
(`METRICS#<program>#<NN>`, the shard picked per batch) so that concurrent consumers of several stream
shards rarely meet on one item. Reading a period is one Query per shard and one BatchGetItem for the
running totals; items written before the sharding (`METRICS#<program>`) are read as one more shard.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

from sms_consent.consent import AuditEvent
from sms_consent.program_metrics import ProgramFigures, day_figures, subscriber_change
from sms_consent.repository.table import Increment, Table, item_key

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
    day, total = Increment(adds=day_figures(event)), Increment()
    total.adds["subscribers"] += subscriber_change(event)
    found = {(key, f"DAY#{event.at.date().isoformat()}"): day, (key, "TOTAL"): total}
    return {item: change for item, change in found.items() if not change.empty}


def _numbers(raw: dict[str, dict[str, str]]) -> Counter[str]:
    return Counter({name: int(value["N"]) for name, value in raw.items() if "N" in value and name != "ttl"})


class DynamoMetrics:
    """Program figures for a period: one Query per shard over the days, one BatchGetItem for the totals.

    Day items hold a counter per figure, breakdown and duration bucket (program_metrics.day_figures),
    read raw so that a new breakdown needs no schema change here.
    """

    def __init__(self, table: Table) -> None:
        self._table = table

    def read(self, program: str, first_day: date, last_day: date) -> ProgramFigures:
        sums: Counter[str] = Counter()
        paginator = self._table.client.get_paginator("query")
        for key in _keys(program):
            pages = paginator.paginate(
                TableName=self._table.name,
                KeyConditionExpression="PK = :pk AND SK BETWEEN :first AND :last",
                ExpressionAttributeValues={
                    ":pk": {"S": key},
                    ":first": {"S": f"DAY#{first_day.isoformat()}"},
                    ":last": {"S": f"DAY#{last_day.isoformat()}"},
                },
            )
            for page in pages:
                for raw in page.get("Items", []):
                    sums.update(_numbers(raw))
        totals = self._table.batch_get([item_key(key, "TOTAL") for key in _keys(program)])
        subscribers = sum(int(raw.get("subscribers", {}).get("N", 0)) for raw in totals.values())
        return ProgramFigures(program, counts=dict(sums), subscribers=max(subscribers, 0))
