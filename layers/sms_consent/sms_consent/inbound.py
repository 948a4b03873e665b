"""Messages from handsets: classify, change consent, reply through the send gate, prove it.

Pure domain code: storage, the outbound topic and the event bus come in through ports. The decision
is a pure function of (message, stored state, configuration, time) so that storage can re-apply it
after a concurrent change; the replies and events follow from the decision that was stored.

Which prompt a confirmation word answers
----------------------------------------
A pending double opt-in keeps the request id of its prompt (`Pending.prompt_request_id`, sent to
the gate as the reply's `metadata.prompt_request_id`); once the gate has sent the prompt it stores
the provider's message id in `Pending.prompt_message_id`. End User Messaging puts the provider id
of the last message we sent to the number in `previousPublishedMessageId`. So a YES:

1. confirms the prompt whose `prompt_message_id` equals `previousPublishedMessageId`, if any prompt
   on the sender has it; if that prompt has expired, nothing is confirmed (the consumer answered
   that prompt, not another one);
2. otherwise (the id names no prompt: a later message went out, or the gate has not recorded the
   id yet) confirms the most recent open prompt among the sender's programs;
3. while the sender's STOP menu is unanswered, only rule 1 applies: a bare YES after a STOP is not
   read as consent, the menu is sent again.

The `ask` flow (seed 004)
-------------------------
A bare opt-out on a sender configured `bare_stop: ask`, from a number in more than one of its
programs, records `NumberState.ask_pending[sender]` and sends the menu; the gate treats every
program on the sender as opted out meanwhile. The answer settles it: `STOP <keyword>` leaves that
program and lets the others resume; `STOP ALL` or a second bare STOP leaves them all; `START`
resumes them all; a program keyword (or a YES naming a prompt) keeps that program, and the STOP
stands for every other program on the sender. With one program or none to choose from there is
nothing to ask: the opt-out covers the whole sender at once.
"""

from __future__ import annotations

import json
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sms_consent import consent, keywords, phones
from sms_consent.config import ProgramConfig, Sender
from sms_consent.consent import Change, EventType, NumberState, Source, Status
from sms_consent.messages import BusEvent, Category, OutboundRequest
from sms_consent.ports import EventSink, NumberStore, OutboundRequests

# Longer bodies are cut, not refused: an oversized message that starts with STOP still opts out.
MAX_INBOUND_BODY = 10_000
EVIDENCE_TEXT_LIMIT = 1600
ALL_PROGRAMS = "ALL"  # "STOP ALL"
ASK_PENDING = "ask_pending"
ASK_ANSWERED = "ask_answered"
SUPERSEDED = "superseded"


class InboundSms(BaseModel):
    """AWS End User Messaging SMS two-way payload, unchanged (DESIGN.md "Inbound SMS")."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    originationNumber: str = Field(min_length=3, max_length=64)
    destinationNumber: str = Field(min_length=3, max_length=64)
    messageBody: str
    inboundMessageId: str = Field(min_length=1, max_length=128)
    messageKeyword: str | None = Field(default=None, max_length=128)
    previousPublishedMessageId: str | None = Field(default=None, max_length=128)

    @field_validator("messageBody", mode="before")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        """Lone surrogates (invalid UTF-8 upstream) and control characters cannot be stored or shown."""
        if not isinstance(value, str):
            return value
        value = value[:MAX_INBOUND_BODY].encode("utf-8", "replace").decode("utf-8")
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
    SUPERSEDED = "superseded"  # a newer message already decided every program this one is about


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
    misrouted: bool = False


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


def possible_opt_out(raw: str, keyword_sets: tuple[keywords.KeywordSet, ...] = keywords.BUILTIN_KEYWORD_SETS) -> bool:
    """Whether a payload we cannot process might be an opt-out: then it must be retried and dead-lettered.

    Looks at the body of a JSON payload that lacks other fields, and at the raw text itself.
    """
    candidates = [raw]
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed.get("messageBody")
        candidates.append(body if isinstance(body, str) else json.dumps(body))
    elif isinstance(parsed, str):
        candidates.append(parsed)
    return any(
        keywords.classify(text[: keywords.MAX_CLASSIFIED_CHARS], keyword_sets=keyword_sets).intent
        is keywords.Intent.OPT_OUT
        for text in candidates
    )


def _program_keyword_set(config: ProgramConfig, sender: Sender | None) -> keywords.KeywordSet | None:
    """A sender's own opt-out and help keywords (program keywords with action opt_out or help)."""
    rules = [rule for pid in (sender.programs if sender else ()) for rule in config.programs[pid].keywords]
    opt_out = frozenset(rule.word for rule in rules if rule.action == "opt_out")
    help_words = frozenset(rule.word for rule in rules if rule.action == "help")
    if not opt_out and not help_words:
        return None
    return keywords.KeywordSet(language="", opt_out=opt_out, help=help_words)


