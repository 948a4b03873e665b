"""On the local stack, consent events and metrics come from the table's stream, delivered to
ConsentFeedFunction by the stack's stream poller as Lambda's event source mapping would."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

PHONE = "+14155550188"


def test_a_stop_reaches_the_bus_and_the_metrics_through_the_stream(local_stack: RunningStack) -> None:
    sqs, events = local_stack.client("sqs"), local_stack.client("events")
    url = sqs.create_queue(QueueName=f"probe-bus-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus, rule = local_stack.outputs["EventBusName"], f"probe-{uuid.uuid4().hex[:8]}"
    events.put_rule(
        Name=rule,
        EventBusName=bus,
        EventPattern=json.dumps({"detail-type": ["ConsentRevoked"], "detail": {"phone": [PHONE]}}),
    )
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "probe", "Arn": arn}])
    today = datetime.now(UTC).date().isoformat()
    before = local_stack.api("GET", "/v1/metrics", params={"program": "alerts", "from": today, "to": today}).json()

    message_id = local_stack.publish_inbound(PHONE, "STOP")

    (message,) = local_stack.receive(url, timeout=30)
    event = json.loads(message["Body"])
    assert (event["detail"]["phone"], event["detail"]["evidence"]["inbound_message_id"]) == (PHONE, message_id)
    deadline = time.monotonic() + 30
    while True:  # the consumer folds the batch right after publishing it
        after = local_stack.api("GET", "/v1/metrics", params={"program": "alerts", "from": today, "to": today}).json()
        if after["opt_outs"] == before["opt_outs"] + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert after["opt_outs"] == before["opt_outs"] + 1
