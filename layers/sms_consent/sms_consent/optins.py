"""Consent that arrives from outside the handset: the web form's double opt-in, status changes from the
API, SDKs, preference centers and imports, and profiles that move to another number.

Pure domain code: storage, the outbound topic, the event bus, the CAPTCHA, the rate-limit counters and
the pumping breakers come in through ports.

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
A number gets at most one prompt per program within `PROMPT_INTERVAL`: a resubmitted form within it
answers "pending" again and sends nothing.

Profiles (seed 000)
-------------------
Status belongs to the number, so every profile linked to a number sees the same status. A user who
moves to another number takes their statuses along (`carry_statuses`): opt-outs always (a consumer's
opt-out stays a consumer's opt-out), subscriptions unless the new number's own consumer opted out.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sms_consent import breakers, consent, phones
from sms_consent.config import OptinLimits, Program, ProgramConfig
from sms_consent.consent import Change, NumberState, ProgramState, Source, Status
from sms_consent.messages import Category, OutboundRequest
from sms_consent.ports import BreakerSource, EventSink, NumberStore, OutboundRequests

# Same interval as the send gate's cap on opt-in prompts: the gate would refuse a second one anyway.
PROMPT_INTERVAL = timedelta(minutes=10)
EVIDENCE_TEXT_LIMIT = 2000

ADMIN_SOURCES = (Source.API, Source.SDK, Source.PREFERENCE_CENTER, Source.IMPORT)
# Sources that enter double opt-in whenever the program uses it.
ALWAYS_DOUBLE_OPT_IN = frozenset({Source.WEB_FORM, Source.SDK, Source.PREFERENCE_CENTER})


class Action(StrEnum):
    PROMPTED = "double_opt_in_started"  # pending confirmation recorded, prompt sent
    PROMPT_RECENT = "prompt_recently_sent"  # an open prompt younger than PROMPT_INTERVAL: nothing sent
    SUBSCRIBED = "subscribed"
    ALREADY_SUBSCRIBED = "already_subscribed"
    UNSUBSCRIBED = "unsubscribed"


class DoubleOptInReason(StrEnum):
    PROGRAM = "program_uses_double_opt_in"
    REQUESTED = "use_double_opt_in"
    CONSUMER_OPTED_OUT = "consumer_opted_out"


REASON_DETAIL = {
    DoubleOptInReason.PROGRAM: "the program uses double opt-in for this source: a confirmation prompt was sent",
    DoubleOptInReason.REQUESTED: "use_double_opt_in was requested: a confirmation prompt was sent",
    DoubleOptInReason.CONSUMER_OPTED_OUT: (
        "the number's consumer opted out of this program and only the consumer can undo that: "
        "the number was not subscribed, a confirmation prompt was sent instead"
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
    PUMPING_BREAKER = "pumping-breaker"
    CONFLICT = "conflict"


class Rejected(Exception):
    """A request the domain refuses; `reason` says which rule, `detail` says it to a person."""

    def __init__(self, reason: Rejection, detail: str, *, retry_at: datetime | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retry_at = retry_at


# ---------------------------------------------------------------------- pure decisions


@dataclass(frozen=True)
class Prompt:
    program: str
    body: str
    request_id: str  # Pending.prompt_request_id: the gate records the provider's message id against it


@dataclass(frozen=True)
class Decision:
    action: Action
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
        return DoubleOptInReason.CONSUMER_OPTED_OUT
    if source == Source.IMPORT:
        return None
    if source in ALWAYS_DOUBLE_OPT_IN and program.double_opt_in:
        return DoubleOptInReason.PROGRAM
    if requested:
        return DoubleOptInReason.REQUESTED
    return None


def _without_pending(state: NumberState, program_id: str) -> NumberState:
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
) -> Decision:
    """A request to subscribe the number: subscribe it, or start (or keep) a double opt-in."""
    program = program_of(program_id, config)
    current = state.programs.get(program_id)
    if current is not None and current.status is Status.SUBSCRIBED:
        return Decision(Action.ALREADY_SUBSCRIBED, Change(state))
    reason = double_opt_in_reason(state, program_id, program, source, use_double_opt_in)
    if reason is None:
        change = consent.grant(
            _without_pending(state, program_id), program_id, source=source, at=now, now=now, evidence=dict(evidence)
        )
        if not change.events:
            raise Rejected(Rejection.CONFLICT, "a newer consent decision for this number and program exists")
        return Decision(Action.SUBSCRIBED, change)
    pending = _open_prompt(current, now)
    if pending is not None and consent.utc(now) - pending.requested_at < PROMPT_INTERVAL:
        return Decision(Action.PROMPT_RECENT, Change(state), reason=reason, expires_at=pending.expires_at)
    body = program.replies_for(language).optin_prompt or program.replies.optin_prompt
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
    )
    new = change.state.programs.get(program_id)
    if not change.events or new is None or new.pending is None:
        raise Rejected(Rejection.CONFLICT, "a newer consent decision for this number and program exists")
    return Decision(
        Action.PROMPTED, change, Prompt(program_id, body, request_id), reason=reason, expires_at=new.pending.expires_at
    )


def unsubscribe(
    state: NumberState,
    program_id: str,
    *,
    config: ProgramConfig,
    source: str,
    now: datetime,
    evidence: Mapping[str, Any],
) -> Decision:
    program_of(program_id, config)
    return Decision(
        Action.UNSUBSCRIBED, consent.revoke(state, program_id, source=source, at=now, now=now, evidence=dict(evidence))
    )


class Carried(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    UNCHANGED = "unchanged"  # the new number already had that status
    KEPT_OPTED_OUT = "kept_opted_out"  # the new number's consumer opted out: only they can undo it
    NOT_CARRIED = "not_carried"  # a pending prompt belongs to the number it was sent to


def carry_statuses(
    target: NumberState, previous: NumberState, *, user_id: str, now: datetime
) -> tuple[Change, dict[str, Carried]]:
    """What a user who moves from `previous` to `target` takes along, program by program."""
    evidence = {"user_id": user_id, "previous_phone": previous.phone}
    changes = [Change(target)]
    outcome: dict[str, Carried] = {}
    for program_id, old in sorted(previous.programs.items()):
        state = changes[-1].state
        current = state.programs.get(program_id)
        if old.status is Status.UNSUBSCRIBED:
            if (
                current is not None
                and current.status is Status.UNSUBSCRIBED
                and (current.consumer_opted_out or not old.consumer_opted_out)
            ):
                outcome[program_id] = Carried.UNCHANGED
                continue
            changes.append(
                consent.revoke(
                    state,
                    program_id,
                    source=Source.PROFILE,
                    at=now,
                    now=now,
                    evidence=evidence,
                    by_consumer=old.consumer_opted_out,  # the consumer's STOP stays theirs to undo
                )
            )
            outcome[program_id] = Carried.UNSUBSCRIBED
        elif old.status is Status.SUBSCRIBED:
            if current is not None and current.status is Status.SUBSCRIBED:
                outcome[program_id] = Carried.UNCHANGED
            elif not consent.may_subscribe_directly(state, program_id, Source.PROFILE):
                outcome[program_id] = Carried.KEPT_OPTED_OUT
            else:
                changes.append(
                    consent.grant(
                        _without_pending(state, program_id),
                        program_id,
                        source=Source.PROFILE,
                        at=now,
                        now=now,
                        evidence=evidence,
                    )
                )
                outcome[program_id] = Carried.SUBSCRIBED
        else:
            outcome[program_id] = Carried.NOT_CARRIED
    return consent.merge(*changes), outcome


# ---------------------------------------------------------------------- ports


@dataclass(frozen=True)
class CaptchaResult:
    provider: str
    passed: bool
    unavailable: bool = False  # the provider could not be asked: neither passed nor failed
    error_codes: tuple[str, ...] = ()
    hostname: str | None = None
    challenge_ts: str | None = None

    def evidence(self) -> dict[str, Any]:
        found: dict[str, Any] = {"provider": self.provider, "passed": self.passed}
        if self.hostname:
            found["hostname"] = self.hostname
        if self.challenge_ts:
            found["challenge_ts"] = self.challenge_ts
        if self.error_codes:
            found["error_codes"] = list(self.error_codes)
        return found


class Captcha(Protocol):
    def verify(self, token: str, client_ip: str | None) -> CaptchaResult: ...


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` hits per fixed window of `window` for one key (client IP, number, prefix)."""

    dimension: str
    key: str
    limit: int
    window: timedelta


