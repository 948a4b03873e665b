"""Count AWS requests by service and operation with a botocore event hook (for benches and tests)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

_counts: Counter[str] = Counter()
_installed = False


def _count(model: Any = None, **_: Any) -> None:
    if model is not None:
        _counts[f"{model.service_model.service_name}.{model.name}"] += 1


def install() -> None:
    """Hook every botocore client created from now on (as moto does); call before clients exist."""
    global _installed
    if _installed:
        return
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-call.*.*", _count))
    _installed = True


@contextmanager
def _growth(counts: Counter[str]) -> Iterator[Counter[str]]:
    """What `counts` gains while the block runs."""
    start = Counter(counts)
    result: Counter[str] = Counter()
    try:
        yield result
    finally:
        result.update(counts - start)


def counting() -> AbstractContextManager[Counter[str]]:
    """The requests made inside the block, by "service.Operation"."""
    install()
    return _growth(_counts)


def total(counts: Counter[str], service: str) -> int:
    return sum(value for key, value in counts.items() if key.startswith(f"{service}."))


# ---------------------------------------------------------------------- written partition keys (hot-key audit)

_writes: Counter[str] = Counter()
_INDEX_KEYS = {"GSI1PK": "GSI1", "GSI2PK": "GSI2"}
_ASSIGNMENT = re.compile(r"(#\w+)\s*=\s*(:\w+)")


def _keys_of_item(item: dict[str, Any]) -> list[str]:
    found = [f"PK {item['PK']['S']}"] if "PK" in item else []
    found += [f"{index} {item[name]['S']}" for name, index in _INDEX_KEYS.items() if name in item]
    return found


def _keys_of_update(update: dict[str, Any]) -> list[str]:
    found = [f"PK {update['Key']['PK']['S']}"]
    names = update.get("ExpressionAttributeNames", {})
    values = update.get("ExpressionAttributeValues", {})
    for name, value in _ASSIGNMENT.findall(update.get("UpdateExpression", "")):
        index = _INDEX_KEYS.get(names.get(name, ""))
        if index and "S" in values.get(value, {}):
            found.append(f"{index} {values[value]['S']}")
    return found


def written_keys_of(operation: str, params: dict[str, Any]) -> list[str]:
    """The partition keys (base table and GSIs) one DynamoDB write request writes, one entry per item."""
    if operation == "PutItem":
        return _keys_of_item(params["Item"])
    if operation == "UpdateItem":
        return _keys_of_update(params)
    if operation == "DeleteItem":
        return [f"PK {params['Key']['PK']['S']}"]
    if operation == "TransactWriteItems":
        found: list[str] = []
        for action in params.get("TransactItems", []):
            if "Put" in action:
                found += _keys_of_item(action["Put"]["Item"])
            elif "Update" in action:
                found += _keys_of_update(action["Update"])
            elif "Delete" in action:
                found.append(f"PK {action['Delete']['Key']['PK']['S']}")
        return found
    if operation == "BatchWriteItem":
        return [
            key
            for requests in params.get("RequestItems", {}).values()
            for request in requests
            for key in (
                _keys_of_item(request["PutRequest"]["Item"])
                if "PutRequest" in request
                else [f"PK {request['DeleteRequest']['Key']['PK']['S']}"]
            )
        ]
    return []


def _record_writes(params: dict[str, Any], model: Any = None, **_: Any) -> None:
    if model is not None and model.service_model.service_name == "dynamodb":
        _writes.update(written_keys_of(model.name, params))


def install_write_audit() -> None:
    """Record the partition keys of every DynamoDB write from clients created from now on."""
    from botocore.handlers import BUILTIN_HANDLERS

    entry = ("before-parameter-build.dynamodb.*", _record_writes)
    if entry not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(entry)


def writing() -> AbstractContextManager[Counter[str]]:
    """The items written inside the block, by partition key ("PK <value>", "GSI1 <value>", ...)."""
    install_write_audit()
    return _growth(_writes)


def hottest(written: Counter[str], top: int = 3) -> list[tuple[str, float]]:
    """The keys with the largest share of the writes, each with its share."""
    total = sum(written.values()) or 1
    return [(key, count / total) for key, count in written.most_common(top)]


# ---------------------------------------------------------------------- whole requests (capacity model)

_requests: list[tuple[str, str, dict[str, Any]]] = []
_recording = 0


def _record_request(params: dict[str, Any], model: Any = None, **_: Any) -> None:
    if _recording and model is not None:
        _requests.append((model.service_model.service_name, model.name, params))


@contextmanager
def requests() -> Iterator[list[tuple[str, str, dict[str, Any]]]]:
    """Every request made inside the block: (service, operation, parameters)."""
    global _recording
    from botocore.handlers import BUILTIN_HANDLERS

    entry = ("before-parameter-build.*.*", _record_request)
    if entry not in BUILTIN_HANDLERS:
        BUILTIN_HANDLERS.append(entry)
    start = len(_requests)
    found: list[tuple[str, str, dict[str, Any]]] = []
    _recording += 1
    try:
        yield found
    finally:
        _recording -= 1
        found.extend(_requests[start:])
        if not _recording:
            _requests.clear()
