"""A number's consent (admin, API key): its state, a program status change, its audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from sms_consent import subscriptions, wiring
from sms_consent.api.problems import LANGUAGE_TAG, PROBLEM_TYPE, IsoDateTime, Problem, language_code, phone_param
from sms_consent.clock import iso
from sms_consent.consent import AuditEvent, NumberState, Status

router = APIGatewayRouter()
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]


class PendingView(BaseModel):
    requested_at: datetime
    expires_at: datetime
    source: str


class ProgramView(BaseModel):
    status: Literal["subscribed", "unsubscribed", "pending"]
    source: str
    updated_at: datetime
    pending: PendingView | None = Field(description="an open double opt-in, until the consumer confirms or it expires")


class BlockView(BaseModel):
    type: int
    reason: str
    added_at: datetime


class NumberView(BaseModel):
    phone: str = Field(description="E.164")
    programs: dict[str, ProgramView]
    block: BlockView | None
    users: list[str] = Field(description="profiles linked to this number; they all see this status")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["subscribed", "unsubscribed"]
    source: Literal["api", "sdk", "preference_center", "import"] = "api"
    use_double_opt_in: bool = Field(default=False, description="api: send a confirmation prompt instead")
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG, description="language of the prompt, e.g. es")
    note: str | None = Field(default=None, max_length=500, description="kept in the audit event")
    requested_at: IsoDateTime | None = Field(
        default=None,
        description="unsubscribe only: when the consumer asked, by call, email or in person; the FCC's 10 "
        "business days to honour a revocation run from it (GET /v1/metrics reports them)",
    )


class ChangeResult(BaseModel):
    action: str
    detail: str
    double_opt_in_reason: str | None
    expires_at: datetime | None
    prompt_sent: bool


class NumberChange(NumberView):
    result: ChangeResult


class AuditEventView(BaseModel):
    """An `AuditEvent` as the API shows it (read straight from the domain object)."""

    model_config = ConfigDict(from_attributes=True)

    type: str = Field(validation_alias="event_type", description="ConsentGranted, ConsentRevoked, NumberBlocked, ...")
    at: datetime = Field(description="when the change was recorded (UTC)")
    phone: str = Field(description="E.164")
    program: str | None = Field(description="null for changes to the whole number (blocklist, STOP menu)")
    old_status: str | None
    new_status: str | None
    source: str = Field(description="keyword, web_form, api, sdk, preference_center, import, admin, carrier, profile")
    evidence: dict[str, Any] = Field(description="message ids and text, IP, user agent, page, consent text and hash")
    event_id: str


class History(BaseModel):
    events: list[AuditEventView] = Field(description="the audit trail, oldest first")


def number_view(state: NumberState, users: list[str], now: datetime) -> NumberView:
    programs = {}
    for name, program in sorted(state.programs.items()):
        pending = program.pending if program.pending is not None and program.pending.is_open(now) else None
        programs[name] = ProgramView(
            status=program.effective_status(now).value,  # type: ignore[arg-type]
            source=str(program.source),
            updated_at=program.updated_at,
            pending=PendingView(requested_at=pending.requested_at, expires_at=pending.expires_at, source=pending.source)
            if pending
            else None,
        )
    block = state.block
    return NumberView(
        phone=state.phone,
        programs=programs,
        block=BlockView(type=block.type, reason=block.reason, added_at=block.added_at) if block else None,
        users=users,
    )


def request_evidence() -> dict[str, Any]:
    identity = router.current_event.request_context.identity
    found = {
        "client_ip": identity.source_ip,
        "user_agent": identity.user_agent,
        "api_key_id": identity.api_key_id,
    }
    return {key: value for key, value in found.items() if value}


def _users(phone: str) -> list[str]:
    return wiring.admin_deps().stores.profiles.users_of(phone)


@router.get("/v1/numbers/<phone>", summary="A number's consent, per program, and its blocklist entry", security=API_KEY)
def get_number(phone: Annotated[str, Path(max_length=64)]) -> NumberView:
    e164 = phone_param(phone, wiring.admin_deps().config.default_region).e164
    return number_view(wiring.admin_deps().stores.numbers.get(e164), _users(e164), wiring.utc_now())


REQUEST_AGE_LIMIT = timedelta(days=366)
CLOCK_SKEW = timedelta(minutes=5)


def _revocation_requested_at(status: str, requested: datetime) -> datetime:
    now = wiring.utc_now()
    if status != "unsubscribed":
        raise Problem(400, "requested_at: only an unsubscribe has a request time to honour")
    if requested > now + CLOCK_SKEW or requested < now - REQUEST_AGE_LIMIT:
        raise Problem(400, "requested_at: must be in the past year, not in the future")
    return requested


@router.put(
    "/v1/numbers/<phone>/programs/<program>",
    summary="Subscribe or unsubscribe a number (double opt-in where its source or an opt-out requires it)",
    security=API_KEY,
)
def put_number_program(
    phone: Annotated[str, Path(max_length=64)], program: Annotated[str, Path(max_length=40)], change: StatusChange
) -> NumberChange:
    config = wiring.admin_deps().config
    e164 = phone_param(phone, config.default_region).e164
    if program not in config.programs:
        raise Problem(
            404, f"unknown program '{program}'", type_=PROBLEM_TYPE + subscriptions.Rejection.UNKNOWN_PROGRAM.value
        )
    evidence = request_evidence() | ({"note": change.note} if change.note else {})
    if change.requested_at is not None:
        evidence["requested_at"] = iso(_revocation_requested_at(change.status, change.requested_at))
    request = subscriptions.StatusRequest(
        phone=e164,
        program=program,
        status=Status(change.status),
        source=change.source,
        use_double_opt_in=change.use_double_opt_in,
        evidence=evidence,
        language=language_code(change.language),
    )
    users = _users(e164)  # read before the write: a failed read after it would make a retry write again
    state, decision = subscriptions.set_status(request, wiring.admin_deps().subscriptions)
    if decision.reason is not None:
        detail = subscriptions.REASON_DETAIL[decision.reason]
        if decision.action is subscriptions.SubscriptionAction.PROMPT_RECENT and decision.prompt is None:
            detail += " (a prompt was sent less than 10 minutes ago: no new one was sent)"
        elif decision.action is subscriptions.SubscriptionAction.PROMPT_RECENT:
            detail += " (the prompt asked for less than 10 minutes ago had not gone out: it is sent now)"
    else:
        detail = decision.action.value.replace("_", " ")
    view = number_view(state, users, wiring.utc_now())
    return NumberChange(
        **view.model_dump(),
        result=ChangeResult(
            action=decision.action.value,
            detail=detail,
            double_opt_in_reason=decision.reason.value if decision.reason else None,
            expires_at=decision.expires_at,
            prompt_sent=decision.prompt is not None,
        ),
    )


def event_view(event: AuditEvent) -> AuditEventView:
    return AuditEventView.model_validate(event)


@router.get("/v1/numbers/<phone>/history", summary="A number's audit trail, oldest first", security=API_KEY)
def get_number_history(phone: Annotated[str, Path(max_length=64)]) -> History:
    e164 = phone_param(phone, wiring.admin_deps().config.default_region).e164
    return History(events=[event_view(event) for event in wiring.admin_deps().stores.numbers.history(e164)])
