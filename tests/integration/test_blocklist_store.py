"""Blocklist entries live on the number's state item and are listed through the sparse index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sms_consent import blocklist, consent
from sms_consent.blocklist import SearchFilter, parse_import, to_csv
from sms_consent.ports import BadCursor
from tests.conftest import AwsStack, stores

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _block(phone: str, block_type: int, text: str, days: int) -> None:
    now = T0 + timedelta(days=days)
    stores().numbers.update(
        phone,
        lambda state: blocklist.block(
            state, block_type=block_type, reason="opt-out", text=text, source="admin", now=now, evidence={}
        ),
    )


@pytest.fixture
def entries(aws_stack: AwsStack) -> None:
    _block("+14155550101", 1, "STOP please", 0)
    _block("+14155550102", 2, "spam complaint", 1)
    _block("+447911123456", 3, "stop all", 2)
    _block("+14155550104", 3, "Unsubscribe", 3)


@pytest.mark.usefixtures("entries")
def test_search_filters_combine() -> None:
    everything, cursor = stores().blocklist.search(SearchFilter())
    assert [e.phone for e in everything] == ["+14155550101", "+14155550102", "+447911123456", "+14155550104"]
    assert cursor is None
    assert [e.phone for e in stores().blocklist.search(SearchFilter(block_type=3))[0]] == [
        "+447911123456",
        "+14155550104",
    ]
    assert [e.phone for e in stores().blocklist.search(SearchFilter(phone_prefix="44"))[0]] == ["+447911123456"]
    assert [e.phone for e in stores().blocklist.search(SearchFilter(text="STOP"))[0]] == [
        "+14155550101",
        "+447911123456",
    ]
    window = SearchFilter(date_from=T0 + timedelta(days=1), date_to=T0 + timedelta(days=2))
    assert [e.phone for e in stores().blocklist.search(window)[0]] == ["+14155550102", "+447911123456"]


@pytest.mark.usefixtures("entries")
def test_pages_do_not_skip_or_repeat() -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page, cursor = stores().blocklist.search(SearchFilter(), limit=1, cursor=cursor)
        seen.extend(entry.phone for entry in page)
        if cursor is None:
            break
    assert seen == ["+14155550101", "+14155550102", "+447911123456", "+14155550104"]


@pytest.mark.usefixtures("entries")
def test_unblock_removes_the_entry_and_keeps_the_audit() -> None:
    stores().numbers.update(
        "+14155550102", lambda state: blocklist.unblock(state, source="admin", now=T0 + timedelta(days=9), evidence={})
    )
    assert "+14155550102" not in [e.phone for e in stores().blocklist.search(SearchFilter())[0]]
    trail = [event.event_type for event in stores().numbers.history("+14155550102")]
    assert trail == [consent.EventType.BLOCKED, consent.EventType.UNBLOCKED]


@pytest.mark.usefixtures("aws_stack")
def test_bad_cursor_is_rejected() -> None:
    with pytest.raises(BadCursor):
        stores().blocklist.search(SearchFilter(), cursor="not-base64!")


@pytest.mark.usefixtures("entries")
def test_export_round_trips_through_import() -> None:
    text = to_csv(stores().blocklist.export(SearchFilter()))
    rows, problems = parse_import(text, "US")
    assert problems == []
    assert [(row.phone, row.block_type) for row in rows] == [
        ("+14155550101", 1),
        ("+14155550102", 2),
        ("+447911123456", 3),
        ("+14155550104", 3),
    ]


@pytest.mark.usefixtures("entries")
def test_entries_indexed_before_the_sharding_are_still_listed_in_date_order(aws_stack: AwsStack) -> None:
    import boto3

    from sms_consent.clock import iso

    added = iso(T0 + timedelta(days=1, hours=12))
    legacy: dict[str, Any] = {
        "PK": {"S": "PHONE#+14155550199"},
        "SK": {"S": "STATE"},
        "programs": {"M": {}},
        "block": {"M": {"type": {"N": "2"}, "reason": {"S": "legacy"}, "text": {"S": ""}, "added_at": {"S": added}}},
        "version": {"N": "1"},
        "GSI1PK": {"S": "BLOCKLIST"},
        "GSI1SK": {"S": f"{added}#+14155550199"},
    }
    boto3.client("dynamodb", region_name=aws_stack.region).put_item(TableName=aws_stack.table_name, Item=legacy)
    phones = [entry.phone for entry in stores().blocklist.export(SearchFilter())]
    assert phones == ["+14155550101", "+14155550102", "+14155550199", "+447911123456", "+14155550104"]


def test_an_export_reads_each_index_partition_once_whatever_its_size(aws_stack: AwsStack) -> None:
    from sms_consent.repository.blocklist import PARTITIONS
    from sms_consent_local import aws_calls

    phones = [f"+1628201{index:04d}" for index in range(250)]
    for index, phone in enumerate(phones):
        _block(phone, 2, "bulk", index % 5)
    with aws_calls.counting() as calls:
        exported = list(stores().blocklist.export(SearchFilter()))

    assert sorted(entry.phone for entry in exported) == phones
    assert [entry.block.added_at for entry in exported] == sorted(entry.block.added_at for entry in exported)
    # 250 rows in 100-row search pages would read every partition three times over.
    assert calls["dynamodb.Query"] == len(PARTITIONS)
