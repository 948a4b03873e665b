"""Messages from handsets: classify, change consent, reply through the send gate, prove it.

Pure domain code: storage, the outbound topic and the event bus come in through ports. The decision
is a pure function of (message, stored state, configuration, time) so that storage can re-apply it
after a concurrent change; the replies and events follow from the decision that was stored.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sms_consent import consent, keywords, phones
from sms_consent.config import ProgramConfig, Sender
from sms_consent.consent import Change, NumberState, Source, Status
from sms_consent.messages import BusEvent, Category, OutboundRequest
from sms_consent.ports import EventSink, NumberStore, OutboundRequests

MAX_INBOUND_BODY = 10_000
EVIDENCE_TEXT_LIMIT = 1600
ALL_PROGRAMS = "ALL"  # "STOP ALL"


class InboundSms(BaseModel):
    """AWS End User Messaging SMS two-way payload, unchanged (DESIGN.md "Inbound SMS")."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    originationNumber: str = Field(min_length=3, max_length=64)
    destinationNumber: str = Field(min_length=3, max_length=64)
    messageBody: str = Field(max_length=MAX_INBOUND_BODY)
    inboundMessageId: str = Field(min_length=1, max_length=128)
    messageKeyword: str | None = Field(default=None, max_length=128)
    previousPublishedMessageId: str | None = Field(default=None, max_length=128)

    @field_validator("messageBody", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        """Lone surrogates (invalid UTF-8 upstream) and control characters cannot be stored or shown."""
        if not isinstance(value, str):
            return value
        value = value.encode("utf-8", "replace").decode("utf-8")
        return "".join(char if char in "\n\t" or unicodedata.category(char) != "Cc" else " " for char in value)


class Action(StrEnum):
    OPTED_OUT = "opted_out"
    ASKED_WHICH = "asked_which"  # a shared sender's menu: opted out of all until answered
    HELP_REPLY = "help_reply"
    SUBSCRIBED = "subscribed"
    PROMPTED = "prompted"  # double opt-in: pending confirmation recorded, prompt sent
    CONFIRMED = "confirmed"
    NOTHING_PENDING = "nothing_pending"
    BLOCKED = "blocked"  # block type 1/3: discarded (an opt-out is still recorded, silently)
    MISROUTED = "misrouted"
    RECEIVED = "received"  # anything else: handed to the program as an event


@dataclass(frozen=True)
class Reply:
    program: str
    category: Category
    body: str
    prompt_request_id: str | None = None  # links a prompt to the pending confirmation it asks about


@dataclass(frozen=True)
class Decision:
    """What one message does: the new state (with its audit events) and the replies to send."""

    action: Action
    change: Change
    replies: tuple[Reply, ...] = ()
    programs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    action: Action
    classification: keywords.Classification
    replies: tuple[OutboundRequest, ...] = ()
    events: tuple[consent.AuditEvent, ...] = ()
    programs: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboundDeps:
    config: ProgramConfig
    store: NumberStore
    outbound: OutboundRequests
    events: EventSink
    clock: Callable[[], datetime]
    keyword_sets: tuple[keywords.KeywordSet, ...] = field(default=keywords.BUILTIN_KEYWORD_SETS)
    # Traffic-pumping counters: confirmations against prompts show a collapse in conversion.
    count_confirmation: Callable[[phones.PhoneInfo, datetime], None] = lambda phone, now: None


class UnroutableMessage(ValueError):
    """The message names no number we can record anything against (the origin does not parse)."""


def keyword_sets_of(config: ProgramConfig) -> tuple[keywords.KeywordSet, ...]:
    """The built-in languages plus those the configuration adds."""
    extra = tuple(
        keywords.KeywordSet(
            language=item.language,
            opt_out=frozenset(item.opt_out),
            help=frozenset(item.help),
            opt_in=frozenset(item.opt_in),
            confirm=frozenset(item.confirm),
            opt_out_phrases=item.opt_out_phrases,
        )
        for item in config.keyword_sets
    )
    return (*keywords.BUILTIN_KEYWORD_SETS, *extra)


@dataclass(frozen=True)
class _Context:
    message: InboundSms
    classification: keywords.Classification
    sender: Sender | None
    sender_number: str
    at: datetime  # the SNS timestamp: orders decisions
    now: datetime
    config: ProgramConfig

    @property
    def evidence(self) -> dict[str, Any]:
        return {
            "inbound_message_id": self.message.inboundMessageId,
            "text": self.message.messageBody[:EVIDENCE_TEXT_LIMIT],
            "sender": self.sender_number,
            "keyword": self.classification.keyword,
            "match_reason": self.classification.reason.value,
            "language": self.classification.language,
            "previous_published_message_id": self.message.previousPublishedMessageId or None,
            "received_at": consent.iso(self.at),
        }

    @property
    def programs(self) -> tuple[str, ...]:
        return self.sender.programs if self.sender else ()

    def replies_for(self, program: str) -> Any:
        return self.config.programs[program].replies_for(self.classification.language)


def _revoke_all(state: NumberState, programs: tuple[str, ...], ctx: _Context) -> Change:
    changes = [Change(state)]
    for program in programs:
        changes.append(
            consent.revoke(
                changes[-1].state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence
            )
        )
    return consent.merge(*changes)


def _without_ask(change: Change, sender: str) -> Change:
    if sender not in change.state.ask_pending:
        return change
    asks = {key: value for key, value in change.state.ask_pending.items() if key != sender}
    return Change(replace(change.state, ask_pending=asks), change.events, touched=True)


def _opt_out(state: NumberState, ctx: _Context) -> Decision:
    target = ctx.classification.target
    sender = ctx.sender
    if sender is None:
        # Misrouted: nobody owns this sender number. Record the opt-out for every program we run, so
        # nothing reaches the number until its owner sorts it out; an alert says which number it was.
        every = tuple(ctx.config.programs)
        return Decision(Action.MISROUTED, _revoke_all(state, every, ctx), programs=every)
    if target and target != ALL_PROGRAMS:
        program = ctx.config.program_for_keyword(target, sender.number)
        if program is not None:
            change = _without_ask(
                consent.revoke(state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence),
                sender.number,
            )
            return Decision(
                Action.OPTED_OUT,
                change,
                (Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).stop),),
                (program,),
            )
    if sender.bare_stop == "ask" and target != ALL_PROGRAMS and len(sender.programs) > 1:
        asks = {**state.ask_pending, sender.number: ctx.at}
        asked = replace(state, ask_pending=asks)
        event = consent.AuditEvent(
            consent.EventType.REVOKED,
            ctx.now,
            state.phone,
            None,
            None,
            "ask_pending",
            Source.KEYWORD,
            {**ctx.evidence, "scope": "all programs on the sender until the number answers the menu"},
        )
        menu = sender.stop_menu or ""
        return Decision(
            Action.ASKED_WHICH,
            Change(asked, (event,)),
            (Reply(sender.programs[0], Category.COMPLIANCE_REPLY, menu),),
            sender.programs,
        )
    change = _without_ask(_revoke_all(state, sender.programs, ctx), sender.number)
    if len(sender.programs) == 1:
        body = ctx.replies_for(sender.programs[0]).stop
    else:
        body = sender.stop_all or ctx.replies_for(sender.programs[0]).stop
    return Decision(
        Action.OPTED_OUT, change, (Reply(sender.programs[0], Category.COMPLIANCE_REPLY, body),), sender.programs
    )


