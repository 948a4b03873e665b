"""Answers: a confirmation word to a pending prompt, and the answer to a shared sender's STOP menu.

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

from dataclasses import replace
from datetime import datetime

from sms_consent import consent, keywords
from sms_consent.clock import iso
from sms_consent.config import Sender
from sms_consent.consent import Change, EventType, NumberState, Source, Status
from sms_consent.inbound_context import InboundAction, InboundContext, InboundDecision, Reply
from sms_consent.messages import Category

ASK_PENDING = "ask_pending"
ASK_ANSWERED = "ask_answered"


def answer_ask(change: Change, ctx: InboundContext, *, keep: tuple[str, ...] | None = None) -> Change:
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
        changes.append(ctx.revoke_all(change.state, stood))
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
        {**ctx.evidence, "asked_at": iso(asked_at), "stop_stands_for": stood},
    )
    changes.append(Change(replace(state, ask_pending=asks), (event,)))
    return consent.merge(*changes)


def active_programs(state: NumberState, sender: Sender, at: datetime) -> tuple[str, ...]:
    """The sender's programs the number could hear from: subscribed, or with an open prompt."""
    active = []
    for program in sender.programs:
        current = state.programs.get(program)
        if current is None:
            continue
        if current.status is Status.SUBSCRIBED or (current.pending is not None and current.pending.is_open(at)):
            active.append(program)
    return tuple(active)


def menu_again(state: NumberState, sender: Sender, menu: str) -> InboundDecision:
    """The STOP menu is unanswered and this message does not answer it: ask again, change nothing."""
    reply = Reply(sender.programs[0], Category.COMPLIANCE_REPLY, menu)
    return InboundDecision(InboundAction.NOTHING_PENDING, Change(state), (reply,))


def _pending_program(state: NumberState, ctx: InboundContext) -> str | None:
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


def confirm(state: NumberState, ctx: InboundContext) -> InboundDecision:
    program = _pending_program(state, ctx)
    sender = ctx.sender
    assert sender is not None
    if program is None:
        if sender.number in state.ask_pending and sender.stop_menu:
            return menu_again(state, sender, sender.stop_menu)
        first = sender.programs[0]
        body = (
            ctx.replies_for(first).no_pending
            or ctx.config.programs[first].replies.no_pending
            or ctx.replies_for(first).help
        )
        return InboundDecision(
            InboundAction.NOTHING_PENDING, Change(state), (Reply(first, Category.COMPLIANCE_REPLY, body),)
        )
    granted = _dated_at_request(
        consent.grant(state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence),
        program,
        state.programs[program].decided_at,
    )
    return InboundDecision(
        InboundAction.CONFIRMED,
        answer_ask(granted, ctx, keep=(program,)),
        (Reply(program, Category.COMPLIANCE_REPLY, ctx.replies_for(program).confirmation),),
        (program,),
    )
