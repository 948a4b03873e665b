"""The capacity model's arithmetic (bench/bench_capacity.py): units and prices in, the scenario's
peaks and costs out, checked on figures small enough to work out by hand."""

from __future__ import annotations

from typing import Any

from bench import bench_capacity as capacity


def _per(wru: float, rru: float, invocations: dict[str, float], sns: float, events: float) -> capacity.PerUnit:
    return capacity.PerUnit(capacity.Units(wru, rru, 0), invocations, sns, events, 0.0)


def test_item_sizes_follow_dynamodb_rules() -> None:
    item = {"PK": {"S": "PHONE#+14155550123"}, "n": {"N": "12345"}, "m": {"M": {"a": {"S": "xy"}}}}
    assert capacity.item_bytes(item) == (2 + 18) + (1 + 3) + (1 + 3 + 1 + 1 + 2)


def test_a_transactional_write_costs_twice_and_a_gsi_entry_one_more() -> None:
    small = {"PK": {"S": "P"}, "SK": {"S": "S"}}
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("dynamodb", "PutItem", {"Item": small}),
        ("dynamodb", "TransactWriteItems", {"TransactItems": [{"Put": {"Item": {**small, "GSI1PK": {"S": "B"}}}}]}),
        ("dynamodb", "BatchGetItem", {"RequestItems": {"t": {"Keys": [small, small]}}}),
        ("sns", "Publish", {}),
    ]
    units = capacity.dynamodb_units(calls, {})
    assert (units.wru, units.rru, units.requests) == (1 + 2 + 1, 2, 3)


def test_costs_are_units_times_published_prices() -> None:
    gate = _per(1.0, 1.0, {"SendGateFunction": 0.01}, sns=0.01, events=1.0)
    stop = _per(6.0, 2.0, {"InboundSmsFunction": 1, "SendGateFunction": 1, "ConsentFeedFunction": 0.01}, 1.0, 2.0)
    lines = capacity.model_lines(gate, stop)
    (gated,) = [line for line in lines if "per million gated recipients" in line]
    # DynamoDB: 1e6 x (1 WRU x 0.625e-6 + 1 RRU x 0.125e-6) = $0.75; EventBridge 1e6 events = $1.00.
    for part in ("DynamoDB $0.75", "EventBridge $1.00", "SNS $0.01"):
        assert part in gated
    (peak,) = [line for line in lines if line.startswith("DynamoDB peak")]
    # 1e6 WRU over 3,600 s plus 10,000 STOPs x 6 WRU over 600 s: 278 + 100.
    assert "378 WRU/s" in peak
