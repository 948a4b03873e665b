"""The local stack: moto's server on loopback, the template's resources in it, and every function
wired to its SNS, SQS, Api, EventBridge and Schedule events exactly as template.yaml says, in this
process.

How each event source is emulated:
- SNS: a queue subscribed to the topic (moto fans SNS out to SQS), polled; each envelope becomes the
  Lambda SNS event and is invoked asynchronously: the function's MaximumRetryAttempts retries, then
  its DeadLetterQueue with Lambda's RequestID/ErrorCode/ErrorMessage attributes.
- SQS: the queue is polled and batches become the Lambda SQS event; failed items (with
  ReportBatchItemFailures) or the whole batch (on an exception) stay on the queue.
- Api: a werkzeug server (api_server.py) acting as API Gateway REST with the Lambda proxy.
- DynamoDB: the table's stream is read as the event source mapping would (streams.py): in order,
  in batches, filtered, a failing batch retried from its position, then its on-failure destination.
- Schedule: a timer per event (rate(...) or --schedule-seconds); POST /_local/schedules/<FunctionId>
  or `sms-consent schedule` fires one now.
- EventBridge rules: moto delivers to SQS but not to SNS targets, so those rules target a relay
  queue and this forwards each event to the topic (EventBridge's SNS target sends the event JSON).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sms_consent_local import concurrency
from sms_consent_local.harness import DUMMY_CREDENTIALS, FunctionRunner, function_environment
from sms_consent_local.resources import CreatedResources, create_queue, create_resources
from sms_consent_local.template import ACCOUNT_ID, ScheduleSpec, Template, TemplateError, load_template

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
POLL_WAIT_SECONDS = 1
DEFAULT_CONCURRENCY = 4  # a function without ReservedConcurrentExecutions
MAX_LOCAL_CONCURRENCY = 8  # one process on a laptop: more threads only queue on the GIL
RETRY_PAUSE_SECONDS = 0.2  # Lambda waits a minute, then two; locally the retries follow at once


class StackError(RuntimeError):
    """The local stack cannot start; the message says why and what to do."""


def _log(message: str) -> None:
    print(f"[local] {message}", flush=True)


@dataclass(frozen=True)
class ApiRoute:
    method: str  # upper case; "ANY" matches every method
    resource: str  # "/v1/numbers/{phone}"
    pattern: re.Pattern[str]
    function_id: str
    api_key_required: bool


def route_pattern(resource: str) -> re.Pattern[str]:
    """API Gateway's resource path as a regex: {name} is one segment, {name+} the rest of the path."""
    pattern = re.escape(resource)
    pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}", r"(?P<\1>.+)", pattern)
    pattern = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", pattern)
    return re.compile("^" + pattern + "$")


