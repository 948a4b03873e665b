"""Blocklist rules that need no storage: CSV import and export, search filters (seed 004).

Type 1 discards inbound messages (an opt-out keyword still counts), type 2 discards outbound ones
(replies included), type 3 both.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sms_consent import consent, phones
from sms_consent.clock import iso, utc
from sms_consent.consent import Block, Source
from sms_consent.ports import NumberStore

CSV_HEADER = ("Mobile Number", "Block Type")
MAX_IMPORT_ROWS = 10_000
# The seed's search form names the types; the API accepts either the name or the number.
TYPE_NAMES = {"interactive": 1, "inbound": 1, "broadcast": 2, "outbound": 2, "all": 3, "both": 3}


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    phone: str
    block_type: int


@dataclass(frozen=True, slots=True)
class ImportProblem:
    line: int
    error: str


@dataclass(frozen=True, slots=True)
class Entry:
    phone: str
    block: Block

    def as_dict(self) -> dict[str, object]:
        return {
            "phone": self.phone,
            "type": self.block.type,
            "reason": self.block.reason,
            "text": self.block.text,
            "added_at": iso(self.block.added_at),
        }


@dataclass(frozen=True, slots=True)
class SearchFilter:
    date_from: datetime | None = None
    date_to: datetime | None = None
    block_type: int | None = None
    text: str | None = None
    phone_prefix: str | None = None  # digits of the E.164 number, country code first ("44", "+1415")

    def matches(self, entry: Entry) -> bool:
        if self.block_type is not None and entry.block.type != self.block_type:
            return False
        if self.text and self.text.casefold() not in entry.block.text.casefold():
            return False
        return not (self.phone_prefix and not entry.phone.lstrip("+").startswith(self.phone_prefix.lstrip("+")))


def parse_type(value: str | int) -> int:
    if isinstance(value, int) or value.strip().isdigit():
        number = int(value)
        if number in (1, 2, 3):
            return number
        raise ValueError("block type must be 1, 2 or 3")
    try:
        return TYPE_NAMES[value.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown block type '{value}'") from None


def _records(reader: Iterator[list[str]]) -> Iterator[list[str] | None]:
    """The reader's records, then None if the rest of the file is not CSV."""
    try:
        yield from reader
    except csv.Error:
        yield None


def header_problem(record: list[str] | None) -> ImportProblem | None:
    """Why the first record is not the expected header, or None when it is."""
    if record is None or tuple(cell.strip() for cell in record[:2]) != CSV_HEADER:
        return ImportProblem(1, f"the first line must be the header '{','.join(CSV_HEADER)}'")
    return None


def parse_record(number: int, record: list[str], default_region: str) -> ImportRow | ImportProblem | None:
    """One data record as a row to import or a problem; None for a blank record (skipped). Shared by
    the small-body route and the streaming import, so both read a file the same way."""
    if not any(cell.strip() for cell in record):
        return None
    if len(record) < 2:
        return ImportProblem(number, "expected two columns: Mobile Number, Block Type")
    try:
        phone = phones.to_e164(record[0].strip(), default_region)
    except phones.InvalidPhoneNumber as exc:
        return ImportProblem(number, str(exc))
    try:
        block_type = parse_type(record[1])
    except ValueError as exc:
        return ImportProblem(number, str(exc))
    return ImportRow(number, phone, block_type)


