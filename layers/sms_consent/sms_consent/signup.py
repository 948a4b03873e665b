"""Sign-ups from the public web form: CAPTCHA, rate limits, pumping breakers, then the double opt-in.

Pure domain code: the CAPTCHA, the rate-limit counters, the breakers, storage and the outbound topic
come in through ports. The status change itself is `subscriptions.subscribe`, as for every source.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sms_consent import breakers, phones, prompt_holds, pumping
from sms_consent.clock import Clock
from sms_consent.config import OptinLimits, ProgramConfig
from sms_consent.consent import EVIDENCE_TEXT_LIMIT, NumberState, Source, Status
from sms_consent.messages import Category, to_number
from sms_consent.ports import (
    BreakerSource,
    Captcha,
    CaptchaResult,
    ConsentTexts,
    NumberStore,
    OutboundRequests,
    RateLimit,
    RateLimiter,
)
from sms_consent.subscriptions import (
    DoubleOptInReason,
    Rejected,
    Rejection,
    SubscriptionAction,
    SubscriptionDecision,
    check_destination,
    parse_number,
    publish_prompt,
    subscribe,
)


@dataclass(frozen=True)
class RateLimitPolicy:
    """The configured limits (`optin_limits` in programs.yaml) as the counters they need."""

    limits: OptinLimits = field(default_factory=OptinLimits)

    def for_client(self, client_ip: str | None) -> list[RateLimit]:
        if not client_ip:
            return []
        window = timedelta(minutes=self.limits.client_ip_window_minutes)
        return [RateLimit("ip", client_ip, self.limits.per_client_ip, window)]

    def for_number(self, phone: phones.PhoneInfo) -> list[RateLimit]:
        return [
            RateLimit("number", phone.e164, self.limits.per_number, timedelta(hours=self.limits.number_window_hours)),
            RateLimit(
                "prefix", phone.prefix, self.limits.per_prefix, timedelta(minutes=self.limits.prefix_window_minutes)
            ),
        ]


@dataclass(frozen=True)
class WebForm:
    phone: str
    program: str
    captcha_token: str | None
    consent_text: str
    use_double_opt_in: bool = True
    language: str | None = None
    page_url: str | None = None
    client_ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None

    def evidence(self, captcha: CaptchaResult) -> dict[str, Any]:
        found: dict[str, Any] = {
            "client_ip": self.client_ip,
            "user_agent": (self.user_agent or "")[:EVIDENCE_TEXT_LIMIT] or None,
            "page_url": (self.page_url or "")[:EVIDENCE_TEXT_LIMIT] or None,
            "origin": self.origin,
            "consent_text_hash": text_hash(self.consent_text),  # the words themselves: ConsentTexts
            "language": self.language,
            "captcha": captcha.evidence(),
        }
        return {key: value for key, value in found.items() if value is not None}


@dataclass(frozen=True)
class SignupDeps:
    config: ProgramConfig
    store: NumberStore
    outbound: OutboundRequests
    captcha: Captcha
    texts: ConsentTexts
    limiter: RateLimiter
    breakers: BreakerSource
    clock: Clock
    policy: RateLimitPolicy = field(default_factory=RateLimitPolicy)
    captcha_hostnames: frozenset[str] = frozenset()  # empty: a CAPTCHA solved on any site counts
    inline: pumping.InlineDeps | None = None  # score each prompt before it leaves (None: breakers only)


@dataclass(frozen=True)
class SignupResult:
    phone: str
    action: SubscriptionAction
    status: Status  # pending (a prompt is open) or subscribed
    expires_at: datetime | None
    prompt_sent: bool
    reason: DoubleOptInReason | None = None  # why a confirmation is asked for, when one is
    held: bool = False  # the prompt was kept back (pumping suspected); the answer does not say so


@dataclass(frozen=True)
class Hold:
    """Whether a sign-up's prompt leaves now."""

    reason: str | None = None  # why it is kept back; None: it leaves
    waits_in: tuple[str, str] | None = None  # kept until confirmations in this scope vouch for it
    recorded: str | None = None  # `record_only`: what would have held it


