"""Numbers and profiles through AdminApiFunction's handler, on moto: a number's state, status changes by
source (who enters double opt-in), the protection of consumer opt-outs, the audit trail, and profiles
that share a number or move to another one."""

from __future__ import annotations

import json
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sms_consent import consent
from sms_consent.consent import EventType, Status
from tests.conftest import AwsStack, api_request, stores

PHONE = "+14155550177"
OTHER = "+14155550178"


def call(
    stack: AwsStack, method: str, resource: str, params: dict[str, str], body: Any = None
) -> tuple[int, dict[str, Any]]:
    path = resource
    for name, value in params.items():
        path = path.replace("{" + name + "}", urllib.parse.quote(value, safe=""))
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = api_request(method, path, resource=resource, path_parameters=params, body=raw, source_ip="10.1.2.3")
    response = stack.invoke("AdminApiFunction", event)
    content_type = (response.get("headers") or {}).get("Content-Type") or (response.get("multiValueHeaders") or {}).get(
        "Content-Type", [""]
    )[0]
    document = json.loads(response["body"]) if response.get("body") else {}
    if response["statusCode"] >= 400:
        assert content_type == "application/problem+json"
    return response["statusCode"], document


def put_status(stack: AwsStack, phone: str, program: str = "alerts", **body: Any) -> tuple[int, dict[str, Any]]:
    return call(stack, "PUT", "/v1/numbers/{phone}/programs/{program}", {"phone": phone, "program": program}, body)


def get_number(stack: AwsStack, phone: str) -> dict[str, Any]:
    status, document = call(stack, "GET", "/v1/numbers/{phone}", {"phone": phone})
    assert status == 200
    return document


def link(stack: AwsStack, user_id: str, phone: str) -> tuple[int, dict[str, Any]]:
    return call(stack, "PUT", "/v1/users/{user_id}/phone", {"user_id": user_id}, {"phone": phone})


def consumer_stop(phone: str, program: str = "alerts") -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    stores().numbers.update(
        phone,
        lambda state: consent.revoke(
            consent.grant(state, program, source="keyword", at=at - timedelta(days=1), now=at, evidence={}).state,
            program,
            source="keyword",
            at=at,
            now=at,
            evidence={"inbound_message_id": "stop-1"},
        ),
    )


def test_an_unknown_number_has_no_programs_and_any_format_parses(aws_stack: AwsStack) -> None:
    document = get_number(aws_stack, "(415) 555-0177")
    assert document == {"phone": PHONE, "programs": {}, "block": None, "users": []}


@pytest.mark.parametrize(
    ("body", "prompted", "status"),
    [
        ({"status": "subscribed", "source": "api"}, False, "subscribed"),
        ({"status": "subscribed", "source": "api", "use_double_opt_in": True}, True, "pending"),
        ({"status": "subscribed", "source": "sdk"}, True, "pending"),
        ({"status": "subscribed", "source": "preference_center"}, True, "pending"),
        ({"status": "subscribed", "source": "import", "use_double_opt_in": True}, False, "subscribed"),
    ],
)
def test_which_sources_enter_double_opt_in(
    aws_stack: AwsStack, body: dict[str, Any], prompted: bool, status: str
) -> None:
    answer, document = put_status(aws_stack, PHONE, **body)

    assert answer == 200
    assert document["programs"]["alerts"]["status"] == status
    assert document["result"]["prompt_sent"] is prompted
    requests = aws_stack.outbound_requests()
    if prompted:
        assert [request["category"] for request in requests] == ["optin_prompt"]
        assert requests[0]["recipients"] == [PHONE]
        assert document["programs"]["alerts"]["pending"]["source"] == body["source"]
    else:
        assert requests == []
        assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED
    (event,) = stores().numbers.history(PHONE)
    assert event.source == body["source"]
    assert event.evidence["client_ip"] == "10.1.2.3"


@pytest.mark.parametrize("source", ["api", "import", "sdk", "preference_center"])
def test_no_source_silently_undoes_a_consumer_opt_out(aws_stack: AwsStack, source: str) -> None:
    consumer_stop(PHONE)

    answer, document = put_status(aws_stack, PHONE, status="subscribed", source=source)

    assert answer == 200
    assert document["result"]["double_opt_in_reason"] == "consumer_opted_out"
    assert "only the consumer" in document["result"]["detail"]
    assert document["programs"]["alerts"]["status"] == "pending"  # stored: unsubscribed, until the consumer confirms
    assert document["programs"]["alerts"]["pending"] is not None
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    assert [request["category"] for request in aws_stack.outbound_requests()] == ["optin_prompt"]


