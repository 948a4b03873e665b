"""The ReassignedNumbers port's adapters: a JSON-lines file standing in for the FCC's Reassigned
Numbers Database (the local stack and the tests), and a per-process cache in front of any of them.

No adapter for the real database exists yet: see the README's "Reassigned numbers".
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

from sms_consent.ports import ReassignedNumbers, ReassignedNumbersUnavailable
from sms_consent.reassigned_numbers import RndAnswer, RndQuery

# Providers had to keep disconnection records from this date: the real database answers "no data" before it.
RND_DATA_START = date(2021, 1, 27)
CACHE_TTL = timedelta(hours=24)  # the real database is refreshed monthly (providers report by the 15th)
CACHE_ENTRIES = 50_000


class LocalReassignedNumbers:
    """The database as a file of permanent disconnections, one JSON object per line:
    {"phone": "+12125550123", "disconnected_at": "2026-03-01"}. A missing file is an empty database;
    an unreadable one is a database that cannot answer. `batches` records what it was asked."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.batches: list[tuple[RndQuery, ...]] = []
        self._lock = threading.Lock()

    def _disconnections(self) -> dict[str, list[date]]:
        if not self.path.exists():
            return {}
        found: dict[str, list[date]] = {}
        try:
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    found.setdefault(entry["phone"], []).append(date.fromisoformat(entry["disconnected_at"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ReassignedNumbersUnavailable(f"{self.path}: {exc}") from exc
        return found

    def check(self, queries: Sequence[RndQuery]) -> dict[RndQuery, RndAnswer]:
        with self._lock:
            self.batches.append(tuple(queries))
            disconnections = self._disconnections()
        answers = {}
        for query in queries:
            if query.consent_date < RND_DATA_START:
                answers[query] = RndAnswer.NO_DATA
            elif any(day >= query.consent_date for day in disconnections.get(query.phone, ())):
                answers[query] = RndAnswer.YES  # the database's rule: disconnected on or after the date
            else:
                answers[query] = RndAnswer.NO
        return answers


class CachedReassignedNumbers:
    """Answers kept per (number, consent date) for `ttl`: a warm gate asks about a number once a day.
    Misses of one request go to the database in one batch."""

    def __init__(
        self,
        database: ReassignedNumbers,
        clock: Callable[[], datetime],
        ttl: timedelta = CACHE_TTL,
        max_entries: int = CACHE_ENTRIES,
    ) -> None:
        self.name = database.name
        self._database = database
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._answers: OrderedDict[RndQuery, tuple[datetime, RndAnswer]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, queries: Sequence[RndQuery]) -> dict[RndQuery, RndAnswer]:
        now = self._clock()
        found: dict[RndQuery, RndAnswer] = {}
        with self._lock:
            for query in queries:
                kept = self._answers.get(query)
                if kept is not None and now - kept[0] < self._ttl:
                    found[query] = kept[1]
        missing = list(dict.fromkeys(query for query in queries if query not in found))
        if not missing:
            return found
        answered = self._database.check(missing)  # raises when it cannot answer: nothing is cached then
        with self._lock:
            for query, answer in answered.items():
                self._answers[query] = (now, answer)
                self._answers.move_to_end(query)
            while len(self._answers) > self._max:
                self._answers.popitem(last=False)
        return {**found, **answered}
