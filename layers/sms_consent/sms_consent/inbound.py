"""Messages from handsets: classify, change consent, reply through the send gate, prove it.

Pure domain code: storage, the outbound topic and the event bus come in through ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from sms_consent import keywords
from sms_consent.config import ProgramConfig
from sms_consent.messages import Category, OutboundRequest
from sms_consent.ports import EventSink, NumberStore, OutboundRequests

MAX_INBOUND_BODY = 10_000


class InboundSms(BaseModel):
    """AWS End User Messaging SMS two-way payload, unchanged (DESIGN.md "Inbound SMS")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    originationNumber: str = Field(min_length=3, max_length=64)
    destinationNumber: str = Field(min_length=3, max_length=64)
    messageBody: str = Field(max_length=MAX_INBOUND_BODY)
    inboundMessageId: str = Field(min_length=1, max_length=128)
    messageKeyword: str | None = Field(default=None, max_length=128)
    previousPublishedMessageId: str | None = Field(default=None, max_length=128)


class Action(StrEnum):
    HELP_REPLY = "help_reply"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Outcome:
    action: Action
    classification: keywords.Classification
    replies: tuple[OutboundRequest, ...] = ()


@dataclass(frozen=True)
class InboundDeps:
    config: ProgramConfig
    store: NumberStore
    outbound: OutboundRequests
    events: EventSink
    clock: Callable[[], datetime]
    keyword_sets: tuple[keywords.KeywordSet, ...] = field(default=keywords.BUILTIN_KEYWORD_SETS)


def handle(message: InboundSms, received_at: datetime, deps: InboundDeps) -> Outcome:
    """Decide what one inbound message means and act on it."""
    sender = deps.config.sender(message.destinationNumber)
    program_ids = sender.programs if sender else ()
    program_words = [rule.word for pid in program_ids for rule in deps.config.programs[pid].keywords]
    result = keywords.classify(message.messageBody, keyword_sets=deps.keyword_sets, program_keywords=program_words)
    if result.intent is keywords.Intent.HELP and sender is not None:
        program = deps.config.programs[program_ids[0]]
        body = sender.help or program.replies_for(result.language).help
        reply = OutboundRequest(
            program=program_ids[0],
            category=Category.COMPLIANCE_REPLY,
            recipients=(message.originationNumber,),
            body=body,
            sender=sender.number,
            in_reply_to=message.inboundMessageId,
        )
        deps.outbound.publish(reply)
        return Outcome(Action.HELP_REPLY, result, (reply,))
    return Outcome(Action.IGNORED, result)
