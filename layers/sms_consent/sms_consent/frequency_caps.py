"""Frequency caps: marketing messages per program and window, and one opt-in prompt per interval.

Windows are fixed and aligned to the epoch (not rolling). The count lives on the number's state item
and is reserved by the send gate with one conditional write (`GateStore.reserve_send`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sms_consent.clock import fixed_window
from sms_consent.config import Program
from sms_consent.consent import PROMPT_INTERVAL, NumberState
from sms_consent.messages import Category


def cap_key(program: str, category: Category) -> str:
    return f"prompt-{program}" if category is Category.OPTIN_PROMPT else program


def cap_window(program: Program, category: Category, now: datetime) -> tuple[int | None, int | None]:
    """(window start, limit) of the frequency cap that applies; fixed windows aligned to the epoch."""
    if category is Category.OPTIN_PROMPT:
        length, limit = PROMPT_INTERVAL, 1
    elif category is Category.MARKETING and program.frequency_cap is not None:
        length, limit = timedelta(hours=program.frequency_cap.hours), program.frequency_cap.messages
    else:
        return None, None
    return fixed_window(now, length)[0], limit


def cap_reached(state: NumberState, key: str, window: int | None, limit: int | None) -> bool:
    if window is None or limit is None:
        return False
    start, count = state.cap_counts.get(key, (0, 0))
    return start == window and count >= limit
