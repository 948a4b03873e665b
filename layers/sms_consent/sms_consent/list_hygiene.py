"""List hygiene and engagement (seed 001: "Audit your customer lists", "Adjust your sending based on
engagement"): periodic reminders, reduced frequency for the unengaged, removal of the fully unengaged.

Pure rules, then one scheduled run over ports:

- Engagement is the last inbound message from the number (a reply, a keyword, a YES to a prompt: a
  confirmed action always arrives as a text), or the subscription itself, whichever is later.
- A reminder is due `reminder_every_days` after the later of the subscription and the last reminder.
  Skipped (and looked at again a period later) when the number texted within
  `skip_if_engaged_within_days`.
- A reminder is unanswered when no engagement came after it. When the next reminder is due and
  `remove_after_reminders` reminders are unanswered, the number is removed instead: a status change to
  unsubscribed with source `list_hygiene` and its audit event. It is not a consumer opt-out
  (`consumer_opted_out` stays false), so the consumer's START, or a new sign-up, subscribes again.
- Unengaged for `unengaged_after_days`: marketing is capped at `reduced_frequency` (the send gate adds
  it to the program's caps, see `reduced_cap`).

Which subscribers to look at comes from an index of due buckets (`HygieneIndex`): a subscription is
filed under the day it started (folded from the table's stream), a handled number under the day its
clock restarts; a run reads the buckets of `today - reminder_every_days` (and a few days before, for a
missed run), never the table.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sms_consent import consent
from sms_consent.clock import iso, utc
from sms_consent.config import ListHygiene, Program, ProgramConfig
from sms_consent.consent import Change, NumberState, ProgramState, Source, Status
from sms_consent.messages import Category, OutboundRequest, to_number
from sms_consent.ports import HygieneIndex, HygieneLog, NumberStore, OutboundRequests

REMINDER_INTENT = "list_hygiene_reminder"  # metadata.intent of a reminder (the gate treats it as marketing)
CATCH_UP_DAYS = 3  # a run also reads the buckets of the days before, in case a run was missed
HYGIENE_NAMESPACE = uuid.UUID("3b0f7f0c-52d4-4a8e-9a43-1d2b6f0c9e11")


class Action(StrEnum):
    DROP = "drop"  # not subscribed (any more): out of the index
    WAIT = "wait"  # not due yet: filed again under the day its clock started
    SKIP = "skip"  # due, but the number texted recently: no reminder this period
    REMIND = "remind"
    REMOVE = "remove"


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    # The day the number is filed under next (read again `reminder_every_days` later); None: not filed.
    file_on: date | None = None
    unanswered: int = 0


def subscribed_since(state: ProgramState) -> datetime:
    return state.updated_at


def last_engagement(state: ProgramState, engaged_at: datetime | None) -> datetime:
    """The later of the subscription and the last inbound message."""
    since = subscribed_since(state)
    return max(since, utc(engaged_at)) if engaged_at is not None else since


def unanswered_reminders(state: ProgramState, engaged_at: datetime | None, reminders: Iterable[int]) -> int:
    """Reminders sent after the last engagement (and after this subscription began)."""
    since = last_engagement(state, engaged_at).timestamp()
    return sum(1 for sent in reminders if sent > since)


def judge(
    state: ProgramState | None,
    engaged_at: datetime | None,
    reminders: tuple[int, ...],
    now: datetime,
    policy: ListHygiene,
) -> Verdict:
    """What to do now about one subscriber of one program. Days are UTC days."""
    if state is None or state.status is not Status.SUBSCRIBED:
        return Verdict(Action.DROP)
    since = subscribed_since(state).timestamp()
    current = [sent for sent in reminders if sent > since]  # this subscription's reminders
    clock_start = max([since, *current])
    start_day = datetime.fromtimestamp(clock_start, tz=UTC).date()
    today = utc(now).date()
    if today < start_day + timedelta(days=policy.reminder_every_days):
        return Verdict(Action.WAIT, file_on=start_day)
    unanswered = unanswered_reminders(state, engaged_at, current)
    if engaged_at is not None and utc(now) - utc(engaged_at) < timedelta(days=policy.skip_if_engaged_within_days):
        return Verdict(Action.SKIP, file_on=today, unanswered=unanswered)
    if policy.remove_after_reminders is not None and unanswered >= policy.remove_after_reminders:
        return Verdict(Action.REMOVE, unanswered=unanswered)
    return Verdict(Action.REMIND, file_on=today, unanswered=unanswered)


def is_unengaged(state: ProgramState, engaged_at: datetime | None, now: datetime, policy: ListHygiene) -> bool:
    if policy.unengaged_after_days is None:
        return False
    return utc(now) - last_engagement(state, engaged_at) >= timedelta(days=policy.unengaged_after_days)


def reduced_cap(
    program_id: str, program: Program, state: NumberState, now: datetime
) -> tuple[int, timedelta, str, bool] | None:
    """The reduced frequency (messages, rolling window, why, enforced) for a subscriber of a program
    that has one: enforced when the subscriber is unengaged; otherwise only its send log is kept that
    long, so that the cap sees the sends before they turned unengaged. None: no reduced frequency."""
    policy = program.list_hygiene
    current = state.programs.get(program_id)
    if policy is None or policy.reduced_frequency is None or current is None:
        return None
    reduced = policy.reduced_frequency
    unengaged = current.status is Status.SUBSCRIBED and is_unengaged(current, state.engaged_at, now, policy)
    return reduced.messages, timedelta(days=reduced.days), "list_hygiene", unengaged


@dataclass(frozen=True, slots=True)
class Removal:
    """The decision to remove one subscriber (re-judged on the state read at write time)."""

    change: Change
    removed: bool


def remove(state: NumberState, program: str, policy: ListHygiene, now: datetime) -> Removal:
    """Remove the subscriber if, on this state, the rule still says so (the number may have texted
    since the run read it). The audit event says why; it is not a consumer opt-out."""
    current = state.programs.get(program)
    verdict = judge(current, state.engaged_at, state.reminders.get(program, ()), now, policy)
    if verdict.action is not Action.REMOVE or current is None:
        return Removal(Change(state), removed=False)
    evidence: dict[str, Any] = {
        "reason": "unengaged",
        "unanswered_reminders": verdict.unanswered,
        "last_engagement": iso(last_engagement(current, state.engaged_at)),
        "remove_after_reminders": policy.remove_after_reminders,
    }
    change = consent.revoke(state, program, source=Source.LIST_HYGIENE, at=now, now=now, evidence=evidence)
    return Removal(change, removed=True)


def reminder_request(phone: str, program_id: str, config: ProgramConfig, today: date) -> OutboundRequest:
    """The reminder, as marketing through the gate (subscription, quiet hours and caps apply). Its id
    is fixed per number, program and day: a run repeated that day is sent once."""
    program = config.programs[program_id]
    assert program.list_hygiene is not None
    sender = config.sender_for_program(program_id)
    request_id = str(uuid.uuid5(HYGIENE_NAMESPACE, "\x1f".join((phone, program_id, today.isoformat()))))
    return to_number(
        phone,
        program=program_id,
        category=Category.MARKETING,
        body=program.list_hygiene.reminder_text,
        sender=sender.number if sender else None,
        metadata={"intent": REMINDER_INTENT},
        request_id=request_id,
    )


# ---------------------------------------------------------------------- the scheduled run


@dataclass(frozen=True)
class HygieneDeps:
    config: ProgramConfig
    store: NumberStore
    index: HygieneIndex
    log: HygieneLog
    outbound: OutboundRequests


@dataclass(frozen=True)
class RunReport:
    figures: dict[str, Counter[str]]  # program -> reminders, removals, audited, engaged, skipped, waiting

    def total(self, name: str) -> int:
        return sum(counts[name] for counts in self.figures.values())


def run(deps: HygieneDeps, now: datetime) -> RunReport:
    """One run: every program with list hygiene, the due buckets of today (and a few days before)."""
    figures: dict[str, Counter[str]] = {}
    today = utc(now).date()
    for program_id, program in deps.config.programs.items():
        policy = program.list_hygiene
        if policy is None:
            continue
        counts: Counter[str] = Counter()
        due_day = today - timedelta(days=policy.reminder_every_days)
        for back in range(CATCH_UP_DAYS, -1, -1):
            _run_day(deps, program_id, policy, due_day - timedelta(days=back), now, counts)
        deps.log.record_figures(program_id, today, +counts)
        figures[program_id] = counts
    return RunReport(figures)


def _run_day(
    deps: HygieneDeps, program_id: str, policy: ListHygiene, day: date, now: datetime, counts: Counter[str]
) -> None:
    entries = deps.index.due(program_id, day)
    if not entries:
        return
    states = deps.store.get_many([entry.phone for entry in entries])
    refile: dict[date, list[str]] = {}
    for entry in entries:
        state = states.get(entry.phone) or NumberState(phone=entry.phone)
        reminders = state.reminders.get(program_id, ())
        verdict = judge(state.programs.get(program_id), state.engaged_at, reminders, now, policy)
        counts["waiting" if verdict.action is Action.WAIT else "audited"] += verdict.action is not Action.DROP
        if verdict.action is Action.SKIP:
            counts["engaged"] += 1
            counts["skipped"] += 1
        elif verdict.action is Action.REMIND:
            deps.outbound.publish(reminder_request(entry.phone, program_id, deps.config, utc(now).date()))
            kept = (policy.remove_after_reminders or 1) + 1
            deps.log.record_reminder(entry.phone, program_id, (*reminders, int(now.timestamp()))[-kept:])
            counts["reminders"] += 1
        elif verdict.action is Action.REMOVE:
            stored = deps.store.update(entry.phone, lambda fresh: remove(fresh, program_id, policy, now))
            if stored.decision.removed:
                counts["removals"] += 1
            else:  # it texted since the read: judged again in the next period
                refile.setdefault(utc(now).date(), []).append(entry.phone)
        if verdict.file_on is not None:
            refile.setdefault(verdict.file_on, []).append(entry.phone)
    stay = set(refile.pop(day, ()))  # filed under the day it was read from: stays there
    for file_on, phones in refile.items():
        deps.index.schedule(program_id, file_on, phones)
    deps.index.done(program_id, day, [entry for entry in entries if entry.phone not in stay])


def engagement_due(state: NumberState, at: datetime) -> bool:
    """Whether an inbound message at `at` must be written down: the stored one is missing or more than
    a day older (finer than a day changes no rule, and spares a write per message)."""
    return state.engaged_at is None or utc(at) - utc(state.engaged_at) >= timedelta(days=1)


def with_engagement(state: NumberState, at: datetime) -> NumberState:
    return replace(state, engaged_at=utc(at))
