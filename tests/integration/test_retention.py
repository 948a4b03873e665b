"""Virginia (SB 1339, from 2026-01-01) wants a STOP honoured for 10 years: no opt-out, and no audit
event behind it, may expire. After a full life of a number through the real handlers (a web-form
sign-up, its YES, a STOP, a block, a gate send, a detector run), only working counters carry a TTL:
the detector's buckets (2 days), sign-up rate-limit windows (their window plus an hour) and pumping
breakers (7 days after they close), inbound messages' idempotency records (7 days), the stream
consumer's batch markers (2 days: a stream record lives one) and list hygiene's due buckets (400 days
after their day, longer than any reminder period: an index, not a record of consent).
Number state, audit events, profiles and metrics never do.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from sms_consent.adapters.idempotency import RECORD_SK
from sms_consent.repository.numbers import SEND_CLAIM_SK_PREFIX
from tests.conftest import AwsStack, api_request, load_event
from tests.integration.test_optin_api import PHONE, deliver_outbound, form, inbound, post

# Items DynamoDB may delete by TTL, by the start of their partition key.
EXPIRING = ("CTR#", "RATE#", "BREAKER", "FOLDED#", "HYGIENE#")
KEPT = ("PHONE#", "USER#", "METRICS#", "BASE#", "TEXT#")  # TEXT#: the words people agreed to


def _items(stack: AwsStack) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=stack.region)
    return [
        item for page in client.get_paginator("scan").paginate(TableName=stack.table_name) for item in page["Items"]
    ]


def test_no_opt_out_or_audit_event_can_expire(aws_stack: AwsStack) -> None:
    assert post(aws_stack, form())[0] == 202
    deliver_outbound(aws_stack)
    inbound(aws_stack, "YES")
    inbound(aws_stack, "STOP")
    deliver_outbound(aws_stack)
    block = {"type": 2, "reason": "abuse", "text": ""}
    aws_stack.invoke(
        "AdminApiFunction",
        api_request("PUT", f"/v1/blocklist/{PHONE}", body=json.dumps(block), path_parameters={"phone": PHONE}),
    )
    aws_stack.invoke("PumpingDetectorFunction", load_event("pumping_detector/scheduled.json"))
    assert aws_stack.deliver_stream() > 0  # the metrics, folded from the stream

    items = _items(aws_stack)
    kinds = {item["PK"]["S"].split("#")[0] for item in items}
    assert {"PHONE", "CTR", "RATE", "METRICS", "FOLDED"} <= kinds  # the life above wrote each kind
    for item in items:
        key = item["PK"]["S"]
        if item["SK"]["S"].startswith(SEND_CLAIM_SK_PREFIX):  # the gate's claim on one send: 7 days
            assert int(item["ttl"]["N"]) > 0
        elif key.startswith(KEPT):
            assert "ttl" not in item, f"{key} {item['SK']['S']} would expire"
        elif item["SK"]["S"] == RECORD_SK:  # an inbound message's idempotency record: 7 days, then deleted
            assert int(item["ttl"]["N"]) > 0
        else:
            assert key.startswith(EXPIRING), f"unexpected item kind {key}"
    records = [item["PK"]["S"] for item in items if item["SK"]["S"] == RECORD_SK]
    assert len(records) == len(set(records)) == 2  # YES and STOP: one partition each, no shared hot key
    events = [item for item in items if item["SK"]["S"].startswith("EVENT#")]
    assert {item["event_type"]["S"] for item in events} >= {"ConsentGranted", "ConsentRevoked", "NumberBlocked"}