def _help(state: NumberState, ctx: _Context) -> Decision:
    sender = ctx.sender
    assert sender is not None
    program = sender.programs[0]
    body = sender.help if sender.help and len(sender.programs) > 1 else ctx.replies_for(program).help
    return Decision(Action.HELP_REPLY, Change(state), (Reply(program, Category.COMPLIANCE_REPLY, body),), (program,))


def _opt_in_programs(state: NumberState, ctx: _Context) -> tuple[str, ...]:
    sender = ctx.sender
    assert sender is not None
    target = ctx.classification.target
    if target:
        program = ctx.config.program_for_keyword(target, sender.number)
        return (program,) if program else ()
    if len(sender.programs) == 1:
        return sender.programs
    # START/UNSTOP on a shared number: the programs this number left.
    return tuple(p for p in sender.programs if state.status(p) is Status.UNSUBSCRIBED)


def _opt_in(state: NumberState, ctx: _Context, window: timedelta) -> Decision:
    programs = _opt_in_programs(state, ctx)
    if not programs:
        return _help(state, ctx)
    assert ctx.sender is not None
    changes = [Change(state)]
    replies = []
    prompted = subscribed = False
    for program in programs:
        current = changes[-1].state
        if current.status(program) is Status.SUBSCRIBED:
            replies.append(Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).confirmation))
            continue
        if ctx.config.programs[program].double_opt_in:
            request_id = str(uuid.uuid4())
            changes.append(
                consent.request_confirmation(
                    current,
                    program,
                    source=Source.KEYWORD,
                    at=ctx.at,
                    now=ctx.now,
                    window=window,
                    prompt_request_id=request_id,
                    evidence=ctx.evidence,
                )
            )
            prompt = ctx.replies_for(program).optin_prompt or ctx.config.programs[program].replies.optin_prompt or ""
            replies.append(Reply(program, Category.OPTIN_PROMPT, prompt, prompt_request_id=request_id))
            prompted = True
        else:
            changes.append(
                consent.grant(current, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence)
            )
            replies.append(Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).confirmation))
            subscribed = True
    change = _without_ask(consent.merge(*changes), ctx.sender.number)
    action = Action.PROMPTED if prompted and not subscribed else Action.SUBSCRIBED
    return Decision(action, change, tuple(replies), programs)


