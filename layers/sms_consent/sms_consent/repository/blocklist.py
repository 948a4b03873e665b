"""Blocklist search on the sparse GSI1 of number-state items (GSI1PK `BLOCKLIST#<shard>`, GSI1SK
`<added_at>#<phone>`).

Entries are changed through repository.numbers (the block lives on the number's state item, which
is what the send gate reads); this module only lists them. The index partition is sharded by number
so that a large import does not write one hot key; a search reads every shard (and the unsharded
partition of entries indexed before the sharding) and merges them in date order. The cursor is the
sort key of the last entry returned: the next page starts just after it in every shard.
"""

from __future__ import annotations

import base64
import heapq
import json
from collections.abc import Iterator

from sms_consent.blocklist import Entry, SearchFilter
from sms_consent.clock import iso
from sms_consent.ports import BadCursor
from sms_consent.repository.number_items import BLOCKLIST_INDEX_KEY, BLOCKLIST_SHARDS, NumberStateItem, to_state
from sms_consent.repository.table import Table

PAGE_SIZE = 100
EXPORT_PAGE_SIZE = 1000  # an export reads each index partition once, in large pages
PARTITIONS = [BLOCKLIST_INDEX_KEY, *(f"{BLOCKLIST_INDEX_KEY}#{shard:02d}" for shard in range(BLOCKLIST_SHARDS))]


def _encode(after: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _decode(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise BadCursor("the cursor is not one this API returned") from None
    if not isinstance(position, dict) or not isinstance(position.get("after"), str):
        raise BadCursor("the cursor is not one this API returned")
    return str(position["after"])


class DynamoBlocklist:
    """Blocklist search and export on the single table."""

    def __init__(self, table: Table) -> None:
        self._states = table.model(NumberStateItem)

    def _partition(
        self, partition: str, low: str, high: str, page_size: int = PAGE_SIZE
    ) -> Iterator[tuple[str, Entry]]:
        """(sort key, entry) of one index partition between `low` and `high`, oldest first."""
        last_key = None
        while True:
            page = self._states.gsi1.query(
                partition, self._states.gsi1sk.between(low, high), limit=page_size, last_evaluated_key=last_key
            )
            for item in page:
                state = to_state(item)
                if state.block is not None:
                    yield str(item.gsi1sk), Entry(state.phone, state.block)
            last_key = page.last_evaluated_key
            if not last_key:
                return

    def search(
        self, where: SearchFilter, *, limit: int = PAGE_SIZE, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Entries oldest first, at most `limit`, and a cursor for the next page (None at the end)."""
        after = _decode(cursor)
        low = iso(where.date_from) if where.date_from else "0"
        if after is not None:
            low = max(low, after + " ")  # just after the last entry returned (sort keys end with a number)
        high = (iso(where.date_to) if where.date_to else "9") + "~"
        merged = heapq.merge(*(self._partition(partition, low, high) for partition in PARTITIONS))
        found: list[Entry] = []
        for sort_key, entry in merged:
            if where.matches(entry):
                found.append(entry)
                if len(found) >= limit:
                    return found, _encode(sort_key)
        return found, None

    def export(self, where: SearchFilter) -> Iterator[Entry]:
        """Every matching entry, oldest first: one pass over each partition (paging the search route's way,
        100 at a time from a cursor, read every partition again for each 100 rows)."""
        low = iso(where.date_from) if where.date_from else "0"
        high = (iso(where.date_to) if where.date_to else "9") + "~"
        streams = (self._partition(partition, low, high, EXPORT_PAGE_SIZE) for partition in PARTITIONS)
        for _, entry in heapq.merge(*streams):
            if where.matches(entry):
                yield entry