@dataclass(frozen=True)
class _Context:
    message: InboundSms
    classification: keywords.Classification
    sender: Sender | None
    sender_number: str
    at: datetime  # the SNS timestamp: orders decisions and measures the confirmation window
    now: datetime
    config: ProgramConfig

    @property
    def language(self) -> str | None:
        return self.classification.language or None

    @property
    def evidence(self) -> dict[str, Any]:
        return {
            "inbound_message_id": self.message.inboundMessageId,
            "text": self.message.messageBody[:EVIDENCE_TEXT_LIMIT],
            "sender": self.sender_number,
            "keyword": self.classification.keyword,
            "match_reason": self.classification.reason.value,
            "language": self.language,
            "previous_published_message_id": self.message.previousPublishedMessageId or None,
            "received_at": consent.iso(self.at),
        }

    @property
    def programs(self) -> tuple[str, ...]:
        return self.sender.programs if self.sender else ()

    def replies_for(self, program: str) -> Any:
        return self.config.programs[program].replies_for(self.language)

    def named_program(self, action: str) -> str | None:
        """The program on this sender that the message names: `STOP TONE1`, `JOIN TONE1`, or a program's
        own keyword for this action."""
        sender = self.sender
        if sender is None:
            return None
        target = self.classification.target
        if target and target != ALL_PROGRAMS:
            program = self.config.program_for_keyword(target, sender.number)
            if program is not None:
                return program
        keyword = self.classification.keyword
        for program in sender.programs:
            if any(rule.word == keyword and rule.action == action for rule in self.config.programs[program].keywords):
                return program
        return None


def _revoke_all(state: NumberState, programs: Iterable[str], ctx: _Context) -> Change:
    changes = [Change(state)]
    for program in programs:
        changes.append(
            consent.revoke(
                changes[-1].state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence
            )
        )
    return consent.merge(*changes)


def _answer_ask(change: Change, ctx: _Context, *, keep: tuple[str, ...] | None = None) -> Change:
    """Settle an unanswered STOP menu. `keep`: the programs the answer keeps; the STOP stands for the
    others still subscribed. None: the answer itself says what happens to every program."""
    sender = ctx.sender
    if sender is None or sender.number not in change.state.ask_pending:
        return change
    asked_at = change.state.ask_pending[sender.number]
    changes = [change]
    stood: list[str] = []
    if keep is not None:
        stood = [p for p in sender.programs if p not in keep and change.state.status(p) is Status.SUBSCRIBED]
        changes.append(_revoke_all(change.state, stood, ctx))
    state = changes[-1].state
    asks = {key: value for key, value in state.ask_pending.items() if key != sender.number}
    event = consent.AuditEvent(
        EventType.REVOKED if ctx.classification.intent is keywords.Intent.OPT_OUT or stood else EventType.GRANTED,
        ctx.now,
        state.phone,
        None,
        ASK_PENDING,
        ASK_ANSWERED,
        Source.KEYWORD,
        {**ctx.evidence, "asked_at": consent.iso(asked_at), "stop_stands_for": stood},
    )
    changes.append(Change(replace(state, ask_pending=asks), (event,)))
    return consent.merge(*changes)


def _active_programs(state: NumberState, sender: Sender, at: datetime) -> tuple[str, ...]:
    """The sender's programs the number could hear from: subscribed, or with an open prompt."""
    active = []
    for program in sender.programs:
        current = state.programs.get(program)
        if current is None:
            continue
        if current.status is Status.SUBSCRIBED or (current.pending is not None and current.pending.is_open(at)):
            active.append(program)
    return tuple(active)


