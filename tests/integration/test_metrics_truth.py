"""GET /v1/metrics against the truth: a seeded synthetic week of consent changes over 60 numbers
(web-form prompts confirmed after various delays or never, keyword JOINs and STOPs with their
message times, API unsubscribes entered days after the consumer asked) goes through the real domain,
the table's stream and the consent feed; the route's figures for several periods must equal a
brute-force count over the audit trail of every number."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sms_consent import consent
from sms_consent.clock import iso
from sms_consent.consent import AuditEvent, EventType, Source, Status
from sms_consent.program_metrics import DELAY_BOUNDS
from tests.conftest import AwsStack, api_request, stores

WEEK = [datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(days=day) for day in range(7)]
PHONES = [f"+1415555{index:04d}" for index in range(60)]
CONFIRM_DELAYS = [4, 25, 50, 90, 250, 700, 5000, 30_000, 100_000]
STOP_DELAYS = [1, 3, 20, 200, 400, 1000]  # seconds from the consumer's message to the recorded opt-out
REQUEST_AGES = [0, 3, 9, 14, 20]  # calendar days from an unsubscribe request to its entry


def _change(phone: str, decide: Any) -> None:
    stores().numbers.update(phone, decide)


def _history(rng: random.Random, phone: str) -> None:
    start = WEEK[rng.randrange(5)] + timedelta(minutes=rng.randrange(600))
    if rng.random() < 0.6:
        _change(
            phone,
            lambda s: consent.request_confirmation(
                s,
                "alerts",
                source=Source.WEB_FORM,
                at=start,
                now=start,
                window=timedelta(days=30),
                prompt_request_id=f"r-{phone}",
                evidence={"client_ip": "198.51.100.7"},
            ),
        )
        if rng.random() < 0.3:
            return  # never confirmed
        joined = start + timedelta(seconds=rng.choice(CONFIRM_DELAYS))
        evidence = {"keyword": "YES", "received_at": iso(joined)}
    else:
        joined = start
        evidence = {"keyword": "JOIN", "received_at": iso(joined)}
    source = Source.IMPORT if "JOIN" in evidence.values() and rng.random() < 0.3 else Source.KEYWORD
    if source is Source.IMPORT:
        evidence = {}  # a list the business brought: no keyword, no message
    _change(phone, lambda s: consent.grant(s, "alerts", source=source, at=joined, now=joined, evidence=evidence))
    roll = rng.random()
    if roll < 0.4:
        delay = rng.choice(STOP_DELAYS)
        recorded = joined + timedelta(hours=rng.randrange(1, 40))
        stop = {"keyword": rng.choice(["STOP", "UNSUBSCRIBE"]), "received_at": iso(recorded - timedelta(seconds=delay))}
        _change(
            phone,
            lambda s: consent.revoke(s, "alerts", source=Source.KEYWORD, at=recorded, now=recorded, evidence=stop),
        )
    elif roll < 0.6:
        recorded = joined + timedelta(days=1, hours=rng.randrange(30))
        asked = {"requested_at": iso(recorded - timedelta(days=rng.choice(REQUEST_AGES)))}
        _change(
            phone, lambda s: consent.revoke(s, "alerts", source=Source.API, at=recorded, now=recorded, evidence=asked)
        )


def _business_days(start: datetime, end: datetime) -> int:
    # A different way from the code's loop: whole weeks, then the odd days, then the holidays.
    import holidays

    first, last = start.date() + timedelta(days=1), end.date()
    if last < first:
        return 0
    span = (last - first).days + 1
    weekdays = span // 7 * 5 + sum((first + timedelta(days=i)).weekday() < 5 for i in range(span % 7))
    off = {day for day in holidays.country_holidays("US", years=range(first.year, last.year + 1)) if day.weekday() < 5}
    return weekdays - sum(first <= day <= last for day in off)


def _bucket_bound(value: float) -> int | None:
    return next((bound for bound in DELAY_BOUNDS if value <= bound), None)


def _median_bound(values: list[float]) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return _bucket_bound(ordered[(len(ordered) + 1) // 2 - 1])  # the lower median


def _expected(events: list[AuditEvent], first: date, last: date) -> dict[str, Any]:
    period = [e for e in events if first <= e.at.date() <= last]
    granted = [e for e in period if e.event_type is EventType.GRANTED]
    revoked = [e for e in period if e.event_type is EventType.REVOKED]
    confirmed = [e for e in granted if e.evidence.get("double_opt_in")]
    confirm_delays = [
        (e.at - datetime.fromisoformat(e.evidence["prompt_requested_at"])).total_seconds() for e in confirmed
    ]
    stop_delays = [
        (e.at - datetime.fromisoformat(e.evidence["received_at"])).total_seconds()
        for e in revoked
        if e.source == Source.KEYWORD
    ]
    late = [
        _business_days(datetime.fromisoformat(e.evidence["requested_at"]), e.at) > 10
        for e in revoked
        if "requested_at" in e.evidence
    ]
    prompts = sum(e.event_type is EventType.DOUBLE_OPT_IN_REQUESTED for e in period)
    final = {e.phone: e.new_status for e in sorted(events, key=lambda e: e.at) if e.new_status is not None}
    return {
        "opt_ins": len(granted),
        "opt_outs": len(revoked),
        "opt_ins_by_source": dict(Counter(str(e.source) for e in granted)),
        "opt_outs_by_source": dict(Counter(str(e.source) for e in revoked)),
        "opt_ins_by_keyword": dict(Counter(e.evidence["keyword"] for e in granted if "keyword" in e.evidence)),
        "opt_outs_by_keyword": dict(Counter(e.evidence["keyword"] for e in revoked if "keyword" in e.evidence)),
        "prompts": prompts,
        "confirmations": len(confirmed),
        "double_opt_in_conversion": round(len(confirmed) / prompts, 4) if prompts else None,
        "subscribers": sum(status == Status.SUBSCRIBED for status in final.values()),
        "time_to_confirm_median": _median_bound(confirm_delays),
        "opt_out_confirmation": (
            _median_bound(stop_delays),
            sum(d <= 300 for d in stop_delays),
            sum(d > 300 for d in stop_delays),
        ),
        "revocations": (late.count(False), late.count(True)),
    }


def _reported(stack: AwsStack, first: date, last: date) -> dict[str, Any]:
    query = {"program": "alerts", "from": first.isoformat(), "to": last.isoformat()}
    response = stack.invoke("AdminApiFunction", api_request("GET", "/v1/metrics", query=query))
    assert response["statusCode"] == 200, response["body"]
    body = json.loads(response["body"])
    stop = body["opt_out_confirmation"]
    return {
        **{key: body[key] for key in ("opt_ins", "opt_outs", "prompts", "confirmations", "double_opt_in_conversion")},
        **{key: body[key] for key in ("opt_ins_by_source", "opt_outs_by_source", "subscribers")},
        "opt_ins_by_keyword": body["opt_ins_by_keyword"],
        "opt_outs_by_keyword": body["opt_outs_by_keyword"],
        "time_to_confirm_median": body["time_to_confirm"]["median_seconds"],
        "opt_out_confirmation": (stop["median_seconds"], stop["within_limit"], stop["over_limit"]),
        "revocations": (body["revocations"]["within_10_business_days"], body["revocations"]["later"]),
    }


@pytest.mark.parametrize("seed", [7, 8])
def test_the_metrics_route_matches_a_brute_force_count_of_the_audit_trail(aws_stack: AwsStack, seed: int) -> None:
    rng = random.Random(seed)
    for index, phone in enumerate(PHONES):
        _history(rng, phone)
        if index % 17 == 0:
            aws_stack.deliver_stream()  # the feed sees the week in several batches, as Lambda would
    aws_stack.deliver_stream()
    events = [event for phone in PHONES for event in stores().numbers.history(phone)]
    assert {e.event_type for e in events} >= {EventType.GRANTED, EventType.REVOKED, EventType.DOUBLE_OPT_IN_REQUESTED}

    for first, last in [(WEEK[0].date(), WEEK[-1].date() + timedelta(days=30)), (WEEK[1].date(), WEEK[3].date())]:
        assert _reported(aws_stack, first, last) == _expected(events, first, last), (first, last)
