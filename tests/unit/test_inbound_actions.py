"""What each inbound text does: (text, sender, prior state) -> action, statuses, replies, bus events.

Domain level: `inbound.handle` with the sample configuration and in-memory ports. The keyword
corpus itself (what each text means) is tests/unit/test_keywords.py; this table is about actions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_consent import consent, inbound
from sms_consent.clock import iso
from sms_consent.config import ProgramConfig, parse_config
from sms_consent.confirmations import ASK_ANSWERED, ASK_PENDING
from sms_consent.consent import NumberState, Status
from sms_consent.inbound_context import MAX_INBOUND_BODY, InboundSms
from sms_consent.inbound_context import InboundAction as Action
from sms_consent.messages import Category
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from tests.fakes import Bus, MemoryStore, Outbox

PHONE = "+14155550123"
TOLL_FREE = "+18005550100"
SHORT_CODE = "12345"
NEWS_NUMBER = "+18005550111"
UNOWNED = "+18005559999"
AT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # the SNS timestamp of the message under test
EARLIER = AT - timedelta(days=1)

NEWS_PROGRAM: dict[str, Any] = {
    "name": "Example Corp News",
    "brand": "Example Corp",
    "category": "marketing",
    "keywords": [
        {"word": "NEWS", "action": "opt_in"},
        {"word": "NONEWS", "action": "opt_out"},
        {"word": "NEWSINFO", "action": "help"},
    ],
    "double_opt_in": False,
    "frequency": "2 msgs/week",
    "support": "news@example.com",
    "replies": {
        "confirmation": "Example Corp News: you are subscribed. 2 msgs/week. Msg & data rates may apply. "
        "Reply HELP for help, STOP to cancel.",
        "help": "Example Corp News: help at news@example.com. Reply STOP to cancel.",
        "stop": "Example Corp News: you are unsubscribed and will receive no more messages.",
    },
}


def _config() -> ProgramConfig:
    """The sample configuration plus a single opt-in program with its own opt-out and help keywords."""
    data = yaml.safe_load(Path(DEFAULT_PROGRAM_CONFIG).read_text(encoding="utf-8"))
    data["senders"].append({"number": NEWS_NUMBER, "bare_stop": "all", "programs": ["news"]})
    data["programs"]["news"] = NEWS_PROGRAM
    return parse_config(data)


CONFIG = _config()


# ------------------------------------------------------------------ prior states

Prior = Callable[[NumberState], NumberState]


def _program(state: NumberState, program: str, value: consent.ProgramState) -> NumberState:
    return replace(state, programs={**state.programs, program: value})


def subscribed(*programs: str) -> Prior:
    def apply(state: NumberState) -> NumberState:
        for program in programs:
            state = _program(state, program, consent.ProgramState(Status.SUBSCRIBED, "keyword", EARLIER, EARLIER))
        return state

    return apply


def unsubscribed(*programs: str) -> Prior:
    def apply(state: NumberState) -> NumberState:
        for program in programs:
            value = consent.ProgramState(Status.UNSUBSCRIBED, "keyword", EARLIER, EARLIER, consumer_opted_out=True)
            state = _program(state, program, value)
        return state

    return apply


def pending(program: str, *, age: timedelta = timedelta(hours=1), message_id: str | None = None) -> Prior:
    """A prompt sent `age` before the message; message_id is the provider's id the gate recorded."""

    def apply(state: NumberState) -> NumberState:
        requested = AT - age
        prompt = consent.Pending(requested, requested + timedelta(days=30), "keyword", f"req-{program}", message_id)
        value = consent.ProgramState(Status.PENDING, "keyword", requested, requested, pending=prompt)
        return _program(state, program, value)

    return apply


def asked(sender: str) -> Prior:
    return lambda state: replace(state, ask_pending={**state.ask_pending, sender: AT - timedelta(minutes=2)})


def blocked(block_type: int) -> Prior:
    return lambda state: replace(state, block=consent.Block(block_type, "abuse", "", EARLIER))


def decided_later(program: str) -> Prior:
    """A newer message (after AT) already decided this program."""

    def apply(state: NumberState) -> NumberState:
        return _program(state, program, replace(state.programs[program], decided_at=AT + timedelta(seconds=5)))

    return apply


# ------------------------------------------------------------------ the table

S, U, P = Status.SUBSCRIBED, Status.UNSUBSCRIBED, Status.PENDING
CR, OP = Category.COMPLIANCE_REPLY, Category.OPTIN_PROMPT
REVOKED, GRANTED, REQUESTED = "ConsentRevoked", "ConsentGranted", "DoubleOptInRequested"


