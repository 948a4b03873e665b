"""The consent state of one phone number and the transitions that change it.

Pure domain code: no AWS here. Status belongs to the number (every profile that shares it sees it).
Every transition returns the audit event that proves it; storage appends those events, never edits them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sms_consent.clock import iso, utc
from sms_consent.messages import BusEvent

# At most one opt-in prompt per number and program within this interval (forms resubmitted, the gate).
PROMPT_INTERVAL = timedelta(minutes=10)
# Texts kept as evidence (an inbound message, a consent text, a user agent) are cut to this length;
# a consent text is also kept whole as its hash.
EVIDENCE_TEXT_LIMIT = 2000
# Evidence of a confirmation whose prompt was held and never sent: the consumer texted YES unprompted.
PROMPT_NEVER_SENT = "prompt_never_sent"


class Status(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    PENDING = "pending"


class Source(StrEnum):
    KEYWORD = "keyword"  # the consumer texted us
    WEB_FORM = "web_form"
    API = "api"
    SDK = "sdk"
    PREFERENCE_CENTER = "preference_center"
    IMPORT = "import"
    ADMIN = "admin"
    CARRIER = "carrier"  # the provider told us the number opted out
    PROFILE = "profile"  # inherited from a user's previous number
    # The FCC's Reassigned Numbers Database: the number changed hands since its consent was given.
    REASSIGNED_NUMBERS = "reassigned_numbers"
    # List hygiene (seed 001): removed after unanswered reminders. Not the consumer's decision.
    LIST_HYGIENE = "list_hygiene"


# Where the consumer acts for themselves: only these may undo a consumer's opt-out.
CONSUMER_SOURCES = frozenset({Source.KEYWORD})
# Opt-outs that are the consumer's own decision (so only the consumer may undo them): a STOP, the
# provider's opt-out list (a carrier-level STOP), and the consumer's choice in a preference center.
CONSUMER_OPT_OUT_SOURCES = frozenset({Source.KEYWORD, Source.CARRIER, Source.PREFERENCE_CENTER})


class EventType(StrEnum):
    GRANTED = "ConsentGranted"
    REVOKED = "ConsentRevoked"
    DOUBLE_OPT_IN_REQUESTED = "DoubleOptInRequested"
    BLOCKED = "NumberBlocked"
    UNBLOCKED = "NumberUnblocked"


@dataclass(frozen=True, slots=True)
class Pending:
    """A double opt-in waiting for the consumer's confirmation."""

    requested_at: datetime
    expires_at: datetime
    source: str
    prompt_request_id: str
    prompt_message_id: str | None = None  # the provider's id, once the gate has sent the prompt
    # Time of the message or request that asked for the prompt: a reply sent before it cannot answer it.
    asked_at: datetime | None = None
    held: bool = False  # the prompt was kept back (pumping suspected); it leaves only when released

    @property
    def never_sent(self) -> bool:
        """Held and not (yet) sent: a YES to it came from the consumer unprompted."""
        return self.held and not self.prompt_message_id

    def is_open(self, now: datetime) -> bool:
        return utc(now) < self.expires_at


@dataclass(frozen=True, slots=True)
class ProgramState:
    status: Status
    source: str
    updated_at: datetime
    # Time of the message or request that decided this status; older ones arriving late are ignored.
    decided_at: datetime
    # Set when the consumer opted out: only the consumer may undo it.
    consumer_opted_out: bool = False
    pending: Pending | None = None

    def effective_status(self, now: datetime) -> Status:
        """The status every reader acts on (the gate, the API, metrics, exports): subscribed; else
        pending while a confirmation is open (also after an opt-out, when the consumer texted START);
        else unsubscribed (a window that closed unconfirmed was never a subscription)."""
        if self.status is Status.SUBSCRIBED:
            return Status.SUBSCRIBED
        if self.pending is not None and self.pending.is_open(now):
            return Status.PENDING
        return Status.UNSUBSCRIBED


