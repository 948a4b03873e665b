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
from dataclasses import replace
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
from sms_consent.ports import ConcurrentUpdate
from sms_consent.repository import metrics
from sms_consent.repository.table import Gsi1, TableItem

BATCH_GET_LIMIT = 100
BLOCKLIST_INDEX_KEY = "BLOCKLIST"


def phone_key(phone: str) -> str:
    return f"PHONE#{phone}"


class NumberStateItem(TableItem):
    programs = MapAttribute[str, Any](default=dict)
    block = MapAttribute[str, Any](null=True)
    ask_pending = MapAttribute[str, Any](default=dict)
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
        "asked_at": iso(pending.asked_at) if pending.asked_at else None,
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
        asked_at=parse_iso(raw["asked_at"]) if raw.get("asked_at") else None,  # absent on older items
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


# The send gate keeps its own top-level attributes on the state item (one per program), so that a
# single conditional UpdateItem reserves a frequency cap and records an opt-out notice, and so that
# save() above never overwrites them.
CAP_WINDOW, CAP_COUNT, NOTICE = "capw_", "capn_", "notice_"


def _with_gate_fields(state: NumberState, raw: dict[str, Any]) -> NumberState:
    caps: dict[str, tuple[int, int]] = {}
    notices: dict[str, datetime] = {}
    for name, value in raw.items():
        if name.startswith(CAP_WINDOW):
            program = name.removeprefix(CAP_WINDOW)
            count = raw.get(CAP_COUNT + program, {"N": "0"})
            caps[program] = (int(value["N"]), int(count["N"]))
        elif name.startswith(NOTICE):
            notices[name.removeprefix(NOTICE)] = parse_iso(value["S"])
    return replace(state, cap_counts=caps, optout_notice_at=notices)


def _from_raw(raw: dict[str, Any]) -> NumberState:
    item = NumberStateItem.from_raw_data(raw)
    return _with_gate_fields(to_state(item), raw)


def get(phone: str, *, consistent: bool = True) -> NumberState:
    """The number's state; a number we have never seen has an empty state with version 0."""
    response = _client().get_item(
        TableName=NumberStateItem.Meta.table_name,
        Key={"PK": {"S": phone_key(phone)}, "SK": {"S": "STATE"}},
        ConsistentRead=consistent,
    )
    raw = response.get("Item")
    return _from_raw(raw) if raw else NumberState(phone=phone)


class StateUnavailable(RuntimeError):
    """Some states could not be read after every retry: callers fail closed."""


