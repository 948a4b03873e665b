"""State rules (weekdays, barred days, holidays, effective dates), the area-code table and its
corrections, and the configuration narrowing the law but never widening it."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import timezone

from sms_consent import area_codes, state_rules
from sms_consent.config import load_config
from sms_consent.phones import parse
from sms_consent.quiet_hours import QuietHoursPolicy, SendWindow, next_allowed, region_of, rolling_cap
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

POLICY = load_config(DEFAULT_PROGRAM_CONFIG).quiet_hours_policy
CHICAGO, NEW_YORK = "America/Chicago", "America/New_York"
HOUSTON = "+17135550123"


def local(zone: str, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def test_texas_waits_for_noon_on_sunday_and_nine_on_weekdays() -> None:
    houston = parse(HOUSTON)
    assert region_of(houston) == "US-TX"
    sunday_morning = local(CHICAGO, 2026, 12, 6, 10, 0)  # a Sunday
    assert next_allowed(houston, sunday_morning, POLICY) == local(CHICAGO, 2026, 12, 6, 12, 0)
    assert next_allowed(houston, local(CHICAGO, 2026, 12, 6, 12, 0), POLICY) is None
    assert next_allowed(houston, local(CHICAGO, 2026, 12, 5, 8, 30), POLICY) == local(CHICAGO, 2026, 12, 5, 9, 0)
    assert next_allowed(houston, local(CHICAGO, 2026, 12, 7, 21, 0), POLICY) == local(CHICAGO, 2026, 12, 8, 9, 0)


def test_a_rule_applies_from_its_effective_date() -> None:
    # Sunday 2025-08-31, the day before SB 140: the federal 08:00 start.
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2025, 8, 31, 9, 0), POLICY) is None
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2025, 9, 7, 9, 0), POLICY) == local(CHICAGO, 2025, 9, 7, 12)


def test_rhode_island_bars_sundays_and_its_holidays() -> None:
    providence = parse("+14015550123")
    saturday_evening = local(NEW_YORK, 2026, 12, 5, 17, 30)  # Saturday's window ends at 17:00
    assert next_allowed(providence, saturday_evening, POLICY) == local(NEW_YORK, 2026, 12, 7, 9, 0)
    victory_day = local(NEW_YORK, 2026, 8, 10, 11, 0)  # a Rhode Island holiday, on a Monday
    assert next_allowed(providence, victory_day, POLICY) == local(NEW_YORK, 2026, 8, 11, 9, 0)


def test_louisiana_bars_mardi_gras() -> None:
    new_orleans = parse("+15045550123")
    assert next_allowed(new_orleans, local(CHICAGO, 2026, 2, 17, 10), POLICY) == local(CHICAGO, 2026, 2, 18, 8)
    assert next_allowed(new_orleans, local(CHICAGO, 2026, 2, 19, 10), POLICY) is None  # an ordinary Thursday


def test_the_florida_panhandle_spans_two_zones_and_florida_ends_at_eight() -> None:
    pensacola = parse("+18505550123")
    assert {zone.key for zone in [ZoneInfo(z) for z in area_codes.for_phone(pensacola).zones]} == {CHICAGO, NEW_YORK}  # type: ignore[union-attr]
    # 19:30 in Pensacola is 20:30 in Tallahassee: over. The next start is 08:00 Central (09:00 Eastern).
    assert next_allowed(pensacola, local(CHICAGO, 2026, 12, 7, 19, 30), POLICY) == local(CHICAGO, 2026, 12, 8, 8)


@pytest.mark.parametrize("npa", sorted(area_codes.ZONE_CORRECTIONS))
def test_every_correction_changes_what_phonenumbers_says(npa: str) -> None:
    entry = area_codes.area_code(npa)
    assert entry is not None
    assert entry.correction
    number = next(
        n for ex in area_codes.PROBE_EXCHANGES
        if phonenumbers.is_valid_number(n := phonenumbers.parse(f"+1{npa}{ex}4567"))
    )  # fmt: skip
    assert set(entry.zones) != set(timezone.time_zones_for_number(number))
    assert len(entry.zones) >= 2


def test_the_table_names_a_place_and_a_zone_for_every_geographic_area_code() -> None:
    table = area_codes.all_area_codes()
    assert len(table) >= 400
    assert all(entry.region and entry.zones for entry in table), [e.npa for e in table if not e.region]
    assert {entry.region for entry in table} >= {"US-WA", "CA-BC", "CA-ON", "US-DC"}
    assert area_codes.area_code("800") is None  # toll-free: no place
    assert region_of(parse("+15095550123")) == "US-WA"  # "Washington State" in the geocoder


def test_the_configuration_narrows_the_law_but_never_widens_it() -> None:
    loose = QuietHoursPolicy(by_region={"US-TX": SendWindow(time(7), time(22))})
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2026, 12, 7, 8, 0), loose) == local(CHICAGO, 2026, 12, 7, 9)
    strict = QuietHoursPolicy(by_region={"US-TX": SendWindow(time(10), time(18))})
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2026, 12, 7, 9, 30), strict) == local(CHICAGO, 2026, 12, 7, 10)


def test_statutory_caps() -> None:
    at = local(NEW_YORK, 2026, 12, 7, 12)
    for number in ("+13055550123", "+14055550123", "+14105550123"):  # Florida, Oklahoma, Maryland
        cap = rolling_cap(parse(number), at)
        assert cap is not None
        assert cap[:2] == (3, timedelta(hours=24))
    assert rolling_cap(parse("+12125550123"), at) is None
    assert all(rule.citation and rule.effective for rule in state_rules.RULES.values())
