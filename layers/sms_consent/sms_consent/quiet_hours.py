"""Quiet hours: marketing only inside the recipient's local sending window.

The window comes from the number's region (US states that set 08:00-20:00) or the default
(08:00-21:00). Time zones come from `phonenumbers`; where a number spans several, every one of them
must be inside its window (the strictest wins). A deferred message gets the earliest such time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sms_consent.phones import PhoneInfo

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
STATE_CODES = frozenset(US_STATES.values())


@dataclass(frozen=True, slots=True)
class SendWindow:
    start: time  # inclusive, local time
    end: time  # exclusive

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class QuietHoursPolicy:
    default: SendWindow = SendWindow(time(8), time(21))
    by_region: Mapping[str, SendWindow] = field(default_factory=dict)  # "US-FL", or a country "FR"

    def window_for(self, phone: PhoneInfo) -> SendWindow:
        region = region_of(phone)
        if region and region in self.by_region:
            return self.by_region[region]
        return self.by_region.get(phone.country, self.default)


def parse_clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(23, 59, 59, 999999) if hours == 24 else time(hours, minutes)


@cache
def _description(e164: str) -> str:
    import phonenumbers
    from phonenumbers import geocoder

    return str(geocoder.description_for_number(phonenumbers.parse(e164), "en"))


def region_of(phone: PhoneInfo) -> str | None:
    """ "US-FL" for a Florida number; None when the number's state is unknown or it is not a US number."""
    if phone.country != "US":
        return None
    description = _description(phone.e164)
    if description in US_STATES:
        return f"US-{US_STATES[description]}"
    tail = description.rsplit(", ", 1)[-1] if ", " in description else ""
    return f"US-{tail}" if tail in STATE_CODES else None


def _zones(phone: PhoneInfo) -> list[ZoneInfo]:
    # Unknown zone: judge by UTC, and say so in the docs; real mobile numbers always have one.
    return [ZoneInfo(name) for name in phone.time_zones] or [ZoneInfo("UTC")]


def _allowed_everywhere(moment: datetime, zones: list[ZoneInfo], window: SendWindow) -> bool:
    return all(window.contains(moment.astimezone(zone).time()) for zone in zones)


def _window_starts(after: datetime, zone: ZoneInfo, window: SendWindow) -> list[datetime]:
    local_day: date = after.astimezone(zone).date()
    return [
        datetime.combine(local_day + timedelta(days=offset), window.start, tzinfo=zone).astimezone(UTC)
        for offset in range(-1, 3)
    ]


def next_allowed(phone: PhoneInfo, now: datetime, policy: QuietHoursPolicy) -> datetime | None:
    """None when sending is allowed now; else the earliest UTC time allowed in every zone of the number."""
    if now.tzinfo is None:
        raise ValueError("quiet hours need a timezone-aware time")
    window = policy.window_for(phone)
    zones = _zones(phone)
    if _allowed_everywhere(now, zones, window):
        return None
    candidates = sorted({start for zone in zones for start in _window_starts(now, zone, window) if start > now})
    for candidate in candidates:
        if _allowed_everywhere(candidate, zones, window):
            return candidate
    # Zones too far apart to share a window (a toll-free number's dozens): use the middle one.
    offsets = sorted(zones, key=lambda zone: now.astimezone(zone).utcoffset() or timedelta())
    middle = offsets[len(offsets) // 2]
    if window.contains(now.astimezone(middle).time()):
        return None
    return min(start for start in _window_starts(now, middle, window) if start > now)


def policy_from_config(default: tuple[str, str], regions: Mapping[str, tuple[str, str]]) -> QuietHoursPolicy:
    return QuietHoursPolicy(
        default=SendWindow(parse_clock(default[0]), parse_clock(default[1])),
        by_region={key: SendWindow(parse_clock(start), parse_clock(end)) for key, (start, end) in regions.items()},
    )
