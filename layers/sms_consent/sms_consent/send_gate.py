"""The send gate: the one choke point every message to a handset passes.

`decide` is pure: request + stored state + breakers + time -> one decision per recipient, with one
reason, checked in the order DESIGN.md gives. `process` reads what `decide` needs (one BatchGetItem
per 100 recipients), reserves frequency caps, sends what is allowed, defers what quiet hours hold
back, and publishes every decision. When state cannot be read, nothing is sent (fail closed).

Marketing to a number whose consent is older than `reassigned_check_after` also asks the Reassigned
Numbers Database, once per request for all such recipients (`reassigned_numbers`). A number that
changed hands is denied and its old consent ended; when the database cannot answer, the send is
deferred: neither denied for good (nothing says the number changed hands) nor sent unchecked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from sms_consent import breakers, consent, list_hygiene, mms, phones, reassigned_numbers
from sms_consent.clock import Clock, iso
from sms_consent.config import Program, ProgramConfig
from sms_consent.consent import NumberState, Source, Status
from sms_consent.frequency_caps import Cap, caps_for, first_reached, is_reply, log_after_send
from sms_consent.message_content import body_with_notice, media_problem, message_problem
from sms_consent.messages import BusEvent, Category, OutboundRequest, OutgoingSms
from sms_consent.mms import Delivery
from sms_consent.ports import (
    BreakerSource,
    Deferrals,
    EventSink,
    GateStore,
    MediaInspector,
    MediaLinks,
    MediaReport,
    NumberStore,
    ReassignedNumbers,
    ReassignedNumbersUnavailable,
    RecipientOptedOut,
    SendError,
    SendReservation,
    SmsSender,
    StoreUnavailable,
)
from sms_consent.quiet_hours import next_allowed, rolling_cap
from sms_consent.reassigned_numbers import DEFAULT_CHECK_AFTER_DAYS, ReassignedCheck, RndAnswer, RndQuery

SEND_RETRY_DELAY = timedelta(minutes=5)
REASSIGNED_RETRY_DELAY = timedelta(minutes=15)  # the Reassigned Numbers Database could not answer


class Verdict(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    DEFER = "defer"


class Reason(StrEnum):
    INVALID_NUMBER = "INVALID_NUMBER"
    BLOCKED_OUTBOUND = "BLOCKED_OUTBOUND"
    NUMBER_TYPE_NOT_ALLOWED = "NUMBER_TYPE_NOT_ALLOWED"
    COUNTRY_NOT_ALLOWED = "COUNTRY_NOT_ALLOWED"
    PUMPING_BREAKER = "PUMPING_BREAKER"
    OPTED_OUT = "OPTED_OUT"
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
    PENDING_CONFIRMATION = "PENDING_CONFIRMATION"
    NUMBER_REASSIGNED = "NUMBER_REASSIGNED"  # disconnected since its consent was given (FCC RND)
    REASSIGNED_CHECK_UNAVAILABLE = "REASSIGNED_CHECK_UNAVAILABLE"  # the RND could not answer: defer
    MESSAGE_INVALID = "MESSAGE_INVALID"
    QUIET_HOURS = "QUIET_HOURS"
    FREQUENCY_CAP = "FREQUENCY_CAP"
    ALLOWED = "ALLOWED"
    STATE_UNAVAILABLE = "STATE_UNAVAILABLE"  # consent could not be read: fail closed


@dataclass(frozen=True, slots=True)
class GateDecision:
    phone: str  # E.164 when it parsed, else the input as given
    decision: Verdict
    reason: Reason
    retry_at: datetime | None = None
    # What would be sent (opt-out instructions appended where due) and whether a notice is recorded.
    body: str = ""
    notice: bool = False
    caps: tuple[Cap, ...] = ()  # what an allowed send counts against (reserved when it is sent)
    delivery: Delivery = Delivery.SMS  # sms_link: `body` carries the media as links, sent as SMS
    detail: str | None = None  # which limit a MESSAGE_INVALID broke

    def as_dict(self) -> dict[str, str | None]:
        return {
            "phone": self.phone,
            "decision": self.decision.value,
            "reason": self.reason.value,
            "retry_at": iso(self.retry_at) if self.retry_at else None,
            "delivery": self.delivery.value,
            "detail": self.detail,
        }


class InvalidRequest(ValueError):
    """The whole request is unusable (unknown program, unknown sender); nothing is decided."""


@dataclass(frozen=True)
class GateReaders:
    """What deciding needs (also all that the synchronous check route needs)."""

    config: ProgramConfig
    store: NumberStore
    breakers: BreakerSource
    media: MediaInspector
    clock: Clock
    links: MediaLinks | None = field(default=None, kw_only=True)  # None: MMS to non-MMS recipients is refused
    reassigned: ReassignedNumbers | None = field(default=None, kw_only=True)  # None: no database is asked
    reassigned_check_after: timedelta = field(default=timedelta(days=DEFAULT_CHECK_AFTER_DAYS), kw_only=True)


@dataclass(frozen=True)
class GateDeps(GateReaders):
    """What sending needs besides: the caps and notices, the sender, the bus and deferrals."""

    store: GateStore
    sender: SmsSender
    events: EventSink
    deferrals: Deferrals


@dataclass(frozen=True)
class Situation:
    """Everything `decide` reads besides the request: stored states, breakers, media, time."""

    states: Mapping[str, NumberState]
    open_breakers: Mapping[tuple[str, str], breakers.Breaker]
    media: MediaReport
    now: datetime
    notice_days: int = 30
    extra: dict[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)  # media URL -> a link a handset can open
    reassigned: Mapping[str, ReassignedCheck] = field(default_factory=dict)  # E.164 -> what the RND said


# ---------------------------------------------------------------------- the decision


def _decide_one(
    request: OutboundRequest, raw: str, config: ProgramConfig, program: Program, sender: str, situation: Situation
) -> GateDecision:
    try:
        phone = phones.parse(raw, config.default_region)
    except phones.InvalidPhoneNumber:
        return GateDecision(
            raw, Verdict.DENY, Reason.INVALID_NUMBER, delivery=mms.delivery_for(None, None, request.media_urls)
        )
    e164 = phone.e164
    state = situation.states.get(e164) or NumberState(phone=e164)
    category = request.category
    delivery = mms.delivery_for(phone, config.sender(sender), request.media_urls)

    def deny(reason: Reason, detail: str | None = None) -> GateDecision:
        return GateDecision(e164, Verdict.DENY, reason, delivery=delivery, detail=detail)

    if state.block is not None and state.block.blocks_outbound:
        return deny(Reason.BLOCKED_OUTBOUND)
    reduced = list_hygiene.reduced_cap(request.program, program, state, situation.now)
    caps = caps_for(program, request, rolling_cap(phone, situation.now), reduced)
    if category is Category.COMPLIANCE_REPLY:
        if first_reached(caps, state, situation.now) is not None:
            return deny(Reason.FREQUENCY_CAP)
        return GateDecision(e164, Verdict.ALLOW, Reason.ALLOWED, body=request.body, caps=caps, delivery=delivery)
    if phone.number_type in config.blocked_number_types:
        return deny(Reason.NUMBER_TYPE_NOT_ALLOWED)
    if phone.country not in program.allowed_countries:
        return deny(Reason.COUNTRY_NOT_ALLOWED)
    # An inbound message proves the number is real and reachable: a reply to it is not held by breakers.
    if not is_reply(request) and breakers.blocking(phone, situation.open_breakers) is not None:
        return deny(Reason.PUMPING_BREAKER)
    if category is not Category.OPTIN_PROMPT and state.is_opted_out(request.program, sender):
        return deny(Reason.OPTED_OUT)
    if category is Category.MARKETING and not state.may_receive_marketing(request.program, sender):
        pending = state.effective_status(request.program, situation.now) is Status.PENDING
        return deny(Reason.PENDING_CONFIRMATION if pending else Reason.NOT_SUBSCRIBED)
    checked = situation.reassigned.get(e164) if category is Category.MARKETING else None
    if checked is not None and checked.answer is RndAnswer.YES:
        return deny(Reason.NUMBER_REASSIGNED)
    if checked is not None and checked.answer is None:
        later = situation.now + REASSIGNED_RETRY_DELAY
        return GateDecision(e164, Verdict.DEFER, Reason.REASSIGNED_CHECK_UNAVAILABLE, retry_at=later, delivery=delivery)
    body, notice = body_with_notice(request, state, situation.now, situation.notice_days)
    if delivery is Delivery.SMS_LINK:
        body, problem = _with_links(request, program, situation, notice_due=notice)
    else:
        problem = message_problem(request, body, program, situation.media)
    if problem is not None:
        return deny(Reason.MESSAGE_INVALID, problem)
    if category is Category.MARKETING:
        retry_at = next_allowed(phone, situation.now, config.quiet_hours_policy)
        if retry_at is not None:
            return GateDecision(e164, Verdict.DEFER, Reason.QUIET_HOURS, retry_at=retry_at, delivery=delivery)
    if first_reached(caps, state, situation.now) is not None:
        return deny(Reason.FREQUENCY_CAP)
    return GateDecision(e164, Verdict.ALLOW, Reason.ALLOWED, body=body, notice=notice, caps=caps, delivery=delivery)


def _with_links(
    request: OutboundRequest, program: Program, situation: Situation, *, notice_due: bool
) -> tuple[str, str | None]:
    """The SMS that carries an MMS's media as links, or why there is none (the media is still held to
    the MMS limits: the same request is valid or not whoever receives it)."""
    problem = media_problem(situation.media, request.body)
    if problem is not None:
        return "", problem
    missing = [url for url in request.media_urls if url not in situation.links]
    if missing:
        return "", f"link: no link can be made for {missing[0][:100]}"
    links = [situation.links[url] for url in request.media_urls]
    body = mms.link_text(request.body, links, program.max_segments, notice_due=notice_due)
    if body is None:
        length = sum(len(link) for link in links)
        return "", f"link: {length} characters of links do not fit {program.max_segments} segments (set a media domain)"
    return body, None


def resolve_program(request: OutboundRequest, config: ProgramConfig) -> tuple[Program, str]:
    program = config.programs.get(request.program)
    if program is None:
        raise InvalidRequest(f"unknown program '{request.program}'")
    if request.sender:
        try:
            sender = phones.normalize_sender(request.sender, config.default_region)
        except phones.InvalidPhoneNumber as exc:
            raise InvalidRequest(f"sender is not a number or short code: {exc}") from None
        if request.program not in config.programs_of(sender):
            raise InvalidRequest(f"sender {sender} does not carry program '{request.program}'")
        return program, sender
    configured = config.sender_for_program(request.program)
    if configured is None:
        raise InvalidRequest(f"no sender carries program '{request.program}'")
    return program, configured.number


def decide(request: OutboundRequest, config: ProgramConfig, situation: Situation) -> list[GateDecision]:
    program, sender = resolve_program(request, config)
    return [_decide_one(request, raw, config, program, sender, situation) for raw in request.recipients]


# ---------------------------------------------------------------------- reading and acting


def _e164s(request: OutboundRequest, region: str) -> list[str]:
    found = []
    for raw in request.recipients:
        try:
            found.append(phones.to_e164(raw, region))
        except phones.InvalidPhoneNumber:
            continue
    return found


def _reassigned_checks(
    request: OutboundRequest, states: Mapping[str, NumberState], deps: GateReaders, now: datetime
) -> dict[str, ReassignedCheck]:
    """Ask the database, in one batch, about every marketing recipient whose consent is old enough."""
    if deps.reassigned is None or request.category is not Category.MARKETING:
        return {}
    queries: dict[str, RndQuery] = {}
    for raw in request.recipients:
        try:
            phone = phones.parse(raw, deps.config.default_region)
        except phones.InvalidPhoneNumber:
            continue
        state = states.get(phone.e164) or NumberState(phone=phone.e164)
        query = reassigned_numbers.query_for(
            phone.e164, phone.country, state, request.program, now, deps.reassigned_check_after
        )
        if query is not None:
            queries[phone.e164] = query
    if not queries:
        return {}
    try:
        answers = deps.reassigned.check(list(queries.values()))
    except ReassignedNumbersUnavailable:
        answers = {}  # every asked recipient is deferred
    return {phone: ReassignedCheck(query, answers.get(query)) for phone, query in queries.items()}


def situation_for(request: OutboundRequest, deps: GateReaders, at: datetime | None = None) -> Situation:
    """Read what the decision needs, as of `at` (default: now). Raises when state cannot be read: the caller
    sends nothing."""
    now = at or deps.clock()
    numbers = _e164s(request, deps.config.default_region)
    media = deps.media.inspect(request.media_urls) if request.media_urls else MediaReport()
    readable = {file.url for file in media.files}
    states = deps.store.get_many(numbers) if numbers else {}
    return Situation(
        states=states,
        open_breakers=deps.breakers.open_breakers(now),
        media=media,
        now=now,
        notice_days=deps.config.optout_notice_days,
        # Made for every request with media: signing is local, cheaper than knowing who needs them.
        links={url: deps.links.link_for(url) for url in readable} if deps.links else {},
        reassigned=_reassigned_checks(request, states, deps, now),
    )


def check(request: OutboundRequest, deps: GateReaders, at: datetime | None = None) -> list[GateDecision]:
    """The decisions the gate would make now, without sending or reserving anything. When consent cannot
    be read, every recipient is denied and says why (the sending path raises instead, to be retried)."""
    try:
        situation = situation_for(request, deps, at)
    except StoreUnavailable:
        resolve_program(request, deps.config)  # an unusable request is still refused as such
        return [GateDecision(raw, Verdict.DENY, Reason.STATE_UNAVAILABLE) for raw in request.recipients]
    return decide(request, deps.config, situation)


RESERVE_ATTEMPTS = 4


def _reserve(decision: GateDecision, request: OutboundRequest, deps: GateDeps, situation: Situation) -> bool:
    """Count the send against its caps and record a due opt-out notice. A log changed by a concurrent
    send is read again and the caps judged again; False when a cap is reached."""
    caps = decision.caps
    if not caps and not decision.notice:
        return True
    state = situation.states.get(decision.phone) or NumberState(phone=decision.phone)
    for _ in range(RESERVE_ATTEMPTS):
        if first_reached(caps, state, situation.now) is not None:
            return False
        log = log_after_send(caps, state, situation.now)
        reservation = SendReservation(
            phone=decision.phone,
            program=request.program,
            notice_at=situation.now if decision.notice else None,
            log_key=log[0] if log else None,
            log_read=state.recent_sends.get(log[0], ()) if log else (),
            log_after=log[1] if log else (),
        )
        if deps.store.reserve_send(reservation):
            return True
        state = deps.store.get(decision.phone)
    return False


def _record_carrier_opt_out(phone: str, request: OutboundRequest, sender: str, deps: GateDeps, now: datetime) -> None:
    """The provider's opt-out list has the number: make our state say so too."""
    programs = deps.config.consumer_opt_out_programs(deps.config.programs_of(sender) or (request.program,), now)
    evidence = {"request_id": request.request_id, "reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT"}
    deps.store.update(
        phone,
        lambda state: consent.revoke_all(state, programs, source=Source.CARRIER, at=now, now=now, evidence=evidence),
    )


