"""HTTP errors as application/problem+json (RFC 9457) for every API route, and CORS for browsers.

Every rejection names what was wrong in `detail`; client input never produces a 500. Domain refusals
(`subscriptions.Rejected`) carry a `type` of their own (`urn:sms-consent:problem:<reason>`) so that clients
can switch on it, and a `Retry-After` header where waiting helps.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder, Route
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import AwareDatetime, BeforeValidator
from pynamodb.exceptions import PynamoDBException

from sms_consent import phones, wiring
from sms_consent.adapters.aws import transient
from sms_consent.observability import logger
from sms_consent.ports import ConcurrentUpdate, StoreUnavailable
from sms_consent.subscriptions import Rejected, Rejection

PROBLEM_JSON = "application/problem+json"
MAX_BODY_BYTES = 16 * 1024  # the public sign-up route: a form is well under 4 KB
PROBLEM_TYPE = "urn:sms-consent:problem:"
RETRY_SOON = {"Retry-After": "1"}

REJECTION_STATUS = {
    Rejection.INVALID_NUMBER: 400,
    Rejection.NUMBER_TYPE_NOT_ALLOWED: 400,
    Rejection.COUNTRY_NOT_ALLOWED: 400,
    Rejection.UNKNOWN_PROGRAM: 400,
    Rejection.CAPTCHA_MISSING: 400,
    Rejection.CAPTCHA_FAILED: 403,
    Rejection.NO_PROMPT: 422,
    Rejection.CONFLICT: 409,
    Rejection.RATE_LIMITED: 429,
    Rejection.CAPTCHA_UNAVAILABLE: 503,
}


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.headers = headers or {}


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
) -> Response[str]:
    body = {"type": type_, "title": title or HTTPStatus(status).phrase, "status": status, "detail": detail}
    return Response(status_code=status, content_type=PROBLEM_JSON, body=json.dumps(body), headers=headers)


def _validation_detail(errors: Any) -> str:
    parts = []
    for error in errors:
        kind = error.get("type", "")
        location = [str(part) for part in error.get("loc", ()) if part != "body"]
        if kind == "json_invalid":
            return "the body is not valid JSON"
        if not location and kind in ("missing", "model_attributes_type", "dict_type", "model_type"):
            return "the body must be a JSON object"
        parts.append(f"{'.'.join(location) or 'request'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts[:5]) or "the request is not valid"


def _iso_text(value: Any) -> Any:
    """Pydantic reads "0.5" or 1700000000 as a Unix time; the API documents ISO 8601 date-times only."""
    if isinstance(value, str) and "-" not in value:
        raise ValueError("expected an ISO 8601 date-time with a time zone, e.g. 2026-11-01T00:00:00Z")
    if isinstance(value, int | float):
        raise ValueError("expected an ISO 8601 date-time with a time zone, e.g. 2026-11-01T00:00:00Z")
    return value


# An ISO 8601 date-time with its time zone, as every route takes one.
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]

# A language tag from a request ("es", "fr-CA"); replies are chosen by its first two letters.
LANGUAGE_TAG = r"^[A-Za-z]{2}([-_][A-Za-z0-9]{2,8})?$"


def language_code(tag: str | None) -> str | None:
    return tag[:2].lower() if tag else None


def phone_param(raw: str, default_region: str) -> phones.PhoneInfo:
    """A phone number from a path, in any format `phonenumbers` parses (percent-encoded or not)."""
    text = urllib.parse.unquote(raw)  # not unquote_plus: "+" is the E.164 prefix, not a space
    try:
        return phones.parse(text, default_region)
    except phones.InvalidPhoneNumber as exc:
        raise Problem(400, f"phone: {exc}", type_=PROBLEM_TYPE + Rejection.INVALID_NUMBER.value) from None


# Bodies are JSON, except the blocklist import's CSV (its route checks that one itself).
ACCEPTED_MEDIA_TYPES = frozenset({"application/json", "text/csv", "text/plain"})


class ProblemResolver(APIGatewayRestResolver):
    """Refuses bodies over `max_body_bytes`, and bodies in a media type no route reads (an HTML form's
    urlencoded post, say), before anything parses them."""

    def __init__(self, *, max_body_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_body_bytes = max_body_bytes

    def _call_route(self, route: Route, route_arguments: dict[str, str]) -> ResponseBuilder[Any]:
        body = self.current_event.body
        if body is not None and len(body) > self.max_body_bytes:
            builder = self._call_exception_handler(
                Problem(413, f"the body is larger than {self.max_body_bytes} bytes"), route
            )
            if builder is not None:
                return builder
        media_type = (self.current_event.headers.get("content-type") or "").split(";")[0].strip().lower()
        if body and media_type and media_type not in ACCEPTED_MEDIA_TYPES and not media_type.endswith("+json"):
            builder = self._call_exception_handler(
                Problem(415, f"send the body as application/json, not {media_type[:80]}"), route
            )
            if builder is not None:
                return builder
        return super()._call_route(route, route_arguments)


def _unavailable(error: BaseException | None) -> bool:
    """Throttling, a 5xx or no connection, from botocore or wrapped by pynamodb: worth a retry."""
    if isinstance(error, PynamoDBException):  # pynamodb keeps botocore's error as the cause
        return _unavailable(error.cause or error.__cause__)
    if isinstance(error, BotoCoreError):
        return True
    if isinstance(error, ClientError):
        return transient(error)
    return False


def resolver(allowed_origin: str, *, max_body_bytes: int = MAX_BODY_BYTES) -> APIGatewayRestResolver:
    """An API Gateway REST resolver with validation, OpenAPI, CORS and problem+json errors."""
    app = ProblemResolver(
        max_body_bytes=max_body_bytes,
        enable_validation=True,
        # Retry-After is exposed so that a sign-up form on another origin can read it from a 429.
        cors=CORSConfig(
            allow_origin=allowed_origin,
            allow_headers=["Content-Type", "X-Api-Key"],
            expose_headers=["Retry-After"],
            max_age=600,
        ),
    )

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response[str]:
        return problem_response(400, _validation_detail(error.errors()))

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(error: RequestUnsupportedContentType) -> Response[str]:
        media_type = (app.current_event.headers.get("content-type") or "").split(";")[0].strip()[:80]
        return problem_response(415, f"send the body as application/json, not {media_type}")

    @app.exception_handler(UnicodeDecodeError)
    def _not_utf8(error: UnicodeDecodeError) -> Response[str]:
        return problem_response(400, "the body is not valid UTF-8 text")

    @app.exception_handler(Problem)
    def _problem(error: Problem) -> Response[str]:
        return problem_response(error.status, error.detail, title=error.title, type_=error.type, headers=error.headers)

    @app.exception_handler(Rejected)
    def _rejected(error: Rejected) -> Response[str]:
        headers = {}
        if error.retry_at is not None:  # whole seconds, at least 1
            seconds = (error.retry_at - wiring.utc_now()).total_seconds()
            headers["Retry-After"] = str(max(1, math.ceil(seconds)))
        status = REJECTION_STATUS.get(error.reason, 400)
        return problem_response(status, error.detail, type_=PROBLEM_TYPE + error.reason.value, headers=headers)

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response[str]:
        return problem_response(error.status_code, str(error.msg))

    @app.exception_handler(StoreUnavailable)
    def _store_unavailable(error: StoreUnavailable) -> Response[str]:
        logger.warning("consent state could not be read", extra={"error": str(error)[:300]})
        return problem_response(503, "consent state cannot be read right now; try again", headers=RETRY_SOON)

    @app.exception_handler(BotoCoreError)
    @app.exception_handler(ClientError)
    @app.exception_handler(PynamoDBException)
    def _aws_failed(error: Exception) -> Response[str]:
        if _unavailable(error):
            logger.warning("an AWS service is busy or unreachable", extra={"error": type(error).__name__})
            return problem_response(503, "a service this route needs is unavailable; try again", headers=RETRY_SOON)
        logger.exception("an AWS request was refused")
        return problem_response(500, "an unexpected error occurred; it has been logged")

    @app.exception_handler(ConcurrentUpdate)
    def _concurrent(error: ConcurrentUpdate) -> Response[str]:
        return problem_response(409, "the number is being changed by other requests right now; try again")

    @app.exception_handler(RecursionError)
    def _too_deep(error: RecursionError) -> Response[str]:
        # Only parsing a client's body nests this deep: thousands of [ or { in a row.
        return problem_response(400, "the body is nested too deeply to be a request")

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
