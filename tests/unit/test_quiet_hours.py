"""Quiet hours in the recipient's local time, strictest zone, state rules, daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from sms_consent.config import load_config
from sms_consent.phones import parse
from sms_consent.quiet_hours import next_allowed, region_of
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

POLICY = load_config(DEFAULT_PROGRAM_CONFIG).quiet_hours_policy
NEW_YORK = ZoneInfo("America/New_York")


def local(zone: str, *args: int) -> datetime:
    year, month, day, hour, minute = args
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_regions() -> None:
    assert region_of(parse("+13055550123")) == "US-FL"
    assert region_of(parse("+14055550123")) == "US-OK"
    assert region_of(parse("+14105550123")) == "US-MD"
    assert region_of(parse("+12125550123")) == "US-NY"
    assert region_of(parse("+33612345678")) is None


def test_new_york_inside_and_after_the_window() -> None:
    phone = parse("+12125550123")
    assert next_allowed(phone, local("America/New_York", 2026, 11, 23, 20, 30), POLICY) is None
    retry = next_allowed(phone, local("America/New_York", 2026, 11, 23, 21, 0), POLICY)
    assert retry == local("America/New_York", 2026, 11, 24, 8, 0)
    early = next_allowed(phone, local("America/New_York", 2026, 11, 24, 7, 59), POLICY)
    assert early == local("America/New_York", 2026, 11, 24, 8, 0)


def test_florida_stops_at_eight() -> None:
    phone = parse("+13055550123")
    assert next_allowed(phone, local("America/New_York", 2026, 11, 23, 19, 59), POLICY) is None
    assert next_allowed(phone, local("America/New_York", 2026, 11, 23, 20, 0), POLICY) == local(
        "America/New_York", 2026, 11, 24, 8, 0
    )


def test_number_spanning_zones_uses_the_strictest() -> None:
    alaska = parse("+19075550123")  # America/Anchorage and America/Adak (one hour behind)
    assert set(alaska.time_zones) == {"America/Anchorage", "America/Adak"}
    # 08:30 in Anchorage is 07:30 on Adak: not yet.
    retry = next_allowed(alaska, local("America/Anchorage", 2026, 11, 23, 8, 30), POLICY)
    assert retry == local("America/Adak", 2026, 11, 23, 8, 0)
    # 20:30 on Adak is 21:30 in Anchorage: already over.
    late = next_allowed(alaska, local("America/Adak", 2026, 11, 23, 20, 30), POLICY)
    assert late == local("America/Adak", 2026, 11, 24, 8, 0)


@pytest.mark.parametrize(
    ("now", "expected_utc"),
    [
        # Spring forward (2026-03-08): 08:00 EDT is 12:00 UTC, not 13:00.
        (local("America/New_York", 2026, 3, 7, 22, 0), datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
        # Fall back (2026-11-01): 08:00 EST is 13:00 UTC.
        (local("America/New_York", 2026, 10, 31, 22, 0), datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
    ],
)
def test_daylight_saving_changes(now: datetime, expected_utc: datetime) -> None:
    assert next_allowed(parse("+12125550123"), now, POLICY) == expected_utc


def test_europe_and_australia() -> None:
    paris = parse("+33612345678")
    assert next_allowed(paris, local("Europe/Paris", 2026, 11, 23, 12, 0), POLICY) is None
    assert next_allowed(paris, local("Europe/Paris", 2026, 11, 23, 23, 0), POLICY) == local(
        "Europe/Paris", 2026, 11, 24, 8, 0
    )
    australia = parse("+61412345678")  # mobile: zones from Perth to Lord Howe
    retry = next_allowed(australia, datetime(2026, 11, 23, 0, 0, tzinfo=UTC), POLICY)
    assert retry is None or retry > datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        next_allowed(parse("+12125550123"), datetime(2026, 1, 1, 12, 0), POLICY)
