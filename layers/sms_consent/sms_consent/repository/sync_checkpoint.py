"""The SyncCheckpoint port: how far a scheduled sync got (`SYNC#<name>`), so the next run skips it."""

from __future__ import annotations

from datetime import datetime

from sms_consent.clock import iso, parse_iso
from sms_consent.repository.table import Table, item_key


class DynamoSyncCheckpoint:
    def __init__(self, table: Table, name: str) -> None:
        self._table = table
        self._key = item_key(f"SYNC#{name}", "STATE")

    def watermark(self) -> datetime | None:
        raw = self._table.client.get_item(TableName=self._table.name, Key=self._key, ConsistentRead=True)
        value = raw.get("Item", {}).get("watermark", {}).get("S")
        return parse_iso(value) if value else None

    def save(self, watermark: datetime) -> None:
        self._table.client.put_item(TableName=self._table.name, Item={**self._key, "watermark": {"S": iso(watermark)}})
