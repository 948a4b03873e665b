"""`sms-consent drill` against the local stack: the sample configuration passes every step a carrier's
auditor takes, and a configuration whose HELP reply is broken fails, naming that step."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_consent.config import load_config
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from sms_consent_local import cli
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

# Fictional handsets (555-01xx), in area codes of their own so that the tests never share one.
SAMPLE_HANDSETS = "+12065550100"
BROKEN_HANDSETS = "+17205550100"
DEPLOYED_HANDSETS = "+13035550100"
# Loads (it gives a support contact), but names no brand and says nothing of STOP.
BROKEN_HELP = "Questions? Write to support@example.com."


def test_the_sample_configuration_passes_every_step(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["--workdir", str(local_stack.workdir), "drill", "--numbers-from", SAMPLE_HANDSETS, "--json"])
    captured = capsys.readouterr()

    report: dict[str, Any] = json.loads(captured.out)
    failed = [(step["name"], step["sender"], step["problems"]) for step in report["steps"] if not step["passed"]]
    assert failed == [], captured.err
    assert code == 0
    assert report["passed"] is True
    walked = {(step["sender"], step["program"], step["name"]) for step in report["steps"]}
    assert {
        ("+18005550100", None, "HELP"),
        ("+18005550100", "alerts", "keyword ALERTS"),
        ("+18005550100", "alerts", "double opt-in YES"),
        ("+18005550100", "alerts", "STOP"),
        ("+18005550100", "alerts", "START"),
        ("12345", None, "HELP"),
        ("12345", "tone1", "keyword TONE1"),
        ("12345", "tone2", "double opt-in YES"),
        ("12345", None, "STOP menu"),
        ("12345", "tone1", "menu answer STOP TONE1"),
        ("12345", None, "STOP the rest"),
    } <= walked
    assert all(step["replies"] for step in report["steps"])  # every step's reply was read and checked
    handsets = {step["phone"] for step in report["steps"]}
    assert all(phone.startswith("+1206555010") for phone in handsets)
    # The handsets end where the walks left them, as the stack itself says.
    alerts_handset = next(step["phone"] for step in report["steps"] if step["name"] == "keyword ALERTS")
    number = local_stack.api("GET", f"/v1/numbers/{alerts_handset}").json()
    assert number["programs"]["alerts"]["status"] == "pending"  # START asked again; nobody answered YES


@pytest.fixture
def broken_help_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    data = yaml.safe_load(DEFAULT_PROGRAM_CONFIG.read_text(encoding="utf-8"))
    data["programs"]["alerts"]["replies"]["help"] = BROKEN_HELP
    config = tmp_path / "programs.yaml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_config(config)  # the load-time lint lets it through: only the drill reads the reply as a handset does
    # The stack's functions read PROGRAM_CONFIG (FunctionSettings); the subprocess inherits it.
    monkeypatch.setenv("PROGRAM_CONFIG", str(config))
    workdir = tmp_path / "stack"
    workdir.mkdir()
    stack = start_stack(workdir)
    yield stack, config
    stop_stack(stack)


def test_a_broken_help_reply_fails_the_drill_naming_the_step(
    broken_help_stack: tuple[RunningStack, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    stack, config = broken_help_stack

    code = cli.main(
        ["--workdir", str(stack.workdir), "drill", "--config", str(config), "--numbers-from", BROKEN_HANDSETS]
    )
    captured = capsys.readouterr()

    assert code == 1
    assert "drill failed: HELP on +18005550100" in captured.err
    assert "12345" not in captured.err.split("drill failed:")[1]  # the short code's own HELP is fine
    # The table folds long details over several lines: read it without the box and the spacing.
    table = "".join(captured.out.replace("│", " ").split())
    assert "HELP+17205550100FAILhelpreplymustnametheprogramorbrand" in table
    assert "helpreplymustsayhowtooptout(STOP)" in table
    assert table.count("FAIL") == 1


def test_a_deployed_stack_is_found_by_its_outputs_and_drilled_on_state_changes(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The emulator stands in for an AWS account: a CloudFormation stack there carries the outputs a
    # deployed stack has, pointing at the local stack's API, key and inbound topic.
    for name, value in {
        "AWS_ENDPOINT_URL": local_stack.endpoint,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    outputs = {name: {"Value": local_stack.outputs[name]} for name in ("ApiUrl", "ApiKeyId", "InboundSmsTopicArn")}
    template = {"Resources": {"Marker": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    stack_name = f"sms-consent-drill-{uuid.uuid4().hex[:8]}"
    local_stack.client("cloudformation").create_stack(StackName=stack_name, TemplateBody=json.dumps(template))

    target = ["--stack", stack_name, "--region", "us-east-1"]
    # An empty working folder: the target can only come from the stack's outputs.
    code = cli.main(
        ["--workdir", str(tmp_path), "drill", *target, "--numbers-from", DEPLOYED_HANDSETS, "--settle", "1", "--json"]
    )
    captured = capsys.readouterr()

    report: dict[str, Any] = json.loads(captured.out)
    assert code == 0, captured.err
    assert report["target"] == f"stack {stack_name}"
    assert len(report["steps"]) == 21
    # Replies reach fictional handsets through the provider, where the drill cannot read them.
    assert all(step["observed"] is False and step["replies"] == [] for step in report["steps"])
    stop = next(step for step in report["steps"] if step["name"] == "menu answer STOP TONE1")
    number = local_stack.api("GET", f"/v1/numbers/{stop['phone']}").json()
    assert {p: v["status"] for p, v in number["programs"].items()} == {"tone1": "unsubscribed", "tone2": "unsubscribed"}
