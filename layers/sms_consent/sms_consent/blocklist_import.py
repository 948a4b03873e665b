"""Blocklist imports of any size: an uploaded CSV file, streamed, checkpointed, imported once.

The file is read in chunks and split into physical lines (`\\n`, `\\r\\n` or a lone `\\r`), each line
one record parsed as the small-body route parses it (blocklist.parse_record), so memory stays flat
whatever the file's size; a line longer than MAX_LINE_BYTES is rejected without being held.

Rows are applied with the same rule as a single entry (blocklist.block: unchanged entries write
nothing, a change writes the state and its audit event), `CHUNK_ROWS` numbers at a time: one batch
read of their states, then conditional transactions of TRANSACTION_NUMBERS numbers (the state update
and its event are two of the 100 actions a transaction allows), then one checkpoint. A transaction
that meets a concurrent change falls back to the per-number read-modify-write, so a STOP that lands
during an import is never overwritten.

The checkpoint holds the byte offset just after the last committed line: an invocation that runs
out of time stops between chunks, and the next one reads the file from there (a Range request). A
file is imported once: its SHA-256 is claimed before any row is written, and a later import of the
same bytes ends as a duplicate of the first without writing a row.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sms_consent import blocklist
from sms_consent.blocklist import ImportProblem, ImportRow
from sms_consent.consent import AuditEvent, Change, NumberState, Source
from sms_consent.ports import ConcurrentUpdate, NumberStore

MAX_LINE_BYTES = 4096  # a row is a number and a type; a longer line is not one
MAX_FILE_BYTES = 2 * 1024**3  # about 100 million rows; an upload beyond it is refused, not half read
KEPT_ERRORS = 20  # the first rejected lines are kept with their reasons; all are counted
CHUNK_ROWS = 200  # rows per checkpoint: 2 batch reads, at most 4 transactions and 1 checkpoint write
CHUNK_LINES = 5_000  # and a checkpoint at least this often: a file of rejected lines stops in time too
TRANSACTION_NUMBERS = 50  # two actions each (state, audit event): TransactWriteItems takes 100
STOP_MARGIN_MS = 15_000  # stop this long before the function's timeout: one chunk and a checkpoint fit
READ_CHUNK_BYTES = 256 * 1024

WAITING, RUNNING, DONE, FAILED = "waiting_for_upload", "running", "done", "failed"
UPLOAD_PREFIX = "uploads/"  # the bucket notifies the queue of objects under it only


@dataclass(frozen=True)
class ImportJob:
    id: str
    key: str  # the uploaded object's key
    created_at: datetime
    status: str = WAITING
    content_hash: str = ""
    etag: str = ""  # the object as first read: a file replaced mid-import fails the import
    offset: int = 0  # bytes of the file committed
    line: int = 0  # the last line committed
    rows: int = 0  # non-blank data lines read
    imported: int = 0  # valid rows (already on the list as written, or now so)
    rejected: int = 0
    errors: tuple[ImportProblem, ...] = ()
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duplicate_of: str = ""


class LostLease(RuntimeError):
    """Another invocation took the import over (this one outlived its lease): stop without writing."""


class FileChanged(RuntimeError):
    """The uploaded object is not the one the import started on."""


class ImportJobs(Protocol):
    def get(self, import_id: str) -> ImportJob | None: ...

    def claim(self, import_id: str, owner: str, *, until: datetime, now: datetime) -> ImportJob | None:
        """The job, leased to `owner` until `until`; None when unknown or leased to another."""
        ...

    def save(self, job: ImportJob, owner: str) -> None:
        """Write the job's progress if `owner` still holds the lease (else LostLease)."""
        ...

    def release(self, import_id: str, owner: str) -> None: ...

    def claim_content(self, content_hash: str, import_id: str) -> str:
        """The import that owns these bytes: `import_id` if it is the first, else the earlier one."""
        ...


class UploadedFiles(Protocol):
    def describe(self, key: str) -> tuple[int, str] | None:
        """(size, etag) of the object, None when there is none."""
        ...

    def chunks(self, key: str, *, start: int, etag: str) -> Iterator[bytes]:
        """The object's bytes from `start`, in chunks; FileChanged when its etag is not `etag`."""
        ...


class BulkNumberStore(NumberStore, Protocol):
    def save_many(self, changes: Sequence[tuple[NumberState, Sequence[AuditEvent]]]) -> None:
        """Write several numbers' states and events in one transaction, each conditional on its
        version; ConcurrentUpdate (and nothing written) when any of them moved on."""
        ...


