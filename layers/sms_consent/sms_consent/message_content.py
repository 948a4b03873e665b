"""What a message may carry: opt-out instructions where due, a segment limit, MMS media limits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sms_consent import segments
from sms_consent.config import Program
from sms_consent.consent import NumberState
from sms_consent.messages import Category, OutboundRequest
from sms_consent.ports import MediaReport

OPT_OUT_NOTICE = "Reply STOP to opt out"
HAS_STOP_INSTRUCTIONS = re.compile(r"\bSTOP\b", re.IGNORECASE)
MMS_MAX_BYTES = 5 * 1024 * 1024
MMS_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/bmp", "video/mp4", "video/3gpp", "audio/mpeg", "audio/mp4",
     "text/vcard", "application/pdf"}
)  # fmt: skip


def body_with_notice(request: OutboundRequest, state: NumberState, now: datetime, notice_days: int) -> tuple[str, bool]:
    """The body to send and whether it carries opt-out instructions that should be recorded."""
    if request.category is not Category.MARKETING:
        return request.body, False
    last = state.optout_notice_at.get(request.program)
    due = last is None or now - last >= timedelta(days=notice_days)
    if not due:
        return request.body, False
    if HAS_STOP_INSTRUCTIONS.search(request.body):
        return request.body, True
    return f"{request.body.rstrip()} {OPT_OUT_NOTICE}", True


def message_problem(request: OutboundRequest, body: str, program: Program, media: MediaReport) -> bool:
    if not request.body.strip() and not request.media_urls:
        return True
    if segments.analyze(body).segments > program.max_segments:
        return True
    return bool(request.media_urls) and (bool(media.problems) or media.total_bytes > MMS_MAX_BYTES)