@dataclass(frozen=True)
class Case:
    id: str
    to: str
    text: str
    prior: tuple[Prior, ...]
    action: Action
    statuses: dict[str, Status | None]
    replies: tuple[tuple[Category, str], ...]  # (category, text the body must contain), in order
    # detail-types that reach the bus, in order: the audit events committed (the stream publishes
    # them), then what the handler puts on the bus itself
    bus: tuple[str, ...] = ()
    asked: bool = False  # the sender's STOP menu is open afterwards
    previous: str | None = None  # previousPublishedMessageId


def case(
    id: str,
    to: str,
    text: str,
    prior: Sequence[Prior],
    action: Action,
    statuses: dict[str, Status | None],
    replies: Sequence[tuple[Category, str]] = (),
    bus: Sequence[str] = (),
    **kwargs: Any,
) -> Any:
    return pytest.param(Case(id, to, text, tuple(prior), action, statuses, tuple(replies), tuple(bus), **kwargs), id=id)


CASES = [
    # -- opt-out on a sender with one program (bare_stop: all)
    case("stop-never-seen", TOLL_FREE, "STOP", [], Action.OPTED_OUT, {"alerts": U}, [(CR, "no more messages")],
         [REVOKED]),
    case("stop-please", TOLL_FREE, "Stop please", [subscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "no more messages")], [REVOKED]),
    case("stop-dot", TOLL_FREE, "STOP.", [subscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "unsubscribed")], [REVOKED]),
    case("unsubscribe", TOLL_FREE, "UNSUBSCRIBE", [subscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "unsubscribed")], [REVOKED]),
    case("quit-with-text", TOLL_FREE, "quit texting me", [subscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "unsubscribed")], [REVOKED]),
    case("phrase", TOLL_FREE, "please don't text me anymore", [subscribed("alerts")], Action.OPTED_OUT,
         {"alerts": U}, [(CR, "unsubscribed")], [REVOKED]),
    case("stop-pending-cancels-prompt", TOLL_FREE, "STOP", [pending("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "unsubscribed")], [REVOKED]),
    case("stop-again-is-recorded", TOLL_FREE, "STOP", [unsubscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "unsubscribed")], [REVOKED]),
    case("french-stop-french-reply", TOLL_FREE, "ARRÊT", [subscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "désabonné")], [REVOKED]),
    case("spanish-stop-spanish-reply", TOLL_FREE, "cancelar", [subscribed("alerts")], Action.OPTED_OUT,
         {"alerts": U}, [(CR, "te has dado de baja")], [REVOKED]),
    case("stop-other-senders-keyword", TOLL_FREE, "STOP TONE1", [subscribed("alerts", "tone1")], Action.OPTED_OUT,
         {"alerts": U, "tone1": S}, [(CR, "Example Corp Alerts")], [REVOKED]),
    case("stop-all-single", TOLL_FREE, "STOP ALL", [subscribed("alerts")], Action.OPTED_OUT, {"alerts": U},
         [(CR, "unsubscribed")], [REVOKED]),
    case("dont-stop", TOLL_FREE, "Don't stop", [subscribed("alerts")], Action.RECEIVED, {"alerts": S}, [],
         ["InboundMessageReceived"]),
    # -- help, from anyone
    case("help-stranger", TOLL_FREE, "HELP", [], Action.HELP_REPLY, {"alerts": None},
         [(CR, "support@example.com")]),
    case("info-subscriber", TOLL_FREE, "info", [subscribed("alerts")], Action.HELP_REPLY, {"alerts": S},
         [(CR, "support@example.com")]),
    case("help-opted-out", TOLL_FREE, "Help!", [unsubscribed("alerts")], Action.HELP_REPLY, {"alerts": U},
         [(CR, "1-800-555-0100")]),
    case("ayuda", TOLL_FREE, "AYUDA", [], Action.HELP_REPLY, {}, [(CR, "ayuda en support@example.com")]),
    case("aide", TOLL_FREE, "aide", [], Action.HELP_REPLY, {}, [(CR, "aide à support@example.com")]),
    case("help-outbound-blocked", TOLL_FREE, "HELP", [blocked(2)], Action.HELP_REPLY, {},
         [(CR, "support@example.com")]),  # type 2 blocks outbound only: the gate drops the reply
    # -- opt-in with double opt-in
    case("program-keyword-prompts", TOLL_FREE, "ALERTS", [], Action.PROMPTED, {"alerts": P},
         [(OP, "reply YES")], [REQUESTED]),
    case("start-after-stop-prompts", TOLL_FREE, "START", [unsubscribed("alerts")], Action.PROMPTED, {"alerts": U},
         [(OP, "reply YES")], [REQUESTED]),
    case("unstop", TOLL_FREE, "UNSTOP", [unsubscribed("alerts")], Action.PROMPTED, {"alerts": U},
         [(OP, "reply YES")], [REQUESTED]),
    case("keyword-when-subscribed", TOLL_FREE, "ALERTS", [subscribed("alerts")], Action.SUBSCRIBED, {"alerts": S},
         [(CR, "you are subscribed")]),
    # -- confirmations
    case("yes-confirms", TOLL_FREE, "YES", [pending("alerts")], Action.CONFIRMED, {"alerts": S},
         [(CR, "you are subscribed")], [GRANTED]),
    case("yes-exclaimed", TOLL_FREE, "Yes!", [pending("alerts")], Action.CONFIRMED, {"alerts": S},
         [(CR, "you are subscribed")], [GRANTED]),
    case("y-confirms", TOLL_FREE, "y", [pending("alerts")], Action.CONFIRMED, {"alerts": S},
         [(CR, "you are subscribed")], [GRANTED]),
    case("si-confirms-in-spanish", TOLL_FREE, "SI", [pending("alerts")], Action.CONFIRMED, {"alerts": S},
         [(CR, "estás suscrito")], [GRANTED]),
    case("oui-confirms-in-french", TOLL_FREE, "oui", [pending("alerts")], Action.CONFIRMED, {"alerts": S},
         [(CR, "vous êtes abonné")], [GRANTED]),
    case("yes-after-stop-start-prompt", TOLL_FREE, "YES", [unsubscribed("alerts"), pending("alerts")],
         Action.CONFIRMED, {"alerts": S}, [(CR, "you are subscribed")], [GRANTED]),
    case("yes-nothing-pending", TOLL_FREE, "YES", [], Action.NOTHING_PENDING, {"alerts": None},
         [(CR, "no subscription waiting")]),
    case("yes-when-subscribed", TOLL_FREE, "YES", [subscribed("alerts")], Action.NOTHING_PENDING, {"alerts": S},
         [(CR, "no subscription waiting")]),
    case("yes-after-window", TOLL_FREE, "YES", [pending("alerts", age=timedelta(days=31))], Action.NOTHING_PENDING,
         {"alerts": P}, [(CR, "no subscription waiting")]),
    case("yes-on-last-day", TOLL_FREE, "YES", [pending("alerts", age=timedelta(days=29, hours=23))],
         Action.CONFIRMED, {"alerts": S}, [(CR, "you are subscribed")], [GRANTED]),
    case("yes-after-stop-confirms-nothing", TOLL_FREE, "YES", [unsubscribed("alerts")], Action.NOTHING_PENDING,
         {"alerts": U}, [(CR, "no subscription waiting")]),
    # -- anything else
    case("question", TOLL_FREE, "What time do you open?", [], Action.RECEIVED, {"alerts": None}, [],
         ["InboundMessageReceived"]),
    case("weekend", TOLL_FREE, "see you this weekend", [subscribed("alerts")], Action.RECEIVED, {"alerts": S}, [],
         ["InboundMessageReceived"]),
    case("stopwatch", TOLL_FREE, "stopwatch", [subscribed("alerts")], Action.RECEIVED, {"alerts": S}, [],
         ["InboundMessageReceived"]),
    case("empty", TOLL_FREE, "", [subscribed("alerts")], Action.RECEIVED, {"alerts": S}, [],
         ["InboundMessageReceived"]),
    # -- blocklist: type 1/3 discard inbound, yet an opt-out counts, silently
    case("blocked-help", TOLL_FREE, "HELP", [blocked(1)], Action.BLOCKED, {"alerts": None}),
    case("blocked-keyword", TOLL_FREE, "ALERTS", [blocked(3)], Action.BLOCKED, {"alerts": None}),
    case("blocked-yes", TOLL_FREE, "YES", [pending("alerts"), blocked(1)], Action.BLOCKED, {"alerts": P}),
    case("blocked-stop", TOLL_FREE, "STOP", [subscribed("alerts"), blocked(1)], Action.BLOCKED, {"alerts": U}, [],
         [REVOKED]),
    case("blocked-3-stop", TOLL_FREE, "Stop please", [subscribed("alerts"), blocked(3)], Action.BLOCKED,
         {"alerts": U}, [], [REVOKED]),
    case("blocked-stop-on-ask-sender", SHORT_CODE, "STOP", [subscribed("tone1", "tone2"), blocked(1)],
         Action.BLOCKED, {"tone1": U, "tone2": U}, [], [REVOKED, REVOKED]),
    # -- a sender number nobody owns: the opt-out still counts (everywhere), and an alert names the number
    case("misrouted-stop", UNOWNED, "STOP", [subscribed("alerts")], Action.MISROUTED,
         {"alerts": U, "tone1": U, "tone2": U, "news": U}, [], [REVOKED] * 4 + ["MisroutedMessage"]),
    case("misrouted-help", UNOWNED, "HELP", [], Action.MISROUTED, {"alerts": None}, [], ["MisroutedMessage"]),
    case("misrouted-keyword", UNOWNED, "ALERTS", [], Action.MISROUTED, {"alerts": None}, [], ["MisroutedMessage"]),
    case("misrouted-blocked-stop", UNOWNED, "STOP", [subscribed("alerts"), blocked(1)], Action.BLOCKED,
         {"alerts": U}, [], [REVOKED] * 4 + ["MisroutedMessage"]),
    # -- a shared short code that asks (seed 004)
    case("ask-menu", SHORT_CODE, "STOP", [subscribed("tone1", "tone2")], Action.ASKED_WHICH,
         {"tone1": S, "tone2": S}, [(CR, "Send STOP TONE1 for Polytone club")], asked=True),
    case("ask-menu-with-open-prompt", SHORT_CODE, "stop", [subscribed("tone1"), pending("tone2")],
         Action.ASKED_WHICH, {"tone1": S, "tone2": P}, [(CR, "STOP ALL")], asked=True),
    case("no-menu-for-one-program", SHORT_CODE, "STOP", [subscribed("tone1")], Action.OPTED_OUT,
         {"tone1": U, "tone2": U}, [(CR, "unsubscribed from all")], [REVOKED, REVOKED]),
    case("no-menu-for-a-stranger", SHORT_CODE, "STOP", [], Action.OPTED_OUT, {"tone1": U, "tone2": U},
         [(CR, "unsubscribed from all")], [REVOKED, REVOKED]),
    case("second-stop-leaves-all", SHORT_CODE, "STOP", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.OPTED_OUT, {"tone1": U, "tone2": U}, [(CR, "unsubscribed from all")], [REVOKED, REVOKED]),
    case("stop-tone1-answers-menu", SHORT_CODE, "STOP TONE1", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.OPTED_OUT, {"tone1": U, "tone2": S}, [(CR, "Polytone club: you are unsubscribed")], [REVOKED]),
    case("stop-tone2-with-text", SHORT_CODE, "stop tone2 please", [subscribed("tone1", "tone2")],
         Action.OPTED_OUT, {"tone1": S, "tone2": U}, [(CR, "Truetone club: you are unsubscribed")], [REVOKED]),
    case("stop-all-answers-menu", SHORT_CODE, "STOP ALL", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.OPTED_OUT, {"tone1": U, "tone2": U}, [(CR, "all Polytone and Truetone")], [REVOKED, REVOKED]),
    case("keyword-keeps-one-program", SHORT_CODE, "TONE1", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.SUBSCRIBED, {"tone1": S, "tone2": U}, [(CR, "Polytone club: you are subscribed")], [REVOKED]),
    case("start-resumes-all", SHORT_CODE, "START", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.SUBSCRIBED, {"tone1": S, "tone2": S},
         [(CR, "Polytone club: you are subscribed"), (CR, "Truetone club: you are subscribed")]),
    case("help-keeps-menu-open", SHORT_CODE, "HELP", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.HELP_REPLY, {"tone1": S, "tone2": S}, [(CR, "help@tones.example")], asked=True),
    case("bare-yes-during-menu-asks-again", SHORT_CODE, "YES",
         [subscribed("tone1"), pending("tone2"), asked(SHORT_CODE)], Action.NOTHING_PENDING,
         {"tone1": S, "tone2": P}, [(CR, "Send STOP TONE1")], asked=True),
    case("yes-naming-prompt-during-menu", SHORT_CODE, "YES",
         [subscribed("tone1"), pending("tone2", message_id="m-2"), asked(SHORT_CODE)], Action.CONFIRMED,
         {"tone1": U, "tone2": S}, [(CR, "Truetone club: you are subscribed")], [GRANTED, REVOKED],
         previous="m-2"),
    case("other-text-during-menu", SHORT_CODE, "who is this?", [subscribed("tone1", "tone2"), asked(SHORT_CODE)],
         Action.RECEIVED, {"tone1": S, "tone2": S}, [], ["InboundMessageReceived"], asked=True),
    # -- joining on the shared short code
    case("join-tone1", SHORT_CODE, "JOIN TONE1", [], Action.PROMPTED, {"tone1": P, "tone2": None},
         [(OP, "Polytone club! To confirm")], [REQUESTED]),
    case("tone2-keyword", SHORT_CODE, "tone2", [], Action.PROMPTED, {"tone1": None, "tone2": P},
         [(OP, "Truetone club! To confirm")], [REQUESTED]),
    case("start-resumes-what-was-left", SHORT_CODE, "START", [unsubscribed("tone1"), subscribed("tone2")],
         Action.PROMPTED, {"tone1": U, "tone2": S}, [(OP, "Polytone club! To confirm")], [REQUESTED]),
    case("start-names-nothing", SHORT_CODE, "START", [], Action.HELP_REPLY, {"tone1": None, "tone2": None},
         [(CR, "help@tones.example")]),
    case("help-shared", SHORT_CODE, "HELP", [], Action.HELP_REPLY, {}, [(CR, "Polytone & Truetone clubs")]),
    case("help-one-program", SHORT_CODE, "HELP TONE2", [], Action.HELP_REPLY, {},
         [(CR, "Truetone club: help")]),
    # -- which prompt a YES answers
    case("previous-id-picks-older-prompt", SHORT_CODE, "YES",
         [pending("tone1", age=timedelta(hours=2), message_id="m-1"), pending("tone2", message_id="m-2")],
         Action.CONFIRMED, {"tone1": S, "tone2": P}, [(CR, "Polytone club: you are subscribed")], [GRANTED],
         previous="m-1"),
    case("no-previous-id-newest-prompt", SHORT_CODE, "YES",
         [pending("tone1", age=timedelta(hours=2)), pending("tone2")], Action.CONFIRMED,
         {"tone1": P, "tone2": S}, [(CR, "Truetone club: you are subscribed")], [GRANTED]),
    case("unknown-previous-id-newest-prompt", SHORT_CODE, "YES",
         [pending("tone1", message_id="m-1"), pending("tone2", age=timedelta(hours=3), message_id="m-2")],
         Action.CONFIRMED, {"tone1": S, "tone2": P}, [(CR, "Polytone club")], [GRANTED], previous="m-other"),
    case("previous-id-names-expired-prompt", SHORT_CODE, "YES",
         [pending("tone1", age=timedelta(days=40), message_id="m-1"), pending("tone2", message_id="m-2")],
         Action.NOTHING_PENDING, {"tone1": P, "tone2": P}, [(CR, "Polytone club")], previous="m-1"),
    # -- a program with single opt-in and its own opt-out and help keywords
    case("single-opt-in", NEWS_NUMBER, "NEWS", [], Action.SUBSCRIBED, {"news": S},
         [(CR, "Example Corp News: you are subscribed")], [GRANTED]),
    case("start-undoes-own-stop", NEWS_NUMBER, "START", [unsubscribed("news")], Action.SUBSCRIBED, {"news": S},
         [(CR, "you are subscribed")], [GRANTED]),
    case("program-opt-out-keyword", NEWS_NUMBER, "NONEWS", [subscribed("news")], Action.OPTED_OUT, {"news": U},
         [(CR, "Example Corp News: you are unsubscribed")], [REVOKED]),
    case("program-help-keyword", NEWS_NUMBER, "newsinfo", [subscribed("news")], Action.HELP_REPLY, {"news": S},
         [(CR, "news@example.com")]),
    case("stop-program-keyword", NEWS_NUMBER, "STOP NEWS", [subscribed("news")], Action.OPTED_OUT, {"news": U},
         [(CR, "no more messages")], [REVOKED]),
    # -- delivered out of order: a newer message already decided
    case("late-start-after-newer-stop", TOLL_FREE, "START", [unsubscribed("alerts"), decided_later("alerts")],
         Action.SUPERSEDED, {"alerts": U}),
    case("late-stop-after-newer-yes", TOLL_FREE, "STOP", [subscribed("alerts"), decided_later("alerts")],
         Action.SUPERSEDED, {"alerts": S}),
    case("late-keyword-after-newer-stop", SHORT_CODE, "TONE1", [unsubscribed("tone1"), decided_later("tone1")],
         Action.SUPERSEDED, {"tone1": U}),
]  # fmt: skip
CASES_BY_ID: dict[str, Case] = {param.values[0].id: param.values[0] for param in CASES}


