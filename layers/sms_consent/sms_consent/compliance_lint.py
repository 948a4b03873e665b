"""The compliance lint: what CTIA expects of every program's replies, checked whenever a configuration
loads (and in CI by `sms-consent lint`).

- The opt-in prompt and the confirmation name the program or brand, state the message frequency,
  say "Msg & data rates may apply", and give HELP and STOP instructions.
- The HELP reply gives a support contact; the STOP reply confirms that no more messages will be sent.

Sender hygiene (seed 001, "Use dedicated short codes") gives warnings, not errors: a configuration
that breaks it still loads, and `sms-consent lint --strict` fails on it in CI.

- One sender number should not serve both transactional and marketing programs, nor several brands.
- On a short code shared by several programs, each program needs a keyword of its own: without one
  (or with one that a universal word such as STOP or YES shadows) a consumer cannot say which program
  a text is about. The configuration has no sender type: a sender written as digits is a short code
  (`phones.normalize_sender`: 3 to 8 digits; US short codes have 5 or 6).

`reply_problems` checks one reply as a handset received it; `sms-consent drill` runs it on every reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from sms_consent.keywords import BUILTIN_KEYWORD_SETS, KeywordSet, normalize

if TYPE_CHECKING:
    from sms_consent.config import Program, ProgramConfig, Replies, Sender

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


def _names(text: str, programs: tuple[Program, ...]) -> bool:
    lowered = text.lower()
    return any(program.name.lower() in lowered or program.brand.lower() in lowered for program in programs)


def _disclosure_problems(text: str, program: Program, language: str) -> Iterator[str]:
    """What an opt-in prompt or confirmation lacks (CTIA: name, frequency, rates, HELP, STOP)."""
    rates = RATES if language == "en" else RATES_BY_LANGUAGE.get(language, RATES)
    if not _names(text, (program,)):
        yield "must name the program or brand"
    if program.frequency.lower() not in text.lower():
        yield f"must state the message frequency ('{program.frequency}')"
    if not rates.search(text) and not RATES.search(text):
        yield "must say 'Msg & data rates may apply'"
    if not _mentions(text, HELP_WORDS_BY_LANGUAGE.get(language, ("HELP",))):
        yield "must give HELP instructions"
    if not _mentions(text, STOP_WORDS_BY_LANGUAGE.get(language, ("STOP",))):
        yield "must give STOP (opt-out) instructions"


def _lint_replies(
    program_id: str, program: Program, language: str, replies: Replies, field: str
) -> Iterator[LintProblem]:
    where = f"program '{program_id}'"
    for name in ("optin_prompt", "confirmation"):
        text = getattr(replies, name)
        if text is None:
            continue
        for message in _disclosure_problems(text, program, language):
            yield LintProblem(where, f"{field}.{name}", message)
    if not CONTACT.search(replies.help):
        yield LintProblem(where, f"{field}.help", "the HELP reply must give a support contact (email, phone or URL)")
    if not STOP_CONFIRMED.search(replies.stop):
        yield LintProblem(where, f"{field}.stop", "the STOP reply must confirm that no more messages will be sent")


def reminder_problems(text: str, program: Program, language: str = "en") -> Iterator[str]:
    """What a list-hygiene reminder lacks (seed 001, "Audit your customer lists"): it names the program
    or brand and tells how to unsubscribe (STOP)."""
    if not _names(text, (program,)):
        yield "must name the program or brand"
    if not _mentions(text, STOP_WORDS_BY_LANGUAGE.get(language, ("STOP",))):
        yield "must give STOP (opt-out) instructions"


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
        if program.list_hygiene is not None:
            problems.extend(
                LintProblem(f"program '{program_id}'", "list_hygiene.reminder_text", message)
                for message in reminder_problems(program.list_hygiene.reminder_text, program, program.default_language)
            )
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


# ---------------------------------------------------------------------- sender hygiene (warnings)


def is_short_code(number: str) -> bool:
    """A sender written as digits (E.164 numbers start with '+'); see the module docstring."""
    return number.isdigit()


def _universal_words(config: ProgramConfig) -> frozenset[str]:
    """The words every sender understands (STOP, HELP, START, YES... in every language we know)."""
    extra = tuple(
        KeywordSet(
            item.language,
            frozenset(item.opt_out),
            frozenset(item.help),
            frozenset(item.opt_in),
            frozenset(item.confirm),
        )
        for item in config.keyword_sets
    )
    words: set[str] = {"ALL"}  # STOP ALL
    for keyword_set in (*BUILTIN_KEYWORD_SETS, *extra):
        for group in (keyword_set.opt_out, keyword_set.help, keyword_set.opt_in, keyword_set.confirm):
            words.update(normalize(word).upper() for word in group)
    return frozenset(words)


def _sender_warnings(sender: Sender, config: ProgramConfig, universal: frozenset[str]) -> Iterator[str]:
    programs = {program_id: config.programs[program_id] for program_id in sender.programs}
    categories = {program.category for program in programs.values()}
    if len(categories) > 1:
        by_category = ", ".join(f"{pid} ({program.category})" for pid, program in programs.items())
        yield f"serves both transactional and marketing programs ({by_category}): use a number for each type"
    brands: dict[str, str] = {}
    for program in programs.values():
        brands.setdefault(" ".join(program.brand.lower().split()), program.brand)
    if len(brands) > 1:
        yield f"serves several brands ({', '.join(brands.values())}): use a number for each brand"
    if not is_short_code(sender.number) or len(programs) < 2:
        return
    owners: dict[str, list[str]] = {}
    for program_id, program in programs.items():
        words = [rule.word for rule in program.keywords if rule.action == "opt_in"]
        distinct = [word for word in words if normalize(word).upper() not in universal]
        if not distinct:
            shadowed = f" (only {', '.join(words)}, which every sender reads as a universal word)" if words else ""
            yield (
                f"program '{program_id}' has no keyword of its own on the shared short code{shadowed}: "
                "a consumer cannot name it (to join it, or with STOP <keyword>)"
            )
        for word in distinct:
            # Compared as a handset's text is read: "TONE-1" and "TONE 1" are the same keyword.
            owners.setdefault(normalize(word).upper(), []).append(program_id)
    for word, owner_ids in owners.items():
        if len(set(owner_ids)) > 1:
            yield f"programs {', '.join(owner_ids)} share the keyword {word}: a consumer cannot say which program"


def sender_warnings(config: ProgramConfig) -> list[LintProblem]:
    """Sender hygiene (seed 001): warnings, which never stop a configuration from loading."""
    universal = _universal_words(config)
    return [
        LintProblem(f"senders[{index}] ({sender.number})", "programs", message)
        for index, sender in enumerate(config.senders)
        for message in _sender_warnings(sender, config, universal)
    ]


# ---------------------------------------------------------------------- replies as received (the drill)

ReplyKind = Literal["help", "stop", "stop_menu", "optin_prompt", "confirmation"]


def reply_problems(kind: ReplyKind, text: str, programs: tuple[Program, ...], language: str = "en") -> list[str]:
    """What a reply a handset received lacks, as a carrier's auditor reads it. `programs` are those the
    reply speaks for: one for a program's reply, all of a shared sender's for its own replies."""
    if kind in ("optin_prompt", "confirmation"):
        return [problem for program in programs[:1] for problem in _disclosure_problems(text, program, language)]
    problems = []
    if kind != "stop_menu" and not _names(text, programs):
        problems.append("must name the program or brand")
    if kind == "help":
        if not CONTACT.search(text):
            problems.append("must give a support contact (email, phone or URL)")
        if not _mentions(text, STOP_WORDS_BY_LANGUAGE.get(language, ("STOP",))):
            problems.append("must say how to opt out (STOP)")
    elif kind == "stop":
        if not STOP_CONFIRMED.search(text):
            problems.append("must confirm that no more messages will be sent")
    else:
        # The menu must offer a way out of each program, by its keyword, and of all of them.
        for program in programs:
            words = [rule.word for rule in program.keywords if rule.action == "opt_in"]
            if words and not any(re.search(rf"\bSTOP\s+{re.escape(word)}\b", text, re.IGNORECASE) for word in words):
                problems.append(f"must offer STOP {words[0]} ({program.name})")
        if not re.search(r"\bSTOP\s+ALL\b", text, re.IGNORECASE):
            problems.append("must offer STOP ALL")
    return problems
