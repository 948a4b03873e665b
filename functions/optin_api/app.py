"""OptinApiFunction: the public web-form opt-in route, its OpenAPI document and Swagger UI."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import wiring
from sms_consent.api import problems
from sms_consent.observability import logger, metrics, tracer

app = problems.resolver(wiring.settings().allowed_origin)


@functools.cache
def enable_docs() -> None:
    """Swagger UI at /v1/docs; registered on first use because the OpenAPI models are slow to import."""
    app.enable_swagger(path="/v1/docs", title="SMS consent API", version="1.0.0")


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=app.get_openapi_json_schema())


@app.post("/v1/optins", summary="Start a double opt-in from a web form")
def post_optin() -> Any:
    # The web-form flow (CAPTCHA, rate limits, pending confirmation, prompt) is issue #4's; until it
    # lands the route says so plainly instead of pretending to accept consent.
    raise problems.Problem(501, "web-form opt-in is not available in this version")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    enable_docs()
    return app.resolve(event, context)