def test_an_admin_unsubscribe_is_not_a_consumer_opt_out_but_a_preference_center_one_is(aws_stack: AwsStack) -> None:
    put_status(aws_stack, PHONE, status="subscribed", source="import")
    assert put_status(aws_stack, PHONE, status="unsubscribed", source="api")[1]["programs"]["alerts"]["status"] == (
        "unsubscribed"
    )
    again = put_status(aws_stack, PHONE, status="subscribed", source="api")[1]
    assert again["programs"]["alerts"]["status"] == "subscribed"

    put_status(aws_stack, PHONE, status="unsubscribed", source="preference_center")
    blocked = put_status(aws_stack, PHONE, status="subscribed", source="api")[1]
    assert blocked["programs"]["alerts"]["status"] == "pending"
    assert blocked["result"]["double_opt_in_reason"] == "consumer_opted_out"


def test_history_is_the_audit_trail_oldest_first(aws_stack: AwsStack) -> None:
    put_status(aws_stack, PHONE, status="subscribed", source="import", note="CRM import batch 7")
    put_status(aws_stack, PHONE, status="unsubscribed", source="api")

    status, document = call(aws_stack, "GET", "/v1/numbers/{phone}/history", {"phone": "415-555-0177"})

    assert status == 200
    events = document["events"]
    assert [(event["type"], event["old_status"], event["new_status"]) for event in events] == [
        (EventType.GRANTED.value, None, "subscribed"),
        (EventType.REVOKED.value, "subscribed", "unsubscribed"),
    ]
    assert events[0]["evidence"]["note"] == "CRM import batch 7"
    assert events[0]["at"] <= events[1]["at"]
    assert all(event["phone"] == PHONE for event in events)


@pytest.mark.parametrize(
    ("method", "resource", "params", "body", "status", "detail"),
    [
        ("GET", "/v1/numbers/{phone}", {"phone": "12"}, None, 400, "phone"),
        ("GET", "/v1/numbers/{phone}", {"phone": "' OR 1=1 --"}, None, 400, "phone"),
        ("GET", "/v1/numbers/{phone}/history", {"phone": "x" * 200}, None, 400, "phone"),
        (
            "PUT",
            "/v1/numbers/{phone}/programs/{program}",
            {"phone": PHONE, "program": "nosuch"},
            {"status": "subscribed"},
            404,
            "nosuch",
        ),
        (
            "PUT",
            "/v1/numbers/{phone}/programs/{program}",
            {"phone": PHONE, "program": "alerts"},
            {"status": "maybe"},
            400,
            "status",
        ),
        (
            "PUT",
            "/v1/numbers/{phone}/programs/{program}",
            {"phone": PHONE, "program": "alerts"},
            {"status": "subscribed", "source": "keyword"},
            400,
            "source",
        ),
        (
            "PUT",
            "/v1/numbers/{phone}/programs/{program}",
            {"phone": PHONE, "program": "alerts"},
            {"status": "subscribed", "admin": True},
            400,
            "admin",
        ),
        ("PUT", "/v1/numbers/{phone}/programs/{program}", {"phone": PHONE, "program": "alerts"}, "{", 400, "JSON"),
        ("PUT", "/v1/users/{user_id}/phone", {"user_id": "../../etc"}, {"phone": PHONE}, 400, "user_id"),
        ("PUT", "/v1/users/{user_id}/phone", {"user_id": "u" * 200}, {"phone": PHONE}, 400, "user_id"),
        ("PUT", "/v1/users/{user_id}/phone", {"user_id": "u-1"}, {"phone": "+1 415"}, 400, "phone"),
        ("PUT", "/v1/users/{user_id}/phone", {"user_id": "u-1"}, [PHONE], 400, "JSON object"),
    ],
)
def test_bad_requests_are_problem_documents_that_change_nothing(
    aws_stack: AwsStack,
    method: str,
    resource: str,
    params: dict[str, str],
    body: Any,
    status: int,
    detail: str,
) -> None:
    answer, document = call(aws_stack, method, resource, params, body)

    assert answer == status
    assert detail.lower() in document["detail"].lower()
    assert stores().numbers.history(PHONE) == []
    assert aws_stack.outbound_requests() == []


