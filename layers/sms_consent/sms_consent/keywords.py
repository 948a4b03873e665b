"""What an inbound text means: opt-out, help, opt-in, confirmation, or something else.

Normalise first (NFKC, accents and case folded, punctuation, emoji and whitespace trimmed), then
match in order: the exact keyword, a leading keyword followed by other text, a revocation phrase
anywhere. Keywords match whole words only ("weekend" is not END, "stopwatch" is not STOP). When a
text could mean two things, opt-out wins: a missed opt-out is a violation, an extra one is not.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum

MAX_CLASSIFIED_CHARS = 1600


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    HELP = "help"
    OPT_IN = "opt_in"
    CONFIRM = "confirm"
    OTHER = "other"


class MatchReason(StrEnum):
    EXACT = "exact"
    LEADING = "leading"
    PHRASE = "phrase"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class KeywordSet:
    """One language's words; programs add their own through the configuration."""

    language: str
    opt_out: frozenset[str] = frozenset()
    help: frozenset[str] = frozenset()
    opt_in: frozenset[str] = frozenset()
    confirm: frozenset[str] = frozenset()
    opt_out_phrases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Classification:
    intent: Intent
    keyword: str | None
    language: str | None
    reason: MatchReason
    target: str | None
    normalized: str


ENGLISH = KeywordSet(
    language="en",
    # CTIA universal words, the FCC 2024 revocation list, AWS End User Messaging's and Twilio's defaults.
    opt_out=frozenset(
        {"STOP", "STOPALL", "END", "CANCEL", "UNSUBSCRIBE", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT", "REMOVE"}
    ),
    help=frozenset({"HELP", "INFO"}),
    opt_in=frozenset({"START", "UNSTOP", "JOIN", "SUBSCRIBE"}),
    confirm=frozenset({"YES", "Y"}),
    opt_out_phrases=(
        "REMOVE ME",
        "OPT ME OUT",
        "OPT OUT",
        "DONT TEXT ME",
        "DO NOT TEXT ME",
        "DONT TEXT",
        "DO NOT TEXT",
        "STOP TEXTING",
        "STOP SENDING",
        "STOP MESSAGING",
        "STOP CONTACTING",
        "NO MORE TEXTS",
        "NO MORE MESSAGES",
        "TAKE ME OFF",
        "UNSUBSCRIBE ME",
        "LEAVE ME ALONE",
        "DONT MESSAGE ME",
        "DO NOT MESSAGE ME",
        "DONT CONTACT ME",
        "DO NOT CONTACT ME",
        "WRONG NUMBER",
    ),
)
SPANISH = KeywordSet(
    language="es",
    opt_out=frozenset({"PARAR", "ALTO", "CANCELAR", "BAJA", "DETENER", "FIN"}),
    help=frozenset({"AYUDA"}),
    confirm=frozenset({"SI"}),
    opt_out_phrases=("NO ME ENVIES", "NO MAS MENSAJES", "DAR DE BAJA", "DARME DE BAJA", "QUITAME"),
)
FRENCH = KeywordSet(
    language="fr",
    # ARRET and TD are the French-Canadian carrier words; they sit here so replies can be in French.
    opt_out=frozenset({"ARRET", "ARRETER", "ANNULER", "DESABONNER", "TD"}),
    help=frozenset({"AIDE"}),
    confirm=frozenset({"OUI"}),
    opt_out_phrases=("NE PLUS RECEVOIR", "DESINSCRIRE", "DESABONNEZ MOI", "PLUS DE MESSAGES"),
)
BUILTIN_KEYWORD_SETS: tuple[KeywordSet, ...] = (ENGLISH, SPANISH, FRENCH)

_PRIORITY = (Intent.OPT_OUT, Intent.HELP, Intent.OPT_IN, Intent.CONFIRM)
# Opt-out words unambiguous enough to count when they end a sentence ("I said STOP"), unless negated
# ("Don't stop"). END, CANCEL and QUIT are everyday words and only count at the start.
_TRAILING_OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "ARRET", "PARAR", "DESABONNER"})
_NEGATIONS = frozenset({"DONT", "NOT", "NEVER", "NO", "DO NOT", "PLEASE DONT"})
_ALL = "ALL"


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize(text: str) -> str:
    """Upper-case ASCII-ish words separated by single spaces; punctuation, emoji and controls dropped.

    Apostrophes vanish inside words ("don't" -> "DONT"); hyphens and other punctuation split words.
    """
    text = unicodedata.normalize("NFKC", text[:MAX_CLASSIFIED_CHARS])
    text = _strip_accents(text).casefold().upper()
    out: list[str] = []
    for char in text:
        if char.isalnum():
            out.append(char)
        elif char in "'’`":
            continue
        else:
            out.append(" ")
    return " ".join("".join(out).split())


@dataclass(frozen=True, slots=True)
class _Entry:
    intent: Intent
    keyword: str
    language: str


