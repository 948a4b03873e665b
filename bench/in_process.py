"""The template's stack on moto in this process, for benches that count what the handlers do:
every function runnable, the table's stream deliverable to its consumer, and what reaches
OutboundRequestsTopic collectable as the send gate's SNS events."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"


@dataclass
class InProcessStack:
    runner: Any  # sms_consent_local.harness.FunctionRunner
    physical: dict[str, str]
    outbox: Path  # what the send gate sent
    feed: Any  # sms_consent_local.streams.StreamDelivery
    _sqs: Any
    _outbound_url: str
    _subscription: str
    invocations: Counter[str] = field(default_factory=Counter)

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        self.invocations[function_id] += 1
        return self.runner.invoke(function_id, event)

    def outbound_events(self) -> list[dict[str, Any]]:
        """What reached OutboundRequestsTopic since the last call, as the send gate's SNS events."""
        from sms_consent_local.stack import sns_event

        found = []
        while batch := self._sqs.receive_message(QueueUrl=self._outbound_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                found.append(sns_event(json.loads(message["Body"]), self._subscription))
                self._sqs.delete_message(QueueUrl=self._outbound_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def send_outbound(self) -> int:
        """Run the send gate on what reached OutboundRequestsTopic; how many events it got."""
        events = self.outbound_events()
        for event in events:
            self.invoke("SendGateFunction", event)
        return len(events)

    def table_items(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every item of the consent table, by key."""
        import boto3

        client = boto3.client("dynamodb", region_name=REGION)
        pages = client.get_paginator("scan").paginate(TableName=self.physical["ConsentTable"])
        return {(item["PK"]["S"], item["SK"]["S"]): item for page in pages for item in page["Items"]}


@contextmanager
def in_process_stack() -> Iterator[InProcessStack]:
    import boto3
    from moto import mock_aws

    from sms_consent_local import streams
    from sms_consent_local.harness import FunctionRunner
    from sms_consent_local.resources import create_queue, create_resources
    from sms_consent_local.template import load_template

    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION
    )
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        template = load_template(ROOT / "template.yaml")
        created = create_resources(template, region=REGION)
        quiet = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}
        runner = FunctionRunner.for_template(
            template, created.physical, outbox_path=Path(scratch) / "outbox.jsonl", overrides=quiet
        )
        sqs = boto3.client("sqs", region_name=REGION)
        url, arn = create_queue(sqs, "bench-outbound")
        subscription = boto3.client("sns", region_name=REGION).subscribe(
            TopicArn=created.physical["OutboundRequestsTopic"], Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
        )["SubscriptionArn"]
        stack = InProcessStack(runner, created.physical, Path(scratch) / "outbox.jsonl", None, sqs, url, subscription)
        stack.feed = streams.StreamDelivery(
            streams.mappings(template, created.physical),
            boto3.client("dynamodbstreams", region_name=REGION),
            stack.invoke,
        )
        yield stack
