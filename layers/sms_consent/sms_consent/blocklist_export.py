"""Blocklist exports of any size: requested by the API, written to S3 by BlocklistFilesFunction.

An export can outlast an API request (API Gateway gives up after 29 seconds), so the route records
the request and queues it; the function streams the matching entries into a multipart upload (the
rows that spreadsheets would evaluate neutralised, as in the small export) and the status route
hands out a presigned link once it is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sms_consent.blocklist import EXPORT_HEADER, Entry, SearchFilter, export_row
from sms_consent.clock import iso, parse_iso

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass(frozen=True)
class ExportJob:
    id: str
    created_at: datetime
    status: str = RUNNING
    rows: int = 0
    key: str = ""  # the CSV object, once done
    finished_at: datetime | None = None
    error: str = ""


class ExportJobs(Protocol):
    def create(self, job: ExportJob) -> None: ...

    def get(self, export_id: str) -> ExportJob | None: ...

    def save(self, job: ExportJob) -> None: ...


def filter_message(where: SearchFilter) -> dict[str, Any]:
    """The search filter as the queued request carries it."""
    return {
        "date_from": iso(where.date_from) if where.date_from else None,
        "date_to": iso(where.date_to) if where.date_to else None,
        "block_type": where.block_type,
        "text": where.text,
        "phone_prefix": where.phone_prefix,
    }


def filter_of(message: dict[str, Any]) -> SearchFilter:
    return SearchFilter(
        date_from=parse_iso(message["date_from"]) if message.get("date_from") else None,
        date_to=parse_iso(message["date_to"]) if message.get("date_to") else None,
        block_type=int(message["block_type"]) if message.get("block_type") is not None else None,
        text=message.get("text") or None,
        phone_prefix=message.get("phone_prefix") or None,
    )


def rows(entries: Iterable[Entry]) -> Iterator[list[str | int]]:
    yield list(EXPORT_HEADER)
    for entry in entries:
        yield export_row(entry)


class Entries(Protocol):
    def export(self, where: SearchFilter) -> Iterator[Entry]: ...


@dataclass(frozen=True)
class ExportDeps:
    jobs: ExportJobs
    entries: Entries
    upload: Callable[[str, Iterable[list[str | int]]], int]  # (key, rows) -> rows written
    clock: Callable[[], datetime]


def run(deps: ExportDeps, message: dict[str, Any]) -> ExportJob | None:
    """Write the requested export's object and record it done (or failed, and re-raise)."""
    jobs, now, export_id = deps.jobs, deps.clock, str(message["export_id"])
    entries = deps.entries.export(filter_of(message.get("filter") or {}))
    upload = deps.upload
    job = jobs.get(export_id)
    if job is None or job.status != RUNNING:
        return job  # unknown, or a repeated delivery of a finished one
    key = f"exports/{export_id}.csv"
    try:
        written = upload(key, rows(entries)) - 1  # the header is not a row
    except Exception as exc:
        jobs.save(replace(job, status=FAILED, finished_at=now(), error=type(exc).__name__))
        raise
    done = replace(job, status=DONE, rows=written, key=key, finished_at=now())
    jobs.save(done)
    return done
