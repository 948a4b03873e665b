"""Traffic-pumping breakers: one item per open (or recently open) country or number prefix.

All breakers share one partition, so the gate and the opt-in API read every open one with a single
Query; there are only ever a handful.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, MapAttribute, UnicodeAttribute

from sms_consent.breakers import Breaker, Trip, escalated_duration
from sms_consent.clock import iso, parse_iso
from sms_consent.repository.table import Table, TableItem

PARTITION = "BREAKER"
HISTORY = timedelta(days=7)


class BreakerItem(TableItem):
    dimension = UnicodeAttribute()
    key = UnicodeAttribute()
    rule = UnicodeAttribute()
    opened_at = UnicodeAttribute()
    expires_at = UnicodeAttribute()
    trips = ListAttribute[str](default=list)
    figures = MapAttribute[str, Any](default=dict)
    protect = UnicodeAttribute(null=True)
    watch = BooleanAttribute(default=False)


def _breaker(item: BreakerItem) -> Breaker:
    return Breaker(
        dimension=item.dimension,
        key=item.key,
        rule=item.rule,
        opened_at=parse_iso(item.opened_at),
        expires_at=parse_iso(item.expires_at),
        trips=tuple(parse_iso(at) for at in item.trips or []),
        protect=item.protect,
        watch=bool(item.watch),
    )


class DynamoBreakers:
    """The BreakerStore port (and the gate's breaker source) on the single table."""

    def __init__(self, table: Table) -> None:
        self._items = table.model(BreakerItem)

    def all_breakers(self) -> dict[tuple[str, str], Breaker]:
        """Every breaker item (open or expired but within its 7-day escalation history): one Query."""
        return {(item.dimension, item.key): _breaker(item) for item in self._items.query(PARTITION)}

    def open_breakers(self, now: datetime) -> dict[tuple[str, str], Breaker]:
        return {key: breaker for key, breaker in self.all_breakers().items() if breaker.is_open(now)}

    def open_breaker(self, trip: Trip, *, now: datetime, previous: Breaker | None, watch: bool = False) -> Breaker:
        """Open (or re-open) a breaker, or a watch; each trip within 7 days lengthens it: 30 min, 2 h,
        then 12 h."""
        trips = (*tuple(at for at in (previous.trips if previous else ()) if at > now - HISTORY), now)
        expires_at = now + escalated_duration(len(trips))
        if previous is not None and previous.is_open(now):
            expires_at = max(expires_at, previous.expires_at)
        item = self._items(
            pk=PARTITION,
            sk=f"{trip.dimension}#{trip.key}",
            dimension=trip.dimension,
            key=trip.key,
            rule=trip.rule,
            opened_at=iso(now),
            expires_at=iso(expires_at),
            trips=[iso(at) for at in trips],
            figures={name: value for name, value in trip.figures.items() if isinstance(value, str | int | float)},
            ttl=int((expires_at + HISTORY).timestamp()),
            watch=watch,
        )
        item.save()
        return _breaker(item)

    def mark_protect(self, dimension: str, key: str, state: str) -> None:
        """Remember what the provider's protect configuration was told about this breaker."""
        item = self._items(pk=PARTITION, sk=f"{dimension}#{key}")
        item.update(actions=[self._items.protect.set(state)], condition=self._items.pk.exists())
