"""The carrier's list and ours agree, end to end on the local stack (moto server, the template's own
schedule and EventBridge rule): a number the consumer opted out at the provider is synced and gets
no more marketing, while a subscribed neighbour still does; a delivery the carrier blocked makes the
number's opt-out count at once; a consumer's STOP by text reaches the provider's list through the
consent events on the bus."""

from __future__ import annotations

import json
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sms_consent.adapters.opt_out_lists import LocalOptOutList
from tests.conftest import load_event
from tests.e2e.conftest import RunningStack

OPTED_OUT_AT_CARRIER = "+14155557501"
STILL_SUBSCRIBED = "+14155557502"
TEXTS_STOP = "+14155557503"
BLOCKED_AT_CARRIER = "+14155557504"
WAIT_SECONDS = 30


def _subscribe(stack: RunningStack, phone: str) -> None:
    answer = stack.api(
        "PUT",
        f"/v1/numbers/{urllib.parse.quote(phone)}/programs/alerts",
        json={"status": "subscribed", "source": "import"},
    )
    assert answer.status_code == 200, answer.text


def _provider_list(stack: RunningStack) -> LocalOptOutList:
    return LocalOptOutList(Path(stack.outputs["OutboxPath"]).parent / "provider_opt_outs.jsonl")


def _next_weekday_noon_in_california() -> str:
    # The gate check takes the instant to decide for: a weekday at noon Pacific, outside quiet hours.
    moment = datetime.now(UTC).replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment.isoformat()


def test_a_provider_opt_out_is_synced_and_stops_marketing_to_that_number_only(local_stack: RunningStack) -> None:
    for phone in (OPTED_OUT_AT_CARRIER, STILL_SUBSCRIBED):
        _subscribe(local_stack, phone)
    _provider_list(local_stack).add(OPTED_OUT_AT_CARRIER)

    fired = local_stack.api("POST", "/_local/schedules/ProviderSyncFunction", key=False)
    assert fired.status_code == 200, fired.text
    check = {
        "program": "alerts",
        "category": "marketing",
        "recipients": [OPTED_OUT_AT_CARRIER, STILL_SUBSCRIBED],
        "body": "Example Corp Alerts: the winter sale starts today.",
        "at": _next_weekday_noon_in_california(),
    }
    answer = local_stack.api("POST", "/v1/gate/check", json=check)

    assert answer.status_code == 200, answer.text
    decisions = {d["phone"]: (d["decision"], d["reason"]) for d in answer.json()["decisions"]}
    assert decisions[OPTED_OUT_AT_CARRIER] == ("deny", "OPTED_OUT")
    assert decisions[STILL_SUBSCRIBED][0] == "allow"
    history = local_stack.api("GET", f"/v1/numbers/{urllib.parse.quote(OPTED_OUT_AT_CARRIER)}/history").json()
    assert [(e["type"], e["source"]) for e in history["events"] if e["program"] == "alerts"][-1] == (
        "ConsentRevoked",
        "carrier",
    )


def test_a_consumers_stop_by_text_reaches_the_providers_list(local_stack: RunningStack) -> None:
    _subscribe(local_stack, TEXTS_STOP)
    local_stack.publish_inbound(TEXTS_STOP, "STOP")

    deadline = time.monotonic() + WAIT_SECONDS
    listed: list[str] = []
    while time.monotonic() < deadline and TEXTS_STOP not in listed:
        listed = [entry.phone for entry in _provider_list(local_stack).opted_out()]
        time.sleep(0.2)  # a poll bound, not a speed requirement: the stream, the bus and the rule run first
    assert TEXTS_STOP in listed


def test_a_blocked_delivery_makes_the_opt_out_count_before_the_next_sync(local_stack: RunningStack) -> None:
    _subscribe(local_stack, BLOCKED_AT_CARRIER)
    _provider_list(local_stack).add(BLOCKED_AT_CARRIER)  # a STOP to the carrier; no scheduled sync runs here
    event = json.loads(load_event("provider_sync/delivery_blocked.json")["Records"][0]["Sns"]["Message"]) | {
        "destinationPhoneNumber": BLOCKED_AT_CARRIER
    }
    local_stack.client("sns").publish(TopicArn=local_stack.outputs["DeliveryEventsTopicArn"], Message=json.dumps(event))

    deadline = time.monotonic() + WAIT_SECONDS
    status = "subscribed"
    while time.monotonic() < deadline and status != "unsubscribed":
        time.sleep(0.2)  # a poll bound, not a speed requirement: the topic and the function run first
        programs = local_stack.api("GET", f"/v1/numbers/{urllib.parse.quote(BLOCKED_AT_CARRIER)}").json()["programs"]
        status = programs["alerts"]["status"]
    check = {
        "program": "alerts",
        "category": "marketing",
        "recipients": [BLOCKED_AT_CARRIER],
        "body": "Example Corp Alerts: the winter sale starts today.",
        "at": _next_weekday_noon_in_california(),
    }
    answer = local_stack.api("POST", "/v1/gate/check", json=check)

    assert status == "unsubscribed"
    assert [(d["decision"], d["reason"]) for d in answer.json()["decisions"]] == [("deny", "OPTED_OUT")]
    history = local_stack.api("GET", f"/v1/numbers/{urllib.parse.quote(BLOCKED_AT_CARRIER)}/history").json()
    revoked = [e for e in history["events"] if e["program"] == "alerts" and e["type"] == "ConsentRevoked"]
    assert revoked[-1]["source"] == "carrier"
    assert revoked[-1]["evidence"]["delivery_event"] == "TEXT_BLOCKED"