@dataclass(frozen=True, slots=True)
class Block:
    type: int  # 1 inbound, 2 outbound, 3 both
    reason: str
    text: str
    added_at: datetime

    @property
    def blocks_inbound(self) -> bool:
        return self.type in (1, 3)

    @property
    def blocks_outbound(self) -> bool:
        return self.type in (2, 3)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Immutable proof of one change. `evidence` holds ids, texts, IP, user agent, URLs, hashes."""

    event_type: EventType
    at: datetime
    phone: str
    program: str | None
    old_status: str | None
    new_status: str | None
    source: str
    evidence: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def detail(self) -> dict[str, Any]:
        """The EventBridge detail: number in E.164, program, source and an ISO-8601 UTC time."""
        return {
            "phone": self.phone,
            "program": self.program,
            "old_status": self.old_status,
            "new_status": self.new_status,
            "source": self.source,
            "timestamp": iso(self.at),
            "event_id": self.event_id,
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class NumberState:
    phone: str
    programs: dict[str, ProgramState] = field(default_factory=dict)
    block: Block | None = None
    # Senders whose "which program?" menu is unanswered: opted out of all their programs meanwhile.
    ask_pending: dict[str, datetime] = field(default_factory=dict)
    # Last time opt-out instructions reached the number, per program (kept by the send gate).
    optout_notice_at: dict[str, datetime] = field(default_factory=dict)
    # Recent send times (epoch seconds, oldest first) per capped stream: a program, or `replies`.
    recent_sends: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Last inbound message from the number (kept by the inbound path, at most one write a day).
    engaged_at: datetime | None = None
    # List-hygiene reminders sent (epoch seconds, oldest first) per program (kept by the hygiene run).
    reminders: dict[str, tuple[int, ...]] = field(default_factory=dict)
    version: int = 0  # optimistic-locking counter kept by storage

    def status(self, program: str) -> Status | None:
        state = self.programs.get(program)
        return state.status if state else None

    def effective_status(self, program: str, now: datetime) -> Status | None:
        state = self.programs.get(program)
        return state.effective_status(now) if state else None

    def may_receive_marketing(self, program: str, sender: str | None = None) -> bool:
        if sender is not None and sender in self.ask_pending:
            return False
        return self.status(program) is Status.SUBSCRIBED

    def is_opted_out(self, program: str, sender: str | None = None) -> bool:
        if sender is not None and sender in self.ask_pending:
            return True
        state = self.programs.get(program)
        return state is not None and state.status is Status.UNSUBSCRIBED


@dataclass(frozen=True, slots=True)
class Change:
    """A new state and the events that prove how it came about."""

    state: NumberState
    events: tuple[AuditEvent, ...] = ()
    # The state must be written even though nothing new needs proving (e.g. a newer decision time).
    touched: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.events) or self.touched

    @property
    def change(self) -> Change:
        """A change is its own decision: `NumberStore.update` takes either."""
        return self


def _is_stale(state: NumberState, program: str, at: datetime) -> bool:
    current = state.programs.get(program)
    return current is not None and utc(at) < current.decided_at


def _set_program(state: NumberState, program: str, new: ProgramState) -> NumberState:
    return replace(state, programs={**state.programs, program: new})


def revoke(
    state: NumberState,
    program: str,
    *,
    source: str,
    at: datetime,
    now: datetime,
    evidence: dict[str, Any],
    by_consumer: bool = False,
) -> Change:
    """Opt the number out of one program. Opt-outs are never skipped for being a no-op: they are recorded.

    `by_consumer` marks an opt-out the consumer made through another source (one carried to their new
    number); opt-outs from a consumer source always are.
    """
    if _is_stale(state, program, at):
        return Change(state)
    old = state.programs.get(program)
    new = ProgramState(
        status=Status.UNSUBSCRIBED,
        source=source,
        updated_at=utc(now),
        decided_at=utc(at),
        consumer_opted_out=by_consumer or source in CONSUMER_OPT_OUT_SOURCES or bool(old and old.consumer_opted_out),
    )
    event = AuditEvent(
        EventType.REVOKED,
        utc(now),
        state.phone,
        program,
        old.status if old else None,
        Status.UNSUBSCRIBED,
        source,
        evidence,
    )
    return Change(_set_program(state, program, new), (event,))


def revoke_all(
    state: NumberState, programs: Iterable[str], *, source: str, at: datetime, now: datetime, evidence: dict[str, Any]
) -> Change:
    """Opt the number out of every program named, one after another, each with its own event."""
    changes = [Change(state)]
    for program in programs:
        changes.append(revoke(changes[-1].state, program, source=source, at=at, now=now, evidence=evidence))
    return merge(*changes)


def grant(
    state: NumberState, program: str, *, source: str, at: datetime, now: datetime, evidence: dict[str, Any]
) -> Change:
    """Subscribe. Callers decide whether the source may do this (see `may_subscribe_directly`)."""
    if _is_stale(state, program, at):
        return Change(state)
    old = state.programs.get(program)
    if old is not None and old.status is Status.SUBSCRIBED:
        # Already subscribed: nothing to prove, but this newer decision must win over older ones still in flight.
        return Change(_set_program(state, program, replace(old, decided_at=utc(at))), touched=True)
    new = ProgramState(status=Status.SUBSCRIBED, source=source, updated_at=utc(now), decided_at=utc(at))
    if old is not None and old.pending is not None:
        # Completes a double opt-in: the proof links the confirmation to its prompt.
        evidence = {
            **evidence,
            "double_opt_in": True,
            "prompt_request_id": old.pending.prompt_request_id,
            "prompt_requested_at": iso(old.pending.requested_at),  # measures the time to confirm
        }
        if old.pending.prompt_message_id:
            evidence["prompt_message_id"] = old.pending.prompt_message_id
        if old.pending.never_sent:
            evidence[PROMPT_NEVER_SENT] = True
    event = AuditEvent(
        EventType.GRANTED,
        utc(now),
        state.phone,
        program,
        old.status if old else None,
        Status.SUBSCRIBED,
        source,
        evidence,
    )
    return Change(_set_program(state, program, new), (event,))


def vouches_for_prompts(event: AuditEvent) -> bool:
    """A double opt-in confirmed by a YES to a prompt that reached the phone: what the pumping rules
    count as a confirmation (each lets prompts held in its scope out). A YES to a prompt that was held
    and never sent (the sign-up page tells people with no text to send one) confirms that consent, but
    vouches for no other prompt: counted, it would let out the held prompts of the attack it was caught
    in."""
    return (
        event.event_type is EventType.GRANTED
        and bool(event.evidence.get("double_opt_in"))
        and not event.evidence.get(PROMPT_NEVER_SENT)
    )


def request_confirmation(
    state: NumberState,
    program: str,
    *,
    source: str,
    at: datetime,
    now: datetime,
    window: timedelta,
    prompt_request_id: str,
    evidence: dict[str, Any],
    held: bool = False,
) -> Change:
    """Record a pending double opt-in. The status stays what it was until the consumer confirms.
    `held`: its prompt is kept back for now (pumping suspected)."""
    if _is_stale(state, program, at):
        return Change(state)
    old = state.programs.get(program)
    pending = Pending(
        requested_at=utc(now),
        expires_at=utc(now) + window,
        source=source,
        prompt_request_id=prompt_request_id,
        asked_at=utc(at),
        held=held,
    )
    if old is None:
        new = ProgramState(
            status=Status.PENDING, source=source, updated_at=utc(now), decided_at=utc(at), pending=pending
        )
    else:
        new = replace(old, pending=pending, updated_at=utc(now))
    event = AuditEvent(
        EventType.DOUBLE_OPT_IN_REQUESTED,
        utc(now),
        state.phone,
        program,
        old.status if old else None,
        new.status,
        source,
        {**evidence, "expires_at": iso(pending.expires_at), "prompt_request_id": prompt_request_id},
    )
    return Change(_set_program(state, program, new), (event,))


def may_subscribe_directly(state: NumberState, program: str, source: str) -> bool:
    """Only the consumer undoes an opt-out: anything else must go through double opt-in. The same holds
    after a reassignment: the consent on file (an import, a CRM) was the previous holder's, so only the
    number's new holder may subscribe it, by texting us or confirming a prompt."""
    current = state.programs.get(program)
    if current is None:
        return True
    reassigned = current.status is Status.UNSUBSCRIBED and current.source == Source.REASSIGNED_NUMBERS
    if not current.consumer_opted_out and not reassigned:
        return True
    return source in CONSUMER_SOURCES


def merge(*changes: Change) -> Change:
    """Chain changes made one after another on the same number."""
    if not changes:
        raise ValueError("nothing to merge")
    return Change(
        changes[-1].state,
        tuple(event for change in changes for event in change.events),
        touched=any(change.touched for change in changes),
    )


def bus_events(events: Iterable[AuditEvent]) -> list[BusEvent]:
    """The EventBridge form of audit events (ConsentGranted, ConsentRevoked, NumberBlocked, ...).
    The STOP menu's own bookkeeping (no program, not a block) stays in the audit trail only."""
    return [
        BusEvent(detail_type=event.event_type.value, detail=event.detail())
        for event in events
        if event.program is not None or event.event_type in (EventType.BLOCKED, EventType.UNBLOCKED)
    ]


def record_prompt_message(state: NumberState, program: str, prompt_request_id: str, message_id: str) -> Change:
    """Remember the provider's id of a sent prompt, so a YES naming it (previousPublishedMessageId) finds it."""
    current = state.programs.get(program)
    if current is None or current.pending is None or current.pending.prompt_request_id != prompt_request_id:
        return Change(state)
    pending = replace(current.pending, prompt_message_id=message_id)
    return Change(_set_program(state, program, replace(current, pending=pending)), touched=True)