# Decisions that send a message: the number's and its block's limits are counted for these only.
SENDING = (SubscriptionAction.PROMPTED, SubscriptionAction.SUBSCRIBED)


def _refuse_if_limited(limiter: RateLimiter, limits: Sequence[RateLimit], now: datetime) -> None:
    if not limits:
        return
    refusal = limiter.consume(limits, now)
    if refusal is not None:
        what = {"ip": "this client", "number": "this number", "prefix": "numbers in this range"}
        raise Rejected(
            Rejection.RATE_LIMITED,
            f"too many sign-ups from {what.get(refusal.limit.dimension, refusal.limit.dimension)}; try again later",
            retry_at=refusal.retry_at,
        )


def text_hash(text: str) -> str:
    """How a consent text is proven: its SHA-256, kept beside the (possibly cut) text itself."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class _NumberLimits:
    """The number's and its block's sign-up limits, counted once per request, before anything is
    written, and only for a decision that sends a message (a refusal raised here writes nothing)."""

    def __init__(self, limiter: RateLimiter, limits: Sequence[RateLimit], now: datetime) -> None:
        self._limiter, self._limits, self._now = limiter, limits, now
        self._counted = False

    def count_once(self, decision: SubscriptionDecision) -> None:
        if decision.action in SENDING and not self._counted:
            _refuse_if_limited(self._limiter, self._limits, self._now)
            self._counted = True


def submit_form(form: WebForm, deps: SignupDeps) -> SignupResult:
    """A sign-up from the public web form, checked from the cheapest refusal to the costliest.

    Client input is judged first (number, program, CAPTCHA token present), then the client IP's rate
    limit (before the CAPTCHA, so a bot pays for its failures), the CAPTCHA, the pumping breakers, and
    only for a request that will send a message the number's and its prefix's limits (so that failed
    CAPTCHAs cannot use up a real person's sign-ups).
    """
    config = deps.config
    phone = parse_number(form.phone, config)
    check_destination(phone, form.program, config)
    if not form.captcha_token:
        raise Rejected(Rejection.CAPTCHA_MISSING, "captcha_token: complete the CAPTCHA and send its token")
    now = deps.clock()
    _refuse_if_limited(deps.limiter, deps.policy.for_client(form.client_ip), now)
    captcha = deps.captcha.verify(form.captcha_token, form.client_ip)
    if captcha.unavailable:
        raise Rejected(Rejection.CAPTCHA_UNAVAILABLE, "the CAPTCHA could not be verified right now; try again")
    if not captcha.passed:
        raise Rejected(Rejection.CAPTCHA_FAILED, "captcha_token: the CAPTCHA was not passed; try it again")
    if deps.captcha_hostnames and (captcha.hostname or "").lower() not in deps.captcha_hostnames:
        # A token farmed on another site (or one the service cannot place) is not a pass here.
        raise Rejected(Rejection.CAPTCHA_FAILED, "captcha_token: the CAPTCHA was solved on another site")
    hold = _hold(phone, form.client_ip, now, deps)
    evidence = form.evidence(captcha)
    if hold.reason is not None:
        evidence["prompt_held"] = hold.reason
    if hold.recorded is not None:
        evidence["prompt_hold_recorded"] = hold.recorded
    inline = None if phone.fictional else deps.inline  # fictional numbers are neither held nor counted
    if inline is not None:
        evidence[pumping.COUNTED_LIVE] = True
    deps.texts.remember(evidence["consent_text_hash"], form.consent_text)  # before any consent points at it
    request_id = str(uuid.uuid4())
    number_limits = _NumberLimits(deps.limiter, deps.policy.for_number(phone), now)

    def decide(state: NumberState) -> SubscriptionDecision:
        return subscribe(
            state,
            form.program,
            config=config,
            source=Source.WEB_FORM,
            # A held sign-up is never subscribed without the consumer's own YES.
            use_double_opt_in=form.use_double_opt_in or hold.reason is not None,
            now=now,
            evidence=evidence,
            language=form.language,
            prompt_request_id=request_id,
            prompt_held=hold.reason is not None,
        )

    counted_live = False

    def before_write(decision: SubscriptionDecision) -> None:
        nonlocal counted_live
        number_limits.count_once(decision)
        if inline is not None and decision.action is SubscriptionAction.PROMPTED and not counted_live:
            # Counted before the prompt is stored (once, whatever the write's retries): the next
            # sign-up's scoring sees it at once.
            waits_in = hold.waits_in[0] if hold.waits_in else None
            inline.counters.record_live_prompt(
                phone, form.client_ip, now, held=hold.reason is not None, waits_in=waits_in
            )
            counted_live = True

    stored = deps.store.update(phone.e164, decide, before_write=before_write)
    decision = stored.decision
    # A held sign-up is answered exactly as a sent one (the attacker learns nothing); its audit event
    # says it was held. Confirmations in its scope release it (prompt_holds); so does a resubmission
    # once the scope is quiet or the breaker has closed.
    if hold.reason is None:
        _send(decision, phone.e164, form, config, deps)
    elif hold.waits_in is not None and decision.prompt is not None and inline is not None:
        prompt_holds.hold(phone.e164, form.program, form.language, hold.waits_in, now, inline.held, inline.config)
    subscribed = decision.action in (SubscriptionAction.SUBSCRIBED, SubscriptionAction.ALREADY_SUBSCRIBED)
    return SignupResult(
        phone=phone.e164,
        action=decision.action,
        status=Status.SUBSCRIBED if subscribed else Status.PENDING,
        expires_at=decision.expires_at,
        prompt_sent=decision.prompt is not None,
        reason=decision.reason,
        held=hold.reason is not None,
    )


def _hold(phone: phones.PhoneInfo, client_ip: str | None, now: datetime, deps: SignupDeps) -> Hold:
    """Whether this sign-up's prompt must wait: an open breaker covers it, scoring it trips a rule (which
    opens the breaker at once), or its scope has more unconfirmed prompts than confirmations vouch for
    (released when they come). Fictional numbers (what demos, QA and the compliance drill use) are
    never held: they cannot be assigned, so nobody can be paid for them."""
    if phone.fictional:
        return Hold()
    breaker = breakers.blocking(phone, deps.breakers.open_breakers(now), client_ip=client_ip)
    if breaker is not None:
        return Hold(f"{breaker.rule} on {breaker.dimension} {breaker.key} (breaker open)")
    if deps.inline is None:
        return Hold()
    half_opened = pumping.half_open(deps.breakers.all_breakers(), now, deps.inline.config)
    verdict = pumping.check_prompt(phone, client_ip, now, deps.inline, half_opened)
    found = verdict.reason
    if found is None:
        return Hold()
    until = "scored inline" if verdict.trip is not None else "until confirmations arrive"
    reason = f"{found.rule} on {found.dimension} {found.key} ({until})"
    if deps.inline.config.mode != "enforce":  # record_only: reported, not held
        return Hold(recorded=reason)
    return Hold(reason, waits_in=None if verdict.trip is not None else (found.dimension, found.key))


def _send(decision: SubscriptionDecision, phone: str, form: WebForm, config: ProgramConfig, deps: SignupDeps) -> None:
    metadata: dict[str, Any] = {"source": Source.WEB_FORM.value}
    publish_prompt(decision, phone, config, deps.outbound, metadata)
    if decision.action is SubscriptionAction.SUBSCRIBED:  # a program without double opt-in: confirm at once
        sender = config.sender_for_program(form.program)
        deps.outbound.publish(
            to_number(
                phone,
                program=form.program,
                category=Category.COMPLIANCE_REPLY,
                body=config.programs[form.program].replies_for(form.language).confirmation,
                sender=sender.number if sender else None,
                metadata=metadata,
            )
        )
