"""Fixed-window rate-limit counters on the single table (the RateLimiter port of `signup`).

One item per key and window: PK `RATE#<dimension>#<key>`, SK `W#<window seconds>#<window start>`,
holding `hits` and a `ttl` shortly after the window ends. A hit is a conditional ADD
(`hits < limit`), so concurrent requests can never pass the limit together. Several limits are
counted in one TransactWriteItems: either every counter takes the hit, or (one is full) none does.
Expired items are left to TTL; a late TTL deletion changes nothing, because the window is in the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sms_consent.clock import fixed_window
from sms_consent.ports import RateLimit, Refusal
from sms_consent.repository.table import Table, error_code, item_key

TTL_GRACE = timedelta(hours=1)


def _update(table: str, limit: RateLimit, now: datetime) -> dict[str, Any]:
    start, end = fixed_window(now, limit.window)
    seconds = end - start
    return {
        "TableName": table,
        "Key": item_key(f"RATE#{limit.dimension}#{limit.key}", f"W#{seconds}#{start}"),
        "UpdateExpression": "ADD #h :one SET #t = if_not_exists(#t, :ttl)",
        "ConditionExpression": "attribute_not_exists(#h) OR #h < :limit",
        "ExpressionAttributeNames": {"#h": "hits", "#t": "ttl"},
        "ExpressionAttributeValues": {
            ":one": {"N": "1"},
            ":limit": {"N": str(limit.limit)},
            ":ttl": {"N": str(end + int(TTL_GRACE.total_seconds()))},
        },
    }


def _refusal(limit: RateLimit, now: datetime) -> Refusal:
    return Refusal(limit, datetime.fromtimestamp(fixed_window(now, limit.window)[1], UTC))


class DynamoRateLimiter:
    """The RateLimiter port on the single table."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def consume(self, limits: Sequence[RateLimit], now: datetime) -> Refusal | None:
        """Count one hit against each limit: one UpdateItem for one limit, one transaction for several.

        Returns the first limit that was already reached (nothing is counted then), or None.
        """
        if not limits:
            return None
        client = self.table.client
        if len(limits) == 1:
            try:
                client.update_item(**_update(self.table.name, limits[0], now))
            except Exception as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return _refusal(limits[0], now)
                raise
            return None
        try:
            client.transact_write_items(
                TransactItems=[{"Update": _update(self.table.name, limit, now)} for limit in limits]
            )
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = getattr(error, "response", {}).get("CancellationReasons", [])
            for limit, reason in zip(limits, reasons, strict=False):
                if reason.get("Code") == "ConditionalCheckFailed":
                    return _refusal(limit, now)
            raise  # cancelled for another reason (a conflicting transaction): let the caller retry
        return None

    def hits(self, limit: RateLimit, now: datetime) -> int:
        """The hits counted in the window holding `now` (for tests and operators)."""
        request = _update(self.table.name, limit, now)
        item = self.table.client.get_item(TableName=request["TableName"], Key=request["Key"], ConsistentRead=True).get(
            "Item"
        )
        return int(item["hits"]["N"]) if item else 0
