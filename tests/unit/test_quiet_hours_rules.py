"""State rules (weekdays, barred days, holidays, effective dates), the area-code table and its
corrections, and the configuration narrowing the law but never widening it."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from sms_consent import area_codes, state_rules
from sms_consent.config import load_config
from sms_consent.phones import parse
from sms_consent.quiet_hours import (
    QuietHoursPolicy,
    SendWindow,
    next_allowed,
    policy_from_config,
    region_of,
    rolling_cap,
)
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


def test_rolling_cap_exposes_the_statutory_cap_as_data() -> None:
    def cap(number: str, at: datetime) -> tuple[int, timedelta] | None:
        found = rolling_cap(parse(number), at)
        return found[:2] if found else None

    at = local(NEW_YORK, 2026, 12, 7, 12)
    assert cap("+13055550123", at) == (3, timedelta(hours=24))
    assert cap(HOUSTON, at) is None
    assert cap("+33612345678", at) is None
    # Maryland's cap binds from 2024-01-01 only.
    assert cap("+14105550123", local(NEW_YORK, 2023, 12, 31, 12)) is None
    assert cap("+14105550123", local(NEW_YORK, 2024, 1, 1, 12)) == (3, timedelta(hours=24))


def test_every_rule_carries_its_data() -> None:
    for region, rule in state_rules.RULES.items():
        assert region == rule.region
        assert region.startswith("US-")
        assert len(rule.days) == 7
        assert rule.citation
        assert rule.effective.year >= 1985
        for window in rule.days:
            assert window is None or (time(8) <= window[0] < window[1] <= time(21)), region  # never wider
    assert {"US-FL", "US-OK", "US-MD", "US-TX", "US-CT", "US-RI", "US-LA", "US-MS", "US-AL"} <= set(state_rules.RULES)
    capped = {region for region, rule in state_rules.RULES.items() if rule.cap}
    assert capped == {"US-FL", "US-OK", "US-MD"}


def test_a_texas_number_deferred_on_sunday_morning_gets_noon_in_utc() -> None:
    # Sunday 2026-03-08 is also the spring-forward day: noon CDT is 17:00 UTC.
    retry = next_allowed(parse("+12145550123"), local(CHICAGO, 2026, 3, 8, 10, 0), POLICY)
    assert retry == datetime(2026, 3, 8, 17, 0, tzinfo=UTC)
    assert retry.tzinfo is UTC
    # El Paso is Texas too, on Mountain time: noon there.
    el_paso = parse("+19155550123")
    assert next_allowed(el_paso, local("America/Denver", 2026, 12, 6, 11, 0), POLICY) == local(
        "America/Denver", 2026, 12, 6, 12
    )


def test_rhode_island_on_sunday_waits_for_monday_nine() -> None:
    assert next_allowed(parse("+14015550123"), local(NEW_YORK, 2026, 12, 6, 11, 0), POLICY) == local(
        NEW_YORK, 2026, 12, 7, 9
    )


def test_holidays_are_the_recipient_state_s() -> None:
    # Mardi Gras: barred in Louisiana, an ordinary Tuesday in Texas.
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2026, 2, 17, 10), POLICY) is None
    # Christmas on a Friday in Alabama: Saturday 08:00.
    assert next_allowed(parse("+12055550123"), local(CHICAGO, 2026, 12, 25, 10), POLICY) == local(
        CHICAGO, 2026, 12, 26, 8
    )
    # Mississippi: Independence Day observed on Friday 2026-07-03, the day itself Saturday, then Sunday.
    assert next_allowed(parse("+16015550123"), local(CHICAGO, 2026, 7, 3, 12), POLICY) == local(CHICAGO, 2026, 7, 6, 8)


def test_louisiana_before_a_holiday_weekend_skips_to_the_next_working_day() -> None:
    # Saturday 2026-07-04 (Independence Day itself), Sunday barred: Monday 08:00.
    new_orleans = parse("+15045550123")
    assert next_allowed(new_orleans, local(CHICAGO, 2026, 7, 4, 12), POLICY) == local(CHICAGO, 2026, 7, 6, 8)


def test_pennsylvania_sunday_afternoon_and_utah_sunday() -> None:
    assert next_allowed(parse("+12155550123"), local(NEW_YORK, 2026, 12, 6, 12), POLICY) == local(
        NEW_YORK, 2026, 12, 6, 13, 30
    )
    assert next_allowed(parse("+18015550123"), local("America/Denver", 2026, 12, 6, 12), POLICY) == local(
        "America/Denver", 2026, 12, 7, 8
    )


def test_a_multi_zone_number_in_a_state_with_rules() -> None:
    # 448 (Florida panhandle overlay): 08:00-20:00 in both Eastern and Central. 07:30 Central is 08:30
    # Eastern: Central is not yet open; at 19:30 Central it is 20:30 Eastern: closed.
    phone = parse("+14485550123")
    assert region_of(phone) == "US-FL"
    assert next_allowed(phone, local(CHICAGO, 2026, 12, 7, 7, 30), POLICY) == local(CHICAGO, 2026, 12, 7, 8)
    assert next_allowed(phone, local(CHICAGO, 2026, 12, 7, 18, 59), POLICY) is None
    assert next_allowed(phone, local(CHICAGO, 2026, 12, 7, 19, 0), POLICY) == local(CHICAGO, 2026, 12, 8, 8)
    # Kentucky 364 (Central and Eastern), KRS window 10:00-21:00: 10:00 Central to 20:00 Central.
    kentucky = parse("+13645550123")
    assert next_allowed(kentucky, local(NEW_YORK, 2026, 12, 7, 10, 30), POLICY) == local(CHICAGO, 2026, 12, 7, 10)
    assert next_allowed(kentucky, local(CHICAGO, 2026, 12, 7, 20, 0), POLICY) == local(CHICAGO, 2026, 12, 8, 10)


def test_dst_ends_in_a_multi_zone_number() -> None:
    # 2026-11-01, fall back. Idaho 208 spans Pacific and Mountain: at 07:30 PST (08:30 MST) Pacific is not
    # open; the answer is 08:00 PST, i.e. 16:00 UTC.
    idaho = parse("+12085550123")
    assert next_allowed(idaho, local(PACIFIC := "America/Los_Angeles", 2026, 11, 1, 7, 30), POLICY) == datetime(
        2026, 11, 1, 16, 0, tzinfo=UTC
    )
    assert next_allowed(idaho, local(PACIFIC, 2026, 11, 1, 8, 0), POLICY) is None


def test_the_configuration_regions_still_come_from_policy_from_config() -> None:
    policy = policy_from_config(("08:00", "21:00"), {"US-TX": ("10:00", "20:00"), "FR": ("10:00", "19:00")})
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2026, 12, 7, 9, 30), policy) == local(CHICAGO, 2026, 12, 7, 10)
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2026, 12, 7, 20, 0), policy) == local(CHICAGO, 2026, 12, 8, 10)
    # Sunday: the law's noon is later than the configured 10:00.
    assert next_allowed(parse(HOUSTON), local(CHICAGO, 2026, 12, 6, 11), policy) == local(CHICAGO, 2026, 12, 6, 12)
    paris = parse("+33612345678")
    assert next_allowed(paris, local("Europe/Paris", 2026, 12, 7, 9), policy) == local("Europe/Paris", 2026, 12, 7, 10)


@pytest.mark.parametrize(
    "number",
    ["+17135550123", "+14015550123", "+15045550123", "+14485550123", "+13645550123", "+19075550123", "+12155550123"],
)
def test_retry_at_is_allowed_and_nothing_earlier_is(number: str) -> None:
    # Every 5 hours 17 minutes through December 2026 (Christmas included): the answer is an allowed
    # instant, in UTC, and the minute before it is not allowed (it is the earliest).
    phone = parse(number)
    moment = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    while moment < datetime(2027, 1, 2, tzinfo=UTC):
        retry = next_allowed(phone, moment, POLICY)
        if retry is not None:
            assert retry.tzinfo is UTC
            assert retry > moment
            assert next_allowed(phone, retry, POLICY) is None
            before = retry - timedelta(minutes=1)
            assert before <= moment or next_allowed(phone, before, POLICY) is not None
        moment += timedelta(hours=5, minutes=17)
