"""The forms people type a keyword in, and the contexts that cancel one (used by `keywords`).

Every helper works on normalised tokens (upper-case ASCII words, see `keywords.normalize`):
- letters spaced or dotted ("S T O P", "S.T.O.P.", "s-t-o-p") are joined back into one word;
- a letter typed three times or more ("stoppp", "stooop", "cancelll") is squeezed;
- one typo (insert, delete, substitute, or swap two adjacent letters) in an opt-out word of four letters
  or more, unless the typed word is itself a common word (`FALSE_FRIENDS`);
- up to three filler words before a keyword ("please stop", "can you please stop");
- a negated keyword ("don't stop", "I don't want you to stop", "never stop") and "stop" followed by
  another activity ("can't stop smiling") are not requests to stop the messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Zero-width space, non-joiner and joiner, word joiner, byte-order mark, soft hyphen: deleted, not spaces,
# so "S\u200bTOP" is STOP. Non-breaking and other spaces are spaces already (NFKC, then not alphanumeric).
INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))

TYPO_MIN_LENGTH = 4
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"  # "ST0P": a zero for an O is a one-letter typo

# Common words one edit away from an opt-out word: typed alone or first, they mean themselves, not the
# opt-out word. Found by comparing every one-edit form of each built-in opt-out word of four letters or
# more with English, Spanish and French word lists, then kept by hand. Left out on purpose: forms of the
# opt-out verb itself ("stops", "cancels", "unsubscribed", "removed", "annulez", "cancela"), which still
# ask to stop when they are the whole message or its first word (opt-out wins when unsure).
FALSE_FRIENDS = frozenset(
    {
        # STOP
        *("SHOP", "STEP", "STOOP", "ATOP", "TOP", "SOP", "SLOP", "STOMP", "STOW", "STROP", "SWOP", "STOL"),
        # CANCEL, CANCELAR
        *("CANCER", "CHANCEL", "CARCEL", "CINCEL", "CANELAR", "CANCERAR"),
        # QUIT (QUI is French for "who", HUIT "eight", NUIT "night")
        *("QUITE", "QUIET", "QUILT", "QUIP", "QUIZ", "QUID", "QUITO", "QUOIT", "SUIT", "QUI", "HUIT", "NUIT"),
        *("CUIT", "FUIT", "LUIT", "QUINT"),
        # REVOKE, REMOVE
        *("EVOKE", "REVOTE", "REMOTE", "REMOVER", "RENOVE"),
        # ARRET, ARRETE (ARETE is a fish bone, JARRET a shank)
        *("ARREST", "GARRET", "ARRE", "ARREO", "ADRET", "ARMET", "JARRET", "ARETE", "RARETE", "CARRETE", "BARRETE"),
        # ANNULER, DETENER
        *("ANNULAR", "ANNELER", "RETENER", "DETELER", "DETONER", "DEMENER"),
        # PARAR (PARA is Spanish "for", PASAR "to pass", PAGAR "to pay")
        *("PARA", "PARAS", "PASAR", "PAGAR", "PARRA", "PARIR", "PAREAR", "PARER", "PAJAR", "VARAR", "ARAR"),
        # ALTO ("altos precios": high prices)
        *("ALSO", "ALTA", "ALTAS", "ALTOS", "AUTO", "ALT", "ALTS", "ALGO", "APTO", "SALTO", "FALTO", "ALLO"),
        *("ALDO", "ALTON", "ALTHO", "LATO", "ALTOR"),
        # BAJA (BAJO "low", CAJA "box", BAJAR "to go down" or "to download")
        *("BAJO", "BAJAR", "BAJAS", "CAJA", "BALA", "BATA", "BAYA", "PAJA", "RAJA", "FAJA", "BACA", "BASA", "BABA"),
        # SALIR
        *("SALAR", "SALIN", "PALIR", "SALER", "SABIR"),
    }
)

# Words that may come before a keyword without changing what it asks ("please stop", "ok cancel").
FILLER_WORDS = frozenset(
    {
        *("PLEASE", "PLS", "PLZ", "PLEASEE", "PLEEZ", "PLEEASE", "KINDLY", "OK", "OKAY", "OKAYY", "K", "KK"),
        *("HEY", "HI", "HELLO", "YO", "YES", "YEAH", "YEA", "NO", "NOPE", "NAH", "UM", "UMM", "UH", "OH", "SO"),
        *("JUST", "NOW", "AND", "THEN", "SIR", "MAAM", "SORRY", "THANKS", "THX", "GUYS", "OMG", "SERIOUSLY"),
        *("HONESTLY", "AGAIN", "I", "U", "YOU", "ALREADY", "REALLY", "POR", "FAVOR", "QUIERO", "SVP", "MERCI"),
        *("BONJOUR", "HOLA", "OUI", "SI", "OTRA", "VEZ"),
    }
)
# Requests of several words that count as one filler ("I would like to cancel").
FILLER_FRAMES = (
    ("I", "WOULD", "LIKE", "TO"),
    ("I", "WANT", "TO"),
    ("I", "WANNA"),
    ("I", "WISH", "TO"),
    ("I", "NEED", "TO"),
    ("ID", "LIKE", "TO"),
    ("WE", "WANT", "TO"),
    ("CAN", "YOU"),
    ("CAN", "U"),
    ("COULD", "YOU"),
    ("WOULD", "YOU"),
    ("WILL", "YOU"),
    ("THANK", "YOU"),
    ("CAN", "I"),
    ("HOW", "DO", "I"),
    ("HOW", "CAN", "I"),
    ("HOW", "TO"),
    ("JE", "VEUX"),
)
MAX_FILLERS = 3

# A negation before a keyword cancels it, across a few of these words ("don't you ever stop").
NEGATIONS = frozenset({"DONT", "NEVER"})
_NOT = "NOT"
_DO = frozenset({"DO", "PLEASE", "PLS", "PLZ"})
_BRIDGE = frozenset(
    {"PLEASE", "PLS", "PLZ", "EVER", "YOU", "U", "WANT", "TO", "I", "EVEN", "DARE", "NEED", "JUST", "GONNA", "WANNA"}
)
_BRIDGE_SPAN = 4

# "stop <doing something>" is about something else, unless the activity is the messages themselves.
STOP_WORDS = frozenset({"STOP", "PARAR", "ARRET", "ARRETE", "ARRETEZ", "ARRETER"})
MESSAGING = frozenset(
    {
        *("TEXTING", "TXTING", "SENDING", "MESSAGING", "MSGING", "CONTACTING", "CALLING", "SPAMMING", "EMAILING"),
        *("BOTHERING", "BUGGING", "HARASSING", "PESTERING", "PINGING", "SMSING", "MARKETING", "ADVERTISING"),
        *("NOTIFYING", "REACHING", "RECEIVING", "GETTING", "SUBSCRIBING", "REMINDING", "ALERTING"),
    }
)
_ING_NOUNS = frozenset({"THING", "THINGS", "NOTHING", "ANYTHING", "EVERYTHING", "SOMETHING", "MORNING", "EVENING"})
_DIRECTED = frozenset({"ME", "US", "MY", "THIS", "THESE", "THAT", "THEM"})

# Opt-out words unambiguous enough to count when they end a sentence ("I said STOP"), unless negated
# ("Don't stop"). END, CANCEL and QUIT are everyday words and only count first or after filler words.
TRAILING_OPT_OUT = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT", "ARRET", "ARRETEZ", "PARAR", "DESABONNER", "REVOKE"}
)
# Opt-out words no sentence uses for anything else: they count anywhere ("how do I unsubscribe?").
ANYWHERE_OPT_OUT = frozenset({"STOPALL", "UNSUBSCRIBE", "OPTOUT", "DESABONNER"})
# STOP as a noun: "at the stop", "the bus stop", "next stop", "non-stop" ("put a stop to it" is a request).
_BEFORE_NOUN_STOP = frozenset(
    {"THE", "BUS", "NEXT", "LAST", "FIRST", "PIT", "FULL", "ONE", "TRUCK", "REST", "TRAIN", "TRAM", "NON", "SUBWAY"}
)

# Words after a sentence-final STOP that do not change it ("I said stop already", "just stop it now").
CLOSERS = frozenset(
    {"PLEASE", "PLS", "PLZ", "NOW", "ALREADY", "IT", "THANKS", "THX", "THANK", "YOU", "ASAP", "OK", "AGAIN"}
)

_TRIPLE = re.compile(r"(.)\1\1")
_SQUEEZE = re.compile(r"(.)\1{2,}")
_SENTENCE_END = re.compile(r"[.!?;\n\r¡¿。]+")


def one_edit_forms(word: str) -> set[str]:
    """Every word one insertion, deletion, substitution or adjacent swap away (the word itself excluded)."""
    forms: set[str] = set()
    for i in range(len(word) + 1):
        for char in _ALPHABET:
            forms.add(word[:i] + char + word[i:])
    for i in range(len(word)):
        forms.add(word[:i] + word[i + 1 :])
        for char in _ALPHABET:
            forms.add(word[:i] + char + word[i + 1 :])
    for i in range(len(word) - 1):
        forms.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    forms.discard(word)
    return forms


def squeezed(token: str) -> tuple[str, ...]:
    """A token with a letter typed three times or more, squeezed to one and to two ("STOPPP" -> STOP)."""
    if _TRIPLE.search(token) is None:
        return ()
    return (_SQUEEZE.sub(r"\1", token), _SQUEEZE.sub(r"\1\1", token))


def spaced_run(tokens: tuple[str, ...], start: int) -> str | None:
    """Three or more single letters from `start` joined ("S T O P" -> "STOP"), or None."""
    end = start
    while end < len(tokens) and len(tokens[end]) == 1 and tokens[end].isalpha():
        end += 1
    return "".join(tokens[start:end]) if end - start >= 3 else None


def filler_end(tokens: tuple[str, ...]) -> int:
    """Where the text goes on after up to MAX_FILLERS filler words or frames at its start (0 if none)."""
    position = 0
    for _ in range(MAX_FILLERS):
        for frame in FILLER_FRAMES:
            if tokens[position : position + len(frame)] == frame:
                position += len(frame)
                break
        else:
            if position < len(tokens) and tokens[position] in FILLER_WORDS:
                position += 1
            else:
                break
    return position


def may_negate(tokens: tuple[str, ...]) -> bool:
    return any(word in NEGATIONS or word == _NOT for word in tokens)


def sentence_starts(text: str, normalize: Callable[[str], str]) -> frozenset[int]:
    """The index of the first token of every sentence after the first (".", "!", "?", ";" or a new line)."""
    starts: set[int] = set()
    count = 0
    for piece in _SENTENCE_END.split(text):
        if count:
            starts.add(count)
        count += len(normalize(piece).split())
    return frozenset(starts)


def negated(tokens: tuple[str, ...], start: int, breaks: frozenset[int] | None = None) -> bool:
    """Whether the words before `start` in its sentence negate it: "don't", "never", "do not", across a
    few bridge words ("I don't want you to stop"). `breaks` are where sentences start (None: nowhere)."""
    position = start - 1
    for _ in range(_BRIDGE_SPAN + 1):
        if position < 0 or (breaks is not None and position + 1 in breaks):
            return False
        word = tokens[position]
        if word in NEGATIONS or (word == _NOT and position > 0 and tokens[position - 1] in _DO):
            return True
        if word not in _BRIDGE:
            return False
        position -= 1
    return False


def about_something_else(tokens: tuple[str, ...], start: int) -> bool:
    """A stop word followed by another activity ("can't stop smiling") or used as a noun ("bus stop")."""
    if tokens[start] not in STOP_WORDS:
        return False
    if start > 0 and tokens[start - 1] in _BEFORE_NOUN_STOP:
        return True
    if start + 1 >= len(tokens):
        return False
    activity = tokens[start + 1]
    if not activity.endswith("ING") or len(activity) < 5 or activity in MESSAGING or activity in _ING_NOUNS:
        return False
    return not (start + 2 < len(tokens) and tokens[start + 2] in _DIRECTED)


def ends_sentence(tokens: tuple[str, ...], start: int) -> bool:
    """Nothing but closing words after the word at `start` ("I said stop", "just stop it already")."""
    return all(word in CLOSERS for word in tokens[start + 1 :])
