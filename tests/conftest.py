"""Shared fixtures: AWS on moto in process, with the template's own resources.

`aws_stack` gives a test the table, topics and bus that `template.yaml` defines, the environment the
functions get, probes that capture what reaches the outbound topic and the event bus, and the local
outbox file. Handlers are invoked through `sms_consent_local.harness` the way `sam local invoke` would.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto import mock_aws

if TYPE_CHECKING:
    from tests.e2e.conftest import RunningStack

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT / "layers" / "sms_consent", ROOT / "local"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

# What Lambda's environment holds before any module is imported (Powertools reads it at import).
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SmsConsent")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "sms-consent")

from sms_consent_local import aws_calls, iam_calls, moto_patches  # noqa: E402

aws_calls.install()  # before any client exists, so that request counts see every client
aws_calls.install_write_audit()
iam_calls.install()  # every call a function makes is checked against its policy (aws_stack's teardown)
moto_patches.apply()  # transactions cost the items they touch, not the table (see the module)

from sms_consent import wiring  # noqa: E402
from sms_consent_local.harness import FunctionRunner  # noqa: E402
from sms_consent_local.streams import StreamDelivery  # noqa: E402
from sms_consent_local.streams import mappings as stream_mappings  # noqa: E402

REGION = "us-east-1"
EVENTS_DIR = ROOT / "events"


@dataclass
class AwsStack:
    """The template's resources on moto, plus probes on what leaves the functions."""

    region: str
    resources: dict[str, str]  # logical id -> physical name / ARN / URL
    env: dict[str, str]
    outbox: Path
    runner: FunctionRunner
    relays: dict[str, str] = field(default_factory=dict)  # EventBridge rule relay queues -> SNS topics
    streams: StreamDelivery | None = None  # the table's stream -> its consumers, delivered on demand
    _probes: dict[str, str] = field(default_factory=dict)

    def invoke(self, function_id: str, event: dict[str, Any] | str, *, reuse: bool = True) -> Any:
        """Run a function's handler like `sam local invoke -e events/<event> <function_id>`."""
        with iam_calls.acting_as(function_id):
            return self.runner.invoke(function_id, event, reuse=reuse)

    @property
    def table_name(self) -> str:
        return self.resources["ConsentTable"]

    @property
    def outbound_topic_arn(self) -> str:
        return self.resources["OutboundRequestsTopic"]

    @property
    def inbound_topic_arn(self) -> str:
        return self.resources["InboundSmsTopic"]

    @property
    def event_bus_name(self) -> str:
        return self.resources["ConsentEventBus"]

    def _drain(self, probe: str) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs", region_name=self.region)
        bodies: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self._probes[probe], MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return bodies
            for message in batch:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._probes[probe], ReceiptHandle=message["ReceiptHandle"])

    def outbound_envelopes(self) -> list[dict[str, Any]]:
        """SNS envelopes published to OutboundRequestsTopic since the last call (consumed)."""
        return self._drain("outbound")

    def outbound_requests(self) -> list[dict[str, Any]]:
        return [json.loads(envelope["Message"]) for envelope in self.outbound_envelopes()]

    def deliver_stream(self) -> int:
        """Run the stream's consumers on what the table's stream holds, as Lambda would have by now;
        the records delivered (a consumer's exception propagates, its batch is delivered again next time)."""
        return self.streams.deliver() if self.streams else 0

    def bus_events(self) -> list[dict[str, Any]]:
        """Events put on ConsentEventBus since the last call (consumed), after the stream's delivery."""
        self.deliver_stream()
        return self._drain("bus")

    def outbox_lines(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines() if line.strip()]

    def sns_event_for(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Turn an SNS envelope (as SQS received it) into the Lambda SNS event the subscriber would get."""
        return {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{envelope['TopicArn']}:subscription",
                    "Sns": {
                        "Type": envelope["Type"],
                        "MessageId": envelope["MessageId"],
                        "TopicArn": envelope["TopicArn"],
                        "Subject": envelope.get("Subject"),
                        "Message": envelope["Message"],
                        "Timestamp": envelope["Timestamp"],
                        "SignatureVersion": envelope.get("SignatureVersion", "1"),
                        "Signature": envelope.get("Signature", "EXAMPLE"),
                        "SigningCertUrl": envelope["SigningCertURL"],
                        "UnsubscribeUrl": envelope["UnsubscribeURL"],
                        "MessageAttributes": envelope.get("MessageAttributes", {}),
                    },
                }
            ]
        }


def stores() -> wiring.Stores:
    """The stores on the test stack's table (the one the functions' environment names)."""
    return wiring.stores(os.environ["TABLE_NAME"], os.environ["AWS_REGION"])


def load_event(relative: str) -> dict[str, Any]:
    """A sample event from events/ (e.g. "inbound_sms/help.json")."""
    event: dict[str, Any] = json.loads((EVENTS_DIR / relative).read_text(encoding="utf-8"))
    return event


def _add_probe(stack: AwsStack, name: str, *, topic_arn: str | None = None, bus: str | None = None) -> None:
    sqs = boto3.client("sqs", region_name=stack.region)
    url = sqs.create_queue(QueueName=f"probe-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if topic_arn:
        boto3.client("sns", region_name=stack.region).subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    if bus:
        events = boto3.client("events", region_name=stack.region)
        events.put_rule(Name=f"probe-{name}", EventBusName=bus, EventPattern=json.dumps({"source": ["sms-consent"]}))
        events.put_targets(Rule=f"probe-{name}", EventBusName=bus, Targets=[{"Id": "probe", "Arn": arn}])
    stack._probes[name] = url


@pytest.fixture
def aws_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsStack]:
    from sms_consent_local.harness import FunctionRunner, function_environment
    from sms_consent_local.resources import create_resources
    from sms_consent_local.template import load_template

    for name in [name for name in os.environ if name.startswith(("AWS_", "POWERTOOLS_"))]:
        monkeypatch.delenv(name)
    credentials = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    for name, value in credentials.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        template = load_template(ROOT / "template.yaml", region=REGION)
        created = create_resources(template, region=REGION)
        outbox = tmp_path / "outbox.jsonl"
        environments = {
            spec.logical_id: {
                **function_environment(template, spec.logical_id, created.physical, outbox_path=outbox),
                **credentials,
            }
            for spec in template.functions()
        }
        env = environments["InboundSmsFunction"]
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        stack = AwsStack(
            region=REGION,
            resources=created.physical,
            env=env,
            outbox=outbox,
            runner=FunctionRunner(template, environments),
            relays=created.relays,
        )
        stack.streams = StreamDelivery(
            stream_mappings(template, created.physical),
            boto3.client("dynamodbstreams", region_name=REGION),
            stack.invoke,
        )
        _add_probe(stack, "outbound", topic_arn=stack.outbound_topic_arn)
        _add_probe(stack, "bus", bus=stack.event_bus_name)
        wiring.reset()
        iam_calls.clear()
        yield stack
        wiring.reset()
        # Every AWS call the functions made must be allowed by their policies as SAM expands them.
        iam_calls.settle(template, created.physical, os.environ.get("PYTEST_CURRENT_TEST", "?"))


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in process is not thread-safe inside one request (DynamoDB is): make each request atomic,
    as each DynamoDB request is, while threads still interleave between requests."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def atomic(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", atomic)


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    """A proxy response's headers, single- and multi-valued (Powertools answers with the latter)."""
    return {
        **(response.get("headers") or {}),
        **{key: values[0] for key, values in (response.get("multiValueHeaders") or {}).items()},
    }


