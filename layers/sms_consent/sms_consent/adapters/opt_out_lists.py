"""The ProviderOptOutList port's adapters: End User Messaging SMS's opt-out list, SNS's opted-out
numbers, and a JSON-lines file for the local stack (what a test or `sms-consent` puts there stands
for a carrier-level STOP)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sms_consent.ports import ProviderOptOut, ProviderOptOutList


class EndUserMessagingOptOutList:
    """`pinpoint-sms-voice-v2`: DescribeOptedOutNumbers (paginated, or for one number), PutOptedOutNumber,
    DeleteOptedOutNumber."""

    name = "eum"

    def __init__(self, client: Any, list_name: str = "Default") -> None:
        self._client = client
        self._list = list_name

    def opted_out(self) -> Iterator[ProviderOptOut]:
        for page in self._client.get_paginator("describe_opted_out_numbers").paginate(OptOutListName=self._list):
            for entry in page.get("OptedOutNumbers", []):
                yield ProviderOptOut(entry["OptedOutNumber"], entry.get("OptedOutTimestamp"))

    def lookup(self, phone: str) -> ProviderOptOut | None:
        # A named number that is not on the list is left out of the answer (an invalid one is an error).
        answer = self._client.describe_opted_out_numbers(OptOutListName=self._list, OptedOutNumbers=[phone])
        found = answer.get("OptedOutNumbers", [])
        return ProviderOptOut(phone, found[0].get("OptedOutTimestamp")) if found else None

    def add(self, phone: str) -> bool:
        self._client.put_opted_out_number(OptOutListName=self._list, OptedOutNumber=phone)
        return True

    def remove(self, phone: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.delete_opted_out_number(OptOutListName=self._list, OptedOutNumber=phone)
        except ClientError as exc:
            # A number the consumer opted out at their carrier cannot be deleted; nor one not listed.
            if exc.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFoundException"):
                return False
            raise
        return True


class SnsOptOutList:
    """SNS: ListPhoneNumbersOptedOut (paginated), CheckIfPhoneNumberIsOptedOut and OptInPhoneNumber; SNS
    has no call to add a number."""

    name = "sns"

    def __init__(self, client: Any) -> None:
        self._client = client

    def opted_out(self) -> Iterator[ProviderOptOut]:
        for page in self._client.get_paginator("list_phone_numbers_opted_out").paginate():
            for phone in page.get("phoneNumbers", []):
                yield ProviderOptOut(phone, None)

    def lookup(self, phone: str) -> ProviderOptOut | None:
        answer = self._client.check_if_phone_number_is_opted_out(phoneNumber=phone)
        return ProviderOptOut(phone, None) if answer.get("isOptedOut") else None

    def add(self, phone: str) -> bool:
        return False

    def remove(self, phone: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.opt_in_phone_number(phoneNumber=phone)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidParameter":  # once per 30 days
                return False
            raise
        return True


def _entry(phone: str, opted_out_at: str | None) -> ProviderOptOut:
    return ProviderOptOut(phone, datetime.fromisoformat(opted_out_at) if opted_out_at else None)


class LocalOptOutList:
    """The local stack's provider list: one JSON object per line, {"phone", "opted_out_at"}."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def _entries(self) -> dict[str, str | None]:
        if not self.path.exists():
            return {}
        found: dict[str, str | None] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = json.loads(line)
                found[entry["phone"]] = entry.get("opted_out_at")
        return found

    def _write(self, entries: dict[str, str | None]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lines = [json.dumps({"phone": phone, "opted_out_at": at}) for phone, at in entries.items()]
        self.path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")

    def opted_out(self) -> Iterator[ProviderOptOut]:
        with self._lock:
            entries = self._entries()
        for phone, at in entries.items():
            yield _entry(phone, at)

    def lookup(self, phone: str) -> ProviderOptOut | None:
        with self._lock:
            entries = self._entries()
        return _entry(phone, entries[phone]) if phone in entries else None

    def add(self, phone: str) -> bool:
        with self._lock:
            entries = self._entries()
            entries.setdefault(phone, datetime.now(UTC).isoformat())
            self._write(entries)
        return True

    def remove(self, phone: str) -> bool:
        with self._lock:
            entries = self._entries()
            found = entries.pop(phone, "absent") != "absent"
            self._write(entries)
        return found


def build_opt_out_list(adapter: str, *, region: str, list_name: str, local_path: Path) -> ProviderOptOutList:
    """The list of the provider the send gate uses (SENDER_ADAPTER): eum, sns, or the local outbox's."""
    if adapter == "outbox":
        return LocalOptOutList(local_path)
    from sms_consent.adapters.aws import client

    if adapter == "sns":
        return SnsOptOutList(client("sns", region))
    return EndUserMessagingOptOutList(client("pinpoint-sms-voice-v2", region), list_name)