def run(item: Case, config: ProgramConfig = CONFIG) -> tuple[inbound.Outcome, MemoryStore, Outbox, Bus]:
    state = NumberState(phone=PHONE)
    for prior in item.prior:
        state = prior(state)
    store, outbox, bus = MemoryStore(state), Outbox(), Bus()
    deps = inbound.InboundDeps(
        config=config,
        store=store,
        outbound=outbox,
        events=bus,
        clock=lambda: AT + timedelta(seconds=2),
        keyword_sets=inbound.keyword_sets_of(config),
    )
    message = InboundSms(
        originationNumber="(415) 555-0123",
        destinationNumber=item.to,
        messageBody=item.text,
        inboundMessageId="in-1",
        previousPublishedMessageId=item.previous,
    )
    return inbound.handle(message, AT, deps), store, outbox, bus


@pytest.mark.parametrize("item", CASES)
def test_action(item: Case) -> None:
    outcome, store, outbox, bus = run(item)
    state = store.get(PHONE)
    assert outcome.action is item.action
    assert {program: state.status(program) for program in item.statuses} == item.statuses
    assert [(request.category, request.sender) for request in outbox.requests] == [
        (category, item.to) for category, _ in item.replies
    ]
    for request, (_, expected) in zip(outbox.requests, item.replies, strict=True):
        assert expected in request.body
        assert request.recipients == (PHONE,)
        assert request.in_reply_to == "in-1"
    committed = [event.detail_type for event in consent.bus_events(outcome.events)]
    assert committed + [event.detail_type for event in bus.events] == list(item.bus)
    assert (item.to in state.ask_pending) is item.asked


