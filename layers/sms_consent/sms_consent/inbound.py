"""Messages from handsets: classify, change consent, reply through the send gate, prove it.

Pure domain code: storage, the outbound topic and the event bus come in through ports. The decision
is a pure function of (message, stored state, configuration, time) so that storage can re-apply it
after a concurrent change; the replies and events follow from the decision that was stored. What each
keyword does is `keyword_actions`; confirmations and the STOP menu are `confirmations`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sms_consent import consent, keywords, list_hygiene, phones
from sms_consent.clock import Clock, iso, utc
from sms_consent.config import ProgramConfig, Sender
from sms_consent.confirmations import confirm
from sms_consent.consent import EVIDENCE_TEXT_LIMIT, AuditEvent, Change, EventType, NumberState, Source
from sms_consent.inbound_context import InboundAction, InboundContext, InboundDecision, InboundSms, Reply
from sms_consent.keyword_actions import help_reply, opt_in, opt_out
from sms_consent.messages import BusEvent, Category, OutboundRequest, to_number
from sms_consent.ports import EngagementLog, EventSink, NumberStore, OutboundRequests

SUPERSEDED = "superseded"
# What an inbound message does that is not engagement (list hygiene): an opt-out, a discarded text.
NOT_ENGAGEMENT = frozenset(
    {InboundAction.OPTED_OUT, InboundAction.ASKED_WHICH, InboundAction.BLOCKED, InboundAction.MISROUTED}
)


@dataclass(frozen=True)
class Outcome:
    action: InboundAction
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
    clock: Clock
    keyword_sets: tuple[keywords.KeywordSet, ...] = field(default=keywords.BUILTIN_KEYWORD_SETS)
    engagement: EngagementLog | None = None  # list hygiene: None records no engagement


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
    except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
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


def _superseded(state: NumberState, decision: InboundDecision, at: datetime) -> bool:
    """Messages can be delivered out of order: one older than the decisions already stored for all of
    its programs changes no status, and its reply would contradict the newer message's (a prompt after
    a STOP, an opt-out confirmation after a START), so it gets none; it is only recorded."""
    if decision.change.changed or not decision.programs:
        return False
    return all(
        (current := state.programs.get(program)) is not None and utc(at) < current.decided_at
        for program in decision.programs
    )


def _redelivered(state: NumberState, decision: InboundDecision, at: datetime) -> bool:
    """This very message already decided every program it changes (stored at its own instant, with the
    status it sets): a retry after the first attempt stored it and then failed (a lost reply, a lost
    answer from the table). Recording it again would count the opt-out twice."""
    if not decision.change.changed or not decision.programs:
        return False
    new = decision.change.state.programs
    return all(
        (current := state.programs.get(program)) is not None
        and program in new
        and current.decided_at == utc(at)
        and current.status is new[program].status
        for program in decision.programs
    )


def confirmed_by(
    message_id: str, history: list[AuditEvent], state: NumberState, ctx: InboundContext
) -> InboundDecision | None:
    """A YES delivered again after its first attempt stored the confirmation and then failed: its
    program has nothing pending any more, but the consumer is owed the confirmation, not a "nothing to
    confirm" (sent again as the same request: the gate sends it once)."""
    for event in reversed(history):
        mine = event.evidence.get("inbound_message_id") == message_id
        if event.event_type is EventType.GRANTED and event.program and mine:
            reply = Reply(event.program, Category.COMPLIANCE_REPLY, ctx.replies_for(event.program).confirmation)
            return InboundDecision(InboundAction.CONFIRMED, Change(state), (reply,), (event.program,))
    return None


def decide(state: NumberState, ctx: InboundContext) -> InboundDecision:
    """What the message does to this state. Pure: storage may call it again on fresher state."""
    decision = _decide(state, ctx)
    if _redelivered(state, decision, ctx.at):
        # Stored already: change nothing, but send the replies (the first attempt may have failed before them).
        return InboundDecision(decision.action, Change(state), decision.replies, decision.programs)
    return decision


def _decide(state: NumberState, ctx: InboundContext) -> InboundDecision:
    intent = ctx.classification.intent
    blocked = state.block is not None and state.block.blocks_inbound
    if intent is keywords.Intent.OPT_OUT:
        decision = opt_out(state, ctx, can_reply=not blocked)
        if blocked:
            # Type 1/3 blocks discard the message, but an opt-out still counts, silently.
            return InboundDecision(InboundAction.BLOCKED, decision.change, (), decision.programs)
    elif blocked:
        return InboundDecision(InboundAction.BLOCKED, Change(state))
    elif ctx.sender is None:
        return InboundDecision(InboundAction.MISROUTED, Change(state))
    elif intent is keywords.Intent.HELP:
        return help_reply(state, ctx)
    elif intent is keywords.Intent.OPT_IN:
        decision = opt_in(state, ctx, timedelta(days=ctx.config.confirmation_window_days))
    elif intent is keywords.Intent.CONFIRM:
        decision = confirm(state, ctx)
    else:
        return InboundDecision(InboundAction.RECEIVED, Change(state), programs=ctx.programs)
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
        return InboundDecision(InboundAction.SUPERSEDED, Change(state, (event,)), (), decision.programs)
    return decision


def context(message: InboundSms, received_at: datetime, deps: InboundDeps) -> tuple[str, InboundContext]:
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
    return origin, InboundContext(
        message, classification, sender, sender_number, received_at, deps.clock(), deps.config
    )


def handle(message: InboundSms, received_at: datetime, deps: InboundDeps) -> Outcome:
    """Decide what one inbound message means, store it with its proof, then reply and announce it.

    Replies leave only after the change is stored: if storage fails the message fails, SNS/Lambda
    retry it and it ends in the dead-letter queue, and no confirmation claims an opt-out we lost.
    """
    origin, ctx = context(message, received_at, deps)
    stored = deps.store.update(origin, lambda state: decide(state, ctx))
    decision, events = stored.decision, stored.events
    if decision.action is InboundAction.NOTHING_PENDING:
        # Rare (a stray YES), so the trail is read only then: was it this very YES that confirmed?
        trail = deps.store.history(origin)
        decision = confirmed_by(message.inboundMessageId, trail, stored.state, ctx) or decision
    if (
        deps.engagement is not None
        and decision.action not in NOT_ENGAGEMENT
        and stored.state.programs  # a number we hold no consent for has nothing to audit
        and list_hygiene.engagement_due(stored.state, received_at)
    ):
        deps.engagement.record_engagement(origin, received_at)  # its own partition, at most once a day
    requests = tuple(
        to_number(
            origin,
            program=reply.program,
            category=reply.category,
            body=reply.body,
            sender=ctx.sender_number,
            metadata={"received_at": iso(received_at), "intent": ctx.classification.intent.value},
            prompt_request_id=reply.prompt_request_id,
            in_reply_to=message.inboundMessageId,
        )
        for reply in decision.replies
        if reply.body
    )
    for request in requests:
        deps.outbound.publish(request)
    bus: list[BusEvent] = []  # consent events reach the bus from the table's stream (consent_feed)
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
                    "timestamp": iso(ctx.now),
                    "inbound_message_id": message.inboundMessageId,
                },
            )
        )
    if decision.action is InboundAction.RECEIVED:
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
                    "timestamp": iso(ctx.now),
                    "inbound_message_id": message.inboundMessageId,
                },
            )
        )
    if bus:
        deps.events.publish(bus)
    return Outcome(decision.action, ctx.classification, requests, events, decision.programs, misrouted)
