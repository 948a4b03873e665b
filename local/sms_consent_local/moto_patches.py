"""A patch of moto's DynamoDB TransactWriteItems, applied by the local stack and the tests.

Why: moto (5.2.5) deep-copies every table a transaction names before applying it, to roll back on
failure. The copy costs the whole table, stream records included, on every transaction: a local
sign-up slowed down as the table grew, a 10,000-row import took hours, and memory grew by gigabytes
during bursts. DynamoDB's own cost is the items a transaction touches, so this keeps copies of those
items only (and the length of each table's stream) and puts them back when the transaction fails.
Everything else (conditions, cancellation reasons, one action per item) is moto's own code, run
unchanged; only its `copy.deepcopy` of a Table is made a no-op while the transaction runs.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

_lock = threading.Lock()
_applied = False


@dataclass
class _Touched:
    table: Any  # moto Table
    hash_key: Any  # DynamoType
    range_key: Any | None
    before: Any | None  # a copy of the moto Item, or None when absent


class _TablesNotCopied:
    """Stands in for the `copy` module inside moto's transact_write_items: Tables are not copied."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> tuple[list[_Touched], dict[str, int]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    touched: list[_Touched] = []
    streams: dict[str, int] = {}
    for action in transact_items:
        try:
            _, operation = next(iter(action.items()))
            table = backend.tables[operation["TableName"]]
            key = operation.get("Key") or {
                name: operation["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
            }
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (KeyError, StopIteration, TypeError, AttributeError):
            continue  # moto itself refuses this action below, before applying anything
        current = table.get_item(hash_key, range_key) if (range_key is not None or not table.has_range_key) else None
        touched.append(_Touched(table, hash_key, range_key, copy.deepcopy(current)))
        if table.stream_shard is not None:
            streams.setdefault(table.name, len(table.stream_shard.items))
    return touched, streams


def _restore(backend: Any, touched: list[_Touched], streams: dict[str, int]) -> None:
    for item in reversed(touched):
        items = item.table.items
        if item.range_key is None:
            if item.before is None:
                items.pop(item.hash_key, None)
            else:
                items[item.hash_key] = item.before
        elif item.before is None:
            items.get(item.hash_key, {}).pop(item.range_key, None)
        else:
            items.setdefault(item.hash_key, {})[item.range_key] = item.before
    for name, length in streams.items():
        shard = backend.tables[name].stream_shard
        del shard.items[length:]  # the failed transaction's stream records never happened


def apply() -> None:
    """Patch moto's DynamoDBBackend.transact_write_items (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        import moto.dynamodb.models as models

        original = models.DynamoDBBackend.transact_write_items

        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            touched, streams = _touched(self, transact_items)
            setattr(models, "copy", _TablesNotCopied)  # noqa: B010 (a module attribute mypy cannot see)
            try:
                original(self, transact_items)
            except Exception:
                _restore(self, touched, streams)
                raise
            finally:
                setattr(models, "copy", copy)  # noqa: B010

        models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _applied = True
