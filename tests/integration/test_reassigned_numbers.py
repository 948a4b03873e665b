"""Reassigned numbers through SendGateFunction on moto, with the local stand-in for the FCC database
(the file the harness names in REASSIGNED_NUMBERS_FILE): the number is denied, its consent ended
with an audit event, nothing reaches the outbox; the check route answers alike and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sms_consent import consent, wiring
from sms_consent.consent import EventType, Source, Status
from tests.conftest import AwsStack, api_request, load_event, stores

REASSIGNED = "+12125550123"
KEPT = "+12125550124"
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)  # no quiet hours
CONSENT = NOW - timedelta(days=120)


@pytest.fixture
def at_noon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wiring, "utc_now", lambda: NOW)


def subscribe(phone: str) -> None:
    stores().numbers.update(
        phone, lambda s: consent.grant(s, "alerts", source="keyword", at=CONSENT, now=CONSENT, evidence={})
    )


def database_file(stack: AwsStack) -> Path:
    path = Path(stack.runner.env["SendGateFunction"]["REASSIGNED_NUMBERS_FILE"])
    assert path == Path(stack.runner.env["AdminApiFunction"]["REASSIGNED_NUMBERS_FILE"])
    return path


def disconnect(stack: AwsStack, phone: str, days_after_consent: int) -> None:
    day = (CONSENT + timedelta(days=days_after_consent)).date().isoformat()
    with database_file(stack).open("a", encoding="utf-8") as file:
        file.write(json.dumps({"phone": phone, "disconnected_at": day}) + "\n")


def send_marketing(stack: AwsStack, *recipients: str) -> list[dict[str, Any]]:
    """Every event on the bus after the gate decided: SendDecided, and what the stream folded in."""
    event: dict[str, Any] = load_event("send_gate/marketing.json")
    request = json.loads(event["Records"][0]["Sns"]["Message"])
    request.update(program="alerts", category="marketing", recipients=list(recipients), sender=None)
    request["body"] = "Example Corp Alerts: sale today."
    event["Records"][0]["Sns"]["Message"] = json.dumps(request)
    assert stack.invoke("SendGateFunction", event) == {"decided": len(recipients)}
    return stack.bus_events()


def decisions(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["detail"]["phone"]: e for e in events if e["detail-type"] == "SendDecided"}


def test_a_number_disconnected_since_its_consent_is_denied_and_its_consent_ended(
    aws_stack: AwsStack, at_noon: None
) -> None:
    subscribe(REASSIGNED)
    subscribe(KEPT)
    disconnect(aws_stack, REASSIGNED, days_after_consent=30)
    disconnect(aws_stack, KEPT, days_after_consent=-10)  # before its consent: the consent is the new holder's

    bus = send_marketing(aws_stack, REASSIGNED, KEPT)
    decided = decisions(bus)

    assert decided[REASSIGNED]["detail"]["decision"] == "deny"
    assert decided[REASSIGNED]["detail"]["reason"] == "NUMBER_REASSIGNED"
    assert decided[KEPT]["detail"]["reason"] == "ALLOWED"
    assert [line["to"] for line in aws_stack.outbox_lines()] == [KEPT]
    state = stores().numbers.get(REASSIGNED)
    assert state.status("alerts") is Status.UNSUBSCRIBED
    assert state.programs["alerts"].source == Source.REASSIGNED_NUMBERS
    assert not state.programs["alerts"].consumer_opted_out
    revoked = stores().numbers.history(REASSIGNED)[-1]
    assert (revoked.event_type, revoked.source, revoked.old_status) == (
        EventType.REVOKED,
        Source.REASSIGNED_NUMBERS,
        Status.SUBSCRIBED,
    )
    assert revoked.evidence["reassigned_numbers_answer"] == "yes"
    assert revoked.evidence["consent_date"] == CONSENT.date().isoformat()
    assert revoked.evidence["checked_at"].startswith(NOW.date().isoformat())
    assert revoked.evidence["request_id"] == decided[REASSIGNED]["detail"]["request_id"]
    assert [(e["detail"]["phone"], e["detail"]["source"]) for e in bus if e["detail-type"] == "ConsentRevoked"] == [
        (REASSIGNED, "reassigned_numbers")
    ]
    assert stores().numbers.get(KEPT).status("alerts") is Status.SUBSCRIBED

    again = decisions(send_marketing(aws_stack, REASSIGNED))  # the consent is gone: an ordinary opted-out number now
    assert again[REASSIGNED]["detail"]["reason"] == "OPTED_OUT"
    assert [line["to"] for line in aws_stack.outbox_lines()] == [KEPT]


def test_the_check_route_answers_number_reassigned_and_changes_nothing(aws_stack: AwsStack, at_noon: None) -> None:
    subscribe(REASSIGNED)
    disconnect(aws_stack, REASSIGNED, days_after_consent=1)
    body = {"program": "alerts", "category": "marketing", "recipients": [REASSIGNED],
            "body": "Example Corp Alerts: sale today."}  # fmt: skip

    response = aws_stack.invoke("AdminApiFunction", api_request("POST", "/v1/gate/check", body=json.dumps(body)))

    assert response["statusCode"] == 200
    (decision,) = json.loads(response["body"])["decisions"]
    assert (decision["decision"], decision["reason"]) == ("deny", "NUMBER_REASSIGNED")
    assert stores().numbers.get(REASSIGNED).status("alerts") is Status.SUBSCRIBED


def test_a_database_that_cannot_answer_defers_the_send(aws_stack: AwsStack, at_noon: None) -> None:
    subscribe(REASSIGNED)
    database_file(aws_stack).write_text("not json\n", encoding="utf-8")

    decided = decisions(send_marketing(aws_stack, REASSIGNED))

    assert decided[REASSIGNED]["detail"]["decision"] == "defer"
    assert decided[REASSIGNED]["detail"]["reason"] == "REASSIGNED_CHECK_UNAVAILABLE"
    assert decided[REASSIGNED]["detail"]["retry_at"]
    assert aws_stack.outbox_lines() == []
    assert stores().numbers.get(REASSIGNED).status("alerts") is Status.SUBSCRIBED
