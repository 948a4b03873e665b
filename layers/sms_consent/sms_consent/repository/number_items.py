"""How number state and audit events are stored: the item types and their mapping to the domain.

One item per number (PK `PHONE#<e164>`, SK `STATE`) holds everything the send gate needs; audit events
are separate, append-only items (SK `EVENT#<time>#<id>`) in the same partition.
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from datetime import datetime
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute

from sms_consent.clock import iso, parse_iso
from sms_consent.consent import AuditEvent, Block, EventType, NumberState, Pending, ProgramState, Status
from sms_consent.ports import Committed
from sms_consent.repository.table import Gsi1, TableItem

BLOCKLIST_INDEX_KEY = "BLOCKLIST"  # items indexed before the sharding; new ones go to BLOCKLIST#<shard>
BLOCKLIST_SHARDS = 64  # an import of many rows spreads its index writes over as many partitions


def blocklist_index_key(phone: str) -> str:
    return f"{BLOCKLIST_INDEX_KEY}#{zlib.crc32(phone.encode()) % BLOCKLIST_SHARDS:02d}"


STATE_SK = "STATE"
EVENT_SK_PREFIX = "EVENT#"


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
        "held": pending.held,
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
        held=bool(raw.get("held")),
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


def to_item(state: NumberState, item_type: type[NumberStateItem] = NumberStateItem) -> NumberStateItem:
    block = state.block
    return item_type(
        pk=phone_key(state.phone),
        sk=STATE_SK,
        programs={name: _program_to_map(program) for name, program in state.programs.items()},
        block={"type": block.type, "reason": block.reason, "text": block.text, "added_at": iso(block.added_at)}
        if block
        else None,
        ask_pending={sender: iso(at) for sender, at in state.ask_pending.items()},
        version=state.version,
        gsi1pk=blocklist_index_key(state.phone) if block else None,
        gsi1sk=f"{iso(block.added_at)}#{state.phone}" if block else None,
    )


def event_item(event: AuditEvent, item_type: type[AuditEventItem] = AuditEventItem) -> AuditEventItem:
    return item_type(
        pk=phone_key(event.phone),
        sk=f"{EVENT_SK_PREFIX}{iso(event.at)}#{event.event_id}",
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


def event_from_item(item: AuditEventItem) -> AuditEvent:
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


# The send gate keeps its own top-level attributes on the state item, so that a single conditional
# UpdateItem appends to a send log and records an opt-out notice, and so that a consent save never
# overwrites them: `sends_<stream>` (recent send times) and `notice_<program>`.
SENDS, NOTICE = "sends_", "notice_"
# List hygiene's attributes, written the same way (never by a consent save): `engaged_at` (the last
# inbound message) and `remind_<program>` (reminder times).
ENGAGED, REMIND = "engaged_at", "remind_"


def _with_gate_fields(state: NumberState, raw: dict[str, Any]) -> NumberState:
    sends: dict[str, tuple[int, ...]] = {}
    notices: dict[str, datetime] = {}
    reminders: dict[str, tuple[int, ...]] = {}
    for name, value in raw.items():
        if name.startswith(SENDS):
            sends[name.removeprefix(SENDS)] = tuple(int(entry["N"]) for entry in value.get("L", []))
        elif name.startswith(NOTICE):
            notices[name.removeprefix(NOTICE)] = parse_iso(value["S"])
        elif name.startswith(REMIND):
            reminders[name.removeprefix(REMIND)] = tuple(int(entry["N"]) for entry in value.get("L", []))
    engaged = raw.get(ENGAGED, {}).get("S")
    return replace(
        state,
        recent_sends=sends,
        optout_notice_at=notices,
        reminders=reminders,
        engaged_at=parse_iso(engaged) if engaged else None,
    )


def from_raw(raw: dict[str, Any]) -> NumberState:
    """A state item as BatchGetItem or GetItem returns it, gate fields included."""
    item = NumberStateItem.from_raw_data(raw)
    return _with_gate_fields(to_state(item), raw)


def event_from_raw(raw: dict[str, Any]) -> AuditEvent:
    """An audit event item as the table's stream (NewImage) or GetItem returns it; ValueError when it
    is not one (pynamodb does not check required attributes on raw data)."""
    missing = [name for name in ("event_type", "at", "phone", "source", "event_id") if "S" not in raw.get(name, {})]
    if missing:
        raise ValueError(f"audit event item without {', '.join(missing)}")
    return event_from_item(AuditEventItem.from_raw_data(raw))


def committed_of(record: dict[str, Any]) -> Committed | None:
    """The audit event a DynamoDB stream record inserts, or None for any other record (other item
    types, MODIFY, REMOVE); ValueError when an inserted EVENT# image is not an audit event."""
    raw: dict[str, Any] = record.get("dynamodb") or {}
    sort_key = str((raw.get("Keys") or {}).get("SK", {}).get("S", ""))
    if record.get("eventName") != "INSERT" or not sort_key.startswith(EVENT_SK_PREFIX):
        return None
    try:
        return Committed(sequence=int(raw["SequenceNumber"]), event=event_from_raw(raw["NewImage"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"unreadable audit event {sort_key[:80]}: {exc}") from exc
