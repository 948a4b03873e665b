"""DynamoDB stream -> Lambda, as the event source mapping does it (moto keeps the stream, not the
mapping): records in order, `BatchSize` at a time, the mapping's `FilterCriteria` applied, and a
failing batch retried from the same position, so nothing after it is delivered first.

`StreamDelivery.deliver()` is synchronous (the in-process tests call it where Lambda would have
run); the local stack calls it from a polling thread and, when a batch fails past the mapping's
`MaximumRetryAttempts` or `MaximumRecordAgeInSeconds`, sends Lambda's on-failure record to the
`DestinationConfig.OnFailure` queue and moves past the batch, as Lambda does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sms_consent_local.template import Template

Invoke = Callable[[str, dict[str, Any]], Any]


def matches(pattern: Any, value: Any) -> bool:
    """EventBridge-style filter pattern matching, the subset Lambda's filters use here: nested
    objects, lists of allowed values, {"prefix": ...} and {"exists": bool}."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        for key, sub in pattern.items():
            if isinstance(sub, list) and any(isinstance(option, dict) and "exists" in option for option in sub):
                wanted = next(option["exists"] for option in sub if isinstance(option, dict) and "exists" in option)
                if (key in value) != bool(wanted):
                    return False
                continue
            if key not in value or not matches(sub, value[key]):
                return False
        return True
    if isinstance(pattern, list):
        return any(_matches_one(option, value) for option in pattern)
    return bool(pattern == value)


def _matches_one(option: Any, value: Any) -> bool:
    if isinstance(option, dict) and "prefix" in option:
        return isinstance(value, str) and value.startswith(option["prefix"])
    return bool(option == value)


@dataclass
class StreamMapping:
    """One function's DynamoDB event, resolved."""

    function_id: str
    event_name: str
    stream_arn: str
    batch_size: int
    filters: list[Any]
    maximum_retry_attempts: int  # -1: until the record is too old
    maximum_record_age: int  # seconds; -1: until the record expires from the stream (24 hours)
    on_failure_arn: str | None
    position: dict[str, str] = field(default_factory=dict)  # shard id -> last sequence number handled
    failures: int = 0

    def accepts(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(matches(pattern, record) for pattern in self.filters)


def mappings(template: Template, physical: Mapping[str, str]) -> list[StreamMapping]:
    found = []
    for spec in template.functions():
        for source in spec.events_of("DynamoDB"):
            properties = template.resolve(source.properties, physical)
            criteria = properties.get("FilterCriteria", {}).get("Filters", [])
            on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {})
            found.append(
                StreamMapping(
                    function_id=spec.logical_id,
                    event_name=source.name,
                    stream_arn=properties["Stream"],
                    batch_size=int(properties.get("BatchSize", 100)),
                    filters=[json.loads(item["Pattern"]) for item in criteria],
                    maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
                    maximum_record_age=int(properties.get("MaximumRecordAgeInSeconds", -1)),
                    on_failure_arn=on_failure.get("Destination"),
                )
            )
    return found


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it over: eventSourceARN added, times in epoch seconds."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamDelivery:
    def __init__(self, mappings: list[StreamMapping], streams_client: Any, invoke: Invoke) -> None:
        self.mappings = mappings
        self._streams = streams_client
        self._invoke = invoke

    def deliver(self) -> int:
        """Hand every new record to its functions, batch by batch; returns the records delivered.
        A failing invocation raises, and the position stays before its batch."""
        return sum(self.deliver_to(mapping) for mapping in self.mappings)

    def deliver_to(self, mapping: StreamMapping) -> int:
        delivered = 0
        for shard in self._streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            while records := self._read(mapping, shard_id):
                batch = [lambda_record(r, mapping.stream_arn) for r in records if mapping.accepts(r)]
                if batch:
                    self._invoke(mapping.function_id, {"Records": batch})
                    delivered += len(batch)
                mapping.position[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                mapping.failures = 0
        return delivered

    def _read(self, mapping: StreamMapping, shard_id: str) -> list[dict[str, Any]]:
        after = mapping.position.get(shard_id)
        request: dict[str, Any] = {"StreamArn": mapping.stream_arn, "ShardId": shard_id}
        if after is None:
            request["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)
        iterator = self._streams.get_shard_iterator(**request)["ShardIterator"]
        records: list[dict[str, Any]] = self._streams.get_records(ShardIterator=iterator, Limit=mapping.batch_size)[
            "Records"
        ]
        return records

    def give_up_if_due(self, mapping: StreamMapping, sqs_client: Any, queue_url_of: Callable[[str], str]) -> bool:
        """After a failure: past the retry limit or the record age, record the batch on the
        on-failure queue and skip it, as Lambda does. True when the batch was skipped."""
        mapping.failures += 1
        for shard in self._streams.describe_stream(StreamArn=mapping.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            records = self._read(mapping, shard_id)
            if not records:
                continue
            first = lambda_record(records[0], mapping.stream_arn)["dynamodb"]
            age = time.time() - float(first.get("ApproximateCreationDateTime") or time.time())
            too_many = 0 <= mapping.maximum_retry_attempts < mapping.failures
            too_old = 0 <= mapping.maximum_record_age < age
            if not (too_many or too_old):
                return False
            if mapping.on_failure_arn:
                sqs_client.send_message(
                    QueueUrl=queue_url_of(mapping.on_failure_arn),
                    MessageBody=json.dumps(failure_record(mapping, shard_id, records, too_old)),
                )
            mapping.position[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
            mapping.failures = 0
            return True
        return False


def failure_record(
    mapping: StreamMapping, shard_id: str, records: list[dict[str, Any]], too_old: bool
) -> dict[str, Any]:
    """Lambda's on-failure record for a stream batch: where the batch was, not its contents."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "requestContext": {
            "requestId": f"local-{int(time.time() * 1000)}",
            "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{mapping.function_id}",
            "condition": "RecordAgeExceeded" if too_old else "RetryAttemptsExhausted",
            "approximateInvokeCount": mapping.failures,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": now,
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
            "batchSize": len(records),
            "streamArn": mapping.stream_arn,
        },
    }


POLL_SECONDS = 0.5  # Lambda polls a stream shard about four times a second
RETRY_PAUSE_SECONDS = 0.5


def poll(
    delivery: StreamDelivery,
    stopping: Any,
    sqs_client: Any,
    queue_url_of: Callable[[str], str],
    log: Callable[[str], None],
) -> None:
    """The local stack's poller thread: deliver until `stopping` (a threading.Event) is set; a failing
    batch is retried from its position until its mapping gives up on it."""
    while not stopping.is_set():
        failed = False
        for mapping in delivery.mappings:
            try:
                delivery.deliver_to(mapping)
            except Exception as exc:
                if stopping.is_set():
                    return
                failed = True
                log(f"{mapping.function_id}: stream batch failed (attempt {mapping.failures + 1}): {exc}")
                if delivery.give_up_if_due(mapping, sqs_client, queue_url_of):
                    log(f"{mapping.function_id}: stream batch sent to its on-failure destination")
        stopping.wait(RETRY_PAUSE_SECONDS if failed else POLL_SECONDS)
