"""Storage of number state and its audit trail.

One item per number (PK `PHONE#<e164>`, SK `STATE`) holds everything the send gate needs, so that the
gate reads one key per recipient (BatchGetItem, 100 per call). Audit events are separate, append-only
items (SK `EVENT#<time>#<id>`) written in the same transaction as the state they explain.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from sms_consent.consent import (
    AuditEvent,
    Block,
    EventType,
    NumberState,
    Pending,
    ProgramState,
    Status,
    iso,
    parse_iso,
)
from sms_consent.repository import metrics
from sms_consent.repository.table import Gsi1, TableItem

BATCH_GET_LIMIT = 100
BLOCKLIST_INDEX_KEY = "BLOCKLIST"


class ConcurrentUpdate(RuntimeError):
    """Someone else changed the number between our read and our write; read again and retry."""


def phone_key(phone: str) -> str:
    return f"PHONE#{phone}"


class NumberStateItem(TableItem):
    programs = MapAttribute[str, Any](default=dict)
    block = MapAttribute[str, Any](null=True)
    ask_pending = MapAttribute[str, Any](default=dict)
    optout_notice_at = MapAttribute[str, Any](default=dict)
    version = NumberAttribute(default=0)
    # Sparse index: present only while the number is on the blocklist.
    gsi1pk = UnicodeAttribute(null=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(null=True, attr_name="GSI1SK")
    gsi1 = Gsi1()


class AuditEventItem(TableItem):
    event_type = UnicodeAttribute()
    at = UnicodeAttribute()
    phone = UnicodeAttribute()
    program = UnicodeAttribute(null=True)
    old_status = UnicodeAttribute(null=True)
    new_status = UnicodeAttribute(null=True)
    source = UnicodeAttribute()
    evidence = MapAttribute[str, Any](default=dict)
    event_id = UnicodeAttribute()


# ---------------------------------------------------------------------- mapping


def _plain(value: Any) -> Any:
    """pynamodb hands back MapAttribute objects for raw maps; the domain wants dicts."""
    if isinstance(value, MapAttribute):
        return {key: _plain(item) for key, item in value.attribute_values.items()}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _storable(value: Any) -> Any:
    """DynamoDB takes plain types: enums become their values, times ISO strings, tuples lists."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {str(key): _storable(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _pending_to_map(pending: Pending | None) -> dict[str, Any] | None:
    if pending is None:
        return None
    return {
        "requested_at": iso(pending.requested_at),
        "expires_at": iso(pending.expires_at),
        "source": str(pending.source),
        "prompt_request_id": pending.prompt_request_id,
        "prompt_message_id": pending.prompt_message_id,
    }


def _pending_from_map(raw: dict[str, Any] | None) -> Pending | None:
    if not raw:
        return None
    return Pending(
        requested_at=parse_iso(raw["requested_at"]),
        expires_at=parse_iso(raw["expires_at"]),
        source=raw["source"],
        prompt_request_id=raw["prompt_request_id"],
        prompt_message_id=raw.get("prompt_message_id"),
    )


def _program_to_map(state: ProgramState) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "source": str(state.source),
        "updated_at": iso(state.updated_at),
        "decided_at": iso(state.decided_at),
        "consumer_opted_out": state.consumer_opted_out,
        "pending": _pending_to_map(state.pending),
    }


def _program_from_map(raw: dict[str, Any]) -> ProgramState:
    return ProgramState(
        status=Status(raw["status"]),
        source=raw["source"],
        updated_at=parse_iso(raw["updated_at"]),
        decided_at=parse_iso(raw["decided_at"]),
        consumer_opted_out=bool(raw.get("consumer_opted_out", False)),
        pending=_pending_from_map(raw.get("pending")),
    )


def to_state(item: NumberStateItem) -> NumberState:
    programs = _plain(item.programs) or {}
    block = _plain(item.block)
    return NumberState(
        phone=item.pk.removeprefix("PHONE#"),
        programs={name: _program_from_map(raw) for name, raw in programs.items()},
        block=Block(
            type=int(block["type"]), reason=block["reason"], text=block["text"], added_at=parse_iso(block["added_at"])
        )
        if block
        else None,
        ask_pending={sender: parse_iso(at) for sender, at in (_plain(item.ask_pending) or {}).items()},
        optout_notice_at={program: parse_iso(at) for program, at in (_plain(item.optout_notice_at) or {}).items()},
        version=int(item.version or 0),
    )