def test_table_covers_every_action() -> None:
    assert {item.action for item in CASES_BY_ID.values()} == set(Action)


def test_every_change_is_proved_with_the_message() -> None:
    outcome, store, _, bus = run(CASES_BY_ID["stop-please"])
    (event,) = store.history(PHONE)
    assert event.event_type is consent.EventType.REVOKED
    assert (event.old_status, event.new_status, event.source) == (S, U, "keyword")
    assert event.evidence["inbound_message_id"] == "in-1"
    assert event.evidence["text"] == "Stop please"
    assert event.evidence["match_reason"] == "leading"
    assert event.evidence["received_at"] == iso(AT)
    assert event.detail()["phone"] == PHONE  # what the stream's consumer publishes
    assert event.detail()["evidence"]["text"] == "Stop please"
    assert outcome.events == (event,)
    assert bus.events == []  # the handler itself publishes no consent event: only committed ones reach the bus


def test_confirmation_proves_which_prompt_it_answers() -> None:
    _, store, _, _ = run(CASES_BY_ID["previous-id-picks-older-prompt"])
    (event,) = store.history(PHONE)
    assert event.evidence["prompt_request_id"] == "req-tone1"
    assert event.evidence["prompt_message_id"] == "m-1"
    assert event.evidence["previous_published_message_id"] == "m-1"
    assert event.evidence["double_opt_in"] is True
    assert event.detail()["program"] == "tone1"


