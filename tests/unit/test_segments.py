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