def to_item(state: NumberState) -> NumberStateItem:
    block = state.block
    return NumberStateItem(
        pk=phone_key(state.phone),
        sk="STATE",
        programs={name: _program_to_map(program) for name, program in state.programs.items()},
        block={"type": block.type, "reason": block.reason, "text": block.text, "added_at": iso(block.added_at)}
        if block
        else None,
        ask_pending={sender: iso(at) for sender, at in state.ask_pending.items()},
        optout_notice_at={program: iso(at) for program, at in state.optout_notice_at.items()},
        version=state.version,
        gsi1pk=BLOCKLIST_INDEX_KEY if block else None,
        gsi1sk=f"{iso(block.added_at)}#{state.phone}" if block else None,
    )


def _event_item(event: AuditEvent) -> AuditEventItem:
    return AuditEventItem(
        pk=phone_key(event.phone),
        sk=f"EVENT#{iso(event.at)}#{event.event_id}",
        event_type=event.event_type.value,
        at=iso(event.at),
        phone=event.phone,
        program=event.program,
        old_status=str(event.old_status) if event.old_status is not None else None,
        new_status=str(event.new_status) if event.new_status is not None else None,
        source=str(event.source),
        evidence=_storable(event.evidence),
        event_id=event.event_id,
    )


def _event_from_item(item: AuditEventItem) -> AuditEvent:
    return AuditEvent(
        event_type=EventType(item.event_type),
        at=parse_iso(item.at),
        phone=item.phone,
        program=item.program,
        old_status=item.old_status,
        new_status=item.new_status,
        source=item.source,
        evidence=_plain(item.evidence) or {},
        event_id=item.event_id,
    )


# ---------------------------------------------------------------------- access


def get(phone: str, *, consistent: bool = True) -> NumberState:
    """The number's state; a number we have never seen has an empty state with version 0."""
    try:
        return to_state(NumberStateItem.get(phone_key(phone), "STATE", consistent_read=consistent))
    except NumberStateItem.DoesNotExist:
        return NumberState(phone=phone)


def get_many(phones: Sequence[str]) -> dict[str, NumberState]:
    """States for many numbers with BatchGetItem (100 keys a call; unprocessed keys are retried)."""
    unique = list(dict.fromkeys(phones))
    states = {phone: NumberState(phone=phone) for phone in unique}
    keys = [(phone_key(phone), "STATE") for phone in unique]
    for item in NumberStateItem.batch_get(keys):
        state = to_state(item)
        states[state.phone] = state
    return states


def save(state: NumberState, events: Iterable[AuditEvent]) -> NumberState:
    """Write the new state and its events atomically, if nobody changed the number since `state.version`.

    Raises ConcurrentUpdate when the version moved on; the caller re-reads and re-applies.
    """
    item = to_item(state)
    expected = state.version
    item.version = expected + 1
    condition = NumberStateItem.version == expected if expected else NumberStateItem.pk.does_not_exist()
    events = list(events)
    event_items = [_event_item(event) for event in events]
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.save(item, condition=condition)
            for event_item in event_items:
                transaction.save(event_item, condition=AuditEventItem.pk.does_not_exist())
            for metrics_item, actions in metrics.transaction_updates(events):
                transaction.update(metrics_item, actions=actions)
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            raise ConcurrentUpdate(f"number changed concurrently (expected version {expected})") from exc
        raise
    return to_state(item)


def history(phone: str, *, limit: int = 500) -> list[AuditEvent]:
    """The audit trail of a number, oldest first."""
    items = AuditEventItem.query(
        phone_key(phone), AuditEventItem.sk.startswith("EVENT#"), scan_index_forward=True, limit=limit
    )
    return [_event_from_item(item) for item in items]


def update_with_retry(
    phone: str,
    decide: Any,
    *,
    attempts: int = 5,
) -> tuple[NumberState, tuple[AuditEvent, ...]]:
    """Read, apply `decide(state) -> Change`, write; on a concurrent change read again and re-apply.

    `decide` is pure, so re-applying it to fresher state is safe. Returns the stored state and the
    events written (empty when nothing changed).
    """
    for attempt in range(attempts):
        state = get(phone)
        change = decide(state)
        if not change.changed:
            return state, ()
        try:
            return save(change.state, change.events), change.events
        except ConcurrentUpdate:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0, 0.02 * 2**attempt))
    raise AssertionError("unreachable")


@functools.cache
def _connection_for(region: str, host: str | None) -> Connection:
    return Connection(region=region, host=host)


def _connection() -> Connection:
    """Transactions need a connection of their own; one per table binding, made once."""
    return _connection_for(NumberStateItem.Meta.region, getattr(NumberStateItem.Meta, "host", None))


class DynamoNumberStore:
    """The NumberStore port on the single table."""

    def get(self, phone: str) -> NumberState:
        return get(phone)

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]:
        return get_many(phones)

    def update(self, phone: str, decide: Any) -> tuple[NumberState, tuple[AuditEvent, ...]]:
        return update_with_retry(phone, decide)

    def history(self, phone: str) -> list[AuditEvent]:
        return history(phone)
