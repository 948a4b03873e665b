"""The North American area-code table: each US and Canadian NPA with its state or province and every
time zone it spans.

Built from `phonenumbers`' own metadata (its geocoder names the state, its prefix data the zones), one
NPA at a time and cached, plus the corrections below where that metadata is wrong or incomplete. A
number's quiet hours are judged in every zone of its NPA: a number from an NPA that straddles a zone
line may be on either side of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sms_consent.phones import PhoneInfo

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA", "Colorado": "CO",
    "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC", "Washington D.C.": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN",
    "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO",
    "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ",
    "New Mexico": "NM", "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH",
    "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
# "British Colombia" and "Washington State" are how phonenumbers' geocoder writes them (257; 206, 509, ...).
CA_PROVINCES = {
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Nova Scotia/Prince Edward Island": "NS",
    "Ontario": "ON", "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK",
    "Northwest Territories/Nunavut/Yukon": "NT", "Yukon": "YT", "Nunavut": "NU", "Northwest Territories": "NT",
}  # fmt: skip
EASTERN, CENTRAL, MOUNTAIN, PACIFIC = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"

# NPAs whose zones `phonenumbers` gives incompletely: each spans a zone line that its data misses.
ZONE_CORRECTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "850": ((EASTERN, CENTRAL), "Florida panhandle: Eastern east of the Apalachicola, Central west of it"),
    "448": ((EASTERN, CENTRAL), "overlay of 850"),
    "270": ((CENTRAL, EASTERN), "western Kentucky is Central, part of south-central Kentucky Eastern"),
    "364": ((CENTRAL, EASTERN), "overlay of 270"),
    "423": ((EASTERN, CENTRAL), "east Tennessee is Eastern (phonenumbers says Central only)"),
    "219": ((CENTRAL, EASTERN), "northwest Indiana (Lake, Porter, LaPorte) is Central (phonenumbers says Eastern)"),
    "812": ((EASTERN, CENTRAL), "southwest Indiana around Evansville is Central"),
    "930": ((EASTERN, CENTRAL), "overlay of 812"),
    "906": ((EASTERN, CENTRAL), "four Upper Peninsula counties bordering Wisconsin are Central"),
    "541": ((PACIFIC, MOUNTAIN), "Malheur County, Oregon, is Mountain"),
    "458": ((PACIFIC, MOUNTAIN), "overlay of 541"),
    "308": ((CENTRAL, MOUNTAIN), "the Nebraska panhandle is Mountain"),
    "620": ((CENTRAL, MOUNTAIN), "four southwest Kansas counties are Mountain"),
    "785": ((CENTRAL, MOUNTAIN), "northwest Kansas (Sherman, Wallace, ...) is Mountain"),
    "605": ((CENTRAL, MOUNTAIN), "western South Dakota is Mountain"),
}
# More zones than any one place spans: the code is not geographic (it covers the whole NANP).
NON_GEOGRAPHIC_ZONES = 6
# Exchanges tried when looking an NPA up: any one that `phonenumbers` accepts as a valid number will do.
PROBE_EXCHANGES = ("234", "555", "720", "301", "870")


@dataclass(frozen=True, slots=True)
class AreaCode:
    npa: str
    country: str  # "US" or "CA"
    region: str | None  # "US-FL", "CA-ON"; None where nothing names it
    zones: tuple[str, ...]
    correction: str | None = None  # why the zones differ from phonenumbers', when they do


@cache
def area_code(npa: str) -> AreaCode | None:
    """The NPA's entry, or None when it is not a US or Canadian area code in use."""
    import phonenumbers
    from phonenumbers import geocoder, timezone

    for exchange in PROBE_EXCHANGES:
        number = phonenumbers.parse(f"+1{npa}{exchange}4567")
        if phonenumbers.is_valid_number(number):
            break
    else:
        return None
    country = phonenumbers.region_code_for_number(number)
    if country not in ("US", "CA"):
        return None
    zones = tuple(zone for zone in timezone.time_zones_for_number(number) if zone != "Etc/Unknown")
    if len(zones) > NON_GEOGRAPHIC_ZONES:
        return None  # toll-free, personal and other non-geographic codes: no place, no table entry
    description = str(geocoder.description_for_number(number, "en"))
    names = US_STATES if country == "US" else CA_PROVINCES
    tail = description.rsplit(", ", 1)[-1]
    code = names.get(description) or names.get(tail) or (tail if tail in names.values() else None)
    correction = None
    if npa in ZONE_CORRECTIONS:
        zones, correction = ZONE_CORRECTIONS[npa]
    return AreaCode(npa, country, f"{country}-{code}" if code else None, zones, correction)


def for_phone(phone: PhoneInfo) -> AreaCode | None:
    if not phone.e164.startswith("+1") or len(phone.e164) != 12:
        return None
    return area_code(phone.e164[2:5])


def all_area_codes() -> list[AreaCode]:
    """Every US and Canadian NPA `phonenumbers` knows (for coverage figures and tests)."""
    return [entry for npa in range(200, 1000) if (entry := area_code(str(npa))) is not None]
