"""In-memory versions of the ports in `sms_consent.ports`, shared by every test that needs no AWS.

They keep the ports' contracts (an update that changes nothing writes nothing; a refused
`before_write` writes nothing), so that a domain test on them means what it says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from sms_consent.consent import AuditEvent, NumberState
from sms_consent.messages import BusEvent, OutboundRequest
from sms_consent.ports import D, Stored


class MemoryStore:
    """The NumberStore port in memory: one state per number, events appended."""

    def __init__(self, *states: NumberState) -> None:
        self.states = {state.phone: state for state in states}
        self.events: list[AuditEvent] = []

    def get(self, phone: str) -> NumberState:
        return self.states.get(phone) or NumberState(phone=phone)

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]:
        return {phone: self.get(phone) for phone in phones}

    def update(
        self, phone: str, decide: Callable[[NumberState], D], *, before_write: Callable[[D], None] | None = None
    ) -> Stored[D]:
        decision = decide(self.get(phone))
        change = decision.change
        if not change.changed:
            return Stored(self.get(phone), (), decision)
        if before_write is not None:
            before_write(decision)
        self.states[phone] = replace(change.state, version=change.state.version + 1)
        self.events.extend(change.events)
        return Stored(self.states[phone], change.events, decision)

    def history(self, phone: str) -> list[AuditEvent]:
        return [event for event in self.events if event.phone == phone]


@dataclass
class Outbox:
    """The OutboundRequests port: what would have gone to the send gate."""

    requests: list[OutboundRequest] = field(default_factory=list)

    def publish(self, request: OutboundRequest) -> str:
        self.requests.append(request)
        return request.request_id


@dataclass
class Bus:
    """The EventSink port: what would have gone to ConsentEventBus."""

    events: list[BusEvent] = field(default_factory=list)

    def publish(self, events: Sequence[BusEvent]) -> None:
        self.events.extend(events)
