"""What each audit event adds to its program's daily figures, and the figures read back for a period.

Pure domain code: storage keeps one counter per name and day (repository.metrics), summed over a
period. Durations are kept as histograms in fixed buckets, not as samples, so that a period's median
is read from a few counters whatever the volume; the median is reported as the upper bound of its
bucket ("half confirmed within 120 seconds").

The FCC's timers:
- an opt-out by text is confirmed within 5 minutes: the time from the consumer's message to the
  recorded opt-out (the confirmation leaves in the same invocation);
- a revocation made by other reasonable means (a call, an email, a store) is honoured within 10
  business days of the request: the API's `requested_at` to the recorded opt-out, counted in US
  business days (weekdays but federal holidays).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

from sms_consent.consent import AuditEvent, EventType, Source, Status

# Upper bounds of the duration buckets, in seconds; a last, open bucket holds the rest.
DELAY_BOUNDS = (10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400, 259200, 604800)
OPT_OUT_CONFIRMATION_LIMIT = 300  # seconds: the FCC's 5 minutes
REVOCATION_LIMIT_BUSINESS_DAYS = 10
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _label(text: str) -> str:
    """A counter-name-safe label (keywords are configured words, but the name must stay bounded)."""
    return _UNSAFE.sub("_", text.upper())[:24] or "_"


def delay_bucket(seconds: float) -> int:
    return next((index for index, bound in enumerate(DELAY_BOUNDS) if seconds <= bound), len(DELAY_BOUNDS))


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@cache
def _federal_holidays(year: int) -> frozenset[date]:
    import holidays

    return frozenset(holidays.country_holidays("US", years=year))


def business_days_between(start: datetime, end: datetime) -> int:
    """US business days after the day of `start`, up to and including the day of `end` (UTC days)."""
    day, last, count = start.date(), end.date(), 0
    while day < last:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in _federal_holidays(day.year):
            count += 1
    return count


def day_figures(event: AuditEvent) -> Counter[str]:
    """The counters one audit event adds to its program's day (`at`'s UTC day)."""
    found: Counter[str] = Counter()
    if event.program is None:
        return found
    keyword = event.evidence.get("keyword") if event.source == Source.KEYWORD else None
    if event.event_type is EventType.GRANTED:
        found["opt_ins"] += 1
        found[f"opt_ins_source_{_label(event.source)}"] += 1
        if isinstance(keyword, str) and keyword:
            found[f"opt_ins_keyword_{_label(keyword)}"] += 1
        if event.evidence.get("double_opt_in"):
            found["confirmations"] += 1
            prompted = _parse(event.evidence.get("prompt_requested_at"))
            if prompted is not None:
                found[f"confirm_delay_{delay_bucket((event.at - prompted).total_seconds()):02d}"] += 1
    elif event.event_type is EventType.REVOKED:
        found["opt_outs"] += 1
        found[f"opt_outs_source_{_label(event.source)}"] += 1
        if isinstance(keyword, str) and keyword:
            found[f"opt_outs_keyword_{_label(keyword)}"] += 1
        received = _parse(event.evidence.get("received_at")) if event.source == Source.KEYWORD else None
        if received is not None:
            found[f"opt_out_delay_{delay_bucket((event.at - received).total_seconds()):02d}"] += 1
        requested = _parse(event.evidence.get("requested_at"))
        if requested is not None:
            late = business_days_between(requested, event.at) > REVOCATION_LIMIT_BUSINESS_DAYS
            found["revocations_late" if late else "revocations_on_time"] += 1
    elif event.event_type is EventType.DOUBLE_OPT_IN_REQUESTED:
        found["prompts"] += 1
    return found


def subscriber_change(event: AuditEvent) -> int:
    """What one audit event adds to the program's running subscriber count."""
    if event.program is None:
        return 0
    if event.event_type is EventType.GRANTED:
        return 1
    if event.event_type is EventType.REVOKED:
        return -1 if event.old_status == Status.SUBSCRIBED else 0
    return 0


@dataclass(frozen=True, slots=True)
class Timer:
    """A duration's distribution over a period: the median's bucket bound and the count per limit."""

    median_seconds: int | None  # at most this many seconds for half of them; None: none measured
    within_limit: int
    over_limit: int


def _histogram(counts: Mapping[str, int], prefix: str) -> list[int]:
    return [int(counts.get(f"{prefix}{index:02d}", 0)) for index in range(len(DELAY_BOUNDS) + 1)]


def timer(counts: Mapping[str, int], prefix: str, limit_seconds: int) -> Timer:
    histogram = _histogram(counts, prefix)
    total = sum(histogram)
    limit_bucket = delay_bucket(limit_seconds)
    within = sum(histogram[: limit_bucket + 1])
    if not total:
        return Timer(None, 0, 0)
    running, median = 0, None
    for index, count in enumerate(histogram):
        running += count
        if running * 2 >= total:
            median = DELAY_BOUNDS[index] if index < len(DELAY_BOUNDS) else None
            break
    return Timer(median, within, total - within)


def _breakdown(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    found = {name[len(prefix) :].lower(): int(value) for name, value in counts.items() if name.startswith(prefix)}
    return {key: value for key, value in sorted(found.items()) if value}


@dataclass(frozen=True, slots=True)
class ProgramFigures:
    """A program's figures over a period, and its subscribers now."""

    program: str
    counts: Mapping[str, int]
    subscribers: int

    def _count(self, name: str) -> int:
        return int(self.counts.get(name, 0))

    @property
    def opt_ins(self) -> int:
        return self._count("opt_ins")

    @property
    def opt_outs(self) -> int:
        return self._count("opt_outs")

    @property
    def prompts(self) -> int:
        return self._count("prompts")

    @property
    def confirmations(self) -> int:
        return self._count("confirmations")

    @property
    def double_opt_in_conversion(self) -> float | None:
        return round(self.confirmations / self.prompts, 4) if self.prompts else None

    def by_source(self, kind: str) -> dict[str, int]:
        return _breakdown(self.counts, f"{kind}_source_")

    def by_keyword(self, kind: str) -> dict[str, int]:
        return {key.upper(): value for key, value in _breakdown(self.counts, f"{kind}_keyword_").items()}

    @property
    def time_to_confirm(self) -> Timer:
        return timer(self.counts, "confirm_delay_", DELAY_BOUNDS[-1])

    @property
    def opt_out_confirmation(self) -> Timer:
        return timer(self.counts, "opt_out_delay_", OPT_OUT_CONFIRMATION_LIMIT)

    @property
    def hygiene_reminders(self) -> int:
        """List-hygiene reminders the runs handed to the gate (quiet hours may defer them, a cap deny)."""
        return self._count("hygiene_reminders")

    @property
    def hygiene_removals(self) -> int:
        """Subscribers removed by list hygiene: folded from the audit events (source list_hygiene)."""
        return int(self.by_source("opt_outs").get("list_hygiene", 0))

    @property
    def engaged_share(self) -> float | None:
        """Of the subscribers whose reminder came due in the period, the share that had texted recently
        enough to be skipped (engagement as list hygiene sees it); None when none came due."""
        audited = self._count("hygiene_audited")
        return round(self._count("hygiene_engaged") / audited, 4) if audited else None

    @property
    def revocations(self) -> tuple[int, int]:
        """(honoured within 10 business days of the request, honoured later)."""
        return self._count("revocations_on_time"), self._count("revocations_late")
