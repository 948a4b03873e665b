"""POST /v1/optins (OptinApiFunction, warm): DynamoDB requests by case, and throughput over HTTP.

1. DynamoDB requests per request (target: at most 6), by case, counted with a botocore event hook on
   every client, DynamoDB served by moto in process. The request goes through the local API's own
   API Gateway emulation (`ApiGatewayApp.handle`: routing, the REST proxy event, the proxy response)
   without a socket. The send gate does not run here: the prompt is only published to SNS.
2. Requests per second through the local stack's HTTP API, as a ratio to bare echo handlers behind
   the same server and the same API Gateway event conversion, measured in the same run. The stack is
   `LocalStack` (what `sms-consent local` starts) in a child process, with extra routes added for the
   bench only (two echoes and a count of invocations); the client (requests.Session, keep-alive) is
   this process. Its send gate does run there, on the prompts, concurrently (each function's pool).
   How the rate holds as the table grows, from concurrent clients: bench_local_throughput.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from bench import child_stack
from bench.bench_inbound import inbound_event

ROOT = Path(__file__).resolve().parent.parent
TARGET = 6
OPTIN = "OptinApiFunction"
SENDER = "+18005550100"  # the toll-free number of the alerts program
CONSENT_TEXT = (
    "I agree to receive Example Corp Alerts, 4 msgs/month. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help."
)
USER_AGENT = "Mozilla/5.0 (bench) sms-consent"
PER_IP_LIMIT = 30  # RateLimitPolicy.per_client_ip (per hour)
PER_PREFIX_LIMIT = 30  # RateLimitPolicy.per_prefix (per hour)
HTTP_WARMUP = 20
ECHO_REQUESTS = 200
OPTIN_WARMUP = 10
OPTIN_REQUESTS = 60

# Extra routes of the bench's stack: API Gateway routes like the template's, served by stand-ins.
ECHO_PLAIN = ("/bench/echo", "BenchEchoPlain")
ECHO_POWERTOOLS = ("/bench/echo-powertools", "BenchEchoPowertools")
STATS = ("/bench/stats", "BenchStats")


def phone(index: int) -> str:
    """A valid US number with a 1k-block prefix of its own (the prefix limit is 30 an hour)."""
    return f"+1415{201 + index // 10}{index % 10}{index % 1000:03d}"


def client_ip(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"


def optin_body(number: str, captcha: str = "test-pass") -> bytes:
    return json.dumps(
        {
            "phone": number,
            "program": "alerts",
            "source": "web_form",
            "use_double_opt_in": True,
            "captcha_token": captcha,
            "consent_text": CONSENT_TEXT,
            "page_url": "https://example.com/signup",
        }
    ).encode()


def _headers(ip: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Origin": "https://example.com",
        "X-Forwarded-For": ip,  # the local API takes sourceIp from it, as API Gateway does from the client
    }


# ---------------------------------------------------------------------- 1. DynamoDB requests per case


def _request_counts() -> list[str]:
    from moto import mock_aws
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request, Response

    from sms_consent_local import aws_calls
    from sms_consent_local.api_server import ApiGatewayApp
    from sms_consent_local.harness import FunctionRunner
    from sms_consent_local.resources import create_resources
    from sms_consent_local.stack import ApiRoute, route_pattern
    from sms_consent_local.template import load_template

    aws_calls.install()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1"
    )
    inbound_sample = json.loads((ROOT / "events" / "inbound_sms" / "help.json").read_text())
    lines: list[str] = []
    with mock_aws(), tempfile.TemporaryDirectory() as scratch:
        template = load_template(ROOT / "template.yaml")
        created = create_resources(template, region="us-east-1")
        quiet = {"POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}
        runner = FunctionRunner.for_template(
            template, created.physical, outbox_path=Path(scratch) / "outbox.jsonl", overrides=quiet
        )
        os.environ.update(runner.env[OPTIN])
        routes = [
            ApiRoute(spec.method, spec.path, route_pattern(spec.path), spec.function_id, spec.api_key_required)
            for spec in template.api_routes()
            if spec.function_id == OPTIN
        ]
        app = ApiGatewayApp(
            routes=routes,
            api_key="",
            cors=None,
            invoke=lambda function_id, event: runner.invoke(function_id, event),
            static_dir=Path(scratch) / "no-static",
        )

        def post(number: str, ip: str, captcha: str = "test-pass") -> Response:
            builder = EnvironBuilder(
                path="/v1/optins", method="POST", data=optin_body(number, captcha), headers=list(_headers(ip).items())
            )
            try:
                return app.handle(Request(builder.get_environ()))
            finally:
                builder.close()

        serial = iter(range(10_000))

        def fresh() -> tuple[str, str]:
            index = next(serial)
            return phone(index), client_ip(index)

        # Warm up: the handler's import, its clients, the breaker cache (one Query a minute per container).
        post(*fresh())
        post(*fresh())

        subscribed_number, _ = fresh()
        post(subscribed_number, client_ip(9000))
        runner.invoke("InboundSmsFunction", inbound_event(inbound_sample, "YES", SENDER, subscribed_number))
        os.environ.update(runner.env[OPTIN])

        limited_ip = client_ip(9001)
        for _ in range(PER_IP_LIMIT):
            post(fresh()[0], limited_ip, "test-fail")

        block = [f"+14156660{n:03d}" for n in range(PER_PREFIX_LIMIT + 1)]  # one 1k-number block
        for number in block[:-1]:
            post(number, fresh()[1])

        resubmitted, _ = fresh()
        cases: list[tuple[str, Callable[[], Response]]] = []
        new_number, new_ip = fresh()
        cases.append(("new number (prompt published)", lambda: post(new_number, new_ip)))
        post(resubmitted, client_ip(9002))
        cases.append(("resubmission within 10 min (no prompt)", lambda: post(resubmitted, client_ip(9003))))
        cases.append(("number already subscribed", lambda: post(subscribed_number, client_ip(9004))))
        failed_number, failed_ip = fresh()
        cases.append(("CAPTCHA failed (test-fail)", lambda: post(failed_number, failed_ip, "test-fail")))
        cases.append((f"rate limited (client IP's {PER_IP_LIMIT + 1}st/hour)", lambda: post(fresh()[0], limited_ip)))
        cases.append((f"rate limited (1k block's {PER_PREFIX_LIMIT + 1}st/hour)", lambda: post(block[-1], fresh()[1])))
        cold_number, cold_ip = fresh()

        def breakers_expired() -> Response:
            # The warm container's breaker cache as it is once a minute: expired, so this request reloads it.
            from sms_consent import wiring
            from sms_consent.adapters.breaker_cache import CachedBreakers

            cast(CachedBreakers, wiring.signup_deps().breakers)._loaded_at = float("-inf")
            return post(cold_number, cold_ip)

        cases.append(("new number, breaker cache expired (1/min)", breakers_expired))

        worst = 0
        lines.append(f"DynamoDB requests per POST /v1/optins, warm (target <= {TARGET}); send gate not run (SNS only):")
        for label, call in cases:
            with aws_calls.counting() as counts:
                response = call()
            dynamodb = aws_calls.total(counts, "dynamodb")
            worst = max(worst, dynamodb)
            detail = ", ".join(
                f"{key.split('.')[1]} {value}" for key, value in sorted(counts.items()) if key.startswith("dynamodb.")
            )
            others = ", ".join(
                f"{key} {value}" for key, value in sorted(counts.items()) if not key.startswith("dynamodb.")
            )
            verdict = "ok" if dynamodb <= TARGET else f"OVER the target of {TARGET}"
            outcome = _outcome(response)
            lines.append(f"  {label:<42} -> {outcome:<24} DynamoDB {dynamodb} {verdict} ({detail or 'none'})")
            if others:
                lines.append(f"  {'':<42}    other AWS requests: {others}")
        lines.append("  (the breakers Query runs once a minute per warm container: only the last case pays for it)")
        lines.append(f"  worst: {worst} DynamoDB requests per request (target <= {TARGET})")
    return lines


def _outcome(response: Any) -> str:
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        body = {}
    if response.status_code in (200, 202):
        return f"{response.status_code} {body.get('status')} prompt_sent={body.get('prompt_sent')}"
    problem = str(body.get("type", "")).rsplit(":", 1)[-1] or body.get("title", "")
    return f"{response.status_code} {problem}"


# ---------------------------------------------------------------------- 2. throughput over HTTP


def _echo_handlers() -> dict[str, Callable[[dict[str, Any], Any], dict[str, Any]]]:
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

    def plain(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": event.get("body") or ""}

    resolver = APIGatewayRestResolver()

    @resolver.post(ECHO_POWERTOOLS[0])
    def echo() -> Response[str]:
        return Response(status_code=200, content_type="application/json", body=resolver.current_event.body or "")

    def powertools(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return resolver.resolve(event, context)

    return {ECHO_PLAIN[1]: plain, ECHO_POWERTOOLS[1]: powertools}


def serve(workdir: Path) -> int:
    """The child process: `sms-consent local` on free ports, plus the bench's echo and stats routes."""
    from sms_consent_local.stack import ApiRoute, LocalStack, route_pattern

    echoes = _echo_handlers()
    invocations: Counter[str] = Counter()

    class BenchStack(LocalStack):
        def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
            if function_id == STATS[1]:
                return {"statusCode": 200, "body": json.dumps(invocations)}
            invocations[function_id] += 1
            handler = echoes.get(function_id)
            if handler is None:
                return super().invoke(function_id, event)
            with self.pools[OPTIN]:  # as a function of the stack: its concurrency
                return handler(event, self.runner.context_for(OPTIN))

        def _serve_api(self) -> None:
            super()._serve_api()
            # The API's app holds this very list: these routes are matched as the template's are.
            for (path, function_id), method in ((ECHO_PLAIN, "POST"), (ECHO_POWERTOOLS, "POST"), (STATS, "GET")):
                self.routes.append(ApiRoute(method, path, route_pattern(path), function_id, False))

    stack = BenchStack(api_port=0, aws_port=0, workdir=workdir)
    signal.signal(signal.SIGTERM, lambda signum, frame: stack.stopping.set())
    try:
        stack.start()
        stack.stopping.wait()
    finally:
        stack.stop()
    return 0