def test_a_prompt_carries_the_id_of_the_pending_confirmation_it_asks_about() -> None:
    _, store, outbox, _ = run(CASES_BY_ID["program-keyword-prompts"])
    pending_prompt = store.get(PHONE).programs["alerts"].pending
    assert pending_prompt is not None
    assert outbox.requests[0].metadata["prompt_request_id"] == pending_prompt.prompt_request_id
    assert pending_prompt.expires_at - pending_prompt.requested_at == timedelta(days=30)


def test_the_confirmation_window_is_configurable() -> None:
    weekly = CONFIG.model_copy(update={"confirmation_window_days": 7})
    _, store, _, _ = run(CASES_BY_ID["program-keyword-prompts"], weekly)
    pending_prompt = store.get(PHONE).programs["alerts"].pending
    assert pending_prompt is not None
    assert pending_prompt.expires_at - pending_prompt.requested_at == timedelta(days=7)


def test_the_menu_and_its_answer_are_both_in_the_audit_trail() -> None:
    state = subscribed("tone1", "tone2")(NumberState(phone=PHONE))
    store, outbox, bus = MemoryStore(state), Outbox(), Bus()
    deps = inbound.InboundDeps(CONFIG, store, outbox, bus, clock=lambda: AT)
    for offset, text in enumerate(["STOP", "STOP TONE1"]):
        message = InboundSms(
            originationNumber=PHONE, destinationNumber=SHORT_CODE, messageBody=text, inboundMessageId=f"in-{offset}"
        )
        inbound.handle(message, AT + timedelta(seconds=offset), deps)
    menu, revoked, answered = store.history(PHONE)
    assert (menu.program, menu.new_status, menu.evidence["text"]) == (None, ASK_PENDING, "STOP")
    assert (revoked.program, revoked.new_status) == ("tone1", U)
    assert (answered.old_status, answered.new_status, answered.evidence["text"]) == (
        ASK_PENDING,
        ASK_ANSWERED,
        "STOP TONE1",
    )
    assert [request.body.split(" ")[0] for request in outbox.requests] == ["Send", "Polytone"]


