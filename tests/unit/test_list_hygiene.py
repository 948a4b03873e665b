"""List hygiene (seed 001), the rules: when a reminder is due, skipped for the engaged, the reduced
frequency for the unengaged (in the gate's caps), removal after unanswered reminders, and that a
removal is not a consumer opt-out (the consumer's START subscribes again). Also the configuration's
checks and the inbound path's engagement writes. Domain level: the sample configuration, in-memory ports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from sms_consent import consent, frequency_caps, inbound, list_hygiene, send_gate
from sms_consent.config import ConfigError, ListHygiene, load_config
from sms_consent.consent import EventType, NumberState, Source, Status
from sms_consent.inbound_context import InboundSms
from sms_consent.list_hygiene import Action
from sms_consent.messages import Category, OutboundRequest
from sms_consent.ports import MediaReport
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from tests.fakes import Bus, MemoryStore, Outbox

CONFIG = load_config(DEFAULT_PROGRAM_CONFIG)
_POLICY = CONFIG.programs["alerts"].list_hygiene
assert _POLICY is not None  # the sample: every 90 days, skip if engaged within 30, 2/30 days after 180, remove after 3
POLICY: ListHygiene = _POLICY
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)  # daytime
PHONE = "+12125550123"
TOLL_FREE = "+18005550100"


def days(count: float) -> timedelta:
    return timedelta(days=count)


def subscribed(
    at: datetime, *, engaged_at: datetime | None = None, reminders: tuple[datetime, ...] = ()
) -> NumberState:
    state = consent.grant(NumberState(phone=PHONE), "alerts", source="web_form", at=at, now=at, evidence={}).state
    stamps = tuple(int(sent.timestamp()) for sent in reminders)
    return replace(state, engaged_at=engaged_at, reminders={"alerts": stamps} if stamps else {})


def judged(state: NumberState, now: datetime = NOW, policy: ListHygiene = POLICY) -> list_hygiene.Verdict:
    return list_hygiene.judge(
        state.programs.get("alerts"), state.engaged_at, state.reminders.get("alerts", ()), now, policy
    )


# ---------------------------------------------------------------------- reminders


def test_a_reminder_is_due_a_period_after_the_subscription_and_not_before() -> None:
    assert judged(subscribed(NOW - days(90))).action is Action.REMIND
    waiting = judged(subscribed(NOW - days(89)))
    assert waiting.action is Action.WAIT
    assert waiting.file_on == (NOW - days(89)).date()  # filed under the day its clock started


def test_the_next_reminder_counts_from_the_last_one() -> None:
    state = subscribed(NOW - days(150), reminders=(NOW - days(60),))
    assert judged(state).action is Action.WAIT
    assert judged(state, NOW + days(30)).action is Action.REMIND
    assert judged(state, NOW + days(30)).file_on == (NOW + days(30)).date()  # the clock restarts today


def test_a_number_that_texted_recently_is_skipped_and_looked_at_a_period_later() -> None:
    verdict = judged(subscribed(NOW - days(200), engaged_at=NOW - days(29)))
    assert (verdict.action, verdict.file_on) == (Action.SKIP, NOW.date())
    assert judged(subscribed(NOW - days(200), engaged_at=NOW - days(31))).action is Action.REMIND


def test_a_number_no_longer_subscribed_leaves_the_index() -> None:
    state = subscribed(NOW - days(100))
    out = consent.revoke(state, "alerts", source=Source.KEYWORD, at=NOW, now=NOW, evidence={}).state
    assert judged(out).action is Action.DROP
    assert judged(NumberState(phone=PHONE)).action is Action.DROP


# ---------------------------------------------------------------------- removal


def test_removal_after_three_unanswered_reminders_and_not_before() -> None:
    start = NOW - days(360)
    two = subscribed(start, reminders=(start + days(90), start + days(180)))
    assert judged(two, start + days(270)).action is Action.REMIND
    three = subscribed(start, reminders=(start + days(90), start + days(180), start + days(270)))
    verdict = judged(three)
    assert (verdict.action, verdict.unanswered) == (Action.REMOVE, 3)


def test_an_answer_after_a_reminder_resets_the_count() -> None:
    start = NOW - days(360)
    reminders = (start + days(90), start + days(180), start + days(270))
    answered = subscribed(start, engaged_at=start + days(181), reminders=reminders)
    verdict = judged(answered)
    assert (verdict.action, verdict.unanswered) == (Action.REMIND, 1)


def test_a_program_without_removal_keeps_reminding() -> None:
    start = NOW - days(360)
    state = subscribed(start, reminders=(start + days(90), start + days(180), start + days(270)))
    assert judged(state, policy=POLICY.model_copy(update={"remove_after_reminders": None})).action is Action.REMIND


def test_removal_is_a_list_hygiene_status_change_not_a_consumer_opt_out() -> None:
    start = NOW - days(360)
    state = subscribed(start, reminders=(start + days(90), start + days(180), start + days(270)))
    removal = list_hygiene.remove(state, "alerts", POLICY, NOW)
    assert removal.removed
    (event,) = removal.change.events
    assert (event.event_type, event.source, event.old_status, event.new_status) == (
        EventType.REVOKED,
        Source.LIST_HYGIENE,
        Status.SUBSCRIBED,
        Status.UNSUBSCRIBED,
    )
    assert event.evidence["unanswered_reminders"] == 3
    assert Source.LIST_HYGIENE not in consent.CONSUMER_OPT_OUT_SOURCES
    after = removal.change.state.programs["alerts"]
    assert (after.status, after.consumer_opted_out) == (Status.UNSUBSCRIBED, False)
    # Unlike a STOP, the business may sign the number up again (a STOP would need the consumer).
    assert consent.may_subscribe_directly(removal.change.state, "alerts", Source.API)
    stopped = consent.revoke(state, "alerts", source=Source.KEYWORD, at=NOW, now=NOW, evidence={}).state
    assert not consent.may_subscribe_directly(stopped, "alerts", Source.API)


def test_removal_is_judged_again_on_fresh_state() -> None:
    """The number texted between the run's read and the write: nothing is removed."""
    start = NOW - days(360)
    state = subscribed(start, engaged_at=NOW - days(1), reminders=(start + days(90), start + days(180)))
    assert not list_hygiene.remove(state, "alerts", POLICY, NOW).removed


