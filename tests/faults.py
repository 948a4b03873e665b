"""AWS faults injected on the functions' own botocore clients, through botocore's event system.

Why here and not with `moto` or mocks: the point is to prove what the *function code* does when an AWS
call fails, on the very clients it built, with the errors botocore really raises. The hooks go into
botocore's built-in handler list (as `sms_consent_local.aws_calls` and moto's own do), so every client
made after this module is imported carries them; they act only while a function runs
(`iam_calls.acting_as`, which `AwsStack.invoke` sets) and only when a test arms a fault, so the
tests' own setup and probes are never faulted.

Four faults, each where it really happens:

- `throttled`: the service refuses with its throttling code once botocore's own retries are spent
  (`before-call` answers with the error, as the existing tests do);
- `server error`: a 5xx from the service, likewise;
- `connection reset`: the connection drops before the service sees the request (`before-send`, ahead
  of moto); botocore retries it, then raises `ConnectionClosedError`;
- `read timeout`: the service *did* the work but its answer is lost (`before-send`, after moto
  answered); botocore retries (doing the work again), then raises `ReadTimeoutError`. The nastiest
  case for idempotency: a write committed, a publish published, and the caller is told it failed.

Call sites are (service, operation) pairs; `Injector.calls` records what each function issued.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ConnectionClosedError, ReadTimeoutError

from sms_consent_local import iam_calls

THROTTLED = "throttled"
SERVER_ERROR = "server error"
CONNECTION_RESET = "connection reset"
READ_TIMEOUT = "read timeout"
FAULTS = (THROTTLED, SERVER_ERROR, CONNECTION_RESET, READ_TIMEOUT)
TRANSPORT = frozenset({CONNECTION_RESET, READ_TIMEOUT})

# What each service answers when it throttles, and when it fails inside (code, HTTP status).
_THROTTLE = {
    "dynamodb": ("ThrottlingException", 400),
    "sns": ("Throttled", 400),
    "events": ("ThrottlingException", 400),
    "s3": ("SlowDown", 503),
    "pinpoint-sms-voice-v2": ("ThrottlingException", 400),
}
_INTERNAL = {
    "dynamodb": ("InternalServerError", 500),
    "sns": ("InternalError", 500),
    "events": ("InternalException", 500),
    "s3": ("InternalError", 500),
    "pinpoint-sms-voice-v2": ("InternalServerException", 500),
}
# Calls the Lambda service makes for a function (stream polling) are not the function's call sites.
IGNORED_SERVICES = frozenset({"dynamodbstreams", "sqs", "logs", "sts"})

Site = tuple[str, str]  # (service, operation)
Plan = Callable[[str, str, str, int], str | None]  # (function, service, operation, nth call) -> fault


class _Http:
    headers: dict[str, str] = {}  # noqa: RUF012

    def __init__(self, status: int) -> None:
        self.status_code = status


@dataclass
class Injector:
    """What to fault (a plan), and what the functions called (with what fault, if any)."""

    plan: Plan | None = None
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (function, service, operation)
    injected: list[tuple[str, str, str, str]] = field(default_factory=list)  # ... plus the fault

    def arm(self, function: str | None, site: Site, fault: str, *, times: int | None = None) -> None:
        """Fault every call (or the first `times`) of `site` made by `function` (None: any function)."""
        left = [times]

        def plan(acting: str, service: str, operation: str, _: int) -> str | None:
            if (function is not None and acting != function) or (service, operation) != site:
                return None
            if left[0] is not None:
                if left[0] <= 0:
                    return None
                left[0] -= 1
            return fault

        self.plan = plan

    def clear(self) -> None:
        self.plan = None

    def sites(self, function: str) -> set[Site]:
        return {(service, operation) for acting, service, operation in self.calls if acting == function}


_active: contextvars.ContextVar[Injector | None] = contextvars.ContextVar("fault_injector", default=None)
_call = threading.local()  # the fault decided for the call in flight on this thread (for before-send)
_installed = False


def _acting() -> str | None:
    return iam_calls._current.get()


def _before_call(model: Any = None, **_: Any) -> tuple[Any, dict[str, Any]] | None:
    _call.fault = None
    injector = _active.get()
    function = _acting()
    if injector is None or function is None or model is None:
        return None
    service, operation = model.service_model.service_name, model.name
    if service in IGNORED_SERVICES:
        return None
    injector.calls.append((function, service, operation))
    nth = sum(1 for call in injector.calls if call == (function, service, operation))
    fault = injector.plan(function, service, operation, nth) if injector.plan else None
    if fault is None:
        return None
    injector.injected.append((function, service, operation, fault))
    if fault in TRANSPORT:
        _call.fault = (fault, operation)
        return None
    code, status = (_THROTTLE if fault == THROTTLED else _INTERNAL).get(service, ("InternalFailure", 500))
    error = {"Error": {"Code": code, "Message": f"injected {fault}"}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return _Http(status), error


def _transport(stage: str) -> Callable[..., None]:
    def raise_fault(request: Any = None, event_name: str = "", **_: Any) -> None:
        pending = getattr(_call, "fault", None)
        if pending is None or pending[0] != stage or not event_name.endswith(f".{pending[1]}"):
            return
        url = getattr(request, "url", "https://aws.invalid")
        if stage == CONNECTION_RESET:
            raise ConnectionClosedError(endpoint_url=url)
        raise ReadTimeoutError(endpoint_url=url)

    return raise_fault


def install() -> None:
    """Put the hooks in botocore's built-in handlers: every client made from now on carries them."""
    global _installed
    if _installed:
        return
    from botocore import handlers

    handlers.BUILTIN_HANDLERS.append(("before-call.*.*", _before_call))
    # A reset happens before the service sees the request (ahead of moto's own before-send handler);
    # a read timeout after it answered (behind it): the work is done, the answer lost.
    handlers.BUILTIN_HANDLERS.append(("before-send", _transport(CONNECTION_RESET), handlers.REGISTER_FIRST))
    handlers.BUILTIN_HANDLERS.append(("before-send", _transport(READ_TIMEOUT), handlers.REGISTER_LAST))
    _installed = True


@contextmanager
def injecting() -> Iterator[Injector]:
    """An injector in force for the block (nothing is faulted until a plan is armed)."""
    install()
    injector = Injector()
    token = _active.set(injector)
    try:
        yield injector
    finally:
        _active.reset(token)


install()  # at import, before the stack's clients exist