def _timed(session: Any, url: str, requests: list[tuple[bytes, str]], expect: int) -> list[float]:
    """Seconds taken by each of `requests` (body, client IP), sent one after the other."""
    durations = []
    for body, ip in requests:
        started = time.perf_counter()
        response = session.post(url, data=body, headers=_headers(ip), timeout=60)
        durations.append(time.perf_counter() - started)
        if response.status_code != expect:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
    return durations


def _per_second(durations: list[float]) -> float:
    return len(durations) / sum(durations)


def _throughput() -> list[str]:
    import requests

    serial = iter(range(1_000, 7_990))  # phone() is valid and prefix-unique below 7990

    def forms(count: int, captcha: str = "test-pass") -> list[tuple[bytes, str]]:
        return [(optin_body(phone(index), captcha), client_ip(index)) for index in (next(serial) for _ in range(count))]

    def again(sent: list[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
        return [(body, client_ip(next(serial))) for body, _ in sent]  # same number, another client

    with tempfile.TemporaryDirectory() as scratch:
        child = child_stack.start("bench_optin", Path(scratch))
        outputs, api = child.outputs, child.outputs["ApiUrl"]
        dynamodb = child.client("dynamodb")

        def items() -> int:
            return int(dynamodb.describe_table(TableName=outputs["ConsentTableName"])["Table"]["ItemCount"])

        try:
            with requests.Session() as session:

                def stats() -> Counter[str]:
                    return Counter(session.get(api + STATS[0], timeout=30).json())

                rates: dict[str, float] = {}
                for path, _ in (ECHO_PLAIN, ECHO_POWERTOOLS):
                    _timed(session, api + path, forms(HTTP_WARMUP), 200)
                    rates[path] = _per_second(_timed(session, api + path, forms(ECHO_REQUESTS), 200))
                warm = forms(OPTIN_WARMUP)
                _timed(session, api + "/v1/optins", warm, 202)
                items_before, before = items(), stats()
                sent = forms(OPTIN_REQUESTS)
                new = _timed(session, api + "/v1/optins", sent, 202)
                items_after, background = items(), stats() - before
                _timed(session, api + "/v1/optins", again(warm), 202)
                resubmitted = _timed(session, api + "/v1/optins", again(sent), 202)
                _timed(session, api + "/v1/optins", forms(OPTIN_WARMUP, "test-fail"), 403)
                failed = _timed(session, api + "/v1/optins", forms(OPTIN_REQUESTS, "test-fail"), 403)
        finally:
            child_stack.stop(child)
    plain, powertools = rates[ECHO_PLAIN[0]], rates[ECHO_POWERTOOLS[0]]
    half = OPTIN_REQUESTS // 2
    others = ", ".join(
        f"{name} {count}" for name, count in sorted(background.items()) if name not in (OPTIN, ECHO_PLAIN[1])
    )
    return [
        "Throughput through the local stack's HTTP API (in a child process: moto's server, werkzeug,",
        "every function wired as in `sms-consent local`; client: requests.Session with keep-alive, sequential,",
        "a fresh number and client IP per request; warm-up requests not measured):",
        f"  baseline: bare echo, a plain function returning the body     {plain:7.1f} req/s  1.00x"
        f"  ({ECHO_REQUESTS} after {HTTP_WARMUP})",
        f"  echo through a Powertools APIGatewayRestResolver route        {powertools:7.1f} req/s  "
        f"{powertools / plain:.3f}x",
        f"  POST /v1/optins, new number (prompt published)               {_per_second(new):7.1f} req/s  "
        f"{_per_second(new) / plain:.3f}x  ({OPTIN_REQUESTS} after {OPTIN_WARMUP})",
        f"    first {half}: {_per_second(new[:half]):.1f} req/s, last {half}: {_per_second(new[half:]):.1f} req/s; "
        f"ConsentTable items {items_before} -> {items_after}",
        f"    meanwhile, invoked in the same process: {others or 'no other function'}",
        f"  POST /v1/optins, resubmission within 10 min (no prompt)      {_per_second(resubmitted):7.1f} req/s  "
        f"{_per_second(resubmitted) / plain:.3f}x",
        f"  POST /v1/optins, CAPTCHA failed                              {_per_second(failed):7.1f} req/s  "
        f"{_per_second(failed) / plain:.3f}x",
        f"optin handler: {_per_second(new) / plain:.3f}x of a bare echo handler's throughput through the same local "
        f"API for a new number ({_per_second(resubmitted) / plain:.2f}x for a resubmission)",
    ]


def run() -> list[str]:
    with warnings.catch_warnings():
        # Powertools warns once that a request published no application metric; not a finding.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        counts = _request_counts()
    return counts + _throughput()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        sys.exit(serve(Path(sys.argv[2])))
    print("\n".join(run()))