def test_exactly_one_opt_out_confirmation_and_no_marketing_in_it() -> None:
    for case_ in CASES_BY_ID.values():
        if case_.action is not Action.OPTED_OUT:
            continue
        _, _, outbox, _ = run(case_)
        (reply,) = outbox.requests
        assert reply.category is Category.COMPLIANCE_REPLY, case_.id
        assert not {"sale", "offer", "discount", "%"} & set(reply.body.lower().replace(".", " ").split()), case_.id


def test_an_origin_that_does_not_parse_is_unroutable() -> None:
    deps = inbound.InboundDeps(CONFIG, MemoryStore(NumberState(phone=PHONE)), Outbox(), Bus(), clock=lambda: AT)
    message = InboundSms(
        originationNumber="not-a-number", destinationNumber=TOLL_FREE, messageBody="STOP", inboundMessageId="x"
    )
    with pytest.raises(inbound.UnroutableMessage):
        inbound.handle(message, AT, deps)


@pytest.mark.parametrize(
    ("raw", "retained"),
    [
        ("STOP this is not JSON", True),
        ('{"originationNumber": "+14155550123", "messageBody": "Stop please", "inboundMessageId": "x"}', True),
        ('{"messageBody": "cancelar", "destinationNumber": 12345}', True),
        ('"unsubscribe"', True),
        ('{"originationNumber": "+14155550123", "messageBody": "hi"}', False),
        ("not json at all", False),
        ("[1, 2, 3]", False),
        ('{"messageBody": "Don\'t stop"}', False),
    ],
)
def test_malformed_payloads_that_might_be_opt_outs_are_retained(raw: str, retained: bool) -> None:
    assert inbound.possible_opt_out(raw) is retained


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("STOP\x00\x07", "STOP  "),
        ("STOP\ud800", "STOP?"),  # a lone surrogate (invalid UTF-8 upstream)
        ("line one\nline two\ttab", "line one\nline two\ttab"),
        ("STOP " + "x" * 20_000, ("STOP " + "x" * 20_000)[:MAX_INBOUND_BODY]),
    ],
)
def test_bodies_are_made_storable(body: str, expected: str) -> None:
    message = InboundSms(originationNumber=PHONE, destinationNumber=TOLL_FREE, messageBody=body, inboundMessageId="x")
    assert message.messageBody == expected


