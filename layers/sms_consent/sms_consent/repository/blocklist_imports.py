"""The ImportJobs port on the single table: one item per import (`IMPORT#<id>`, SK `IMPORT`) holding
its progress, checkpoint and lease, and one per imported file's content (`IMPORTFILE#<sha256>`).

The lease keeps two invocations (a repeated notification and a continuation, say) from importing
the same file at once: every progress write is conditional on holding it. The content item has no
expiry: the same bytes are imported once, however late they come again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sms_consent.blocklist import ImportProblem
from sms_consent.blocklist_export import ExportJob
from sms_consent.blocklist_import import ImportJob, LostLease
from sms_consent.clock import iso, parse_iso
from sms_consent.repository.table import TTL_ATTRIBUTE, Table, error_code, item_key

JOB_DAYS = 90  # how long an import's report stays readable


def _job_key(import_id: str) -> dict[str, dict[str, str]]:
    return item_key(f"IMPORT#{import_id}", "IMPORT")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _progress(job: ImportJob) -> dict[str, Any]:
    """The attributes an import's progress is made of, as DynamoDB values (empty times left out)."""
    values: dict[str, Any] = {
        "key": _s(job.key),
        "status": _s(job.status),
        "created_at": _s(iso(job.created_at)),
        "content_hash": _s(job.content_hash),
        "etag": _s(job.etag),
        "offset": _n(job.offset),
        "line": _n(job.line),
        "rows": _n(job.rows),
        "imported": _n(job.imported),
        "rejected": _n(job.rejected),
        "errors": {"L": [{"M": {"line": _n(p.line), "error": _s(p.error)}} for p in job.errors]},
        "duplicate_of": _s(job.duplicate_of),
    }
    for name, at in (("started_at", job.started_at), ("finished_at", job.finished_at)):
        if at is not None:
            values[name] = _s(iso(at))
    return values


def _job(raw: dict[str, Any]) -> ImportJob:
    def text(name: str) -> str:
        return str(raw.get(name, {}).get("S", ""))

    def number(name: str) -> int:
        return int(raw.get(name, {}).get("N", "0"))

    def when(name: str) -> datetime | None:
        return parse_iso(text(name)) if text(name) else None

    errors = tuple(
        ImportProblem(int(e["M"]["line"]["N"]), e["M"]["error"]["S"]) for e in raw.get("errors", {}).get("L", [])
    )
    return ImportJob(
        id=raw["PK"]["S"].removeprefix("IMPORT#"),
        key=text("key"),
        created_at=parse_iso(text("created_at")),
        status=text("status"),
        content_hash=text("content_hash"),
        etag=text("etag"),
        offset=number("offset"),
        line=number("line"),
        rows=number("rows"),
        imported=number("imported"),
        rejected=number("rejected"),
        errors=errors,
        started_at=when("started_at"),
        finished_at=when("finished_at"),
        duplicate_of=text("duplicate_of"),
    )


class DynamoImportJobs:
    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, job: ImportJob) -> None:
        expires = int((job.created_at + timedelta(days=JOB_DAYS)).timestamp())
        self._table.client.put_item(
            TableName=self._table.name,
            Item={**_job_key(job.id), **_progress(job), TTL_ATTRIBUTE: _n(expires)},
            ConditionExpression="attribute_not_exists(PK)",
        )

    def get(self, import_id: str) -> ImportJob | None:
        raw = self._table.client.get_item(TableName=self._table.name, Key=_job_key(import_id), ConsistentRead=True)
        return _job(raw["Item"]) if "Item" in raw else None

    def claim(self, import_id: str, owner: str, *, until: datetime, now: datetime) -> ImportJob | None:
        try:
            raw = self._table.client.update_item(
                TableName=self._table.name,
                Key=_job_key(import_id),
                UpdateExpression="SET lease_owner = :owner, lease_until = :until",
                ConditionExpression=(
                    "attribute_exists(PK) AND (attribute_not_exists(lease_until) OR lease_until < :now"
                    " OR lease_owner = :owner)"
                ),
                ExpressionAttributeValues={":owner": _s(owner), ":until": _s(iso(until)), ":now": _s(iso(now))},
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return None
            raise
        return _job(raw["Attributes"])

    def save(self, job: ImportJob, owner: str) -> None:
        values = _progress(job)
        names = {f"#a{index}": name for index, name in enumerate(values)}
        try:
            self._table.client.update_item(
                TableName=self._table.name,
                Key=_job_key(job.id),
                UpdateExpression="SET " + ", ".join(f"#a{index} = :a{index}" for index in range(len(values))),
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":owner": _s(owner),
                    **{f":a{index}": value for index, value in enumerate(values.values())},
                },
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise LostLease(f"import {job.id} is being run by another invocation") from exc
            raise

    def release(self, import_id: str, owner: str) -> None:
        try:
            self._table.client.update_item(
                TableName=self._table.name,
                Key=_job_key(import_id),
                UpdateExpression="REMOVE lease_until",
                ConditionExpression="lease_owner = :owner",
                ExpressionAttributeValues={":owner": _s(owner)},
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # another took it over: theirs now
                raise

    def claim_content(self, content_hash: str, import_id: str) -> str:
        key = item_key(f"IMPORTFILE#{content_hash}", "IMPORTFILE")
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item={**key, "import_id": _s(import_id)},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            raw = self._table.client.get_item(TableName=self._table.name, Key=key, ConsistentRead=True)
            return str(raw["Item"]["import_id"]["S"])
        return import_id


def _export_key(export_id: str) -> dict[str, dict[str, str]]:
    return item_key(f"EXPORT#{export_id}", "EXPORT")


class DynamoExportJobs:
    """The ExportJobs port: one item per export (`EXPORT#<id>`), kept JOB_DAYS."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def create(self, job: ExportJob) -> None:
        self.save(job)

    def save(self, job: ExportJob) -> None:
        item: dict[str, Any] = {
            **_export_key(job.id),
            "status": _s(job.status),
            "created_at": _s(iso(job.created_at)),
            "rows": _n(job.rows),
            "key": _s(job.key),
            "error": _s(job.error),
            TTL_ATTRIBUTE: _n(int((job.created_at + timedelta(days=JOB_DAYS)).timestamp())),
        }
        if job.finished_at is not None:
            item["finished_at"] = _s(iso(job.finished_at))
        self._table.client.put_item(TableName=self._table.name, Item=item)

    def get(self, export_id: str) -> ExportJob | None:
        raw = self._table.client.get_item(TableName=self._table.name, Key=_export_key(export_id), ConsistentRead=True)
        item = raw.get("Item")
        if item is None:
            return None
        return ExportJob(
            id=export_id,
            created_at=parse_iso(item["created_at"]["S"]),
            status=item["status"]["S"],
            rows=int(item["rows"]["N"]),
            key=item["key"]["S"],
            finished_at=parse_iso(item["finished_at"]["S"]) if "finished_at" in item else None,
            error=item["error"]["S"],
        )