def _text(store: MemoryStore, body: str, at: datetime, message_id: str, engagement: Any = None) -> inbound.Outcome:
    deps = inbound.InboundDeps(
        config=CONFIG, store=store, outbound=Outbox(), events=Bus(), clock=lambda: at, engagement=engagement
    )
    message = InboundSms(
        originationNumber=PHONE, destinationNumber=TOLL_FREE, messageBody=body, inboundMessageId=message_id
    )
    return inbound.handle(message, at, deps)


def test_after_a_removal_the_consumers_start_subscribes_again() -> None:
    start = NOW - days(360)
    state = subscribed(start, reminders=(start + days(90), start + days(180), start + days(270)))
    store = MemoryStore(list_hygiene.remove(state, "alerts", POLICY, NOW).change.state)
    later = NOW + days(2)
    _text(store, "START", later, "in-start")  # alerts uses double opt-in: the prompt, then YES
    _text(store, "YES", later + timedelta(minutes=1), "in-yes")
    current = store.get(PHONE).programs["alerts"]
    assert (current.status, current.source) == (Status.SUBSCRIBED, Source.KEYWORD)
    # The new subscription restarts the clock: no reminder counts against it.
    assert judged(store.get(PHONE), later + days(89)).action is Action.WAIT


# ---------------------------------------------------------------------- reduced frequency


def _marketing() -> OutboundRequest:
    return OutboundRequest(
        request_id="campaign-1",
        program="alerts",
        category=Category.MARKETING,
        recipients=(PHONE,),
        body="Example Corp Alerts: the weekly deal. Reply STOP to opt out",
    )


def _gate(state: NumberState) -> send_gate.GateDecision:
    situation = send_gate.Situation(states={PHONE: state}, open_breakers={}, media=MediaReport(), now=NOW)
    (decision,) = send_gate.decide(_marketing(), CONFIG, situation)
    return decision


def test_the_unengaged_get_the_reduced_frequency_in_the_gate() -> None:
    sent = (int((NOW - days(20)).timestamp()), int((NOW - days(10)).timestamp()))  # 2 in 30 days, none today
    unengaged = replace(subscribed(NOW - days(200)), recent_sends={"alerts": sent})
    engaged = replace(unengaged, engaged_at=NOW - days(100))
    alerts = CONFIG.programs["alerts"]
    assert list_hygiene.reduced_cap("alerts", alerts, unengaged, NOW) == (2, days(30), "list_hygiene", True)
    assert list_hygiene.reduced_cap("alerts", alerts, engaged, NOW) == (2, days(30), "list_hygiene", False)
    assert _gate(unengaged).reason is send_gate.Reason.FREQUENCY_CAP
    assert _gate(engaged).reason is send_gate.Reason.ALLOWED
    assert _gate(replace(unengaged, recent_sends={"alerts": sent[1:]})).reason is send_gate.Reason.ALLOWED


