"""No full phone number reaches a log line or a metric dimension: a number's whole life runs through
the local stack (a sign-up, its YES, HELP, STOP, an admin lookup, a block, a malformed message), then
every line the stack's functions wrote (Powertools logs and EMF metrics) is scanned for its digits."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PHONE = "+14155550199"
SIGNUP = {
    "phone": PHONE,
    "program": "alerts",
    "consent_text": "Yes, send me Example Corp Alerts. Msg & data rates may apply. Reply STOP to cancel.",
    "captcha_token": "test-pass",
    "page_url": "https://shop.example.com/signup",
}


def test_a_whole_life_of_a_number_leaves_no_full_number_in_logs_or_metrics(local_stack: RunningStack) -> None:
    assert local_stack.api("POST", "/v1/optins", key=False, json=SIGNUP).status_code in (200, 202)
    local_stack.wait_outbox(lambda line: line["to"] == PHONE and line["category"] == "optin_prompt")
    for text in ("YES", "HELP", "STOP"):
        before = len([line for line in local_stack.outbox_lines() if line["to"] == PHONE])
        local_stack.publish_inbound(PHONE, text)
        local_stack.wait_outbox(lambda line: line["to"] == PHONE, count=before + 1)
    assert local_stack.api("GET", f"/v1/numbers/{PHONE}").status_code == 200
    block = {"type": 2, "reason": "abuse", "text": f"call me at {PHONE}"}
    assert local_stack.api("PUT", f"/v1/blocklist/{PHONE}", json=block).status_code == 200
    assert local_stack.api("GET", f"/v1/numbers/{PHONE}999").status_code == 400  # too long: echoed in errors
    local_stack.publish_inbound(PHONE, "STOP", to="not-a-sender")  # misrouted: logged as a warning
    local_stack.wait_outbox(lambda line: line["to"] == PHONE, count=4)  # the misrouted one gets no reply

    national = PHONE.removeprefix("+1")
    digits = re.compile(rf"\+?1?[-. (]*{national[:3]}[-. )]*{national[3:6]}[-. ]*{national[6:]}")
    # The misrouted STOP gets no reply to wait for: wait (30 s at most) for its warning in the log.
    deadline = time.monotonic() + 30
    while True:
        lines = local_stack.log.read_text(encoding="utf-8").splitlines()
        structured = [document for line in lines if (document := _json(line)) is not None]
        if any("function_name" in document for document in structured) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any("function_name" in document for document in structured)  # the functions' own logs are here
    assert any("_aws" in document for document in structured)  # and their EMF metrics
    leaks = [line for line in lines if digits.search(line)]
    assert leaks == [], leaks[:3]
    for document in structured:
        for dimensions in document.get("_aws", {}).get("CloudWatchMetrics", [{}])[0].get("Dimensions", []):
            for name in dimensions:
                assert national not in str(document.get(name, ""))


def _json(line: str) -> dict[str, Any] | None:
    try:
        document = json.loads(line)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
