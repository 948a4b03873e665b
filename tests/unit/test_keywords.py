"""The keyword corpus: what a compliance officer expects each inbound text to mean.

Rows are (text, intent, keyword, reason, target). Families of rows state the rule for every word of a
list (CTIA/FCC universal opt-out words with case, punctuation and trailing text); the traps come
after. Entries where we chose against the compliance-safe reading carry a comment saying why.
"""

from __future__ import annotations

import pytest

from sms_consent.keywords import (
    BUILTIN_KEYWORD_SETS,
    MAX_CLASSIFIED_CHARS,
    Intent,
    KeywordSet,
    MatchReason,
    classify,
    normalize,
)

OUT, HELP, IN, YES, OTHER = Intent.OPT_OUT, Intent.HELP, Intent.OPT_IN, Intent.CONFIRM, Intent.OTHER
EXACT, LEADING, PHRASE, NONE = MatchReason.EXACT, MatchReason.LEADING, MatchReason.PHRASE, MatchReason.NONE
SPACED, FILLER = MatchReason.SPACED, MatchReason.FILLER
PROGRAM_KEYWORDS = ("TONE1", "TONE2", "ALERTS")

Row = tuple[str, Intent, str | None, MatchReason, str | None]

UNIVERSAL_OPT_OUT = ["STOP", "STOPALL", "END", "CANCEL", "UNSUBSCRIBE", "QUIT", "REVOKE", "OPTOUT", "REMOVE"]


def _family(word: str, intent: Intent, keyword: str) -> list[Row]:
    """The same word as people type it: any case, punctuation, spaces, line breaks, trailing text."""
    return [
        (word, intent, keyword, EXACT, None),
        (word.lower(), intent, keyword, EXACT, None),
        (word.capitalize(), intent, keyword, EXACT, None),
        (f"{word}.", intent, keyword, EXACT, None),
        (f"{word}!!", intent, keyword, EXACT, None),
        (f"  {word}\n", intent, keyword, EXACT, None),
        (f"{word.lower()} please", intent, keyword, LEADING, None),
        (f"{word}, thanks", intent, keyword, LEADING, None),
    ]