def test_a_new_subscriber_is_engaged_and_a_program_without_the_policy_reduces_nothing() -> None:
    fresh = subscribed(NOW - days(10))
    assert list_hygiene.reduced_cap("alerts", CONFIG.programs["alerts"], fresh, NOW) == (
        2,
        days(30),
        "list_hygiene",
        False,
    )
    old = subscribed(NOW - days(400))
    assert list_hygiene.reduced_cap("tone1", CONFIG.programs["tone1"], old, NOW) is None


def test_the_send_log_of_an_engaged_subscriber_spans_the_reduced_window() -> None:
    """Sends made while engaged still count when the number turns unengaged: the log is kept 30 days,
    not only the program cap's 24 hours, though the reduced cap does not hold the engaged."""
    alerts = CONFIG.programs["alerts"]
    engaged = replace(subscribed(NOW - days(200)), engaged_at=NOW - days(100))
    reduced = list_hygiene.reduced_cap("alerts", alerts, engaged, NOW)
    caps = frequency_caps.caps_for(alerts, _marketing(), None, reduced)
    earlier = int((NOW - days(20)).timestamp())
    logged = frequency_caps.log_after_send(caps, replace(engaged, recent_sends={"alerts": (earlier,)}), NOW)
    assert logged == ("alerts", (earlier, int(NOW.timestamp())))
    # 200 days after subscribing with no text since, the same log holds it to 2 in 30 days.
    two_sends = (earlier, int((NOW - days(2)).timestamp()))
    assert _gate(replace(engaged, engaged_at=None, recent_sends={"alerts": two_sends})).reason is (
        send_gate.Reason.FREQUENCY_CAP
    )


# ---------------------------------------------------------------------- engagement on the inbound path


@dataclass
class EngagementLog:
    store: MemoryStore
    writes: list[tuple[str, datetime]] = field(default_factory=list)

    def record_engagement(self, phone: str, at: datetime) -> None:
        self.writes.append((phone, at))
        self.store.states[phone] = replace(self.store.get(phone), engaged_at=at)


def test_an_inbound_text_is_engagement_written_at_most_once_a_day_and_a_stop_is_not() -> None:
    store = MemoryStore(subscribed(NOW - days(200)))
    log = EngagementLog(store)
    _text(store, "Thanks, see you Saturday", NOW, "in-1", log)
    _text(store, "HELP", NOW + timedelta(hours=2), "in-2", log)  # the same day: no second write
    _text(store, "HELP", NOW + days(1), "in-3", log)
    assert [at for _, at in log.writes] == [NOW, NOW + days(1)]
    _text(store, "STOP", NOW + days(3), "in-4", log)
    assert len(log.writes) == 2
    stranger = EngagementLog(MemoryStore())
    _text(stranger.store, "HELP", NOW, "in-5", stranger)  # no consent on file: nothing to audit
    assert stranger.writes == []


# ---------------------------------------------------------------------- configuration


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(Path(DEFAULT_PROGRAM_CONFIG).read_text(encoding="utf-8"))
    return data


def _load(tmp_path: Path, data: Mapping[str, Any]) -> None:
    path = tmp_path / "programs.yaml"
    path.write_text(yaml.safe_dump(dict(data)), encoding="utf-8")
    load_config(path)


def test_a_reminder_without_stop_instructions_does_not_load(tmp_path: Path) -> None:
    data = _sample()
    data["programs"]["alerts"]["list_hygiene"]["reminder_text"] = "Example Corp Alerts: you're still subscribed."
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, data)
    assert (caught.value.where, caught.value.field) == ("program 'alerts'", "list_hygiene.reminder_text")
    assert "STOP" in caught.value.message


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"reduced_frequency": None}, "go together"),
        ({"skip_if_engaged_within_days": 120}, "must not exceed"),
        ({"reminder_every_days": 3}, "greater than or equal to 7"),
        ({"remove_after_reminders": 0}, "greater than or equal to 1"),
        ({"remind_every": 90}, "Extra inputs"),
    ],
)
def test_the_policy_is_validated(tmp_path: Path, change: dict[str, Any], problem: str) -> None:
    data = _sample()
    data["programs"]["alerts"]["list_hygiene"].update(change)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, data)
    assert caught.value.where == "program 'alerts'"
    assert caught.value.field.startswith("list_hygiene")
    assert problem in caught.value.message
