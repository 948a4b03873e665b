"""The hot-key audit (`make bench`'s bench_hot_keys) sees every partition key a write touches: base
table and GSIs, inside transactions and batches. Here, on one STOP and one blocklist entry."""

from __future__ import annotations

import json
from collections import Counter

from sms_consent_local import aws_calls
from tests.conftest import AwsStack, api_request
from tests.integration.test_optin_api import PHONE, inbound

BURST = 80  # make bench runs 1,000 STOPs and sign-ups and a 10,000-row import
# A sign-up writes three counters (block, area code shard, address) to random partitions of 64: enough
# sign-ups that this placement evens out (at 160, one partition could pass 1% by chance).
SIGNUPS = 400


def test_a_stop_and_a_block_are_seen_with_every_key_they_write(aws_stack: AwsStack) -> None:
    with aws_calls.writing() as written:
        inbound(aws_stack, "STOP")
    keys = set(written)
    assert f"PK PHONE#{PHONE}" in keys  # the state and its audit event, in one transaction
    assert written[f"PK PHONE#{PHONE}"] == 2
    assert any(key.startswith("PK lambda_InboundSmsFunction") or "handle_message#" in key for key in keys)
    assert len(keys) == 2  # nothing shared: the program's counters are folded from the stream
    with aws_calls.writing() as folded:
        assert aws_stack.deliver_stream() == 1
    assert any(key.startswith("PK METRICS#alerts#") for key in folded)  # a shard of the program's counters
    assert any(key.startswith("PK FOLDED#") for key in folded)  # the batch's marker: counted once

    block = {"type": 2, "reason": "abuse", "text": ""}
    with aws_calls.writing() as written:
        aws_stack.invoke(
            "AdminApiFunction",
            api_request("PUT", f"/v1/blocklist/{PHONE}", body=json.dumps(block), path_parameters={"phone": PHONE}),
        )
    (index_key,) = [key for key in written if key.startswith("GSI1 ")]  # the sparse index entry the update sets
    assert index_key.startswith("GSI1 BLOCKLIST#")  # one of the index's shards
    assert aws_calls.hottest(written, 1)[0][1] > 0


def test_no_key_takes_more_than_1_percent_of_a_stop_storm_or_a_sign_up_burst(aws_stack: AwsStack) -> None:
    from bench.bench_hot_keys import _number, signup_event, stop_event

    bursts = {
        "InboundSmsFunction": [stop_event(_number("415", index)) for index in range(BURST)],
        "OptinApiFunction": [
            signup_event(_number("312", index), f"100.64.{index // 250}.{index % 250}") for index in range(SIGNUPS)
        ],
    }
    for function_id, events in bursts.items():
        with aws_calls.writing() as written:
            for event in events:
                aws_stack.invoke(function_id, event)
            aws_stack.deliver_stream()  # the stream consumer's writes count too
        # A burst nobody confirms is held after its area code's budget (prompt_holds): each held prompt goes
        # on the area code's waiting list, one partition, at the attack's own rate (far below a partition's
        # 1,000 writes a second); sharding it would multiply every release's reads. Every other key stays cool.
        waiting = {key: count for key, count in written.items() if key.startswith("PK HOLD#")}
        assert sum(waiting.values()) <= len(events)
        others = Counter({key: count for key, count in written.items() if key not in waiting})
        (key, share), *_ = aws_calls.hottest(others, 1)
        assert share <= 0.01, f"{function_id}: {key} takes {share:.1%} of {sum(others.values())} writes"
