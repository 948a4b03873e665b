"""The blocklist's CSV, property-based (Hypothesis): any text a handset or an admin put in an entry
exports as data, never as a spreadsheet formula, and reads back; any file given to the import is
answered row by row (imported or rejected with its line), never with an exception."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from sms_consent import blocklist, consent
from sms_consent.blocklist import FORMULA_STARTS, MAX_IMPORT_ROWS, Entry, parse_import, spreadsheet_safe, to_csv

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
free_text = st.text(max_size=60) | st.sampled_from(
    ['=HYPERLINK("http://x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]
)


def test_known_formula_payloads_are_neutralised() -> None:
    entry = Entry("+14155550123", consent.Block(2, "=1+1", '=HYPERLINK("http://evil")', NOW))
    (row,) = list(csv.reader(io.StringIO(to_csv([entry]))))[1:]
    assert row[2:4] == ["'=1+1", '\'=HYPERLINK("http://evil")']
    assert row[0] == "+14155550123"  # the number stays importable as it is


@settings(max_examples=200, derandomize=True)
@given(reason=free_text, text=free_text)
def test_no_exported_free_text_cell_starts_a_formula_and_each_reads_back(reason: str, text: str) -> None:
    entry = Entry("+14155550123", consent.Block(3, reason, text, NOW))
    rows = list(csv.reader(io.StringIO(to_csv([entry]), newline="")))
    assert len(rows) == 2
    _, block_type, got_reason, got_text, added_at = rows[1]
    for cell, original in ((got_reason, reason), (got_text, text)):
        assert not cell.startswith(FORMULA_STARTS)
        assert cell in (original, "'" + original)
        assert cell == spreadsheet_safe(original)
    assert (block_type, added_at) == ("3", "2026-11-23T12:00:00.000000Z")


@settings(max_examples=200, derandomize=True)
@given(st.text(max_size=400))
def test_any_import_file_is_answered_line_by_line(text: str) -> None:
    rows, problems = parse_import(text, "US")
    assert len(rows) + len(problems) <= MAX_IMPORT_ROWS
    lines = {row.line for row in rows} | {problem.line for problem in problems}
    assert len(lines) == len(rows) + len(problems)  # one answer per line that had one
    assert all(row.block_type in (1, 2, 3) and row.phone.startswith("+") for row in rows)


@settings(max_examples=100, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["3047587789", "+447911123456", "2098767788"]), st.sampled_from(["1", "2", "3", "both"])
        ),
        max_size=20,
    )
)
def test_an_exported_file_imports_back(rows: list[tuple[str, str]]) -> None:
    entries = [
        Entry(
            blocklist.parse_import(f"Mobile Number,Block Type\n{number},1\n", "US")[0][0].phone,
            consent.Block(blocklist.parse_type(kind), "=r", "-t", NOW),
        )
        for number, kind in rows
    ]
    imported, problems = parse_import(to_csv(entries), "US")
    assert problems == []
    assert [(row.phone, row.block_type) for row in imported] == [(e.phone, e.block.type) for e in entries]