def parse_import(text: str, default_region: str) -> tuple[list[ImportRow], list[ImportProblem]]:
    """Rows to import and the lines rejected, each with its reason. Line numbers count the header."""
    rows: list[ImportRow] = []
    problems: list[ImportProblem] = []
    reader = csv.reader(io.StringIO(text, newline=""))  # a lone \r ends a line, as spreadsheets write it
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [ImportProblem(1, f"not a CSV file: {exc}")]
    if (bad_header := header_problem(header)) is not None:
        return [], [bad_header]
    for number, record in enumerate(_records(reader), start=2):
        if record is None:
            problems.append(ImportProblem(number, "not valid CSV from here on; the rest was not read"))
            break
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) + len(problems) >= MAX_IMPORT_ROWS:
            problems.append(ImportProblem(number, f"more than {MAX_IMPORT_ROWS} rows; the rest was not read"))
            break
        parsed = parse_record(number, record, default_region)
        if isinstance(parsed, ImportRow):
            rows.append(parsed)
        elif parsed is not None:
            problems.append(parsed)
    return rows, problems


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): the text
# column holds what a handset sent, so anyone who can text the number could plant one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(text: str) -> str:
    """Free text as a spreadsheet shows it, never as a formula (OWASP: a leading apostrophe)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


EXPORT_HEADER = [*CSV_HEADER, "Reason", "Text", "Added At"]


def export_row(entry: Entry) -> list[str | int]:
    """One entry as an export row: every free-text cell neutralised (spreadsheet_safe)."""
    return [
        entry.phone,  # E.164, validated: "+" and digits, which a spreadsheet reads as a number
        entry.block.type,
        spreadsheet_safe(entry.block.reason),
        spreadsheet_safe(entry.block.text),
        iso(entry.block.added_at),
    ]


def to_csv(entries: Iterable[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180; a \r or \n in a cell is then quoted
    writer.writerow(EXPORT_HEADER)
    for entry in entries:
        writer.writerow(export_row(entry))
    return out.getvalue()


# ---------------------------------------------------------------------- changes (through the ports)


def put_entry(store: NumberStore, phone: str, *, block_type: int, reason: str, text: str, now: datetime) -> Entry:
    """Add or change a number's entry (NumberBlocked reaches the bus from the table's stream)."""
    stored = store.update(
        phone,
        lambda current: block(
            current, block_type=block_type, reason=reason, text=text, source=Source.ADMIN, now=now, evidence={}
        ),
    )
    assert stored.state.block is not None
    return Entry(phone, stored.state.block)


def remove_entry(store: NumberStore, phone: str, *, now: datetime) -> bool:
    """Take a number off the blocklist; False when it was not on it."""
    stored = store.update(phone, lambda current: unblock(current, source=Source.ADMIN, now=now, evidence={}))
    return bool(stored.events)


def import_csv(store: NumberStore, text: str, *, default_region: str, now: datetime) -> tuple[int, list[ImportProblem]]:
    rows, problems = parse_import(text, default_region)
    for row in rows:
        put_entry(store, row.phone, block_type=row.block_type, reason="import", text="", now=now)
    return len(rows), problems


def block(
    state: consent.NumberState,
    *,
    block_type: int,
    reason: str,
    text: str,
    source: str,
    now: datetime,
    evidence: dict[str, Any],
) -> consent.Change:
    """Put the number on the blocklist (1 inbound, 2 outbound, 3 both); replaces an earlier entry."""
    if block_type not in (1, 2, 3):
        raise ValueError("block type must be 1 (inbound), 2 (outbound) or 3 (both)")
    old = state.block
    if old is not None and (old.type, old.reason, old.text) == (block_type, reason, text):
        return consent.Change(state)
    entry = Block(type=block_type, reason=reason, text=text, added_at=old.added_at if old else utc(now))
    event = consent.AuditEvent(
        consent.EventType.BLOCKED,
        utc(now),
        state.phone,
        None,
        f"blocked:{old.type}" if old else None,
        f"blocked:{block_type}",
        source,
        {**evidence, "reason": reason, "text": text},
    )
    return consent.Change(replace(state, block=entry), (event,))


def unblock(state: consent.NumberState, *, source: str, now: datetime, evidence: dict[str, Any]) -> consent.Change:
    if state.block is None:
        return consent.Change(state)
    event = consent.AuditEvent(
        consent.EventType.UNBLOCKED, utc(now), state.phone, None, f"blocked:{state.block.type}", None, source, evidence
    )
    return consent.Change(replace(state, block=None), (event,))
