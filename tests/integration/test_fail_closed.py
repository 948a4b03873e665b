"""A batch read whose keys stay unprocessed is "could not read", never "absent".

Faults are injected with botocore's event system on the very client the function uses: every
BatchGetItem answers with all of its keys unprocessed, as DynamoDB does when it throttles a read.
The gate then sends nothing (the request fails, to be retried and dead-lettered) and its check route
denies every recipient with a reason; the detector skips its run with an error metric.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sms_consent import consent, pumping, wiring
from sms_consent.phones import parse
from sms_consent.ports import StoreUnavailable
from sms_consent.repository.table import BATCH_GET_ATTEMPTS
from tests.conftest import AwsStack, api_request, load_event, stores

NOON = datetime(2026, 11, 23, 12, 1, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
TICK = pumping.bucket_start(NOON) + pumping.BUCKET + timedelta(seconds=5)
SUBSCRIBED = "+14155550123"


def subscribe(phone: str) -> None:
    at = datetime.now(UTC) - timedelta(days=1)
    stores().numbers.update(phone, lambda s: consent.grant(s, "alerts", source="keyword", at=at, now=at, evidence={}))


class Unprocessed:
    """Makes every BatchGetItem of the functions' table client leave all of its keys unprocessed."""

    def __init__(self) -> None:
        self.calls = 0
        self._requested: dict[str, Any] = {}

    def remember(self, params: dict[str, Any], **_: Any) -> None:
        self._requested = json.loads(params["body"])["RequestItems"]

    def drop(self, parsed: dict[str, Any], **_: Any) -> None:
        self.calls += 1
        parsed["Responses"] = {}
        parsed["UnprocessedKeys"] = self._requested


@pytest.fixture
def unprocessed(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Unprocessed]:
    monkeypatch.setattr("sms_consent.repository.table.time.sleep", lambda seconds: None)  # backoff, not the point
    for function_id in ("SendGateFunction", "AdminApiFunction", "PumpingDetectorFunction"):
        aws_stack.runner.load(function_id)  # cold starts first: they build the clients the hooks go on
    fault = Unprocessed()
    events = stores().numbers.table.client.meta.events
    events.register("before-call.dynamodb.BatchGetItem", fault.remember)
    events.register("after-call.dynamodb.BatchGetItem", fault.drop)
    yield fault
    events.unregister("before-call.dynamodb.BatchGetItem", fault.remember)
    events.unregister("after-call.dynamodb.BatchGetItem", fault.drop)


def test_the_gate_sends_nothing_and_fails_the_request_for_a_retry(
    aws_stack: AwsStack, unprocessed: Unprocessed
) -> None:
    subscribe(SUBSCRIBED)
    request = json.loads(load_event("send_gate/marketing.json")["Records"][0]["Sns"]["Message"])
    request["recipients"] = [SUBSCRIBED]
    event = load_event("send_gate/marketing.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(request)
    with pytest.raises(StoreUnavailable, match="unprocessed"):
        aws_stack.invoke("SendGateFunction", event)
    assert aws_stack.outbox_lines() == []
    assert unprocessed.calls == BATCH_GET_ATTEMPTS  # retried with backoff before giving up


def test_the_check_route_denies_every_recipient_saying_why(aws_stack: AwsStack, unprocessed: Unprocessed) -> None:
    subscribe(SUBSCRIBED)
    body = {"program": "alerts", "category": "marketing", "recipients": [SUBSCRIBED, "+14155550124"], "body": "Hi"}
    response = aws_stack.invoke(
        "AdminApiFunction",
        api_request("POST", "/v1/gate/check", body=json.dumps(body)),
    )
    assert response["statusCode"] == 200
    decisions = json.loads(response["body"])["decisions"]
    assert [(d["decision"], d["reason"]) for d in decisions] == [("deny", "STATE_UNAVAILABLE")] * 2


def test_the_detector_skips_its_run_with_an_error_metric(
    aws_stack: AwsStack, unprocessed: Unprocessed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(70):  # a new country spiking: without its baseline, this would look like no history
        stores().counters.record_prompt(parse(f"+3712{index:07d}"), None, NOON)
    monkeypatch.setattr(wiring, "utc_now", lambda: TICK)
    result = aws_stack.invoke("PumpingDetectorFunction", load_event("pumping_detector/scheduled.json"))
    assert result["skipped"] == "counters could not be read"
    assert result["trips"] == []
    assert stores().breakers.all_breakers() == {}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any(
        m.get("PumpingDetectorReadErrors") == [1.0] or m.get("PumpingDetectorReadErrors") == 1.0 for m in metrics
    )
