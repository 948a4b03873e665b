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


def _create_with_index(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"} for name in ("PK", "SK", "GSI1PK", "GSI1SK")
        ],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "KeySchema": [
                    {"AttributeName": "GSI1PK", "KeyType": "HASH"},
                    {"AttributeName": "GSI1SK", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


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


# ---------------------------------------------------------------------- the same outcomes as moto's own


def _indexed(pk: str, listed: str | None) -> dict[str, Any]:
    item: dict[str, Any] = {**_key(pk), "v": {"S": pk}}
    if listed:
        item.update({"GSI1PK": {"S": "BLOCKLIST"}, "GSI1SK": {"S": listed}})
    return {"Put": {"TableName": TABLE, "Item": item}}


def _absent(pk: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "TableName": TABLE,
            "Key": _key(pk),
            "ConditionExpression": "attribute_not_exists(PK)",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


# Transactions run in this order on a table with a global secondary index, once with moto as it ships
# and once patched; every outcome and the table, its index and its stream after each must agree.
SCENARIOS: list[list[dict[str, Any]]] = [
    [_indexed("a", "1"), _indexed("b", None)],  # succeeds: a enters the index
    [_indexed("c", "2"), _update("b", "x"), _absent("a")],  # cancelled: c never indexed, b unchanged
    [{"Delete": {"TableName": TABLE, "Key": _key("a")}}, _update("d", "y", condition="attribute_exists(PK)")],
    [{"Delete": {"TableName": TABLE, "Key": _key("a")}}, _update("b", "z", condition="v = :v")],  # :v is z
    [_indexed("e", "3"), _indexed("e", "4")],  # two actions on one item: refused
    [_indexed("f", "5"), {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "g"}}}}],  # no sort key: refused
    [_update("b", "w", condition="attribute_exists(PK)"), {"Delete": {"TableName": TABLE, "Key": _key("a")}}],
    [{"Put": {"TableName": "missing", "Item": _key("h")}}, _indexed("h", "6")],  # unknown table
]


def _outcomes(dynamodb: Any) -> list[Any]:
    from moto.dynamodb.models import dynamodb_backends

    observed: list[Any] = []
    for transaction in SCENARIOS:
        try:
            dynamodb.transact_write_items(TransactItems=transaction)
            outcome: Any = "ok"
        except ClientError as exc:
            error = exc.response["Error"]
            outcome = (error["Code"], error.get("Message"), exc.response.get("CancellationReasons"))
        index = dynamodb.query(
            TableName=TABLE,
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :b",
            ExpressionAttributeValues={":b": {"S": "BLOCKLIST"}},
        )["Items"]
        # Looked up each time: moto's own rollback puts a copy of the table (and its stream) in its place.
        shard = dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE].stream_shard
        assert shard is not None
        records = [(record.record["eventName"], record.record["dynamodb"]["Keys"]) for record in shard.items]
        observed.append((outcome, sorted(map(str, _items(dynamodb).values())), index, records))
    return observed


def test_every_outcome_matches_moto_as_it_ships(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb import models

    moto_patches.apply()
    patched = models.DynamoDBBackend.transact_write_items
    results = []
    for method in (patched.__wrapped__, patched):  # type: ignore[attr-defined]
        monkeypatch.setattr(models.DynamoDBBackend, "transact_write_items", method)
        with mock_aws():
            dynamodb = boto3.client(
                "dynamodb", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
            )
            _create_with_index(dynamodb)
            results.append(_outcomes(dynamodb))
    shipped, ours = results
    assert [outcome for outcome, *_ in shipped][:3] == ["ok", shipped[1][0], shipped[2][0]]
    assert shipped[1][0][0] == "TransactionCanceledException"  # the scenarios do exercise a rollback
    assert ours == shipped


def test_a_cancellation_reason_carries_the_old_item_when_asked(client: Any) -> None:
    client.put_item(TableName=TABLE, Item={**_key("a"), "v": {"S": "old"}})
    with pytest.raises(ClientError) as failed:
        client.transact_write_items(TransactItems=[_put("b", v="1"), _absent("a")])
    reasons = failed.value.response["CancellationReasons"]
    assert reasons[1]["Code"] == "ConditionalCheckFailed"
    assert reasons[1]["Item"] == {**_key("a"), "v": {"S": "old"}}
    assert set(_items(client)) == {"a"}


def test_the_servers_module_list_is_moto_s_own_listed_once() -> None:
    import os

    import moto
    from moto import backends

    moto_patches.apply()
    folder = os.path.dirname(moto.__file__)
    listed = sorted(n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n)) and not n.startswith("__"))
    assert list(backends.list_of_moto_modules()) == listed
    assert "dynamodb" in backends.list_of_moto_modules()  # the server's membership test
