"""Blocklist routes (admin, API key): search, add or change, remove, CSV import and export."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from sms_consent import blocklist, phones, wiring
from sms_consent.api.problems import IsoDateTime
from sms_consent.ports import BadCursor

router = APIGatewayRouter()

MAX_IMPORT_BYTES = 1_000_000


class BlockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: int = Field(ge=1, le=3, description="1 inbound, 2 outbound, 3 both")
    reason: str = Field(default="", max_length=200)
    text: str = Field(default="", max_length=1600, description="what the number sent, e.g. its opt-out message")


class BlockEntry(BaseModel):
    phone: str
    type: int
    reason: str
    text: str
    added_at: str


class BlocklistPage(BaseModel):
    items: list[BlockEntry]
    cursor: str | None


class ImportProblemModel(BaseModel):
    line: int
    error: str


class ImportResult(BaseModel):
    imported: int
    rejected: list[ImportProblemModel]


def _e164(raw: str) -> str:
    try:
        return phones.to_e164(raw, wiring.admin_deps().config.default_region)
    except phones.InvalidPhoneNumber as exc:
        raise BadRequestError(f"'{phones.mask(raw)}' is not a phone number: {exc}") from None


def _filter(
    date_from: datetime | None, date_to: datetime | None, type_: str | None, text: str | None, phone_prefix: str | None
) -> blocklist.SearchFilter:
    try:
        block_type = blocklist.parse_type(type_) if type_ else None
    except ValueError as exc:
        raise BadRequestError(str(exc)) from None
    if phone_prefix and not phone_prefix.lstrip("+").isdigit():
        raise BadRequestError("phone_prefix must be digits, country code first (e.g. 44 or +1415)")
    return blocklist.SearchFilter(date_from, date_to, block_type, text, phone_prefix)


@router.get("/v1/blocklist", summary="Search the blocklist")
def search_blocklist(
    date_from: Annotated[IsoDateTime | None, Query()] = None,
    date_to: Annotated[IsoDateTime | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=12)] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    phone_prefix: Annotated[str | None, Query(max_length=16)] = None,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> BlocklistPage:
    where = _filter(date_from, date_to, type, text, phone_prefix)
    try:
        entries, next_cursor = wiring.admin_deps().stores.blocklist.search(where, limit=limit, cursor=cursor)
    except BadCursor as exc:
        raise BadRequestError(str(exc)) from None
    return BlocklistPage(items=[BlockEntry.model_validate(e.as_dict()) for e in entries], cursor=next_cursor)


@router.get("/v1/blocklist/export", summary="Export the blocklist as CSV")
def export_blocklist(
    date_from: Annotated[IsoDateTime | None, Query()] = None,
    date_to: Annotated[IsoDateTime | None, Query()] = None,
    type: Annotated[str | None, Query(max_length=12)] = None,
    text: Annotated[str | None, Query(max_length=200)] = None,
    phone_prefix: Annotated[str | None, Query(max_length=16)] = None,
) -> Response[str]:
    where = _filter(date_from, date_to, type, text, phone_prefix)
    return Response(
        status_code=200,
        content_type="text/csv",
        body=blocklist.to_csv(wiring.admin_deps().stores.blocklist.export(where)),
        headers={"Content-Disposition": 'attachment; filename="blocklist.csv"'},
    )


@router.post("/v1/blocklist/import", summary="Import a CSV of 'Mobile Number,Block Type' rows")
def import_blocklist() -> ImportResult:
    event = router.current_event
    content_type = (event.headers.get("content-type") or event.headers.get("Content-Type") or "").split(";")[0]
    if content_type.strip().lower() not in ("text/csv", "text/plain"):
        raise BadRequestError("send the file as text/csv")
    body = event.decoded_body or ""
    if len(body.encode("utf-8", "replace")) > MAX_IMPORT_BYTES:
        raise BadRequestError(f"the file is larger than {MAX_IMPORT_BYTES} bytes")
    imported, problems = blocklist.import_csv(
        wiring.admin_deps().stores.numbers,
        body,
        default_region=wiring.admin_deps().config.default_region,
        now=wiring.utc_now(),
    )
    return ImportResult(imported=imported, rejected=[ImportProblemModel(line=p.line, error=p.error) for p in problems])


@router.put("/v1/blocklist/<phone>", summary="Add or change a blocklist entry")
def put_blocklist_entry(phone: Annotated[str, Path(max_length=64)], entry: BlockRequest) -> BlockEntry:
    saved = blocklist.put_entry(
        wiring.admin_deps().stores.numbers,
        _e164(phone),
        block_type=entry.type,
        reason=entry.reason,
        text=entry.text,
        now=wiring.utc_now(),
    )
    return BlockEntry.model_validate(saved.as_dict())


@router.delete("/v1/blocklist/<phone>", summary="Remove a blocklist entry")
def delete_blocklist_entry(phone: Annotated[str, Path(max_length=64)]) -> Response[Any]:
    deps = wiring.admin_deps()
    blocklist.remove_entry(deps.stores.numbers, _e164(phone), now=wiring.utc_now())
    return Response(status_code=204, body=None)
