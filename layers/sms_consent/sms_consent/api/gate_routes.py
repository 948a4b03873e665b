"""POST /v1/gate/check: the send gate's decisions for a message, now, without sending anything."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from pydantic import BaseModel, ConfigDict, Field

from sms_consent import wiring
from sms_consent.api.problems import Problem
from sms_consent.messages import MAX_BODY_LENGTH, MAX_RECIPIENTS, Category, OutboundRequest

router = APIGatewayRouter()


class GateCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    program: str = Field(min_length=1, max_length=40)
    category: Category
    recipients: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    body: str = Field(default="", max_length=MAX_BODY_LENGTH)
    media_urls: list[str] = Field(default_factory=list, max_length=10)
    sender: str | None = Field(default=None, max_length=20)


class GateDecisionView(BaseModel):
    phone: str
    decision: str
    reason: str
    retry_at: str | None


class GateCheckResponse(BaseModel):
    decisions: list[GateDecisionView]


@router.post("/v1/gate/check", summary="What the send gate would decide for each recipient, right now")
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
    try:
        decisions = send_gate.check(outbound, wiring.admin_deps().gate)
    except send_gate.InvalidRequest as exc:
        raise Problem(400, str(exc)) from None
    return GateCheckResponse(decisions=[GateDecisionView.model_validate(d.as_dict()) for d in decisions])
