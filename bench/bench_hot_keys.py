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


def run() -> list[str]:
    from bench.in_process import in_process_stack
    from sms_consent_local import aws_calls

    aws_calls.install_write_audit()
    lines = ["share of each burst's item writes on its hottest partition keys (target <= 1%)"]
    with in_process_stack() as stack:
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
                    stack.invoke(function_id, event)
                stack.send_outbound()  # replies and prompts go out
                stack.feed.deliver()
            total = sum(written.values())
            worst = aws_calls.hottest(written, 3)
            verdict = "ok" if worst and worst[0][1] <= TARGET_SHARE else "OVER"
            lines.append(f"{label}: {total:,} item writes, worst key {worst[0][1]:.2%} ({verdict})")
            lines.extend(f"    {share:6.2%}  {key[:70]}" for key, share in worst)
    return lines
