"""A patch of moto's DynamoDB TransactWriteItems, applied by the local stack and the tests.

Why: moto (5.2.5) deep-copies every table a transaction names before applying it, to roll back on
failure. The copy costs the whole table, stream records included, on every transaction: a local
sign-up slowed down as the table grew, a 10,000-row import took hours, and memory grew by gigabytes
during bursts. DynamoDB's own cost is the items a transaction touches, so this keeps copies of those
items only (and the length of each table's stream) and puts them back when the transaction fails.
Everything else (conditions, cancellation reasons, one action per item) is moto's own code, run
unchanged; only its `copy.deepcopy` of a Table is made a no-op while a patched transaction runs
(per thread). Checked against moto 5.2.5; `apply()` leaves a moto whose method reads otherwise unpatched, with
a warning (its rollback may no longer be a copy of the tables).
"""

from __future__ import annotations

import copy
import functools
import inspect
import threading
import warnings
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


class _Inside(threading.local):
    transaction = False  # this thread is inside a patched transact_write_items


_inside = _Inside()


class _TablesNotCopied:
    """Stands in for the `copy` module in moto.dynamodb.models (installed once, not per call, so
    concurrent threads never see it switch): inside a patched transaction a Table is not copied;
    everything else, and everywhere else, is copied as moto asked."""

    copy = staticmethod(copy.copy)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if _inside.transaction and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


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


# moto's rollback, as this patch relies on it: copies of the tables taken up front, put back on failure.
_EXPECTED = (
    "original_table_state[table_name] = copy.deepcopy(",
    "self.tables[table_name] = original_table_state[table_name]",
)


def _recognised(method: Any) -> bool:
    try:
        source = inspect.getsource(method)
    except (OSError, TypeError):
        return False
    flat = " ".join(source.split()).replace("( ", "(")
    return all(" ".join(line.split()) in flat for line in _EXPECTED)


def _cache_module_list() -> None:
    """moto's server asks, for every request, whether the host names one of its modules, and answers
    by listing its package folder (a listdir and ~150 isdir calls per request: the largest share of
    the emulator's time in a local sign-up burst). The list cannot change while moto runs: listed once."""
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules  # the server looks it up on the module per request


def apply() -> None:
    """Patch moto's DynamoDBBackend.transact_write_items and its server's module list (idempotent)."""
    global _applied
    with _lock:
        if _applied:
            return
        _cache_module_list()
        import moto.dynamodb.models as models

        original = models.DynamoDBBackend.transact_write_items
        if not _recognised(original):
            warnings.warn(
                "moto's DynamoDB transact_write_items is not the one sms_consent_local.moto_patches knows "
                "(a deep copy of each table, restored on failure): left unpatched",
                stacklevel=2,
            )
            _applied = True
            return

        @functools.wraps(original)  # keeps moto's method as __wrapped__ (the bench compares the two)
        def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
            touched, streams = _touched(self, transact_items)
            _inside.transaction = True
            try:
                original(self, transact_items)
            except Exception:
                _restore(self, touched, streams)
                raise
            finally:
                _inside.transaction = False

        setattr(models, "copy", _TablesNotCopied)  # noqa: B010 (a module attribute mypy cannot see)
        models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
        _applied = True
