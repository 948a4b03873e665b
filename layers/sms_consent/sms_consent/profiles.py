"""Profiles (seed 000): users who share a number, and users who move to another number.

Status belongs to the number, so every profile linked to a number sees the same status. A user who
moves to another number takes their statuses along (`carry_statuses`): opt-outs always (a consumer's
opt-out stays a consumer's opt-out), subscriptions unless the new number's own consumer opted out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sms_consent import consent
from sms_consent.clock import Clock
from sms_consent.consent import Change, NumberState, Source, Status
from sms_consent.ports import NumberStore, ProfileStore
from sms_consent.subscriptions import Rejected, Rejection, without_pending


class Carried(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    UNCHANGED = "unchanged"  # the new number already had that status
    KEPT_OPTED_OUT = "kept_opted_out"  # the new number's consumer opted out: only they can undo it
    NOT_CARRIED = "not_carried"  # a pending prompt belongs to the number it was sent to


@dataclass(frozen=True)
class Move:
    """What a move does to the new number, and what happened to each program."""

    change: Change
    carried: dict[str, Carried]


def carry_statuses(target: NumberState, previous: NumberState, *, user_id: str, now: datetime) -> Move:
    """What a user who moves from `previous` to `target` takes along, program by program."""
    evidence = {"user_id": user_id, "previous_phone": previous.phone}
    changes = [Change(target)]
    outcome: dict[str, Carried] = {}
    for program_id, old in sorted(previous.programs.items()):
        state = changes[-1].state
        current = state.programs.get(program_id)
        if old.status is Status.UNSUBSCRIBED:
            if (
                current is not None
                and current.status is Status.UNSUBSCRIBED
                and (current.consumer_opted_out or not old.consumer_opted_out)
            ):
                outcome[program_id] = Carried.UNCHANGED
                continue
            changes.append(
                consent.revoke(
                    state,
                    program_id,
                    source=Source.PROFILE,
                    at=now,
                    now=now,
                    evidence=evidence,
                    by_consumer=old.consumer_opted_out,  # the consumer's STOP stays theirs to undo
                )
            )
            outcome[program_id] = Carried.UNSUBSCRIBED
        elif old.status is Status.SUBSCRIBED:
            if current is not None and current.status is Status.SUBSCRIBED:
                outcome[program_id] = Carried.UNCHANGED
            elif not consent.may_subscribe_directly(state, program_id, Source.PROFILE):
                outcome[program_id] = Carried.KEPT_OPTED_OUT
            else:
                changes.append(
                    consent.grant(
                        without_pending(state, program_id),
                        program_id,
                        source=Source.PROFILE,
                        at=now,
                        now=now,
                        evidence=evidence,
                    )
                )
                outcome[program_id] = Carried.SUBSCRIBED
        else:
            outcome[program_id] = Carried.NOT_CARRIED
    return Move(consent.merge(*changes), outcome)


@dataclass(frozen=True)
class ProfileDeps:
    store: NumberStore
    profiles: ProfileStore
    clock: Clock


@dataclass(frozen=True)
class ProfileResult:
    user_id: str
    phone: str
    previous_phone: str | None
    carried: dict[str, Carried]
    state: NumberState
    users: list[str]


def link_profile(user_id: str, phone: str, deps: ProfileDeps) -> ProfileResult:
    """PUT /v1/users/{user_id}/phone: link the profile to `phone` (E.164), taking its statuses along.

    The statuses move first and idempotently, then the link: a retry after a failure in between
    finishes the move instead of leaving the new number without the user's opt-outs.
    """
    now = deps.clock()
    previous = deps.profiles.phone_of(user_id)
    carried: dict[str, Carried] = {}
    if previous is not None and previous != phone:
        old_state = deps.store.get(previous)
        stored = deps.store.update(phone, lambda state: carry_statuses(state, old_state, user_id=user_id, now=now))
        state, carried = stored.state, stored.decision.carried
    else:
        state = deps.store.get(phone)
    if previous != phone and not deps.profiles.link(user_id, phone, previous, now):
        raise Rejected(Rejection.CONFLICT, "the profile's number was changed by another request; try again")
    return ProfileResult(user_id, phone, previous, carried, state, deps.profiles.users_of(phone))
