"""HTTP errors as application/problem+json (RFC 9457) for every API route, and CORS for browsers.

Every rejection names what was wrong in `detail`; client input never produces a 500.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from sms_consent.observability import logger

PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 16 * 1024


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, type_: str = "about:blank") -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_


def problem_response(
    status: int, detail: str, *, title: str | None = None, type_: str = "about:blank"
) -> Response[str]:
    body = {"type": type_, "title": title or HTTPStatus(status).phrase, "status": status, "detail": detail}
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body))


def _validation_detail(errors: Any) -> str:
    parts = []
    for error in errors:
        location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body",)) or "request"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
    return "; ".join(parts[:5]) or "the request is not valid"


def resolver(allowed_origin: str) -> APIGatewayRestResolver:
    """An API Gateway REST resolver with validation, OpenAPI, CORS and problem+json errors."""
    app = APIGatewayRestResolver(
        enable_validation=True,
        cors=CORSConfig(allow_origin=allowed_origin, allow_headers=["Content-Type", "X-Api-Key"], max_age=600),
    )

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        return problem_response(400, _validation_detail(error.errors()))

    @app.exception_handler(Problem)
    def _problem(error: Problem) -> Response[str]:
        return problem_response(error.status, error.detail, title=error.title, type_=error.type)

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response[str]:
        return problem_response(error.status_code, str(error.msg))

    @app.exception_handler(json.JSONDecodeError)
    def _not_json(error: json.JSONDecodeError) -> Response[str]:
        return problem_response(400, f"the body is not valid JSON: {error.msg}")

    @app.not_found
    def _not_found(error: Exception) -> Response[str]:
        return problem_response(404, f"no route for {app.current_event.http_method} {app.current_event.path}")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unexpected error in an API route")
        return problem_response(500, "an unexpected error occurred; it has been logged")

    return app