@dataclass(frozen=True)
class ImportDeps:
    jobs: ImportJobs
    files: UploadedFiles
    store: BulkNumberStore
    default_region: str
    clock: Callable[[], datetime]
    requeue: Callable[[str], None]  # have the import continued by a later invocation


@dataclass
class Outcome:
    job: ImportJob | None
    finished: bool  # False: time ran out (continued later), or another invocation holds it (busy)
    busy: bool = False
    written: int = 0  # numbers whose entry changed in this invocation
    transactions: int = field(default=0)


# ---------------------------------------------------------------------- reading the file


def physical_lines(chunks: Iterable[bytes], *, offset: int = 0) -> Iterator[tuple[bytes | None, int]]:
    """(line without its ending, or None when longer than MAX_LINE_BYTES; offset just after it)."""
    pending = b""
    position = offset  # file offset of pending[0]
    overlong = False  # inside a line already known to be too long: its bytes are dropped as they come
    for chunk in chunks:
        data = pending + chunk
        parts = data.splitlines(keepends=True)
        # The last part may continue in the next chunk (no ending yet, or a \r that a \n may follow).
        pending = parts.pop() if parts and not parts[-1].endswith(b"\n") else b""
        for part in parts:
            position += len(part)
            line = part.rstrip(b"\r\n")
            yield (None if overlong or len(line) > MAX_LINE_BYTES else line), position
            overlong = False
        if len(pending) > MAX_LINE_BYTES + 1:  # keep a possible trailing \r, drop the rest
            position += len(pending) - 1
            pending = pending[-1:]
            overlong = True
    if pending or overlong:
        position += len(pending)
        line = pending.rstrip(b"\r\n")
        yield (None if overlong or len(line) > MAX_LINE_BYTES else line), position


