"""GET /v1/numbers/{phone}/proof (admin, API key): the number's proof of consent, as JSON or as a
printable HTML page (proof, proof_page)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from sms_consent import proof, proof_page, wiring
from sms_consent.api.number_routes import API_KEY
from sms_consent.api.problems import phone_param

router = APIGatewayRouter()


@router.get(
    "/v1/numbers/<phone>/proof",
    summary="Proof of consent: the number's history with all evidence and the words it agreed to",
    description="format=json (default) for machines, format=html for a printable, self-contained page. "
    "The report carries a SHA-256 of its JSON form.",
    security=API_KEY,
)
def get_proof(
    phone: Annotated[str, Path(max_length=64)],
    report_format: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
) -> Response[str]:
    deps = wiring.admin_deps()
    e164 = phone_param(phone, deps.config.default_region).e164
    state = deps.stores.numbers.get(e164)
    events = deps.stores.numbers.history(e164)
    texts = deps.stores.consent_texts.get_many(proof.text_hashes(events))
    identity = router.current_event.request_context.identity
    report = proof.report(
        state,
        events,
        texts,
        generated_at=wiring.utc_now(),
        generated_by=f"api key {identity.api_key_id}" if identity.api_key_id else "api",
    )
    if report_format == "html":
        return Response(status_code=200, content_type="text/html; charset=utf-8", body=proof_page.render(report))
    return Response(status_code=200, content_type="application/json", body=json.dumps(report, ensure_ascii=False))
