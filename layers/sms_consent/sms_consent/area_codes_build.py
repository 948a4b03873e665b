"""Builds the area-code table that `area_codes` reads (`data/area_codes.csv`), from `phonenumbers`.

Not run in Lambda: the table ships as data. Regenerate it after upgrading `phonenumbers`
(`tests/unit/test_area_codes.py` fails until the shipped file matches):

    .venv/bin/python -m sms_consent.area_codes_build

For each NPA `phonenumbers` places in the US or Canada: the state or province its geocoder names (for
the NPA, else for its exchanges), and the union of the time zones its prefix data gives the NPA and
every exchange under it (the data is per exchange where an NPA straddles a zone line: 850, 270, 208,
...). Then the corrections below, each with its reason, where that data is wrong or incomplete: mostly
overlays that inherit only their parent NPA's first zone.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from sms_consent.area_codes import DATA_FILE, AreaCode, npa_fields

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
# "Washington State" (206, 509, ...) and "British Colombia" (257) are the geocoder's own spellings.
CA_PROVINCES = {
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Nova Scotia": "NS", "Nova Scotia/Prince Edward Island": "NS",
    "Ontario": "ON", "Prince Edward Island": "PE", "Quebec": "QC", "Saskatchewan": "SK",
    "Northwest Territories/Nunavut/Yukon": "NT", "Yukon": "YT", "Nunavut": "NU", "Northwest Territories": "NT",
}  # fmt: skip
EASTERN, CENTRAL, MOUNTAIN, PACIFIC = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
TORONTO, WINNIPEG, REGINA, EDMONTON, VANCOUVER = (
    "America/Toronto", "America/Winnipeg", "America/Regina", "America/Edmonton", "America/Vancouver"
)  # fmt: skip
BC = (VANCOUVER, EDMONTON, "America/Creston", "America/Dawson_Creek", "America/Fort_Nelson")
BC_WHY = "British Columbia: the East Kootenay is Mountain; Creston, Dawson Creek and Fort Nelson keep UTC-7 all year"
SASK = (REGINA, EDMONTON, WINNIPEG)
SASK_WHY = (
    "Saskatchewan keeps CST all year (America/Regina); Lloydminster keeps Alberta time; Creighton keeps "
    "Manitoba's (read as observed: the stricter reading)"
)

# The zones each NPA spans, replacing what `phonenumbers` gives, and why.
ZONE_CORRECTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "448": ((EASTERN, CENTRAL), "overlay of 850: the Florida panhandle west of the Apalachicola is Central"),
    "364": ((CENTRAL, EASTERN), "overlay of 270: western Kentucky is Central, part of south-central Kentucky Eastern"),
    "930": ((EASTERN, CENTRAL), "overlay of 812: southwest Indiana around Evansville is Central"),
    "458": ((PACIFIC, MOUNTAIN), "overlay of 541: Malheur County, Oregon, is Mountain"),
    "334": ((CENTRAL, EASTERN), "Phenix City, Smiths Station, Lanett and Valley, Alabama, keep Eastern time "
            "(de facto, beside Columbus, Georgia): the stricter reading"),
    "907": (("America/Anchorage", "America/Juneau", "America/Sitka", "America/Nome", "America/Adak"),
            "Alaska: phonenumbers puts 907-581 (Unalaska) in Pacific/Honolulu; Unalaska keeps Alaska time, "
            "and only the Aleutians west of 169.5 W keep Hawaii-Aleutian time (America/Adak)"),
    "581": ((TORONTO, "America/Halifax"), "overlay of 418: the Magdalen Islands keep Atlantic time"),
    "367": ((TORONTO, "America/Halifax"), "overlay of 418: the Magdalen Islands keep Atlantic time"),
    "306": (SASK, SASK_WHY),
    "639": (SASK, SASK_WHY),
    "474": (SASK, SASK_WHY + "; phonenumbers gives America/Winnipeg, which keeps daylight time"),
    "250": (BC, BC_WHY),
    "236": (BC, BC_WHY + " (236 overlays all of British Columbia)"),
    "672": (BC, BC_WHY + " (672 overlays all of British Columbia)"),
    "778": (BC, BC_WHY + " (778 overlays all of British Columbia)"),
    "257": (BC, BC_WHY + " (257 overlays all of British Columbia)"),
}  # fmt: skip
# NPAs the geocoder names no state or province for (none with phonenumbers 9.0.43; kept for the next).
REGION_CORRECTIONS: dict[str, str] = {}
# Known de facto observances NOT applied (reported, too small or too unsure to narrow a whole NPA):
# 580 Kenton, Oklahoma (Mountain, unincorporated); 256/938 Mentone and Valley Head, Alabama (Eastern,
# unsure); 432 the northwest corner of Culberson County, Texas (Mountain, uninhabited park land).
# An NPA with more zones than any one place spans covers the whole NANP (toll-free, personal): no place.
NON_GEOGRAPHIC_ZONES = 6
UNKNOWN_ZONE = "Etc/Unknown"
PROBE_EXCHANGES = ("234", "555", "720", "301", "870")


def _place(descriptions: list[str], country: str) -> str | None:
    names = US_STATES if country == "US" else CA_PROVINCES
    for description in descriptions:
        tail = description.rsplit(", ", 1)[-1]
        code = names.get(description) or names.get(tail) or (tail if tail in names.values() else None)
        if code:
            return f"{country}-{code}"
    return None


def generate() -> list[AreaCode]:
    """Every US and Canadian NPA `phonenumbers` knows, with its place and zones (corrections applied)."""
    import phonenumbers
    from phonenumbers.geodata import GEOCODE_DATA
    from phonenumbers.tzdata import TIMEZONE_DATA

    npas = sorted({key[1:4] for key in (*GEOCODE_DATA, *TIMEZONE_DATA) if key.startswith("1") and len(key) >= 4})
    table = []
    for npa in npas:
        prefix = f"1{npa}"
        probes = [phonenumbers.parse(f"+{prefix}{exchange}4567") for exchange in PROBE_EXCHANGES]
        number = next((probe for probe in probes if phonenumbers.is_valid_number(probe)), probes[0])
        country = phonenumbers.region_code_for_number(number)
        if country not in ("US", "CA"):
            continue
        zones = sorted({z for key, names in TIMEZONE_DATA.items() if key.startswith(prefix) for z in names})
        zones = [zone for zone in zones if zone != UNKNOWN_ZONE] or list(TIMEZONE_DATA.get(prefix, ()))
        if not zones or len(zones) > NON_GEOGRAPHIC_ZONES:
            continue
        own = [str(GEOCODE_DATA[prefix]["en"])] if "en" in GEOCODE_DATA.get(prefix, {}) else []
        exchanges = sorted(str(v["en"]) for k, v in GEOCODE_DATA.items() if k.startswith(prefix) and "en" in v)
        region = REGION_CORRECTIONS.get(npa) or _place(own + exchanges, country)
        correction = None
        if npa in ZONE_CORRECTIONS:
            corrected, correction = ZONE_CORRECTIONS[npa]
            zones = list(corrected)
        table.append(AreaCode(npa, country, region, tuple(zones), correction))
    return table


def to_csv(table: list[AreaCode]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(npa_fields())
    for entry in table:
        writer.writerow([entry.npa, entry.country, entry.region or "", " ".join(entry.zones), entry.correction or ""])
    return out.getvalue()


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else Path(__file__).parent / DATA_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    table = generate()
    target.write_text(to_csv(table), encoding="utf-8")
    print(f"{len(table)} area codes written to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
