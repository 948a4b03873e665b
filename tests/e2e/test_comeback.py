"""A consumer who comes back is always answered (issue: consent rules, part 1), on the local stack.

ALERTS, YES, STOP, then START within the same minute: the START gets its confirmation prompt (it
used to get nothing, held by the 10-minute limit meant for web forms), and while it is pending the
API shows the program as `pending`. A consumer who texts START again and again gets a bounded number
of replies, not one per text.
"""

from __future__ import annotations

import pytest

from sms_consent.frequency_caps import REPLY_LIMIT
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

TOLL_FREE = "+18005550100"


def _replies(stack: RunningStack, phone: str) -> list[dict[str, str]]:
    return [line for line in stack.outbox_lines() if line["to"] == phone]


def test_a_start_right_after_stop_gets_its_prompt_and_reads_pending(local_stack: RunningStack) -> None:
    phone = "+14155550181"

    def say(text: str) -> dict[str, str]:
        before = len(_replies(local_stack, phone))
        local_stack.publish_inbound(phone, text, to=TOLL_FREE)
        return local_stack.wait_outbox(lambda line: line["to"] == phone, count=before + 1)[before]

    assert say("ALERTS")["category"] == "optin_prompt"
    assert "you are subscribed" in say("YES")["body"]
    assert "unsubscribed" in say("STOP")["body"]
    again = say("START")  # seconds after the first prompt: the consumer's own message is always answered
    assert again["category"] == "optin_prompt"
    number = local_stack.api("GET", f"/v1/numbers/{phone}").json()
    assert number["programs"]["alerts"]["status"] == "pending"
    assert "you are subscribed" in say("YES")["body"]
    assert local_stack.api("GET", f"/v1/numbers/{phone}").json()["programs"]["alerts"]["status"] == "subscribed"


def test_texting_start_again_and_again_gets_a_bounded_number_of_replies(local_stack: RunningStack) -> None:
    phone = "+14155550182"
    for _ in range(REPLY_LIMIT + 4):
        local_stack.publish_inbound(phone, "START", to=TOLL_FREE)
    local_stack.wait_outbox(lambda line: line["to"] == phone, count=REPLY_LIMIT)
    # An opt-out's confirmation is never held by the bound; once it is out, the STARTs before it were decided.
    local_stack.publish_inbound(phone, "STOP", to=TOLL_FREE)
    local_stack.wait_outbox(lambda line: line["to"] == phone and "unsubscribed" in line["body"])
    prompts = [line for line in _replies(local_stack, phone) if line["category"] == "optin_prompt"]
    assert len(prompts) == REPLY_LIMIT
