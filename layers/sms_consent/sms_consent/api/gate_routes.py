"""POST /v1/gate/check: the send gate's decisions for a message, now, without sending anything."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from sms_consent import segments, wiring
from sms_consent.api.problems import IsoDateTime, Problem
from sms_consent.messages import MAX_BODY_LENGTH, MAX_RECIPIENTS, Category, OutboundRequest

router = APIGatewayRouter()
MAX_PREVIEW = timedelta(days=400)  # consent and breakers are read as they are now: far previews mislead


class GateCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: str = Field(min_length=1, max_length=40)
    category: Category
    recipients: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    body: str = Field(default="", max_length=MAX_BODY_LENGTH)
    media_urls: list[str] = Field(default_factory=list, max_length=10)
    sender: str | None = Field(default=None, max_length=20)
    at: IsoDateTime | None = Field(
        default=None,
        description="decide as of this instant (ISO-8601 with its offset), e.g. for a campaign scheduler; "
        f"within {MAX_PREVIEW.days} days of now. Stored consent and open breakers are read as they are now",
    )


class GateDecisionView(BaseModel):
    phone: str
    decision: str
    reason: str
    retry_at: str | None
    delivery: Literal["sms", "mms", "sms_link"] = Field(
        description="sms: no media; mms: the media as MMS (a US or Canadian mobile, from a sender enabled for "
        "MMS); sms_link: an SMS whose text carries a link to each media file, shortened to the segment limit"
    )
    detail: str | None = Field(
        default=None,
        description="for MESSAGE_INVALID, the limit broken, named first: empty, segments, media, type, "
        "per file, total or link",
    )


class GateCheckResponse(BaseModel):
    segments: int = Field(description="segments of the body as given (opt-out instructions may add to it)")
    encoding: str = Field(description="GSM-7 or UCS-2")
    decisions: list[GateDecisionView]


@router.post("/v1/gate/check", summary="What the send gate would decide for each recipient, now or at a given instant")
def gate_check(request: GateCheckRequest) -> GateCheckResponse:
    from sms_consent import send_gate  # the gate's rules load on the first check, not at cold start

    outbound = OutboundRequest(
        program=request.program,
        category=request.category,
        recipients=tuple(request.recipients),
        body=request.body,
        media_urls=tuple(request.media_urls),
        sender=request.sender,
    )
    if request.at is not None and abs(request.at - wiring.utc_now()) > MAX_PREVIEW:
        raise Problem(400, f"at: must be within {MAX_PREVIEW.days} days of now")
    try:
        decisions = send_gate.check(outbound, wiring.admin_deps().gate, request.at)
    except send_gate.InvalidRequest as exc:
        raise Problem(400, str(exc)) from None
    counted = segments.analyze(request.body)
    return GateCheckResponse(
        segments=counted.segments,
        encoding=counted.encoding.value,
        decisions=[GateDecisionView.model_validate(d.as_dict()) for d in decisions],
    )
