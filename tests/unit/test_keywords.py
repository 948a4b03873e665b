"""The keyword corpus (tests/unit/keyword_corpus.py) and the classifier's other promises.

Each corpus row is (text, intent, keyword, reason, target): what a compliance officer expects an inbound
text to mean, and which rule must say so (the reason is stored as the decision's evidence).
"""

from __future__ import annotations

import pytest

from sms_consent import keyword_forms
from sms_consent.keywords import (
    BUILTIN_KEYWORD_SETS,
    MAX_CLASSIFIED_CHARS,
    Intent,
    KeywordSet,
    MatchReason,
    classify,
    normalize,
)
from tests.unit.keyword_corpus import CORPUS, PROGRAM_KEYWORDS

OUT, HELP, IN, OTHER = Intent.OPT_OUT, Intent.HELP, Intent.OPT_IN, Intent.OTHER
LEADING = MatchReason.LEADING


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 500
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


def test_every_reason_and_intent_is_in_the_corpus() -> None:
    assert {row[3] for row in CORPUS} == set(MatchReason)
    assert {row[1] for row in CORPUS} == set(Intent)


def test_every_opt_out_carries_a_reason_and_a_keyword() -> None:
    for text, *_ in CORPUS:
        result = classify(text, program_keywords=PROGRAM_KEYWORDS)
        if result.intent is OUT:
            assert result.reason is not MatchReason.NONE, text
            assert result.keyword, text


@pytest.mark.parametrize("word", sorted(keyword_forms.FALSE_FRIENDS))
def test_false_friends_mean_themselves(word: str) -> None:
    """Each common word one edit from an opt-out word stays OTHER, alone, first, or after a filler."""
    for text in (word.lower(), f"{word.capitalize()} please", f"please {word.lower()}"):
        assert classify(text).intent is OTHER, text


@pytest.mark.parametrize("word", ["END", "FIN", "TD"])
def test_no_typo_matching_below_four_letters(word: str) -> None:
    for form in keyword_forms.one_edit_forms(word):
        if classify(form).intent is OUT:
            assert classify(form).reason is not MatchReason.TYPO, form


def test_typos_only_for_opt_out_words() -> None:
    assert classify("halp").intent is OTHER
    assert classify("strat").intent is OTHER
    assert classify("yess").intent is OTHER


def test_keywords_inside_other_words_never_match_in_any_form() -> None:
    for text in ("weekend", "attend", "friend", "backend", "stopwatch", "please attend", "S T O P W A T C H"):
        assert classify(text).intent is OTHER, text


def test_configured_languages_get_no_typo_matching() -> None:
    german = KeywordSet(language="de", opt_out=frozenset({"AUFHOREN"}))
    assert classify("AUFHOREN", keyword_sets=(*BUILTIN_KEYWORD_SETS, german)).intent is OUT
    assert classify("AUFHOEREN", keyword_sets=(*BUILTIN_KEYWORD_SETS, german)).intent is OTHER


def test_zero_width_characters_vanish_and_non_breaking_spaces_split() -> None:
    assert normalize("S\u200bT\u200cO\u200dP\u2060\ufeff") == "STOP"
    assert normalize("stop\u00a0please") == "STOP PLEASE"
