"""SMS encoding and segments: GSM-7 when every character fits the GSM 03.38 tables, else UCS-2.

A single message holds 160 septets (GSM-7) or 70 UTF-16 units (UCS-2); a concatenated one 153 or 67
per segment. Extension characters take two septets and an emoji two UTF-16 units, and no character
is split across segments; nor is a grapheme cluster (a letter and its accents, an emoji with its skin
tone or ZWJ sequence, a flag), so segments are counted by packing clusters, not by dividing.
"""

from __future__ import annotations

import unicodedata
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


ZWJ = "\u200d"


def _joins_previous(char: str, previous: str) -> bool:
    """Whether `char` continues the grapheme cluster `previous` ended (an approximation of UAX #29)."""
    code = ord(char)
    if previous == ZWJ or char == ZWJ or unicodedata.category(char) in ("Mn", "Me", "Mc"):
        return True
    # variation selectors, skin tones, tag sequences (subdivision flags)
    return 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def graphemes(body: str) -> list[str]:
    clusters: list[str] = []
    for char in body:
        regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        last = clusters[-1] if clusters else ""
        pair = regional and len(last) == 1 and 0x1F1E6 <= ord(last) <= 0x1F1FF  # the second half of a flag
        if last and (pair or _joins_previous(char, last[-1])):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


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
    for cluster in graphemes(body):
        cost = sum(_cost(char, encoding) for char in cluster)
        # A cluster longer than a segment cannot stay whole: it goes character by character.
        pieces = list(cluster) if cost > limit else [cluster]
        for piece in pieces:
            piece_cost = sum(_cost(char, encoding) for char in piece)
            if used + piece_cost > limit and current:
                parts.append("".join(current))
                current, used = [], 0
            current.append(piece)
            used += piece_cost
    parts.append("".join(current))
    return parts


def analyze(body: str) -> SegmentInfo:
    encoding = encoding_of(body)
    units = sum(_cost(c, encoding) for c in body)
    return SegmentInfo(encoding, units, len(split(body)))
