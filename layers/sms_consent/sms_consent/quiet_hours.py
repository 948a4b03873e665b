"""Quiet hours: marketing only inside the recipient's local sending window, on days it is allowed.

The window of a day is the strictest of two: the law of the number's state (`state_rules`: weekdays,
barred Sundays and holidays, the federal 08:00-21:00 floor) and the configuration (`quiet_hours`: a
default and per-region windows). The configuration can narrow the law, never widen it. Time zones
come from the area-code table (`area_codes`: data shipped in the layer, corrected where `phonenumbers`
is wrong); where a number spans several, every one of them must be inside its window: the latest
local start and the earliest local end. A deferred message gets the earliest instant allowed in all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sms_consent import area_codes, state_rules
from sms_consent.phones import PhoneInfo

SEARCH_DAYS = 9  # a week of barred days and a holiday weekend fit inside


@dataclass(frozen=True, slots=True)
class SendWindow:
    start: time  # inclusive, local time
    end: time  # exclusive

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class QuietHoursPolicy:
    """The configuration's part: a default window and per-region ones ("US-FL", or a country "FR")."""

    default: SendWindow = SendWindow(time(8), time(21))
    by_region: Mapping[str, SendWindow] = field(default_factory=dict)

    def configured(self, region: str | None, country: str) -> SendWindow:
        if region and region in self.by_region:
            return self.by_region[region]
        return self.by_region.get(country, self.default)


def parse_clock(text: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    return time(23, 59, 59, 999999) if hours == 24 else time(hours, minutes)


def region_of(phone: PhoneInfo) -> str | None:
    """ "US-FL" for a Florida number, "CA-ON" for an Ontario one; None where the table names no place."""
    entry = area_codes.for_phone(phone)
    return entry.region if entry else None


def _zones(phone: PhoneInfo) -> list[ZoneInfo]:
    entry = area_codes.for_phone(phone)
    names = entry.zones if entry and entry.zones else phone.time_zones
    # Unknown zone: judge by UTC (real mobile numbers always have one).
    return [ZoneInfo(name) for name in names] or [ZoneInfo("UTC")]


def window_on(phone: PhoneInfo, day: date, policy: QuietHoursPolicy) -> SendWindow | None:
    """The local window on `day` for this number: the law's and the configuration's, whichever is
    stricter at each end; None when marketing is barred that day."""
    region = region_of(phone)
    configured = policy.configured(region, phone.country)
    if phone.country != "US":
        return configured
    lawful = state_rules.rule_for(region, day).window_on(day)
    if lawful is None:
        return None
    start, end = max(lawful[0], configured.start), min(lawful[1], configured.end)
    return SendWindow(start, end) if start < end else None


def _allowed_everywhere(moment: datetime, zones: list[ZoneInfo], phone: PhoneInfo, policy: QuietHoursPolicy) -> bool:
    for zone in zones:
        local = moment.astimezone(zone)
        window = window_on(phone, local.date(), policy)
        if window is None or not window.contains(local.time()):
            return False
    return True


def _window_starts(after: datetime, zone: ZoneInfo, phone: PhoneInfo, policy: QuietHoursPolicy) -> list[datetime]:
    first: date = after.astimezone(zone).date()
    starts = []
    for offset in range(-1, SEARCH_DAYS):
        day = first + timedelta(days=offset)
        window = window_on(phone, day, policy)
        if window is not None:
            starts.append(datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC))
    return starts


def next_allowed(phone: PhoneInfo, now: datetime, policy: QuietHoursPolicy) -> datetime | None:
    """None when sending is allowed now; else the earliest UTC time allowed in every zone of the number."""
    if now.tzinfo is None:
        raise ValueError("quiet hours need a timezone-aware time")
    zones = _zones(phone)
    if _allowed_everywhere(now, zones, phone, policy):
        return None
    candidates = sorted({start for zone in zones for start in _window_starts(now, zone, phone, policy) if start > now})
    for candidate in candidates:
        if _allowed_everywhere(candidate, zones, phone, policy):
            return candidate
    # Zones too far apart to share a window: judge by the middle one.
    middle = sorted(zones, key=lambda zone: now.astimezone(zone).utcoffset() or timedelta())[len(zones) // 2]
    if _allowed_everywhere(now, [middle], phone, policy):
        return None
    return min(start for start in _window_starts(now, middle, phone, policy) if start > now)


def rolling_cap(phone: PhoneInfo, now: datetime) -> tuple[int, timedelta, str] | None:
    """The statutory cap on marketing messages per program for this number, if its state sets one in
    force on `now`'s date: (messages, rolling window, "US-FL Fla. Stat. ...") for the gate's reason."""
    region = region_of(phone)
    rule = state_rules.rule_for(region, now.astimezone(UTC).date())
    return (rule.cap[0], rule.cap[1], f"{rule.region} {rule.citation}") if rule.cap else None


def policy_from_config(default: tuple[str, str], regions: Mapping[str, tuple[str, str]]) -> QuietHoursPolicy:
    return QuietHoursPolicy(
        default=SendWindow(parse_clock(default[0]), parse_clock(default[1])),
        by_region={key: SendWindow(parse_clock(start), parse_clock(end)) for key, (start, end) in regions.items()},
    )
