"""What every inbound decision works from: the message, its classification, its sender, the time.

Also the shapes of a decision (`InboundDecision`, `Reply`) and the action it names.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sms_consent import consent, keywords
from sms_consent.clock import iso
from sms_consent.config import ProgramConfig, Replies, Sender
from sms_consent.consent import EVIDENCE_TEXT_LIMIT, Change, NumberState, Source
from sms_consent.messages import Category

# Longer bodies are cut, not refused: an oversized message that starts with STOP still opts out.
MAX_INBOUND_BODY = 10_000
ALL_PROGRAMS = "ALL"  # "STOP ALL"


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


class InboundAction(StrEnum):
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
class InboundDecision:
    """What one message does: the new state (with its audit events) and the replies to send."""

    action: InboundAction
    change: Change
    replies: tuple[Reply, ...] = ()
    programs: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboundContext:
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
            "received_at": iso(self.at),
        }

    def revoke_all(self, state: NumberState, programs: Iterable[str]) -> Change:
        """The consumer's opt-out of each program named, with this message as evidence."""
        return consent.revoke_all(
            state, programs, source=Source.KEYWORD, at=self.at, now=self.now, evidence=self.evidence
        )

    @property
    def programs(self) -> tuple[str, ...]:
        return self.sender.programs if self.sender else ()

    def replies_for(self, program: str) -> Replies:
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