@dataclass(frozen=True)
class RateLimitPolicy:
    """The configured limits (`optin_limits` in programs.yaml) as the counters they need."""

    limits: OptinLimits = field(default_factory=OptinLimits)

    def for_client(self, client_ip: str | None) -> list[RateLimit]:
        if not client_ip:
            return []
        window = timedelta(minutes=self.limits.client_ip_window_minutes)
        return [RateLimit("ip", client_ip, self.limits.per_client_ip, window)]

    def for_number(self, phone: phones.PhoneInfo) -> list[RateLimit]:
        return [
            RateLimit("number", phone.e164, self.limits.per_number, timedelta(hours=self.limits.number_window_hours)),
            RateLimit(
                "prefix", phone.prefix, self.limits.per_prefix, timedelta(minutes=self.limits.prefix_window_minutes)
            ),
        ]


@dataclass(frozen=True)
class Refusal:
    limit: RateLimit
    retry_at: datetime  # when the window that refused ends


class RateLimiter(Protocol):
    def consume(self, limits: Sequence[RateLimit], now: datetime) -> Refusal | None:
        """Count one hit against every limit, unless one is already reached: then count none."""
        ...


# ---------------------------------------------------------------------- the web form


@dataclass(frozen=True)
class WebForm:
    phone: str
    program: str
    captcha_token: str | None
    consent_text: str
    use_double_opt_in: bool = True
    language: str | None = None
    page_url: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None

    def evidence(self, captcha: CaptchaResult) -> dict[str, Any]:
        found: dict[str, Any] = {
            "client_ip": self.client_ip,
            "user_agent": (self.user_agent or "")[:EVIDENCE_TEXT_LIMIT] or None,
            "page_url": (self.page_url or "")[:EVIDENCE_TEXT_LIMIT] or None,
            "origin": self.origin,
            "consent_text": self.consent_text[:EVIDENCE_TEXT_LIMIT],
            "consent_text_hash": consent.text_hash(self.consent_text),
            "language": self.language,
            "captcha": captcha.evidence(),
        }
        return {key: value for key, value in found.items() if value is not None}


