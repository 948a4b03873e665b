"""Phone numbers: parsing into E.164 with what the rules need to know about them."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_INPUT_LENGTH = 64
SHORT_CODE = re.compile(r"^\d{3,8}$")
# Numbers in free text and log lines: E.164-like runs, NANP 3-3-4 groupings and long digit runs.
# Dates (4-2-2) and times do not match.
PHONE_IN_TEXT = re.compile(r"(?<![\w+])(?:\+\d[\d ().-]{5,18}\d|\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}|\d{10,15})(?!\w)")


class NumberType(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    PREMIUM_RATE = "premium_rate"
    SHARED_COST = "shared_cost"
    VOIP = "voip"
    PERSONAL_NUMBER = "personal_number"
    PAGER = "pager"
    UAN = "uan"
    VOICEMAIL = "voicemail"
    UNKNOWN = "unknown"


@functools.cache
def _type_names() -> dict[int, NumberType]:
    from phonenumbers import PhoneNumberType

    return {
        PhoneNumberType.MOBILE: NumberType.MOBILE,
        PhoneNumberType.FIXED_LINE: NumberType.FIXED_LINE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.TOLL_FREE: NumberType.TOLL_FREE,
        PhoneNumberType.PREMIUM_RATE: NumberType.PREMIUM_RATE,
        PhoneNumberType.SHARED_COST: NumberType.SHARED_COST,
        PhoneNumberType.VOIP: NumberType.VOIP,
        PhoneNumberType.PERSONAL_NUMBER: NumberType.PERSONAL_NUMBER,
        PhoneNumberType.PAGER: NumberType.PAGER,
        PhoneNumberType.UAN: NumberType.UAN,
        PhoneNumberType.VOICEMAIL: NumberType.VOICEMAIL,
    }


# Types that cost the sender money per message or that no consumer owns.
RISKY_NUMBER_TYPES = frozenset(
    {NumberType.PREMIUM_RATE, NumberType.SHARED_COST, NumberType.UAN, NumberType.VOICEMAIL, NumberType.PAGER}
)


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we can route to."""


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str
    country: str  # ISO 3166-1 alpha-2, "ZZ" when unknown
    country_code: int
    number_type: NumberType
    time_zones: tuple[str, ...]

    @property
    def prefix(self) -> str:
        """The 1k-number block: the number without its last three digits."""
        return self.e164[:-3]

    @property
    def area(self) -> str | None:
        """A North American number's area code ("+1415"); None elsewhere, where the prefix and country
        serve instead."""
        return self.e164[:5] if self.country_code == 1 and len(self.e164) == 12 else None

    @property
    def fictional(self) -> bool:
        """A North American number reserved for fiction (NPA-555-0100 to 0199): never assigned to anyone."""
        return self.country_code == 1 and len(self.e164) == 12 and self.e164[5:9] == "5550" and self.e164[9] == "1"


def parse(raw: str, default_region: str = "US") -> PhoneInfo:
    """Parse any format `phonenumbers` understands; raise InvalidPhoneNumber otherwise."""
    # Imported on first use: its metadata is a large part of a cold start otherwise.
    import phonenumbers
    from phonenumbers import timezone

    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("phone number is empty")
    if len(raw) > MAX_INPUT_LENGTH:
        raise InvalidPhoneNumber(f"phone number is longer than {MAX_INPUT_LENGTH} characters")
    try:
        number = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"cannot parse phone number: {exc._msg}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber("not a valid phone number for its country")
    zones = tuple(z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown")
    return PhoneInfo(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        country=phonenumbers.region_code_for_number(number) or "ZZ",
        country_code=number.country_code or 0,
        number_type=_type_names().get(phonenumbers.number_type(number), NumberType.UNKNOWN),
        time_zones=zones,
    )


def to_e164(raw: str, default_region: str = "US") -> str:
    return parse(raw, default_region).e164


def normalize_sender(raw: str, default_region: str = "US") -> str:
    """A sender is an E.164 long code or toll-free number, or a short code given as digits."""
    text = raw.strip() if isinstance(raw, str) else ""
    if SHORT_CODE.match(text):
        return text
    return to_e164(text, default_region)


def mask(phone: str) -> str:
    """Keep the country code and the last two digits: enough to correlate, not to dial."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "*" * len(digits)
    head = digits[:2] if phone.strip().startswith("+") else ""
    return (
        f"+{head}{'*' * (len(digits) - len(head) - 2)}{digits[-2:]}"
        if head
        else f"{'*' * (len(digits) - 2)}{digits[-2:]}"
    )


def mask_text(text: str) -> str:
    """Mask every phone-number-like run in free text (log messages, reprs)."""
    return PHONE_IN_TEXT.sub(lambda m: mask(m.group(0)), text)
