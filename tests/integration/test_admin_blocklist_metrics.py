"""Blocklist and metrics routes through a Powertools resolver, DynamoDB and EventBridge on moto."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from sms_consent import consent, wiring
from sms_consent.api import blocklist_routes, metrics_routes, problems
from sms_consent_local.harness import LambdaContext
from tests.conftest import AwsStack, api_request, stores

CONTEXT = LambdaContext("AdminApiFunction")


@pytest.fixture
def call(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The routes run in this process, as the admin function would: with its environment.
    for name, value in aws_stack.runner.env["AdminApiFunction"].items():
        monkeypatch.setenv(name, value)
    wiring.reset()
    app = problems.resolver("*")  # the resolver the admin function uses: validation errors are 400s
    app.include_router(blocklist_routes.router)
    app.include_router(metrics_routes.router)

    def _call(method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        aws_stack.deliver_stream()  # metrics are folded from the stream: as if its consumer had run by now
        response = app.resolve(api_request(method, path, **kwargs), CONTEXT)  # type: ignore[arg-type]
        body = response.get("body") or ""
        headers = {
            **(response.get("headers") or {}),
            **{k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()},
        }
        parsed = json.loads(body) if headers.get("Content-Type", "").startswith("application/json") and body else body
        return response["statusCode"], parsed, headers

    return _call


def test_put_search_delete(call: Any, aws_stack: AwsStack) -> None:
    status, body, _ = call(
        "PUT",
        "/v1/blocklist/(415) 555-0123",
        resource="/v1/blocklist/{phone}",
        path_parameters={"phone": "(415) 555-0123"},
        body=json.dumps({"type": 3, "reason": "abuse", "text": "STOP IT"}),
    )
    assert status == 200
    assert body["phone"] == "+14155550123"
    assert body["type"] == 3
    assert stores().numbers.get("+14155550123").block is not None
    assert [e["detail-type"] for e in aws_stack.bus_events()] == ["NumberBlocked"]

    status, page, _ = call("GET", "/v1/blocklist", query={"type": "all", "text": "stop"})
    assert status == 200
    assert [item["phone"] for item in page["items"]] == ["+14155550123"]

    status, _, _ = call(
        "DELETE",
        "/v1/blocklist/+14155550123",
        resource="/v1/blocklist/{phone}",
        path_parameters={"phone": "+14155550123"},
    )
    assert status == 204
    assert stores().numbers.get("+14155550123").block is None
    assert [e["detail-type"] for e in aws_stack.bus_events()] == ["NumberUnblocked"]


def test_import_and_export_csv(call: Any) -> None:
    csv_text = "Mobile Number,Block Type\n3047587789,1\nnonsense,2\n2098767788,2\n"
    status, body, _ = call("POST", "/v1/blocklist/import", body=csv_text, headers={"Content-Type": "text/csv"})
    assert status == 200
    assert body["imported"] == 2
    assert body["rejected"][0]["line"] == 3
    status, exported, headers = call("GET", "/v1/blocklist/export", query={"type": "2"})
    assert status == 200
    assert headers["Content-Type"] == "text/csv"
    assert exported.splitlines()[1].startswith("+12098767788,2")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/v1/blocklist", {"query": {"type": "sideways"}}),
        ("GET", "/v1/blocklist", {"query": {"phone_prefix": "abc"}}),
        ("GET", "/v1/blocklist", {"query": {"cursor": "%%%"}}),
        ("GET", "/v1/blocklist", {"query": {"date_from": "2026-11-01T00:00:00"}}),
        ("POST", "/v1/blocklist/import", {"body": "a,b", "headers": {"Content-Type": "application/json"}}),
        (
            "PUT",
            "/v1/blocklist/garbage",
            {"resource": "/v1/blocklist/{phone}", "path_parameters": {"phone": "garbage"}, "body": '{"type": 1}'},
        ),
        ("GET", "/v1/metrics", {"query": {"program": "alerts", "from": "2026-11-02", "to": "2026-11-01"}}),
    ],
)
def test_bad_requests_answer_400(call: Any, method: str, path: str, kwargs: dict[str, Any]) -> None:
    status, _, _ = call(method, path, **kwargs)
    assert status == 400


@pytest.mark.parametrize(
    "body", ['{"type": 9}', "not json", '{"type": 1, "extra": true}', json.dumps({"type": 1, "text": "x" * 5000})]
)
def test_invalid_block_bodies_are_rejected_not_crashed(call: Any, body: str) -> None:
    status, _, _ = call(
        "PUT",
        "/v1/blocklist/+14155550123",
        resource="/v1/blocklist/{phone}",
        path_parameters={"phone": "+14155550123"},
        body=body,
    )
    assert 400 <= status < 500


def test_metrics_follow_consent_changes(call: Any) -> None:
    now = wiring.utc_now()
    for phone in ("+14155550123", "+14155550124"):
        stores().numbers.update(
            phone,
            lambda s, p=phone: consent.request_confirmation(  # type: ignore[misc]
                s,
                "alerts",
                source="web_form",
                at=now,
                now=now,
                window=timedelta(days=30),
                prompt_request_id=p,
                evidence={},
            ),
        )
    stores().numbers.update(
        "+14155550123", lambda s: consent.grant(s, "alerts", source="keyword", at=now, now=now, evidence={})
    )
    status, body, _ = call("GET", "/v1/metrics", query={"program": "alerts"})
    assert status == 200
    assert (body["prompts"], body["confirmations"], body["opt_ins"], body["subscribers"]) == (2, 1, 1, 1)
    assert body["double_opt_in_conversion"] == 0.5
    stores().numbers.update(
        "+14155550123", lambda s: consent.revoke(s, "alerts", source="keyword", at=now, now=now, evidence={})
    )
    _, body, _ = call("GET", "/v1/metrics", query={"program": "alerts"})
    assert (body["opt_outs"], body["subscribers"]) == (1, 0)
    status, _, _ = call("GET", "/v1/metrics", query={"program": "nope"})
    assert status == 404


def test_metrics_written_before_the_sharding_are_still_counted(call: Any, aws_stack: AwsStack) -> None:
    import boto3

    today = wiring.utc_now().date().isoformat()
    client = boto3.client("dynamodb", region_name=aws_stack.region)
    for sk, attributes in (("TOTAL", {"subscribers": {"N": "5"}}), (f"DAY#{today}", {"opt_ins": {"N": "2"}})):
        client.put_item(
            TableName=aws_stack.table_name, Item={"PK": {"S": "METRICS#alerts"}, "SK": {"S": sk}, **attributes}
        )
    stores().numbers.update(
        "+14155550123",
        lambda s: consent.grant(s, "alerts", source="import", at=wiring.utc_now(), now=wiring.utc_now(), evidence={}),
    )
    status, body, _ = call("GET", "/v1/metrics", query={"program": "alerts"})
    assert status == 200
    assert (body["opt_ins"], body["subscribers"]) == (3, 6)
