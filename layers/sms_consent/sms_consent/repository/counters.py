"""Traffic-pumping counters: 5-minute buckets per country, 1k-number prefix and client IP.

Writes are atomic ADDs. A bucket's items are spread over a few partitions by key, and a country's
item over a few shards, so that one busy country does not make one hot item. The detector reads a
bucket with one Query per partition, and each active key's baseline with BatchGetItem: its cost
depends on the keys active in the last ten minutes, never on how many numbers are subscribed.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sms_consent.clock import iso
from sms_consent.phones import PhoneInfo
from sms_consent.ports import Baseline, KeyCounts
from sms_consent.pumping import WEEKS_OF_HISTORY, bucket_start, slot_of_week
from sms_consent.repository.table import Table

PARTITIONS = 4
COUNTRY_SHARDS = 4
KEEP = timedelta(days=2)  # raw buckets: the detector only reads the last two; baselines keep the rest


def _partition(dimension: str, key: str) -> int:
    return zlib.crc32(f"{dimension}#{key}".encode()) % PARTITIONS


def _bucket_pk(start: datetime, partition: int) -> str:
    return f"CTR#{iso(start)}#{partition}"


def _strings(raw: dict[str, Any], name: str) -> frozenset[str]:
    return frozenset(raw.get(name, {}).get("SS", []))


def _baseline_pk(dimension: str, key: str) -> str:
    return f"BASE#{dimension}#{key}"


SLOTS_PER_ITEM = 12  # one item per hour of the week holds its twelve 5-minute slots


def _slot_sk(slot: int) -> str:
    return f"HOW#{slot // SLOTS_PER_ITEM}"


def _slots_item(pk: str, hour: int, slots: Mapping[int, Sequence[int]]) -> dict[str, Any]:
    return {
        "PK": {"S": pk},
        "SK": {"S": f"HOW#{hour}"},
        "slots": {"M": {str(m): {"L": [{"N": str(v)} for v in weeks]} for m, weeks in slots.items()}},
    }


class DynamoCounters:
    """The detector's counters (PumpingSignals on the request path, CounterStore for the detector)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def _add(
        self, start: datetime, dimension: str, key: str, *, prompts: int, confirmations: int, sets: dict[str, str]
    ) -> None:
        shard = random.randrange(COUNTRY_SHARDS) if dimension == "country" else 0
        names = {"#p": "prompts", "#c": "confirmations", "#d": "dimension", "#k": "key", "#t": "ttl"}
        values: dict[str, Any] = {
            ":p": {"N": str(prompts)},
            ":c": {"N": str(confirmations)},
            ":d": {"S": dimension},
            ":k": {"S": key},
            ":t": {"N": str(int((start + KEEP).timestamp()))},
        }
        adds = ["#p :p", "#c :c"]
        for index, (attribute, member) in enumerate(sets.items()):
            names[f"#s{index}"] = attribute
            values[f":s{index}"] = {"SS": [member]}
            adds.append(f"#s{index} :s{index}")
        self.table.client.update_item(
            TableName=self.table.name,
            Key={"PK": {"S": _bucket_pk(start, _partition(dimension, key))}, "SK": {"S": f"{dimension}#{key}#{shard}"}},
            UpdateExpression="ADD " + ", ".join(adds) + " SET #d = :d, #k = :k, #t = :t",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def record_prompt(self, phone: PhoneInfo, client_ip: str | None, now: datetime) -> None:
        """A prompt went out: count it for the country, the prefix (with its last digits) and the IP."""
        start = bucket_start(now)
        self._add(start, "country", phone.country, prompts=1, confirmations=0, sets={})
        self._add(start, "prefix", phone.prefix, prompts=1, confirmations=0, sets={"suffixes": phone.e164[-3:]})
        if client_ip:
            self._add(
                start,
                "ip",
                client_ip,
                prompts=1,
                confirmations=0,
                sets={"numbers": phone.e164, "countries": phone.country},
            )

    def record_confirmation(self, phone: PhoneInfo, now: datetime) -> None:
        """A prompt was confirmed. Only the country's conversion is judged, so only the country counts it."""
        self._add(bucket_start(now), "country", phone.country, prompts=0, confirmations=1, sets={})

    def read_bucket(self, start: datetime) -> dict[tuple[str, str], KeyCounts]:
        found: dict[tuple[str, str], KeyCounts] = {}
        client = self.table.client
        for partition in range(PARTITIONS):
            kwargs: dict[str, Any] = {
                "TableName": self.table.name,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": {"S": _bucket_pk(start, partition)}},
                "ConsistentRead": True,
            }
            while True:
                page = client.query(**kwargs)
                for raw in page.get("Items", []):
                    key = (raw["dimension"]["S"], raw["key"]["S"])
                    current = found.get(key, KeyCounts(*key))
                    found[key] = KeyCounts(
                        key[0],
                        key[1],
                        current.prompts + int(raw.get("prompts", {}).get("N", 0)),
                        current.confirmations + int(raw.get("confirmations", {}).get("N", 0)),
                        current.suffixes | _strings(raw, "suffixes"),
                        current.numbers | _strings(raw, "numbers"),
                        current.countries | _strings(raw, "countries"),
                    )
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def baselines(self, keys: Sequence[tuple[str, str]], slot: int) -> dict[tuple[str, str], Baseline]:
        """Each key's weekly values for this slot and its all-time totals: BatchGetItem, 2 items per key."""
        unique = list(dict.fromkeys(keys))
        raw_items = self.table.batch_get(
            [
                {"PK": {"S": _baseline_pk(d, k)}, "SK": {"S": sk}}
                for d, k in unique
                for sk in (_slot_sk(slot), "SUMMARY")
            ]
        )
        result = {}
        for dimension, key in unique:
            pk = _baseline_pk(dimension, key)
            slots = raw_items.get((pk, _slot_sk(slot)), {}).get("slots", {}).get("M", {})
            weeks = slots.get(str(slot % SLOTS_PER_ITEM), {}).get("L", [])
            summary = raw_items.get((pk, "SUMMARY"), {})
            result[(dimension, key)] = Baseline(
                same_slot_prompts=tuple(int(v["N"]) for v in weeks),
                total_prompts=int(summary.get("prompts", {}).get("N", 0)),
                total_confirmations=int(summary.get("confirmations", {}).get("N", 0)),
            )
        return result

    def seed_baseline(
        self,
        dimension: str,
        key: str,
        weeks_by_slot: Mapping[int, Sequence[int]],
        *,
        prompts: int,
        confirmations: int,
    ) -> None:
        """Write history directly (a simulator's, or an import of another system's weeks of traffic)."""
        client = self.table.client
        pk = _baseline_pk(dimension, key)
        hours: dict[int, dict[int, Sequence[int]]] = {}
        for slot, weeks in weeks_by_slot.items():
            hours.setdefault(slot // SLOTS_PER_ITEM, {})[slot % SLOTS_PER_ITEM] = weeks
        for hour, slots in hours.items():
            client.put_item(TableName=self.table.name, Item=_slots_item(pk, hour, slots))
        client.put_item(
            TableName=self.table.name,
            Item={"PK": {"S": pk}, "SK": {"S": "SUMMARY"}, "prompts": {"N": str(prompts)},
                  "confirmations": {"N": str(confirmations)}},
        )  # fmt: skip

    def roll_up(self, start: datetime, counts: Mapping[tuple[str, str], KeyCounts]) -> None:
        """Fold a closed bucket into its keys' baselines (this slot's weekly values, the totals), then drop
        the bucket's raw items: the detector never reads them again."""
        client = self.table.client
        slot = slot_of_week(start)
        # Countries always keep a baseline; a prefix only once it is busy (3+ prompts in a bucket), so that
        # random numbers do not leave a trail of one-off items; IPs never (their rule looks at one bucket).
        kept = [
            key
            for key, figures in counts.items()
            if key[0] == "country" or (key[0] == "prefix" and figures.prompts >= 3)
        ]
        hours = self.table.batch_get([{"PK": {"S": _baseline_pk(d, k)}, "SK": {"S": _slot_sk(slot)}} for d, k in kept])
        for dimension, key in kept:
            figures = counts[(dimension, key)]
            pk = _baseline_pk(dimension, key)
            stored = hours.get((pk, _slot_sk(slot)), {}).get("slots", {}).get("M", {})
            slots = {int(m): [int(v["N"]) for v in weeks.get("L", [])] for m, weeks in stored.items()}
            slots[slot % SLOTS_PER_ITEM] = [figures.prompts, *slots.get(slot % SLOTS_PER_ITEM, [])][:WEEKS_OF_HISTORY]
            client.put_item(TableName=self.table.name, Item=_slots_item(pk, slot // SLOTS_PER_ITEM, slots))
            client.update_item(
                TableName=self.table.name,
                Key={"PK": {"S": pk}, "SK": {"S": "SUMMARY"}},
                UpdateExpression="ADD prompts :p, confirmations :c",
                ExpressionAttributeValues={":p": {"N": str(figures.prompts)}, ":c": {"N": str(figures.confirmations)}},
            )
        raw_keys: list[dict[str, Any]] = []
        for partition in range(PARTITIONS):
            page = client.query(
                TableName=self.table.name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": _bucket_pk(start, partition)}},
                ProjectionExpression="PK, SK",
            )
            raw_keys.extend({"PK": item["PK"], "SK": item["SK"]} for item in page.get("Items", []))
        for offset in range(0, len(raw_keys), 25):
            client.batch_write_item(
                RequestItems={self.table.name: [{"DeleteRequest": {"Key": k}} for k in raw_keys[offset : offset + 25]]}
            )
