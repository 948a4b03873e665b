"""OptinApiFunction: the public web-form opt-in route, the API's OpenAPI document and Swagger UI."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import wiring
from sms_consent.api import docs, optin_routes, problems
from sms_consent.observability import logger, metrics, tracer

app = problems.resolver(wiring.optin_api_settings().allowed_origin)  # fails the cold start if incomplete
app.include_router(optin_routes.router)


@app.get("/v1/openapi.json", include_in_schema=False)
def openapi_document() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=docs.openapi_json())


@app.get("/v1/docs", include_in_schema=False)
def swagger_ui() -> Response[str]:
    return Response(status_code=200, content_type="text/html", body=docs.swagger_html())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