@dataclass(frozen=True)
class FormDeps:
    config: ProgramConfig
    store: NumberStore
    outbound: OutboundRequests
    events: EventSink
    captcha: Captcha
    limiter: RateLimiter
    breakers: BreakerSource
    clock: Callable[[], datetime]
    policy: RateLimitPolicy = field(default_factory=RateLimitPolicy)


@dataclass(frozen=True)
class FormResult:
    phone: str
    action: Action
    status: Status  # pending (a prompt is open) or subscribed
    expires_at: datetime | None
    prompt_sent: bool
    reason: DoubleOptInReason | None = None  # why a confirmation is asked for, when one is


# Decisions that send a message: the number's and its block's limits are counted for these only.
SENDING = (Action.PROMPTED, Action.SUBSCRIBED)


def _refuse_if_limited(limiter: RateLimiter, limits: Sequence[RateLimit], now: datetime) -> None:
    if not limits:
        return
    refusal = limiter.consume(limits, now)
    if refusal is not None:
        what = {"ip": "this client", "number": "this number", "prefix": "numbers in this range"}
        raise Rejected(
            Rejection.RATE_LIMITED,
            f"too many sign-ups from {what.get(refusal.limit.dimension, refusal.limit.dimension)}; try again later",
            retry_at=refusal.retry_at,
        )


