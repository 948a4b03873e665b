"""What an opt-out, help or opt-in keyword does to a number (pure: state + context -> decision).

A bare opt-out leaves every program on the sender (or, on an `ask` sender, sends the menu); `STOP
<keyword>` leaves that program; START/UNSTOP resume what the number left; a program keyword joins
that program, through double opt-in where the program uses it.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta

from sms_consent import consent
from sms_consent.confirmations import ASK_PENDING, active_programs, answer_ask
from sms_consent.consent import Change, EventType, NumberState, Source, Status
from sms_consent.inbound_context import ALL_PROGRAMS, InboundAction, InboundContext, InboundDecision, Reply
from sms_consent.messages import Category


def opt_out(state: NumberState, ctx: InboundContext, *, can_reply: bool) -> InboundDecision:
    sender = ctx.sender
    if sender is None:
        # Misrouted: nobody owns this sender number. Record the opt-out for every program we run, so
        # nothing reaches the number until its owner sorts it out; an alert says which number it was.
        every = tuple(ctx.config.programs)
        return InboundDecision(InboundAction.MISROUTED, ctx.revoke_all(state, every), programs=every)
    program = ctx.named_program("opt_out")
    if program is not None:
        revoked = consent.revoke(state, program, source=Source.KEYWORD, at=ctx.at, now=ctx.now, evidence=ctx.evidence)
        return InboundDecision(
            InboundAction.OPTED_OUT,
            answer_ask(revoked, ctx),
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
        and len(active_programs(state, sender, ctx.at)) > 1
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
        return InboundDecision(
            InboundAction.ASKED_WHICH,
            Change(asked, (event,)),
            (Reply(sender.programs[0], Category.COMPLIANCE_REPLY, sender.stop_menu),),
            sender.programs,
        )
    # The sender's programs; from the FCC's revoke-all date, every marketing program too (config.OptOutScope).
    scope = ctx.config.consumer_opt_out_programs(sender.programs, ctx.at)
    change = answer_ask(ctx.revoke_all(state, scope), ctx)
    if len(sender.programs) == 1:
        body = ctx.replies_for(sender.programs[0]).stop
    else:
        body = sender.stop_all or ctx.replies_for(sender.programs[0]).stop
    return InboundDecision(
        InboundAction.OPTED_OUT, change, (Reply(sender.programs[0], Category.COMPLIANCE_REPLY, body),), scope
    )


def help_reply(state: NumberState, ctx: InboundContext) -> InboundDecision:
    sender = ctx.sender
    assert sender is not None
    program = ctx.named_program("help")
    if program is None and len(sender.programs) > 1 and sender.help:
        body = sender.help
    else:
        program = program or sender.programs[0]
        body = ctx.replies_for(program).help
    first = program or sender.programs[0]
    return InboundDecision(
        InboundAction.HELP_REPLY, Change(state), (Reply(first, Category.COMPLIANCE_REPLY, body),), (first,)
    )


def opt_in(state: NumberState, ctx: InboundContext, window: timedelta) -> InboundDecision:
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
        return help_reply(state, ctx)
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
    change = answer_ask(consent.merge(*changes), ctx, keep=programs if named is not None else None)
    action = InboundAction.PROMPTED if prompted and not subscribed else InboundAction.SUBSCRIBED
    return InboundDecision(action, change, tuple(replies), programs)
