"""The message contracts between functions: outbound requests and what the sender sends."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_RECIPIENTS = 100
MAX_BODY_LENGTH = 1600
# SNS message attribute that marks requests the platform itself produced; the gate rejects
# `compliance_reply` and `optin_prompt` requests that lack it.
ORIGIN_ATTRIBUTE = "sms_consent_origin"
PLATFORM_ORIGIN = "platform"


class Category(StrEnum):
    MARKETING = "marketing"
    TRANSACTIONAL = "transactional"
    COMPLIANCE_REPLY = "compliance_reply"
    OPTIN_PROMPT = "optin_prompt"


PLATFORM_ONLY_CATEGORIES = frozenset({Category.COMPLIANCE_REPLY, Category.OPTIN_PROMPT})


class OutboundRequest(BaseModel):
    """One message to up to 100 recipients (DESIGN.md "Outbound requests")."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    request_id: str = Field(default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=128)
    program: str = Field(min_length=1, max_length=40)
    category: Category
    recipients: tuple[str, ...] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    body: str = Field(max_length=MAX_BODY_LENGTH)
    media_urls: tuple[str, ...] = Field(default=(), max_length=10)
    sender: str | None = Field(default=None, max_length=20)
    # Set by the platform: what the message answers (inbound id) or which pending opt-in it prompts.
    in_reply_to: str | None = Field(default=None, max_length=128)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for recipient in value:
            if not isinstance(recipient, str) or len(recipient) > 64:
                raise ValueError("each recipient must be a phone number string of at most 64 characters")
        return value


class OutgoingSms(BaseModel):
    """What the SMS sender port sends to one handset."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    to: str
    sender: str | None
    body: str
    media_urls: tuple[str, ...] = ()
    category: Category
    program: str
    request_id: str


class SendResult(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    message_id: str
    sent_at: datetime


class BusEvent(BaseModel):
    """An event for ConsentEventBus (`source` is always sms-consent)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    detail_type: str
    detail: dict[str, Any]


REPLY_NAMESPACE = uuid.UUID("6f1d3c2e-6a57-4d55-9a0e-5b3c7f1e2a90")


def to_number(
    phone: str,
    *,
    program: str,
    category: Category,
    body: str,
    sender: str | None,
    metadata: Mapping[str, Any] | None = None,
    prompt_request_id: str | None = None,
    in_reply_to: str | None = None,
    request_id: str | None = None,
) -> OutboundRequest:
    """A message the platform itself sends one number (a reply, a prompt, a confirmation): the one place
    such a request is built. `prompt_request_id` links a prompt to the pending confirmation it asks about."""
    extra = {"prompt_request_id": prompt_request_id} if prompt_request_id else {}
    # The same reply or prompt published again (a redelivered inbound message, a retried sign-up) is the
    # same request, which the gate sends to a number once.
    if request_id is not None:  # the caller's own idempotency key (a scheduled run's reminder)
        pass
    elif category is Category.OPTIN_PROMPT and prompt_request_id:
        request_id = prompt_request_id
    elif in_reply_to:
        request_id = str(uuid.uuid5(REPLY_NAMESPACE, "\x1f".join((in_reply_to, phone, program, category.value, body))))
    else:
        request_id = str(uuid.uuid4())
    return OutboundRequest(
        request_id=request_id,
        program=program,
        category=category,
        recipients=(phone,),
        body=body,
        sender=sender,
        in_reply_to=in_reply_to,
        metadata={**(metadata or {}), **extra},
    )