CORPUS: list[Row] = [
    *(row for word in UNIVERSAL_OPT_OUT for row in _family(word, OUT, word)),
    *_family("HELP", HELP, "HELP"),
    *_family("INFO", HELP, "INFO"),
    *_family("START", IN, "START"),
    *_family("UNSTOP", IN, "UNSTOP"),
    # Multi-word and hyphenated opt-outs.
    ("opt out", OUT, "OPT OUT", EXACT, None),
    ("OPT-OUT", OUT, "OPT OUT", EXACT, None),
    ("Opt Out!", OUT, "OPT OUT", EXACT, None),
    ("opt out please", OUT, "OPT OUT", LEADING, None),
    ("Unsubscribe me", OUT, "UNSUBSCRIBE", LEADING, None),
    # The traps the issue lists.
    ("weekend", OTHER, None, NONE, None),
    ("attend", OTHER, None, NONE, None),
    ("friend", OTHER, None, NONE, None),
    ("backend", OTHER, None, NONE, None),
    ("stopwatch", OTHER, None, NONE, None),
    ("Stopped by the store", OTHER, None, NONE, None),
    # Against the compliance-safe reading: "Don't stop" plainly asks us to keep sending. A negated
    # STOP is the one place we do not opt out; every other STOP that ends a sentence does.
    ("Don't stop", OTHER, None, NONE, None),
    ("never stop", OTHER, None, NONE, None),
    ("stop pls", OUT, "STOP", LEADING, None),
    ("Stop\n", OUT, "STOP", EXACT, None),
    ("ＳＴＯＰ", OUT, "STOP", EXACT, None),
    ("ｓｔｏｐ ｐｌｅａｓｅ", OUT, "STOP", LEADING, None),
    ("ARRÊT", OUT, "ARRET", EXACT, None),
    ("arret", OUT, "ARRET", EXACT, None),
    ("cancelar", OUT, "CANCELAR", EXACT, None),
    ("CANCELAR por favor", OUT, "CANCELAR", LEADING, None),
    ("YES", YES, "YES", EXACT, None),
    ("yes!", YES, "YES", EXACT, None),
    ("Y", YES, "Y", EXACT, None),
    ("yes please", YES, "YES", LEADING, None),
    ("yesterday", OTHER, None, NONE, None),
    ("Yep", OTHER, None, NONE, None),
    # Emoji and symbols around a keyword.
    ("STOP 🛑", OUT, "STOP", EXACT, None),
    ("🛑stop", OUT, "STOP", EXACT, None),
    ("🙏 HELP 🙏", HELP, "HELP", EXACT, None),
    ("***STOP***", OUT, "STOP", EXACT, None),
    ("stop\r\nstop", OUT, "STOP", LEADING, None),
    ("S.T.O.P", OUT, "STOP", SPACED, None),  # DESIGN: letters spaced or dotted opt out
    # Revocation phrases anywhere.
    ("please remove me from your list", OUT, "REMOVE ME", PHRASE, None),
    ("Can you opt me out", OUT, "OPT ME OUT", PHRASE, None),
    ("Don't text me again", OUT, "DONT TEXT ME", PHRASE, None),
    ("do not text me", OUT, "DO NOT TEXT ME", PHRASE, None),
    ("Please stop texting me", OUT, "STOP TEXTING", PHRASE, None),
    ("no more texts", OUT, "NO MORE TEXTS", PHRASE, None),
    ("take me off this list", OUT, "TAKE ME OFF", PHRASE, None),
    ("I want to opt out", OUT, "OPT OUT", PHRASE, None),
    ("leave me alone", OUT, "LEAVE ME ALONE", PHRASE, None),
    ("wrong number", OUT, "WRONG NUMBER", PHRASE, None),
    ("I said STOP", OUT, "STOP", PHRASE, None),
    ("ok stop", OUT, "STOP", FILLER, None),
    ("please unsubscribe", OUT, "UNSUBSCRIBE", FILLER, None),
    # Everyday words that start a sentence count (CTIA: trailing text must not interfere).
    ("cancel my order", OUT, "CANCEL", LEADING, None),
    ("quit it", OUT, "QUIT", LEADING, None),
    ("End of story", OUT, "END", LEADING, None),
    # ...but not when they end one: "the end" is not a request (END is not a trailing word).
    ("the end", OTHER, None, NONE, None),
    ("when does the sale end", OTHER, None, NONE, None),
    # Multi-program scope (seed 004).
    ("STOP TONE1", OUT, "STOP", LEADING, "TONE1"),
    ("stop tone2 please", OUT, "STOP", LEADING, "TONE2"),
    ("STOP ALL", OUT, "STOP", LEADING, "ALL"),
    ("stop all", OUT, "STOP", LEADING, "ALL"),
    ("cancel tone1", OUT, "CANCEL", LEADING, "TONE1"),
    ("STOP TONE3", OUT, "STOP", LEADING, None),
    ("TONE1", IN, "TONE1", EXACT, "TONE1"),
    ("tone2", IN, "TONE2", EXACT, "TONE2"),
    ("join tone1", IN, "JOIN", LEADING, "TONE1"),
    ("JOIN", IN, "JOIN", EXACT, None),
    ("ALERTS", IN, "ALERTS", EXACT, "ALERTS"),
    ("alerts please", IN, "ALERTS", LEADING, "ALERTS"),
    ("START ALERTS", IN, "START", LEADING, "ALERTS"),
    # Help.
    ("HELP me", HELP, "HELP", LEADING, None),
    ("help!!!", HELP, "HELP", EXACT, None),
    ("info?", HELP, "INFO", EXACT, None),
    ("AYUDA", HELP, "AYUDA", EXACT, None),
    ("aide", HELP, "AIDE", EXACT, None),
    ("Aide svp", HELP, "AIDE", LEADING, None),
    ("helpful tips", OTHER, None, NONE, None),
    ("information please", OTHER, None, NONE, None),
    # Spanish.
    ("PARAR", OUT, "PARAR", EXACT, None),
    ("alto", OUT, "ALTO", EXACT, None),
    ("Baja", OUT, "BAJA", EXACT, None),
    ("detener", OUT, "DETENER", EXACT, None),
    ("FIN", OUT, "FIN", EXACT, None),
    ("Sí", YES, "SI", EXACT, None),
    ("si", YES, "SI", EXACT, None),
    ("no me envies mas", OUT, "NO ME ENVIES", PHRASE, None),
    ("quiero darme de baja", OUT, "DARME DE BAJA", PHRASE, None),
    ("finalmente", OTHER, None, NONE, None),
    ("altos precios", OTHER, None, NONE, None),
    # French.
    ("ARRETER", OUT, "ARRETER", EXACT, None),
    ("annuler", OUT, "ANNULER", EXACT, None),
    ("Désabonner", OUT, "DESABONNER", EXACT, None),
    ("désabonnez-moi", OUT, "DESABONNEZ MOI", PHRASE, None),
    ("TD", OUT, "TD", EXACT, None),
    ("oui", YES, "OUI", EXACT, None),
    ("Oui merci", YES, "OUI", LEADING, None),
    ("arrêt svp", OUT, "ARRET", LEADING, None),
    # Nothing to do with keywords.
    ("", OTHER, None, NONE, None),
    ("   ", OTHER, None, NONE, None),
    ("\n\t", OTHER, None, NONE, None),
    ("12345", OTHER, None, NONE, None),
    ("What time do you open?", OTHER, None, NONE, None),
    ("thanks!", OTHER, None, NONE, None),
    ("👍", OTHER, None, NONE, None),
    ("Hi", OTHER, None, NONE, None),
    ("unstoppable", OTHER, None, NONE, None),
    ("restart", OTHER, None, NONE, None),
    ("yes-man", YES, "YES", LEADING, None),
    ("remover", OTHER, None, NONE, None),
    ("endless", OTHER, None, NONE, None),
    ("quitting time", OTHER, None, NONE, None),
    ("cancellation policy?", OTHER, None, NONE, None),
    # Control characters and zero-width junk around a keyword.
    ("\x00STOP\x07", OUT, "STOP", EXACT, None),
    ("\u200bSTOP\u200b", OUT, "STOP", EXACT, None),
    ("S\u0301TOP", OUT, "STOP", EXACT, None),  # accents do not matter: Ś folds to S
]


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 200
    assert len({row[0] for row in CORPUS}) == len(CORPUS), "duplicate texts in the corpus"