def _opt_out(state: NumberState, ctx: _Context, *, can_reply: bool) -> Decision:
    sender = ctx.sender
    if sender is None:
        # Misrouted: nobody owns this sender number. Record the opt-out for every program we run, so
        # nothing reaches the number until its owner sorts it out; an alert says which number it was.
        every = tuple(ctx.config.programs)
        return Decision(Action.MISROUTED, _revoke_all(state, every, ctx), programs=every)
    program = ctx.named_program("opt_out")
    if program is not None:
        revoked = consent.revoke(state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence)
        return Decision(
            Action.OPTED_OUT,
            _answer_ask(revoked, ctx),
            (Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).stop),),
            (program,),
        )
    bare = ctx.classification.target != ALL_PROGRAMS
    if (
        bare
        and can_reply
        and sender.bare_stop == "ask"
        and sender.stop_menu
        and sender.number not in state.ask_pending  # a second bare STOP answers the menu: all
        and len(_active_programs(state, sender, ctx.at)) > 1
    ):
        event = consent.AuditEvent(
            EventType.REVOKED,
            ctx.now,
            state.phone,
            None,
            None,
            ASK_PENDING,
            Source.KEYWORD,
            {**ctx.evidence, "scope": "all programs on the sender until the number answers the menu"},
        )
        asked = replace(state, ask_pending={**state.ask_pending, sender.number: ctx.at})
        return Decision(
            Action.ASKED_WHICH,
            Change(asked, (event,)),
            (Reply(sender.programs[0], Category.COMPLIANCE_REPLY, sender.stop_menu),),
            sender.programs,
        )
    change = _answer_ask(_revoke_all(state, sender.programs, ctx), ctx)
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
    program = ctx.named_program("help")
    if program is None and len(sender.programs) > 1 and sender.help:
        body = sender.help
    else:
        program = program or sender.programs[0]
        body = ctx.replies_for(program).help
    first = program or sender.programs[0]
    return Decision(Action.HELP_REPLY, Change(state), (Reply(first, Category.COMPLIANCE_REPLY, body),), (first,))


def _menu_again(state: NumberState, sender: Sender, menu: str) -> Decision:
    """The STOP menu is unanswered and this message does not answer it: ask again, change nothing."""
    reply = Reply(sender.programs[0], Category.COMPLIANCE_REPLY, menu)
    return Decision(Action.NOTHING_PENDING, Change(state), (reply,))


def _opt_in(state: NumberState, ctx: _Context, window: timedelta) -> Decision:
    sender = ctx.sender
    assert sender is not None
    named = ctx.named_program("opt_in")
    asked = sender.number in state.ask_pending
    if named is not None:
        programs: tuple[str, ...] = (named,)
    elif len(sender.programs) == 1:
        programs = sender.programs
    else:
        # START/UNSTOP on a shared number: the programs this number left, and those an open menu holds.
        programs = tuple(
            p
            for p in sender.programs
            if state.status(p) is Status.UNSUBSCRIBED or (asked and state.status(p) is Status.SUBSCRIBED)
        )
    if not programs:
        return _help(state, ctx)
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
    # A program keyword keeps that program only; START (no program named) resumes everything.
    change = _answer_ask(consent.merge(*changes), ctx, keep=programs if named is not None else None)
    action = Action.PROMPTED if prompted and not subscribed else Action.SUBSCRIBED
    return Decision(action, change, tuple(replies), programs)


def _pending_program(state: NumberState, ctx: _Context) -> str | None:
    """Which prompt a confirmation word answers (see the module docstring)."""
    prompts = [
        (program, program_state.pending)
        for program in ctx.programs
        if (program_state := state.programs.get(program)) is not None
        and program_state.pending is not None
        and program_state.status is not Status.SUBSCRIBED
        # A reply sent before its prompt was even requested cannot answer it (a late-delivered YES).
        and (program_state.pending.asked_at is None or ctx.at >= program_state.pending.asked_at)
    ]
    previous = ctx.message.previousPublishedMessageId
    for program, pending in prompts:
        if previous and pending.prompt_message_id == previous:
            return program if pending.is_open(ctx.at) else None
    if ctx.sender_number in state.ask_pending:
        return None
    open_prompts = [(program, pending) for program, pending in prompts if pending.is_open(ctx.at)]
    if not open_prompts:
        return None
    return max(open_prompts, key=lambda item: item[1].requested_at)[0]


def _dated_at_request(change: Change, program: str, requested: datetime) -> Change:
    """A confirmation completes the request that opened the prompt, so it takes the request's place in
    the order of messages: a STOP sent between the request and the YES, but delivered after the YES,
    is newer and wins (in order, that STOP would have closed the prompt)."""
    current = change.state.programs.get(program)
    if not change.events or current is None or current.decided_at <= requested:
        return change
    programs = {**change.state.programs, program: replace(current, decided_at=requested)}
    return Change(replace(change.state, programs=programs), change.events, change.touched)


def _confirm(state: NumberState, ctx: _Context) -> Decision:
    program = _pending_program(state, ctx)
    sender = ctx.sender
    assert sender is not None
    if program is None:
        if sender.number in state.ask_pending and sender.stop_menu:
            return _menu_again(state, sender, sender.stop_menu)
        first = sender.programs[0]
        body = (
            ctx.replies_for(first).no_pending
            or ctx.config.programs[first].replies.no_pending
            or ctx.replies_for(first).help
        )
        return Decision(Action.NOTHING_PENDING, Change(state), (Reply(first, Category.COMPLIANCE_REPLY, body),))
    granted = _dated_at_request(
        consent.grant(state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence),
        program,
        state.programs[program].decided_at,
    )
    return Decision(
        Action.CONFIRMED,
        _answer_ask(granted, ctx, keep=(program,)),
        (Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).confirmation),),
        (program,),
    )


