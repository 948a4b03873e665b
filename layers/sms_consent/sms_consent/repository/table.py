"""The single table: the item types' common base, one `Table` per deployed table, one batch reader.

Keys are overloaded strings (`PK`, `SK`); two sparse GSIs serve the access patterns that are not by
number. The table's definition in `template.yaml` is the source of truth; these classes mirror it.
Item types are declared once, unbound; `Table.model` gives the same type bound to a real table, so
that every store is handed its table instead of reading a global.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from sms_consent.ports import StoreUnavailable

TTL_ATTRIBUTE = "ttl"
BATCH_GET_LIMIT = 100
BATCH_GET_ATTEMPTS = 6

Key = dict[str, dict[str, str]]

# Errors that mean "too busy now", once botocore's own retries ran out: back off and try again.
THROTTLED = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
    }
)


class Gsi1(GlobalSecondaryIndex[Any]):
    """By kind and time: blocklist entries by date, profiles by number."""

    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


class Gsi2(GlobalSecondaryIndex[Any]):
    """By program and status: subscriber lists and counts."""

    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class TableItem(Model):
    """Base of every item type. Unbound: use `Table.model(ItemType)` to read or write."""

    class Meta:
        table_name = "unbound"  # never used: Table.model binds a subclass to the real table
        max_retry_attempts = 3

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    # Epoch seconds; DynamoDB deletes the item some time after it (late: code must not rely on it).
    ttl = NumberAttribute(null=True, attr_name=TTL_ATTRIBUTE)


@dataclass
class Increment:
    """What an UpdateItem adds to one item: numbers (ADD), string-set members (ADD) and plain values (SET)."""

    adds: Counter[str] = field(default_factory=Counter)
    members: dict[str, set[str]] = field(default_factory=dict)
    sets: dict[str, Any] = field(default_factory=dict)  # attribute -> AttributeValue
    initial: dict[str, Any] = field(default_factory=dict)  # set only where the item has none yet

    @property
    def empty(self) -> bool:
        return not any(self.adds.values()) and not self.members and not self.sets and not self.initial

    def merge(self, other: Increment) -> None:
        self.adds.update(other.adds)
        for name, values in other.members.items():
            self.members.setdefault(name, set()).update(values)
        self.sets.update(other.sets)
        for name, value in other.initial.items():
            self.initial.setdefault(name, value)  # the earliest of the run

    def update_expression(self) -> tuple[str, dict[str, str], dict[str, Any]]:
        """UpdateExpression, ExpressionAttributeNames and ExpressionAttributeValues."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        adds: list[str] = []
        for index, (name, amount) in enumerate((n, a) for n, a in self.adds.items() if a):
            names[f"#a{index}"], values[f":a{index}"] = name, {"N": str(amount)}
            adds.append(f"#a{index} :a{index}")
        for index, (name, members) in enumerate(self.members.items()):
            names[f"#m{index}"], values[f":m{index}"] = name, {"SS": sorted(members)}
            adds.append(f"#m{index} :m{index}")
        assignments = []
        for index, (name, value) in enumerate(self.sets.items()):
            names[f"#s{index}"], values[f":s{index}"] = name, value
            assignments.append(f"#s{index} = :s{index}")
        for index, (name, value) in enumerate(self.initial.items()):
            names[f"#i{index}"], values[f":i{index}"] = name, value
            assignments.append(f"#i{index} = if_not_exists(#i{index}, :i{index})")
        expression = ("ADD " + ", ".join(adds) if adds else "") + (
            (" " if adds else "") + "SET " + ", ".join(assignments) if assignments else ""
        )
        return expression, names, values


def item_key(pk: str, sk: str) -> Key:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


class Table:
    """One deployed table: its name, its connection, and its item types bound to it."""

    def __init__(self, name: str, region: str) -> None:
        self.name = name
        self.region = region
        self._models: dict[type[TableItem], type[TableItem]] = {}

    @cached_property
    def connection(self) -> Connection:
        """Transactions need a pynamodb connection; made once per table."""
        return Connection(region=self.region)

    @property
    def client(self) -> Any:
        """The botocore DynamoDB client, for the requests pynamodb has no model for."""
        return self.connection.client

    def model[T: TableItem](self, item_type: type[T]) -> type[T]:
        """`item_type` bound to this table (a subclass made once; pynamodb copies its indexes)."""
        bound = self._models.get(item_type)
        if bound is None:
            meta = type("Meta", (item_type.Meta,), {"table_name": self.name, "region": self.region})
            bound = type(item_type.__name__, (item_type,), {"Meta": meta, "__module__": item_type.__module__})
            self._models[item_type] = bound
        return bound  # type: ignore[return-value]

    def batch_get(self, keys: Sequence[Key], *, attempts: int = BATCH_GET_ATTEMPTS) -> dict[tuple[str, str], Any]:
        """Items by (PK, SK): BatchGetItem, 100 keys a call, consistent; unprocessed keys retried with
        backoff. Raises StoreUnavailable when keys remain unprocessed: "could not read" is never "absent"."""
        found: dict[tuple[str, str], Any] = {}
        unique = list({(k["PK"]["S"], k["SK"]["S"]): k for k in keys}.values())
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            pending: list[Key] = unique[start : start + BATCH_GET_LIMIT]
            for attempt in range(attempts):
                response = self.client.batch_get_item(
                    RequestItems={self.name: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in response.get("Responses", {}).get(self.name, []):
                    found[(raw["PK"]["S"], raw["SK"]["S"])] = raw
                pending = response.get("UnprocessedKeys", {}).get(self.name, {}).get("Keys", [])
                if not pending:
                    break
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
            if pending:
                raise StoreUnavailable(f"{len(pending)} items stayed unprocessed after {attempts} attempts")
        return found


def error_code(error: BaseException | None) -> str:
    """The DynamoDB error code of a botocore ClientError, or of the one a pynamodb error wraps (empty
    for anything else: pynamodb's own `cause_response_code` raises when the cause was a lost connection)."""
    cause = getattr(error, "cause", None)
    if cause is not None and cause is not error:
        return error_code(cause)
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
