"""Tried as an attacker would, on the running local stack (real time, no manual detector run): a
CAPTCHA farm sweeps consecutive numbers of one 1k block from rotating addresses, back to back (the
opt-in API counts each prompt's block and address itself, so scoring does not wait for the stream).
Inline scoring holds the sweep from its sixth prompt; every answer looks like success; the legitimate
sign-up elsewhere is untouched."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

BLOCK = "+1415201"  # a real-looking 1k block (+14152010xxx): fictional 555-01xx numbers are never held


def sign_up(stack: RunningStack, phone: str, address: str) -> dict[str, object]:
    form = {
        "phone": phone,
        "program": "alerts",
        "captcha_token": "test-pass",
        "page_url": "https://shop.example.com/",
        "consent_text": "Yes, send me Example Corp Alerts. Msg & data rates may apply. Reply STOP to cancel.",
    }
    response = stack.api("POST", "/v1/optins", key=False, json=form, headers={"X-Forwarded-For": address})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_sweep_through_one_block_gets_at_most_five_prompts_out(local_stack: RunningStack) -> None:
    attacked = [f"{BLOCK}{300 + index:04d}" for index in range(20)]
    answers = []
    for index, phone in enumerate(attacked):
        answers.append(sign_up(local_stack, phone, f"203.0.113.{100 + index}"))
    legitimate = "+13125550123"  # fictional, elsewhere: never held
    sign_up(local_stack, legitimate, "198.51.100.200")
    local_stack.wait_outbox(lambda line: line["to"] == legitimate and line["category"] == "optin_prompt")
    time.sleep(2)  # let any prompt still on its way through the gate arrive

    assert {(answer["status"], answer["prompt_sent"]) for answer in answers} == {("pending", True)}
    prompted = {line["to"] for line in local_stack.outbox_lines() if line["category"] == "optin_prompt"}
    through = prompted & set(attacked)
    assert len(through) <= 5, sorted(through)
    assert through == set(attacked[: len(through)])  # the first ones, before the sweep showed