def _end_reassigned_consent(phone: str, request: OutboundRequest, deps: GateDeps, situation: Situation) -> None:
    """The number changed hands since its consent: end the consent its previous holder gave."""
    checked = situation.reassigned[phone]
    database = deps.reassigned.name if deps.reassigned else "unknown"
    extra = {"request_id": request.request_id, "program_checked": request.program}
    deps.store.update(
        phone,
        lambda state: reassigned_numbers.end_reassigned_consent(
            state, checked.query, database=database, now=situation.now, extra=extra
        ),
    )


def _record_prompt(phone: str, request: OutboundRequest, message_id: str, deps: GateDeps) -> None:
    prompt_request_id = str(request.metadata.get("prompt_request_id") or request.request_id)
    deps.store.update(
        phone, lambda state: consent.record_prompt_message(state, request.program, prompt_request_id, message_id)
    )


def _send(
    decision: GateDecision, request: OutboundRequest, sender: str, deps: GateDeps, situation: Situation
) -> GateDecision:
    if not _reserve(decision, request, deps, situation):
        return replace(decision, decision=Verdict.DENY, reason=Reason.FREQUENCY_CAP)
    if not deps.store.claim_send(decision.phone, request.request_id, situation.now):
        # A redelivery of a request already sent (or whose send ended without an answer): at most once.
        return decision
    message = OutgoingSms(
        to=decision.phone,
        sender=sender,
        body=decision.body,
        media_urls=request.media_urls if decision.delivery is Delivery.MMS else (),  # sms_link: links in the body
        category=request.category,
        program=request.program,
        request_id=request.request_id,
    )
    try:
        result = deps.sender.send(message)
    except RecipientOptedOut:
        _record_carrier_opt_out(decision.phone, request, sender, deps, situation.now)
        return replace(decision, decision=Verdict.DENY, reason=Reason.OPTED_OUT)
    except SendError as exc:
        if not exc.retryable:
            return replace(decision, decision=Verdict.DENY, reason=Reason.MESSAGE_INVALID)
        deps.store.release_send(decision.phone, request.request_id)  # refused outright: the retry may send
        return replace(decision, decision=Verdict.DEFER, retry_at=situation.now + SEND_RETRY_DELAY)
    if request.category is Category.OPTIN_PROMPT:
        _record_prompt(decision.phone, request, result.message_id, deps)
    return decision


