"""Classifications per second of keywords.classify against a plain regular-expression baseline.

The baseline is what many platforms do: one case-insensitive alternation anchored at the start. It
is faster and wrong (it misses "ＳＴＯＰ", "ARRÊT" and phrases, and matches "stopwatch"-style words
only by luck of \\b); the ratio says what the correct answer costs.
"""

from __future__ import annotations

import re
import time

REPEAT = 300

BASELINE = re.compile(
    r"^\s*(stop|stopall|end|cancel|unsubscribe|quit|revoke|optout|opt[ -]out|remove|arret|td|help|info|start|unstop"
    r"|join|yes|y)\b",
    re.IGNORECASE,
)


def _texts() -> list[str]:
    from tests.unit.test_keywords import CORPUS

    return [row[0] for row in CORPUS]


def _rate(function: object, texts: list[str]) -> float:
    call = function  # type: ignore[assignment]
    started = time.perf_counter()
    for _ in range(REPEAT):
        for text in texts:
            call(text)  # type: ignore[operator]
    return REPEAT * len(texts) / (time.perf_counter() - started)


def run() -> list[str]:
    from sms_consent.keywords import classify

    texts = _texts()
    classify("warm up")
    ours = _rate(classify, texts)
    baseline = _rate(BASELINE.match, texts)
    return [
        f"corpus: {len(texts)} texts x {REPEAT}",
        f"keywords.classify: {ours:,.0f} classifications/s",
        f"regex baseline:    {baseline:,.0f} matches/s",
        f"ratio: classify runs at {ours / baseline:.2f}x the baseline's rate",
    ]
