"""Segments and encodings as carriers count them (seed 003)."""

from __future__ import annotations

import pytest

from sms_consent.segments import Encoding, analyze, split


@pytest.mark.parametrize(
    ("body", "encoding", "units", "segments"),
    [
        ("", Encoding.GSM7, 0, 0),
        ("a" * 160, Encoding.GSM7, 160, 1),
        ("a" * 161, Encoding.GSM7, 161, 2),
        ("a" * 306, Encoding.GSM7, 306, 2),
        ("a" * 307, Encoding.GSM7, 307, 3),
        ("€" * 80, Encoding.GSM7, 160, 1),
        ("€" * 81, Encoding.GSM7, 162, 2),
        ("Ç é ñ ü à Ø", Encoding.GSM7, 11, 1),
        ("ç", Encoding.UCS2, 1, 1),  # only the capital Ç is in GSM 03.38
        ("a" * 69 + "ł", Encoding.UCS2, 70, 1),
        ("a" * 70 + "ł", Encoding.UCS2, 71, 2),
        ("😀" * 35, Encoding.UCS2, 70, 1),
        ("😀" * 36, Encoding.UCS2, 72, 2),
        ("¿Dónde estás?", Encoding.UCS2, 13, 1),  # ó and á are not GSM-7
        ("Où êtes-vous ?", Encoding.UCS2, 14, 1),
    ],
)
def test_analyze(body: str, encoding: Encoding, units: int, segments: int) -> None:
    info = analyze(body)
    assert (info.encoding, info.units, info.segments) == (encoding, units, segments)


def test_escape_pair_is_never_split() -> None:
    body = "a" * 152 + "€" + "b" * 10  # the € would straddle septets 153/154
    parts = split(body)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")
    assert "".join(parts) == body


def test_surrogate_pair_is_never_split() -> None:
    body = "ł" * 66 + "😀" + "x" * 5  # 73 units: concatenated, 67 per segment
    parts = split(body)
    assert parts[0] == "ł" * 66
    assert parts[1] == "😀xxxxx"


def test_long_body() -> None:
    info = analyze("x" * 10_000)
    assert info.segments == -(-10_000 // 153)


@pytest.mark.parametrize(
    "cluster",
    [
        "👨\u200d👩\u200d👧",  # a ZWJ family: 8 UTF-16 units
        "👍🏽",  # a thumb and its skin tone
        "🇺🇸",  # a flag: two regional indicators
        "e\u0301",  # e and a combining acute accent
        "❤️",  # a heart and its emoji variation selector
    ],
)
def test_a_grapheme_cluster_is_never_split(cluster: str) -> None:
    units = analyze(cluster).units
    body = "ł" * (67 - units + 1) + cluster + "x" * 10  # the cluster would straddle the first boundary
    parts = split(body)
    assert "".join(parts) == body
    assert any(cluster in part for part in parts)
    assert parts[0] == "ł" * (67 - units + 1)


def test_regional_indicators_pair_up_into_flags() -> None:
    from sms_consent.segments import graphemes

    assert graphemes("🇺🇸🇫🇷a") == ["🇺🇸", "🇫🇷", "a"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("a\r\nb", ["a", "\r\n", "b"]),  # CR LF is one cluster
        ("\n\u0301", ["\n", "\u0301"]),  # nothing joins a control
        ("\u1100\u1161\u11a8", ["\u1100\u1161\u11a8"]),  # Hangul jamo L V T: one syllable
        ("한국어", ["한", "국", "어"]),  # precomposed syllables stay apart
        ("1\ufe0f\u20e3#\ufe0f\u20e3", ["1\ufe0f\u20e3", "#\ufe0f\u20e3"]),  # keycaps
        (
            "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f!",
            ["🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "!"],
        ),
        ("🇺🇸🇫", ["🇺🇸", "🇫"]),  # an odd regional indicator stands alone
        ("a\u200db", ["a\u200d", "b"]),  # a ZWJ joins only emoji to emoji
        ("👩🏽\u200d💻x", ["👩🏽\u200d💻", "x"]),  # skin tone inside a ZWJ sequence
        ("नमस्ते", ["न", "म", "स्", "ते"]),  # Devanagari: virama and vowel signs join (legacy clusters)
    ],
)
def test_grapheme_approximation(body: str, expected: list[str]) -> None:
    from sms_consent.segments import graphemes

    assert graphemes(body) == expected


CORPUS = [
    "Hi 👋🏾! Your order 🇫🇷 ships today 👨\u200d👩\u200d👧\u200d👦 ❤️\u200d🔥 1️⃣ café\u0301 Ελλάδα",
    "Zürich Ångström naïve coöperate e\u0301\u0302 🧑\u200d🤝\u200d🧑 🏳️\u200d🌈 🏴\u200d☠️ ☺︎",
    "한국어 텍스트 \u1100\u1161\u11a8 日本語のテキスト 🇯🇵🇰🇷🇨🇳 👍🏻👍🏼👍🏽👍🏾👍🏿",
    "مرحبا بالعالم ✌️ שלום 🙏 Привет мир 😀😃😄",
]


@pytest.mark.parametrize("body", CORPUS)
def test_the_approximation_agrees_with_full_uax29(body: str) -> None:
    import regex  # UAX #29 in full (a pinned development dependency)

    from sms_consent.segments import graphemes

    assert graphemes(body) == regex.findall(r"\X", body)


@pytest.mark.parametrize("body", CORPUS)
@pytest.mark.parametrize("offset", range(0, 70, 3))
def test_no_cluster_straddles_a_segment_anywhere(body: str, offset: int) -> None:
    from sms_consent.segments import graphemes

    text = "ł" * offset + body * 3
    parts = split(text)
    assert "".join(parts) == text
    assert len(parts) == analyze(text).segments
    boundaries, position = set(), 0
    for part in parts[:-1]:
        position += len(part)
        boundaries.add(position)
        assert sum(2 if ord(c) > 0xFFFF else 1 for c in part) <= 67
    cluster_starts, position = set(), 0
    for cluster in graphemes(text):
        cluster_starts.add(position)
        position += len(cluster)
    assert boundaries <= cluster_starts


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        # Twilio's segment calculator: 153 septets a part, an escape pair never split
        ("a" * 152 + "{" + "a" * 10, 2),
        ("{" * 80, 1),  # 160 septets
        ("{" * 81, 2),  # 162 septets: parts of 76 pairs (152) and 5
        ("[" * 76 + "a" * 8, 1),  # 160 septets exactly
        # UCS-2: 67 units a part, a surrogate pair never split: 33 emoji and a half do not fit in 67
        ("😀" * 34, 1),  # 68 units: one single 70-unit message
        ("😀" * 35 + "a", 2),
        ("a" * 66 + "😀" * 33, 2),  # 132 units: the first part ends at 66, before an emoji
    ],
)
def test_twilio_reference_counts(body: str, segments: int) -> None:
    assert analyze(body).segments == segments