def api_request(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: str | None = None,
    headers: dict[str, str] | None = None,
    source_ip: str = "203.0.113.10",
    sample: str = "admin_api/search_blocklist.json",
) -> dict[str, Any]:
    """An API Gateway REST proxy event, from a sam-generated sample in events/, for `method path`."""
    event = load_event(sample)
    merged_headers = {**event["headers"], "Content-Type": "application/json", **(headers or {})}
    event.update(
        httpMethod=method,
        path=path,
        resource=resource or path,
        pathParameters=path_parameters,
        queryStringParameters=query,
        multiValueQueryStringParameters={k: [v] for k, v in query.items()} if query else None,
        headers=merged_headers,
        multiValueHeaders={k: [v] for k, v in merged_headers.items()},
        body=body,
        isBase64Encoded=False,
        stageVariables=None,
    )
    event["requestContext"].update(httpMethod=method, path=f"/prod{path}", resourcePath=event["resource"])
    event["requestContext"]["identity"]["sourceIp"] = source_ip
    return event


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`make run`'s stack as a subprocess, shared by the end-to-end tests and the local tooling's tests."""
    from tests.e2e.conftest import start_stack, stop_stack

    stack = start_stack(tmp_path_factory.mktemp("local-stack"))
    yield stack
    stop_stack(stack)
