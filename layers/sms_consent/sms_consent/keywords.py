"""What an inbound text means: opt-out, help, opt-in, confirmation, or something else.

Normalise first (NFKC, invisible characters deleted, accents and case folded, punctuation, emoji and
whitespace trimmed). Then the first opt-out any rule finds wins, else the first other meaning, rules in
order: the whole text is a keyword (`exact`); its first word is one (`leading`); a revocation phrase
anywhere (`phrase`: "take me off your list"); the first word once its spaced letters are joined (`spaced`:
"S T O P"), its held-down letters squeezed (`repeated`: "stoppp") or one typo fixed (`typo`: "Stpo"); a
keyword after up to three filler words (`filler`: "please stop"); a strong opt-out word ending a sentence
or UNSUBSCRIBE anywhere (`phrase`: "I said STOP"). Keywords match whole words only ("weekend" is not
END). Opt-out wins because a missed opt-out is a violation and an extra one is not; the exceptions are a
negated keyword ("don't stop", "never stop") and "stop" about something else ("can't stop smiling"). The
word forms live in `keyword_forms`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from sms_consent import keyword_forms as forms

MAX_CLASSIFIED_CHARS = 1600


class Intent(StrEnum):
    OPT_OUT = "opt_out"
    HELP = "help"
    OPT_IN = "opt_in"
    CONFIRM = "confirm"
    OTHER = "other"


class MatchReason(StrEnum):
    """Which rule matched: stored with every decision as its evidence (`match_reason`)."""

    EXACT = "exact"
    LEADING = "leading"
    PHRASE = "phrase"
    SPACED = "spaced"
    REPEATED = "repeated"
    TYPO = "typo"
    FILLER = "filler"
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
    # What people write instead (the FCC's "reasonable means"): matched anywhere, as whole words.
    opt_out_phrases=(
        *("REMOVE ME", "REMOVE MY NUMBER", "DELETE ME", "DELETE MY NUMBER", "LOSE MY NUMBER", "OPT ME OUT"),
        *("OPT OUT", "UNSUB", "UNSUBSCRIBE ME", "TAKE ME OFF", "TAKE MY NUMBER OFF", "OFF YOUR LIST"),
        *("OFF THIS LIST", "OFF THE LIST", "DONT TEXT ME", "DO NOT TEXT ME", "DONT TEXT", "DO NOT TEXT"),
        *("DONT SEND", "DO NOT SEND", "DONT MESSAGE ME", "DO NOT MESSAGE ME", "DONT MESSAGE", "DO NOT MESSAGE"),
        *(
            "DONT CONTACT ME",
            "DO NOT CONTACT ME",
            "DONT CONTACT",
            "DO NOT CONTACT",
            "STOP TEXTING",
            "STOP SENDING",
            "STOP MESSAGING",
        ),
        *("STOP CONTACTING", "STOP SPAMMING", "STOP THE TEXTS", "STOP THESE TEXTS", "STOP THESE MESSAGES"),
        *("STOP ALL TEXTS", "STOP ALL MESSAGES", "QUIT TEXTING", "QUIT SENDING", "NO MORE TEXTS", "NO MORE TEXT"),
        *("NO MORE MESSAGES", "NO MORE SMS", "NO MORE TEXTING", "DONT WANT THESE", "DONT WANT YOUR"),
        *("DONT WANT ANY MORE", "DONT WANT ANYMORE", "DONT WANT TEXTS", "DONT WANT TO RECEIVE", "NOT INTERESTED"),
        *("NO LONGER INTERESTED", "LEAVE ME ALONE", "WRONG NUMBER", "CANCEL MY SUBSCRIPTION", "PUT A STOP TO"),
    ),
)
SPANISH = KeywordSet(
    language="es",
    opt_out=frozenset({"PARAR", "ALTO", "CANCELAR", "BAJA", "DETENER", "FIN", "SALIR"}),
    help=frozenset({"AYUDA"}),
    confirm=frozenset({"SI"}),
    opt_out_phrases=(
        *("NO MAS", "NO QUIERO MAS", "YA NO QUIERO", "NO ME ENVIES", "NO ME ENVIEN", "NO ME MANDES"),
        *("NO ME MANDEN", "NO MAS MENSAJES", "DAR DE BAJA", "DARME DE BAJA", "QUITAME", "NO ME INTERESA"),
        *("BORRAR MI NUMERO", "BORREN MI NUMERO", "ELIMINAR MI NUMERO", "DEJEN DE ENVIAR", "DEJA DE ENVIAR"),
        *("DEJEN DE MANDAR", "DEJA DE ENVIARME", "DEJEN DE ENVIARME", "DEJEN DE MANDARME", "BASTA"),
    ),
)
FRENCH = KeywordSet(
    language="fr",
    # ARRET and TD are the French-Canadian carrier words; they sit here so replies can be in French.
    opt_out=frozenset({"ARRET", "ARRETE", "ARRETEZ", "ARRETER", "ANNULER", "DESABONNER", "TD"}),
    help=frozenset({"AIDE"}),
    confirm=frozenset({"OUI"}),
    opt_out_phrases=(
        *("NE PLUS RECEVOIR", "DESINSCRIRE", "DESINSCRIVEZ MOI", "DESABONNEZ MOI", "PLUS DE MESSAGES"),
        *("PLUS DE SMS", "PLUS DE TEXTOS", "JE NE VEUX PLUS", "RETIREZ MOI", "SUPPRIMEZ MON NUMERO"),
    ),
)
BUILTIN_KEYWORD_SETS: tuple[KeywordSet, ...] = (ENGLISH, SPANISH, FRENCH)

_PRIORITY = (Intent.OPT_OUT, Intent.HELP, Intent.OPT_IN, Intent.CONFIRM)
_ALL = "ALL"


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize(text: str) -> str:
    """Upper-case ASCII-ish words separated by single spaces; punctuation, emoji and controls dropped.

    Zero-width characters vanish ("S\u200bTOP" -> "STOP"), as do apostrophes inside words ("don't" ->
    "DONT"); hyphens, non-breaking spaces and other punctuation split words.
    """
    text = unicodedata.normalize("NFKC", text[:MAX_CLASSIFIED_CHARS].translate(forms.INVISIBLE))
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
        self.phrases: dict[str, list[tuple[tuple[str, ...], _Entry]]] = {}
        typo_words: list[_Entry] = []
        for keyword_set in keyword_sets:
            for intent, words in (
                (Intent.OPT_OUT, keyword_set.opt_out),
                (Intent.HELP, keyword_set.help),
                (Intent.OPT_IN, keyword_set.opt_in),
                (Intent.CONFIRM, keyword_set.confirm),
            ):
                for word in sorted(words):
                    entry = _Entry(intent, normalize(word), keyword_set.language)
                    self._add(tuple(entry.keyword.split()), entry)
                    if intent is Intent.OPT_OUT and keyword_set in BUILTIN_KEYWORD_SETS:
                        typo_words.append(entry)
            for phrase in keyword_set.opt_out_phrases:
                tokens = tuple(normalize(phrase).split())
                if tokens:
                    entry = _Entry(Intent.OPT_OUT, normalize(phrase), keyword_set.language)
                    self.phrases.setdefault(tokens[0], []).append((tokens, entry))
        self.program_keywords = {normalize(word) for word in program_keywords}
        for word in self.program_keywords:
            self._add(tuple(word.split()), _Entry(Intent.OPT_IN, word, ""))
        self.longest = max((len(key) for key in self.words), default=1)
        # One typo in a built-in opt-out word of four letters or more, never a keyword or a common word.
        self.typos: dict[str, _Entry] = {}
        for entry in typo_words:
            if len(entry.keyword) >= forms.TYPO_MIN_LENGTH and entry.keyword.isalpha():
                for form in sorted(forms.one_edit_forms(entry.keyword)):
                    if form not in forms.FALSE_FRIENDS and (form,) not in self.words:
                        self.typos.setdefault(form, entry)

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
    # The whole text is a keyword ("STOP", "OPT OUT", "TONE1").
    exact = index.best(tokens) if len(tokens) <= index.longest else None
    if exact is not None:
        return _result(exact, MatchReason.EXACT, None, normalized)
    # Otherwise the first opt-out any rule finds, else the first other meaning ("yes stop" opts out).
    other: Classification | None = None
    # Where sentences start, for negations: "Don't. Stop." opts out, "No, don't stop" does not.
    breaks = forms.sentence_starts(text[:MAX_CLASSIFIED_CHARS], normalize) if forms.may_negate(tokens) else None
    for entry, reason, target in _matches(index, tokens, breaks):
        if entry.intent is Intent.OPT_OUT:
            return _result(entry, reason, target, normalized)
        other = other or _result(entry, reason, target, normalized)
    return other or Classification(Intent.OTHER, None, None, MatchReason.NONE, None, normalized)


_Match = tuple[_Entry, MatchReason, str | None]


def _matches(index: _Index, tokens: tuple[str, ...], breaks: frozenset[int] | None) -> Iterator[_Match]:
    """Every meaning the rules find, in the order they are tried."""
    # A leading keyword, longest first, as typed or in one of its forms ("OPT OUT please", "S T O P").
    # A phrase typed as is comes before a word that needed fixing ("désabonnez-moi" is not a typo).
    found = _word_at(index, tokens, 0)
    if found is not None and found[2] is None:
        yield found[0], MatchReason.LEADING, _target(index, tokens[found[1] :])
    # A revocation phrase anywhere, as whole words, unless negated ("please don't stop sending").
    phrase = _find_phrase(index, tokens, breaks)
    if phrase is not None:
        yield phrase, MatchReason.PHRASE, None
    if found is not None and found[2] is not None:
        yield found[0], found[2], _target(index, tokens[found[1] :])
    # A keyword after filler words ("please stop", "can you please cancel"), not about something else.
    start = forms.filler_end(tokens)
    if 0 < start < len(tokens) and not forms.about_something_else(tokens, start):
        found = _word_at(index, tokens, start)
        if found is not None:
            entry, size, form = found
            yield entry, form or MatchReason.FILLER, _target(index, tokens[start + size :])
    # A strong opt-out word ending a sentence ("I said STOP") or anywhere ("how do I unsubscribe").
    yield from _sentence_opt_out(index, tokens, breaks)


def _word_at(index: _Index, tokens: tuple[str, ...], start: int) -> tuple[_Entry, int, MatchReason | None] | None:
    """The keyword at `start`: (entry, tokens it spans, the form it was typed in or None when as is)."""
    run = forms.spaced_run(tokens, start)  # before "Y" alone: "Y E S" is YES
    if run is not None:
        for word in (run, *forms.squeezed(run)):
            if (entry := index.best((word,)) or index.typos.get(word)) is not None:
                return entry, len(run), MatchReason.SPACED
    for size in range(min(index.longest, len(tokens) - start), 0, -1):
        entry = index.best(tokens[start : start + size])
        if entry is not None:
            return entry, size, None
    token = tokens[start]
    for word in forms.squeezed(token):
        if (entry := index.best((word,))) is not None:
            return entry, 1, MatchReason.REPEATED
    typo = index.typos.get(token)
    return (typo, 1, MatchReason.TYPO) if typo is not None else None


def _sentence_opt_out(index: _Index, tokens: tuple[str, ...], breaks: frozenset[int] | None) -> Iterator[_Match]:
    for position in range(1, len(tokens)):
        token = tokens[position]
        reason = MatchReason.PHRASE
        if token not in forms.TRAILING_OPT_OUT:
            token = next((word for word in forms.squeezed(token) if word in forms.TRAILING_OPT_OUT), token)
            reason = MatchReason.REPEATED
        if token not in forms.ANYWHERE_OPT_OUT and not (
            token in forms.TRAILING_OPT_OUT and forms.ends_sentence(tokens, position)
        ):
            continue
        if forms.negated(tokens, position, breaks) or forms.about_something_else(tokens, position):
            continue
        entry = index.best((token,))
        if entry is not None and entry.intent is Intent.OPT_OUT:
            yield entry, reason, None
            return


def _find_phrase(index: _Index, tokens: tuple[str, ...], breaks: frozenset[int] | None) -> _Entry | None:
    for start, token in enumerate(tokens):
        for phrase, entry in index.phrases.get(token, ()):
            if tokens[start : start + len(phrase)] == phrase and not forms.negated(tokens, start, breaks):
                return entry
    return None
