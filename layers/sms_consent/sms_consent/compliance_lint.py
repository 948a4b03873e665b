"""The compliance lint: what CTIA expects of every program's replies, checked whenever a configuration
loads (and in CI by `sms-consent lint`).

- The opt-in prompt and the confirmation name the program or brand, state the message frequency,
  say "Msg & data rates may apply", and give HELP and STOP instructions.
- The HELP reply gives a support contact; the STOP reply confirms that no more messages will be sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sms_consent.config import Program, ProgramConfig, Replies

RATES = re.compile(r"msg\s*(&|and)\s*data\s*rates\s*may\s*apply", re.IGNORECASE)
CONTACT = re.compile(r"(@[\w-]+\.\w+|https?://|www\.|\d{3}[\s.-]?\d{3}[\s.-]?\d{4}|\b1-?8\d\d\b)", re.IGNORECASE)
STOP_CONFIRMED = re.compile(
    r"(no (more|further) (messages|msgs|texts)|will not receive|won't receive|unsubscribed|opted out|"
    r"ne recevrez plus|no recibir[aá]s m[aá]s|dado de baja|d[ée]sabonn[ée])",
    re.IGNORECASE,
)
# Rates disclosure in the languages we ship translations for.
RATES_BY_LANGUAGE = {
    "es": re.compile(r"(tarifas|cargos).{0,30}(mensaje|msj).{0,20}datos", re.IGNORECASE),
    "fr": re.compile(r"(frais|tarifs).{0,40}(message|sms).{0,30}donn[ée]es", re.IGNORECASE),
}
STOP_WORDS_BY_LANGUAGE = {"en": ("STOP",), "es": ("STOP", "PARAR", "BAJA", "ALTO"), "fr": ("STOP", "ARRET", "ARRÊT")}
HELP_WORDS_BY_LANGUAGE = {"en": ("HELP",), "es": ("HELP", "AYUDA"), "fr": ("HELP", "AIDE")}


@dataclass(frozen=True)
class LintProblem:
    where: str
    field: str
    message: str


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    return any(re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) for word in words)


def _lint_replies(
    program_id: str, program: Program, language: str, replies: Replies, field: str
) -> Iterator[LintProblem]:
    where = f"program '{program_id}'"
    rates = RATES if language == "en" else RATES_BY_LANGUAGE.get(language, RATES)
    stop_words = STOP_WORDS_BY_LANGUAGE.get(language, ("STOP",))
    help_words = HELP_WORDS_BY_LANGUAGE.get(language, ("HELP",))
    for name in ("optin_prompt", "confirmation"):
        text = getattr(replies, name)
        if text is None:
            continue
        path = f"{field}.{name}"
        if program.name.lower() not in text.lower() and program.brand.lower() not in text.lower():
            yield LintProblem(where, path, "must name the program or brand")
        if program.frequency.lower() not in text.lower():
            yield LintProblem(where, path, f"must state the message frequency ('{program.frequency}')")
        if not rates.search(text) and not RATES.search(text):
            yield LintProblem(where, path, "must say 'Msg & data rates may apply'")
        if not _mentions(text, help_words):
            yield LintProblem(where, path, "must give HELP instructions")
        if not _mentions(text, stop_words):
            yield LintProblem(where, path, "must give STOP (opt-out) instructions")
    if not CONTACT.search(replies.help):
        yield LintProblem(where, f"{field}.help", "the HELP reply must give a support contact (email, phone or URL)")
    if not STOP_CONFIRMED.search(replies.stop):
        yield LintProblem(where, f"{field}.stop", "the STOP reply must confirm that no more messages will be sent")


def lint(config: ProgramConfig) -> list[LintProblem]:
    problems: list[LintProblem] = []
    for program_id, program in config.programs.items():
        if program.double_opt_in and program.replies.optin_prompt is None:
            problems.append(
                LintProblem(f"program '{program_id}'", "replies.optin_prompt", "double opt-in needs a prompt")
            )
        problems.extend(_lint_replies(program_id, program, program.default_language, program.replies, "replies"))
        for language, replies in program.translations.items():
            problems.extend(_lint_replies(program_id, program, language, replies, f"translations.{language}"))
    for index, sender in enumerate(config.senders):
        if sender.stop_all and not STOP_CONFIRMED.search(sender.stop_all):
            problems.append(
                LintProblem(
                    f"senders[{index}]",
                    "stop_all",
                    "the STOP ALL reply must confirm that no more messages will be sent",
                )
            )
        if sender.help and not CONTACT.search(sender.help):
            problems.append(LintProblem(f"senders[{index}]", "help", "the HELP reply must give a support contact"))
    return problems