def _pending_program(state: NumberState, ctx: _Context) -> str | None:
    """Which open prompt a YES answers: the one `previousPublishedMessageId` names, else the newest."""
    open_prompts = [
        (program, program_state.pending)
        for program in ctx.programs
        if (program_state := state.programs.get(program)) is not None
        and program_state.pending is not None
        and program_state.pending.is_open(ctx.now)
        and program_state.status is not Status.SUBSCRIBED
    ]
    previous = ctx.message.previousPublishedMessageId
    for program, pending in open_prompts:
        if previous and pending is not None and pending.prompt_message_id == previous:
            return program
    if not open_prompts:
        return None
    return max(open_prompts, key=lambda item: item[1].requested_at if item[1] else ctx.now)[0]


def _confirm(state: NumberState, ctx: _Context) -> Decision:
    program = _pending_program(state, ctx)
    sender = ctx.sender
    assert sender is not None
    if program is None:
        first = sender.programs[0]
        body = (
            ctx.replies_for(first).no_pending
            or ctx.config.programs[first].replies.no_pending
            or ctx.replies_for(first).help
        )
        return Decision(Action.NOTHING_PENDING, Change(state), (Reply(first, Category.COMPLIANCE_REPLY, body),))
    change = _without_ask(
        consent.grant(state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence),
        sender.number,
    )
    return Decision(
        Action.CONFIRMED,
        change,
        (Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).confirmation),),
        (program,),
    )


def decide(state: NumberState, ctx: _Context) -> Decision:
    intent = ctx.classification.intent
    blocked = state.block is not None and state.block.blocks_inbound
    if intent is keywords.Intent.OPT_OUT:
        decision = _opt_out(state, ctx)
        if blocked:
            # Type 1/3 blocks discard the message, but an opt-out still counts, silently.
            return Decision(Action.BLOCKED, decision.change, (), decision.programs)
        return decision
    if blocked:
        return Decision(Action.BLOCKED, Change(state))
    if ctx.sender is None:
        return Decision(Action.MISROUTED, Change(state))
    if intent is keywords.Intent.HELP:
        return _help(state, ctx)
    if intent is keywords.Intent.OPT_IN:
        return _opt_in(state, ctx, timedelta(days=ctx.config.confirmation_window_days))
    if intent is keywords.Intent.CONFIRM:
        return _confirm(state, ctx)
    return Decision(Action.RECEIVED, Change(state), programs=ctx.programs)


def handle(message: InboundSms, received_at: datetime, deps: InboundDeps) -> Outcome:
    """Decide what one inbound message means, store it with its proof, then reply and announce it."""
    try:
        origin = phones.to_e164(message.originationNumber, deps.config.default_region)
    except phones.InvalidPhoneNumber as exc:
        raise UnroutableMessage(f"origination number does not parse: {exc}") from None
    try:
        sender_number = phones.normalize_sender(message.destinationNumber, deps.config.default_region)
    except phones.InvalidPhoneNumber:
        sender_number = message.destinationNumber.strip()
    sender = deps.config.sender(sender_number)
    program_words = [
        rule.word for pid in (sender.programs if sender else ()) for rule in deps.config.programs[pid].keywords
    ]
    classification = keywords.classify(
        message.messageBody, keyword_sets=deps.keyword_sets, program_keywords=program_words
    )
    ctx = _Context(message, classification, sender, sender_number, received_at, deps.clock(), deps.config)

    decided: list[Decision] = []

    def apply(state: NumberState) -> Change:
        decided.append(decide(state, ctx))
        return decided[-1].change

    _, events = deps.store.update(origin, apply)
    decision = decided[-1]
    if decision.action is Action.CONFIRMED:
        deps.count_confirmation(phones.parse(origin, deps.config.default_region), ctx.now)
    requests = tuple(
        OutboundRequest(
            program=reply.program,
            category=reply.category,
            recipients=(origin,),
            body=reply.body,
            sender=sender_number,
            in_reply_to=message.inboundMessageId,
            metadata={"received_at": consent.iso(received_at)}
            | ({"prompt_request_id": reply.prompt_request_id} if reply.prompt_request_id else {}),
        )
        for reply in decision.replies
        if reply.body
    )
    for request in requests:
        deps.outbound.publish(request)
    bus = consent.bus_events(event for event in events if event.program is not None)
    if decision.action is Action.MISROUTED:
        bus.append(
            BusEvent(
                detail_type="MisroutedMessage",
                detail={
                    "phone": origin,
                    "destination": sender_number,
                    "intent": classification.intent.value,
                    "source": Source.KEYWORD.value,
                    "timestamp": consent.iso(ctx.now),
                    "inbound_message_id": message.inboundMessageId,
                },
            )
        )
    if decision.action is Action.RECEIVED:
        bus.append(
            BusEvent(
                detail_type="InboundMessageReceived",
                detail={
                    "phone": origin,
                    "destination": sender_number,
                    "programs": list(decision.programs),
                    "text": message.messageBody[:EVIDENCE_TEXT_LIMIT],
                    "source": Source.KEYWORD.value,
                    "timestamp": consent.iso(ctx.now),
                    "inbound_message_id": message.inboundMessageId,
                },
            )
        )
    if bus:
        deps.events.publish(bus)
    return Outcome(decision.action, classification, requests, events, decision.programs)
