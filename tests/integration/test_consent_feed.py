"""Consent events and program metrics come from the table's stream (ConsentFeedFunction), so that an
event exists if and only if its change committed. Faults are injected with botocore's event system:
a request handler killed right after its commit, a consumer whose publish or fold fails, a retried
batch that grew. Metrics are checked against a brute-force count of the table."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from sms_consent import consent, wiring
from sms_consent.consent import EventType, Status
from sms_consent.ports import Committed
from sms_consent.repository.feed_ledger import DynamoFeedLedger
from tests.conftest import AwsStack, load_event, stores
from tests.integration.test_optin_api import PHONE, inbound

FEED = "ConsentFeedFunction"


class Killed(RuntimeError):
    """The process died here (injected)."""


class Fault:
    """Raises Killed on the first `times` calls of one operation (registered on a client's events)."""

    def __init__(self, times: int = 1) -> None:
        self.left, self.calls = times, 0

    def __call__(self, **_: Any) -> None:
        self.calls += 1
        if self.left > 0:
            self.left -= 1
            raise Killed("injected")


@pytest.fixture
def faults(aws_stack: AwsStack) -> Iterator[Callable[[Any, str, int], Fault]]:
    registered: list[tuple[Any, str, Fault]] = []

    def install(client: Any, event_name: str, times: int = 1) -> Fault:
        fault = Fault(times)
        client.meta.events.register(event_name, fault)
        registered.append((client, event_name, fault))
        return fault

    yield install
    for client, event_name, fault in registered:
        client.meta.events.unregister(event_name, fault)


def _feed_clients(stack: AwsStack) -> tuple[Any, Any]:
    """The consumer's DynamoDB and EventBridge clients, as its cold start built them."""
    from sms_consent.adapters.aws import client

    stack.runner.load(FEED)
    ledger = wiring.feed_deps().ledger
    assert isinstance(ledger, DynamoFeedLedger)
    return ledger.table.client, client("events", stack.region)


def _subscribe(stack: AwsStack) -> None:
    inbound(stack, "ALERTS")
    inbound(stack, "YES")
    stack.outbound_requests()
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED


def _types(events: list[dict[str, Any]]) -> list[str]:
    return [event["detail-type"] for event in events]


def test_a_stop_reaches_the_bus_from_the_stream_not_from_the_handler(aws_stack: AwsStack) -> None:
    _subscribe(aws_stack)
    aws_stack.bus_events()
    inbound(aws_stack, "STOP")
    assert aws_stack._drain("bus") == []  # the handler itself put nothing on the bus
    (event,) = aws_stack.bus_events()  # the stream's consumer did
    assert event["detail-type"] == "ConsentRevoked"
    assert (event["detail"]["phone"], event["detail"]["program"]) == (PHONE, "alerts")
    assert event["detail"]["evidence"]["text"] == "STOP"
    (stored,) = [e for e in stores().numbers.history(PHONE) if e.event_type is EventType.REVOKED]
    assert event["detail"]["event_id"] == stored.event_id  # the committed event, not a copy made before


def test_a_handler_killed_between_commit_and_publish_loses_no_event(aws_stack: AwsStack, faults: Any) -> None:
    _subscribe(aws_stack)
    aws_stack.bus_events()
    aws_stack.runner.load("InboundSmsFunction")
    fault = faults(stores().numbers.table.client, "after-call.dynamodb.TransactWriteItems")
    with pytest.raises(Killed):
        inbound(aws_stack, "STOP")  # committed, then the process died before anything else
    assert fault.calls == 1
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    assert _types(aws_stack.bus_events()) == ["ConsentRevoked"]
    inbound(aws_stack, "STOP")  # Lambda's retry of the same message: the number stays opted out
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    # The retry re-runs the handler (the idempotency record of a failed run is released), and a
    # repeated opt-out is recorded, never skipped: its event names the same inbound message.
    retried = aws_stack.bus_events()
    assert {event["detail"]["evidence"]["inbound_message_id"] for event in retried} <= {f"in-STOP-{PHONE}-None"}


def test_a_change_that_did_not_commit_has_no_event(aws_stack: AwsStack, faults: Any) -> None:
    _subscribe(aws_stack)
    aws_stack.bus_events()
    aws_stack.runner.load("InboundSmsFunction")
    faults(stores().numbers.table.client, "before-call.dynamodb.TransactWriteItems", 1000)
    with pytest.raises(Killed):
        inbound(aws_stack, "STOP")
    assert _types(aws_stack.bus_events()) == []
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED


def test_a_consumer_that_fails_to_publish_delivers_the_batch_on_the_retry(aws_stack: AwsStack, faults: Any) -> None:
    _subscribe(aws_stack)
    _, events_client = _feed_clients(aws_stack)
    faults(events_client, "before-call.events.PutEvents")
    with pytest.raises(Killed):
        aws_stack.deliver_stream()
    assert aws_stack._drain("bus") == []
    assert _types(aws_stack.bus_events()) == ["DoubleOptInRequested", "ConsentGranted"]  # Lambda's retry
    figures = stores().metrics.read("alerts", wiring.utc_now().date(), wiring.utc_now().date())
    assert (figures.prompts, figures.opt_ins, figures.subscribers) == (1, 1, 1)


def test_a_consumer_killed_after_folding_counts_the_retried_batch_once(aws_stack: AwsStack, faults: Any) -> None:
    _subscribe(aws_stack)
    dynamodb, _ = _feed_clients(aws_stack)
    faults(dynamodb, "after-call.dynamodb.TransactWriteItems")
    with pytest.raises(Killed):
        aws_stack.deliver_stream()  # published and folded, then died before Lambda saw success
    assert aws_stack.deliver_stream() == 2  # the same batch again
    assert _types(aws_stack.bus_events()) == ["DoubleOptInRequested", "ConsentGranted"] * 2  # at least once
    figures = stores().metrics.read("alerts", wiring.utc_now().date(), wiring.utc_now().date())
    assert (figures.prompts, figures.opt_ins, figures.confirmations, figures.subscribers) == (1, 1, 1, 1)


def _committed(first: int, count: int) -> list[Committed]:
    now = wiring.utc_now()
    return [
        Committed(
            first + index,
            consent.AuditEvent(
                EventType.REVOKED, now, f"+1415555{index:04d}", "alerts", "subscribed", "unsubscribed", "keyword"
            ),
        )
        for index in range(count)
    ]


def test_the_ledger_counts_a_retried_batch_once_and_a_grown_retry_only_for_what_is_new(aws_stack: AwsStack) -> None:
    ledger = DynamoFeedLedger(stores().numbers.table)
    batch = _committed(10_000_000_000_000_000_000_001, 5)
    assert ledger.fold(batch[:3]) == 3
    assert ledger.fold(batch[:3]) == 0  # the same batch delivered again
    assert ledger.fold(batch) == 2  # the retry starts at the same record and holds two more
    assert ledger.fold(batch) == 0
    figures = stores().metrics.read("alerts", wiring.utc_now().date(), wiring.utc_now().date())
    assert (figures.opt_outs, figures.subscribers) == (5, 0)  # 5 went away from a count that started at 0


def test_a_batch_with_more_counters_than_a_transaction_holds_is_folded_in_several(aws_stack: AwsStack) -> None:
    ledger = DynamoFeedLedger(stores().numbers.table)
    now = wiring.utc_now()
    batch = [
        Committed(
            1_000 + day,
            consent.AuditEvent(
                EventType.GRANTED, now - timedelta(days=day), "+14155550100", "alerts", None, "subscribed", "import"
            ),
        )
        for day in range(150)  # 150 day items and a total: more than 99 updates
    ]
    assert ledger.fold(batch) == 150
    assert ledger.fold(batch) == 0
    figures = stores().metrics.read("alerts", (now - timedelta(days=149)).date(), now.date())
    assert (figures.opt_ins, figures.subscribers) == (150, 150)


def test_the_consumer_skips_other_records_and_unreadable_events_but_not_the_rest(aws_stack: AwsStack) -> None:
    answer = aws_stack.invoke(FEED, load_event("consent_feed/committed_events.json"))
    assert answer == {"published": 2, "counted": 2, "released": 0}
    assert _types(aws_stack._drain("bus")) == ["ConsentRevoked", "ConsentGranted"]
    result = aws_stack.invoke(FEED, load_event("consent_feed/unreadable_event.json"))
    # two unreadable images logged and counted, one event kept
    assert result == {"published": 1, "counted": 1, "released": 0}
    (event,) = aws_stack._drain("bus")
    assert event["detail"]["event_id"] == "e5"
    assert aws_stack.invoke(FEED, {"Records": []}) == {"published": 0, "counted": 0}


# ---------------------------------------------------------------------- against a brute-force count


def _scan(stack: AwsStack) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=stack.region)
    pages = client.get_paginator("scan").paginate(TableName=stack.table_name)
    return [item for page in pages for item in page["Items"]]