@pytest.mark.parametrize(
    ("text", "intent", "keyword", "reason", "target"), CORPUS, ids=[repr(r[0])[:40] for r in CORPUS]
)
def test_corpus(text: str, intent: Intent, keyword: str | None, reason: MatchReason, target: str | None) -> None:
    result = classify(text, program_keywords=PROGRAM_KEYWORDS)
    assert (result.intent, result.keyword, result.reason, result.target) == (intent, keyword, reason, target)


@pytest.mark.parametrize(
    ("text", "language"),
    [("STOP", "en"), ("cancelar", "es"), ("ARRÊT", "fr"), ("AYUDA", "es"), ("aide", "fr"), ("oui", "fr"), ("Sí", "es")],
)
def test_language_of_the_match(text: str, language: str) -> None:
    assert classify(text).language == language


def test_oversized_message_starting_with_stop_opts_out() -> None:
    result = classify("STOP " + "x" * 10_000)
    assert (result.intent, result.reason) == (OUT, LEADING)


def test_only_the_first_1600_characters_are_classified() -> None:
    assert classify("a " * MAX_CLASSIFIED_CHARS + "remove me").intent is OTHER
    assert classify("hello remove me " + "a " * 2000).intent is OUT


def test_normalize() -> None:
    assert normalize("  Ｓｔｏｐ,\r\n PLEASE!! 🛑 ") == "STOP PLEASE"
    assert normalize("Don't") == "DONT"
    assert normalize("désabonner") == "DESABONNER"
    assert normalize("\x00\x1f") == ""


def test_custom_language_from_config() -> None:
    german = KeywordSet(language="de", opt_out=frozenset({"STOPP"}), help=frozenset({"HILFE"}))
    sets = (*BUILTIN_KEYWORD_SETS, german)
    assert classify("Stopp bitte", keyword_sets=sets).intent is OUT
    assert classify("Stopp bitte", keyword_sets=sets).language == "de"
    assert classify("HILFE", keyword_sets=sets).intent is HELP
    assert classify("Hilfe").intent is OTHER  # not without the configured set
    # "Stopp" opts out without it too, as one typo of STOP (issue 15): a missed opt-out is the violation.
    assert (classify("Stopp").intent, classify("Stopp").reason) == (OUT, MatchReason.TYPO)


def test_program_keywords_only_count_when_configured() -> None:
    assert classify("TONE1").intent is OTHER
    assert classify("TONE1", program_keywords=["tone1"]).intent is IN


def test_non_string_input_is_other() -> None:
    assert classify(None).intent is OTHER  # type: ignore[arg-type]
