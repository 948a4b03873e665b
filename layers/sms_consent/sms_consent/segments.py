"""SMS encoding and segments: GSM-7 when every character fits the GSM 03.38 tables, else UCS-2.

A single message holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2); a concatenated one 153 or 67
per segment. Extension characters take two septets and an emoji two UTF-16 units, and neither is
ever split across segments, so segments are counted by packing, not by dividing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
SINGLE = {"GSM-7": 160, "UCS-2": 70}
MULTI = {"GSM-7": 153, "UCS-2": 67}


class Encoding(StrEnum):
    GSM7 = "GSM-7"
    UCS2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # 0 for an empty body


def encoding_of(body: str) -> Encoding:
    return Encoding.GSM7 if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body) else Encoding.UCS2


def _cost(char: str, encoding: Encoding) -> int:
    if encoding is Encoding.GSM7:
        return 2 if char in GSM7_EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def split(body: str) -> list[str]:
    """The parts as the handset receives them."""
    if not body:
        return []
    encoding = encoding_of(body)
    total = sum(_cost(c, encoding) for c in body)
    if total <= SINGLE[encoding.value]:
        return [body]
    limit = MULTI[encoding.value]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in body:
        cost = _cost(char, encoding)
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    parts.append("".join(current))
    return parts


def analyze(body: str) -> SegmentInfo:
    encoding = encoding_of(body)
    units = sum(_cost(c, encoding) for c in body)
    return SegmentInfo(encoding, units, len(split(body)))
