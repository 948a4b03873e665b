"""Sign-up rate-limit counters on the table (moto): a limit holds under concurrent requests, several limits
are taken all or none, and windows are fixed and aligned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from sms_consent.ports import RateLimit
from tests.conftest import AwsStack, stores

NOW = datetime(2026, 12, 1, 10, 17, 5, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.mark.usefixtures("atomic_requests")
def test_concurrent_requests_never_pass_a_limit_together(aws_stack: AwsStack) -> None:
    limit = RateLimit("ip", "198.51.100.7", 3, HOUR)
    passed: list[bool] = []
    start = threading.Barrier(12)

    def attempt() -> None:
        start.wait()
        passed.append(stores().rate_limits.consume([limit], NOW) is None)

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert passed.count(True) == 3
    assert stores().rate_limits.hits(limit, NOW) == 3


def test_several_limits_are_taken_all_or_none(aws_stack: AwsStack) -> None:
    number = RateLimit("number", "+14155550142", 5, timedelta(days=1))
    prefix = RateLimit("prefix", "+14155550", 2, HOUR)

    results = [stores().rate_limits.consume([number, prefix], NOW) for _ in range(3)]

    assert results[:2] == [None, None]
    refusal = results[2]
    assert refusal is not None
    assert refusal.limit == prefix
    assert refusal.retry_at == datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # the end of the fixed hour
    assert stores().rate_limits.hits(number, NOW) == 2  # the refused request took nothing from the number


def test_a_new_window_starts_from_zero(aws_stack: AwsStack) -> None:
    limit = RateLimit("ip", "203.0.113.9", 1, HOUR)
    assert stores().rate_limits.consume([limit], NOW) is None
    assert stores().rate_limits.consume([limit], NOW + timedelta(minutes=40)) is not None
    assert stores().rate_limits.consume([limit], NOW + timedelta(minutes=43)) is None  # 11:00 opened a new window
