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
# Hangul jamo (UAX #29 GB6-GB8): leading consonants L, vowels V, trailing consonants T; syllables LV/LVT.
HANGUL_L = range(0x1100, 0x1160)
HANGUL_V = range(0x1160, 0x11A8)
HANGUL_T = range(0x11A8, 0x1200)
HANGUL_SYLLABLES = range(0xAC00, 0xD7A4)
PREPEND = frozenset("\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u08e2\U000110bd\U000110cd")


def _hangul(char: str) -> str:
    code = ord(char)
    if code in HANGUL_L:
        return "L"
    if code in HANGUL_V:
        return "V"
    if code in HANGUL_T:
        return "T"
    if code in HANGUL_SYLLABLES:
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _extends(char: str) -> bool:
    """Marks that continue any cluster: combining marks, ZWJ, variation selectors, skin tones, tags."""
    code = ord(char)
    if char == ZWJ or unicodedata.category(char) in ("Mn", "Me", "Mc"):
        return True
    return 0xFE00 <= code <= 0xFE0F or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F


def _pictographic(char: str) -> bool:
    """An approximation of Extended_Pictographic: the emoji blocks and the older symbols used as emoji."""
    code = ord(char)
    return 0x1F000 <= code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or 0x2190 <= code <= 0x2BFF or char in "©®‼⁉™ℹ"


def _joins_previous(char: str, previous: str, cluster: str) -> bool:
    """Whether `char` continues `cluster`, whose last character is `previous` (UAX #29, approximated)."""
    if previous == "\r":
        return char == "\n"  # CR LF is one cluster; nothing else joins a control
    if previous in "\n\x0b\x0c" or char in "\r\n":
        return False
    if previous == ZWJ:
        # GB11: an emoji ZWJ sequence (a ZWJ after anything else ends its own cluster)
        return _pictographic(char) and any(_pictographic(c) for c in cluster)
    if _extends(char) or previous in PREPEND:
        return True
    before, after = _hangul(previous), _hangul(char)
    return (
        (before == "L" and after in ("L", "V", "LV", "LVT"))
        or (before in ("LV", "V") and after in ("V", "T"))
        or (before in ("LVT", "T") and after == "T")
    )


def graphemes(body: str) -> list[str]:
    """Extended grapheme clusters, approximately (UAX #29 without its full property tables): a base and
    its marks, CR LF, Hangul syllables from jamo, emoji ZWJ sequences, skin tones, variation selectors,
    keycaps, tag sequences (subdivision flags) and regional-indicator pairs (flags)."""
    clusters: list[str] = []
    for char in body:
        regional = 0x1F1E6 <= ord(char) <= 0x1F1FF
        last = clusters[-1] if clusters else ""
        pair = regional and len(last) == 1 and 0x1F1E6 <= ord(last) <= 0x1F1FF  # the second half of a flag
        if last and (pair or _joins_previous(char, last[-1], last)):
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
