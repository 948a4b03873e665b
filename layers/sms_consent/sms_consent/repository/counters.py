"""Traffic-pumping counters: 5-minute buckets per country, area code, 1k-number prefix and client IP.

A prompt requested (DoubleOptInRequested) counts for each of them, a held one as held too, and a
double opt-in confirmed for the country, area code and block, folded from the table's stream
(repository.feed_ledger); a held prompt sent later counts as released. The opt-in API writes a
prompt's prefix, area code and IP itself (COUNTED_LIVE) so that the next sign-up is scored on it; the
stream's consumer adds its country. A bucket's items are spread over `PARTITIONS` partitions by key, and
a country's and an area code's over shards (`SHARDS`), so that a sign-up storm from many IPs and
numbers does not make one hot partition. The detector reads a bucket with one Query per partition, and
each active key's baseline with BatchGetItem: its cost depends on the keys active in the last ten
minutes, never on how many numbers are subscribed.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sms_consent.clock import iso
from sms_consent.consent import AuditEvent, EventType, vouches_for_prompts
from sms_consent.phones import PhoneInfo, parse
from sms_consent.ports import Baseline, KeyCounts
from sms_consent.pumping import BUCKET, COUNTED_LIVE, WEEKS_OF_HISTORY, bucket_start, hold_scopes, slot_of_week
from sms_consent.repository.table import TTL_ATTRIBUTE, Increment, Table, item_key

PARTITIONS = 64
# The keys one sign-up storm writes for every prompt, spread over shards: a country's from the stream in
# batches, an area code's by every sign-up (the opt-in API's live count), hence more of them.
SHARDS = {"country": 16, "area": PARTITIONS}  # an area code: one shard in every partition
MAX_SHARDS = max(SHARDS.values())
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


def _bucket_item(
    start: datetime,
    dimension: str,
    key: str,
    shard: int,
    *,
    prompts: int = 0,
    confirmations: int = 0,
    members: dict[str, str] | None = None,
    held: int = 0,
    released: int = 0,
    waiting: int = 0,
) -> tuple[tuple[str, str], Increment]:
    key_shard = shard % SHARDS.get(dimension, 1)
    change = Increment(
        members={name: {member} for name, member in (members or {}).items()},
        sets={
            "dimension": {"S": dimension},
            "key": {"S": key},
            TTL_ATTRIBUTE: {"N": str(int((start + KEEP).timestamp()))},
        },
    )
    change.adds.update(prompts=prompts, confirmations=confirmations)
    counts = (("held", held), ("released", released), ("waiting", waiting))
    change.adds.update({name: value for name, value in counts if value})
    return _bucket_key(start, dimension, key, key_shard), change


def _bucket_key(start: datetime, dimension: str, key: str, shard: int) -> tuple[str, str]:
    # A key's shards sit in consecutive partitions: never two of them in one.
    partition = (_partition(dimension, key) + shard) % PARTITIONS
    return _bucket_pk(start, partition), f"{dimension}#{key}#{shard}"


def _fold(found: dict[tuple[str, str], KeyCounts], raw: dict[str, Any]) -> None:
    """Add one stored bucket item (a key's, or one shard of a country's) to what was read so far."""
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
        current.held + int(raw.get("held", {}).get("N", 0)),
        current.released + int(raw.get("released", {}).get("N", 0)),
        current.waiting + int(raw.get("waiting", {}).get("N", 0)),
    )


def prompt_increments(
    phone: PhoneInfo, client_ip: str | None, at: datetime, shard: int, *, held: bool = False,
    waits_in: str | None = None,
) -> dict[tuple[str, str], Increment]:  # fmt: skip
    """A prompt: counted for the country, the area code, the prefix (with its last digits) and the client
    IP; a held one (not sent) is counted as held too, and as waiting for the block or area code whose
    confirmations it waits for (`waits_in`: what `held_unconfirmed` judges; one waiting on its
    country's budget says nothing against its block or area code)."""
    start = bucket_start(at)
    kept = int(held)
    found = [
        _bucket_item(start, "country", phone.country, shard, prompts=1, held=kept),
        _bucket_item(start, "prefix", phone.prefix, shard, prompts=1, held=kept,
                     waiting=int(held and waits_in == "prefix"), members={"suffixes": phone.e164[-3:]}),
    ]  # fmt: skip
    if phone.area:
        waits = int(held and waits_in == "area")
        found.append(_bucket_item(start, "area", phone.area, shard, prompts=1, held=kept, waiting=waits))
    if client_ip:
        found.append(
            _bucket_item(
                start, "ip", client_ip, shard, prompts=1, held=kept,
                members={"numbers": phone.e164, "countries": phone.country},
            )
        )  # fmt: skip
    return dict(found)


def confirmation_increments(phone: PhoneInfo, at: datetime, shard: int) -> dict[tuple[str, str], Increment]:
    """A confirmation: for the country (its conversion), the area code and the block (what vouches for
    their held prompts)."""
    start = bucket_start(at)
    return dict(_bucket_item(start, d, k, shard, confirmations=1) for d, k in hold_scopes(phone))


def release_increments(phone: PhoneInfo, at: datetime, shard: int) -> dict[tuple[str, str], Increment]:
    """A held prompt sent after all: sent again for its block, area code and country."""
    start = bucket_start(at)
    return dict(_bucket_item(start, d, k, shard, released=1) for d, k in hold_scopes(phone))


def _live(item: tuple[str, str]) -> bool:
    """Whether the opt-in API counts this (PK, SK) itself (COUNTED_LIVE): every key but the country."""
    return not item[1].startswith("country#")


def increments(event: AuditEvent, shard: int) -> dict[tuple[str, str], Increment]:
    """What one committed audit event adds to the detector's counters."""
    if event.event_type is EventType.DOUBLE_OPT_IN_REQUESTED:
        client_ip = event.evidence.get("client_ip")
        found = prompt_increments(
            parse(event.phone),
            str(client_ip) if client_ip else None,
            event.at,
            shard,
            held=bool(event.evidence.get("prompt_held")),
        )
        if event.evidence.get(COUNTED_LIVE):  # its prefix, area code and IP were counted by the opt-in API
            return {item: change for item, change in found.items() if not _live(item)}
        return found
    if vouches_for_prompts(event):
        return confirmation_increments(parse(event.phone), event.at, shard)
    return {}


class DynamoCounters:
    """The detector's counters: CounterStore for the detector; `record_*` write signals directly
    (simulations and imports of another system's traffic), the stream's consumer folds them in batches."""

    def __init__(self, table: Table) -> None:
        self.table = table

    def _write(self, changes: dict[tuple[str, str], Increment]) -> None:
        for (pk, sk), change in changes.items():
            expression, names, values = change.update_expression()
            self.table.client.update_item(
                TableName=self.table.name,
                Key=item_key(pk, sk),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )

    def record_prompt(
        self, phone: PhoneInfo, client_ip: str | None, now: datetime, *, held: bool = False, waits_in: str | None = None
    ) -> None:
        self._write(
            prompt_increments(phone, client_ip, now, random.randrange(MAX_SHARDS), held=held, waits_in=waits_in)
        )

    def record_live_prompt(
        self, phone: PhoneInfo, client_ip: str | None, now: datetime, *, held: bool = False, waits_in: str | None = None
    ) -> None:
        """The opt-in API's own count of a prompt's prefix, area code (a random shard) and IP (see
        COUNTED_LIVE): three UpdateItems. The country, which every sign-up would write, comes from the stream
        in batches."""
        found = prompt_increments(phone, client_ip, now, random.randrange(MAX_SHARDS), held=held, waits_in=waits_in)
        self._write({item: change for item, change in found.items() if _live(item)})

    def record_confirmation(self, phone: PhoneInfo, now: datetime) -> None:
        self._write(confirmation_increments(phone, now, random.randrange(MAX_SHARDS)))

    def record_release(self, phone: PhoneInfo, now: datetime) -> None:
        self._write(release_increments(phone, now, random.randrange(MAX_SHARDS)))

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
                    _fold(found, raw)
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def read_live(self, keys: Sequence[tuple[str, str]], now: datetime) -> dict[tuple[str, str], KeyCounts]:
        """One BatchGetItem: each key's item (a country's shards) in the current and the previous bucket."""
        latest = bucket_start(now)
        wanted = [
            _bucket_key(start, dimension, key, shard)
            for start in (latest, latest - BUCKET)
            for dimension, key in keys
            for shard in range(SHARDS.get(dimension, 1))
        ]
        found: dict[tuple[str, str], KeyCounts] = {}
        for raw in self.table.batch_get([item_key(pk, sk) for pk, sk in wanted]).values():
            _fold(found, raw)
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
        # Countries always keep a baseline; a prefix or area code only once it is busy (3+ prompts in a
        # bucket), so that random numbers do not leave a trail of one-off items; IPs never (their rule
        # looks at one bucket).
        kept = [
            key
            for key, figures in counts.items()
            if key[0] == "country" or (key[0] in ("prefix", "area") and figures.prompts >= 3)
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
