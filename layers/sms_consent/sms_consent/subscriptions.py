"""Status changes from any source outside the handset: API, SDK, preference center, import, web form.

Pure domain code: storage, the outbound topic and the event bus come in through ports. The web form's
own checks live in `signup`; profiles and number moves in `profiles`.

Which sources enter double opt-in (seed 002)
--------------------------------------------
- `web_form`, `sdk` and `preference_center`: always, when the program uses double opt-in (and also
  when the caller asks for it with `use_double_opt_in`).
- `api`: only with `use_double_opt_in: true`.
- `import`: never.
- Whatever the source, a "subscribed" for a number whose consumer opted out starts a double opt-in
  instead: only the consumer undoes an opt-out (an opt-in keyword, or a completed double opt-in).

A prompt opens a pending confirmation for the program's window (30 days by default); the inbound
flow confirms it on a YES and refuses a YES after the window, whatever DynamoDB's TTL has done.
A number gets at most one prompt per program within `consent.PROMPT_INTERVAL`: a repeated request
within it answers "pending" again and sends nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sms_consent import consent, phones
from sms_consent.clock import Clock, utc
from sms_consent.config import Program, ProgramConfig
from sms_consent.consent import PROMPT_INTERVAL, Change, NumberState, ProgramState, Source, Status
from sms_consent.messages import Category, to_number
from sms_consent.ports import NumberStore, OutboundRequests

# Sources that enter double opt-in whenever the program uses it.
ALWAYS_DOUBLE_OPT_IN = frozenset({Source.WEB_FORM, Source.SDK, Source.PREFERENCE_CENTER})


class SubscriptionAction(StrEnum):
    PROMPTED = "double_opt_in_started"  # pending confirmation recorded, prompt sent
    PROMPT_RECENT = "prompt_recently_sent"  # an open prompt younger than PROMPT_INTERVAL: nothing sent
    SUBSCRIBED = "subscribed"
    ALREADY_SUBSCRIBED = "already_subscribed"
    UNSUBSCRIBED = "unsubscribed"


class DoubleOptInReason(StrEnum):
    PROGRAM = "program_uses_double_opt_in"
    REQUESTED = "use_double_opt_in"
    CONSUMER_OPTED_OUT = "consumer_opted_out"
    NUMBER_REASSIGNED = "number_reassigned"


REASON_DETAIL = {
    DoubleOptInReason.PROGRAM: "the program uses double opt-in for this source: a confirmation prompt was sent",
    DoubleOptInReason.REQUESTED: "use_double_opt_in was requested: a confirmation prompt was sent",
    DoubleOptInReason.CONSUMER_OPTED_OUT: (
        "the number's consumer opted out of this program and only the consumer can undo that: "
        "the number was not subscribed, a confirmation prompt was sent instead"
    ),
    DoubleOptInReason.NUMBER_REASSIGNED: (
        "the number changed hands since its consent was given (Reassigned Numbers Database) and only its new "
        "holder can subscribe it: the number was not subscribed, a confirmation prompt was sent instead"
    ),
}


class Rejection(StrEnum):
    INVALID_NUMBER = "invalid-number"
    NUMBER_TYPE_NOT_ALLOWED = "number-type-not-allowed"
    COUNTRY_NOT_ALLOWED = "country-not-allowed"
    UNKNOWN_PROGRAM = "unknown-program"
    NO_PROMPT = "no-optin-prompt"
    CAPTCHA_MISSING = "captcha-missing"
    CAPTCHA_FAILED = "captcha-failed"
    CAPTCHA_UNAVAILABLE = "captcha-unavailable"
    RATE_LIMITED = "rate-limited"
    CONFLICT = "conflict"


class Rejected(Exception):
    """A request the domain refuses; `reason` says which rule, `detail` says it to a person."""

    def __init__(self, reason: Rejection, detail: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_at = retry_at


@dataclass(frozen=True)
class Prompt:
    program: str
    body: str
    request_id: str  # Pending.prompt_request_id: the gate records the provider's message id against it


@dataclass(frozen=True)
class SubscriptionDecision:
    action: SubscriptionAction
    change: Change
    prompt: Prompt | None = None
    reason: DoubleOptInReason | None = None
    expires_at: datetime | None = None  # of the pending confirmation, when there is one


def parse_number(raw: str, config: ProgramConfig) -> phones.PhoneInfo:
    try:
        return phones.parse(raw, config.default_region)
    except phones.InvalidPhoneNumber as exc:
        raise Rejected(Rejection.INVALID_NUMBER, f"phone: {exc}") from None


def program_of(program_id: str, config: ProgramConfig) -> Program:
    program = config.programs.get(program_id)
    if program is None:
        known = ", ".join(sorted(config.programs))
        raise Rejected(Rejection.UNKNOWN_PROGRAM, f"program: unknown program '{program_id[:40]}' (known: {known})")
    return program


def check_destination(phone: phones.PhoneInfo, program_id: str, config: ProgramConfig) -> Program:
    """The program, if it may message this number at all: its countries, and no premium-rate-like types."""
    program = program_of(program_id, config)
    if phone.number_type in config.blocked_number_types:
        kind = phone.number_type.value.replace("_", " ")
        raise Rejected(Rejection.NUMBER_TYPE_NOT_ALLOWED, f"phone: {kind} numbers cannot subscribe")
    if phone.country not in program.allowed_countries:
        allowed = ", ".join(program.allowed_countries)
        raise Rejected(
            Rejection.COUNTRY_NOT_ALLOWED,
            f"phone: numbers from {phone.country} cannot subscribe to '{program_id}' (allowed: {allowed})",
        )
    return program


def double_opt_in_reason(
    state: NumberState, program_id: str, program: Program, source: str, requested: bool
) -> DoubleOptInReason | None:
    """Why this "subscribed" must go through double opt-in, or None when it may subscribe directly."""
    if not consent.may_subscribe_directly(state, program_id, source):
        current = state.programs.get(program_id)
        if current is not None and not current.consumer_opted_out and current.source == Source.REASSIGNED_NUMBERS:
            return DoubleOptInReason.NUMBER_REASSIGNED
        return DoubleOptInReason.CONSUMER_OPTED_OUT
    if source == Source.IMPORT:
        return None
    if source in ALWAYS_DOUBLE_OPT_IN and program.double_opt_in:
        return DoubleOptInReason.PROGRAM
    if requested:
        return DoubleOptInReason.REQUESTED
    return None


def without_pending(state: NumberState, program_id: str) -> NumberState:
    """A direct subscription is not a confirmation: drop an open prompt so that the audit event does not
    claim a completed double opt-in."""
    current = state.programs.get(program_id)
    if current is None or current.pending is None:
        return state
    return replace(state, programs={**state.programs, program_id: replace(current, pending=None)})


def _open_prompt(current: ProgramState | None, now: datetime) -> consent.Pending | None:
    if current is None or current.pending is None or not current.pending.is_open(now):
        return None
    return current.pending


def _prompt_body(program: Program, language: str | None) -> str | None:
    return program.replies_for(language).optin_prompt or program.replies.optin_prompt


def unsent_prompt(
    state: NumberState, program_id: str, *, config: ProgramConfig, language: str | None, now: datetime
) -> Prompt | None:
    """The open double opt-in's prompt if the gate never sent it (its publish failed, or it was held):
    sent again, it is the same request, which the gate sends to a number once."""
    pending = _open_prompt(state.programs.get(program_id), now)
    body = _prompt_body(program_of(program_id, config), language)
    if pending is None or pending.prompt_message_id or not body:
        return None
    return Prompt(program_id, body, pending.prompt_request_id)


def subscribe(
    state: NumberState,
    program_id: str,
    *,
    config: ProgramConfig,
    source: str,
    use_double_opt_in: bool,
    now: datetime,
    evidence: Mapping[str, Any],
    language: str | None = None,
    prompt_request_id: str | None = None,
    prompt_held: bool = False,
) -> SubscriptionDecision:
    """A request to subscribe the number: subscribe it, or start (or keep) a double opt-in.
    `prompt_held`: a new prompt is kept back for now (pumping suspected)."""
    program = program_of(program_id, config)
    current = state.programs.get(program_id)
    if current is not None and current.status is Status.SUBSCRIBED:
        return SubscriptionDecision(SubscriptionAction.ALREADY_SUBSCRIBED, Change(state))
    reason = double_opt_in_reason(state, program_id, program, source, use_double_opt_in)
    if reason is None:
        change = consent.grant(
            without_pending(state, program_id), program_id, source=source, at=now, now=now, evidence=dict(evidence)
        )
        if not change.events:
            raise Rejected(Rejection.CONFLICT, "a newer consent decision for this number and program exists")
        return SubscriptionDecision(SubscriptionAction.SUBSCRIBED, change)
    body = _prompt_body(program, language)
    pending = _open_prompt(current, now)
    if pending is not None and utc(now) - pending.requested_at < PROMPT_INTERVAL:
        # No new prompt; but one the gate never sent (its publish failed) goes again, as the same
        # request: the gate sends a request to a number once, so a race cannot make it two.
        unsent = unsent_prompt(state, program_id, config=config, language=language, now=now)
        return SubscriptionDecision(
            SubscriptionAction.PROMPT_RECENT, Change(state), unsent, reason=reason, expires_at=pending.expires_at
        )
    if not body:
        raise Rejected(Rejection.NO_PROMPT, f"program '{program_id}' has no opt-in prompt to send")
    request_id = prompt_request_id or str(uuid.uuid4())
    change = consent.request_confirmation(
        state,
        program_id,
        source=source,
        at=now,
        now=now,
        window=timedelta(days=config.confirmation_window_days),
        prompt_request_id=request_id,
        evidence={**evidence, "double_opt_in_reason": reason.value},
        held=prompt_held,
    )
    new = change.state.programs.get(program_id)
    if not change.events or new is None or new.pending is None:
        raise Rejected(Rejection.CONFLICT, "a newer consent decision for this number and program exists")
    return SubscriptionDecision(
        SubscriptionAction.PROMPTED,
        change,
        Prompt(program_id, body, request_id),
        reason=reason,
        expires_at=new.pending.expires_at,
    )


def unsubscribe(
    state: NumberState,
    program_id: str,
    *,
    config: ProgramConfig,
    source: str,
    now: datetime,
    evidence: Mapping[str, Any],
) -> SubscriptionDecision:
    program_of(program_id, config)
    return SubscriptionDecision(
        SubscriptionAction.UNSUBSCRIBED,
        consent.revoke(state, program_id, source=source, at=now, now=now, evidence=dict(evidence)),
    )


@dataclass(frozen=True)
class SubscriptionDeps:
    config: ProgramConfig
    store: NumberStore
    outbound: OutboundRequests
    clock: Clock


@dataclass(frozen=True)
class StatusRequest:
    phone: str  # E.164
    program: str
    status: Status  # subscribed or unsubscribed
    source: str
    use_double_opt_in: bool = False
    evidence: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None


def set_status(request: StatusRequest, deps: SubscriptionDeps) -> tuple[NumberState, SubscriptionDecision]:
    """PUT /v1/numbers/{phone}/programs/{program}: the stored state and what the request did."""
    program_of(request.program, deps.config)
    if request.status not in (Status.SUBSCRIBED, Status.UNSUBSCRIBED):
        raise ValueError("status must be subscribed or unsubscribed")
    now = deps.clock()
    request_id = str(uuid.uuid4())
    evidence = {**request.evidence, "source": request.source}

    def decide(state: NumberState) -> SubscriptionDecision:
        if request.status is Status.SUBSCRIBED:
            return subscribe(
                state,
                request.program,
                config=deps.config,
                source=request.source,
                use_double_opt_in=request.use_double_opt_in,
                now=now,
                evidence=evidence,
                language=request.language,
                prompt_request_id=request_id,
            )
        return unsubscribe(
            state, request.program, config=deps.config, source=request.source, now=now, evidence=evidence
        )

    stored = deps.store.update(request.phone, decide)
    publish_prompt(stored.decision, request.phone, deps.config, deps.outbound, {"source": str(request.source)})
    return stored.state, stored.decision


def publish_prompt(
    decision: SubscriptionDecision,
    phone: str,
    config: ProgramConfig,
    outbound: OutboundRequests,
    metadata: Mapping[str, Any],
) -> None:
    """The decision's opt-in prompt, if it has one, through the send gate like every other message."""
    if decision.prompt is not None:
        send_prompt(decision.prompt, phone, config, outbound, metadata)


def send_prompt(
    prompt: Prompt, phone: str, config: ProgramConfig, outbound: OutboundRequests, metadata: Mapping[str, Any]
) -> None:
    sender = config.sender_for_program(prompt.program)
    outbound.publish(
        to_number(
            phone,
            program=prompt.program,
            category=Category.OPTIN_PROMPT,
            body=prompt.body,
            sender=sender.number if sender else None,
            metadata=metadata,
            prompt_request_id=prompt.request_id,
        )
    )
