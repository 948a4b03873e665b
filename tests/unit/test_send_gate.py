"""The send gate's decision table: every reason code for every category, in DESIGN.md's order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sms_consent import consent
from sms_consent.breakers import Breaker
from sms_consent.config import load_config
from sms_consent.consent import NumberState, Status
from sms_consent.frequency_caps import REPLIES_KEY, REPLY_LIMIT, REPLY_WINDOW, caps_for
from sms_consent.message_content import OPT_OUT_NOTICE
from sms_consent.messages import Category, OutboundRequest
from sms_consent.phones import parse
from sms_consent.ports import MediaReport
from sms_consent.send_gate import (
    InvalidRequest,
    Reason,
    Situation,
    Verdict,
    decide,
)
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
NY = "+12125550123"
AFTERNOON = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
NIGHT = datetime(2026, 11, 23, 23, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
ALL = list(Category)


def state(phone: str = NY, status: Status | None = Status.SUBSCRIBED, **changes: object) -> NumberState:
    programs = {}
    if status is not None:
        at = AFTERNOON - timedelta(days=40)
        asked = AFTERNOON - timedelta(days=1)  # a confirmation still open at the moment decided
        pending = (
            consent.Pending(asked, asked + timedelta(days=30), "web_form", "r1") if status is Status.PENDING else None
        )
        programs["alerts"] = consent.ProgramState(status, "keyword", at, at, pending=pending)
    return replace(NumberState(phone=phone, programs=programs), **changes)  # type: ignore[arg-type]


def one(
    category: Category,
    number_state: NumberState | None = None,
    *,
    phone: str = NY,
    body: str = "Example Corp Alerts: sale today.",
    now: datetime = AFTERNOON,
    breakers: dict[tuple[str, str], Breaker] | None = None,
    media: MediaReport | None = None,
    media_urls: tuple[str, ...] = (),
    in_reply_to: str | None = None,
    intent: str | None = None,
) -> tuple[Verdict, Reason, str]:
    request = OutboundRequest(
        program="alerts",
        category=category,
        recipients=(phone,),
        body=body,
        media_urls=media_urls,
        in_reply_to=in_reply_to,
        metadata={"intent": intent} if intent else {},
    )
    states = {number_state.phone: number_state} if number_state else {}
    situation = Situation(states, breakers or {}, media or MediaReport(), now)
    (decision,) = decide(request, CONFIG, situation)
    return decision.decision, decision.reason, decision.body


def breaker(dimension: str, key: str) -> dict[tuple[str, str], Breaker]:
    return {(dimension, key): Breaker(dimension, key, "volume_spike", AFTERNOON, AFTERNOON + timedelta(hours=1))}


@pytest.mark.parametrize("category", ALL)
def test_invalid_number(category: Category) -> None:
    assert one(category, phone="+1 555")[1] is Reason.INVALID_NUMBER


@pytest.mark.parametrize("category", ALL)
def test_outbound_block_stops_everything_replies_included(category: Category) -> None:
    blocked = state(block=consent.Block(2, "abuse", "", AFTERNOON))
    assert one(category, blocked)[:2] == (Verdict.DENY, Reason.BLOCKED_OUTBOUND)
    inbound_only = state(block=consent.Block(1, "abuse", "", AFTERNOON))
    assert one(category, inbound_only)[1] is not Reason.BLOCKED_OUTBOUND


# (category, expected reason) for each situation; compliance replies skip steps 3 to 10.
EXPECTED = {
    "premium_rate": {
        Category.MARKETING: Reason.NUMBER_TYPE_NOT_ALLOWED,
        Category.TRANSACTIONAL: Reason.NUMBER_TYPE_NOT_ALLOWED,
        Category.OPTIN_PROMPT: Reason.NUMBER_TYPE_NOT_ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "other_country": {
        Category.MARKETING: Reason.COUNTRY_NOT_ALLOWED,
        Category.TRANSACTIONAL: Reason.COUNTRY_NOT_ALLOWED,
        Category.OPTIN_PROMPT: Reason.COUNTRY_NOT_ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "breaker": {
        Category.MARKETING: Reason.PUMPING_BREAKER,
        Category.TRANSACTIONAL: Reason.PUMPING_BREAKER,
        Category.OPTIN_PROMPT: Reason.PUMPING_BREAKER,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "opted_out": {
        Category.MARKETING: Reason.OPTED_OUT,
        Category.TRANSACTIONAL: Reason.OPTED_OUT,
        Category.OPTIN_PROMPT: Reason.ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "never_subscribed": {
        Category.MARKETING: Reason.NOT_SUBSCRIBED,
        Category.TRANSACTIONAL: Reason.ALLOWED,
        Category.OPTIN_PROMPT: Reason.ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "pending": {
        Category.MARKETING: Reason.PENDING_CONFIRMATION,
        Category.TRANSACTIONAL: Reason.ALLOWED,
        Category.OPTIN_PROMPT: Reason.ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "empty_body": {
        Category.MARKETING: Reason.MESSAGE_INVALID,
        Category.TRANSACTIONAL: Reason.MESSAGE_INVALID,
        Category.OPTIN_PROMPT: Reason.MESSAGE_INVALID,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "night": {
        Category.MARKETING: Reason.QUIET_HOURS,
        Category.TRANSACTIONAL: Reason.ALLOWED,
        Category.OPTIN_PROMPT: Reason.ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
    "cap_reached": {
        Category.MARKETING: Reason.FREQUENCY_CAP,
        Category.TRANSACTIONAL: Reason.ALLOWED,
        # Platform-started prompts are limited where they are asked for (subscriptions), not here.
        Category.OPTIN_PROMPT: Reason.ALLOWED,
        Category.COMPLIANCE_REPLY: Reason.ALLOWED,
    },
}


def _situation(name: str, category: Category) -> tuple[Verdict, Reason, str]:
    opted_out = state(status=Status.UNSUBSCRIBED)
    if name == "premium_rate":
        return one(category, phone="+33899123456")
    if name == "other_country":
        return one(category, phone="+33612345678")
    if name == "breaker":
        return one(category, state(), breakers=breaker("country", "US"))
    if name == "opted_out":
        return one(category, opted_out)
    if name == "never_subscribed":
        return one(category, None)
    if name == "pending":
        return one(category, state(status=Status.PENDING))
    if name == "empty_body":
        return one(category, state(), body="   ")
    if name == "night":
        return one(category, state(), now=NIGHT)
    marketing = OutboundRequest(program="alerts", category=Category.MARKETING, recipients=(NY,), body="x")
    (cap,) = caps_for(CONFIG.programs["alerts"], marketing)
    sent = tuple(int((AFTERNOON - timedelta(minutes=minutes)).timestamp()) for minutes in range(cap.limit))
    return one(category, state(recent_sends={cap.key: sent}))


@pytest.mark.parametrize("situation", sorted(EXPECTED))
@pytest.mark.parametrize("category", ALL)
def test_decision_table(situation: str, category: Category) -> None:
    decision, reason, _ = _situation(situation, category)
    assert reason is EXPECTED[situation][category]
    expected_decision = {Reason.ALLOWED: Verdict.ALLOW, Reason.QUIET_HOURS: Verdict.DEFER}.get(reason, Verdict.DENY)
    assert decision is expected_decision


def test_allowed_marketing_gets_opt_out_instructions_when_due() -> None:
    _decision, reason, body = one(Category.MARKETING, state())
    assert reason is Reason.ALLOWED
    assert body.endswith(OPT_OUT_NOTICE)
    recent = state(optout_notice_at={"alerts": AFTERNOON - timedelta(days=3)})
    assert one(Category.MARKETING, recent)[2] == "Example Corp Alerts: sale today."
    assert one(Category.TRANSACTIONAL, state())[2] == "Example Corp Alerts: sale today."


def test_instructions_count_in_the_segment_limit() -> None:
    limit_body = "x" * (153 * 4 - 5)  # fits 4 segments alone, not with the notice appended
    assert one(Category.MARKETING, state(optout_notice_at={"alerts": AFTERNOON}), body=limit_body)[1] is Reason.ALLOWED
    assert one(Category.MARKETING, state(), body=limit_body)[1] is Reason.MESSAGE_INVALID


def test_a_reply_to_the_consumer_is_not_held_by_breakers_or_the_prompt_limit() -> None:
    # The consumer texted START: their number is real, so a breaker on its prefix or country does not hold
    # the prompt that answers them; a prompt the platform starts itself is held.
    for dimension, key in (("prefix", parse(NY).prefix), ("country", "US")):
        assert one(Category.OPTIN_PROMPT, state(), breakers=breaker(dimension, key), in_reply_to="in-1")[1] is (
            Reason.ALLOWED
        )
        assert one(Category.OPTIN_PROMPT, state(), breakers=breaker(dimension, key))[1] is Reason.PUMPING_BREAKER


def test_replies_are_bounded_per_number_except_an_opt_out_confirmation() -> None:
    def sent(count: int, *, before: timedelta) -> tuple[int, ...]:
        return tuple(int((AFTERNOON - before + timedelta(seconds=index)).timestamp()) for index in range(count))

    busy = state(recent_sends={REPLIES_KEY: sent(REPLY_LIMIT, before=timedelta(minutes=9))})
    almost = state(recent_sends={REPLIES_KEY: sent(REPLY_LIMIT - 1, before=timedelta(minutes=9))})
    earlier = state(recent_sends={REPLIES_KEY: sent(REPLY_LIMIT, before=REPLY_WINDOW + timedelta(minutes=1))})
    for category in (Category.OPTIN_PROMPT, Category.COMPLIANCE_REPLY):
        assert one(category, busy, in_reply_to="in-9", intent="opt_in")[1] is Reason.FREQUENCY_CAP
        assert one(category, almost, in_reply_to="in-9", intent="opt_in")[1] is Reason.ALLOWED
        assert one(category, earlier, in_reply_to="in-9", intent="opt_in")[1] is Reason.ALLOWED
    assert one(Category.COMPLIANCE_REPLY, busy, in_reply_to="in-9", intent="opt_out")[1] is Reason.ALLOWED
    assert one(Category.COMPLIANCE_REPLY, busy)[1] is Reason.ALLOWED  # not a reply: a sign-up's welcome


def test_an_expired_confirmation_reads_as_never_subscribed_as_in_the_api() -> None:
    at = AFTERNOON - timedelta(days=40)
    expired = consent.ProgramState(
        Status.PENDING, "web_form", at, at, pending=consent.Pending(at, at + timedelta(days=30), "web_form", "r1")
    )
    number = replace(state(status=None), programs={"alerts": expired})
    assert number.effective_status("alerts", AFTERNOON) is Status.UNSUBSCRIBED
    assert one(Category.MARKETING, number)[:2] == (Verdict.DENY, Reason.NOT_SUBSCRIBED)


def test_ask_pending_on_the_sender_counts_as_opted_out() -> None:
    asked = state(ask_pending={"+18005550100": AFTERNOON})
    assert one(Category.MARKETING, asked)[1] is Reason.OPTED_OUT


def test_breaker_on_a_prefix() -> None:
    assert one(Category.MARKETING, state(), breakers=breaker("prefix", NY[:-3]))[1] is Reason.PUMPING_BREAKER
    assert one(Category.MARKETING, state(), breakers=breaker("prefix", "+1212555999"))[1] is Reason.ALLOWED


def test_mms_checks() -> None:
    urls = ("s3://media/cat.jpg",)
    assert one(Category.MARKETING, state(), media=MediaReport(4_000_000), media_urls=urls)[1] is Reason.ALLOWED
    assert one(Category.MARKETING, state(), media=MediaReport(6_000_000), media_urls=urls)[1] is Reason.MESSAGE_INVALID
    bad_type = MediaReport(1000, ("s3://media/x.exe: type application/octet-stream is not supported for MMS",))
    assert one(Category.MARKETING, state(), media=bad_type, media_urls=urls)[1] is Reason.MESSAGE_INVALID


def test_quiet_hours_defer_names_the_retry_time() -> None:
    request = OutboundRequest(program="alerts", category=Category.MARKETING, recipients=(NY,), body="hi")
    (decision,) = decide(request, CONFIG, Situation({NY: state()}, {}, MediaReport(), NIGHT))
    assert decision.retry_at == datetime(2026, 11, 24, 8, 0, tzinfo=ZoneInfo("America/New_York"))


def test_one_decision_per_recipient_in_order() -> None:
    request = OutboundRequest(
        program="alerts", category=Category.MARKETING, recipients=(NY, "garbage", "+12125550124"), body="hi"
    )
    decisions = decide(request, CONFIG, Situation({NY: state()}, {}, MediaReport(), AFTERNOON))
    assert [d.reason for d in decisions] == [Reason.ALLOWED, Reason.INVALID_NUMBER, Reason.NOT_SUBSCRIBED]


@pytest.mark.parametrize(
    ("program", "sender", "fragment"),
    [("nope", None, "unknown program"), ("alerts", "12345", "does not carry"), ("alerts", "12", "not a number")],
)
def test_invalid_requests(program: str, sender: str | None, fragment: str) -> None:
    request = OutboundRequest(program=program, category=Category.MARKETING, recipients=(NY,), body="hi", sender=sender)
    with pytest.raises(InvalidRequest, match=fragment):
        decide(request, CONFIG, Situation({}, {}, MediaReport(), AFTERNOON))


def test_florida_oklahoma_and_maryland_cap_marketing_at_three_in_any_rolling_day() -> None:
    uncapped = CONFIG.model_copy(
        update={
            "programs": {
                **CONFIG.programs,
                "alerts": CONFIG.programs["alerts"].model_copy(update={"frequency_cap": None}),
            }
        }
    )
    evening = [int((AFTERNOON - timedelta(hours=hours)).timestamp()) for hours in (20, 19, 18)]  # yesterday evening

    def decide_for(phone: str) -> Reason:
        number = replace(state(phone=phone), recent_sends={"alerts": tuple(evening)})
        request = OutboundRequest(program="alerts", category=Category.MARKETING, recipients=(phone,), body="Sale.")
        (decision,) = decide(request, uncapped, Situation({phone: number}, {}, MediaReport(), AFTERNOON))
        return decision.reason

    assert decide_for("+13055550123") is Reason.FREQUENCY_CAP  # Miami: Fla. Stat. 501.616(6)
    assert decide_for("+14055550123") is Reason.FREQUENCY_CAP  # Oklahoma City
    assert decide_for("+14105550123") is Reason.FREQUENCY_CAP  # Baltimore
    assert decide_for("+12125550123") is Reason.ALLOWED  # New York sets no cap
