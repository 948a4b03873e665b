"""Every interface between domain code and the outside world, and the values that cross them.

Domain modules depend on these Protocols only; adapters (`sms_consent.adapters`) and stores
(`sms_consent.repository`) implement them, and `wiring` plugs them in. Tests swap in the in-memory
versions of `tests/fakes.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, TypeVar

from sms_consent.breakers import Breaker, Trip
from sms_consent.consent import AuditEvent, Change, NumberState
from sms_consent.messages import BusEvent, OutboundRequest, OutgoingSms, SendResult
from sms_consent.phones import PhoneInfo
from sms_consent.reassigned_numbers import RndAnswer, RndQuery

# ---------------------------------------------------------------------- errors every port may raise


class StoreUnavailable(RuntimeError):
    """Stored data could not be read after every retry. Never read as "absent": callers fail closed."""


class BadCursor(ValueError):
    """A page cursor that the store did not hand out."""


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the number between our read and our write, or DynamoDB refused the write for
    contention or throttling (from `update`: on every attempt, after jittered backoff)."""


class WriteThrottled(ConcurrentUpdate):
    """DynamoDB throttled the write after botocore's own retries: busy, not contended."""


class SendError(Exception):
    """The provider refused the message; `retryable` says whether trying again may help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class RecipientOptedOut(SendError):
    """The provider's own opt-out list holds the number (carrier-level STOP)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# ---------------------------------------------------------------------- messages and events


class SmsSender(Protocol):
    def send(self, message: OutgoingSms) -> SendResult: ...


class OutboundRequests(Protocol):
    """Where messages for handsets go: OutboundRequestsTopic, whose only subscriber is the send gate."""

    def publish(self, request: OutboundRequest) -> str: ...


class EventSink(Protocol):
    def publish(self, events: Sequence[BusEvent]) -> None: ...


# ---------------------------------------------------------------------- numbers


@dataclass(frozen=True, slots=True)
class Committed:
    """An audit event as the table's stream delivered it: its change is committed."""

    sequence: int  # the stream record's sequence number: increasing within a stream shard
    event: AuditEvent


class FeedLedger(Protocol):
    def fold(self, committed: Sequence[Committed]) -> int:
        """Add these events to the program figures and the traffic-pumping detector's counters, each
        exactly once (a retried batch is skipped); returns how many were added now."""
        ...


class Decided(Protocol):
    """A domain decision about one number: what it changes (a `Change` is its own decision)."""

    @property
    def change(self) -> Change: ...


D = TypeVar("D", bound=Decided)


@dataclass(frozen=True)
class Stored[D]:
    """What `NumberStore.update` applied: the stored state, the events written, the decision taken."""

    state: NumberState
    events: tuple[AuditEvent, ...]
    decision: D


class NumberStore(Protocol):
    """Number state and audit trail (sms_consent.repository.numbers)."""

    def get(self, phone: str) -> NumberState: ...

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]:
        """Raises StoreUnavailable when some states stay unread: never reports them as new numbers."""
        ...

    def update(
        self, phone: str, decide: Callable[[NumberState], D], *, before_write: Callable[[D], None] | None = None
    ) -> Stored[D]:
        """Read, apply the pure `decide`, write atomically with its events; on a concurrent change read
        again and re-apply. `before_write` sees each decision about to be written and may refuse it by
        raising (nothing is written then)."""
        ...

    def history(self, phone: str) -> list[AuditEvent]: ...


@dataclass(frozen=True, slots=True)
class SendReservation:
    """One send: its log appended to (if it is capped) and an opt-out notice recorded (if due)."""

    phone: str
    program: str  # opt-out notices are recorded per program
    notice_at: datetime | None = None
    log_key: str | None = None  # the capped stream: a program, or `replies`
    log_read: tuple[int, ...] = ()  # the log as the gate read it: the write is conditional on it
    log_after: tuple[int, ...] = ()


class GateStore(NumberStore, Protocol):
    def reserve_send(self, reservation: SendReservation) -> bool:
        """False when the log changed since it was read (another send): re-read and decide again."""
        ...

    def claim_send(self, phone: str, request_id: str, now: datetime) -> bool:
        """Claim the one send of this request to this number; False when an earlier delivery of the same
        request claimed it already (it was sent, or its outcome is unknown: never sent twice)."""
        ...

    def release_send(self, phone: str, request_id: str) -> None:
        """The provider refused the claimed send outright: a later delivery may send it."""
        ...


class ProfileStore(Protocol):
    def phone_of(self, user_id: str) -> str | None: ...

    def users_of(self, phone: str) -> list[str]: ...

    def link(self, user_id: str, phone: str, previous: str | None, now: datetime) -> bool:
        """Point the profile at `phone` if it still points at `previous`; False when it moved meanwhile."""
        ...


# ---------------------------------------------------------------------- sign-up guards


