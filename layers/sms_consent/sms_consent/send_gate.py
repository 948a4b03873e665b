"""The send gate: the one choke point every message to a handset passes.

`decide` is pure: request + stored state + time -> one decision per recipient. `process` reads the
state, decides, sends what is allowed through the SMS sender and publishes every decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sms_consent import phones
from sms_consent.config import ProgramConfig
from sms_consent.consent import NumberState, iso
from sms_consent.messages import BusEvent, Category, OutboundRequest, OutgoingSms
from sms_consent.ports import EventSink, NumberStore, SmsSender


class Decision(StrEnum):
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
    MESSAGE_INVALID = "MESSAGE_INVALID"
    QUIET_HOURS = "QUIET_HOURS"
    FREQUENCY_CAP = "FREQUENCY_CAP"
    ALLOWED = "ALLOWED"


@dataclass(frozen=True, slots=True)
class RecipientDecision:
    phone: str  # E.164 when it parsed, else the input as given
    decision: Decision
    reason: Reason
    retry_at: datetime | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "phone": self.phone,
            "decision": self.decision.value,
            "reason": self.reason.value,
            "retry_at": iso(self.retry_at) if self.retry_at else None,
        }


@dataclass(frozen=True)
class GateDeps:
    config: ProgramConfig
    store: NumberStore
    sender: SmsSender
    events: EventSink
    clock: Callable[[], datetime]


def _decide_one(
    request: OutboundRequest, raw_phone: str, states: Mapping[str, NumberState], config: ProgramConfig
) -> RecipientDecision:
    try:
        phone = phones.parse(raw_phone, config.default_region)
    except phones.InvalidPhoneNumber:
        return RecipientDecision(raw_phone, Decision.DENY, Reason.INVALID_NUMBER)
    state = states.get(phone.e164, NumberState(phone=phone.e164))
    if state.block is not None and state.block.blocks_outbound:
        return RecipientDecision(phone.e164, Decision.DENY, Reason.BLOCKED_OUTBOUND)
    if request.category in (Category.COMPLIANCE_REPLY, Category.OPTIN_PROMPT):
        return RecipientDecision(phone.e164, Decision.ALLOW, Reason.ALLOWED)
    if state.is_opted_out(request.program, request.sender):
        return RecipientDecision(phone.e164, Decision.DENY, Reason.OPTED_OUT)
    if request.category is Category.MARKETING and not state.may_receive_marketing(request.program, request.sender):
        return RecipientDecision(phone.e164, Decision.DENY, Reason.NOT_SUBSCRIBED)
    return RecipientDecision(phone.e164, Decision.ALLOW, Reason.ALLOWED)


def decide(
    request: OutboundRequest, states: Mapping[str, NumberState], config: ProgramConfig, now: datetime
) -> list[RecipientDecision]:
    return [_decide_one(request, raw, states, config) for raw in request.recipients]


def _e164_or_none(raw: str, region: str) -> str | None:
    try:
        return phones.to_e164(raw, region)
    except phones.InvalidPhoneNumber:
        return None


def process(request: OutboundRequest, deps: GateDeps) -> list[RecipientDecision]:
    now = deps.clock()
    numbers = [n for n in (_e164_or_none(r, deps.config.default_region) for r in request.recipients) if n]
    states = deps.store.get_many(numbers) if numbers else {}
    decisions = decide(request, states, deps.config, now)
    for decision in decisions:
        if decision.decision is Decision.ALLOW:
            deps.sender.send(
                OutgoingSms(
                    to=decision.phone,
                    sender=request.sender,
                    body=request.body,
                    media_urls=request.media_urls,
                    category=request.category,
                    program=request.program,
                    request_id=request.request_id,
                )
            )
    deps.events.publish(
        [
            BusEvent(
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
            for decision in decisions
        ]
    )
    return decisions
