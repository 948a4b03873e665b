"""List hygiene on the single table: the due index, reminder times, engagement and the run's figures.

- Due buckets: `HYGIENE#<program>#<day>` / `SHARD#<NN>`, a string set `due` of E.164 numbers. A
  subscription is filed under its day by the consent feed (`increments`, folded from the stream with
  the program metrics: the request path writes nothing shared); the scheduled run files numbers again
  under the day their clock restarts and takes handled ones out (UpdateItem ADD / DELETE). A run reads
  a day with one Query (every shard of the day is one partition). A bucket item holds about 15,000
  numbers (400 KB); 64 shards a day: about a million subscriptions started on one day per program.
  Buckets expire `BUCKET_LIFETIME` after their day (longer than any `reminder_every_days`).
- On the number's state item, beside the gate's fields and never written by a consent save:
  `engaged_at` (the inbound path, one conditional UpdateItem at most a day) and `remind_<program>`.
- The run's figures: ADD on the program's unsharded metrics day item (`METRICS#<program>`), which
  `repository.metrics` already sums with the shards: `hygiene_reminders`, `hygiene_removals`,
  `hygiene_audited`, `hygiene_engaged`.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from sms_consent.clock import iso
from sms_consent.consent import AuditEvent, EventType, Status
from sms_consent.ports import DueEntry
from sms_consent.repository.number_items import ENGAGED, REMIND, STATE_SK, phone_key
from sms_consent.repository.table import TTL_ATTRIBUTE, Increment, Table, error_code, item_key

SHARDS = 64
BUCKET_LIFETIME = timedelta(days=400)
DUE = "due"
UPDATE_MEMBERS = 500  # members per UpdateItem (a few KB each way, far below the 400 KB item limit)


def bucket_key(program: str, day: date) -> str:
    return f"HYGIENE#{program}#{day.isoformat()}"


def shard_key(shard: int) -> str:
    return f"SHARD#{shard:02d}"


def _expires(day: date) -> dict[str, str]:
    return {"N": str(int((datetime(day.year, day.month, day.day) + BUCKET_LIFETIME).timestamp()))}


def increments(event: AuditEvent, shard: int) -> dict[tuple[str, str], Increment]:
    """A subscription starts its list-hygiene clock: the number is filed under the day it began."""
    if event.program is None or event.event_type is not EventType.GRANTED or event.new_status != Status.SUBSCRIBED:
        return {}
    day = event.at.date()
    change = Increment(members={DUE: {event.phone}}, initial={TTL_ATTRIBUTE: _expires(day)})
    return {(bucket_key(event.program, day), shard_key(shard)): change}


class DynamoHygieneIndex:
    def __init__(self, table: Table) -> None:
        self.table = table

    def due(self, program: str, day: date) -> list[DueEntry]:
        found: list[DueEntry] = []
        paginator = self.table.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": bucket_key(program, day)}},
            ConsistentRead=True,
        )
        for page in pages:
            for raw in page.get("Items", []):
                found.extend(DueEntry(raw["SK"]["S"], phone) for phone in sorted(raw.get(DUE, {}).get("SS", [])))
        return found

    def schedule(self, program: str, day: date, phones: Sequence[str]) -> None:
        by_shard: dict[str, list[str]] = defaultdict(list)
        for phone in dict.fromkeys(phones):
            by_shard[shard_key(zlib.crc32(phone.encode()) % SHARDS)].append(phone)
        for shard, members in by_shard.items():
            for start in range(0, len(members), UPDATE_MEMBERS):
                self.table.client.update_item(
                    TableName=self.table.name,
                    Key=item_key(bucket_key(program, day), shard),
                    UpdateExpression="ADD #due :due SET #ttl = if_not_exists(#ttl, :ttl)",
                    ExpressionAttributeNames={"#due": DUE, "#ttl": TTL_ATTRIBUTE},
                    ExpressionAttributeValues={
                        ":due": {"SS": members[start : start + UPDATE_MEMBERS]},
                        ":ttl": _expires(day),
                    },
                )

    def done(self, program: str, day: date, entries: Sequence[DueEntry]) -> None:
        by_bucket: dict[str, list[str]] = defaultdict(list)
        for entry in entries:
            by_bucket[entry.bucket].append(entry.phone)
        for bucket, phones in by_bucket.items():
            members = sorted(set(phones))
            for start in range(0, len(members), UPDATE_MEMBERS):
                self.table.client.update_item(
                    TableName=self.table.name,
                    Key=item_key(bucket_key(program, day), bucket),
                    UpdateExpression="DELETE #due :due",
                    ExpressionAttributeNames={"#due": DUE},
                    ExpressionAttributeValues={":due": {"SS": members[start : start + UPDATE_MEMBERS]}},
                )


class DynamoHygieneLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record_reminder(self, phone: str, program: str, times: tuple[int, ...]) -> None:
        self.table.client.update_item(
            TableName=self.table.name,
            Key=item_key(phone_key(phone), STATE_SK),
            UpdateExpression="SET #remind = :times",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={"#remind": REMIND + program},
            ExpressionAttributeValues={":times": {"L": [{"N": str(sent)} for sent in times]}},
        )

    def record_figures(self, program: str, day: date, figures: Mapping[str, int]) -> None:
        adds = {f"hygiene_{name}": count for name, count in figures.items() if count}
        if not adds:
            return
        names = {f"#a{index}": name for index, name in enumerate(adds)}
        values = {f":a{index}": {"N": str(count)} for index, count in enumerate(adds.values())}
        self.table.client.update_item(
            TableName=self.table.name,
            Key=item_key(f"METRICS#{program}", f"DAY#{day.isoformat()}"),
            UpdateExpression="ADD " + ", ".join(f"#a{index} :a{index}" for index in range(len(adds))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )


class DynamoEngagementLog:
    def __init__(self, table: Table) -> None:
        self.table = table

    def record_engagement(self, phone: str, at: datetime) -> None:
        try:
            self.table.client.update_item(
                TableName=self.table.name,
                Key=item_key(phone_key(phone), STATE_SK),
                UpdateExpression="SET #engaged = :at",
                ConditionExpression="attribute_exists(PK) AND (attribute_not_exists(#engaged) OR #engaged < :at)",
                ExpressionAttributeNames={"#engaged": ENGAGED},
                ExpressionAttributeValues={":at": {"S": iso(at)}},
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # a newer one is stored: keep it
                raise
