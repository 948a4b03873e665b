"""Reassigned numbers: consent given by a number's previous holder does not pass to the next one.

The FCC's Reassigned Numbers Database (RND) answers, for a number and a date, whether the number was
permanently disconnected on or after that date: `yes`, `no`, or `no_data` (the database holds nothing
that old: its data starts on 2021-01-27). Before a marketing send to a number whose consent is older
than the configured age, the gate asks for every such recipient of the request in one batch. A `yes`
denies the send (`NUMBER_REASSIGNED`) and ends the consent the previous holder gave.

Pure domain code: the database is a port (`ports.ReassignedNumbers`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sms_consent import consent
from sms_consent.clock import iso, utc
from sms_consent.consent import NumberState, Source, Status

# A provider must age a disconnected number at least 45 days before giving it to someone else
# (FCC 18-177): consent younger than that cannot have passed to a new holder yet.
DEFAULT_CHECK_AFTER_DAYS = 45
# The database holds numbers of US providers: the US and the territories that share +1 with it.
RND_REGIONS = frozenset({"US", "PR", "VI", "GU", "AS", "MP"})


class RndAnswer(StrEnum):
    YES = "yes"  # permanently disconnected on or after the date: the consent's holder has gone
    NO = "no"
    NO_DATA = "no_data"  # nothing reported that far back: the consent stands, unverified


@dataclass(frozen=True, slots=True)
class RndQuery:
    phone: str  # E.164
    consent_date: date  # the UTC date the consent was given (or last confirmed)


@dataclass(frozen=True, slots=True)
class ReassignedCheck:
    """What the gate asked about one recipient, and the answer; None: the database could not answer."""

    query: RndQuery
    answer: RndAnswer | None


def consent_date(state: NumberState, program: str) -> date | None:
    """When the program's subscription was decided (a newer confirmation moves it), or None if not subscribed."""
    current = state.programs.get(program)
    if current is None or current.status is not Status.SUBSCRIBED:
        return None
    return utc(current.decided_at).date()


def query_for(
    phone: str, country: str, state: NumberState, program: str, now: datetime, check_after: timedelta
) -> RndQuery | None:
    """The question to ask about a subscribed recipient, if its consent is old enough to need one."""
    given = consent_date(state, program)
    if given is None or country not in RND_REGIONS:
        return None
    if utc(now).date() - given < check_after:
        return None
    return RndQuery(phone, given)


def end_reassigned_consent(
    state: NumberState, query: RndQuery, *, database: str, now: datetime, extra: Mapping[str, Any]
) -> consent.Change:
    """The number was disconnected on or after `query.consent_date`: every subscription given on or
    before that date belonged to its previous holder and ends. One given later (by the new holder,
    perhaps while the gate was deciding) stands. Not a consumer opt-out: nobody who holds the number
    asked for it, so it is not mirrored to the provider's opt-out list; see `consent.may_subscribe_directly`."""
    changes = [consent.Change(state)]
    for program in sorted(state.programs):
        given = consent_date(changes[-1].state, program)
        if given is None or given > query.consent_date:
            continue
        evidence = {
            **extra,
            "reassigned_numbers_answer": RndAnswer.YES.value,
            "database": database,
            "queried_consent_date": query.consent_date.isoformat(),
            "consent_date": given.isoformat(),
            "meaning": f"permanently disconnected on or after {query.consent_date.isoformat()}",
            "checked_at": iso(now),
        }
        changes.append(
            consent.revoke(
                changes[-1].state, program, source=Source.REASSIGNED_NUMBERS, at=now, now=now, evidence=evidence
            )
        )
    return consent.merge(*changes)
