"""AWS faults under the API: DynamoDB throttling past botocore's retries, a 5xx, a connection that
cannot be made, injected with botocore's event system on the admin and sign-up functions' clients.
Every route answers 503 problem+json with Retry-After (never a 500), and nothing half-done shows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from tests.conftest import AwsStack, api_request, stores

PHONE = "+14155550123"


class _Http:
    headers: dict[str, str] = {}  # noqa: RUF012

    def __init__(self, status: int) -> None:
        self.status_code = status


def _refuse(code: str, status: int) -> Callable[..., Any]:
    def refuse(**_: Any) -> tuple[Any, dict[str, Any]]:
        error = {"Code": code, "Message": f"injected {code}"}
        return _Http(status), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}

    return refuse


def _unreachable(**_: Any) -> None:
    raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


FAULTS = {
    "throttled": _refuse("ThrottlingException", 400),
    "provisioned throughput": _refuse("ProvisionedThroughputExceededException", 400),
    "internal error": _refuse("InternalServerError", 500),
    "unreachable": _unreachable,
}


@pytest.fixture
def faulty_dynamodb(aws_stack: AwsStack) -> Iterator[Callable[[str], None]]:
    aws_stack.invoke("AdminApiFunction", api_request("GET", "/v1/blocklist"))  # builds every client it uses
    table = stores().numbers.table
    # The table's own client, and those pynamodb keeps per item type (queries go through them).
    clients = [table.client, *(model._get_connection().connection.client for model in table._models.values())]
    installed: list[Callable[..., Any]] = []

    def install(name: str) -> None:
        for client in clients:
            client.meta.events.register("before-call.dynamodb.*", FAULTS[name])
        installed.append(FAULTS[name])

    yield install
    for handler in installed:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb.*", handler)


def _call(stack: AwsStack, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response: dict[str, Any] = stack.invoke("AdminApiFunction", api_request(method, path, **kwargs))
    return response


ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", f"/v1/numbers/{PHONE}", {"resource": "/v1/numbers/{phone}", "path_parameters": {"phone": PHONE}}),
    (
        "PUT",
        f"/v1/numbers/{PHONE}/programs/alerts",
        {
            "resource": "/v1/numbers/{phone}/programs/{program}",
            "path_parameters": {"phone": PHONE, "program": "alerts"},
            "body": json.dumps({"status": "unsubscribed"}),
        },
    ),
    (
        "POST",
        "/v1/gate/check",
        {"body": json.dumps({"program": "alerts", "category": "marketing", "recipients": [PHONE], "body": "Hi"})},
    ),
    ("GET", "/v1/blocklist", {}),
    ("GET", "/v1/metrics", {"query": {"program": "alerts"}}),
]


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize(("method", "path", "kwargs"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_an_admin_route_answers_503_problem_json_when_dynamodb_fails(
    aws_stack: AwsStack, faulty_dynamodb: Callable[[str], None], fault: str, method: str, path: str, kwargs: Any
) -> None:
    faulty_dynamodb(fault)
    response = _call(aws_stack, method, path, **kwargs)
    body = json.loads(response["body"])
    if path == "/v1/gate/check" and response["statusCode"] == 200:
        # The check route fails closed in its answer instead: every recipient denied, saying why.
        assert [d["reason"] for d in body["decisions"]] == ["STATE_UNAVAILABLE"]
        return
    assert response["statusCode"] == 503, body
    headers = {
        **(response.get("headers") or {}),
        **{k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()},
    }
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "1"
    assert body["status"] == 503
    assert "try again" in body["detail"]


def test_a_status_change_that_hit_a_fault_changed_nothing(
    aws_stack: AwsStack, faulty_dynamodb: Callable[[str], None]
) -> None:
    method, path, kwargs = ROUTES[1]
    faulty_dynamodb("internal error")
    assert _call(aws_stack, method, path, **kwargs)["statusCode"] == 503
    fresh = boto3.client("dynamodb", region_name=aws_stack.region)  # a client without the fault
    items = fresh.query(
        TableName=aws_stack.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"PHONE#{PHONE}"}},
    )["Items"]
    assert items == []
