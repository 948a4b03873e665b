"""Traffic pumping on moto: real counters -> detector -> breaker -> gate denial -> alert event;
the detector's cost does not grow with the number of subscriptions."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest

from sms_consent import consent, pumping, send_gate, wiring
from sms_consent.breakers import Trip
from sms_consent.messages import Category, OutboundRequest
from sms_consent.phones import parse
from sms_consent.send_gate import Reason
from sms_consent_local import aws_calls
from tests.conftest import AwsStack, load_event, stores

NOON = datetime(2026, 11, 23, 12, 1, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
TICK = pumping.bucket_start(NOON) + pumping.BUCKET + timedelta(seconds=5)


def tick(now: datetime = TICK) -> pumping.Detection:
    return pumping.run_tick(
        stores().counters, stores().breakers, wiring.events_of(wiring.inbound_settings()), pumping.PumpingConfig(), now
    )


def test_sweep_opens_a_breaker_the_gate_honours_and_alerts(aws_stack: AwsStack) -> None:
    for suffix in range(100, 108):  # +1 415 555 0100 ... 0107: a sequential sweep of one 1k block
        stores().counters.record_prompt(parse(f"+14155550{suffix}"), "198.51.100.7", NOON)
    detection = tick()
    rules = {(trip.rule, trip.dimension) for trip in detection.trips}
    assert ("range_sweep", "prefix") in rules
    open_now = stores().breakers.open_breakers(TICK)
    assert ("prefix", "+14155550") in open_now
    assert open_now[("prefix", "+14155550")].expires_at == TICK + timedelta(minutes=30)

    at = TICK - timedelta(days=1)
    stores().numbers.update(
        "+14155550150", lambda s: consent.grant(s, "alerts", source="keyword", at=at, now=at, evidence={})
    )
    deps = replace(wiring.gate_deps(), clock=lambda: TICK + timedelta(minutes=1))
    request = OutboundRequest(program="alerts", category=Category.MARKETING, recipients=("+14155550150",), body="hi")
    (decision,) = send_gate.process(request, deps)
    assert decision.reason is Reason.PUMPING_BREAKER

    alerts = [e for e in aws_stack.bus_events() if e["detail-type"] == "TrafficPumpingSuspected"]
    assert {a["detail"]["rule"] for a in alerts} >= {"range_sweep"}
    # The template's rule forwards it to AlertTopic (moto needs a relay queue for SNS targets).
    sqs = boto3.client("sqs", region_name=aws_stack.region)
    relayed = [
        json.loads(m["Body"])
        for url in aws_stack.relays
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]
    assert any(body["detail-type"] == "TrafficPumpingSuspected" for body in relayed)


def test_repeated_trips_escalate(aws_stack: AwsStack) -> None:
    durations = []
    for day in range(3):
        moment = NOON + timedelta(days=day)
        for index in range(70):
            stores().counters.record_prompt(parse(f"+3712{index:07d}"), None, moment)  # Latvia: new, then spiking
        tick(pumping.bucket_start(moment) + pumping.BUCKET + timedelta(seconds=5))
        breaker = stores().breakers.all_breakers()[("country", "LV")]
        durations.append(breaker.expires_at - breaker.opened_at)
    assert durations == [timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12)]


def test_record_only_reports_without_breakers(aws_stack: AwsStack) -> None:
    for index in range(70):
        stores().counters.record_prompt(parse(f"+3712{index:07d}"), None, NOON)
    detection = pumping.run_tick(
        stores().counters, stores().breakers, wiring.events_of(wiring.inbound_settings()),
        pumping.PumpingConfig(mode="record_only"), TICK,
    )  # fmt: skip
    assert detection.trips
    assert stores().breakers.all_breakers() == {}
    assert any(e["detail-type"] == "TrafficPumpingSuspected" for e in aws_stack.bus_events())


def _subscriptions(count: int, start: int) -> None:
    client: Any = boto3.client("dynamodb", region_name="us-east-1")
    items = [
        {"PutRequest": {"Item": {"PK": {"S": f"PHONE#+1{start + i:010d}"}, "SK": {"S": "STATE"},
                                  "version": {"N": "1"}}}}
        for i in range(count)
    ]  # fmt: skip
    table = stores().numbers.table.name
    for offset in range(0, len(items), 25):
        client.batch_write_item(RequestItems={table: items[offset : offset + 25]})


def test_detector_cost_does_not_grow_with_subscriptions(aws_stack: AwsStack) -> None:
    for index in range(30):
        stores().counters.record_prompt(parse(f"+1415555{index:04d}"), "198.51.100.7", NOON)
    counts: list[int] = []
    for total in (1_000, 100_000):
        _subscriptions(total - ((counts and 1_000) or 0), start=len(counts) * 1_000_000)
        with aws_calls.counting() as calls:
            tick()
        # Reads: writes follow the trips (the first tick opens the sweep's breakers; the second, at the
        # same moment, leaves them as they are: one attack, one step of escalation).
        counts.append(sum(calls[f"dynamodb.{op}"] for op in ("Query", "GetItem", "BatchGetItem")))
        assert "dynamodb.Scan" not in calls
    assert counts[0] == counts[1] > 0


def test_scheduled_event_runs_the_detector(aws_stack: AwsStack) -> None:
    result = aws_stack.invoke("PumpingDetectorFunction", load_event("pumping_detector/scheduled.json"))
    assert result["trips"] == []
    assert result["tick"] == "1970-01-01T00:00:00Z"


def test_a_failed_run_leaves_breakers_as_they_were(aws_stack: AwsStack) -> None:
    from sms_consent.adapters.event_bus import EventBridgeSink

    existing = stores().breakers.open_breaker(Trip("volume_spike", "country", "FR", {}, {}), now=TICK, previous=None)
    for index in range(70):
        stores().counters.record_prompt(parse(f"+3712{index:07d}"), None, NOON)
    missing_bus = EventBridgeSink(boto3.client("events", region_name=aws_stack.region), "no-such-bus")
    with pytest.raises(Exception, match=r"no-such-bus|ResourceNotFound"):
        pumping.run_tick(stores().counters, stores().breakers, missing_bus, pumping.PumpingConfig(), TICK)
    after = stores().breakers.all_breakers()
    assert after[("country", "FR")] == existing


def test_a_fresh_deployment_never_closes_a_country_its_programs_send_to(aws_stack: AwsStack) -> None:
    # No history anywhere: the first legitimate sign-ups in the US (spread over many 1k blocks and
    # IPs) used to trip new_destination for the US itself and refuse every sign-up for 30 minutes.
    aws_stack.runner.load("PumpingDetectorFunction")
    deps = wiring.detector_deps()
    assert {"US", "CA"} <= deps.home_countries  # the sample programs' allowed countries
    area_codes = [212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229, 231, 234, 239]
    for index in range(30):
        number = f"+1{area_codes[index % 15]}555{index:04d}"
        stores().counters.record_prompt(parse(number), f"198.51.100.{index}", NOON)
    for index in range(30):
        stores().counters.record_prompt(parse(f"+3712{index * 7919:07d}"), f"203.0.113.{index}", NOON)

    detection = pumping.run_tick(deps.counters, deps.breakers, deps.events, deps.config, TICK, deps.home_countries)

    tripped = {(trip.dimension, trip.key): trip.rule for trip in detection.trips}
    assert ("country", "US") not in tripped
    assert tripped[("country", "LV")] == "new_destination"  # a country no program expects still is new
    assert set(stores().breakers.all_breakers()) == {("country", "LV")}
