"""Blocklist imports and exports of any size: rows per second, DynamoDB requests per 1,000 rows and
peak memory (RSS growth) at 100,000 and 1,000,000 rows, against the time to just read and split the file.

The import runs the real domain code (streaming, parsing, blocklist.block, chunking, checkpoints)
against in-memory ports that count the requests the DynamoDB adapters would make (a batch read per
100 numbers, a transaction per 50, a checkpoint per chunk) and keep nothing, so that the figures are
the function's own; moto in process takes minutes per 100,000 rows and would measure moto.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

SIZES = (100_000, 1_000_000)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


class _Files:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def describe(self, key: str) -> tuple[int, str]:
        return len(self.data), "etag"

    def chunks(self, key: str, *, start: int, etag: str) -> Iterator[bytes]:
        from sms_consent.blocklist_import import READ_CHUNK_BYTES

        for offset in range(start, len(self.data), READ_CHUNK_BYTES):
            yield self.data[offset : offset + READ_CHUNK_BYTES]


class _Counting:
    """The store and job ports, counting requests and keeping nothing."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self.reads = self.transactions = self.checkpoints = 0

    def get_many(self, phones: Sequence[str]) -> dict[str, Any]:
        from sms_consent.consent import NumberState

        self.reads += -(-len(phones) // 100)
        return {phone: NumberState(phone=phone) for phone in phones}

    def save_many(self, changes: Sequence[Any]) -> None:
        self.transactions += 1

    def claim(self, *_: Any, **__: Any) -> Any:
        return self.job

    def save(self, job: Any, owner: str) -> None:
        self.checkpoints += 1

    def release(self, *_: Any) -> None:
        pass

    def claim_content(self, content_hash: str, import_id: str) -> str:
        return import_id


def _file(rows: int) -> bytes:
    return ("Mobile Number,Block Type\n" + "".join(f"+1415{2000000 + i},3\n" for i in range(rows))).encode()


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * 4096


class _PeakRss:
    """RSS sampled every 20 ms while the block runs: how far it rises above where it started
    (tracemalloc would be exact but triples the run time at a million rows)."""

    def __enter__(self) -> _PeakRss:
        import threading

        self.start = self.peak = _rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _import(data: bytes) -> tuple[float, _Counting, int]:
    from sms_consent import blocklist_import as imp

    counting = _Counting(imp.ImportJob(id="bench", key="uploads/bench", created_at=NOW))
    deps = imp.ImportDeps(
        jobs=cast(Any, counting),
        files=_Files(data),
        store=cast(Any, counting),
        default_region="US",
        clock=lambda: NOW,
        requeue=lambda _: None,
    )
    with _PeakRss() as memory:
        started = time.perf_counter()
        outcome = imp.run(deps, "bench", "bench", remaining_ms=lambda: 900_000)
        elapsed = time.perf_counter() - started
    assert outcome.job is not None, outcome
    assert outcome.job.status == imp.DONE, outcome
    return elapsed, counting, memory.growth


def _baseline(data: bytes) -> float:
    """Just read and split the file into lines: the floor any import pays."""
    from sms_consent.blocklist_import import physical_lines

    started = time.perf_counter()
    for _ in physical_lines(_Files(data).chunks("", start=0, etag="")):
        pass
    return time.perf_counter() - started


def _export(rows: int) -> tuple[float, float]:
    """(seconds to write `rows` export rows as CSV, seconds to write the same rows unneutralised)."""
    from sms_consent import blocklist_export
    from sms_consent.blocklist import Entry
    from sms_consent.consent import Block

    entries = [Entry(f"+1{2000000000 + i}", Block(3, "=import", "@text", NOW)) for i in range(rows)]
    timings = []
    for make in (blocklist_export.rows, lambda es: ([e.phone, e.block.type, e.block.reason] for e in es)):
        sink = io.StringIO()
        writer = csv.writer(sink, lineterminator="\r\n")
        started = time.perf_counter()
        for row in make(entries):
            writer.writerow(row)
            if sink.tell() > 8 * 1024 * 1024:  # a part uploaded: the buffer starts again
                sink.seek(0)
                sink.truncate()
        timings.append(time.perf_counter() - started)
    return timings[0], timings[1]


def run() -> list[str]:
    lines = ["blocklist import (in-memory counting ports; baseline = read and split the file into lines)"]
    lines.append("  rows       rows/s    x baseline  reads/1k  transactions/1k  checkpoints/1k  RSS growth MiB")
    for size in SIZES:
        data = _file(size)
        base = _baseline(data)
        elapsed, counts, peak = _import(data)
        per_k = 1000 / size
        lines.append(
            f"  {size:>9,}  {size / elapsed:>9,.0f}  {elapsed / base:>10.1f}"
            f"  {counts.reads * per_k:>8.1f}  {counts.transactions * per_k:>15.1f}"
            f"  {counts.checkpoints * per_k:>14.1f}  {peak / 2**20:>14.1f}"
        )
    export_rows = 200_000
    neutralised, plain = _export(export_rows)
    lines.append(
        f"blocklist export: {export_rows / neutralised:,.0f} rows/s written as CSV parts"
        f" ({neutralised / plain:.2f}x the time of the same rows without neutralising; reading the index not included)"
    )
    return lines
