"""Breakers that stop traffic to a country or a 1k-number prefix while pumping is suspected."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sms_consent.phones import PhoneInfo

ESCALATION = (timedelta(minutes=30), timedelta(hours=2), timedelta(hours=12))


@dataclass(frozen=True, slots=True)
class Breaker:
    dimension: str  # "country", "area" or "prefix" ("ip" at the opt-in API)
    key: str  # "FR", "+3361234"
    rule: str
    opened_at: datetime
    expires_at: datetime
    trips: tuple[datetime, ...] = ()
    # Whether the provider's protect configuration was told: None (never), "blocked", "released".
    protect: str | None = None
    # A watch, on a programs' own country: it refuses nothing (closing the country would refuse every
    # consented message and sign-up there) and is never pushed to the protect configuration; while it
    # is open the country is half-open (`pumping.half_open`): its prompts get only the half-open budget.
    watch: bool = False

    def is_open(self, now: datetime) -> bool:
        return now < self.expires_at


def escalated_duration(trips_in_window: int) -> timedelta:
    """30 minutes for a first trip, 2 hours for a second within 7 days, 12 hours from the third."""
    return ESCALATION[min(max(trips_in_window, 1), len(ESCALATION)) - 1]


def blocking(
    phone: PhoneInfo, open_breakers: Mapping[tuple[str, str], Breaker], *, client_ip: str | None = None
) -> Breaker | None:
    """The open breaker that covers this number (or, at the opt-in API, the client's IP), if any.
    Watches stop nothing."""
    scopes = [("prefix", phone.prefix), *([("area", phone.area)] if phone.area else []), ("country", phone.country)]
    if client_ip:
        scopes.append(("ip", client_ip))
    for scope in scopes:
        found = open_breakers.get(scope)
        if found is not None and not found.watch:
            return found
    return None


@dataclass(frozen=True, slots=True)
class Trip:
    rule: str
    dimension: str
    key: str
    figures: dict[str, float | int | str]
    baseline: dict[str, float | int | str]

    @property
    def breaker(self) -> tuple[str, str] | None:
        """What to stop: the country or prefix (IP fan-out stops the IP at the opt-in API)."""
        return (self.dimension, self.key)
