"""Send gate: DynamoDB reads per 1,000 recipients and decisions per second against a naive baseline
(one GetItem per recipient, same data, same decision code), and writes per allowed send.

DynamoDB is moto in process, so the rates compare the two strategies, not AWS latency.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS = 1000
AFTERNOON = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)


def run() -> list[str]:
    from moto import mock_aws

    from sms_consent_local import aws_calls

    aws_calls.install()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    from sms_consent import consent, send_gate, wiring
    from sms_consent.messages import Category, OutboundRequest
    from sms_consent.ports import MediaReport
    from sms_consent.repository.number_items import NumberStateItem, to_item
    from sms_consent_local.harness import function_environment
    from sms_consent_local.resources import create_resources
    from sms_consent_local.template import load_template

    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        template = load_template(ROOT / "template.yaml")
        created = create_resources(template, region="us-east-1")
        os.environ.update(
            function_environment(template, "SendGateFunction", created.physical, outbox_path=Path(scratch) / "outbox")
        )
        wiring.reset()
        deps = replace(wiring.gate_deps(), clock=lambda: AFTERNOON)
        phones = [f"+1212555{index:04d}" for index in range(RECIPIENTS)]
        at = AFTERNOON - timedelta(days=40)
        state_items = wiring.stores_of(wiring.send_gate_settings()).numbers.table.model(NumberStateItem)
        with state_items.batch_write() as batch:
            for phone in phones:
                change = consent.grant(
                    consent.NumberState(phone=phone), "alerts", source="keyword", at=at, now=at, evidence={}
                )
                item = to_item(change.state, state_items)
                item.version = 1
                batch.save(item)
        requests = [
            OutboundRequest(
                program="alerts",
                category=Category.MARKETING,
                recipients=tuple(phones[i : i + 100]),
                body="Example Corp Alerts: sale today.",
            )
            for i in range(0, RECIPIENTS, 100)
        ]
        send_gate.check(requests[0], deps)  # warm up

        with aws_calls.counting() as ours_calls:
            started = time.perf_counter()
            ours = [d for request in requests for d in send_gate.check(request, deps)]
            ours_seconds = time.perf_counter() - started

        with aws_calls.counting() as naive_calls:
            started = time.perf_counter()
            naive = []
            for request in requests:
                states = {phone: deps.store.get(phone) for phone in request.recipients}
                situation = send_gate.Situation(
                    states, deps.breakers.open_breakers(AFTERNOON), MediaReport(), AFTERNOON
                )
                naive.extend(send_gate.decide(request, deps.config, situation))
            naive_seconds = time.perf_counter() - started
        assert [d.reason for d in ours] == [d.reason for d in naive], "both strategies must decide alike"

        with aws_calls.counting() as send_calls:
            decisions = send_gate.process(requests[0], deps)
        allowed = sum(1 for d in decisions if d.decision is send_gate.Verdict.ALLOW)
        writes = sum(
            v for k, v in send_calls.items() if k.split(".")[1] in ("UpdateItem", "PutItem", "TransactWriteItems")
        )

    ours_reads = aws_calls.total(ours_calls, "dynamodb")
    naive_reads = aws_calls.total(naive_calls, "dynamodb")
    return [
        f"DynamoDB reads per {RECIPIENTS} recipients: {ours_reads} (BatchGetItem; floor 10, target <= 20) "
        f"vs naive {naive_reads} (GetItem each): {naive_reads / max(ours_reads, 1):.0f}x fewer",
        f"decisions/s: {RECIPIENTS / ours_seconds:,.0f} vs naive {RECIPIENTS / naive_seconds:,.0f} "
        f"({(RECIPIENTS / ours_seconds) / (RECIPIENTS / naive_seconds):.1f}x)",
        f"writes per allowed send: {writes / max(allowed, 1):.2f} ({writes} writes for {allowed} sends; target <= 1)",
        f"decisions: {sum(1 for d in ours if d.decision is send_gate.Verdict.ALLOW)} allowed of {len(ours)}",
    ]
