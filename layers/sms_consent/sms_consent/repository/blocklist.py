"""Blocklist search on the sparse GSI1 of number-state items (GSI1PK `BLOCKLIST`, GSI1SK `<added_at>#<phone>`).

Entries are changed through repository.numbers (the block lives on the number's state item, which
is what the send gate reads); this module only lists them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

from sms_consent.blocklist import Entry, SearchFilter
from sms_consent.clock import iso
from sms_consent.ports import BadCursor
from sms_consent.repository.number_items import BLOCKLIST_INDEX_KEY, NumberStateItem, to_state
from sms_consent.repository.table import Table

PAGE_SIZE = 100


def _encode(key: dict[str, dict[str, Any]] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _decode(cursor: str | None) -> dict[str, dict[str, Any]] | None:
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError):
        raise BadCursor("the cursor is not one this API returned") from None
    if not isinstance(key, dict) or not all(isinstance(value, dict) for value in key.values()):
        raise BadCursor("the cursor is not one this API returned")
    return key


def _key_of(item: NumberStateItem) -> dict[str, dict[str, Any]]:
    """The index position just after `item`, so that the next page starts with the item after it."""
    return {
        "PK": {"S": item.pk},
        "SK": {"S": item.sk},
        "GSI1PK": {"S": item.gsi1pk},
        "GSI1SK": {"S": item.gsi1sk},
    }


class DynamoBlocklist:
    """Blocklist search and export on the single table."""

    def __init__(self, table: Table) -> None:
        self._states = table.model(NumberStateItem)

    def search(
        self, where: SearchFilter, *, limit: int = PAGE_SIZE, cursor: str | None = None
    ) -> tuple[list[Entry], str | None]:
        """Entries oldest first, at most `limit`, and a cursor for the next page (None at the end)."""
        low = iso(where.date_from) if where.date_from else "0"
        high = (iso(where.date_to) if where.date_to else "9") + "~"
        found: list[Entry] = []
        last_key = _decode(cursor)
        while True:
            page = self._states.gsi1.query(
                BLOCKLIST_INDEX_KEY,
                self._states.gsi1sk.between(low, high),
                limit=PAGE_SIZE,
                last_evaluated_key=last_key,
            )
            for item in page:
                state = to_state(item)
                if state.block is not None:
                    entry = Entry(state.phone, state.block)
                    if where.matches(entry):
                        found.append(entry)
                if len(found) >= limit:
                    return found, _encode(_key_of(item))
            last_key = page.last_evaluated_key
            if not last_key:
                return found, None

    def export(self, where: SearchFilter) -> Iterator[Entry]:
        cursor: str | None = None
        while True:
            entries, cursor = self.search(where, cursor=cursor)
            yield from entries
            if cursor is None:
                return