@dataclass(frozen=True)
class CaptchaResult:
    provider: str
    passed: bool
    unavailable: bool = False  # the provider could not be asked: neither passed nor failed
    error_codes: tuple[str, ...] = ()
    hostname: str | None = None
    challenge_ts: str | None = None

    def evidence(self) -> dict[str, Any]:
        found: dict[str, Any] = {"provider": self.provider, "passed": self.passed}
        if self.hostname:
            found["hostname"] = self.hostname
        if self.challenge_ts:
            found["challenge_ts"] = self.challenge_ts
        if self.error_codes:
            found["error_codes"] = list(self.error_codes)
        return found


class Captcha(Protocol):
    def verify(self, token: str, client_ip: str | None) -> CaptchaResult: ...


@dataclass(frozen=True, slots=True)
class ConsentText:
    """The exact words a sign-up showed, stored once by their hash; when they were first and last shown
    (folded from the stream, so briefly behind the sign-ups themselves)."""

    text_hash: str
    text: str
    first_shown: str | None = None  # ISO-8601 UTC
    last_shown: str | None = None
    times_shown: int = 0


class ConsentTexts(Protocol):
    def remember(self, text_hash: str, text: str) -> None:
        """Store the words once (a no-op for words already stored); raises when they cannot be stored,
        so that no consent is recorded that points at words nobody kept."""
        ...

    def get_many(self, hashes: Sequence[str]) -> dict[str, ConsentText]: ...


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` hits per fixed window of `window` for one key (client IP, number, prefix)."""

    dimension: str
    key: str
    limit: int
    window: timedelta


@dataclass(frozen=True)
class Refusal:
    limit: RateLimit
    retry_at: datetime  # when the window that refused ends


class RateLimiter(Protocol):
    def consume(self, limits: Sequence[RateLimit], now: datetime) -> Refusal | None:
        """Count one hit against every limit, unless one is already reached: then count none."""
        ...


# ---------------------------------------------------------------------- the send gate's other inputs


@dataclass(frozen=True, slots=True)
class MediaFile:
    """One media file as HeadObject described it; the gate judges its type and size."""

    url: str
    content_type: str  # lower case, without parameters; "" when S3 has none
    size: int


@dataclass(frozen=True, slots=True)
class MediaReport:
    """What HeadObject said about a request's MMS media: the files it read, and those it could not."""

    total_bytes: int = 0
    problems: tuple[str, ...] = ()  # files that could not be read, or not named as s3://bucket/key
    files: tuple[MediaFile, ...] = ()


class MediaInspector(Protocol):
    def inspect(self, urls: Sequence[str]) -> MediaReport: ...


class MediaLinks(Protocol):
    """A link a handset can open for a media file (an s3:// URL), for recipients that cannot take MMS."""

    def link_for(self, url: str) -> str: ...


class Deferrals(Protocol):
    def defer(self, request: OutboundRequest, until: datetime, now: datetime) -> None: ...


class BreakerSource(Protocol):
    """The traffic-pumping breakers, by (dimension, key)."""

    def open_breakers(self, now: datetime) -> Mapping[tuple[str, str], Breaker]:
        """The ones open at `now`."""
        ...

    def all_breakers(self) -> Mapping[tuple[str, str], Breaker]:
        """Open ones and those closed within their 7-day escalation history (closed ones: half-open)."""
        ...


# ---------------------------------------------------------------------- traffic-pumping detector


@dataclass(frozen=True, slots=True)
class KeyCounts:
    """One country, prefix or IP in one bucket."""

    dimension: str  # "country", "area" (North American area code), "prefix", "ip"
    key: str
    prompts: int = 0
    confirmations: int = 0
    suffixes: frozenset[str] = frozenset()  # prefix: last three digits seen
    numbers: frozenset[str] = frozenset()  # ip: numbers prompted
    countries: frozenset[str] = frozenset()  # ip: countries prompted
    held: int = 0  # prompts kept back (counted in `prompts` too)
    released: int = 0  # held prompts sent since (in the bucket of their release)
    waiting: int = 0  # held prompts put on a waiting list (held for want of confirmations, not by a breaker)

    @property
    def sent(self) -> int:
        return self.prompts - self.held + self.released


@dataclass(frozen=True, slots=True)
class Baseline:
    """What is usual for a key: prompts in this 5-minute slot of the week in past weeks, and conversion."""

    same_slot_prompts: tuple[int, ...] = ()  # one value per past week, newest first
    total_prompts: int = 0  # everything ever seen for the key (0: a new destination)
    total_confirmations: int = 0


class CounterStore(Protocol):
    def read_bucket(self, start: datetime) -> dict[tuple[str, str], KeyCounts]: ...

    def baselines(self, keys: Sequence[tuple[str, str]], slot: int) -> dict[tuple[str, str], Baseline]:
        """Raises StoreUnavailable when some baselines stay unread (a missing one means "no history")."""
        ...

    def roll_up(self, start: datetime, counts: Mapping[tuple[str, str], KeyCounts]) -> None: ...

    def read_live(self, keys: Sequence[tuple[str, str]], now: datetime) -> dict[tuple[str, str], KeyCounts]:
        """These keys' counts in the current and the previous bucket, merged (one batched read)."""
        ...

    def record_live_prompt(
        self, phone: PhoneInfo, client_ip: str | None, now: datetime, *, held: bool = False, waits_in: str | None = None
    ) -> None:
        """Count a prompt's prefix, area code and client IP now, not from the stream a second later.
        `waits_in`: the dimension of the scope whose confirmations a held prompt waits for."""
        ...

    def record_release(self, phone: PhoneInfo, now: datetime) -> None:
        """A held prompt was sent after all."""
        ...


@dataclass(frozen=True, slots=True)
class HeldPrompt:
    """An opt-in prompt kept back until confirmations vouch for its scope (pumping.unconfirmed)."""

    phone: str  # E.164
    program: str
    language: str | None
    held_at: datetime
    scope: tuple[str, str]  # the block, area code or country that was over its budget


class HeldPrompts(Protocol):
    def hold(self, prompt: HeldPrompt, until: datetime) -> None: ...

    def waiting(self, scope: tuple[str, str], since: datetime, limit: int) -> list[HeldPrompt]:
        """The scope's prompts held since `since`, newest first."""
        ...

    def take(self, prompt: HeldPrompt) -> bool:
        """Remove it from the waiting list; False when another release took it first."""
        ...


class BreakerStore(Protocol):
    def all_breakers(self) -> Mapping[tuple[str, str], Breaker]: ...

    def open_breaker(self, trip: Trip, *, now: datetime, previous: Breaker | None, watch: bool = False) -> Breaker: ...

    def mark_protect(self, dimension: str, key: str, state: str) -> None: ...


class ProtectRules(Protocol):
    """The provider's protect configuration (End User Messaging SMS): it stops traffic that is sent
    around the platform too. Country rules have no expiry; number overrides do."""

    def block_country(self, country: str) -> None: ...

    def allow_country(self, country: str) -> None: ...

    def block_numbers(self, phones: Sequence[str], until: datetime) -> None: ...


# ---------------------------------------------------------------------- the provider's opt-out list


@dataclass(frozen=True, slots=True)
class ProviderOptOut:
    phone: str  # E.164
    opted_out_at: datetime | None  # None where the provider does not say (SNS)


class ProviderOptOutList(Protocol):
    """The account's opt-out list at the SMS provider (End User Messaging, SNS, or the local file)."""

    name: str

    def opted_out(self) -> Iterable[ProviderOptOut]:
        """Every number on the list, page by page."""
        ...

    def lookup(self, phone: str) -> ProviderOptOut | None:
        """The number's entry, if it is on the list: one call."""
        ...

    def add(self, phone: str) -> bool:
        """Put the number on the list; False where the provider has no such call (SNS)."""
        ...

    def remove(self, phone: str) -> bool:
        """Take it off; False where the provider refuses (a consumer's own carrier-level opt-out)."""
        ...


class SyncCheckpoint(Protocol):
    def watermark(self) -> datetime | None: ...

    def save(self, watermark: datetime) -> None: ...


# ---------------------------------------------------------------------- the FCC Reassigned Numbers Database


class ReassignedNumbersUnavailable(RuntimeError):
    """The database could not answer (down, refused, out of queries): neither yes nor no."""


class ReassignedNumbers(Protocol):
    """The FCC's Reassigned Numbers Database: was each number permanently disconnected on or after its date?"""

    name: str

    def check(self, queries: Sequence[RndQuery]) -> dict[RndQuery, RndAnswer]:
        """One batched look-up answering every query; raises ReassignedNumbersUnavailable otherwise."""
        ...


# ---------------------------------------------------------------------- list hygiene (seed 001)


@dataclass(frozen=True, slots=True)
class DueEntry:
    """One number in a list-hygiene due bucket (`bucket`: the item of the day that holds it)."""

    bucket: str
    phone: str


class HygieneIndex(Protocol):
    """Subscribers per program by the day their list-hygiene clock started (repository.hygiene): read
    a day's buckets, never the table."""

    def due(self, program: str, day: date) -> list[DueEntry]: ...

    def schedule(self, program: str, day: date, phones: Sequence[str]) -> None:
        """Put the numbers in the day's bucket (read again `reminder_every_days` after `day`)."""
        ...

    def done(self, program: str, day: date, entries: Sequence[DueEntry]) -> None:
        """Take handled numbers out of the day's buckets."""
        ...


class HygieneLog(Protocol):
    """What a list-hygiene run writes besides consent changes: reminder times and its figures."""

    def record_reminder(self, phone: str, program: str, times: tuple[int, ...]) -> None: ...

    def record_figures(self, program: str, day: date, figures: Mapping[str, int]) -> None: ...


class EngagementLog(Protocol):
    def record_engagement(self, phone: str, at: datetime) -> None:
        """The number texted us at `at` (kept only if newer than what is stored)."""
        ...