def submit_form(form: WebForm, deps: FormDeps) -> FormResult:
    """A sign-up from the public web form, checked from the cheapest refusal to the costliest.

    Client input is judged first (number, program, CAPTCHA token present), then the client IP's rate
    limit (before the CAPTCHA, so a bot pays for its failures), the CAPTCHA, the pumping breakers, and
    only for a request that will send a message the number's and its prefix's limits (so that failed
    CAPTCHAs cannot use up a real person's sign-ups).
    """
    config = deps.config
    phone = parse_number(form.phone, config)
    check_destination(phone, form.program, config)
    if not form.captcha_token:
        raise Rejected(Rejection.CAPTCHA_MISSING, "captcha_token: complete the CAPTCHA and send its token")
    now = deps.clock()
    _refuse_if_limited(deps.limiter, deps.policy.for_client(form.client_ip), now)
    captcha = deps.captcha.verify(form.captcha_token, form.client_ip)
    if captcha.unavailable:
        raise Rejected(Rejection.CAPTCHA_UNAVAILABLE, "the CAPTCHA could not be verified right now; try again")
    if not captcha.passed:
        raise Rejected(Rejection.CAPTCHA_FAILED, "captcha_token: the CAPTCHA was not passed; try it again")
    breaker = breakers.blocking(phone, deps.breakers.open_breakers(now), client_ip=form.client_ip)
    if breaker is not None:
        raise Rejected(
            Rejection.PUMPING_BREAKER,
            "sign-ups for this number are paused while unusual traffic is investigated; try again later",
            retry_at=breaker.expires_at,
        )
    evidence = form.evidence(captcha)
    request_id = str(uuid.uuid4())
    decided: list[Decision] = []

    def decide(state: NumberState) -> Change:
        decision = subscribe(
            state,
            form.program,
            config=config,
            source=Source.WEB_FORM,
            use_double_opt_in=form.use_double_opt_in,
            now=now,
            evidence=evidence,
            language=form.language,
            prompt_request_id=request_id,
        )
        # Counted once, before anything is written; a refusal raised here writes nothing.
        if decision.action in SENDING and not any(earlier.action in SENDING for earlier in decided):
            _refuse_if_limited(deps.limiter, deps.policy.for_number(phone), now)
        decided.append(decision)
        return decision.change

    _, events = deps.store.update(phone.e164, decide)
    decision = decided[-1]
    metadata: dict[str, Any] = {"source": Source.WEB_FORM.value}
    if form.client_ip:
        metadata["client_ip"] = form.client_ip  # the gate counts prompts per client IP for the detector
    _publish_prompt(decision, phone.e164, config, deps.outbound, metadata)
    if decision.action is Action.SUBSCRIBED:  # a program without double opt-in: confirm at once
        sender = config.sender_for_program(form.program)
        deps.outbound.publish(
            OutboundRequest(
                program=form.program,
                category=Category.COMPLIANCE_REPLY,
                recipients=(phone.e164,),
                body=config.programs[form.program].replies_for(form.language).confirmation,
                sender=sender.number if sender else None,
                metadata=metadata,
            )
        )
    if events:
        deps.events.publish(consent.bus_events(events))
    subscribed = decision.action in (Action.SUBSCRIBED, Action.ALREADY_SUBSCRIBED)
    return FormResult(
        phone=phone.e164,
        action=decision.action,
        status=Status.SUBSCRIBED if subscribed else Status.PENDING,
        expires_at=decision.expires_at,
        prompt_sent=decision.action is Action.PROMPTED,
        reason=decision.reason,
    )