def get_many(phones: Sequence[str], *, attempts: int = 6) -> dict[str, NumberState]:
    """States for many numbers: BatchGetItem, 100 keys a call; unprocessed keys retried with backoff."""
    unique = list(dict.fromkeys(phones))
    states = {phone: NumberState(phone=phone) for phone in unique}
    client = _client()
    table = NumberStateItem.Meta.table_name
    for start in range(0, len(unique), BATCH_GET_LIMIT):
        keys: list[dict[str, Any]] = [
            {"PK": {"S": phone_key(phone)}, "SK": {"S": "STATE"}} for phone in unique[start : start + BATCH_GET_LIMIT]
        ]
        for attempt in range(attempts):
            response = client.batch_get_item(RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
            for raw in response.get("Responses", {}).get(table, []):
                state = _from_raw(raw)
                states[state.phone] = state
            keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            if not keys:
                break
            time.sleep(random.uniform(0, 0.05 * 2**attempt))
        if keys:
            raise StateUnavailable(f"{len(keys)} number states stayed unprocessed after {attempts} attempts")
    return states


def reserve_send(
    phone: str,
    program: str,
    *,
    window_start: int | None,
    cap: int | None,
    notice_at: datetime | None,
    same_window_likely: bool,
) -> bool:
    """Count one marketing send against the cap (if any) and record an opt-out notice (if any), in one
    conditional UpdateItem. False when the cap is reached: two concurrent gates cannot both pass it."""
    from botocore.exceptions import ClientError

    client = _client()
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    sets: list[str] = []
    if notice_at is not None:
        names["#notice"] = NOTICE + program
        values[":notice"] = {"S": iso(notice_at)}
        sets.append("#notice = :notice")
    key = {"PK": {"S": phone_key(phone)}, "SK": {"S": "STATE"}}
    if cap is None or window_start is None:
        if not sets:
            return True
        client.update_item(
            TableName=NumberStateItem.Meta.table_name,
            Key=key,
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        return True
    names.update({"#window": CAP_WINDOW + program, "#count": CAP_COUNT + program})
    values.update({":window": {"N": str(window_start)}, ":one": {"N": "1"}, ":cap": {"N": str(cap)}})
    same = ("#window = :window AND #count < :cap", ["#count = #count + :one"])
    fresh = ("attribute_not_exists(#window) OR #window < :window", ["#window = :window", "#count = :one"])
    for condition, assignments in (same, fresh) if same_window_likely else (fresh, same):
        expression_names = {k: v for k, v in names.items() if k in condition or any(k in a for a in assignments + sets)}
        expression_values = {
            k: v for k, v in values.items() if k in condition or any(k in a for a in assignments + sets)
        }
        try:
            client.update_item(
                TableName=NumberStateItem.Meta.table_name,
                Key=key,
                UpdateExpression="SET " + ", ".join(assignments + sets),
                ConditionExpression=condition,
                ExpressionAttributeNames=expression_names,
                ExpressionAttributeValues=expression_values,
            )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
    return False


def _owned_actions(item: NumberStateItem) -> list[Any]:
    """What save() writes: the consent fields. The send gate's fields (caps, notices) are left alone,
    so a consent change never undoes a reservation the gate made in between."""
    actions: list[Any] = [
        NumberStateItem.programs.set(item.programs),
        NumberStateItem.ask_pending.set(item.ask_pending),
        NumberStateItem.version.set(item.version),
    ]
    if item.block is not None:
        actions += [
            NumberStateItem.block.set(item.block),
            NumberStateItem.gsi1pk.set(item.gsi1pk),
            NumberStateItem.gsi1sk.set(item.gsi1sk),
        ]
    else:
        actions += [NumberStateItem.block.remove(), NumberStateItem.gsi1pk.remove(), NumberStateItem.gsi1sk.remove()]
    return actions


def save(state: NumberState, events: Iterable[AuditEvent]) -> NumberState:
    """Write the new state and its events atomically, if nobody changed the number since `state.version`.

    Raises ConcurrentUpdate when the version moved on; the caller re-reads and re-applies.
    """
    item = to_item(state)
    expected = state.version
    item.version = expected + 1
    condition = NumberStateItem.version == expected if expected else NumberStateItem.version.does_not_exist()
    events = list(events)
    event_items = [_event_item(event) for event in events]
    try:
        with TransactWrite(connection=_connection()) as transaction:
            transaction.update(item, actions=_owned_actions(item), condition=condition)
            for event_item in event_items:
                transaction.save(event_item, condition=AuditEventItem.pk.does_not_exist())
            for metrics_item, actions in metrics.transaction_updates(events):
                transaction.update(metrics_item, actions=actions)
    except TransactWriteError as exc:
        if exc.cause_response_code == "TransactionCanceledException":
            raise ConcurrentUpdate(f"number changed concurrently (expected version {expected})") from exc
        raise
    return replace(to_state(item), optout_notice_at=state.optout_notice_at, cap_counts=state.cap_counts)


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


def _client() -> Any:
    """The botocore DynamoDB client under that connection, for the requests pynamodb has no model for."""
    return _connection().client


class DynamoNumberStore:
    """The NumberStore port on the single table."""

    def reserve_send(
        self,
        phone: str,
        program: str,
        *,
        window_start: int | None,
        cap: int | None,
        notice_at: datetime | None,
        same_window_likely: bool,
    ) -> bool:
        return reserve_send(
            phone,
            program,
            window_start=window_start,
            cap=cap,
            notice_at=notice_at,
            same_window_likely=same_window_likely,
        )

    def get(self, phone: str) -> NumberState:
        return get(phone)

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]:
        return get_many(phones)

    def update(self, phone: str, decide: Any) -> tuple[NumberState, tuple[AuditEvent, ...]]:
        return update_with_retry(phone, decide)

    def history(self, phone: str) -> list[AuditEvent]:
        return history(phone)
