"""API Gateway (REST, Lambda proxy) in front of the template's Api events, for the local stack.

It does what API Gateway does before and after the function: routing by resource path, API keys,
CORS preflight, the proxy event and the proxy response. As in AWS with the Lambda proxy, the
function itself adds CORS headers to its responses: adding them here would hide a handler that
forgets them until a browser meets it in AWS. Static files are served from web/: the reference
sign-up form at `/`, the operator console at `/console/`; and POST /_local/schedules/<FunctionId>
fires a schedule now (local only).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from sms_consent_local.stack import ApiRoute

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit


def _unquote(value: str | None) -> str | None:
    return value.strip().strip("'") if isinstance(value, str) else None


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers or {}, content_type="application/json")


@dataclass(frozen=True)
class GatewayResponse:
    """One AWS::ApiGateway::GatewayResponse of the template: how API Gateway answers an error of its own."""

    status: int | None  # None: the error's own status
    headers: dict[str, str]
    body: str | None  # the application/json template, $context.error.* substituted when answering


# The statuses API Gateway uses for each kind of error it answers itself, and the defaults they fall to.
GATEWAY_DEFAULTS = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "DEFAULT_4XX"),
    "INVALID_API_KEY": (403, "DEFAULT_4XX"),
    "REQUEST_TOO_LARGE": (413, "DEFAULT_4XX"),
    "RESOURCE_NOT_FOUND": (404, "DEFAULT_4XX"),
    "INTEGRATION_FAILURE": (502, "DEFAULT_5XX"),
}


def gateway_responses(template: Any, physical: dict[str, str]) -> dict[str, GatewayResponse]:
    """The template's gateway responses by ResponseType, parameters resolved."""
    found = {}
    for resource in template.resources_of("AWS::ApiGateway::GatewayResponse").values():
        properties = template.resolve(resource["Properties"], physical)
        prefix = "gatewayresponse.header."
        found[properties["ResponseType"]] = GatewayResponse(
            status=int(properties["StatusCode"]) if properties.get("StatusCode") else None,
            headers={
                key.removeprefix(prefix): _unquote(str(value)) or ""
                for key, value in (properties.get("ResponseParameters") or {}).items()
                if key.startswith(prefix)
            },
            body=(properties.get("ResponseTemplates") or {}).get("application/json"),
        )
    return found