def _superseded(state: NumberState, decision: Decision, at: datetime) -> bool:
    """Messages can be delivered out of order: one older than the decisions already stored for all of
    its programs changes no status, and its reply would contradict the newer message's (a prompt after
    a STOP, an opt-out confirmation after a START), so it gets none; it is only recorded."""
    if decision.change.changed or not decision.programs:
        return False
    return all(
        (current := state.programs.get(program)) is not None and consent.utc(at) < current.decided_at
        for program in decision.programs
    )


def decide(state: NumberState, ctx: _Context) -> Decision:
    """What the message does to this state. Pure: storage may call it again on fresher state."""
    intent = ctx.classification.intent
    blocked = state.block is not None and state.block.blocks_inbound
    if intent is keywords.Intent.OPT_OUT:
        decision = _opt_out(state, ctx, can_reply=not blocked)
        if blocked:
            # Type 1/3 blocks discard the message, but an opt-out still counts, silently.
            return Decision(Action.BLOCKED, decision.change, (), decision.programs)
    elif blocked:
        return Decision(Action.BLOCKED, Change(state))
    elif ctx.sender is None:
        return Decision(Action.MISROUTED, Change(state))
    elif intent is keywords.Intent.HELP:
        return _help(state, ctx)
    elif intent is keywords.Intent.OPT_IN:
        decision = _opt_in(state, ctx, timedelta(days=ctx.config.confirmation_window_days))
    elif intent is keywords.Intent.CONFIRM:
        decision = _confirm(state, ctx)
    else:
        return Decision(Action.RECEIVED, Change(state), programs=ctx.programs)
    if _superseded(state, decision, ctx.at):
        # Changes nothing, but the message is on record (a compliance officer will look for a STOP).
        event = consent.AuditEvent(
            EventType.REVOKED if intent is keywords.Intent.OPT_OUT else EventType.GRANTED,
            ctx.now,
            state.phone,
            None,
            None,
            SUPERSEDED,
            Source.KEYWORD,
            {**ctx.evidence, "programs": list(decision.programs), "reason": "a newer message decided these programs"},
        )
        return Decision(Action.SUPERSEDED, Change(state, (event,)), (), decision.programs)
    return decision


def context(message: InboundSms, received_at: datetime, deps: InboundDeps) -> tuple[str, _Context]:
    """The number the message came from (E.164) and everything a decision about it needs."""
    try:
        origin = phones.to_e164(message.originationNumber, deps.config.default_region)
    except phones.InvalidPhoneNumber as exc:
        raise UnroutableMessage(f"origination number does not parse: {exc}") from None
    try:
        sender_number = phones.normalize_sender(message.destinationNumber, deps.config.default_region)
    except phones.InvalidPhoneNumber:
        sender_number = message.destinationNumber.strip()
    sender = deps.config.sender(sender_number)
    programs = sender.programs if sender else ()
    # Program keywords that join a program double as targets ("STOP TONE1"); the others are keyword sets.
    opt_in_words = [
        rule.word for pid in programs for rule in deps.config.programs[pid].keywords if rule.action == "opt_in"
    ]
    own = _program_keyword_set(deps.config, sender)
    keyword_sets = (*deps.keyword_sets, own) if own else deps.keyword_sets
    classification = keywords.classify(message.messageBody, keyword_sets=keyword_sets, program_keywords=opt_in_words)
    return origin, _Context(message, classification, sender, sender_number, received_at, deps.clock(), deps.config)


def handle(message: InboundSms, received_at: datetime, deps: InboundDeps) -> Outcome:
    """Decide what one inbound message means, store it with its proof, then reply and announce it.

    Replies leave only after the change is stored: if storage fails the message fails, SNS/Lambda
    retry it and it ends in the dead-letter queue, and no confirmation claims an opt-out we lost.
    """
    origin, ctx = context(message, received_at, deps)
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
            sender=ctx.sender_number,
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
    misrouted = ctx.sender is None
    if misrouted:
        bus.append(
            BusEvent(
                detail_type="MisroutedMessage",
                detail={
                    "phone": origin,
                    "destination": ctx.sender_number,
                    "intent": ctx.classification.intent.value,
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
                    "destination": ctx.sender_number,
                    "programs": list(decision.programs),
                    "text": message.messageBody[:EVIDENCE_TEXT_LIMIT],
                    "language": ctx.language,
                    "source": Source.KEYWORD.value,
                    "timestamp": consent.iso(ctx.now),
                    "inbound_message_id": message.inboundMessageId,
                },
            )
        )
    if bus:
        deps.events.publish(bus)
    return Outcome(decision.action, ctx.classification, requests, events, decision.programs, misrouted)
