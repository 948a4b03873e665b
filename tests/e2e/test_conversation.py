"""Seed 004's conversation on a shared short code, on the local stack, replies read from the outbox.

JOIN TONE1, the prompt, YES, the confirmation; the same for TONE2; a bare STOP and its menu;
STOP TONE1 (the answer), STOP ALL, HELP. Every reply goes through the send gate to the outbox.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PHONE = "+14155550177"
SHORT_CODE = "12345"


def _statuses(stack: RunningStack) -> tuple[dict[str, str], dict[str, Any]]:
    """The number's status per program of the short code and its open STOP menus, read from the table.
    (From the FCC's revoke-all date, STOP ALL also ends the deployment's other marketing programs: see
    test_stop_all_reaches_other_senders_from_the_revoke_all_date.)"""
    item = stack.client("dynamodb").get_item(
        TableName=stack.outputs["ConsentTableName"],
        Key={"PK": {"S": f"PHONE#{PHONE}"}, "SK": {"S": "STATE"}},
        ConsistentRead=True,
    )["Item"]
    programs = {
        name: value["M"]["status"]["S"] for name, value in item["programs"]["M"].items() if name in ("tone1", "tone2")
    }
    return programs, item.get("ask_pending", {}).get("M", {})


def test_join_confirm_menu_scoped_stop_stop_all_help(local_stack: RunningStack) -> None:
    def say(text: str) -> dict[str, str]:
        """Send one message and wait for its one reply (each waits for the previous reply, so the
        SNS timestamps follow the conversation's order)."""
        before = len([line for line in local_stack.outbox_lines() if line["to"] == PHONE])
        local_stack.publish_inbound(PHONE, text, to=SHORT_CODE)
        lines = local_stack.wait_outbox(lambda line: line["to"] == PHONE, count=before + 1)
        (reply,) = lines[before:]
        assert reply["from"] == SHORT_CODE
        return reply

    prompt = say("JOIN TONE1")
    assert prompt["category"] == "optin_prompt"
    assert "Polytone club! To confirm" in prompt["body"]
    assert "reply YES" in prompt["body"]
    assert "Msg & data rates may apply" in prompt["body"]

    confirmation = say("YES")
    assert confirmation["category"] == "compliance_reply"
    assert "Polytone club: you are subscribed" in confirmation["body"]

    assert "Truetone club! To confirm" in say("TONE2")["body"]
    assert "Truetone club: you are subscribed" in say("yes")["body"]
    assert _statuses(local_stack) == ({"tone1": "subscribed", "tone2": "subscribed"}, {})

    menu = say("STOP")
    assert menu["category"] == "compliance_reply"
    assert "Send STOP TONE1 for Polytone club, STOP TONE2 for Truetone club, or STOP ALL" in menu["body"]
    statuses, asks = _statuses(local_stack)
    assert statuses == {"tone1": "subscribed", "tone2": "subscribed"}
    assert set(asks) == {SHORT_CODE}, "until the number answers, the short code treats it as opted out"

    scoped = say("STOP TONE1")
    assert scoped["category"] == "compliance_reply"
    assert "Polytone club: you are unsubscribed" in scoped["body"]
    assert _statuses(local_stack) == ({"tone1": "unsubscribed", "tone2": "subscribed"}, {})

    everything = say("STOP ALL")
    assert "unsubscribed from all" in everything["body"]
    assert _statuses(local_stack) == ({"tone1": "unsubscribed", "tone2": "unsubscribed"}, {})

    help_reply = say("HELP")
    assert help_reply["category"] == "compliance_reply"
    assert "help@tones.example" in help_reply["body"]


def test_stop_all_reaches_other_senders_from_the_revoke_all_date(local_stack: RunningStack) -> None:
    from datetime import UTC, datetime

    from sms_consent.config import load_config
    from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

    phone = "+14155550178"
    local_stack.publish_inbound(phone, "STOP ALL", to=SHORT_CODE)
    local_stack.wait_outbox(lambda line: line["to"] == phone)
    item = local_stack.client("dynamodb").get_item(
        TableName=local_stack.outputs["ConsentTableName"],
        Key={"PK": {"S": f"PHONE#{phone}"}, "SK": {"S": "STATE"}},
        ConsistentRead=True,
    )["Item"]
    scope = load_config(DEFAULT_PROGRAM_CONFIG).consumer_opt_out_programs(("tone1", "tone2"), datetime.now(UTC))
    assert set(item["programs"]["M"]) == set(scope)
