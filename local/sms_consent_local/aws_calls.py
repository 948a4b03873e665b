"""Count AWS requests by service and operation with a botocore event hook (for benches and tests)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_counts: Counter[str] = Counter()
_installed = False


def _count(model: Any = None, **_: Any) -> None:
    if model is not None:
        _counts[f"{model.service_model.service_name}.{model.name}"] += 1


def install() -> None:
    """Hook every botocore client created from now on (as moto does); call before clients exist."""
    global _installed
    if _installed:
        return
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-call.*.*", _count))
    _installed = True


@contextmanager
def counting() -> Iterator[Counter[str]]:
    """The requests made inside the block, by "service.Operation"."""
    install()
    start = Counter(_counts)
    result: Counter[str] = Counter()
    try:
        yield result
    finally:
        result.update(_counts - start)


def total(counts: Counter[str], service: str) -> int:
    return sum(value for key, value in counts.items() if key.startswith(f"{service}."))
