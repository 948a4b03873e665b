"""CSV import of the seed's format, block types and search filters."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sms_consent import blocklist, consent
from sms_consent.blocklist import MAX_IMPORT_ROWS, Entry, SearchFilter, parse_import, parse_type

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_seed_file_imports() -> None:
    text = "Mobile Number,Block Type\n3047587789,1\n2098767788,2\n2183769002,3\n"
    rows, problems = parse_import(text, "US")
    assert problems == []
    assert [(r.line, r.phone, r.block_type) for r in rows] == [
        (2, "+13047587789", 1),
        (3, "+12098767788", 2),
        (4, "+12183769002", 3),
    ]


def test_bad_lines_are_reported_and_the_rest_imported() -> None:
    text = "Mobile Number,Block Type\n3047587789,1\nnot-a-number,2\n2098767788,7\n2183769002\n\n+447911123456,all\n"
    rows, problems = parse_import(text, "US")
    assert [r.phone for r in rows] == ["+13047587789", "+447911123456"]
    assert [(p.line, p.error.split(":")[0]) for p in problems] == [
        (3, "cannot parse phone number"),
        (4, "block type must be 1, 2 or 3"),
        (5, "expected two columns"),
    ]


@pytest.mark.parametrize("text", ["", "phone,type\n123,1\n", "\x00\x01"])
def test_missing_header(text: str) -> None:
    rows, problems = parse_import(text, "US")
    assert rows == []
    assert problems[0].line == 1


def test_oversized_import_stops_with_a_problem() -> None:
    text = "Mobile Number,Block Type\n" + "3047587789,1\n" * (MAX_IMPORT_ROWS + 5)
    rows, problems = parse_import(text, "US")
    assert len(rows) == MAX_IMPORT_ROWS
    assert "more than" in problems[-1].error


@pytest.mark.parametrize(("value", "expected"), [("1", 1), (3, 3), ("interactive", 1), ("broadcast", 2), ("ALL", 3)])
def test_type_names(value: str | int, expected: int) -> None:
    assert parse_type(value) == expected


def test_block_and_unblock_transitions() -> None:
    state = consent.NumberState(phone="+14155550123")
    blocked = blocklist.block(state, block_type=1, reason="abuse", text="", source="admin", now=NOW, evidence={})
    assert blocked.state.block is not None
    assert blocked.state.block.blocks_inbound
    assert not blocked.state.block.blocks_outbound
    again = blocklist.block(blocked.state, block_type=1, reason="abuse", text="", source="admin", now=NOW, evidence={})
    assert not again.changed
    with pytest.raises(ValueError, match="block type"):
        blocklist.block(state, block_type=4, reason="", text="", source="admin", now=NOW, evidence={})
    cleared = blocklist.unblock(blocked.state, source="admin", now=NOW, evidence={})
    assert cleared.state.block is None
    assert cleared.events[0].event_type is consent.EventType.UNBLOCKED


def test_filter_prefix_accepts_plus() -> None:
    entry = Entry("+447911123456", consent.Block(3, "r", "Stop ALL", NOW))
    assert SearchFilter(phone_prefix="+44").matches(entry)
    assert SearchFilter(text="stop all").matches(entry)
    assert not SearchFilter(block_type=1).matches(entry)