def test_a_stop_sent_between_the_request_and_the_yes_wins_even_when_delivered_last() -> None:
    """ALERTS, STOP, YES sent in that order, the STOP delivered last: in order the STOP closed the
    prompt, so the number ends opted out, never subscribed."""
    store, outbox, bus = MemoryStore(NumberState(phone=PHONE)), Outbox(), Bus()
    deps = inbound.InboundDeps(CONFIG, store, outbox, bus, clock=lambda: AT)
    for offset, text in [(0, "ALERTS"), (2, "YES"), (1, "STOP")]:
        message = InboundSms(
            originationNumber=PHONE, destinationNumber=TOLL_FREE, messageBody=text, inboundMessageId=f"in-{offset}"
        )
        inbound.handle(message, AT + timedelta(seconds=offset), deps)
    assert store.get(PHONE).status("alerts") is U
    assert not store.get(PHONE).may_receive_marketing("alerts", TOLL_FREE)


def test_a_superseded_stop_is_on_record_without_changing_the_status() -> None:
    _, store, outbox, bus = run(CASES_BY_ID["late-stop-after-newer-yes"])
    (event,) = store.history(PHONE)
    assert (event.event_type, event.program, event.new_status) == (consent.EventType.REVOKED, None, "superseded")
    assert event.evidence["text"] == "STOP"
    assert event.evidence["programs"] == ["alerts"]
    assert store.get(PHONE).status("alerts") is S
    assert outbox.requests == []
    assert bus.events == []


