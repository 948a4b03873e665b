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
# MMS limits. End User Messaging SMS ("MMS file types, size and character limits"): 2 MB per image
# (gif, jpeg, png), 600 KB per file of every other type it lists; seed 003: 5 MB for the whole message,
# media and text. KB and MB are read as 1000s, the stricter reading.
MMS_MAX_BYTES = 5_000_000
MMS_IMAGE_MAX_BYTES = 2_000_000
MMS_OTHER_MAX_BYTES = 600_000
MMS_TYPES: dict[str, int] = {
    **dict.fromkeys(("image/gif", "image/jpeg", "image/png"), MMS_IMAGE_MAX_BYTES),
    **dict.fromkeys(
        ("image/tiff", "audio/3gpp", "video/3gpp", "audio/3gpp2", "video/3gpp2", "audio/amr", "audio/mp4",
         "video/mp4", "audio/mpeg", "audio/ogg", "video/quicktime", "video/webm", "text/calendar", "text/vcard",
         "text/x-vcard", "application/pdf"),
        MMS_OTHER_MAX_BYTES,
    ),
}  # fmt: skip


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


def media_problem(media: MediaReport, body: str) -> str | None:
    """Which MMS limit the media breaks, if any: a file not read, then type, then size per file, then
    the total with the text. The detail starts with the limit's name."""
    if media.problems:
        return f"media: {media.problems[0]}"
    for file in media.files:
        if file.content_type not in MMS_TYPES:
            return f"type: {file.url[:100]} is {file.content_type or 'of no type'}, not a type MMS carries"
    for file in media.files:
        if file.size > MMS_TYPES[file.content_type]:
            limit = MMS_TYPES[file.content_type]
            return f"per file: {file.url[:100]} is {file.size} bytes, over {limit} for {file.content_type}"
    total = media.total_bytes + len(body.encode("utf-8"))
    if total > MMS_MAX_BYTES:
        return f"total: media and text are {total} bytes, over {MMS_MAX_BYTES} for one MMS"
    return None


def message_problem(request: OutboundRequest, body: str, program: Program, media: MediaReport) -> str | None:
    """Why the message cannot be sent as it is (empty, too many segments, an MMS limit), or None."""
    if not request.body.strip() and not request.media_urls:
        return "empty: no text and no media"
    counted = segments.analyze(body).segments
    if counted > program.max_segments:
        return f"segments: {counted}, over the program's {program.max_segments}"
    return media_problem(media, request.body) if request.media_urls else None