def parse_line(number: int, raw: bytes | None, default_region: str) -> ImportRow | ImportProblem | None:
    if raw is None:
        return ImportProblem(number, f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ImportProblem(number, "not UTF-8 text")
    if '"' in text:
        try:
            record = next(csv.reader((text,)), [])
        except csv.Error as exc:
            return ImportProblem(number, f"not valid CSV: {exc}")
    else:
        record = text.split(",")  # what csv.reader gives for an unquoted line, several times faster
    return blocklist.parse_record(number, record, default_region)


def _header_problem(raw: bytes | None) -> ImportProblem | None:
    try:
        text = (raw or b"").decode("utf-8").removeprefix("\ufeff")  # spreadsheets write a BOM
        record = next(csv.reader((text,)), None)
    except (UnicodeDecodeError, csv.Error):
        record = None
    return blocklist.header_problem(record)


def content_hash(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- writing the rows


def _apply(deps: ImportDeps, rows: Sequence[ImportRow], job_id: str, now: datetime) -> tuple[int, int]:
    """Block the rows' numbers; (numbers changed, transactions). A later row for a number wins."""
    latest = {row.phone: row for row in rows}

    def decide(row: ImportRow) -> Callable[[NumberState], Change]:
        evidence = {"import_id": job_id, "line": row.line}
        return lambda state: blocklist.block(
            state, block_type=row.block_type, reason="import", text="", source=Source.ADMIN, now=now, evidence=evidence
        )

    states = deps.store.get_many(list(latest))
    changes = []
    for phone, row in latest.items():
        change = blocklist.block(
            states[phone],
            block_type=row.block_type,
            reason="import",
            text="",
            source=Source.ADMIN,
            now=now,
            evidence={"import_id": job_id, "line": row.line},
        )
        if change.changed:
            changes.append((phone, change))
    transactions = 0
    for start in range(0, len(changes), TRANSACTION_NUMBERS):
        group = changes[start : start + TRANSACTION_NUMBERS]
        transactions += 1
        try:
            deps.store.save_many([(change.state, change.events) for _, change in group])
        except ConcurrentUpdate:  # someone changed one of them meanwhile: one by one, re-reading each
            for phone, _ in group:
                deps.store.update(phone, decide(latest[phone]))
    return len(changes), transactions


def import_id_of(message: dict[str, Any]) -> str | None:
    """The import a queued message is about: S3's object-created event (through EventBridge) for an
    upload, or a continuation; None for anything else."""
    if "import_id" in message:
        return str(message["import_id"])
    key = str(((message.get("detail") or {}).get("object") or {}).get("key", ""))
    if message.get("source") == "aws.s3" and key.startswith(UPLOAD_PREFIX):
        return key.removeprefix(UPLOAD_PREFIX)
    return None


def run(deps: ImportDeps, import_id: str, owner: str, *, remaining_ms: Callable[[], int]) -> Outcome:
    """Import what is left of the file; stop between chunks when time runs short (the lease lasts
    as long as the invocation can)."""
    lease_ms = remaining_ms() + 5_000
    now = deps.clock()
    job = deps.jobs.claim(import_id, owner, until=now + timedelta(milliseconds=lease_ms), now=now)
    if job is None:  # unknown, or being imported by an invocation that will see it through
        return Outcome(deps.jobs.get(import_id), finished=False, busy=True)
    try:
        if job.status in (DONE, FAILED):
            return Outcome(job, finished=True)  # a repeated notification
        return _run(deps, job, owner, remaining_ms)
    finally:
        deps.jobs.release(import_id, owner)


def _finish(deps: ImportDeps, job: ImportJob, owner: str, status: str, **changes: object) -> Outcome:
    done = replace(job, status=status, finished_at=deps.clock(), **changes)  # type: ignore[arg-type]
    deps.jobs.save(done, owner)
    return Outcome(done, finished=True)


def _run(deps: ImportDeps, job: ImportJob, owner: str, remaining_ms: Callable[[], int]) -> Outcome:
    if job.status == WAITING or not job.content_hash:
        described = deps.files.describe(job.key)
        job = replace(job, status=RUNNING, started_at=job.started_at or deps.clock())
        if described is None:
            return _finish(deps, job, owner, FAILED, errors=(ImportProblem(0, "no file was uploaded"),))
        size, etag = described
        if size > MAX_FILE_BYTES:
            return _finish(deps, job, owner, FAILED, errors=(ImportProblem(0, f"larger than {MAX_FILE_BYTES} bytes"),))
        try:
            digest = content_hash(deps.files.chunks(job.key, start=0, etag=etag))
        except FileChanged:
            return _finish(deps, job, owner, FAILED, errors=(ImportProblem(0, "the file changed during the import"),))
        first = deps.jobs.claim_content(digest, job.id)
        if first != job.id:
            return _finish(deps, job, owner, DONE, content_hash=digest, etag=etag, duplicate_of=first)
        job = replace(job, content_hash=digest, etag=etag)
        deps.jobs.save(job, owner)
    line, offset, rows, imported, rejected = job.line, job.offset, job.rows, job.imported, job.rejected
    errors = list(job.errors)
    written = transactions = 0
    committed = job.line
    pending: list[ImportRow] = []

    def progress() -> ImportJob:  # plain counters in the loop: a dataclass copy per line costs seconds per million
        return replace(
            job, line=line, offset=offset, rows=rows, imported=imported, rejected=rejected, errors=tuple(errors)
        )

    try:
        for raw, end in physical_lines(deps.files.chunks(job.key, start=job.offset, etag=job.etag), offset=offset):
            line, offset = line + 1, end
            if line == 1:
                if (problem := _header_problem(raw)) is not None:
                    return _finish(deps, progress(), owner, FAILED, rejected=1, errors=(problem,))
                continue
            parsed = parse_line(line, raw, deps.default_region)
            if isinstance(parsed, ImportRow):
                rows, imported = rows + 1, imported + 1
                pending.append(parsed)
            elif parsed is not None:
                rows, rejected = rows + 1, rejected + 1
                if len(errors) < KEPT_ERRORS:
                    errors.append(parsed)
            if len(pending) >= CHUNK_ROWS or line - committed >= CHUNK_LINES:
                if pending:
                    changed, used = _apply(deps, pending, job.id, deps.clock())
                    written, transactions, pending = written + changed, transactions + used, []
                committed = line
                deps.jobs.save(progress(), owner)
                if remaining_ms() < STOP_MARGIN_MS:
                    deps.requeue(job.id)
                    return Outcome(progress(), finished=False, written=written, transactions=transactions)
    except FileChanged:
        failure = ImportProblem(line, "the file was replaced during the import; upload it to a new import")
        return _finish(deps, job, owner, FAILED, errors=(*job.errors, failure))
    changed, used = _apply(deps, pending, job.id, deps.clock()) if pending else (0, 0)
    if line == 0:
        return _finish(deps, progress(), owner, FAILED, rejected=1, errors=(ImportProblem(1, "the file is empty"),))
    outcome = _finish(deps, progress(), owner, DONE)
    outcome.written, outcome.transactions = written + changed, transactions + used
    return outcome
