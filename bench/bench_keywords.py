"""keywords.classify against two common baselines on the keyword corpus: accuracy per intent, and speed.

Baselines, run in the same process on the same texts:
- exact word: what Twilio and Braze do by default. The whole message, trimmed and case-folded, must
  equal one word: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (opt-out), HELP, INFO (help), START,
  UNSTOP (opt-in), YES (counted as a confirmation, the corpus's name for it).
- Spoke-style regex: a reconstruction, not Spoke's code, of the opt-out regular expression Spoke uses,
  `^\\s*(stop|stop all|stopall|unsub|unsubscribe|cancel|end|quit)\\b`, case-insensitive. It only knows
  opt-outs; everything else is OTHER.
Accuracy compares intents only (keyword, reason and target are the unit tests' business). Opt-out
recall is the figure that matters: a missed opt-out is a violation, an extra one is not.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from sms_consent.keywords import Intent, classify
from tests.unit.keyword_corpus import CORPUS, PROGRAM_KEYWORDS

REPEAT = 50

_EXACT_WORDS = {
    **dict.fromkeys(("stop", "stopall", "unsubscribe", "cancel", "end", "quit"), Intent.OPT_OUT),
    **dict.fromkeys(("help", "info"), Intent.HELP),
    **dict.fromkeys(("start", "unstop"), Intent.OPT_IN),
    "yes": Intent.CONFIRM,
}
SPOKE_STYLE = re.compile(r"^\s*(stop|stop all|stopall|unsub|unsubscribe|cancel|end|quit)\b", re.IGNORECASE)


def exact_word(text: str) -> Intent:
    return _EXACT_WORDS.get(text.strip().casefold(), Intent.OTHER)


def spoke_style(text: str) -> Intent:
    return Intent.OPT_OUT if SPOKE_STYLE.match(text) else Intent.OTHER


def ours(text: str) -> Intent:
    return classify(text, program_keywords=PROGRAM_KEYWORDS).intent


CLASSIFIERS: dict[str, Callable[[str], Intent]] = {
    "keywords.classify": ours,
    "exact word": exact_word,
    "Spoke-style regex": spoke_style,
}


def _rate(function: Callable[[str], Intent], texts: list[str]) -> float:
    started = time.perf_counter()
    for _ in range(REPEAT):
        for text in texts:
            function(text)
    return REPEAT * len(texts) / (time.perf_counter() - started)


def _percent(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f}%" if total else "-"


def accuracy_table() -> list[str]:
    """Rows of the table: per intent the share of its texts each classifier gets right, then overall."""
    names = list(CLASSIFIERS)
    answers = {name: [function(row[0]) for row in CORPUS] for name, function in CLASSIFIERS.items()}
    header = f"{'intent (texts)':<24}" + "".join(f"{name:>20}" for name in names)
    lines = [header, "-" * len(header)]
    for intent in Intent:
        rows = [i for i, row in enumerate(CORPUS) if row[1] is intent]
        cells = "".join(f"{_percent(sum(answers[name][i] is intent for i in rows), len(rows)):>20}" for name in names)
        label = "opt_out (recall)" if intent is Intent.OPT_OUT else intent.value
        lines.append(f"{f'{label} ({len(rows)})':<24}{cells}")
    total = len(CORPUS)
    overall = "".join(
        f"{_percent(sum(a is row[1] for a, row in zip(answers[name], CORPUS, strict=True)), total):>20}"
        for name in names
    )
    lines.append(f"{f'overall ({total})':<24}{overall}")
    not_out = [i for i, row in enumerate(CORPUS) if row[1] is not Intent.OPT_OUT]
    extra = "".join(f"{sum(answers[name][i] is Intent.OPT_OUT for i in not_out):>20}" for name in names)
    lines.append(f"{f'false opt-outs (of {len(not_out)})':<24}{extra}")
    return lines


def run() -> list[str]:
    texts = [row[0] for row in CORPUS]
    ours("warm up")
    rates = {name: _rate(function, texts) for name, function in CLASSIFIERS.items()}
    speed = "".join(f"{f'{rate:,.0f}':>20}" for rate in rates.values())
    return [
        f"corpus: {len(texts)} texts (tests/unit/keyword_corpus.py); speed over {REPEAT} passes",
        *accuracy_table(),
        f"{'classifications/s':<24}{speed}",
    ]
