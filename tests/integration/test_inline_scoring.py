"""Inline scoring at POST /v1/optins: each prompt is judged on the live counters before it leaves, so a
sweep is held after five prompts, not after the detector's next 5-minute tick; the answer never tells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sms_consent_local import aws_calls
from tests.conftest import AwsStack, stores
from tests.integration.test_optin_api import form, post


def sign_up_sweep(stack: AwsStack, count: int) -> list[tuple[int, dict[str, Any]]]:
    """Consecutive numbers of one 1k block (real ones: 555-01xx fictional numbers are never held), each
    from its own address (a farm rotating IPs); the table's stream is folded into the counters between
    requests, as Lambda's stream poller does."""
    answers = []
    for index in range(count):
        status, body, _ = post(stack, form(phone=f"+1415201{100 + index:04d}"), ip=f"203.0.113.{10 + index}")
        answers.append((status, body))
        stack.deliver_stream()
    return answers


def test_a_sweep_is_held_from_its_sixth_prompt_and_its_breaker_opens_at_once(aws_stack: AwsStack) -> None:
    answers = sign_up_sweep(aws_stack, 9)

    assert {(status, body["status"], body["prompt_sent"]) for status, body in answers} == {(202, "pending", True)}
    prompted = [request["recipients"][0] for request in aws_stack.outbound_requests()]
    assert prompted == [f"+1415201{100 + index:04d}" for index in range(5)]
    breaker = stores().breakers.all_breakers()[("prefix", "+14152010")]
    assert (breaker.rule, len(breaker.trips)) == ("range_sweep", 1)  # one attack, one trip: 30 minutes
    reported = [e["detail"] for e in aws_stack.bus_events() if e["detail-type"] == "TrafficPumpingSuspected"]
    assert len(reported) == 1
    assert (reported[0]["source"], reported[0]["rule"], reported[0]["key"]) == (
        "inline_scoring",
        "range_sweep",
        "+14152010",
    )
    held = stores().numbers.history("+14152010105")[0]
    assert held.evidence["prompt_held"] == "range_sweep on prefix +14152010 (scored inline)"
    # Later prompts: the function's cached breakers (a minute old at most) or the scoring hold them.
    later = stores().numbers.history("+14152010108")[0]
    assert str(later.evidence["prompt_held"]).startswith("range_sweep on prefix +14152010")


def test_a_sweep_fired_back_to_back_is_held_before_the_stream_is_folded(aws_stack: AwsStack) -> None:
    """The opt-in API counts each prompt's prefix and IP itself: no wait for the stream's consumer."""
    for index in range(9):
        post(aws_stack, form(phone=f"+1415201{500 + index:04d}"), ip=f"203.0.113.{40 + index}")

    assert len(aws_stack.outbound_requests()) == 5
    aws_stack.deliver_stream()  # the feed then adds the countries only: nothing counted twice
    live = stores().counters.read_live([("prefix", "+14152010")], datetime.now(UTC))
    assert live[("prefix", "+14152010")].prompts == 9


def test_the_detectors_next_tick_does_not_escalate_a_breaker_inline_scoring_just_opened(aws_stack: AwsStack) -> None:
    from sms_consent import pumping, wiring

    sign_up_sweep(aws_stack, 9)
    opened = stores().breakers.all_breakers()[("prefix", "+14152010")]
    tick_at = pumping.bucket_start(opened.opened_at) + pumping.BUCKET + timedelta(seconds=5)
    detection = pumping.run_tick(
        stores().counters, stores().breakers, wiring.events_of(wiring.inbound_settings()), pumping.PumpingConfig(),
        tick_at,
    )  # fmt: skip

    assert ("prefix", "+14152010") in {(trip.dimension, trip.key) for trip in detection.trips}  # still reported
    breaker = stores().breakers.all_breakers()[("prefix", "+14152010")]
    assert (len(breaker.trips), breaker.expires_at) == (1, opened.expires_at)  # 30 minutes, not 2 hours


def test_record_only_reports_what_it_would_hold_and_sends(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    aws_stack.runner.env["OptinApiFunction"]["PUMPING_MODE"] = "record_only"  # type: ignore[index]
    aws_stack.runner.load("OptinApiFunction")

    sign_up_sweep(aws_stack, 7)

    assert len(aws_stack.outbound_requests()) == 7
    assert stores().breakers.all_breakers() == {}
    reported = [e["detail"] for e in aws_stack.bus_events() if e["detail-type"] == "TrafficPumpingSuspected"]
    assert {(r["rule"], r["mode"], r["breaker_expires_at"]) for r in reported} == {("range_sweep", "record_only", None)}


def test_fictional_numbers_are_never_held(aws_stack: AwsStack) -> None:
    """NPA-555-0100..0199 cannot be assigned, so nobody is paid for them: demos, QA and the drill use them."""
    for index in range(9):
        post(aws_stack, form(phone=f"+1415555{100 + index:04d}"), ip=f"203.0.113.{10 + index}")
        aws_stack.deliver_stream()
    assert len(aws_stack.outbound_requests()) == 9


def test_scoring_a_prompt_costs_three_batched_reads(aws_stack: AwsStack) -> None:
    sign_up_sweep(aws_stack, 2)
    with aws_calls.counting() as calls:
        post(aws_stack, form(phone="+12122010123"), ip="198.51.100.20")
    # The live counts (16 country shards, 64 area-code shards, prefix, IP; two buckets: 164 items) in two
    # BatchGetItems of 100, the baselines in a third; the rest is the sign-up's own work.
    assert calls.get("dynamodb.BatchGetItem", 0) == 3
