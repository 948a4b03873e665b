"""Phone parsing into E.164 and masking for logs."""

from __future__ import annotations

import pytest

from sms_consent.phones import InvalidPhoneNumber, NumberType, mask, mask_text, normalize_sender, parse


@pytest.mark.parametrize(
    "raw", ["+14155550123", "(415) 555-0123", "415.555.0123", "1 415 555 0123", "+1 (415) 555-0123", "tel:+14155550123"]
)
def test_formats_parse_to_e164(raw: str) -> None:
    assert parse(raw).e164 == "+14155550123"


def test_phone_info() -> None:
    info = parse("+14155550123")
    assert info.country == "US"
    assert info.country_code == 1
    assert info.time_zones == ("America/Los_Angeles",)
    assert info.prefix == "+14155550"


def test_other_regions_and_types() -> None:
    assert parse("06 12 34 56 78", "FR").e164 == "+33612345678"
    assert parse("+33612345678").number_type is NumberType.MOBILE
    assert parse("+33899123456").number_type is NumberType.PREMIUM_RATE
    assert parse("+448001234567").number_type is NumberType.TOLL_FREE


@pytest.mark.parametrize(
    "raw", ["", "   ", "hello", "+1", "123", "+1 555 12", "9" * 65, "+999 123 456 789", "\x00+1415"]
)
def test_garbage_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumber):
        parse(raw)


def test_senders() -> None:
    assert normalize_sender("12345") == "12345"
    assert normalize_sender(" +1 800 555 0100 ") == "+18005550100"
    with pytest.raises(InvalidPhoneNumber):
        normalize_sender("12")


def test_mask_keeps_country_and_last_two_digits() -> None:
    assert mask("+14155550123") == "+14*******23"
    assert "4155550123" not in mask_text("call (415) 555-0123 or +1 415 555 0123 or 4155550123")


def test_mask_text_leaves_dates_and_times_alone() -> None:
    text = "at 2026-11-23 04:12:33, request 5, count 123456"
    assert mask_text(text) == text


@pytest.mark.parametrize(
    ("raw", "fictional"),
    [("+14155550100", True), ("+12125550199", True), ("+14155550200", False), ("+14155550099", False),
     ("+14152010142", False), ("+447911123456", False)],
)  # fmt: skip
def test_fictional_numbers_are_the_nanp_555_01xx_range(raw: str, fictional: bool) -> None:
    assert parse(raw).fictional is fictional
