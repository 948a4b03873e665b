"""The small interfaces between domain code and the outside world. Tests swap the adapters."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from sms_consent.breakers import Breaker
from sms_consent.consent import AuditEvent, Change, NumberState
from sms_consent.messages import BusEvent, OutboundRequest, OutgoingSms, SendResult


class SendError(Exception):
    """The provider refused the message; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RecipientOptedOut(SendError):
    """The provider's own opt-out list holds the number (carrier-level STOP)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class SmsSender(Protocol):
    def send(self, message: OutgoingSms) -> SendResult: ...


class OutboundRequests(Protocol):
    """Where messages for handsets go: OutboundRequestsTopic, whose only subscriber is the send gate."""

    def publish(self, request: OutboundRequest) -> str: ...


class EventSink(Protocol):
    def publish(self, events: Sequence[BusEvent]) -> None: ...


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the number between our read and our write (from `update`: on every attempt)."""


class BreakerSource(Protocol):
    """The traffic-pumping breakers open at `now`, by (dimension, key)."""

    def open_breakers(self, now: datetime) -> Mapping[tuple[str, str], Breaker]: ...


class NumberStore(Protocol):
    """Number state and audit trail (sms_consent.repository.numbers)."""

    def get(self, phone: str) -> NumberState: ...

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]: ...

    def update(self, phone: str, decide: Callable[[NumberState], Change]) -> tuple[NumberState, tuple[AuditEvent, ...]]:
        """Read, apply the pure `decide`, write atomically with its events; retried on concurrent change."""
        ...

    def history(self, phone: str) -> list[AuditEvent]: ...
