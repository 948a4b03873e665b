"""MMS that always arrives (seed 003): who can take MMS, and the SMS with a link for those who cannot.

MMS reaches US and Canadian mobiles from a sender enabled for it. Everyone else (a landline, another
country, a sender without MMS) gets the text as SMS with each media file replaced by a link, the text
shortened to the program's segment limit and the link never cut.

Line type comes from `phonenumbers` metadata: it knows landlines in most countries but not in the
North American plan, where mobile and fixed numbers share their ranges (FIXED_LINE_OR_MOBILE). Such a
number is taken as a mobile: a US or Canadian landline is sent MMS, which its carrier does not deliver.
A carrier line-type lookup would close that gap; the platform has none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from sms_consent import segments
from sms_consent.config import Sender
from sms_consent.message_content import HAS_STOP_INSTRUCTIONS, OPT_OUT_NOTICE
from sms_consent.phones import NumberType, PhoneInfo

MMS_COUNTRIES = frozenset({"US", "CA"})
MMS_NUMBER_TYPES = frozenset({NumberType.MOBILE, NumberType.FIXED_LINE_OR_MOBILE})
# End User Messaging's SendMediaMessage takes one media URL: more files go as links.
MMS_FILES_PER_MESSAGE = 1
CUT_MARK = "..."  # GSM-7; an ellipsis character would turn the whole SMS into UCS-2


class Delivery(StrEnum):
    SMS = "sms"  # no media
    MMS = "mms"
    SMS_LINK = "sms_link"  # media requested, sent as links in an SMS


def takes_mms(phone: PhoneInfo) -> bool:
    return phone.country in MMS_COUNTRIES and phone.number_type in MMS_NUMBER_TYPES


def delivery_for(phone: PhoneInfo | None, sender: Sender | None, media_urls: Sequence[str]) -> Delivery:
    """How a message with `media_urls` reaches `phone` (None: not a number) from `sender`."""
    if not media_urls:
        return Delivery.SMS
    mms_sender = sender is not None and sender.mms
    if phone is not None and mms_sender and len(media_urls) <= MMS_FILES_PER_MESSAGE and takes_mms(phone):
        return Delivery.MMS
    return Delivery.SMS_LINK


def _fit(text: str, tail: Sequence[str], max_segments: int) -> str | None:
    """`text` then `tail` (links, a notice), with `text` cut at a grapheme cluster until it fits."""

    def compose(head: str) -> str:
        return " ".join(part for part in (head, *tail) if part)

    def fits(body: str) -> bool:
        return segments.analyze(body).segments <= max_segments

    if fits(compose(text)):
        return compose(text)
    clusters = segments.graphemes(text)
    best = compose("") if fits(compose("")) else None
    low, high = 1, len(clusters) - 1  # binary search for the longest head that fits
    while low <= high:
        middle = (low + high) // 2
        candidate = compose("".join(clusters[:middle]).rstrip() + CUT_MARK)
        if fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def link_text(text: str, links: Sequence[str], max_segments: int, *, notice_due: bool) -> str | None:
    """The SMS that replaces an MMS: the text, shortened if need be, then the links whole, then the opt-out
    instructions when due and the shortened text lost them. None when the links alone do not fit."""
    text = text.strip()
    if notice_due and not HAS_STOP_INSTRUCTIONS.search(text):
        return _fit(text, (*links, OPT_OUT_NOTICE), max_segments)
    body = _fit(text, links, max_segments)
    if body is not None and notice_due and not HAS_STOP_INSTRUCTIONS.search(body):
        return _fit(text, (*links, OPT_OUT_NOTICE), max_segments)  # the cut took the instructions away
    return body
