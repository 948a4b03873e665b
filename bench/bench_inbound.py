"""DynamoDB requests per inbound message (target: at most 4), by kind of message, warm handler.

Idempotency costs two of them (PutItem of the in-progress record, UpdateItem when completed), the
number's state one read and one transaction. Counters that many numbers share (metrics, the
traffic-pumping detector's) are folded from the table's stream, off the request path.

Counted with a botocore event hook on every client, DynamoDB served by moto in process.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET = 4


def inbound_event(template_event: dict[str, Any], text: str, to: str, origin: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(template_event))
    payload = json.loads(event["Records"][0]["Sns"]["Message"])
    payload.update(messageBody=text, destinationNumber=to, originationNumber=origin, inboundMessageId=str(uuid.uuid4()))
    event["Records"][0]["Sns"]["Message"] = json.dumps(payload)
    event["Records"][0]["Sns"]["Timestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return event


def run() -> list[str]:
    from moto import mock_aws

    from sms_consent_local import aws_calls
    from sms_consent_local.harness import FunctionRunner, function_environment
    from sms_consent_local.resources import create_resources
    from sms_consent_local.template import load_template

    aws_calls.install()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
    )
    sample = json.loads((ROOT / "events" / "inbound_sms" / "help.json").read_text())
    lines = []
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        template = load_template(ROOT / "template.yaml")
        created = create_resources(template, region="us-east-1")
        env = function_environment(template, "InboundSmsFunction", created.physical, outbox_path=Path(scratch) / "o")
        env = {**env, "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
        os.environ.update(env)
        runner = FunctionRunner(template, {"InboundSmsFunction": env})
        runner.invoke("InboundSmsFunction", inbound_event(sample, "HELP", "+18005550100", "+14155550100"))  # warm up
        steps = [
            ("HELP", "12345"),
            ("JOIN TONE1 (double opt-in prompt)", "12345"),
            ("YES (confirmation)", "12345"),
            ("TONE2 (prompt)", "12345"),
            ("YES (confirmation)", "12345"),
            ("STOP (menu on the shared short code)", "12345"),
            ("STOP TONE1 (answers the menu)", "12345"),
            ("ALERTS (prompt)", "+18005550100"),
            ("YES (confirmation)", "+18005550100"),
            ("STOP (every program on the sender)", "+18005550100"),
            ("something else", "+18005550100"),
        ]
        worst = 0
        for label, to in steps:
            text = label.split(" (")[0]
            with aws_calls.counting() as counts:
                result = runner.invoke("InboundSmsFunction", inbound_event(sample, text, to, "+14155550123"))
            dynamodb = aws_calls.total(counts, "dynamodb")
            worst = max(worst, dynamodb)
            detail = ", ".join(
                f"{key.split('.')[1]} {value}" for key, value in sorted(counts.items()) if key.startswith("dynamodb")
            )
            action = result["results"][0]["action"]
            lines.append(f"{label:<38} -> {action:<12} DynamoDB requests: {dynamodb} ({detail})")
        lines.append(f"worst: {worst} DynamoDB requests per inbound message (target <= {TARGET})")
    return lines