def _publish_prompt(
    decision: Decision, phone: str, config: ProgramConfig, outbound: OutboundRequests, metadata: Mapping[str, Any]
) -> None:
    """The decision's opt-in prompt, if it has one, through the send gate like every other message."""
    if decision.prompt is None:
        return
    sender = config.sender_for_program(decision.prompt.program)
    outbound.publish(
        OutboundRequest(
            program=decision.prompt.program,
            category=Category.OPTIN_PROMPT,
            recipients=(phone,),
            body=decision.prompt.body,
            sender=sender.number if sender else None,
            metadata={**metadata, "prompt_request_id": decision.prompt.request_id},
        )
    )


# ---------------------------------------------------------------------- back office


@dataclass(frozen=True)
class AdminDeps:
    config: ProgramConfig
    store: NumberStore
    outbound: OutboundRequests
    events: EventSink
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class StatusRequest:
    phone: str  # E.164
    program: str
    status: Status  # subscribed or unsubscribed
    source: str
    use_double_opt_in: bool = False
    evidence: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None


def set_status(request: StatusRequest, deps: AdminDeps) -> tuple[NumberState, Decision]:
    """PUT /v1/numbers/{phone}/programs/{program}: the stored state and what the request did."""
    program_of(request.program, deps.config)
    if request.status not in (Status.SUBSCRIBED, Status.UNSUBSCRIBED):
        raise ValueError("status must be subscribed or unsubscribed")
    now = deps.clock()
    request_id = str(uuid.uuid4())
    evidence = {**request.evidence, "source": request.source}
    decided: list[Decision] = []

    def decide(state: NumberState) -> Change:
        if request.status is Status.SUBSCRIBED:
            decision = subscribe(
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
        else:
            decision = unsubscribe(
                state, request.program, config=deps.config, source=request.source, now=now, evidence=evidence
            )
        decided.append(decision)
        return decision.change

    stored, events = deps.store.update(request.phone, decide)
    decision = decided[-1]
    _publish_prompt(decision, request.phone, deps.config, deps.outbound, {"source": str(request.source)})
    if events:
        deps.events.publish(consent.bus_events(events))
    return stored, decision


class ProfileStore(Protocol):
    def phone_of(self, user_id: str) -> str | None: ...

    def users_of(self, phone: str) -> list[str]: ...

    def link(self, user_id: str, phone: str, previous: str | None, now: datetime) -> bool:
        """Point the profile at `phone` if it still points at `previous`; False when it moved meanwhile."""
        ...


@dataclass(frozen=True)
class ProfileDeps:
    store: NumberStore
    profiles: ProfileStore
    events: EventSink
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class ProfileResult:
    user_id: str
    phone: str
    previous_phone: str | None
    carried: dict[str, Carried]
    state: NumberState
    users: list[str]


def link_profile(user_id: str, phone: str, deps: ProfileDeps) -> ProfileResult:
    """PUT /v1/users/{user_id}/phone: link the profile to `phone` (E.164), taking its statuses along.

    The statuses move first and idempotently, then the link: a retry after a failure in between
    finishes the move instead of leaving the new number without the user's opt-outs.
    """
    now = deps.clock()
    previous = deps.profiles.phone_of(user_id)
    carried: dict[str, Carried] = {}
    if previous is not None and previous != phone:
        old_state = deps.store.get(previous)
        outcome: list[dict[str, Carried]] = []

        def decide(state: NumberState) -> Change:
            change, result = carry_statuses(state, old_state, user_id=user_id, now=now)
            outcome.append(result)
            return change

        state, events = deps.store.update(phone, decide)
        carried = outcome[-1]
        if events:
            deps.events.publish(consent.bus_events(events))
    else:
        state = deps.store.get(phone)
    if previous != phone and not deps.profiles.link(user_id, phone, previous, now):
        raise Rejected(Rejection.CONFLICT, "the profile's number was changed by another request; try again")
    return ProfileResult(user_id, phone, previous, carried, state, deps.profiles.users_of(phone))
