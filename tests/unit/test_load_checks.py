"""The load test's checks (bench/load_plan.py) catch what they claim to: run on a perfect run built from
the plan itself, then on that run with one defect injected at a time."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bench import load_plan as lp

BODIES = {
    lp.PROMPT: ("optin_prompt", "Example Corp Alerts: reply YES to confirm"),
    lp.CONFIRMED: ("compliance_reply", "Example Corp Alerts: you are subscribed."),
    lp.STOPPED: ("compliance_reply", "Example Corp Alerts: you are unsubscribed and will receive no more messages."),
    lp.MENU: ("compliance_reply", "Send STOP TONE1 ... Until you answer you will get no messages from us."),
    lp.HELP: ("compliance_reply", "Example Corp Alerts: help at support@example.com"),
}


def perfect(plan: lp.Plan) -> tuple[list[dict[str, Any]], lp.TableView, list[str]]:
    outbox: list[dict[str, Any]] = []
    view = lp.TableView()
    received: list[str] = []
    for script in plan.all:
        for expected in script.expected_replies:
            category, body = BODIES[expected]
            outbox.append({"to": script.phone, "category": category, "body": body, "sent_at": "2026-12-05T10:00:01Z"})
        view.statuses[script.phone] = dict(script.final)
        view.ask_pending[script.phone] = []
        for step in script.steps:
            if step.action == "sms" and step.outcome == lp.AUDIT:
                event = {"phone": script.phone, "program": "alerts", "type": "revoked", "new": "unsubscribed"}
                view.events[step.message_id] = [event]
            elif step.action == "sms" and step.outcome == lp.RECEIVED:
                received.append(step.message_id)
    return outbox, view, received


PLAN = lp.make_plan(12, 8)
RESULTS: dict[str, Any] = {"published": {}, "posted": {}, "failures": []}


def test_the_plan_mixes_duplicates_and_resubmissions_and_round_trips_as_json() -> None:
    assert {script.kind for script in PLAN.all} == set(lp.CONVERSATION_KINDS) | set(lp.SIGNUP_KINDS)
    assert PLAN.duplicates > 0
    assert PLAN.posts > len(PLAN.signups)
    assert lp.Plan.from_json(PLAN.to_json()) == PLAN
    assert len({script.phone for script in PLAN.all}) == len(PLAN.all)
    full = lp.make_plan(2_000, 1_000)
    assert full.inbound_publishes - sum(1 for s in full.signups for step in s.steps if step.action == "sms") == 10_000


def test_a_perfect_run_has_no_findings() -> None:
    outbox, view, received = perfect(PLAN)
    assert lp.check(PLAN, RESULTS, outbox, view, received, {"InboundSmsDeadLetterQueue": 0}).problems == {}


def _with(defect: str) -> set[str]:
    outbox, view, received = perfect(PLAN)
    dead = {"InboundSmsDeadLetterQueue": 0}
    if defect == "second opt-out reply":
        outbox.append(next(line for line in outbox if "unsubscribed" in line["body"]))
    elif defect == "second prompt":
        outbox.append(next(line for line in outbox if line["category"] == "optin_prompt"))
    elif defect == "second confirmation":
        outbox.append(next(line for line in outbox if "you are subscribed" in line["body"]))
    elif defect == "lost audit event":
        view.events.pop(next(iter(view.events)))
    elif defect == "lost bus event":
        received.pop()
    elif defect == "change recorded twice":
        first = next(iter(view.events))
        view.events[first] = copy.deepcopy(view.events[first]) * 2
    elif defect == "opt-out not stored":
        phone = next(s.phone for s in PLAN.conversations if s.final.get("alerts") == "unsubscribed")
        view.statuses[phone]["alerts"] = "subscribed"
    elif defect == "dead letter":
        dead["InboundSmsDeadLetterQueue"] = 1
    return set(lp.check(PLAN, RESULTS, outbox, view, received, dead).problems)


@pytest.mark.parametrize(
    ("defect", "found"),
    [
        ("second opt-out reply", {"wrong_replies", "stop_not_answered_once"}),
        ("second prompt", {"wrong_replies", "double_prompts"}),
        ("second confirmation", {"wrong_replies", "double_confirmations"}),
        ("lost audit event", {"lost"}),
        ("lost bus event", {"lost"}),
        ("change recorded twice", {"duplicate_effects"}),
        ("opt-out not stored", {"not_opted_out"}),
        ("dead letter", {"dead_letters"}),
    ],
)
def test_each_defect_is_found(defect: str, found: set[str]) -> None:
    assert _with(defect) == found
