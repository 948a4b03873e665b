"""The FeedLedger port: committed audit events from the table's stream, added to the program metrics
(repository.metrics), the traffic-pumping detector's counters (repository.counters), the consent
texts' showings (repository.consent_texts) and list hygiene's due buckets (repository.hygiene), exactly
once.

A run of the batch commits in one TransactWriteItems with a marker `FOLDED#<first sequence>` that
holds its last sequence number: a retried batch finds the marker and adds nothing, a retry that grew
adds only what came after the marker. A run holds as many events as fit 99 item updates beside the
marker; increments to one item within a run are merged first, so a batch costs one write per item it
touches, not one per event. The shard of every sharded counter is picked by the run's first sequence
number, so that consumers of several stream shards rarely meet on one item.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

from sms_consent.consent import AuditEvent
from sms_consent.ports import Committed, ConcurrentUpdate
from sms_consent.repository import consent_texts, counters, hygiene, metrics
from sms_consent.repository.table import THROTTLED, TTL_ATTRIBUTE, Increment, Key, Table, error_code, item_key

MARKER_SK = "FOLDED"
MARKER_LIFETIME = timedelta(days=2)  # stream records live 24 hours: no retry comes later than that
TRANSACTION_ITEMS = 100  # DynamoDB's limit per TransactWriteItems, the marker included
SHARDS = 64

IncrementsOf = Callable[[AuditEvent, int], dict[tuple[str, str], Increment]]
FOLDS: tuple[IncrementsOf, ...] = (
    metrics.increments,
    counters.increments,
    consent_texts.increments,
    hygiene.increments,  # list hygiene's due buckets: a subscription is filed under its day
)


def _increments(event: AuditEvent, shard: int) -> dict[tuple[str, str], Increment]:
    found: dict[tuple[str, str], Increment] = {}
    for increments_of in FOLDS:
        for key, change in increments_of(event, shard).items():
            found.setdefault(key, Increment()).merge(change)
    return found


def _runs(committed: Sequence[Committed]) -> Iterator[tuple[list[Committed], dict[tuple[str, str], Increment]]]:
    """Runs of the batch (in order) whose merged increments fit one transaction beside the marker."""
    run: list[Committed] = []
    merged: dict[tuple[str, str], Increment] = {}
    shard = 0
    for item in committed:
        if not run:
            shard = item.sequence % SHARDS
        found = _increments(item.event, shard)
        if run and len(merged.keys() | found.keys()) > TRANSACTION_ITEMS - 1:
            yield run, merged
            run, merged, shard = [], {}, item.sequence % SHARDS
            found = _increments(item.event, shard)
        run.append(item)
        for key, change in found.items():
            merged.setdefault(key, Increment()).merge(change)
    if run:
        yield run, merged


class DynamoFeedLedger:
    def __init__(self, table: Table) -> None:
        self.table = table

    def fold(self, committed: Sequence[Committed]) -> int:
        ordered = sorted(committed, key=lambda item: item.sequence)
        return sum(self._fold(run, merged) for run, merged in _runs(ordered))

    def _fold(self, run: list[Committed], merged: dict[tuple[str, str], Increment]) -> int:
        first, last = run[0].sequence, run[-1].sequence
        marker_key = item_key(f"FOLDED#{first}", MARKER_SK)
        expires = int((run[-1].event.at + MARKER_LIFETIME).timestamp())
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self.table.name,
                    "Item": {**marker_key, "last": {"S": str(last)}, TTL_ATTRIBUTE: {"N": str(expires)}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        ]
        for (pk, sk), change in merged.items():
            if change.empty:
                continue
            expression, names, values = change.update_expression()
            actions.append(
                {
                    "Update": {
                        "TableName": self.table.name,
                        "Key": item_key(pk, sk),
                        "UpdateExpression": expression,
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        try:
            self.table.client.transact_write_items(TransactItems=actions)
        except Exception as exc:
            code = error_code(exc)
            if code == "TransactionCanceledException" and _marker_exists(exc):
                return self._fold_rest(run, marker_key)
            if code in THROTTLED or code == "TransactionCanceledException":  # a conflict: Lambda retries
                raise ConcurrentUpdate(f"feed fold not committed ({code})") from exc
            raise
        return len(run)

    def _fold_rest(self, run: list[Committed], marker_key: Key) -> int:
        """The run starting here was counted before, up to the marker's last sequence; a retry that
        grew counts the rest only."""
        raw = self.table.client.get_item(TableName=self.table.name, Key=marker_key, ConsistentRead=True)
        counted_through = int(raw.get("Item", {}).get("last", {}).get("S", "0"))
        rest = [item for item in run if item.sequence > counted_through]
        return self.fold(rest) if rest else 0


def _marker_exists(error: Exception) -> bool:
    """The transaction was cancelled by the marker's condition (the first action), nothing else."""
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
