"""AdminApiFunction: back-office routes behind an API key (API Gateway REST)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import wiring
from sms_consent.api import (
    blocklist_file_routes,
    blocklist_routes,
    gate_routes,
    metrics_routes,
    number_routes,
    problems,
    profile_routes,
    proof_routes,
)
from sms_consent.observability import logger, metrics, tracer

# The blocklist's CSV import is the largest body (its route refuses files over 1 MB with its own detail).
settings = wiring.admin_api_settings()  # a missing variable fails the cold start, naming it
app = problems.resolver(settings.allowed_origin, max_body_bytes=4 * blocklist_routes.MAX_IMPORT_BYTES)
app.include_router(number_routes.router)
app.include_router(proof_routes.router)
app.include_router(profile_routes.router)
app.include_router(blocklist_routes.router)
app.include_router(blocklist_file_routes.router)
app.include_router(metrics_routes.router)
app.include_router(gate_routes.router)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
