"""The North American area-code table: each US and Canadian NPA with its state or province and every
time zone it spans.

The table is data shipped in the layer (`data/area_codes.csv`), read once per process; nothing is
generated at a cold start. `area_codes_build` made it from `phonenumbers`' metadata (its geocoder
names the place, its prefix data the zones of the NPA and of every exchange under it) plus documented
corrections where that metadata is wrong or incomplete; an entry's `correction` says why its zones
differ. A number's quiet hours are judged in every zone of its NPA: a number from an NPA that
straddles a zone line may be on either side of it (and mobile numbers move).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

from sms_consent.phones import PhoneInfo

DATA_FILE = "data/area_codes.csv"


@dataclass(frozen=True, slots=True)
class AreaCode:
    npa: str
    country: str  # "US" or "CA"
    region: str | None  # "US-FL", "CA-ON"; None where nothing names it
    zones: tuple[str, ...]  # IANA names, every zone the NPA spans
    correction: str | None = None  # why the zones differ from phonenumbers', when they do


def npa_fields() -> list[str]:
    return ["npa", "country", "region", "zones", "correction"]


@cache
def table() -> dict[str, AreaCode]:
    text = resources.files("sms_consent").joinpath(DATA_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text))
    if rows.fieldnames != npa_fields():
        raise ValueError(f"{DATA_FILE}: unexpected columns {rows.fieldnames}")
    return {
        row["npa"]: AreaCode(
            row["npa"], row["country"], row["region"] or None, tuple(row["zones"].split()), row["correction"] or None
        )
        for row in rows
    }


def area_code(npa: str) -> AreaCode | None:
    """The NPA's entry, or None when it is not a geographic US or Canadian area code."""
    return table().get(npa)


def for_phone(phone: PhoneInfo) -> AreaCode | None:
    if not phone.e164.startswith("+1") or len(phone.e164) != 12:
        return None
    return area_code(phone.e164[2:5])


def all_area_codes() -> list[AreaCode]:
    """Every entry, in NPA order (for coverage figures and tests)."""
    return [entry for _, entry in sorted(table().items())]
