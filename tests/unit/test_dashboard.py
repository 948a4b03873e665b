"""The operations dashboard and alarms in template.yaml: every figure they show is one the code emits
(a renamed metric would leave an empty graph and an alarm that never fires), every dead-letter queue
is graphed and alarmed, and the alarms the back office relies on reach the alert topic."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sms_consent_local.template import Template, load_template

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "SmsConsent"


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(ROOT / "template.yaml")


def _dashboard(template: Template) -> dict[str, Any]:
    (dashboard,) = template.resources_of("AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    # ${...} references become placeholders: the body must be JSON once CloudFormation fills them in.
    document: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "PLACEHOLDER", body))
    return document


def _source_text() -> str:
    files = [*ROOT.joinpath("functions").rglob("*.py"), *ROOT.joinpath("layers", "sms_consent").rglob("*.py")]
    return "\n".join(path.read_text(encoding="utf-8") for path in files)


def _graphed(document: dict[str, Any]) -> tuple[set[str], set[str]]:
    """(metric names of our namespace, search-expression prefixes) the dashboard's widgets show."""
    names, prefixes = set(), set()
    for widget in document["widgets"]:
        for line in widget["properties"].get("metrics", []):
            if isinstance(line[0], dict):
                found = re.search(r"\{SmsConsent,service\} (\w+)'", line[0]["expression"])
                assert found, line[0]["expression"]
                prefixes.add(found.group(1))
            elif line[0] == NAMESPACE:
                names.add(line[1])
    return names, prefixes


def test_every_figure_on_the_dashboard_is_one_the_code_emits(template: Template) -> None:
    names, prefixes = _graphed(_dashboard(template))
    alarmed = {
        alarm["Properties"]["MetricName"]
        for alarm in template.resources_of("AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("Namespace") == NAMESPACE
    }
    source = _source_text()

    assert {"OptIns", "OptOuts", "OptOutReplyDelay", "BreakersOpened"} <= names
    missing = sorted(name for name in names | alarmed if f'"{name}"' not in source)
    assert missing == []
    assert all(f'name=f"{prefix}' in source for prefix in prefixes), prefixes  # Gate_<reason>, Inbound_<action>


def test_every_dead_letter_queue_is_graphed_and_alarmed_to_the_alert_topic(template: Template) -> None:
    queues = {name for name in template.resources_of("AWS::SQS::Queue") if name.endswith("DeadLetterQueue")}
    body = template.resources["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    alarms = template.resources_of("AWS::CloudWatch::Alarm")
    alarmed_queues = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in alarms.values()
        for dimension in alarm["Properties"].get("Dimensions", [])
        if dimension["Name"] == "QueueName"
    }

    assert queues
    assert {queue for queue in queues if f"${{{queue}.QueueName}}" not in body} == set()
    assert queues <= alarmed_queues


@pytest.mark.parametrize(
    ("metric", "statistic", "threshold"),
    [("OptOutReplyDelay", "Maximum", 300), ("BreakersOpened", "Sum", 0)],
)
def test_the_back_office_alarms_reach_the_alert_topic(
    template: Template, metric: str, statistic: str, threshold: int
) -> None:
    (alarm,) = [
        spec["Properties"]
        for spec in template.resources_of("AWS::CloudWatch::Alarm").values()
        if spec["Properties"]["MetricName"] == metric
    ]
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        statistic,
        threshold,
        "GreaterThanThreshold",
    )
    assert alarm["AlarmActions"] == [{"Ref": "AlertTopic"}]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "sms-consent"}]  # Powertools' own dimension
