"""Program configuration: programs, keywords, replies, sender numbers and policies.

The YAML file ships with the deployment. `load_config` validates its schema and the CTIA content of
every reply (the compliance lint); a file that fails either does not load, and the error names the
file, the program (or sender) and the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sms_consent.compliance_lint import lint
from sms_consent.phones import InvalidPhoneNumber, NumberType, normalize_sender
from sms_consent.pumping import PumpingConfig
from sms_consent.quiet_hours import QuietHoursPolicy, policy_from_config

PROGRAM_ID = r"^[a-z][a-z0-9_-]{0,39}$"
KEYWORD = r"^[A-Z0-9][A-Z0-9 -]{0,29}$"
LANGUAGE = r"^[a-z]{2}$"
MAX_REPLY_LENGTH = 640  # four concatenated GSM-7 segments, a generous ceiling for a compliance reply


class ConfigError(ValueError):
    def __init__(self, file: Path | str, where: str, field: str, message: str) -> None:
        self.file, self.where, self.field, self.message = str(file), where, field, message
        super().__init__(f"{file}: {where}, field '{field}': {message}")


class _Strict(BaseModel):
    # Built on first use, not at import: cold starts pay only for the models an invocation needs.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Replies(_Strict):
    help: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    stop: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    confirmation: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    optin_prompt: str | None = Field(default=None, min_length=1, max_length=MAX_REPLY_LENGTH)
    # Sent when a confirmation word arrives with no prompt pending (or after the window).
    no_pending: str | None = Field(default=None, min_length=1, max_length=MAX_REPLY_LENGTH)


class KeywordRule(_Strict):
    word: str = Field(pattern=KEYWORD)
    action: Literal["opt_in", "opt_out", "help"] = "opt_in"

    @field_validator("word", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value


class FrequencyCap(_Strict):
    messages: int = Field(ge=1, le=1000)
    hours: int = Field(ge=1, le=24 * 31)


class ReducedFrequency(_Strict):
    """At most `messages` marketing messages per `days` (rolling) to a subscriber who is unengaged."""

    messages: int = Field(ge=1, le=100)
    days: int = Field(ge=1, le=90)


class ListHygiene(_Strict):
    """List audits and engagement (seed 001): a periodic reminder that the number is subscribed, skipped
    for those who texted recently; a reduced frequency for the unengaged; removal of the fully unengaged
    after `remove_after_reminders` unanswered reminders (a status change with source `list_hygiene`,
    never a consumer opt-out). Engagement is an inbound message from the number (a reply, a keyword, a
    YES), or the subscription itself."""

    reminder_every_days: int = Field(ge=7, le=365)
    reminder_text: str = Field(min_length=1, max_length=MAX_REPLY_LENGTH)
    skip_if_engaged_within_days: int = Field(default=30, ge=0, le=365)
    unengaged_after_days: int | None = Field(default=None, ge=1, le=3650)
    reduced_frequency: ReducedFrequency | None = None
    remove_after_reminders: int | None = Field(default=None, ge=1, le=12)

    @model_validator(mode="after")
    def _consistent(self) -> ListHygiene:
        if self.skip_if_engaged_within_days > self.reminder_every_days:
            raise ValueError("skip_if_engaged_within_days must not exceed reminder_every_days")
        if (self.reduced_frequency is None) != (self.unengaged_after_days is None):
            raise ValueError("reduced_frequency and unengaged_after_days go together: set both or neither")
        return self


class Program(_Strict):
    name: str = Field(min_length=2, max_length=60)
    brand: str = Field(min_length=2, max_length=60)
    category: Literal["marketing", "transactional"] = "marketing"
    keywords: tuple[KeywordRule, ...] = ()
    double_opt_in: bool = True
    frequency: str = Field(min_length=3, max_length=60, description="as disclosed, e.g. '4 msgs/month'")
    support: str = Field(min_length=3, max_length=120, description="email, phone or URL for HELP")
    terms_url: str | None = None
    allowed_countries: tuple[str, ...] = ("US",)
    frequency_cap: FrequencyCap | None = None
    max_segments: int = Field(default=6, ge=1, le=10)
    default_language: str = Field(default="en", pattern=LANGUAGE)
    replies: Replies
    translations: dict[str, Replies] = Field(default_factory=dict)
    list_hygiene: ListHygiene | None = None

    @field_validator("allowed_countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not re.fullmatch(r"[A-Z]{2}", code):
                raise ValueError(f"'{code}' is not an ISO 3166-1 alpha-2 country code")
        return value

    @field_validator("translations")
    @classmethod
    def _languages(cls, value: dict[str, Replies]) -> dict[str, Replies]:
        for language in value:
            if not re.fullmatch(LANGUAGE, language):
                raise ValueError(f"'{language}' is not a two-letter language code")
        return value

    def replies_for(self, language: str | None) -> Replies:
        if language and language != self.default_language and language in self.translations:
            return self.translations[language]
        return self.replies


class Sender(_Strict):
    number: str
    bare_stop: Literal["all", "ask"] = "all"
    programs: tuple[str, ...] = Field(min_length=1)
    # Enabled for MMS with the provider. Off unless said: an MMS from a number that is not enabled is
    # refused, while its media as a link in an SMS always arrives (see `sms_consent.mms`).
    mms: bool = False
    # Sender-level replies, needed where several programs share the number.
    stop_menu: str | None = Field(default=None, max_length=MAX_REPLY_LENGTH)
    stop_all: str | None = Field(default=None, max_length=MAX_REPLY_LENGTH)
    help: str | None = Field(default=None, max_length=MAX_REPLY_LENGTH)

    @field_validator("number", mode="before")
    @classmethod
    def _number(cls, value: Any) -> str:
        try:
            return normalize_sender(str(value))
        except InvalidPhoneNumber as exc:
            raise ValueError(f"'{value}' is not an E.164 number or a short code: {exc}") from None


class ExtraKeywordSet(_Strict):
    language: str = Field(pattern=LANGUAGE)
    opt_out: tuple[str, ...] = ()
    help: tuple[str, ...] = ()
    opt_in: tuple[str, ...] = ()
    confirm: tuple[str, ...] = ()
    opt_out_phrases: tuple[str, ...] = ()


class Window(_Strict):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")


class QuietHours(_Strict):
    default: Window = Window(start="08:00", end="21:00")
    regions: dict[str, Window] = Field(
        default_factory=lambda: {
            "US-FL": Window(start="08:00", end="20:00"),
            "US-OK": Window(start="08:00", end="20:00"),
            "US-MD": Window(start="08:00", end="20:00"),
        }
    )


class OptinLimits(_Strict):
    """Sign-ups through POST /v1/optins: fixed windows per client IP, per number and per 1k-number block."""

    per_client_ip: int = Field(default=30, ge=1)
    client_ip_window_minutes: int = Field(default=60, ge=1, le=1440)
    per_number: int = Field(default=5, ge=1)
    number_window_hours: int = Field(default=24, ge=1, le=168)
    per_prefix: int = Field(default=30, ge=1)  # a sweep through consecutive numbers
    prefix_window_minutes: int = Field(default=60, ge=1, le=1440)


class OptOutScope(_Strict):
    """Whom a consumer's opt-out covers.

    Until `revoke_all_from`: the programs of the sender it reached (CTIA practice). From that date: also
    every marketing program of the deployment, on every sender (FCC 24-24, 47 CFR 64.1200(a)(10): a
    revocation covers all of a caller's robotexts on unrelated matters; effective 2027-01-31 after the
    Commission's delays). Transactional programs on other senders continue. `null`: never.
    """

    revoke_all_from: date | None = date(2027, 1, 31)


class ProgramConfig(_Strict):
    version: Literal[1] = 1
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    confirmation_window_days: int = Field(default=30, ge=1, le=90)
    optout_notice_days: int = Field(default=30, ge=1, le=90)
    blocked_number_types: tuple[NumberType, ...] = (
        NumberType.PREMIUM_RATE,
        NumberType.SHARED_COST,
        NumberType.UAN,
        NumberType.VOICEMAIL,
        NumberType.PAGER,
    )
    quiet_hours: QuietHours = QuietHours()
    keyword_sets: tuple[ExtraKeywordSet, ...] = ()
    senders: tuple[Sender, ...] = Field(min_length=1)
    programs: dict[str, Program] = Field(min_length=1)
    pumping: PumpingConfig = PumpingConfig()
    optin_limits: OptinLimits = OptinLimits()
    opt_out_scope: OptOutScope = OptOutScope()

    @field_validator("programs")
    @classmethod
    def _program_ids(cls, value: dict[str, Program]) -> dict[str, Program]:
        for program_id in value:
            if not re.fullmatch(PROGRAM_ID, program_id):
                raise ValueError(f"program id '{program_id}' must match {PROGRAM_ID}")
        return value

    @model_validator(mode="after")
    def _references(self) -> ProgramConfig:
        seen: dict[str, str] = {}
        for index, sender in enumerate(self.senders):
            if sender.number in seen:
                raise _FieldProblem(f"senders[{index}]", "number", f"{sender.number} is listed twice")
            seen[sender.number] = sender.number
            for program_id in sender.programs:
                if program_id not in self.programs:
                    raise _FieldProblem(f"senders[{index}]", "programs", f"unknown program '{program_id}'")
            if sender.bare_stop == "ask" and not sender.stop_menu:
                raise _FieldProblem(f"senders[{index}]", "stop_menu", "a sender that asks needs a stop_menu reply")
        words: dict[str, str] = {}
        for program_id, program in self.programs.items():
            for rule in program.keywords:
                if rule.word in words and words[rule.word] != program_id:
                    raise _FieldProblem(
                        f"program '{program_id}'", "keywords", f"'{rule.word}' is already used by '{words[rule.word]}'"
                    )
                words[rule.word] = program_id
        return self

    # ------------------------------------------------------------------ look-ups

    @cached_property
    def senders_by_number(self) -> Mapping[str, Sender]:
        return {sender.number: sender for sender in self.senders}

    def sender(self, number: str) -> Sender | None:
        return self.senders_by_number.get(number)

    def programs_of(self, sender_number: str) -> tuple[str, ...]:
        sender = self.sender(sender_number)
        return sender.programs if sender else ()

    def program_for_keyword(self, word: str, sender_number: str) -> str | None:
        """The program on this sender that owns the keyword (program keywords are per sender)."""
        word = word.upper()
        for program_id in self.programs_of(sender_number):
            if any(rule.word == word for rule in self.programs[program_id].keywords):
                return program_id
        return None

    def consumer_opt_out_programs(self, sender_programs: tuple[str, ...], at: datetime) -> tuple[str, ...]:
        """The programs a consumer's opt-out sent to a sender ends, as of the message's time `at`."""
        start = self.opt_out_scope.revoke_all_from
        if start is None or at.astimezone(UTC).date() < start:
            return sender_programs
        marketing = (p for p, program in self.programs.items() if program.category == "marketing")
        return tuple(dict.fromkeys((*sender_programs, *marketing)))

    def sender_for_program(self, program_id: str) -> Sender | None:
        return next((s for s in self.senders if program_id in s.programs), None)

    @cached_property
    def quiet_hours_policy(self) -> QuietHoursPolicy:
        return policy_from_config(
            (self.quiet_hours.default.start, self.quiet_hours.default.end),
            {region: (window.start, window.end) for region, window in self.quiet_hours.regions.items()},
        )


class _FieldProblem(ValueError):
    def __init__(self, where: str, field: str, message: str) -> None:
        self.where, self.field, self.message = where, field, message
        super().__init__(message)


# ---------------------------------------------------------------------- loading


def _locate(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Turn a pydantic error location into (program or sender, field)."""
    parts = [str(part) for part in loc]
    if len(parts) >= 2 and parts[0] == "programs":
        return f"program '{parts[1]}'", ".".join(parts[2:]) or "(program)"
    if len(parts) >= 2 and parts[0] == "senders":
        return f"senders[{parts[1]}]", ".".join(parts[2:]) or "(sender)"
    return "top level", ".".join(parts) or "(file)"


def parse_config(data: Any, source: Path | str = "<config>") -> ProgramConfig:
    if not isinstance(data, dict):
        raise ConfigError(source, "top level", "(file)", "expected a mapping at the top of the file")
    try:
        config = ProgramConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, _FieldProblem):
            raise ConfigError(source, cause.where, cause.field, cause.message) from None
        where, field = _locate(tuple(first["loc"]))
        raise ConfigError(source, where, field, first["msg"]) from None
    problems = lint(config)
    if problems:
        first_problem = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise ConfigError(source, first_problem.where, first_problem.field, first_problem.message + more)
    return config


def load_config(path: Path | str) -> ProgramConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, "top level", "(file)", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(path, "top level", "(file)", f"not valid YAML: {exc}") from None
    return parse_config(data, path)
