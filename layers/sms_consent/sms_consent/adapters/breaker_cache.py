"""Open breakers, read with one Query and kept for at most 60 seconds per warm function."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime

from sms_consent.breakers import Breaker
from sms_consent.ports import BreakerStore

TTL_SECONDS = 60.0


class CachedBreakers:
    """The BreakerSource port over a breaker store, reloaded once a minute at most."""

    def __init__(self, store: BreakerStore, ttl: float = TTL_SECONDS) -> None:
        self._store = store
        self._ttl = ttl
        self._loaded_at = -ttl
        self._all: Mapping[tuple[str, str], Breaker] = {}

    def all_breakers(self) -> Mapping[tuple[str, str], Breaker]:
        if time.monotonic() - self._loaded_at >= self._ttl:
            self._all = self._store.all_breakers()
            self._loaded_at = time.monotonic()
        return self._all

    def open_breakers(self, now: datetime) -> Mapping[tuple[str, str], Breaker]:
        return {key: breaker for key, breaker in self.all_breakers().items() if breaker.is_open(now)}
