"""EventSink port on EventBridge: PutEvents in batches of 10, failed entries retried once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sms_consent.messages import BusEvent

SOURCE = "sms-consent"
BATCH = 10


class EventPublishError(RuntimeError):
    pass


class EventBridgeSink:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, events: Sequence[BusEvent]) -> None:
        entries = [
            {
                "Source": SOURCE,
                "DetailType": event.detail_type,
                "Detail": json.dumps(event.detail, default=str),
                "EventBusName": self._bus_name,
            }
            for event in events
        ]
        for start in range(0, len(entries), BATCH):
            self._put(entries[start : start + BATCH])

    def _put(self, entries: list[dict[str, Any]], attempt: int = 0) -> None:
        response = self._client.put_events(Entries=entries)
        if not response.get("FailedEntryCount"):
            return
        failed = [entry for entry, result in zip(entries, response["Entries"], strict=True) if result.get("ErrorCode")]
        if attempt >= 1:
            raise EventPublishError(f"{len(failed)} event(s) could not be published to {self._bus_name}")
        self._put(failed, attempt + 1)
