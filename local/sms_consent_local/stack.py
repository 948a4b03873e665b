"""The local stack: moto's server on loopback, the template's resources in it, and every function
wired to its SNS, SQS, Api and Schedule events exactly as template.yaml says, in this process."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sms_consent_local.harness import FunctionRunner, function_environment
from sms_consent_local.resources import API_KEY_ID, CreatedResources, create_resources
from sms_consent_local.template import ACCOUNT_ID, Template, TemplateError, load_template

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
LAMBDA_ASYNC_RETRIES = 2
POLL_WAIT_SECONDS = 1


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _rate_seconds(expression: str) -> int:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise TemplateError(f"schedule {expression!r}: only rate(...) expressions run locally")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


@dataclass(frozen=True)
class ApiRoute:
    method: str
    resource: str  # "/v1/numbers/{phone}"
    pattern: re.Pattern[str]
    function_id: str
    api_key_required: bool


class LocalStack:
    def __init__(
        self,
        *,
        root: Path = ROOT,
        host: str = "127.0.0.1",
        api_port: int = 3000,
        aws_port: int = 5000,
        workdir: Path | None = None,
        schedule_seconds: float | None = None,
    ) -> None:
        self.root = root
        self.host = host
        self.api_port = api_port
        self.aws_port = aws_port
        self.workdir = (workdir or root / ".local").resolve()
        self.schedule_seconds = schedule_seconds
        self.endpoint = f"http://{host}:{aws_port}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.invoke_lock = threading.Lock()
        self._moto: Any = None
        self._http: Any = None
        self.template: Template
        self.created: CreatedResources
        self.runner: FunctionRunner
        self.routes: list[ApiRoute] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> dict[str, str]:
        from moto.server import ThreadedMotoServer

        self.workdir.mkdir(parents=True, exist_ok=True)
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ENDPOINT_URL": self.endpoint,
            }
        )
        # Both servers log every request through werkzeug; the handlers' own logs say what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self._moto.start()
        self.template = load_template(self.root / "template.yaml", region=REGION)
        self.created = create_resources(self.template, region=REGION, endpoint_url=self.endpoint)
        self.runner = FunctionRunner(self.template, self._environments())
        for spec in self.template.functions():
            self.runner.load(spec.logical_id)
        self._wire_sns()
        self._wire_sqs()
        self._wire_schedules()
        self._wire_rule_relays()
        self._serve_api()
        outputs = self._outputs()
        (self.workdir / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")
        return outputs

    def stop(self) -> None:
        self.stopping.set()
        if self._http is not None:
            self._http.shutdown()
        for thread in self.threads:
            thread.join(timeout=5)
        if self._moto is not None:
            self._moto.stop()

    def _environments(self) -> dict[str, dict[str, str]]:
        """Each function's environment; in one process they must agree, so they are applied once."""
        outbox = self.workdir / "outbox.jsonl"
        environments = {
            spec.logical_id: function_environment(
                self.template, spec.logical_id, self.created.physical, outbox_path=outbox, endpoint_url=self.endpoint
            )
            for spec in self.template.functions()
        }
        merged: dict[str, tuple[str, str]] = {}
        for function_id, env in environments.items():
            for name, value in env.items():
                if name in merged and merged[name][1] != value:
                    raise TemplateError(
                        f"{name} differs between {merged[name][0]} and {function_id}; "
                        "the local stack runs every function in one process"
                    )
                merged[name] = (function_id, value)
        os.environ.update({name: value for name, (_, value) in merged.items()})
        return environments

    def _client(self, service: str) -> Any:
        import boto3

        session: Any = boto3.session.Session()
        return session.client(service, region_name=REGION, endpoint_url=self.endpoint)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        with self.invoke_lock:  # one warm container per function, one invocation at a time
            return self.runner.invoke(function_id, event, apply_env=False)

    def _queue_url(self, arn: str) -> str:
        for logical_id, value in self.created.physical.items():
            if logical_id.endswith(".Arn") and value == arn:
                return self.created.physical[logical_id.removesuffix(".Arn")]
        raise TemplateError(f"no queue with ARN {arn}")

    # ------------------------------------------------------------------ SNS -> Lambda

    def _wire_sns(self) -> None:
        sqs, sns = self._client("sqs"), self._client("sns")
        for spec in self.template.functions():
            for source in spec.events_of("SNS"):
                topic_arn = self.template.resolve(source.properties["Topic"], self.created.physical)
                url = sqs.create_queue(QueueName=f"local-{spec.logical_id}-{source.name}")["QueueUrl"]
                arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                subscription = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
                dlq = (
                    self.template.resolve(spec.dead_letter_queue, self.created.physical)
                    if spec.dead_letter_queue
                    else None
                )
                self._spawn(
                    f"sns:{spec.logical_id}", functools.partial(self._poll_sns, spec.logical_id, url, subscription, dlq)
                )

    def _poll_sns(self, function_id: str, queue_url: str, subscription_arn: str, dlq_arn: str | None) -> None:
        sqs = self._client("sqs")
        while not self.stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_WAIT_SECONDS
                ).get("Messages", [])
            except Exception:
                if self.stopping.is_set():
                    return
                time.sleep(0.5)
                continue
            for message in messages:
                envelope = json.loads(message["Body"])
                event = sns_event(envelope, subscription_arn)
                self._deliver_async(function_id, event, dlq_arn)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _deliver_async(self, function_id: str, event: dict[str, Any], dlq_arn: str | None) -> None:
        """Lambda's asynchronous invocation: the first try and two retries, then the dead-letter queue."""
        error = ""
        for attempt in range(1 + LAMBDA_ASYNC_RETRIES):
            try:
                self._invoke(function_id, event)
                return
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                print(f"[local] {function_id} failed (attempt {attempt + 1}): {error}", flush=True)
                traceback.print_exc()
                if self.stopping.wait(0.2 * (attempt + 1)):
                    return
        if dlq_arn:
            self._client("sqs").send_message(
                QueueUrl=self._queue_url(dlq_arn),
                MessageBody=json.dumps(event),
                MessageAttributes={
                    "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                    "ErrorCode": {"DataType": "String", "StringValue": "200"},
                    "ErrorMessage": {"DataType": "String", "StringValue": error[:1000] or "unknown"},
                },
            )

    # ------------------------------------------------------------------ SQS -> Lambda

    def _wire_sqs(self) -> None:
        for spec in self.template.functions():
            for source in spec.events_of("SQS"):
                queue_arn = self.template.resolve(source.properties["Queue"], self.created.physical)
                batch = int(source.properties.get("BatchSize", 10))
                self._spawn(
                    f"sqs:{spec.logical_id}", functools.partial(self._poll_sqs, spec.logical_id, queue_arn, batch)
                )

    def _poll_sqs(self, function_id: str, queue_arn: str, batch_size: int) -> None:
        sqs = self._client("sqs")
        queue_url = self._queue_url(queue_arn)
        while not self.stopping.is_set():
            try:
                messages = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=min(batch_size, 10),
                    WaitTimeSeconds=POLL_WAIT_SECONDS,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            except Exception:
                if self.stopping.is_set():
                    return
                time.sleep(0.5)
                continue
            if not messages:
                continue
            event = {"Records": [sqs_record(message, queue_arn) for message in messages]}
            try:
                response = self._invoke(function_id, event) or {}
            except Exception:
                traceback.print_exc()
                continue  # nothing deleted: the messages come back after their visibility timeout
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
            for message in messages:
                if message["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    # ------------------------------------------------------------------ schedules and rules

    def _wire_schedules(self) -> None:
        for spec in self.template.functions():
            for source in spec.events_of("Schedule"):
                every = self.schedule_seconds or _rate_seconds(source.properties["Schedule"])
                rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{spec.logical_id}{source.name}"
                self._spawn(
                    f"schedule:{spec.logical_id}", functools.partial(self._tick, spec.logical_id, every, rule_arn)
                )

    def _tick(self, function_id: str, every: float, rule_arn: str) -> None:
        while not self.stopping.wait(every):
            self.fire_schedule(function_id, rule_arn)

    def fire_schedule(self, function_id: str, rule_arn: str = "") -> Any:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [rule_arn or f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{function_id}"],
            "detail": {},
        }
        try:
            return self._invoke(function_id, event)
        except Exception:
            traceback.print_exc()
            return None

    def _wire_rule_relays(self) -> None:
        if self.created.relays:
            self._spawn("rules", self._relay_rules)

    def _relay_rules(self) -> None:
        """moto's EventBridge cannot target SNS; its rules target queues and this forwards them."""
        sqs, sns = self._client("sqs"), self._client("sns")
        while not self.stopping.is_set():
            for queue_url, topic_arn in self.created.relays.items():
                try:
                    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                except Exception:
                    continue
                for message in messages:
                    sns.publish(TopicArn=topic_arn, Message=message["Body"])
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            self.stopping.wait(POLL_WAIT_SECONDS)

    # ------------------------------------------------------------------ API

    def _serve_api(self) -> None:
        from werkzeug.serving import make_server

        from sms_consent_local.api_server import ApiGatewayApp

        api = self.template.resources_of("AWS::Serverless::Api")
        default_key_required = any(
            resource.get("Properties", {}).get("Auth", {}).get("ApiKeyRequired", False) for resource in api.values()
        )
        cors = next((resource.get("Properties", {}).get("Cors") for resource in api.values()), None)
        for spec in self.template.functions():
            for source in spec.events_of("Api"):
                resource = source.properties["Path"]
                pattern = re.compile("^" + re.sub(r"\\\{([^}]+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource)) + "$")
                auth = source.properties.get("Auth", {})
                self.routes.append(
                    ApiRoute(
                        method=source.properties["Method"].upper(),
                        resource=resource,
                        pattern=pattern,
                        function_id=spec.logical_id,
                        api_key_required=bool(auth.get("ApiKeyRequired", default_key_required)),
                    )
                )
        app = ApiGatewayApp(
            routes=self.routes,
            api_key=self.created.api_key_value,
            cors=self.template.resolve(cors, self.created.physical) if cors else None,
            invoke=self._invoke,
            static_dir=self.root / "web",
        )
        self._http = make_server(self.host, self.api_port, app, threaded=True)
        self.api_port = self._http.server_port
        self._spawn("api", self._http.serve_forever)

    # ------------------------------------------------------------------ outputs

    def _outputs(self) -> dict[str, str]:
        outputs: dict[str, str] = {}
        physical = {**self.created.physical}
        for name, spec in self.template.body.get("Outputs", {}).items():
            try:
                outputs[name] = str(self.template.resolve(spec["Value"], physical))
            except TemplateError:
                continue
        outputs["ApiUrl"] = f"http://{self.host}:{self.api_port}"
        outputs["ApiKeyId"] = physical.get(API_KEY_ID, "")
        outputs["ApiKey"] = self.created.api_key_value
        outputs["AwsEndpointUrl"] = self.endpoint
        outputs["OutboxPath"] = str(self.workdir / "outbox.jsonl")
        return outputs


# ---------------------------------------------------------------------- event formats


def sns_event(envelope: dict[str, Any], subscription_arn: str) -> dict[str, Any]:
    """The Lambda SNS event for one SNS envelope (as an SQS subscriber received it)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription_arn,
                "Sns": {
                    "Type": envelope.get("Type", "Notification"),
                    "MessageId": envelope["MessageId"],
                    "TopicArn": envelope["TopicArn"],
                    "Subject": envelope.get("Subject"),
                    "Message": envelope["Message"],
                    "Timestamp": envelope["Timestamp"],
                    "SignatureVersion": envelope.get("SignatureVersion", "1"),
                    "Signature": envelope.get("Signature", "local"),
                    "SigningCertUrl": envelope.get("SigningCertURL", "https://sns.us-east-1.amazonaws.com/local.pem"),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", "https://sns.us-east-1.amazonaws.com/"),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = message.get("MessageAttributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in attributes.items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }
