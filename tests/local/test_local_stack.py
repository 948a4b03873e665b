"""The local stack's own tooling, as a newcomer uses it: `make run`'s command, the `sms` command, the API
server's keys and CORS, its schedules and dead letters."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CLI, RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e


def test_outputs_have_the_template_keys(local_stack: RunningStack) -> None:
    for key in (
        "ApiUrl",
        "InboundSmsTopicArn",
        "OutboundRequestsTopicArn",
        "ConsentTableName",
        "EventBusName",
        "ApiKeyId",
        "ApiKey",
        "AwsEndpointUrl",
    ):
        assert local_stack.outputs[key], key
    tables = local_stack.client("dynamodb").list_tables()["TableNames"]
    assert local_stack.outputs["ConsentTableName"] in tables


def test_sms_command_prints_the_help_reply(local_stack: RunningStack) -> None:
    result = subprocess.run(
        [str(CLI), "--workdir", str(local_stack.workdir), "sms", "+14155550123", "HELP", "--to", "+18005550100"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "support@example.com" in result.stdout
    assert "compliance_reply" in result.stdout
    (line,) = [
        entry
        for entry in local_stack.outbox_lines()
        if entry["to"] == "+14155550123" and entry["category"] == "compliance_reply"
    ][-1:]
    assert set(line) >= {"to", "from", "body", "media_urls", "category", "request_id", "sent_at"}


def test_admin_routes_need_the_api_key(local_stack: RunningStack) -> None:
    assert local_stack.api("GET", "/v1/blocklist", key=False).status_code == 403
    assert local_stack.api("GET", "/v1/blocklist", headers={"x-api-key": "wrong"}, key=False).status_code == 403
    response = local_stack.api("GET", "/v1/blocklist")
    assert response.status_code == 200
    assert set(response.json()) == {"items", "cursor"}  # other tests on the shared stack may have blocked some


def test_unknown_route_and_bad_input_get_clear_errors(local_stack: RunningStack) -> None:
    unknown = local_stack.api("GET", "/v1/nope")  # API Gateway's own answer, shaped by the template
    assert unknown.status_code == 403
    assert unknown.headers["Content-Type"] == "application/problem+json"
    assert unknown.json() == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "Missing Authentication Token",
    }
    response = local_stack.api("GET", "/v1/blocklist", params={"type": "sideways"})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "sideways" in response.json()["detail"]


def _admin_routes() -> list[tuple[str, str]]:
    from sms_consent_local.template import load_template

    template = load_template(Path(__file__).resolve().parents[2] / "template.yaml")
    return sorted(
        (route.method, route.path.replace("{phone}", "+14155550123").replace("{program}", "alerts").replace(
            "{user_id}", "u-1"))
        for route in template.api_routes()
        if route.api_key_required
    )  # fmt: skip


@pytest.mark.parametrize("key", [None, "not-the-key"])
def test_every_admin_route_refuses_a_missing_or_wrong_key_with_a_403_problem(
    local_stack: RunningStack, key: str | None
) -> None:
    routes = _admin_routes()
    assert len(routes) >= 10  # every admin route of the template, none forgotten
    headers = {"x-api-key": key} if key else {}
    for method, path in routes:
        response = local_stack.api(method, path, key=False, headers=headers, json={})
        assert response.status_code == 403, (method, path)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["detail"] == "Forbidden"


def test_cors_preflight_and_response_headers(local_stack: RunningStack) -> None:
    origin = {"Origin": "http://localhost:8080"}
    preflight = local_stack.api("OPTIONS", "/v1/optins", key=False, headers=origin)
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] in ("*", "http://localhost:8080")
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = local_stack.api("GET", "/v1/blocklist", headers=origin)
    assert response.headers.get("Access-Control-Allow-Origin") in ("*", "http://localhost:8080")


def test_lint_command(tmp_path: Path) -> None:
    ok = subprocess.run([str(CLI), "lint"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    assert "OK" in ok.stdout
    bad = tmp_path / "programs.yaml"
    bad.write_text(json.dumps({"senders": [{"number": "12", "programs": ["x"]}], "programs": {}}))
    failed = subprocess.run([str(CLI), "lint", str(bad)], capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert str(bad) in failed.stderr


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_ctrl_c_stops_cleanly_and_frees_the_ports(tmp_path: Path) -> None:
    stack = start_stack(tmp_path)
    ports = [port_of(stack.api_url), port_of(stack.endpoint)]
    assert stop_stack(stack) == 0
    for port in ports:
        with socket.socket() as probe:
            # SO_REUSEADDR: connections closed a moment ago may linger in TIME_WAIT; a listener may not.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))  # raises if the port were still held
            probe.listen()


def test_pumping_alerts_on_the_bus_reach_the_alert_topic(local_stack: RunningStack) -> None:
    probe = local_stack.subscribe_probe(local_stack.outputs["AlertTopicArn"])
    detail = {"phone": "+14155550123", "rule": "range_sweep", "timestamp": "2026-11-23T12:00:00Z"}
    local_stack.client("events").put_events(
        Entries=[
            {
                "Source": "sms-consent",
                "DetailType": "TrafficPumpingSuspected",
                "Detail": json.dumps(detail),
                "EventBusName": local_stack.outputs["EventBusName"],
            }
        ]
    )
    (message,) = local_stack.receive(probe)
    event = json.loads(json.loads(message["Body"])["Message"])
    assert event["detail-type"] == "TrafficPumpingSuspected"
    assert event["detail"] == detail


def test_a_schedule_fires_on_demand(local_stack: RunningStack) -> None:
    def schedule(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), "--workdir", str(local_stack.workdir), "schedule", name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    fired = schedule("PumpingDetectorFunction")
    assert fired.returncode == 0, fired.stderr
    assert json.loads(fired.stdout)["ok"] is True
    unknown = schedule("NoSuchFunction")
    assert unknown.returncode == 1
    assert "PumpingDetectorFunction" in unknown.stderr  # says which schedules exist


def test_sms_answers_the_last_message_like_end_user_messaging(local_stack: RunningStack) -> None:
    """The payload carries previousPublishedMessageId = the last message the sender sent the handset."""
    phone = "+14155550166"
    probe = local_stack.subscribe_probe(local_stack.outputs["InboundSmsTopicArn"])
    base = [str(CLI), "--workdir", str(local_stack.workdir), "sms", phone]
    subprocess.run([*base, "HELP"], capture_output=True, text=True, timeout=60, check=True)
    (help_reply,) = [line for line in local_stack.outbox_lines() if line["to"] == phone]
    subprocess.run([*base, "thanks", "--wait", "1"], capture_output=True, text=True, timeout=60, check=False)
    payloads = [json.loads(json.loads(m["Body"])["Message"]) for m in local_stack.receive(probe)]
    payloads += [json.loads(json.loads(m["Body"])["Message"]) for m in local_stack.receive(probe, timeout=2)]
    by_text = {payload["messageBody"]: payload for payload in payloads}
    assert by_text["HELP"]["previousPublishedMessageId"] == ""
    assert by_text["thanks"]["previousPublishedMessageId"] == help_reply["message_id"]
    assert set(by_text["thanks"]) == {
        "originationNumber",
        "destinationNumber",
        "messageKeyword",
        "messageBody",
        "inboundMessageId",
        "previousPublishedMessageId",
    }


def test_a_busy_port_is_reported_not_hung_on(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(CLI), "--workdir", str(tmp_path), "local", "--port", "0", "--aws-port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port}" in result.stderr
    assert "--aws-port" in result.stderr
    assert not (tmp_path / "outputs.json").exists()


def test_sms_without_a_running_stack_says_so(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sms_consent_local.cli", "--workdir", str(tmp_path), "sms", "+14155550123", "HELP"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "make run" in (result.stderr + result.stdout)


def test_an_opt_out_that_cannot_be_stored_ends_in_the_dead_letter_queue(tmp_path: Path) -> None:
    """Lambda's asynchronous SNS invocation: 1 + MaximumRetryAttempts (2) tries, then the function's
    DeadLetterQueue gets the event and the error. The table is deleted so that every try fails."""
    stack = start_stack(tmp_path)
    try:
        stack.client("dynamodb").delete_table(TableName=stack.outputs["ConsentTableName"])
        stack.publish_inbound("+14155550123", "STOP")
        sqs = stack.client("sqs")
        (queue,) = [url for url in sqs.list_queues()["QueueUrls"] if url.endswith("InboundSmsDeadLetterQueue")]
        deadline = time.monotonic() + 45
        messages: list[dict[str, Any]] = []
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=1).get(
                "Messages", []
            )
        assert messages, "the failed opt-out never reached the dead-letter queue"
        (record,) = json.loads(messages[0]["Body"])["Records"]
        assert record["EventSource"] == "aws:sns"
        assert record["Sns"]["TopicArn"] == stack.outputs["InboundSmsTopicArn"]
        assert json.loads(record["Sns"]["Message"])["messageBody"] == "STOP"
        reason = messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
        assert "ResourceNotFound" in reason or "table" in reason.lower()
        assert stack.outbox_lines() == []
        log = stack.log.read_text()
        assert "InboundSmsFunction failed (attempt 3 of 3)" in log
        assert "attempt 4" not in log
    finally:
        stack.process.send_signal(signal.SIGTERM)  # SIGTERM stops as cleanly as Ctrl-C
        assert stack.process.wait(timeout=30) == 0
