"""State quiet hours on the local stack: a Texas number is deferred on a Sunday morning until noon."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

HOUSTON = "+17135550188"
CENTRAL = ZoneInfo("America/Chicago")


def test_a_texas_number_is_deferred_on_sunday_morning_until_noon(local_stack: RunningStack) -> None:
    for text in ("ALERTS", "YES"):
        before = len([line for line in local_stack.outbox_lines() if line["to"] == HOUSTON])
        local_stack.publish_inbound(HOUSTON, text)
        local_stack.wait_outbox(lambda line: line["to"] == HOUSTON, count=before + 1)
    today = datetime.now(CENTRAL).date()
    sunday = today + timedelta(days=(6 - today.weekday()) % 7 or 7)
    request = {
        "program": "alerts",
        "category": "marketing",
        "recipients": [HOUSTON],
        "body": "Example Corp Alerts: Sunday sale.",
        "at": datetime.combine(sunday, time(10), CENTRAL).isoformat(),
    }
    answer = local_stack.api("POST", "/v1/gate/check", json=request)
    assert answer.status_code == 200, answer.text
    (decision,) = answer.json()["decisions"]
    assert (decision["decision"], decision["reason"]) == ("defer", "QUIET_HOURS")
    assert datetime.fromisoformat(decision["retry_at"]) == datetime.combine(sunday, time(12), CENTRAL)
