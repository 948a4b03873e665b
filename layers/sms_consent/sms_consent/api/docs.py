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
ROUTERS = ("optin_routes", "number_routes", "profile_routes", "gate_routes", "blocklist_routes", "metrics_routes")
PUBLIC = frozenset({("post", "/v1/optins")})
API_KEY_SCHEME = "apiKey"


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
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            # API Gateway enforces the key on every route but the public one (template.yaml).
            operation["security"] = [] if (method, path) in PUBLIC else [{API_KEY_SCHEME: []}]
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
