"""Frequency caps: marketing messages per program and window, and a bound on replies per number.

Windows are fixed and aligned to the epoch (not rolling). The count lives on the number's state item
and is reserved by the send gate with one conditional write (`GateStore.reserve_send`).

Opt-in prompts that the platform starts (a web form, the API) are limited once, where they are asked
for: `subscriptions.subscribe` sends at most one per number and program within
`consent.PROMPT_INTERVAL`. Replies to the consumer's own messages (HELP, a START's prompt or welcome)
are never held by that limit; they are bounded per number instead, `REPLY_LIMIT` per `REPLY_WINDOW`,
so that a consumer texting START twenty times gets a few replies, not twenty. An opt-out's
confirmation is never held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sms_consent.clock import fixed_window
from sms_consent.config import Program
from sms_consent.consent import NumberState
from sms_consent.messages import PLATFORM_ONLY_CATEGORIES, Category, OutboundRequest

REPLY_LIMIT = 5
REPLY_WINDOW = timedelta(minutes=10)
REPLIES_KEY = "replies"  # one count per number, across programs and senders
OPT_OUT_INTENT = "opt_out"  # metadata.intent of a reply that confirms an opt-out


@dataclass(frozen=True, slots=True)
class Cap:
    key: str  # the count's name on the number's state item
    window_start: int  # epoch seconds
    limit: int

    def reached(self, state: NumberState) -> bool:
        start, count = state.cap_counts.get(self.key, (0, 0))
        return start == self.window_start and count >= self.limit


def is_reply(request: OutboundRequest) -> bool:
    """A platform message answering the consumer's own text (only the platform may send these)."""
    return request.in_reply_to is not None and request.category in PLATFORM_ONLY_CATEGORIES


def cap_for(program: Program, request: OutboundRequest, now: datetime) -> Cap | None:
    """The cap this message counts against, if any."""
    if is_reply(request):
        if request.metadata.get("intent") == OPT_OUT_INTENT:
            return None
        return Cap(REPLIES_KEY, fixed_window(now, REPLY_WINDOW)[0], REPLY_LIMIT)
    if request.category is Category.MARKETING and program.frequency_cap is not None:
        window = timedelta(hours=program.frequency_cap.hours)
        return Cap(request.program, fixed_window(now, window)[0], program.frequency_cap.messages)
    return None