def process(request: OutboundRequest, deps: GateDeps) -> list[GateDecision]:
    """Decide, send what is allowed, defer what must wait, publish every decision."""
    situation = situation_for(request, deps)
    program_sender = resolve_program(request, deps.config)[1]
    decisions = decide(request, deps.config, situation)
    for decision in decisions:
        if decision.reason is Reason.NUMBER_REASSIGNED:
            _end_reassigned_consent(decision.phone, request, deps, situation)
    final = [
        _send(decision, request, program_sender, deps, situation) if decision.decision is Verdict.ALLOW else decision
        for decision in decisions
    ]
    deferred: dict[datetime, list[str]] = {}
    for decision in final:
        if decision.decision is Verdict.DEFER and decision.retry_at is not None:
            deferred.setdefault(decision.retry_at, []).append(decision.phone)
    for until, recipients in deferred.items():
        deps.deferrals.defer(
            request.model_copy(update={"recipients": tuple(recipients), "sender": program_sender}), until, situation.now
        )
    deps.events.publish([send_decided(decision, request, situation.now) for decision in final])
    return final


def send_decided(decision: GateDecision, request: OutboundRequest, now: datetime) -> BusEvent:
    return BusEvent(
        detail_type="SendDecided",
        detail={
            **decision.as_dict(),
            "program": request.program,
            "category": request.category.value,
            "request_id": request.request_id,
            "source": "send_gate",
            "timestamp": iso(now),
        },
    )