class ApiGatewayApp:
    def __init__(
        self,
        *,
        routes: list[ApiRoute],
        api_key: str,
        cors: dict[str, Any] | None,
        invoke: Callable[[str, dict[str, Any]], Any],
        static_dir: Path,
        fire_schedule: Callable[[str], dict[str, Any]] | None = None,
        gateway: dict[str, GatewayResponse] | None = None,
    ) -> None:
        self.routes = routes
        self.api_key = api_key
        self.cors = cors or {}
        self.invoke = invoke
        self.static_dir = static_dir
        self.fire_schedule = fire_schedule
        self.gateway = gateway or {}

    def _gateway_error(self, kind: str, message: str, status: int | None = None) -> Response:
        """API Gateway's own answer to an error: the template's gateway response for `kind` (or its
        DEFAULT_4XX/5XX), else API Gateway's built-in {"message": ...}."""
        default_status, fallback = GATEWAY_DEFAULTS.get(kind, (status or 400, "DEFAULT_4XX"))
        status = status or default_status
        custom = self.gateway.get(kind) or self.gateway.get(fallback if status < 500 else "DEFAULT_5XX")
        if custom is None or custom.body is None:
            return _json(status, {"message": message})
        body = custom.body.replace("$context.error.messageString", json.dumps(message)).replace(
            "$context.error.responseType", kind
        )
        headers = dict(custom.headers)
        content_type = headers.pop("Content-Type", "application/json")
        return Response(body, status=custom.status or status, headers=headers, content_type=content_type)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    # ------------------------------------------------------------------ routing

    def _match(self, path: str) -> list[tuple[ApiRoute, dict[str, str]]]:
        found = []
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                found.append((route, match.groupdict()))
        # API Gateway prefers literal path segments over {parameters}.
        found.sort(key=lambda item: item[0].resource.count("{"))
        return found

    def handle(self, request: Request) -> Response:
        if request.path.startswith("/_local/"):
            return self._local_control(request)
        matches = self._match(request.path)
        if request.method == "OPTIONS" and matches and self.cors:
            return self._preflight(matches)
        for route, params in matches:
            if route.method in (request.method, "ANY"):
                return self._call(route, params, request)
        if matches:
            # API Gateway REST answers a method no route has as it answers an unknown path: 403.
            return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
        static = self._static(request)
        if static is not None:
            return static
        return self._gateway_error("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")

    def _preflight(self, matches: list[tuple[ApiRoute, dict[str, str]]]) -> Response:
        headers = {
            "Access-Control-Allow-Origin": _unquote(self.cors.get("AllowOrigin")) or "*",
            "Access-Control-Allow-Methods": _unquote(self.cors.get("AllowMethods"))
            or ",".join(sorted({route.method for route, _ in matches} | {"OPTIONS"})),
            "Access-Control-Allow-Headers": _unquote(self.cors.get("AllowHeaders")) or "Content-Type,X-Api-Key",
        }
        max_age = _unquote(self.cors.get("MaxAge"))
        if max_age:
            headers["Access-Control-Max-Age"] = max_age
        if str(self.cors.get("AllowCredentials", "")).lower() == "true":
            headers["Access-Control-Allow-Credentials"] = "true"
        return Response("", status=200, headers=headers)

    def _local_control(self, request: Request) -> Response:
        """Local-only controls; API Gateway has nothing here, so they cannot shadow a real route."""
        prefix = "/_local/schedules/"
        if not request.path.startswith(prefix) or self.fire_schedule is None:
            return _json(404, {"message": "Not Found"})
        if request.method != "POST":
            return _json(405, {"message": "POST fires the schedule"})
        try:
            return _json(200, self.fire_schedule(request.path.removeprefix(prefix)))
        except KeyError as exc:
            return _json(404, {"message": str(exc.args[0])})

    def _static(self, request: Request) -> Response | None:
        if request.method != "GET" or not self.static_dir.is_dir():
            return None
        relative = request.path.lstrip("/")
        if not relative or relative.endswith("/"):
            relative += "index.html"  # a folder's page: / is the sign-up form, /console/ the operator console
        target = (self.static_dir / relative).resolve()
        if not target.is_relative_to(self.static_dir.resolve()) or not target.is_file():
            return None
        content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return Response(target.read_bytes(), status=200, content_type=content_type)

    # ------------------------------------------------------------------ the proxy integration

    def _call(self, route: ApiRoute, params: dict[str, str], request: Request) -> Response:
        if route.api_key_required and request.headers.get("x-api-key") != self.api_key:
            kind = "INVALID_API_KEY" if request.headers.get("x-api-key") else "MISSING_AUTHENTICATION_TOKEN"
            return self._gateway_error(kind, "Forbidden")
        raw = request.get_data(cache=False)
        if len(raw) > MAX_BODY_BYTES:
            return self._gateway_error("REQUEST_TOO_LARGE", "Request Too Long")
        event = self._event(route, params, request, raw)
        try:
            result = self.invoke(route.function_id, event)
        except Exception:
            traceback.print_exc()  # API Gateway answers 502 and the error is in the function's log
            return self._gateway_error("INTEGRATION_FAILURE", "Internal server error")
        return self._response(result)

    def _event(self, route: ApiRoute, params: dict[str, str], request: Request, raw: bytes) -> dict[str, Any]:
        headers = dict(request.headers.items())
        multi_headers: dict[str, list[str]] = {}
        for key, value in request.headers.items():
            multi_headers.setdefault(key, []).append(value)
        query = {key: values[-1] for key, values in request.args.lists()} or None
        multi_query = dict(request.args.lists()) or None
        try:
            body: str | None = raw.decode("utf-8") if raw else None
            is_base64 = False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(raw).decode(), True
        source_ip = (request.headers.get("X-Forwarded-For") or request.remote_addr or "127.0.0.1").split(",")[0].strip()
        now = time.time()
        return {
            "resource": route.resource,
            "path": request.path,
            "httpMethod": request.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": "local",
                "resourcePath": route.resource,
                "httpMethod": request.method,
                "extendedRequestId": str(uuid.uuid4()),
                "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "path": request.path,
                "accountId": "123456789012",
                "protocol": "HTTP/1.1",
                "stage": "local",
                "domainPrefix": "localhost",
                "requestTimeEpoch": int(now * 1000),
                "requestId": str(uuid.uuid4()),
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": request.headers.get("User-Agent", ""),
                    "apiKey": request.headers.get("x-api-key") if route.api_key_required else None,
                },
                "domainName": request.host,
                "apiId": "local",
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    @staticmethod
    def _response(result: Any) -> Response:
        if not isinstance(result, dict) or "statusCode" not in result:
            return _json(502, {"message": "Internal server error"})
        headers: list[tuple[str, str]] = []
        for key, value in (result.get("headers") or {}).items():
            headers.append((key, str(value)))
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((key, str(value)) for value in values)
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
        response = Response(payload, status=int(result["statusCode"]))
        response.headers.clear()
        for key, value in headers:
            response.headers.add(key, value)
        return response
