"""The area-code table shipped in the layer: it matches what the generator makes from the pinned
`phonenumbers`, names a place and a zone for every NPA, and carries the documented zone corrections."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers.tzdata import TIMEZONE_DATA

from sms_consent import area_codes, area_codes_build
from sms_consent.phones import parse
from sms_consent.quiet_hours import region_of

EASTERN, CENTRAL, MOUNTAIN, PACIFIC = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"


def zones(npa: str) -> set[str]:
    entry = area_codes.area_code(npa)
    assert entry is not None, npa
    return set(entry.zones)


def test_the_shipped_table_is_what_the_generator_makes() -> None:
    # Fails after a phonenumbers upgrade until `python -m sms_consent.area_codes_build` is run again.
    assert area_codes.all_area_codes() == area_codes_build.generate()


def test_every_npa_phonenumbers_knows_has_a_place_and_a_real_zone() -> None:
    table = area_codes.all_area_codes()
    assert len(table) >= 410
    assert all(entry.region for entry in table), [entry.npa for entry in table if not entry.region]
    assert all(entry.zones for entry in table)
    for name in {zone for entry in table for zone in entry.zones}:
        ZoneInfo(name)  # every zone is a real IANA name
    assert {entry.country for entry in table} == {"US", "CA"}
    assert len({entry.region for entry in table if entry.country == "US"}) == 51  # 50 states and DC
    assert len({entry.region for entry in table if entry.country == "CA"}) >= 10
    # Every NPA with a valid geographic number (US, Canada, or another NANP country: then absent) is placed.
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}2345678")
        if phonenumbers.is_valid_number(number) and phonenumbers.is_number_geographical(number):
            in_table = area_codes.area_code(str(npa)) is not None
            assert in_table == (phonenumbers.region_code_for_number(number) in ("US", "CA")), npa


def test_non_geographic_and_foreign_codes_are_not_in_it() -> None:
    assert area_codes.area_code("800") is None  # toll-free
    assert area_codes.area_code("876") is None  # Jamaica
    assert area_codes.for_phone(parse("+33612345678")) is None


def test_the_geocoder_s_own_spellings_are_placed() -> None:
    assert region_of(parse("+12065550123")) == "US-WA"  # "Washington State"
    assert region_of(parse("+15095550123")) == "US-WA"
    assert area_codes.area_code("257") is not None
    assert area_codes.area_code("257").region == "CA-BC"  # type: ignore[union-attr]  # "British Colombia"
    assert region_of(parse("+12025550123")) == "US-DC"  # "Washington D.C."
    assert area_codes.area_code("310").region == "US-CA"  # type: ignore[union-attr]  # placed by its exchanges only


@pytest.mark.parametrize(
    ("npa", "expected"),
    [
        ("850", {EASTERN, CENTRAL}),  # Florida panhandle (phonenumbers: per exchange)
        ("448", {EASTERN, CENTRAL}),  # its overlay (corrected)
        ("270", {CENTRAL, EASTERN}),  # Kentucky
        ("364", {CENTRAL, EASTERN}),  # its overlay (corrected)
        ("915", {MOUNTAIN}),  # El Paso
        ("208", {"America/Boise", MOUNTAIN, PACIFIC}),  # Idaho: the panhandle is Pacific
        ("986", {"America/Boise", PACIFIC}),
        ("541", {PACIFIC, MOUNTAIN}),  # Oregon: Malheur County
        ("458", {PACIFIC, MOUNTAIN}),  # (corrected)
        ("308", {CENTRAL, MOUNTAIN}),  # Nebraska panhandle
        ("620", {CENTRAL, MOUNTAIN}),  # Kansas
        ("785", {CENTRAL, MOUNTAIN}),
        ("701", {CENTRAL, MOUNTAIN, "America/North_Dakota/Center"}),
        ("605", {CENTRAL, MOUNTAIN, "America/North_Dakota/Center"}),
        ("423", {EASTERN, CENTRAL}),  # Tennessee
        ("931", {CENTRAL}),
        ("219", {CENTRAL, EASTERN}),  # Indiana
        ("812", {EASTERN, CENTRAL}),
        ("930", {EASTERN, CENTRAL}),  # (corrected)
        ("906", {EASTERN, CENTRAL}),  # Michigan's Upper Peninsula
        ("334", {CENTRAL, EASTERN}),  # Phenix City (corrected)
        ("474", {"America/Regina", "America/Edmonton", "America/Winnipeg"}),  # (corrected)
    ],
)
def test_zones_of_npas_that_straddle_a_line(npa: str, expected: set[str]) -> None:
    assert zones(npa) == expected


def test_alaska_is_not_put_in_hawaii() -> None:
    assert TIMEZONE_DATA["1907581"] == ("Pacific/Honolulu",)  # what phonenumbers says of Unalaska
    assert "Pacific/Honolulu" not in zones("907")
    assert {"America/Anchorage", "America/Adak"} <= zones("907")


def test_every_correction_is_documented_and_changes_what_phonenumbers_says() -> None:
    corrected = {entry.npa: entry for entry in area_codes.all_area_codes() if entry.correction}
    assert set(corrected) == set(area_codes_build.ZONE_CORRECTIONS)
    for npa, entry in corrected.items():
        raw = {z for key, names in TIMEZONE_DATA.items() if key.startswith(f"1{npa}") for z in names}
        assert set(entry.zones) != raw, npa
        assert len(entry.correction or "") > 10


def test_the_csv_round_trips() -> None:
    text = area_codes_build.to_csv(area_codes.all_area_codes())
    assert text.splitlines()[0] == ",".join(area_codes.npa_fields())
    assert len(text.splitlines()) == len(area_codes.all_area_codes()) + 1
