"""Seed 004's conversation on a shared short code, on the local stack, replies read from the outbox."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PHONE = "+14155550177"
SHORT_CODE = "12345"


def test_join_confirm_scoped_stop_stop_all_help(local_stack: RunningStack) -> None:
    def say(text: str, expected_replies: int) -> dict[str, str]:
        before = len([line for line in local_stack.outbox_lines() if line["to"] == PHONE])
        local_stack.publish_inbound(PHONE, text, to=SHORT_CODE)
        lines = local_stack.wait_outbox(lambda line: line["to"] == PHONE, count=before + expected_replies)
        time.sleep(0.3)  # SNS timestamps order decisions; keep the steps apart
        reply = lines[-1]
        assert reply["from"] == SHORT_CODE
        return reply

    prompt = say("JOIN TONE1", 1)
    assert prompt["category"] == "optin_prompt"
    assert "reply YES" in prompt["body"]
    assert "Msg & data rates may apply" in prompt["body"]

    confirmation = say("YES", 1)
    assert confirmation["category"] == "compliance_reply"
    assert "Polytone club: you are subscribed" in confirmation["body"]

    scoped = say("STOP TONE1", 1)
    assert "Polytone club: you are unsubscribed" in scoped["body"]

    everything = say("STOP ALL", 1)
    assert "unsubscribed from all" in everything["body"]

    help_reply = say("HELP", 1)
    assert "help@tones.example" in help_reply["body"]
