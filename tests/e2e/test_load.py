"""Load on the local stack (issue 16), bounded: Locust, in its own process, plays bench/load_plan.py's
scripts (inbound texts from many numbers with duplicate deliveries, web sign-ups with resubmissions)
against `sms-consent local`; then nothing may be missing or doubled.

`make test` runs about 480 inbound publishes from 96 numbers and 48 sign-ups; `make test-long` sets
LOAD_TEST_SCALE=1: issue 16's 10,000 messages from 2,000 numbers and 1,000 sign-ups. No timing is
asserted here (`make bench` reports it): counts and correctness only.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench import bench_load, load_plan
from tests.e2e.conftest import start_stack, stop_stack

pytestmark = pytest.mark.e2e

SCALE = float(os.environ.get("LOAD_TEST_SCALE", "0.048"))  # of 2,000 texting numbers and 1,000 sign-ups
USERS = int(os.environ.get("LOAD_TEST_USERS", "16"))
NO_SCHEDULES = "864000"  # the detector would rightly see a fresh deployment's burst of prompts as a spike


def test_load_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    plan = load_plan.make_plan(max(6, round(2_000 * SCALE)), max(4, round(1_000 * SCALE)))
    workdir = tmp_path / "stack"
    workdir.mkdir()
    stack = start_stack(workdir, "--schedule-seconds", NO_SCHEDULES)
    try:
        probe = load_plan.subscribe_received_probe(
            stack.client("sqs"), stack.client("events"), stack.outputs["EventBusName"]
        )
        results = bench_load.drive(plan, stack.outputs, tmp_path, USERS, deadline=1800)
        found = bench_load.examine(plan, results, stack.outputs, stack.client, probe)
        stopped = [s.phone for s in plan.all if "unsubscribed" in s.final.values()]
        through_api = {phone: stack.api("GET", f"/v1/numbers/{phone}").json() for phone in stopped[:12]}
    finally:
        stop_stack(stack)

    assert found.driver_failures == [], "the load driver saw requests fail or replies missing"
    assert found.dead_letters, "the stack's dead-letter queues were not found"
    assert set(found.dead_letters.values()) == {0}, found.dead_letters
    assert found.not_opted_out == [], "every STOP-ed number is opted out in the table"
    assert found.stop_not_answered_once == [], "each opt-out is answered with exactly one confirmation"
    assert found.double_prompts == [], "a duplicate delivery or a resubmission sent a second prompt"
    assert found.double_confirmations == [], "a duplicate delivery sent a second confirmation"
    assert found.duplicate_effects == [], "a duplicate delivery was recorded twice"
    assert found.lost == [], "every distinct inbound message has its audit event or bus event"
    assert found.wrong_replies == [], "every number got exactly the replies its script expects, in order"
    assert found.wrong_status == []
    # Every reply was charged to the message or sign-up that caused it.
    inbound_replies = sum(len(step.expect) for s in plan.all for step in s.steps if step.action == "sms")
    assert len(found.reply_latencies) == inbound_replies
    assert len(found.signup_latencies) == len(plan.signups)
    assert found.outbox_lines == sum(len(s.expected_replies) for s in plan.all)
    # The admin API says the same as the table.
    finals = {script.phone: script.final for script in plan.all}
    for phone, state in through_api.items():
        statuses = {name: value["status"] for name, value in state["programs"].items()}
        assert {program: statuses.get(program) for program in finals[phone]} == finals[phone], state
