"""List hygiene through ListHygieneFunction on moto (seed 001): subscriptions are filed in due buckets
by the consent feed (the table's stream), a text through InboundSmsFunction is engagement, and the
daily run sends a reminder through OutboundRequestsTopic and the send gate to the due subscriber,
skips the engaged one, removes the one with three unanswered reminders (audit event and bus event with
source list_hygiene), and reads only its buckets: no Scan. GET /v1/metrics reports the run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sms_consent import consent, list_hygiene, wiring
from sms_consent.consent import EventType, Source, Status
from sms_consent.repository.hygiene import DynamoHygieneIndex, DynamoHygieneLog
from sms_consent_local import aws_calls
from tests.conftest import AwsStack, api_request, load_event, stores
from tests.integration.test_optin_api import inbound

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)  # no quiet hours
DUE, ENGAGED, UNENGAGED, FRESH = "+12125550131", "+12125550132", "+12125550133", "+12125550134"


@pytest.fixture
def at_noon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "utc_now", lambda: NOW)


def subscribe(phone: str, at: datetime) -> None:
    stores().numbers.update(
        phone, lambda s: consent.grant(s, "alerts", source="web_form", at=at, now=at, evidence={"test": True})
    )


def run(stack: AwsStack) -> dict[str, Any]:
    result: dict[str, Any] = stack.invoke("ListHygieneFunction", load_event("list_hygiene/scheduled.json"))
    return result


def metrics(stack: AwsStack) -> dict[str, Any]:
    response = stack.invoke("AdminApiFunction", api_request("GET", "/v1/metrics", query={"program": "alerts"}))
    assert response["statusCode"] == 200, response
    document: dict[str, Any] = json.loads(response["body"])
    return document


def test_the_daily_run_reminds_skips_and_removes_from_its_buckets_without_a_scan(
    aws_stack: AwsStack, at_noon: None
) -> None:
    table = stores().numbers.table
    ninety = NOW - timedelta(days=90)
    subscribe(DUE, ninety)
    subscribe(ENGAGED, ninety)
    subscribe(FRESH, NOW - timedelta(days=10))
    # Subscribed a year ago, reminded three times since without an answer; the last run filed it under
    # the day of its third reminder.
    start = NOW - timedelta(days=360)
    subscribe(UNENGAGED, start)
    reminders = tuple(int((start + timedelta(days=90 * n)).timestamp()) for n in (1, 2, 3))
    DynamoHygieneLog(table).record_reminder(UNENGAGED, "alerts", reminders)
    DynamoHygieneIndex(table).schedule("alerts", ninety.date(), [UNENGAGED])
    aws_stack.deliver_stream()  # the consent feed files the subscriptions under their days
    due_bucket = {entry.phone for entry in DynamoHygieneIndex(table).due("alerts", ninety.date())}
    assert due_bucket == {DUE, ENGAGED, UNENGAGED}
    inbound(aws_stack, "See you Saturday!", origin=ENGAGED, at=NOW - timedelta(days=5))  # engagement
    assert stores().numbers.get(ENGAGED).engaged_at == NOW - timedelta(days=5)
    aws_stack.outbound_envelopes()  # whatever the inbound text produced
    aws_stack.bus_events()

    with aws_calls.counting() as calls:
        result = run(aws_stack)

    assert calls["dynamodb.Query"] >= 4
    assert calls["sns.Publish"] == 1
    assert not any(name.endswith(".Scan") for name in calls), calls
    assert result["programs"]["alerts"] == {"audited": 3, "engaged": 1, "skipped": 1, "reminders": 1, "removals": 1}
    envelopes = aws_stack.outbound_envelopes()
    requests = [json.loads(envelope["Message"]) for envelope in envelopes]
    assert [(r["recipients"], r["category"], r["metadata"]["intent"]) for r in requests] == [
        ([DUE], "marketing", list_hygiene.REMINDER_INTENT)
    ]
    for envelope in envelopes:  # the gate decides: subscribed, daytime, under the caps
        aws_stack.invoke("SendGateFunction", aws_stack.sns_event_for(envelope))
    (sent,) = aws_stack.outbox_lines()
    assert (sent["to"], sent["from"], sent["category"]) == (DUE, "+18005550100", "marketing")
    assert "STOP" in sent["body"]
    assert "Example Corp Alerts" in sent["body"]
    assert stores().numbers.get(DUE).reminders["alerts"] == (int(NOW.timestamp()),)

    engaged = stores().numbers.get(ENGAGED)
    assert engaged.status("alerts") is Status.SUBSCRIBED
    assert "alerts" not in engaged.reminders
    removed = stores().numbers.get(UNENGAGED)
    program = removed.programs["alerts"]
    assert (program.status, program.source, program.consumer_opted_out) == (
        Status.UNSUBSCRIBED,
        Source.LIST_HYGIENE,
        False,
    )
    event = stores().numbers.history(UNENGAGED)[-1]
    assert (event.event_type, event.source, event.new_status) == (EventType.REVOKED, "list_hygiene", "unsubscribed")
    assert event.evidence["unanswered_reminders"] == 3
    revoked = [e for e in aws_stack.bus_events() if e["detail-type"] == "ConsentRevoked"]
    assert [(e["detail"]["phone"], e["detail"]["source"]) for e in revoked] == [(UNENGAGED, "list_hygiene")]

    # The day's bucket is drained; the reminded and the skipped are filed under today, the removed nowhere.
    index = DynamoHygieneIndex(table)
    assert index.due("alerts", ninety.date()) == []
    assert {entry.phone for entry in index.due("alerts", NOW.date())} == {DUE, ENGAGED}

    figures = metrics(aws_stack)["list_hygiene"]
    assert figures == {"reminders_sent": 1, "removals": 1, "audited": 3, "engaged": 1, "engaged_share": 0.3333}

    # A second run the same day finds nothing due and sends nothing.
    assert run(aws_stack)["programs"]["alerts"] == {}
    assert aws_stack.outbound_requests() == []


def test_the_removed_number_texting_start_joins_again(aws_stack: AwsStack, at_noon: None) -> None:
    table = stores().numbers.table
    start = NOW - timedelta(days=360)
    subscribe(UNENGAGED, start)
    reminders = tuple(int((start + timedelta(days=90 * n)).timestamp()) for n in (1, 2, 3))
    DynamoHygieneLog(table).record_reminder(UNENGAGED, "alerts", reminders)
    DynamoHygieneIndex(table).schedule("alerts", (NOW - timedelta(days=90)).date(), [UNENGAGED])
    run(aws_stack)
    assert stores().numbers.get(UNENGAGED).status("alerts") is Status.UNSUBSCRIBED

    inbound(aws_stack, "START", origin=UNENGAGED, at=NOW + timedelta(minutes=1))
    inbound(aws_stack, "YES", origin=UNENGAGED, at=NOW + timedelta(minutes=2))

    state = stores().numbers.get(UNENGAGED)
    assert (state.status("alerts"), state.programs["alerts"].source) == (Status.SUBSCRIBED, Source.KEYWORD)
    assert state.engaged_at == NOW + timedelta(minutes=1)  # written once that day