class _Index:
    """Lookups built once per keyword configuration: word sequences -> meaning."""

    def __init__(self, keyword_sets: Sequence[KeywordSet], program_keywords: Collection[str]) -> None:
        self.words: dict[tuple[str, ...], list[_Entry]] = {}
        self.phrases: list[tuple[tuple[str, ...], _Entry]] = []
        for keyword_set in keyword_sets:
            for intent, words in (
                (Intent.OPT_OUT, keyword_set.opt_out),
                (Intent.HELP, keyword_set.help),
                (Intent.OPT_IN, keyword_set.opt_in),
                (Intent.CONFIRM, keyword_set.confirm),
            ):
                for word in words:
                    self._add(tuple(normalize(word).split()), _Entry(intent, normalize(word), keyword_set.language))
            for phrase in keyword_set.opt_out_phrases:
                tokens = tuple(normalize(phrase).split())
                self.phrases.append((tokens, _Entry(Intent.OPT_OUT, normalize(phrase), keyword_set.language)))
        self.program_keywords = {normalize(word) for word in program_keywords}
        for word in self.program_keywords:
            self._add(tuple(word.split()), _Entry(Intent.OPT_IN, word, ""))
        self.longest = max((len(key) for key in self.words), default=1)

    def _add(self, key: tuple[str, ...], entry: _Entry) -> None:
        if key:
            self.words.setdefault(key, []).append(entry)

    def best(self, key: tuple[str, ...]) -> _Entry | None:
        entries = self.words.get(key)
        if not entries:
            return None
        # Opt-out wins; within an intent the first configured language (English) wins.
        return min(entries, key=lambda entry: _PRIORITY.index(entry.intent))


_DEFAULT_INDEX: _Index | None = None


def _index(keyword_sets: Sequence[KeywordSet], program_keywords: Collection[str]) -> _Index:
    global _DEFAULT_INDEX
    if keyword_sets is BUILTIN_KEYWORD_SETS and not program_keywords:
        if _DEFAULT_INDEX is None:
            _DEFAULT_INDEX = _Index(BUILTIN_KEYWORD_SETS, ())
        return _DEFAULT_INDEX
    return _cached_index(tuple(keyword_sets), frozenset(program_keywords))


_INDEX_CACHE: dict[tuple[tuple[KeywordSet, ...], frozenset[str]], _Index] = {}


def _cached_index(keyword_sets: tuple[KeywordSet, ...], program_keywords: frozenset[str]) -> _Index:
    key = (keyword_sets, program_keywords)
    if key not in _INDEX_CACHE:
        if len(_INDEX_CACHE) > 64:
            _INDEX_CACHE.clear()
        _INDEX_CACHE[key] = _Index(keyword_sets, program_keywords)
    return _INDEX_CACHE[key]


def _target(index: _Index, rest: tuple[str, ...]) -> str | None:
    """A program keyword or ALL right after the keyword ("STOP TONE1", "STOP ALL", "JOIN TONE2")."""
    if not rest:
        return None
    for size in range(min(len(rest), 3), 0, -1):
        candidate = " ".join(rest[:size])
        if candidate in index.program_keywords:
            return candidate
    return _ALL if rest[0] == _ALL else None


def _result(entry: _Entry, reason: MatchReason, target: str | None, normalized: str) -> Classification:
    if entry.language == "" and entry.intent is Intent.OPT_IN:
        # A program keyword alone: joining that program.
        return Classification(Intent.OPT_IN, entry.keyword, None, reason, target or entry.keyword, normalized)
    return Classification(entry.intent, entry.keyword, entry.language, reason, target, normalized)


def classify(
    text: str,
    *,
    keyword_sets: Sequence[KeywordSet] = BUILTIN_KEYWORD_SETS,
    program_keywords: Collection[str] = (),
) -> Classification:
    normalized = normalize(text if isinstance(text, str) else "")
    tokens = tuple(normalized.split())
    if not tokens:
        return Classification(Intent.OTHER, None, None, MatchReason.NONE, None, normalized)
    index = _index(keyword_sets, program_keywords)

    # 1. The whole text is a keyword ("STOP", "OPT OUT", "TONE1").
    exact = index.best(tokens) if len(tokens) <= index.longest else None
    if exact is not None:
        return _result(exact, MatchReason.EXACT, None, normalized)

    # 2. A leading keyword, longest first ("OPT OUT please", "STOP TONE1", "stop pls").
    leading: tuple[_Entry, int] | None = None
    for size in range(min(index.longest, len(tokens) - 1), 0, -1):
        entry = index.best(tokens[:size])
        if entry is not None:
            leading = (entry, size)
            break

    # 3. A revocation phrase anywhere, as whole words.
    phrase = _find_phrase(index, tokens)

    if leading is not None:
        entry, size = leading
        if entry.intent is Intent.OPT_OUT or phrase is None:
            return _result(entry, MatchReason.LEADING, _target(index, tokens[size:]), normalized)
    if phrase is not None:
        return _result(phrase, MatchReason.PHRASE, None, normalized)
    trailing = _trailing_opt_out(index, tokens)
    if trailing is not None:
        return _result(trailing, MatchReason.PHRASE, None, normalized)
    return Classification(Intent.OTHER, None, None, MatchReason.NONE, None, normalized)


def _trailing_opt_out(index: _Index, tokens: tuple[str, ...]) -> _Entry | None:
    last = tokens[-1]
    if last not in _TRAILING_OPT_OUT or len(tokens) < 2:
        return None
    before = tokens[-2]
    if before in _NEGATIONS or " ".join(tokens[-3:-1]) in _NEGATIONS:
        return None
    return index.best((last,))


def _find_phrase(index: _Index, tokens: tuple[str, ...]) -> _Entry | None:
    for start in range(len(tokens)):
        for phrase, entry in index.phrases:
            if tokens[start : start + len(phrase)] == phrase:
                return entry
    return None
