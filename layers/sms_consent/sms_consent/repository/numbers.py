"""The NumberStore (and GateStore) port on the single table: number state and its audit trail.

The gate reads one key per recipient (BatchGetItem, 100 per call). Audit events are written in the
same transaction as the state they explain, in the number's own partition; the table's stream carries
them to the bus and the program metrics (consent_feed), so a request writes no shared item.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from sms_consent.clock import iso
from sms_consent.consent import AuditEvent, NumberState
from sms_consent.ports import ConcurrentUpdate, D, SendReservation, Stored, StoreUnavailable, WriteThrottled
from sms_consent.repository.number_items import (
    EVENT_SK_PREFIX,
    NOTICE,
    SENDS,
    STATE_SK,
    AuditEventItem,
    NumberStateItem,
    event_from_item,
    event_item,
    from_raw,
    phone_key,
    to_item,
    to_state,
)
from sms_consent.repository.table import THROTTLED, TTL_ATTRIBUTE, Table, error_code, item_key

UPDATE_ATTEMPTS = 5
SEND_CLAIM_SK_PREFIX = "SEND#"
# Longer than any redelivery of one request (SNS/Lambda retries, a resubmitted sign-up's prompt).
SEND_CLAIM_KEPT = timedelta(days=7)


def _kept(saved: NumberState, read: NumberState) -> NumberState:
    """The saved consent fields with the fields a consent save leaves alone (gate, list hygiene)."""
    return replace(
        saved,
        optout_notice_at=read.optout_notice_at,
        recent_sends=read.recent_sends,
        engaged_at=read.engaged_at,
        reminders=read.reminders,
    )


class DynamoNumberStore:
    def __init__(self, table: Table) -> None:
        self.table = table
        self._states = table.model(NumberStateItem)
        self._events = table.model(AuditEventItem)

    def get(self, phone: str) -> NumberState:
        """The number's state; a number we have never seen has an empty state with version 0."""
        response = self.table.client.get_item(
            TableName=self.table.name, Key=item_key(phone_key(phone), STATE_SK), ConsistentRead=True
        )
        raw = response.get("Item")
        return from_raw(raw) if raw else NumberState(phone=phone)

    def get_many(self, phones: Sequence[str]) -> dict[str, NumberState]:
        """States for many numbers (BatchGetItem); raises StoreUnavailable rather than guess any."""
        unique = list(dict.fromkeys(phones))
        found = self.table.batch_get([item_key(phone_key(phone), STATE_SK) for phone in unique])
        return {
            phone: from_raw(raw) if (raw := found.get((phone_key(phone), STATE_SK))) else NumberState(phone=phone)
            for phone in unique
        }

    def reserve_send(self, reservation: SendReservation) -> bool:
        """Append to the send log (if capped) and record an opt-out notice (if due), in one UpdateItem
        conditional on the log being as the gate read it. False when another send changed it meanwhile."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        sets: list[str] = []
        if reservation.notice_at is not None:
            names["#notice"] = NOTICE + reservation.program
            values[":notice"] = {"S": iso(reservation.notice_at)}
            sets.append("#notice = :notice")
        request: dict[str, Any] = {
            "TableName": self.table.name,
            "Key": item_key(phone_key(reservation.phone), STATE_SK),
        }
        if reservation.log_key is not None:
            names["#log"] = SENDS + reservation.log_key
            values[":log"] = {"L": [{"N": str(sent)} for sent in reservation.log_after]}
            sets.append("#log = :log")
            if reservation.log_read:
                values[":read"] = {"L": [{"N": str(sent)} for sent in reservation.log_read]}
                request["ConditionExpression"] = "#log = :read"
            else:
                request["ConditionExpression"] = "attribute_not_exists(#log)"
        if not sets:
            return True
        try:
            self.table.client.update_item(
                **request,
                UpdateExpression="SET " + ", ".join(sets),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def claim_send(self, phone: str, request_id: str, now: datetime) -> bool:
        key = item_key(phone_key(phone), SEND_CLAIM_SK_PREFIX + request_id)
        token = {"S": str(uuid.uuid4())}  # tells our own write, retried by botocore, from an earlier one
        try:
            self.table.client.put_item(
                TableName=self.table.name,
                Item={
                    **key,
                    "claimed_at": {"S": iso(now)},
                    "token": token,
                    TTL_ATTRIBUTE: {"N": str(int((now + SEND_CLAIM_KEPT).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(PK)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return bool(getattr(exc, "response", {}).get("Item", {}).get("token") == token)
            # Unknown outcome, nothing sent yet: take back a claim that may have landed, so that the
            # redelivery can send (if this fails too, the message is not sent: at most once).
            with contextlib.suppress(Exception):
                self.table.client.delete_item(
                    TableName=self.table.name,
                    Key=key,
                    ConditionExpression="#token = :token",
                    ExpressionAttributeNames={"#token": "token"},
                    ExpressionAttributeValues={":token": token},
                )
            raise
        return True

    def release_send(self, phone: str, request_id: str) -> None:
        self.table.client.delete_item(
            TableName=self.table.name, Key=item_key(phone_key(phone), SEND_CLAIM_SK_PREFIX + request_id)
        )

    def _owned_actions(self, item: NumberStateItem) -> list[Any]:
        """What save() writes: the consent fields. The send gate's fields (caps, notices) are left alone,
        so a consent change never undoes a reservation the gate made in between."""
        model = self._states
        actions: list[Any] = [
            model.programs.set(item.programs),
            model.ask_pending.set(item.ask_pending),
            model.version.set(item.version),
        ]
        if item.block is not None:
            actions += [model.block.set(item.block), model.gsi1pk.set(item.gsi1pk), model.gsi1sk.set(item.gsi1sk)]
        else:
            actions += [model.block.remove(), model.gsi1pk.remove(), model.gsi1sk.remove()]
        return actions

    def save(self, state: NumberState, events: Sequence[AuditEvent]) -> NumberState:
        """Write the new state and its events atomically, if nobody changed the number since `state.version`.

        Raises ConcurrentUpdate when the version moved on; the caller re-reads and re-applies.
        """
        item = to_item(state, self._states)
        expected = state.version
        item.version = expected + 1
        condition = self._states.version == expected if expected else self._states.version.does_not_exist()
        try:
            with TransactWrite(connection=self.table.connection) as transaction:
                transaction.update(item, actions=self._owned_actions(item), condition=condition)
                for event in events:
                    transaction.save(event_item(event, self._events), condition=self._events.pk.does_not_exist())
        except (PynamoDBException, BotoCoreError) as exc:
            if self._landed(events):  # the answer was lost (or botocore's retry refused) after it committed
                return _kept(to_state(item), state)
            if error_code(exc) == "TransactionCanceledException":  # a version moved, or a conflict
                raise ConcurrentUpdate(f"number changed concurrently (expected version {expected})") from exc
            if error_code(exc) in THROTTLED:  # botocore's own retries ran out: back off and try again
                raise WriteThrottled(f"write throttled ({error_code(exc)})") from exc
            raise
        return _kept(to_state(item), state)

    def _landed(self, events: Sequence[AuditEvent]) -> bool:
        """Whether a transaction whose outcome is unknown committed: its first event item is there."""
        if not events:
            return False
        item = event_item(events[0], self._events)
        response = self.table.client.get_item(
            TableName=self.table.name, Key=item_key(item.pk, item.sk), ConsistentRead=True, ProjectionExpression="PK"
        )
        return "Item" in response

    def save_many(self, changes: Sequence[tuple[NumberState, Sequence[AuditEvent]]]) -> None:
        """save() for several numbers in one transaction (a bulk import: at most 100 actions, so 50
        numbers with one event each); ConcurrentUpdate, with nothing written, if any version moved on."""
        try:
            with TransactWrite(connection=self.table.connection) as transaction:
                for state, events in changes:
                    item = to_item(state, self._states)
                    item.version = state.version + 1
                    condition = (
                        self._states.version == state.version
                        if state.version
                        else self._states.version.does_not_exist()
                    )
                    transaction.update(item, actions=self._owned_actions(item), condition=condition)
                    for event in events:
                        transaction.save(event_item(event, self._events), condition=self._events.pk.does_not_exist())
        except TransactWriteError as exc:
            if error_code(exc) in ("TransactionCanceledException", *THROTTLED):
                raise ConcurrentUpdate(f"bulk write refused ({error_code(exc)})") from exc
            raise

    def update(
        self, phone: str, decide: Callable[[NumberState], D], *, before_write: Callable[[D], None] | None = None
    ) -> Stored[D]:
        """Read, apply `decide(state)`, write; on a concurrent change read again and re-apply.

        `decide` is pure, so re-applying it to fresher state is safe. The result holds the stored state,
        the events written (none when nothing changed) and the decision that was applied.
        """
        for attempt in range(UPDATE_ATTEMPTS):
            state = self.get(phone)
            decision = decide(state)
            change = decision.change
            if not change.changed:
                return Stored(state, (), decision)
            if before_write is not None:
                before_write(decision)
            try:
                return Stored(self.save(change.state, change.events), change.events, decision)
            except ConcurrentUpdate as exc:
                if attempt == UPDATE_ATTEMPTS - 1:
                    if isinstance(exc, WriteThrottled):  # busy, not contended: a 503, not a 409
                        raise StoreUnavailable(str(exc)) from exc
                    raise
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    def history(self, phone: str, *, limit: int = 500) -> list[AuditEvent]:
        """The audit trail of a number, oldest first."""
        items = self._events.query(
            phone_key(phone), self._events.sk.startswith(EVENT_SK_PREFIX), scan_index_forward=True, limit=limit
        )
        return [event_from_item(item) for item in items]
