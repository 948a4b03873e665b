"""When marketing texts may reach a number, by the law of the place the number belongs to.

Each rule is data: the region, the statute, the day it took effect, the local sending window for each
weekday (None: no marketing that day), whether the state's legal holidays are barred, and a cap on
marketing messages where the statute sets one. Where a reading of a statute was uncertain, the rule
takes the stricter one and says so in `note` (a deferral costs minutes; a violation costs a lawsuit).
The program configuration may still override a region's window (`quiet_hours.regions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import cache

Window = tuple[time, time]  # local [start, end)


def _every_day(start: int, end: int) -> tuple[Window | None, ...]:
    return ((time(start), time(end)),) * 7


@dataclass(frozen=True, slots=True)
class StateRule:
    region: str  # "US-TX"; "US" is the federal floor
    citation: str
    effective: date
    days: tuple[Window | None, ...]  # Monday .. Sunday
    holidays_barred: bool = False
    cap: tuple[int, timedelta] | None = None  # marketing messages per program in any rolling window
    note: str = ""

    def window_on(self, day: date) -> Window | None:
        if self.holidays_barred and is_holiday(self.region, day):
            return None
        return self.days[day.weekday()]


FEDERAL = StateRule("US", "47 CFR 64.1200(c)(1) (TCPA)", date(1992, 12, 20), _every_day(8, 21))
CAP_3_PER_DAY = (3, timedelta(hours=24))
NO_SUNDAY_8_TO_8: tuple[Window | None, ...] = ((time(8), time(20)),) * 6 + (None,)

RULES: dict[str, StateRule] = {
    rule.region: rule
    for rule in (
        StateRule("US-FL", "Fla. Stat. 501.616(6)", date(2021, 7, 1), _every_day(8, 20), cap=CAP_3_PER_DAY,
                  note="the cap counts messages 'on the same subject': read per program"),
        StateRule("US-OK", "15 Okla. Stat. 775C.4", date(2022, 11, 1), _every_day(8, 20), cap=CAP_3_PER_DAY,
                  note="the cap counts messages 'on the same subject': read per program"),
        StateRule("US-MD", "Md. Code, Com. Law 14-4503 (Stop the Spam Calls Act)", date(2024, 1, 1),
                  _every_day(8, 20), cap=CAP_3_PER_DAY,
                  note="effective date read as 2024-01-01; the cap counts messages on the same subject"),
        StateRule("US-TX", "Tex. Bus. & Com. Code 301.051, applied to texts by SB 140", date(2025, 9, 1),
                  ((time(9), time(21)),) * 6 + ((time(12), time(21)),)),
        StateRule("US-CT", "Conn. Gen. Stat. 42-288a (as amended by PA 23-98)", date(2023, 10, 1), _every_day(9, 20)),
        StateRule("US-WA", "RCW 80.36.390", date(2005, 7, 24), _every_day(8, 20)),
        StateRule("US-MS", "Miss. Code 77-3-725", date(2003, 7, 1), NO_SUNDAY_8_TO_8,
                  note="no telephone solicitation on Sunday"),
        StateRule("US-LA", "La. R.S. 45:844.14", date(2003, 8, 15), NO_SUNDAY_8_TO_8, holidays_barred=True,
                  note="citation not verified offline; Sundays and legal holidays barred, 08:00-20:00 otherwise"),
        StateRule("US-AL", "Alabama telephone solicitation rules (section not verified)", date(2004, 1, 1),
                  NO_SUNDAY_8_TO_8, holidays_barred=True,
                  note="section and date not verified offline; read as no Sundays or state holidays, 08:00-20:00"),
        StateRule("US-RI", "R.I. Gen. Laws 5-61-3.5", date(2003, 7, 1),
                  ((time(9), time(18)),) * 5 + ((time(10), time(17)), None), holidays_barred=True),
        StateRule("US-MA", "Mass. Gen. Laws c. 159C, s. 3", date(2003, 4, 1), _every_day(8, 20),
                  note="the statute's 8 a.m. to 8 p.m. window"),
        StateRule("US-KY", "KRS 367.46955", date(2002, 7, 15), _every_day(10, 21),
                  note="window read as 10:00-21:00; to be confirmed"),
    )
}  # fmt: skip


def rule_for(region: str | None, day: date) -> StateRule:
    """The region's rule in force on `day`, or the federal floor."""
    rule = RULES.get(region or "")
    return rule if rule is not None and day >= rule.effective else FEDERAL


@cache
def _holidays(region: str, year: int) -> frozenset[date]:
    import holidays

    country, _, subdivision = region.partition("-")
    return frozenset(holidays.country_holidays(country, subdiv=subdivision or None, years=year))


def is_holiday(region: str, day: date) -> bool:
    return day in _holidays(region, day.year)
