"""The hot-key audit (`make bench`'s bench_hot_keys) sees every partition key a write touches: base
table and GSIs, inside transactions and batches. Here, on one STOP and one blocklist entry."""

from __future__ import annotations

import json

from sms_consent_local import aws_calls
from tests.conftest import AwsStack, api_request
from tests.integration.test_optin_api import PHONE, inbound


def test_a_stop_and_a_block_are_seen_with_every_key_they_write(aws_stack: AwsStack) -> None:
    with aws_calls.writing() as written:
        inbound(aws_stack, "STOP")
    keys = set(written)
    assert f"PK PHONE#{PHONE}" in keys  # the state and its audit event, in one transaction
    assert written[f"PK PHONE#{PHONE}"] == 2
    assert "PK METRICS#alerts" in keys  # the program's counters, in the same transaction
    assert any(key.startswith("PK lambda_InboundSmsFunction") or "handle_message#" in key for key in keys)

    block = {"type": 2, "reason": "abuse", "text": ""}
    with aws_calls.writing() as written:
        aws_stack.invoke(
            "AdminApiFunction",
            api_request("PUT", f"/v1/blocklist/{PHONE}", body=json.dumps(block), path_parameters={"phone": PHONE}),
        )
    assert written["GSI1 BLOCKLIST"] == 1  # the sparse index entry the state update sets
    assert aws_calls.hottest(written, 1)[0][1] > 0