def test_profiles_that_share_a_number_all_see_its_status(aws_stack: AwsStack) -> None:
    put_status(aws_stack, PHONE, status="subscribed", source="import")

    first = link(aws_stack, "alice", "(415) 555-0177")
    second = link(aws_stack, "bob", PHONE)

    assert first[0] == second[0] == 200
    assert second[1]["number"]["programs"]["alerts"]["status"] == "subscribed"
    assert sorted(second[1]["number"]["users"]) == ["alice", "bob"]
    assert sorted(get_number(aws_stack, PHONE)["users"]) == ["alice", "bob"]
    # A status change reaches both: it lives on the number, not on copies per profile.
    put_status(aws_stack, PHONE, status="unsubscribed", source="api")
    assert get_number(aws_stack, PHONE)["programs"]["alerts"]["status"] == "unsubscribed"
    # Linking again to the same number changes nothing.
    assert link(aws_stack, "alice", PHONE)[1]["previous_phone"] == PHONE


def test_a_user_who_changes_number_takes_their_statuses_along(aws_stack: AwsStack) -> None:
    put_status(aws_stack, PHONE, status="subscribed", source="import")
    consumer_stop(PHONE, "tone1")
    link(aws_stack, "alice", PHONE)
    link(aws_stack, "bob", PHONE)

    status, document = link(aws_stack, "alice", OTHER)

    assert status == 200
    assert document["previous_phone"] == PHONE
    assert document["carried"] == {"alerts": "subscribed", "tone1": "unsubscribed"}
    moved = stores().numbers.get(OTHER)
    assert moved.status("alerts") is Status.SUBSCRIBED
    assert moved.status("tone1") is Status.UNSUBSCRIBED
    assert moved.programs["tone1"].consumer_opted_out  # the consumer's STOP stays theirs to undo
    assert get_number(aws_stack, PHONE)["users"] == ["bob"]
    assert get_number(aws_stack, OTHER)["users"] == ["alice"]
    # The old number keeps its own state: bob still uses it.
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED
    carried = stores().numbers.history(OTHER)
    assert {event.source for event in carried} == {"profile"}
    assert all(event.evidence["previous_phone"] == PHONE for event in carried)
    assert {"ConsentGranted", "ConsentRevoked"} <= {event["detail-type"] for event in aws_stack.bus_events()}


def test_a_move_never_subscribes_a_number_whose_own_consumer_opted_out(aws_stack: AwsStack) -> None:
    put_status(aws_stack, PHONE, status="subscribed", source="import")
    consumer_stop(OTHER)
    link(aws_stack, "alice", PHONE)

    status, document = link(aws_stack, "alice", OTHER)

    assert status == 200
    assert document["carried"] == {"alerts": "kept_opted_out"}
    assert stores().numbers.get(OTHER).status("alerts") is Status.UNSUBSCRIBED


def test_an_unsubscribe_asked_for_by_phone_days_ago_is_timed_against_the_fcc_limit(aws_stack: AwsStack) -> None:
    put_status(aws_stack, PHONE, status="subscribed", source="import")
    asked = datetime.now(UTC) - timedelta(days=20)  # 14 or more business days, whatever today is

    status, _ = put_status(aws_stack, PHONE, status="unsubscribed", requested_at=asked.isoformat(), note="by phone")
    aws_stack.deliver_stream()

    assert status == 200
    (revoked,) = [e for e in stores().numbers.history(PHONE) if e.event_type is EventType.REVOKED]
    assert datetime.fromisoformat(revoked.evidence["requested_at"]) == asked
    response = aws_stack.invoke("AdminApiFunction", api_request("GET", "/v1/metrics", query={"program": "alerts"}))
    assert json.loads(response["body"])["revocations"] == {"within_10_business_days": 0, "later": 1}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"status": "subscribed", "requested_at": "2026-11-02T10:00:00Z"}, "only an unsubscribe"),
        ({"status": "unsubscribed", "requested_at": "2099-01-01T00:00:00Z"}, "not in the future"),
        ({"status": "unsubscribed", "requested_at": "2020-01-01T00:00:00Z"}, "in the past year"),
        ({"status": "unsubscribed", "requested_at": "last tuesday"}, "requested_at"),
    ],
)
def test_a_request_time_that_cannot_be_true_is_refused(aws_stack: AwsStack, body: dict[str, str], detail: str) -> None:
    status, document = put_status(aws_stack, PHONE, **body)

    assert status == 400
    assert detail in document["detail"]
    assert stores().numbers.history(PHONE) == []
