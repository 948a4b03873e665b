"""Blocklist files of any size (admin, API key): presigned uploads that start an import, the import's
progress, and exports written to S3 and handed out by a presigned link.

The small-body routes (`/v1/blocklist/import`, `/v1/blocklist/export`) stay for quick edits.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel

from sms_consent import blocklist_export, blocklist_import, wiring
from sms_consent.adapters.blocklist_files import presigned_get, presigned_put
from sms_consent.api.blocklist_routes import _filter
from sms_consent.api.problems import IsoDateTime, Problem
from sms_consent.clock import iso

router = APIGatewayRouter()

UPLOAD_SECONDS = 3600  # the upload link's life; the bucket expires uploads after days, not hours
DOWNLOAD_SECONDS = 900
ID_PATTERN = r"^[0-9a-f]{32}$"


class ImportProblemModel(BaseModel):
    line: int
    error: str


class ImportStarted(BaseModel):
    id: str
    upload_url: str
    method: str
    expires_at: str


class ImportStatus(BaseModel):
    id: str
    status: str
    rows: int
    imported: int
    rejected: int
    errors: list[ImportProblemModel]
    created_at: str
    started_at: str | None
    finished_at: str | None
    duplicate_of: str | None


class ExportStatus(BaseModel):
    id: str
    status: str
    rows: int
    download_url: str | None
    expires_at: str | None


def _files() -> wiring.BlocklistFiles:
    return wiring.blocklist_files_of(wiring.admin_api_settings())


@router.post("/v1/blocklist/imports", summary="Start an import of a CSV file of any size (presigned upload)")
def start_import() -> Response[str]:
    files = _files()
    now = wiring.utc_now()
    import_id = uuid.uuid4().hex
    job = blocklist_import.ImportJob(id=import_id, key=f"{blocklist_import.UPLOAD_PREFIX}{import_id}", created_at=now)
    files.imports.create(job)
    started = ImportStarted(
        id=import_id,
        upload_url=presigned_put(files.s3, files.bucket, job.key, UPLOAD_SECONDS),
        method="PUT",
        expires_at=iso(now + timedelta(seconds=UPLOAD_SECONDS)),
    )
    return Response(
        status_code=201,
        content_type="application/json",
        body=started.model_dump_json(),
        headers={"Location": f"/v1/blocklist/imports/{import_id}"},
    )


@router.get("/v1/blocklist/imports/<import_id>", summary="An import's progress, counts and first errors")
def get_import(import_id: Annotated[str, Path(pattern=ID_PATTERN)]) -> ImportStatus:
    job = _files().imports.get(import_id)
    if job is None:
        raise Problem(404, f"no import with id {import_id}", title="Unknown import")
    return ImportStatus(
        id=job.id,
        status=job.status,
        rows=job.rows,
        imported=job.imported,
        rejected=job.rejected,
        errors=[ImportProblemModel(line=p.line, error=p.error) for p in job.errors],
        created_at=iso(job.created_at),
        started_at=iso(job.started_at) if job.started_at else None,
        finished_at=iso(job.finished_at) if job.finished_at else None,
        duplicate_of=job.duplicate_of or None,
    )


@router.post("/v1/blocklist/exports", summary="Export the blocklist (any size) to a file")
def start_export(
    date_from: Annotated[IsoDateTime | None, Query()] = None,
    date_to: Annotated[IsoDateTime | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=12)] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    phone_prefix: Annotated[str | None, Query(max_length=16)] = None,
) -> Response[str]:
    where = _filter(date_from, date_to, type, text, phone_prefix)
    files = _files()
    export_id = uuid.uuid4().hex
    files.exports.create(blocklist_export.ExportJob(id=export_id, created_at=wiring.utc_now()))
    message = {"export_id": export_id, "filter": blocklist_export.filter_message(where)}
    files.sqs.send_message(QueueUrl=files.queue_url, MessageBody=json.dumps(message))
    body = ExportStatus(id=export_id, status=blocklist_export.RUNNING, rows=0, download_url=None, expires_at=None)
    return Response(
        status_code=202,
        content_type="application/json",
        body=body.model_dump_json(),
        headers={"Location": f"/v1/blocklist/exports/{export_id}"},
    )


@router.get("/v1/blocklist/exports/<export_id>", summary="An export's status and, once done, its link")
def get_export(export_id: Annotated[str, Path(pattern=ID_PATTERN)]) -> ExportStatus:
    files = _files()
    job = files.exports.get(export_id)
    if job is None:
        raise Problem(404, f"no export with id {export_id}", title="Unknown export")
    done = job.status == blocklist_export.DONE
    return ExportStatus(
        id=job.id,
        status=job.status,
        rows=job.rows,
        download_url=presigned_get(files.s3, files.bucket, job.key, DOWNLOAD_SECONDS, "blocklist.csv")
        if done
        else None,
        expires_at=iso(wiring.utc_now() + timedelta(seconds=DOWNLOAD_SECONDS)) if done else None,
    )
