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
SAME_SUBJECT = "the cap counts messages 'on the same subject matter or issue': read per program"

# Every state rule stricter than (or, for NJ, restating) the federal floor. "unsure:" in a note marks a
# citation, date or reading not verified against the statute's text; the data then takes the stricter
# reading. Many of these statutes exempt consented or existing-relationship messages; the gate applies
# them anyway (the stricter reading: consent evidence is disputed more often than it is missing).
RULES: dict[str, StateRule] = {
    rule.region: rule
    for rule in (
        StateRule("US-FL", "Fla. Stat. 501.616(6)(a) hours, (6)(b) cap (SB 1120, 2021)", date(2021, 7, 1),
                  _every_day(8, 20), cap=CAP_3_PER_DAY, note=SAME_SUBJECT),
        StateRule("US-OK", "15 Okla. Stat. 775C.4 (Telephone Solicitation Act of 2022)", date(2022, 11, 1),
                  _every_day(8, 20), cap=CAP_3_PER_DAY, note=SAME_SUBJECT),
        StateRule("US-MD", "Md. Code, Com. Law 14-4502/14-4503 (Stop the Spam Calls Act of 2023, SB 90)",
                  date(2024, 1, 1), _every_day(8, 20), cap=CAP_3_PER_DAY,
                  note=f"{SAME_SUBJECT}; unsure: in force 2024-01-01 by the enacted bill (a brief said "
                       "2025-01-01; the earlier date is the stricter reading); hours and cap may sit in "
                       "14-4502 rather than 14-4503"),
        StateRule("US-TX", "Tex. Bus. & Com. Code 301.051 (hours); texts covered by SB 140 (2025)", date(2025, 9, 1),
                  ((time(9), time(21)),) * 6 + ((time(12), time(21)),),
                  note="unsure: a brief cited 304.255; the hours are in chapter 301 (9-9 Mon-Sat, noon-9 Sun)"),
        StateRule("US-CT", "Conn. Gen. Stat. 42-288a(c) (as amended by PA 23-98)", date(2023, 10, 1),
                  _every_day(9, 20)),
        StateRule("US-WA", "RCW 80.36.390(3)", date(2005, 7, 24), _every_day(8, 20),
                  note="unsure: effective date is the section's last amendment as remembered; the window is not"),
        StateRule("US-MS", "Miss. Code 77-3-725", date(2003, 7, 1), NO_SUNDAY_8_TO_8, holidays_barred=True,
                  note="no solicitation on Sunday; unsure: legal holidays read as barred (the stricter reading; "
                       "compliance calendars list Mississippi's holidays as restricted)"),
        StateRule("US-LA", "La. R.S. 45:844.14; La. PSC General Order R-29617 s. V(A)", date(2003, 8, 15),
                  NO_SUNDAY_8_TO_8, holidays_barred=True,
                  note="unsure: section and date not verified offline; Sundays and every state legal holiday "
                       "of the holidays package barred (the PSC lists fewer: the stricter reading)"),
        StateRule("US-AL", "Ala. Admin. Code r. 770-X-5-.19 (PSC telephone solicitation rule); Ala. Code 8-19A",
                  date(2004, 1, 1), NO_SUNDAY_8_TO_8, holidays_barred=True,
                  note="unsure: section and date not verified offline; read as no Sundays or state holidays, "
                       "08:00-20:00 otherwise, for every sender (the rule may bind only PSC licensees)"),
        StateRule("US-RI", "R.I. Gen. Laws 5-61-3.5", date(2003, 7, 1),
                  ((time(9), time(18)),) * 5 + ((time(10), time(17)), None), holidays_barred=True),
        StateRule("US-MA", "Mass. Gen. Laws c. 159C, s. 3", date(2003, 4, 1), _every_day(8, 20),
                  note="unsure: the 08:00-20:00 window as remembered"),
        StateRule("US-KY", "KRS 367.46955(15)", date(2002, 7, 15), _every_day(10, 21),
                  note="unsure: subsection; window read as 10:00-21:00 as compliance charts give it"),
        StateRule("US-MI", "Mich. Comp. Laws 445.111b", date(2003, 1, 1), _every_day(9, 21),
                  note="unsure: section and date; window read as 09:00-21:00"),
        StateRule("US-MN", "Minn. Stat. 325E.27", date(1988, 8, 1), _every_day(9, 21),
                  note="unsure: the section may reach only recorded messages; read as 09:00-21:00 for all"),
        StateRule("US-UT", "Utah Code 13-25a-103", date(2004, 5, 3), ((time(8), time(21)),) * 6 + (None,),
                  holidays_barred=True,
                  note="unsure: section and date; no Sundays or legal holidays, 08:00-21:00 otherwise"),
        StateRule("US-PA", "73 P.S. 2245(a) (Telemarketer Registration Act)", date(1996, 12, 19),
                  ((time(8), time(21)),) * 6 + ((time(13, 30), time(21)),), holidays_barred=True,
                  note="unsure: Sunday read as 13:30-21:00; the statute names some legal holidays, read as "
                       "every Pennsylvania holiday (the stricter reading)"),
        StateRule("US-NJ", "N.J.S.A. 56:8-130; N.J.A.C. 13:45D-4.1", date(2003, 10, 1), _every_day(8, 21),
                  note="the federal window, restated; unsure: section numbers"),
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
