"""The local stack runs invocations concurrently, as Lambda does: each function up to its reserved
concurrency (a small default otherwise), functions alongside each other, while each AWS request runs
alone inside the emulator. Proven with barriers and counters, not timers (the barriers' timeouts only
keep a broken build from hanging)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sms_consent_local import stack as local_stack
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
    local_stack._serialize_requests(server)
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