def _brute_force(stack: AwsStack, program: str) -> dict[str, int]:
    """Figures counted from the audit trail and the number states themselves."""
    counts: Counter[str] = Counter()
    for item in _scan(stack):
        sort_key = item["SK"]["S"]
        if sort_key == "STATE" and item.get("programs", {}).get("M", {}).get(program):
            counts["subscribers"] += item["programs"]["M"][program]["M"]["status"]["S"] == Status.SUBSCRIBED.value
        if not sort_key.startswith("EVENT#") or item.get("program", {}).get("S") != program:
            continue
        kind = item["event_type"]["S"]
        counts["opt_ins"] += kind == EventType.GRANTED.value
        counts["confirmations"] += kind == EventType.GRANTED.value and "double_opt_in" in item["evidence"]["M"]
        counts["opt_outs"] += kind == EventType.REVOKED.value
        counts["prompts"] += kind == EventType.DOUBLE_OPT_IN_REQUESTED.value
    return {name: counts[name] for name in ("opt_ins", "opt_outs", "prompts", "confirmations", "subscribers")}


OPERATIONS = ("prompt", "grant", "confirm", "revoke")


def _random_change(operation: str, phone: str, now: Any) -> Callable[[consent.NumberState], consent.Change]:
    def decide(state: consent.NumberState) -> consent.Change:
        if operation == "prompt":
            return consent.request_confirmation(
                state,
                "alerts",
                source="web_form",
                at=now,
                now=now,
                window=timedelta(days=1),
                prompt_request_id=phone,
                evidence={},
            )
        if operation == "confirm":
            return consent.grant(state, "alerts", source="keyword", at=now, now=now, evidence={"double_opt_in": True})
        if operation == "grant":
            return consent.grant(state, "alerts", source="import", at=now, now=now, evidence={})
        return consent.revoke(state, "alerts", source="keyword", at=now, now=now, evidence={})

    return decide


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_folded_through_crashes_and_odd_batches_match_a_brute_force_count(
    aws_stack: AwsStack, faults: Any, seed: int
) -> None:
    rng = random.Random(seed)
    phones = [f"+1415555{index:04d}" for index in range(12)]
    dynamodb, events_client = _feed_clients(aws_stack)
    (mapping,) = aws_stack.streams.mappings if aws_stack.streams else []
    crashes = 0
    for _ in range(60):
        phone = rng.choice(phones)
        stores().numbers.update(phone, _random_change(rng.choice(OPERATIONS), phone, wiring.utc_now()))
        if rng.random() < 0.3:  # the consumer runs now and then, with odd batch sizes and crashes
            mapping.batch_size = rng.randint(1, 7)
            if rng.random() < 0.5:
                where = rng.choice(["before-call.events.PutEvents", "after-call.dynamodb.TransactWriteItems"])
                fault = faults(events_client if "events" in where else dynamodb, where)
                try:
                    aws_stack.deliver_stream()
                except Killed:
                    crashes += 1
                fault.left = 0  # a fault that found nothing to break this time stays out of the way
            aws_stack.deliver_stream()
    aws_stack.deliver_stream()
    today = wiring.utc_now().date()
    figures = stores().metrics.read("alerts", today, today)
    folded = {
        name: getattr(figures, name) for name in ("opt_ins", "opt_outs", "prompts", "confirmations", "subscribers")
    }
    assert folded == _brute_force(aws_stack, "alerts")
    assert sum(folded.values()) > 0
    assert crashes > 0  # the consumer did die along the way
    revoked = [e for e in aws_stack.bus_events() if e["detail-type"] == "ConsentRevoked"]
    assert {e["detail"]["event_id"] for e in revoked} == {
        item["event_id"]["S"] for item in _scan(aws_stack) if item.get("event_type", {}).get("S") == "ConsentRevoked"
    }  # every committed opt-out reached the bus (some twice: at least once)


# ---------------------------------------------------------------------- the request path stays small


def test_a_keyword_message_costs_at_most_4_dynamodb_requests_and_its_counters_come_from_the_stream(
    aws_stack: AwsStack,
) -> None:
    from sms_consent.pumping import bucket_start
    from sms_consent_local import aws_calls

    inbound(aws_stack, "ALERTS")  # warm: the prompt's request
    for text in ("YES", "STOP", "START", "HELP"):
        with aws_calls.counting() as counts:
            inbound(aws_stack, text)
        assert aws_calls.total(counts, "dynamodb") <= 4, (text, counts)  # idempotency (2), state read, transaction
    before = wiring.utc_now()
    aws_stack.deliver_stream()
    counts_now = {
        key: value
        for start in {bucket_start(before - timedelta(minutes=5)), bucket_start(before)}
        for key, value in stores().counters.read_bucket(start).items()
    }
    country = counts_now[("country", "US")]
    # ALERTS and START each asked for a confirmation, YES gave one: the detector's conversion inputs.
    assert (country.prompts, country.confirmations) == (2, 1)