def test_a_yes_sent_before_a_later_prompt_was_asked_for_cannot_confirm_it() -> None:
    """ALERTS, YES, STOP, START sent in that order; the first YES is delivered last. The START's prompt
    is still open, but that YES was sent before the START asked for it: it answers nothing, so the
    consent on record is never proved by a message sent before the prompt existed."""
    store, outbox, bus = MemoryStore(NumberState(phone=PHONE)), Outbox(), Bus()
    deps = inbound.InboundDeps(CONFIG, store, outbox, bus, clock=lambda: AT + timedelta(minutes=5))
    outcomes = {}
    for offset, text in [(0, "ALERTS"), (2, "STOP"), (3, "START"), (1, "YES")]:
        message = InboundSms(
            originationNumber=PHONE, destinationNumber=TOLL_FREE, messageBody=text, inboundMessageId=f"in-{offset}"
        )
        outcomes[text] = inbound.handle(message, AT + timedelta(seconds=offset), deps)
    state = store.get(PHONE)
    assert state.status("alerts") is not S
    assert state.programs["alerts"].pending is not None  # START's prompt still waits for a real answer
    assert not [event for event in store.history(PHONE) if event.event_type is consent.EventType.GRANTED]
    # A YES sent after the START does confirm it, and the grant names that YES.
    late_yes = InboundSms(
        originationNumber=PHONE, destinationNumber=TOLL_FREE, messageBody="YES", inboundMessageId="in-4"
    )
    inbound.handle(late_yes, AT + timedelta(seconds=4), deps)
    assert store.get(PHONE).status("alerts") is S
    assert store.history(PHONE)[-1].evidence["inbound_message_id"] == "in-4"


# ------------------------------------------------------------------ the FCC's revoke-all rule


def _scoped_config(revoke_all_from: str | None) -> ProgramConfig:
    """The sample programs, the news program made transactional, and the revoke-all date given."""
    data = yaml.safe_load(Path(DEFAULT_PROGRAM_CONFIG).read_text(encoding="utf-8"))
    data["senders"].append({"number": NEWS_NUMBER, "bare_stop": "all", "programs": ["news"]})
    data["programs"]["news"] = {**NEWS_PROGRAM, "category": "transactional"}
    data["opt_out_scope"] = {"revoke_all_from": revoke_all_from}
    return parse_config(data)


@pytest.mark.parametrize(
    ("revoke_all_from", "revoked"),
    [
        (None, {"tone1", "tone2"}),  # the policy off: the sender's programs only
        ((AT + timedelta(days=1)).date().isoformat(), {"tone1", "tone2"}),  # the day before the rule
        (AT.date().isoformat(), {"tone1", "tone2", "alerts"}),  # from the rule's first day
    ],
)
def test_a_bare_stop_ends_every_marketing_program_from_the_revoke_all_date(
    revoke_all_from: str | None, revoked: set[str]
) -> None:
    item = case("stop-all", SHORT_CODE, "STOP ALL", [subscribed("tone1", "tone2", "alerts", "news")],
                Action.OPTED_OUT, {}).values[0]  # fmt: skip
    _outcome, store, _outbox, _bus = run(item, _scoped_config(revoke_all_from))
    state = store.get(PHONE)
    assert {p for p, program in state.programs.items() if program.status is U} == revoked
    assert state.status("news") is S  # transactional messages are exempt from the rule
    assert {event.program for event in store.events} == revoked
    assert all(event.source == "keyword" for event in store.events)


def test_a_scoped_stop_stays_scoped_after_the_revoke_all_date() -> None:
    item = case("stop-tone1", SHORT_CODE, "STOP TONE1", [subscribed("tone1", "alerts")], Action.OPTED_OUT, {}).values[0]
    _outcome, store, _outbox, _bus = run(item, _scoped_config(AT.date().isoformat()))
    assert (store.get(PHONE).status("tone1"), store.get(PHONE).status("alerts")) == (U, S)
