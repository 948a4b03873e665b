"""One process, many invocations: what the local stack changes so that concurrent invocations of
warm handlers in one process behave as Lambda's separate containers do, and so that moto, which is
not thread-safe, applies one AWS request at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def serialize_requests(server: Any) -> threading.Lock:
    """moto's backends are not thread-safe: each AWS request runs alone inside the emulator, as a
    service applies one request to an item at a time, while the functions' threads interleave.
    Returns the lock, for code that reaches into moto's backends in this process."""
    wsgi = server._server  # ThreadedMotoServer keeps its werkzeug server here
    app = wsgi.app
    lock = threading.Lock()

    def serialized(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") == "AmazonSQS.ReceiveMessage":
            # A long poll waits inside moto for a message another request sends: it must not hold the
            # lock (moto's SQS queue has a lock of its own for this).
            return list(app(environ, start_response))
        with lock:
            return list(app(environ, start_response))

    wsgi.app = serialized
    return lock


def make_powertools_concurrent() -> None:
    """Powertools keeps one invocation's state per process, since Lambda runs one invocation per
    container; here the warm modules are shared by concurrent invocations, so that state is made
    per invocation (per thread) or atomic. Idempotent."""
    _serialize_metrics()
    _thread_local_resolver_state()
    _thread_local_logger_keys()


_powertools_lock = threading.Lock()
_patched: set[str] = set()


def _once(name: str) -> bool:
    """True the first time `name` is asked for: each patch is applied once per process."""
    with _powertools_lock:
        if name in _patched:
            return False
        _patched.add(name)
        return True


def _serialize_metrics() -> None:
    """Powertools' Metrics buffers one invocation's metrics per process (Lambda runs one invocation per
    container); with several invocations in one process, each call on the buffer is made atomic.
    (An invocation's flush may then carry a concurrent one's metrics: counted once, in another blob.)"""
    if not _once("metrics"):
        return
    from sms_consent.observability import metrics

    provider = metrics.provider
    lock = threading.RLock()  # flush_metrics calls clear_metrics
    for name in ("add_metric", "add_dimension", "add_metadata", "flush_metrics", "clear_metrics"):
        method = getattr(provider, name)

        def locked(*args: Any, _method: Callable[..., Any] = method, **kwargs: Any) -> Any:
            with lock:
                return _method(*args, **kwargs)

        setattr(provider, name, locked)


class _RequestState(threading.local):
    """The event handler's per-request state, one per thread (one thread runs one invocation)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.contexts: dict[int, dict[str, Any]] = {}


def _thread_local_resolver_state() -> None:
    """Powertools' event handler keeps the current request in class attributes of BaseRouter
    (`BaseRouter.current_event = ...` in resolve) and the route's arguments in the resolver's
    `context` dict: shared by every resolver of the process. Two concurrent API requests would read
    each other's body, source IP and path parameters. Both are made per thread: a metaclass property
    catches the class-level reads and writes, an ordinary property the instance ones."""
    if not _once("resolver"):
        return
    from aws_lambda_powertools.event_handler import api_gateway

    state = _RequestState()
    base: Any = api_gateway.BaseRouter

    def field(name: str) -> property:
        def get(_: Any) -> Any:
            try:
                return state.values[name]
            except KeyError:
                raise AttributeError(name) from None

        def put(_: Any, value: Any) -> None:
            state.values[name] = value

        return property(get, put)

    def get_context(resolver: Any) -> dict[str, Any]:
        return state.contexts.setdefault(id(resolver), {})

    def put_context(resolver: Any, value: dict[str, Any]) -> None:
        state.contexts[id(resolver)] = value

    fields = {name: field(name) for name in ("current_event", "lambda_context")}
    for name, descriptor in fields.items():
        setattr(base, name, descriptor)  # instance reads: resolver.current_event (replaces a value set before)
    meta = type(base)
    base.__class__ = type(f"Local{meta.__name__}", (meta,), dict(fields))  # class level: BaseRouter.current_event = ...
    api_gateway.ApiGatewayResolver.context = property(get_context, put_context)  # type: ignore[assignment]


def _thread_local_logger_keys() -> None:
    """inject_lambda_context appends the request id and correlation id to the formatter every
    invocation shares; Powertools' thread-safe keys (a ContextVar) keep them with their invocation."""
    if not _once("logger"):
        return
    from sms_consent.observability import logger

    logger.append_keys = logger.thread_safe_append_keys  # type: ignore[method-assign]
    logger.remove_keys = logger.thread_safe_remove_keys  # type: ignore[method-assign]
