"""Hot-key audit: which partition keys take the writes of a burst (target: none above 1%).

Every DynamoDB write is recorded at the botocore layer with its partition keys (base table and GSIs)
while the real handlers run on moto in process: a STOP storm from 1,000 numbers, 1,000 web-form
sign-ups from as many numbers and client IPs (their prompts sent through the send gate), and a
10,000-row blocklist import. Each burst includes what the table's stream then makes the consent feed
write (metrics, detector counters, batch markers). A single key takes about 1,000 writes a second at
most, so a burst's share on one key says how early DynamoDB would throttle it. HOT_KEY_SCALE (0-1)
shrinks every burst.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("HOT_KEY_SCALE", "1"))
STOPS, SIGNUPS, IMPORT_ROWS = (max(1, int(size * SCALE)) for size in (1_000, 1_000, 10_000))
TARGET_SHARE = 0.01


def _number(area: str, index: int) -> str:
    """A valid, distinct US number per index, spread over exchanges (and so over 1k blocks)."""
    return f"+1{area}{200 + index % 700:03d}{index // 700:04d}"


def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "events" / name).read_text())
    return loaded


def stop_event(origin: str) -> dict[str, Any]:
    event = _sample("inbound_sms/help.json")
    payload = json.loads(event["Records"][0]["Sns"]["Message"])
    payload.update(messageBody="STOP", originationNumber=origin, inboundMessageId=str(uuid.uuid4()))
    event["Records"][0]["Sns"]["Message"] = json.dumps(payload)
    event["Records"][0]["Sns"]["Timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return event


def signup_event(phone: str, ip: str) -> dict[str, Any]:
    from bench.bench_optin import optin_body

    event = _sample("optin_api/post_optin.json")
    headers = {**event["headers"], "Content-Type": "application/json"}
    event.update(body=optin_body(phone).decode(), isBase64Encoded=False, headers=headers)
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    event["requestContext"]["identity"]["sourceIp"] = ip
    return event


def import_event(rows: int) -> dict[str, Any]:
    event = _sample("admin_api/search_blocklist.json")
    csv_rows = "\n".join(f"{_number('646', index)},3" for index in range(rows))
    headers = {**event["headers"], "Content-Type": "text/csv"}
    event.update(
        httpMethod="POST",
        path="/v1/blocklist/import",
        resource="/v1/blocklist/import",
        body="Mobile Number,Block Type\n" + csv_rows,
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        isBase64Encoded=False,
    )
    event["requestContext"].update(httpMethod="POST", resourcePath="/v1/blocklist/import")
    return event


def _gate_events(sqs: Any, queue_url: str, subscription: str) -> list[dict[str, Any]]:
    """What reached OutboundRequestsTopic, as the send gate's SNS events."""
    from sms_consent_local.stack import sns_event

    found = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            found.append(sns_event(json.loads(message["Body"]), subscription))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def run() -> list[str]:
    import boto3
    from moto import mock_aws

    from sms_consent_local import aws_calls, streams
    from sms_consent_local.harness import FunctionRunner
    from sms_consent_local.resources import create_queue, create_resources
    from sms_consent_local.template import load_template

    aws_calls.install_write_audit()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
    )
    lines = ["share of each burst's item writes on its hottest partition keys (target <= 1%)"]
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        template = load_template(ROOT / "template.yaml")
        created = create_resources(template, region="us-east-1")
        quiet = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "ERROR"}
        runner = FunctionRunner.for_template(
            template, created.physical, outbox_path=Path(scratch) / "outbox.jsonl", overrides=quiet
        )
        feed = streams.StreamDelivery(
            streams.mappings(template, created.physical),
            boto3.client("dynamodbstreams", region_name="us-east-1"),
            lambda function_id, event: runner.invoke(function_id, event),
        )
        sqs = boto3.client("sqs", region_name="us-east-1")
        outbound_url, outbound_arn = create_queue(sqs, "bench-outbound")
        subscription = boto3.client("sns", region_name="us-east-1").subscribe(
            TopicArn=created.physical["OutboundRequestsTopic"], Protocol="sqs", Endpoint=outbound_arn,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]  # fmt: skip
        bursts = {
            f"STOP storm ({STOPS:,} numbers)": [
                ("InboundSmsFunction", stop_event(_number("415", index))) for index in range(STOPS)
            ],
            f"web sign-ups ({SIGNUPS:,} numbers and client IPs, prompts sent)": [
                ("OptinApiFunction", signup_event(_number("312", index), f"100.64.{index // 250}.{index % 250}"))
                for index in range(SIGNUPS)
            ],
            f"blocklist import ({IMPORT_ROWS:,} rows)": [("AdminApiFunction", import_event(IMPORT_ROWS))],
        }
        for label, calls in bursts.items():
            with aws_calls.writing() as written, contextlib.redirect_stdout(io.StringIO()):  # no EMF lines
                for function_id, event in calls:
                    runner.invoke(function_id, event)
                for event in _gate_events(sqs, outbound_url, subscription):  # replies and prompts go out
                    runner.invoke("SendGateFunction", event)
                feed.deliver()
            total = sum(written.values())
            worst = aws_calls.hottest(written, 3)
            verdict = "ok" if worst and worst[0][1] <= TARGET_SHARE else "OVER"
            lines.append(f"{label}: {total:,} item writes, worst key {worst[0][1]:.2%} ({verdict})")
            lines.extend(f"    {share:6.2%}  {key[:70]}" for key, share in worst)
    return lines
