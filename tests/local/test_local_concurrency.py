"""The local stack runs invocations concurrently, as Lambda does: each function up to its reserved
concurrency (a small default otherwise), functions alongside each other, while each AWS request runs
alone inside the emulator. Proven with barriers and counters, not timers (the barriers' timeouts only
keep a broken build from hanging)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any, cast

from sms_consent_local import concurrency
from sms_consent_local.stack import DEFAULT_CONCURRENCY, MAX_LOCAL_CONCURRENCY, LocalStack
from sms_consent_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]
GUARD = 30  # seconds a barrier waits before the test fails instead of hanging


class BlockingRunner:
    """Invocations that meet at a barrier: they can only pass it if they run at the same time."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=GUARD)
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def invoke(self, function_id: str, event: dict[str, Any], *, apply_env: bool = True) -> Any:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if event.get("meet"):
                self.barrier.wait()
            return function_id
        finally:
            with self.lock:
                self.running -= 1


def _stack(runner: BlockingRunner, sizes: dict[str, int]) -> LocalStack:
    stack = LocalStack(root=ROOT)
    stack.runner = runner  # type: ignore[assignment]
    stack.pools = {name: threading.BoundedSemaphore(size) for name, size in sizes.items()}
    return stack


def _run_all(stack: LocalStack, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    results: list[Any] = [None] * len(calls)

    def call(index: int, function_id: str, event: dict[str, Any]) -> None:
        results[index] = stack.invoke(function_id, event)

    threads = [threading.Thread(target=call, args=(i, *c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    return results


def test_two_invocations_of_one_function_run_at_the_same_time() -> None:
    runner = BlockingRunner(parties=2)
    stack = _stack(runner, {"OptinApiFunction": 2})
    assert _run_all(stack, [("OptinApiFunction", {"meet": True})] * 2) == ["OptinApiFunction"] * 2


def test_two_functions_run_alongside_each_other() -> None:
    runner = BlockingRunner(parties=2)
    stack = _stack(runner, {"InboundSmsFunction": 1, "SendGateFunction": 1})
    calls = [("InboundSmsFunction", {"meet": True}), ("SendGateFunction", {"meet": True})]
    assert _run_all(stack, calls) == ["InboundSmsFunction", "SendGateFunction"]


def test_a_function_never_exceeds_its_concurrency() -> None:
    runner = BlockingRunner(parties=1)
    stack = _stack(runner, {"AdminApiFunction": 3})
    _run_all(stack, [("AdminApiFunction", {})] * 40)
    assert 1 <= runner.most <= 3


def test_each_function_gets_its_reserved_concurrency_or_the_default() -> None:
    stack = LocalStack(root=ROOT)
    stack.template = load_template(ROOT / "template.yaml")
    assert stack.concurrency("InboundSmsFunction") == MAX_LOCAL_CONCURRENCY  # reserved 50, capped locally
    assert stack.concurrency("OptinApiFunction") == DEFAULT_CONCURRENCY


class CountingApp:
    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.lock = threading.Lock()
        self.barrier = threading.Barrier(2, timeout=GUARD)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            self.barrier.wait()  # two long polls wait together: neither holds the emulator
        with self.lock:
            self.inside -= 1
        return [b"{}"]


class FakeServer:
    def __init__(self, app: CountingApp) -> None:
        self._server = type("Wsgi", (), {"app": app})()


def test_each_aws_request_runs_alone_in_the_emulator_but_long_polls_wait_outside() -> None:
    app = CountingApp()
    server = FakeServer(app)
    concurrency.serialize_requests(server)
    serialized = server._server.app
    threads = [
        threading.Thread(target=serialized, args=({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, None))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    assert app.most == 1  # no two requests inside moto at once
    polls = [
        threading.Thread(target=serialized, args=({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage"}, None))
        for _ in range(2)
    ]
    for thread in polls:
        thread.start()
    for thread in polls:
        thread.join(GUARD)
    assert app.most == 2  # the two long polls were inside together (they met at the barrier)
    assert not app.barrier.broken


# ---------------------------------------------------------------------- shared warm modules


def test_concurrent_api_requests_each_see_their_own_event_and_route_arguments() -> None:
    """Powertools keeps the current request in BaseRouter's class attributes and the route's
    arguments in the resolver: without the local stack's patch, the first request below reads the
    second one's body and source IP and loses its path parameter (checked before the patch)."""
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.event_handler.api_gateway import Router
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

    concurrency.make_powertools_concurrent()
    router = Router()  # type: ignore[no-untyped-call]
    app = APIGatewayRestResolver()
    both_inside = threading.Barrier(2, timeout=GUARD)

    @router.post("/things/<name>")
    def thing(name: str) -> dict[str, Any]:
        both_inside.wait()  # the two requests are resolved at the same time
        event = cast(APIGatewayProxyEvent, router.current_event)
        return {
            "name": name,
            "body": event.body,
            "ip": event.request_context.identity.source_ip,
            "args": dict(app.context.get("_route_args", {})),
        }

    app.include_router(router)

    def event(n: int) -> dict[str, Any]:
        return {
            "httpMethod": "POST",
            "path": f"/things/{n}",
            "resource": "/things/{name}",
            "body": f"body-{n}",
            "headers": {},
            "pathParameters": {"name": str(n)},
            "requestContext": {"identity": {"sourceIp": f"10.0.0.{n}"}, "stage": "v1", "path": f"/things/{n}"},
        }

    seen: dict[int, dict[str, Any]] = {}

    def resolve(n: int) -> None:
        seen[n] = json.loads(app.resolve(event(n), None)["body"])  # type: ignore[arg-type]

    threads = [threading.Thread(target=resolve, args=(n,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    assert seen == {
        n: {"name": str(n), "body": f"body-{n}", "ip": f"10.0.0.{n}", "args": {"name": str(n)}} for n in (1, 2)
    }


def test_concurrent_invocations_log_their_own_request_and_correlation_ids() -> None:
    """inject_lambda_context appends the ids to the one formatter every invocation shares; locally
    they are kept per thread, so a log line carries its own invocation's ids."""
    from sms_consent.observability import logger

    concurrency.make_powertools_concurrent()
    before = logger.get_current_keys().get("correlation_id")  # what earlier tests in this worker left
    both_appended = threading.Barrier(2, timeout=GUARD)
    lines: dict[str, dict[str, Any]] = {}

    def invocation(name: str) -> None:
        logger.append_keys(correlation_id=f"corr-{name}", function_request_id=f"req-{name}")
        both_appended.wait()  # the other invocation has appended its ids too
        record = logging.LogRecord("t", logging.INFO, __file__, 1, "hello", None, None)
        lines[name] = json.loads(logger.registered_formatter.format(record))
        logger.remove_keys(["correlation_id", "function_request_id"])

    threads = [threading.Thread(target=invocation, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(GUARD)
    assert {name: (line.get("correlation_id"), line.get("function_request_id")) for name, line in lines.items()} == {
        "a": ("corr-a", "req-a"),
        "b": ("corr-b", "req-b"),
    }
    assert logger.get_current_keys().get("correlation_id") == before  # nothing left for the next invocation
