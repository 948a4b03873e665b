"""Frequency caps as rolling windows: marketing per program, per-state statutory caps, replies per number.

Each capped stream keeps a short log of its last send times on the number's state item (`recent_sends`),
and a send counts against every cap on that log: a program's own cap (`frequency_cap`: N per H hours)
and a state's statutory cap (Florida, Oklahoma, Maryland: 3 marketing messages per program in any
rolling 24 hours). The gate appends to the log with one conditional write on the log it read, so two
concurrent gates can never both pass a cap; windows roll, so no burst slips through at a boundary.

Opt-in prompts that the platform starts (a web form, the API) are limited once, where they are asked
for: `subscriptions.subscribe` sends at most one per number and program within
`consent.PROMPT_INTERVAL`. Replies to the consumer's own messages (HELP, a START's prompt or welcome)
are never held by that limit; they are bounded per number instead, `REPLY_LIMIT` per `REPLY_WINDOW`,
so that a consumer texting START twenty times gets a few replies, not twenty. An opt-out's
confirmation is never held.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sms_consent.config import Program
from sms_consent.consent import NumberState
from sms_consent.messages import PLATFORM_ONLY_CATEGORIES, Category, OutboundRequest

REPLY_LIMIT = 5
REPLY_WINDOW = timedelta(minutes=10)
REPLIES_KEY = "replies"  # one log per number, across programs and senders
OPT_OUT_INTENT = "opt_out"  # metadata.intent of a reply that confirms an opt-out


@dataclass(frozen=True, slots=True)
class Cap:
    """At most `limit` sends in any rolling `window`, counted on the log `key`."""

    key: str
    window: timedelta
    limit: int
    why: str  # "program", "replies", or the statute ("US-FL ...")
    # False: the log is kept for this window, but the cap is not applied (yet): list hygiene's reduced
    # frequency for a subscriber who is still engaged, so that it sees the sends before they turned.
    enforced: bool = True

    def reached(self, state: NumberState, now: datetime) -> bool:
        since = (now - self.window).timestamp()
        return sum(1 for sent in state.recent_sends.get(self.key, ()) if sent > since) >= self.limit


def is_reply(request: OutboundRequest) -> bool:
    """A platform message answering the consumer's own text (only the platform may send these)."""
    return request.in_reply_to is not None and request.category in PLATFORM_ONLY_CATEGORIES


def caps_for(
    program: Program,
    request: OutboundRequest,
    statutory: tuple[int, timedelta, str] | None = None,
    reduced: tuple[int, timedelta, str, bool] | None = None,
) -> tuple[Cap, ...]:
    """Every cap this message counts against; `statutory` is the recipient's state cap, if it has one
    (messages, rolling window, citation); `reduced` the program's reduced frequency for an unengaged
    subscriber, or kept but not enforced for an engaged one (`list_hygiene.reduced_cap`)."""
    if is_reply(request):
        if request.metadata.get("intent") == OPT_OUT_INTENT:
            return ()
        return (Cap(REPLIES_KEY, REPLY_WINDOW, REPLY_LIMIT, "replies"),)
    if request.category is not Category.MARKETING:
        return ()
    caps = []
    if program.frequency_cap is not None:
        cap = program.frequency_cap
        caps.append(Cap(request.program, timedelta(hours=cap.hours), cap.messages, "program"))
    if statutory is not None:
        caps.append(Cap(request.program, statutory[1], statutory[0], statutory[2]))
    if reduced is not None:
        caps.append(Cap(request.program, reduced[1], reduced[0], reduced[2], enforced=reduced[3]))
    return tuple(caps)


def first_reached(caps: Sequence[Cap], state: NumberState, now: datetime) -> Cap | None:
    return next((cap for cap in caps if cap.enforced and cap.reached(state, now)), None)


def log_after_send(caps: Sequence[Cap], state: NumberState, now: datetime) -> tuple[str, tuple[int, ...]] | None:
    """The log the send is appended to, as it must read afterwards: only what a cap can still see."""
    if not caps:
        return None
    key = caps[0].key
    longest = max(cap.window for cap in caps)
    keep = max(cap.limit for cap in caps)
    since = (now - longest).timestamp()
    recent = [sent for sent in state.recent_sends.get(key, ()) if sent > since]
    kept = recent[max(0, len(recent) - (keep - 1)) :] if keep > 1 else []
    return key, (*kept, int(now.timestamp()))
