"""Time: the clock port, UTC conversions, ISO-8601 text, and fixed windows aligned to the epoch.

Every module that needs "now" takes a `Clock`; every window (frequency caps, rate limits, detector
buckets) is computed here, so that a window means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: consent times are always timezone-aware")
    return value.astimezone(UTC)


def iso(value: datetime) -> str:
    return utc(value).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def fixed_window(moment: datetime, length: timedelta) -> tuple[int, int]:
    """(start, end) in epoch seconds of the window of `length` that holds `moment`, aligned to the epoch."""
    seconds = max(int(length.total_seconds()), 1)
    epoch = int(moment.timestamp())
    start = epoch - epoch % seconds
    return start, start + seconds


def window_start(moment: datetime, length: timedelta) -> datetime:
    """The start of the fixed window holding `moment`, in `moment`'s time zone."""
    return datetime.fromtimestamp(fixed_window(moment, length)[0], tz=moment.tzinfo)
