"""moto's TransactWriteItems, patched to copy the items a transaction touches instead of its tables
(local/sms_consent_local/moto_patches.py): the same outcomes, at a cost that no longer grows with
the table. Counted, not timed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sms_consent_local import moto_patches

TABLE = "patched"


@pytest.fixture
def client() -> Iterator[Any]:
    moto_patches.apply()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        dynamodb.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
        yield dynamodb


def _key(pk: str) -> dict[str, Any]:
    return {"PK": {"S": pk}, "SK": {"S": "STATE"}}


def _put(pk: str, **attributes: str) -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": {**_key(pk), **{k: {"S": v} for k, v in attributes.items()}}}}


def _update(pk: str, value: str, *, condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": TABLE,
        "Key": _key(pk),
        "UpdateExpression": "SET v = :v",
        "ExpressionAttributeValues": {":v": {"S": value}},
    }
    if condition:
        update["ConditionExpression"] = condition
    return {"Update": update}


def _items(client: Any) -> dict[str, dict[str, Any]]:
    return {item["PK"]["S"]: item for item in client.scan(TableName=TABLE)["Items"]}


def _stream_records(client: Any) -> int:
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE].stream_shard
    assert shard is not None
    return len(shard.items)


def test_a_failed_transaction_leaves_every_item_and_the_stream_as_they_were(client: Any) -> None:
    client.put_item(TableName=TABLE, Item={**_key("a"), "v": {"S": "old"}})
    before, records = _items(client), _stream_records(client)
    with pytest.raises(ClientError) as failed:
        client.transact_write_items(
            TransactItems=[
                _update("a", "new"),  # applied first, then undone
                _put("b", v="created"),  # created, then removed
                _update("c", "x", condition="attribute_exists(PK)"),  # fails: c does not exist
            ]
        )
    assert failed.value.response["Error"]["Code"] == "TransactionCanceledException"
    reasons = [reason["Code"] for reason in failed.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "ConditionalCheckFailed"]
    assert _items(client) == before
    assert _stream_records(client) == records  # no record of changes that never committed


def test_a_transaction_that_succeeds_applies_every_action_and_streams_them(client: Any) -> None:
    client.put_item(TableName=TABLE, Item={**_key("a"), "v": {"S": "old"}})
    records = _stream_records(client)
    client.transact_write_items(
        TransactItems=[_update("a", "new", condition="attribute_exists(PK)"), _put("b", v="created")]
    )
    items = _items(client)
    assert (items["a"]["v"]["S"], items["b"]["v"]["S"]) == ("new", "created")
    assert _stream_records(client) == records + 2


def test_two_actions_on_one_item_are_refused_and_undone(client: Any) -> None:
    with pytest.raises(ClientError) as failed:
        client.transact_write_items(TransactItems=[_put("a", v="1"), _update("a", "2")])
    assert failed.value.response["Error"]["Code"] == "ValidationException"
    assert _items(client) == {}


@pytest.mark.parametrize("size", [10, 1000])
def test_a_transaction_copies_the_items_it_touches_whatever_the_table_holds(
    client: Any, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    from moto.dynamodb.models.table import Table

    for index in range(size):
        client.put_item(TableName=TABLE, Item={**_key(f"filler-{index}"), "v": {"S": "x"}})
    copied: list[str] = []
    import copy

    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        copied.append(type(value).__name__)
        assert not isinstance(value, Table), "a whole table was copied"
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)  # moto's copies and the patch's go through it
    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[_put("b", v="1"), _update("c", "x", condition="attribute_exists(PK)")]
        )
    assert len(copied) <= 4  # the two touched items (and moto's copy of an item it updates), at any size