def check_port_free(host: str, port: int, what: str, option: str) -> None:
    """Fail with a clear message instead of a hang (moto's server thread) or a bare OSError."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StackError(
                f"{what} cannot listen on {host}:{port} ({exc.strerror}); "
                f"stop what uses it or pick another port with {option}"
            ) from exc


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
        parameter_overrides: dict[str, str] | None = None,
    ) -> None:
        self.root = root
        self.host = host
        self.api_port = api_port
        self.aws_port = aws_port
        self.workdir = (workdir or root / ".local").resolve()
        self.schedule_seconds = schedule_seconds
        self.parameter_overrides = parameter_overrides or {}
        self.endpoint = f"http://{host}:{aws_port}"
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.pools: dict[str, threading.BoundedSemaphore] = {}
        self.async_pools: dict[str, ThreadPoolExecutor] = {}
        self._moto: Any = None
        self.aws_lock = threading.Lock()  # the emulator's lock, once started (concurrency.serialize_requests)
        self._http: Any = None
        self.template: Template
        self.created: CreatedResources
        self.runner: FunctionRunner
        self.routes: list[ApiRoute] = []
        self.schedules: list[ScheduleSpec] = []

    @property
    def outbox_path(self) -> Path:
        return self.workdir / "outbox.jsonl"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> dict[str, str]:
        from moto.server import ThreadedMotoServer

        from sms_consent_local import moto_patches

        moto_patches.apply()  # transactions cost the items they touch, not the table (see the module)

        self.template = load_template(
            self.root / "template.yaml", region=REGION, parameter_overrides=self.parameter_overrides
        )
        check_port_free(self.host, self.aws_port, "the AWS emulator", "--aws-port")
        check_port_free(self.host, self.api_port, "the API", "--port")
        self.workdir.mkdir(parents=True, exist_ok=True)
        # Both servers log every request through werkzeug; the handlers' own logs say what matters.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._moto = ThreadedMotoServer(ip_address=self.host, port=self.aws_port, verbose=False)
        self._moto.start()
        self.aws_lock = concurrency.serialize_requests(self._moto)  # hold it to touch moto's backends in process
        self.aws_port = self._moto.get_host_and_port()[1]
        self.endpoint = f"http://{self.host}:{self.aws_port}"
        os.environ.update(
            {**DUMMY_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint}
        )
        self.created = create_resources(self.template, region=REGION, endpoint_url=self.endpoint)
        self.runner = FunctionRunner(self.template, self._environments())
        for spec in self.template.functions():
            self.runner.load(spec.logical_id)  # one warm module per function, invoked concurrently
            size = self.concurrency(spec.logical_id)
            self.pools[spec.logical_id] = threading.BoundedSemaphore(size)
            self.async_pools[spec.logical_id] = ThreadPoolExecutor(size, thread_name_prefix=spec.logical_id)
        concurrency.make_powertools_concurrent()
        self._wire_sns()
        self._wire_sqs()
        self._wire_event_rules()
        self._wire_schedules()
        self._wire_rule_relays()
        self._wire_streams()
        self._serve_api()
        outputs = self._outputs()
        (self.workdir / "outputs.json").write_text(json.dumps(outputs, indent=2) + "\n", encoding="utf-8")
        return outputs

    def stop(self) -> None:
        self.stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        for pool in self.async_pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        if self._moto is not None:
            self._moto.stop()
            server = getattr(self._moto, "_server", None)
            if server is not None:
                server.server_close()  # release the port now, not at garbage collection

    def _environments(self) -> dict[str, dict[str, str]]:
        """Each function's environment; in one process they must agree, so they are applied once."""
        environments = {
            spec.logical_id: function_environment(
                self.template,
                spec.logical_id,
                self.created.physical,
                outbox_path=self.outbox_path,
                endpoint_url=self.endpoint,
            )
            for spec in self.template.functions()
        }
        merged: dict[str, tuple[str, str]] = {}
        for function_id, env in environments.items():
            for name, value in env.items():
                if name in merged and merged[name][1] != value:
                    raise StackError(
                        f"{name} is {merged[name][1]!r} in {merged[name][0]} but {value!r} in {function_id}; "
                        "the local stack runs every function in one process, so their environments must agree"
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

    def concurrency(self, function_id: str) -> int:
        """How many invocations of the function run at once: its ReservedConcurrentExecutions, or a
        small default, at most MAX_LOCAL_CONCURRENCY."""
        reserved = self.template.resources[function_id].get("Properties", {}).get("ReservedConcurrentExecutions")
        return max(1, min(int(reserved) if reserved is not None else DEFAULT_CONCURRENCY, MAX_LOCAL_CONCURRENCY))

    def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
        """A synchronous invocation of the warm handler (environment already applied). Invocations of
        one function and of different functions run at once, up to each function's concurrency, so
        races between them show here; moto serialises each AWS request, as a service orders writes."""
        with self.pools[function_id]:
            return self.runner.invoke(function_id, event, apply_env=False)

    def _queue_url(self, arn: str) -> str:
        for key, value in self.created.physical.items():
            if key.endswith(".Arn") and value == arn:
                return self.created.physical[key.removesuffix(".Arn")]
        raise TemplateError(f"no queue with ARN {arn} in the template")

    def _receive(self, sqs: Any, queue_url: str, max_messages: int = 10) -> list[dict[str, Any]]:
        """One long poll; an empty list when stopping or when the emulator hiccups."""
        try:
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=POLL_WAIT_SECONDS,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
        except Exception:
            if not self.stopping.is_set():
                traceback.print_exc()
                self.stopping.wait(0.5)
            return []
        return messages

    # ------------------------------------------------------------------ asynchronous invocations

    def invoke_async(self, function_id: str, event: dict[str, Any]) -> bool:
        """Lambda's asynchronous invocation: the first try, MaximumRetryAttempts retries, then the
        function's dead-letter queue (message body: the event; attributes: why). True if it succeeded."""
        spec = self.runner.spec(function_id)
        error = ""
        attempts = 1 + spec.maximum_retry_attempts
        for attempt in range(1, attempts + 1):
            try:
                self.invoke(function_id, event)
                return True
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                _log(f"{function_id} failed (attempt {attempt} of {attempts}): {error}")
                traceback.print_exc()
                if attempt < attempts and self.stopping.wait(RETRY_PAUSE_SECONDS * attempt):
                    return False
        if spec.dead_letter_queue is None:
            _log(f"{function_id}: event dropped after {attempts} attempts (no DeadLetterQueue in the template)")
            return False
        dlq_arn = self.template.resolve(spec.dead_letter_queue, self.created.physical)
        self._client("sqs").send_message(
            QueueUrl=self._queue_url(dlq_arn),
            MessageBody=json.dumps(event),
            MessageAttributes={
                "RequestID": {"DataType": "String", "StringValue": str(uuid.uuid4())},
                "ErrorCode": {"DataType": "Number", "StringValue": "200"},
                "ErrorMessage": {"DataType": "String", "StringValue": error[:1000] or "unknown"},
            },
        )
        _log(f"{function_id}: event sent to its dead-letter queue after {attempts} attempts")
        return False

    # ------------------------------------------------------------------ SNS -> Lambda

    def _wire_sns(self) -> None:
        sqs, sns = self._client("sqs"), self._client("sns")
        for spec in self.template.functions():
            for source in spec.events_of("SNS"):
                properties = self.template.resolve(source.properties, self.created.physical)
                topic_arn = properties["Topic"]
                url, arn = create_queue(sqs, f"local-{spec.logical_id}-{source.name}")
                attributes = {"RawMessageDelivery": "false"}  # the SQS body is the SNS envelope
                if "FilterPolicy" in properties:
                    attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
                    attributes["FilterPolicyScope"] = properties.get("FilterPolicyScope", "MessageAttributes")
                subscription = sns.subscribe(
                    TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes=attributes, ReturnSubscriptionArn=True
                )["SubscriptionArn"]
                self._spawn(
                    f"sns:{spec.logical_id}:{source.name}",
                    functools.partial(self._poll_sns, spec.logical_id, url, subscription),
                )

    def _poll_sns(self, function_id: str, queue_url: str, subscription_arn: str) -> None:
        sqs = self._client("sqs")
        while not self.stopping.is_set():
            for message in self._receive(sqs, queue_url):
                # Lambda accepts the asynchronous event, then runs it (and its retries) concurrently.
                event = sns_event(json.loads(message["Body"]), subscription_arn)
                self.async_pools[function_id].submit(self.invoke_async, function_id, event)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    # ------------------------------------------------------------------ SQS -> Lambda

    def _wire_sqs(self) -> None:
        for spec in self.template.functions():
            for source in spec.events_of("SQS"):
                properties = self.template.resolve(source.properties, self.created.physical)
                if properties.get("Enabled", True) is False:
                    continue
                self._spawn(
                    f"sqs:{spec.logical_id}:{source.name}",
                    functools.partial(
                        self._poll_sqs,
                        spec.logical_id,
                        properties["Queue"],
                        int(properties.get("BatchSize", 10)),
                        "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
                    ),
                )

    def _poll_sqs(self, function_id: str, queue_arn: str, batch_size: int, report_failures: bool) -> None:
        sqs = self._client("sqs")
        queue_url = self._queue_url(queue_arn)
        while not self.stopping.is_set():
            messages = self._receive(sqs, queue_url, min(batch_size, 10))
            if messages:
                deliver_sqs_batch(
                    sqs, queue_url, queue_arn, messages, functools.partial(self.invoke, function_id), report_failures
                )

    # ------------------------------------------------------------------ EventBridge rules -> Lambda

    def _wire_event_rules(self) -> None:
        """EventBridgeRule / CloudWatchEvent events: a rule on the bus targets a queue this polls."""
        sqs, events = self._client("sqs"), self._client("events")
        for spec in self.template.functions():
            for source in spec.events:
                if source.type not in ("EventBridgeRule", "CloudWatchEvent"):
                    continue
                properties = self.template.resolve(source.properties, self.created.physical)
                bus = properties.get("EventBusName", "default")
                rule = f"local-{spec.logical_id}-{source.name}"
                url, arn = create_queue(sqs, rule)
                events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(properties["Pattern"]))
                events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "local", "Arn": arn}])
                self._spawn(
                    f"rule:{spec.logical_id}:{source.name}", functools.partial(self._poll_rule, spec.logical_id, url)
                )

    def _poll_rule(self, function_id: str, queue_url: str) -> None:
        sqs = self._client("sqs")
        while not self.stopping.is_set():
            for message in self._receive(sqs, queue_url):
                self.invoke_async(function_id, json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _wire_rule_relays(self) -> None:
        if self.created.relays:
            self._spawn("rule-relays", self._relay_rules)

    def _relay_rules(self) -> None:
        """Forward what the template's rules sent to their relay queues to the SNS topics they name."""
        sqs, sns = self._client("sqs"), self._client("sns")
        while not self.stopping.is_set():
            for queue_url, topic_arn in self.created.relays.items():
                try:
                    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
                    for message in messages:
                        sns.publish(TopicArn=topic_arn, Message=message["Body"])
                        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                except Exception:
                    if not self.stopping.is_set():
                        traceback.print_exc()
            self.stopping.wait(0.5)

    # ------------------------------------------------------------------ DynamoDB streams -> Lambda

    def _wire_streams(self) -> None:
        from sms_consent_local import streams

        found = streams.mappings(self.template, self.created.physical)
        if found:
            delivery = streams.StreamDelivery(found, self._client("dynamodbstreams"), self.invoke)
            self._spawn(
                "streams",
                functools.partial(streams.poll, delivery, self.stopping, self._client("sqs"), self._queue_url, _log),
            )

    # ------------------------------------------------------------------ schedules

    def _wire_schedules(self) -> None:
        self.schedules = self.template.schedules()
        for schedule in self.schedules:
            every = self.schedule_seconds or schedule.rate_seconds
            if not schedule.enabled or every is None:
                why = "disabled" if not schedule.enabled else f"{schedule.expression} is not a rate"
                _log(f"{schedule.function_id}.{schedule.event_name}: {why}; fire it with `sms-consent schedule`")
                continue
            self._spawn(f"schedule:{schedule.function_id}", functools.partial(self._tick, schedule, every))

    def _tick(self, schedule: ScheduleSpec, every: float) -> None:
        while not self.stopping.wait(every):
            self.invoke_async(schedule.function_id, scheduled_event(schedule))

    def fire_schedule(self, name: str) -> dict[str, Any]:
        """Fire a schedule now (by function id or event name), as an asynchronous invocation."""
        matching = [s for s in self.template.schedules() if name in (s.function_id, s.event_name)]
        if not matching:
            known = sorted({s.function_id for s in self.template.schedules()})
            raise KeyError(f"no Schedule event for {name!r}; the template has {known}")
        schedule = matching[0]
        event = scheduled_event(schedule)
        succeeded = self.invoke_async(schedule.function_id, event)
        return {"function": schedule.function_id, "event": schedule.event_name, "id": event.get("id"), "ok": succeeded}

    # ------------------------------------------------------------------ API

    def _serve_api(self) -> None:
        from werkzeug.serving import make_server

        from sms_consent_local.api_server import ApiGatewayApp, gateway_responses

        specs = self.template.api_routes()
        self.routes = [
            ApiRoute(
                method=spec.method,
                resource=spec.path,
                pattern=route_pattern(spec.path),
                function_id=spec.function_id,
                api_key_required=spec.api_key_required,
            )
            for spec in specs
        ]
        rest_apis = {spec.rest_api_id for spec in specs}
        if len(rest_apis) > 1:
            _log(f"the template has several APIs ({sorted(rest_apis)}); all are served on one port")
        rest_api = min(rest_apis) if rest_apis else None
        api_key = self.created.api_keys.get(rest_api or "", ("", self.created.api_key_value))[1]
        app = ApiGatewayApp(
            routes=self.routes,
            api_key=api_key,
            cors=self.template.api_cors(rest_api) if rest_api else None,
            invoke=self.invoke,
            static_dir=self.root / "web",
            fire_schedule=self.fire_schedule,
            gateway=gateway_responses(self.template, self.created.physical),
        )
        try:
            self._http = make_server(self.host, self.api_port, app, threaded=True)
        except SystemExit as exc:  # werkzeug exits when the port is taken
            raise StackError(f"the API cannot listen on {self.host}:{self.api_port}; pick another with --port") from exc
        self.api_port = self._http.server_port
        self._spawn("api", self._http.serve_forever)

    # ------------------------------------------------------------------ outputs

    def _outputs(self) -> dict[str, str]:
        outputs = self.template.outputs(
            self.created.physical, unresolved=lambda name, exc: _log(f"output {name} has no local value: {exc}")
        )
        outputs["ApiUrl"] = f"http://{self.host}:{self.api_port}"  # no stage: the local API has none
        outputs["ApiKey"] = self.created.api_key_value
        outputs["AwsEndpointUrl"] = self.endpoint
        outputs["OutboxPath"] = str(self.outbox_path)
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
                    "SigningCertUrl": envelope.get("SigningCertURL", f"https://sns.{REGION}.amazonaws.com/local.pem"),
                    "UnsubscribeUrl": envelope.get("UnsubscribeURL", f"https://sns.{REGION}.amazonaws.com/"),
                    "MessageAttributes": envelope.get("MessageAttributes", {}),
                },
            }
        ]
    }


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of the Lambda SQS event, from a ReceiveMessage result."""
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
        "awsRegion": queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else REGION,
    }


def deliver_sqs_batch(
    sqs: Any,
    queue_url: str,
    queue_arn: str,
    messages: list[dict[str, Any]],
    invoke: Callable[[dict[str, Any]], Any],
    report_failures: bool,
) -> set[str]:
    """Invoke with one batch and delete what succeeded, as Lambda's SQS poller does. Returns the ids
    left on the queue: all on an exception; with ReportBatchItemFailures, the items the function named."""
    event = {"Records": [sqs_record(message, queue_arn) for message in messages]}
    try:
        response = invoke(event)
    except Exception:
        traceback.print_exc()
        return {message["MessageId"] for message in messages}  # they come back after the visibility timeout
    failed: set[str] = set()
    if report_failures and isinstance(response, dict):
        failed = {str(item.get("itemIdentifier")) for item in response.get("batchItemFailures") or []}
        if failed - {message["MessageId"] for message in messages}:
            # Lambda treats an unknown or empty identifier as a failure of the whole batch.
            return {message["MessageId"] for message in messages}
    for message in messages:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return failed


def scheduled_event(schedule: ScheduleSpec) -> dict[str, Any]:
    """EventBridge's scheduled event (or the schedule's constant Input, which replaces it)."""
    if schedule.input is not None:
        constant: dict[str, Any] = json.loads(schedule.input)
        return constant
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{schedule.function_id}{schedule.event_name}"],
        "detail": {},
    }
