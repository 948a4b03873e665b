"""The streaming import without AWS: line splitting across chunks, checkpoints, resumption, the
content claimed once, and the requests a thousand rows cost (in-memory ports that count them)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from hypothesis import given
from hypothesis import strategies as st

from sms_consent import blocklist_import as imp
from sms_consent.consent import AuditEvent, NumberState

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _chunked(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@given(st.lists(st.text("ab,\r\n", max_size=8), max_size=20), st.integers(1, 7))
def test_lines_and_offsets_do_not_depend_on_where_the_chunks_end(parts: list[str], size: int) -> None:
    data = "".join(parts).encode()
    whole = list(imp.physical_lines([data]))
    assert list(imp.physical_lines(_chunked(data, size))) == whole
    assert [line for line, _ in whole] == [line.encode() for line in data.decode().splitlines()]
    assert not whole or whole[-1][1] == len(data)


def test_an_overlong_line_is_reported_without_being_held() -> None:
    data = b"a\n" + b"x" * (imp.MAX_LINE_BYTES * 10) + b"\r\nb"
    assert list(imp.physical_lines(_chunked(data, 1000))) == [(b"a", 2), (None, len(data) - 1), (b"b", len(data))]


class Files:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def describe(self, key: str) -> tuple[int, str] | None:
        return len(self.data), "etag"

    def chunks(self, key: str, *, start: int, etag: str) -> Iterator[bytes]:
        return _chunked(self.data[start:], 4096)


class Jobs:
    def __init__(self, job: imp.ImportJob) -> None:
        self.jobs = {job.id: job}
        self.contents: dict[str, str] = {}
        self.saves = 0

    def get(self, import_id: str) -> imp.ImportJob | None:
        return self.jobs.get(import_id)

    def claim(self, import_id: str, owner: str, *, until: datetime, now: datetime) -> imp.ImportJob | None:
        return self.jobs.get(import_id)

    def save(self, job: imp.ImportJob, owner: str) -> None:
        self.saves += 1
        self.jobs[job.id] = job

    def release(self, import_id: str, owner: str) -> None:
        pass

    def claim_content(self, content_hash: str, import_id: str) -> str:
        return self.contents.setdefault(content_hash, import_id)


class Store:
    """Numbers in memory; counts batch reads (100 keys each) and transactions."""

    def __init__(self) -> None:
        self.states: dict[str, NumberState] = {}
        self.events: list[AuditEvent] = []
        self.reads = self.transactions = 0

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]:
        self.reads += -(-len(phones) // 100)
        return {phone: self.states.get(phone, NumberState(phone=phone)) for phone in phones}

    def save_many(self, changes: Sequence[tuple[NumberState, Sequence[AuditEvent]]]) -> None:
        assert len(changes) * 2 <= 100
        self.transactions += 1
        for state, events in changes:
            self.states[state.phone] = replace(state, version=state.version + 1)
            self.events.extend(events)

    def update(self, phone: str, decide: Any) -> Any:
        raise AssertionError("no conflict in these tests")


def _deps(data: bytes, store: Store, jobs: Jobs) -> imp.ImportDeps:
    return imp.ImportDeps(
        jobs=jobs,
        files=Files(data),
        store=cast(imp.BulkNumberStore, store),  # the parts of the port an import uses
        default_region="US",
        clock=lambda: NOW,
        requeue=lambda _: None,
    )


def _file(rows: int) -> bytes:
    return ("Mobile Number,Block Type\n" + "".join(f"+1415555{i:04d},1\n" for i in range(rows))).encode()


def test_a_thousand_rows_cost_ten_reads_twenty_transactions_and_five_checkpoints() -> None:
    store, jobs = Store(), Jobs(imp.ImportJob(id="a", key="uploads/a", created_at=NOW))
    outcome = imp.run(_deps(_file(1000), store, jobs), "a", "me", remaining_ms=lambda: 900_000)
    assert outcome.job is not None
    assert (outcome.job.status, outcome.job.imported, outcome.written) == (imp.DONE, 1000, 1000)
    assert (store.reads, store.transactions) == (10, 20)
    assert jobs.saves <= 7  # the content hash, 5 checkpoints, the end
    assert len(store.events) == 1000


def test_a_resumed_import_starts_after_the_last_checkpoint_and_writes_each_number_once() -> None:
    store, jobs = Store(), Jobs(imp.ImportJob(id="a", key="uploads/a", created_at=NOW))
    deps = _deps(_file(450), store, jobs)
    first = imp.run(deps, "a", "me", remaining_ms=lambda: 1)
    assert first.job is not None
    assert (first.finished, first.job.line, first.job.imported) == (False, 201, 200)
    second = imp.run(deps, "a", "me", remaining_ms=lambda: 900_000)
    assert second.job is not None
    assert (second.finished, second.job.imported, second.job.rows) == (True, 450, 450)
    assert len(store.events) == 450


def test_the_same_bytes_in_a_second_import_end_as_its_duplicate_without_a_read() -> None:
    store, jobs = Store(), Jobs(imp.ImportJob(id="a", key="uploads/a", created_at=NOW))
    jobs.jobs["b"] = imp.ImportJob(id="b", key="uploads/b", created_at=NOW + timedelta(days=1))
    deps = _deps(_file(10), store, jobs)
    imp.run(deps, "a", "me", remaining_ms=lambda: 900_000)
    reads = store.reads
    second = imp.run(deps, "b", "me", remaining_ms=lambda: 900_000)
    assert second.job is not None
    assert (second.job.status, second.job.duplicate_of, store.reads) == (imp.DONE, "a", reads)


def test_a_file_of_rejected_lines_still_checkpoints_and_stops_in_time() -> None:
    data = ("Mobile Number,Block Type\n" + "nope,1\n" * (imp.CHUNK_LINES * 2)).encode()
    store, jobs = Store(), Jobs(imp.ImportJob(id="a", key="uploads/a", created_at=NOW))
    first = imp.run(_deps(data, store, jobs), "a", "me", remaining_ms=lambda: 1)
    assert first.job is not None
    assert (first.finished, first.job.line, first.job.rejected, len(first.job.errors)) == (
        False,
        imp.CHUNK_LINES,
        imp.CHUNK_LINES - 1,  # the header is line 1
        imp.KEPT_ERRORS,
    )
    assert store.reads == 0


def test_queued_messages_name_their_import() -> None:
    upload = {"source": "aws.s3", "detail": {"object": {"key": "uploads/abc"}}}
    assert imp.import_id_of(upload) == "abc"
    assert imp.import_id_of({"import_id": "abc"}) == "abc"
    assert imp.import_id_of({"source": "aws.s3", "detail": {"object": {"key": "exports/abc.csv"}}}) is None
    assert imp.import_id_of({"Event": "s3:TestEvent"}) is None


def test_an_export_request_carries_its_filter_unchanged() -> None:
    from sms_consent.blocklist import SearchFilter
    from sms_consent.blocklist_export import filter_message, filter_of

    where = SearchFilter(NOW, NOW + timedelta(days=1), 2, "stop", "1415")
    assert filter_of(filter_message(where)) == where
    assert filter_of({}) == SearchFilter()
