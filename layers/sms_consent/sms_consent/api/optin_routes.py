"""POST /v1/optins (public): the web form's double opt-in, guarded by CAPTCHA, rate limits and breakers."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from sms_consent import signup, wiring
from sms_consent.api.problems import LANGUAGE_TAG, language_code
from sms_consent.clock import iso
from sms_consent.observability import metrics

router = APIGatewayRouter()
PROBLEM: OpenAPIResponse = {"description": "application/problem+json: type, title, status, detail"}


class OptinRequest(BaseModel):
    # A business's own form may post more fields than these; they are ignored, not refused.
    model_config = ConfigDict(extra="ignore")

    phone: str = Field(min_length=1, max_length=64, description="any format phonenumbers parses (US by default)")
    program: str = Field(min_length=1, max_length=40, description="program id from the configuration, e.g. alerts")
    source: Literal["web_form"] = "web_form"
    use_double_opt_in: bool = Field(
        default=True, description="programs that use double opt-in always get it; true asks for it for the others"
    )
    captcha_token: str | None = Field(default=None, max_length=4096, description="the CAPTCHA widget's token")
    language: str | None = Field(default=None, pattern=LANGUAGE_TAG, description="language of the prompt, e.g. es")
    consent_text: str = Field(
        min_length=20, max_length=2000, description="the disclosure the person saw; kept with its hash as proof"
    )
    page_url: str | None = Field(default=None, max_length=2000, description="the page the form is on")


class OptinAccepted(BaseModel):
    status: Literal["pending", "subscribed"]
    expires_at: datetime | None = Field(description="when the pending confirmation expires")
    prompt_sent: bool = Field(description="false when a prompt went out less than 10 minutes ago")
    double_opt_in_reason: str | None = Field(
        default=None,
        description="why a confirmation is asked for: program_uses_double_opt_in, use_double_opt_in, or "
        "consumer_opted_out (the number's consumer opted out; only their YES can subscribe it again)",
    )


@router.post(
    "/v1/optins",
    summary="Sign a number up from a web form: double opt-in where it applies",
    description=(
        "202 with status pending and expires_at when a confirmation prompt applies (a resubmission within "
        "10 minutes answers 202 again and sends nothing); 200 with status subscribed otherwise. A sign-up "
        "suspected of traffic pumping is answered the same way, its prompt held. "
        "Problems: invalid-number, number-type-not-allowed, country-not-allowed, unknown-program, "
        "captcha-missing (400); captcha-failed (403); rate-limited (429, Retry-After); "
        "body too large (413); captcha-unavailable (503)."
    ),
    responses={
        200: {"description": "subscribed", "content": {"application/json": {"model": OptinAccepted}}},
        202: {"description": "pending confirmation", "content": {"application/json": {"model": OptinAccepted}}},
        400: PROBLEM,
        403: PROBLEM,
        413: PROBLEM,
        429: PROBLEM,
        503: PROBLEM,
    },
    security=[],
)
def post_optin(request: OptinRequest) -> Response[str]:
    identity = router.current_event.request_context.identity
    headers = router.current_event.headers  # case-insensitive
    form = signup.WebForm(
        phone=request.phone,
        program=request.program,
        captcha_token=request.captcha_token,
        consent_text=request.consent_text,
        use_double_opt_in=request.use_double_opt_in,
        language=language_code(request.language),
        page_url=request.page_url or headers.get("referer"),
        client_ip=identity.source_ip,
        user_agent=identity.user_agent or headers.get("user-agent"),
        origin=headers.get("origin"),
    )
    result = signup.submit_form(form, wiring.signup_deps())
    if result.held:
        metrics.add_metric(name="OptinPromptsHeld", unit=MetricUnit.Count, value=1)
    body = {
        "status": result.status.value,
        "expires_at": iso(result.expires_at) if result.expires_at else None,
        "prompt_sent": result.prompt_sent,
        "double_opt_in_reason": result.reason.value if result.reason else None,
    }
    pending = result.status.value == "pending"
    return Response(status_code=202 if pending else 200, content_type="application/json", body=json.dumps(body))
