"""The OpenAPI document of the whole HTTP API, generated from the routers, and its Swagger UI page.

Each function's resolver knows only its own routes, so the document is built from every router in this
package on a resolver that serves nothing: on the first request for it, not at cold start.
"""

from __future__ import annotations

import functools
import importlib
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

TITLE = "SMS consent API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Consent for SMS programs: web-form double opt-in (public), numbers, profiles, the send gate's check, "
    "the blocklist and metrics (API key in x-api-key). Errors are application/problem+json."
)
# Router modules, public first.
ROUTERS = (
    "optin_routes",
    "number_routes",
    "proof_routes",
    "profile_routes",
    "gate_routes",
    "blocklist_routes",
    "metrics_routes",
)
PUBLIC = frozenset({("post", "/v1/optins")})
API_KEY_SCHEME = "apiKey"

PROBLEM = "application/problem+json"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "detail"],
    "properties": {
        "type": {"type": "string", "description": "about:blank, or urn:sms-consent:problem:<reason>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what was wrong, in words"},
    },
}
# What any route can answer besides its own successes: the resolver's problems (problems.py) and
# API Gateway's gateway responses (template.yaml), all application/problem+json.
PROBLEMS = {
    "400": "the request is not valid (the detail says which part)",
    "403": "missing or wrong API key (admin routes); a failed CAPTCHA (sign-up)",
    "404": "no such route, number, program or profile",
    "409": "the number was changed by other requests at the same moment; try again",
    "413": "the body is too large",
    "415": "the body is not application/json (or text/csv where a route takes CSV)",
    "429": "too many requests (API Gateway throttling, sign-up rate limits)",
    "500": "an unexpected error; it has been logged",
    "503": "a dependency (DynamoDB, the CAPTCHA provider) is unavailable; try again",
}
# Routes whose domain refusals include "the program has no prompt to send" (Rejection.NO_PROMPT).
MAY_ANSWER_422 = frozenset({("put", "/v1/numbers/{phone}/programs/{program}"), ("post", "/v1/optins")})
# Successes that are not JSON bodies.
SUCCESS_OVERRIDES: dict[tuple[str, str], dict[str, Any]] = {
    ("delete", "/v1/blocklist/{phone}"): {"204": {"description": "removed (or was not on the blocklist)"}},
    ("get", "/v1/numbers/{phone}/proof"): {
        "200": {
            "description": "the report (format=json), or the printable page (format=html)",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
    ("get", "/v1/blocklist/export"): {
        "200": {"description": "the entries as CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
}


def _resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    for name in ROUTERS:
        app.include_router(importlib.import_module(f"sms_consent.api.{name}").router)
    return app


@functools.cache
def openapi_document() -> dict[str, Any]:
    # The OpenAPI models take ~150 ms to import: only the first request for the document pays for them.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    app = _resolver()
    spec: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description=DESCRIPTION,
            security_schemes={API_KEY_SCHEME: APIKey.model_validate({"name": "x-api-key", "in": APIKeyIn.header})},
        )
    )
    problem = {"$ref": "#/components/schemas/Problem"}
    spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            # API Gateway enforces the key on every route but the public one (template.yaml).
            operation["security"] = [] if (method, path) in PUBLIC else [{API_KEY_SCHEME: []}]
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # Powertools' validation error: the resolver answers 400 instead
            responses.update(SUCCESS_OVERRIDES.get((method, path), {}))
            if (method, path) in SUCCESS_OVERRIDES and "200" not in SUCCESS_OVERRIDES[(method, path)]:
                responses.pop("200", None)
            codes = dict(PROBLEMS)
            if (method, path) in MAY_ANSWER_422:
                codes["422"] = "a consent rule refused the request (the detail says which)"
            for code, description in codes.items():
                responses[code] = {"description": description, "content": {PROBLEM: {"schema": problem}}}
    for unused in ("HTTPValidationError", "ValidationError"):
        spec["components"]["schemas"].pop(unused, None)
    return spec


def openapi_json() -> str:
    return json.dumps(openapi_document())


@functools.cache
def swagger_html() -> str:
    """Swagger UI with the document embedded, assets from Powertools' own copy (no CDN)."""
    from pathlib import Path

    import aws_lambda_powertools.event_handler as event_handler
    from aws_lambda_powertools.event_handler.openapi.swagger_ui.html import generate_swagger_html

    assets = Path(event_handler.__file__).parent / "openapi" / "swagger_ui"
    return generate_swagger_html(
        openapi_json().replace("</", "<\\/"),
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        "",
        None,
    )
