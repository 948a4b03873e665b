"""Record the IAM authorizations each function's AWS calls need, while a test invokes it.

A botocore hook (installed like `aws_calls.install`, before any client exists) sees every request;
while `acting_as(function_id)` is in force (tests/conftest.py `AwsStack.invoke`), it turns the request
into the (IAM action, resource ARN) pairs AWS authorizes, per the Service Authorization Reference
(docs.aws.amazon.com/service-authorization/latest/reference/): for example a TransactWriteItems is
authorized item by item as PutItem/UpdateItem/DeleteItem/ConditionCheckItem on each table, a
SendMessageBatch as sqs:SendMessage, an S3 HeadObject as s3:GetObject, a DynamoDB Streams GetRecords
as dynamodb:GetRecords on the stream. Requests the mapping does not know are recorded on resource
`*`, which a scoped policy refuses: the check fails loudly instead of guessing.

Only the function code's calls are recorded; what the test itself does, and what the Lambda service
does for the function (polling the stream or a queue, logs, dead letters), is not.
"""

from __future__ import annotations

import contextvars
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sms_consent_local.iam_policies import Call, disallowed, function_policies, refusal_message
from sms_consent_local.template import ACCOUNT_ID, Template

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_function", default=None)
_lock = threading.Lock()
_calls: list[Call] = []
_invoked: set[str] = set()
_iterators: dict[str, str] = {}  # DynamoDB Streams shard iterator -> its stream ARN
_installed = False
_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex  # shared by a run's xdist workers

_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
# Batch forms authorized as their single form (SQS: "the batch action uses the single action's permission").
_SQS_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _arn(service: str, region: str, resource: str, account: str = ACCOUNT_ID) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _dynamodb(operation: str, params: Mapping[str, Any], region: str) -> list[tuple[str, str]]:
    def table(name: str) -> str:
        return name if name.startswith("arn:") else _arn("dynamodb", region, f"table/{name}")

    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}", table(body["TableName"]))
            for item in params["TransactItems"]
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", table(item["Get"]["TableName"])) for item in params["TransactItems"]]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
    if "TableName" not in params:
        return [(f"dynamodb:{operation}", "*")]
    resource = table(params["TableName"])
    if params.get("IndexName"):  # Query/Scan on an index are authorized on the index's ARN
        resource += f"/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", resource)]


def _streams(operation: str, params: Mapping[str, Any], context: dict[str, Any]) -> list[tuple[str, str]]:
    # DynamoDB Streams' actions carry the dynamodb prefix, on the stream's ARN.
    if operation in ("DescribeStream", "GetShardIterator"):
        context["iam_stream_arn"] = params["StreamArn"]
        return [(f"dynamodb:{operation}", params["StreamArn"])]
    if operation == "GetRecords":
        stream = _iterators.get(params["ShardIterator"], "*")
        context["iam_stream_arn"] = stream
        return [("dynamodb:GetRecords", stream)]
    return [(f"dynamodb:{operation}", "*")]  # ListStreams names no resource


def _sns(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    action = "sns:Publish" if operation == "PublishBatch" else f"sns:{operation}"
    # A publish to a phone number has no ARN: it is authorized on "*".
    return [(action, params.get("TopicArn") or params.get("TargetArn") or "*")]


def _sqs(operation: str, params: Mapping[str, Any], region: str) -> list[tuple[str, str]]:
    action = f"sqs:{_SQS_ACTIONS.get(operation, operation)}"
    if "QueueUrl" not in params:
        return [(action, "*")]
    account, name = urlparse(params["QueueUrl"]).path.strip("/").split("/")[-2:]
    return [(action, _arn("sqs", region, name, account))]


_S3_PUT_PARTS = frozenset({"CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"})


def _s3(operation: str, params: Mapping[str, Any]) -> list[tuple[str, str]]:
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    if operation in ("ListObjects", "ListObjectsV2", "HeadBucket"):
        return [("s3:ListBucket", bucket)]
    if operation in ("GetObject", "HeadObject"):
        action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
        return [(action, f"{bucket}/{params['Key']}")]
    if operation in _S3_PUT_PARTS:  # a multipart upload is authorized as s3:PutObject on the key
        return [("s3:PutObject", f"{bucket}/{params['Key']}")]
    if "Key" in params:
        return [(f"s3:{operation}", f"{bucket}/{params['Key']}")]
    return [(f"s3:{operation}", bucket)]


def _sms_voice(operation: str, params: Mapping[str, Any], region: str) -> list[tuple[str, str]]:
    # sms-voice:SendTextMessage/SendMediaMessage are authorized on the origination identity and on the
    # configuration set and protect configuration named; ids are phone-…/pool-…, or an ARN.
    action = f"sms-voice:{operation}"
    found = []
    origin = params.get("OriginationIdentity")
    if origin:
        if origin.startswith("arn:"):
            found.append((action, origin))
        elif origin.startswith("pool-"):
            found.append((action, _arn("sms-voice", region, f"pool/{origin}")))
        elif origin.startswith(("phone-", "+")):
            found.append((action, _arn("sms-voice", region, f"phone-number/{origin}")))
        else:
            country = params.get("DestinationCountryParameters", {}).get("IsoCountryCode", "US")
            found.append((action, _arn("sms-voice", region, f"sender-id/{origin}/{country}")))
    if params.get("ConfigurationSetName"):
        name = params["ConfigurationSetName"]
        found.append(
            (action, name if name.startswith("arn:") else _arn("sms-voice", region, f"configuration-set/{name}"))
        )
    if params.get("ProtectConfigurationId"):
        found.append((action, _arn("sms-voice", region, f"protect-configuration/{params['ProtectConfigurationId']}")))
    return found or [(action, "*")]  # no identity: the account's own; authorized on "*"


def authorizations(
    service: str, operation: str, params: Mapping[str, Any], region: str, context: dict[str, Any]
) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs one API request needs."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    if service == "dynamodbstreams":
        return _streams(operation, params, context)
    if service == "sns":
        return _sns(operation, params)
    if service == "sqs":
        return _sqs(operation, params, region)
    if service == "events" and operation == "PutEvents":
        buses = sorted({entry.get("EventBusName") or "default" for entry in params.get("Entries", [])})
        return [
            ("events:PutEvents", b if b.startswith("arn:") else _arn("events", region, f"event-bus/{b}")) for b in buses
        ]
    if service == "s3":
        return _s3(operation, params)
    if service == "ssm" and "Name" in params:
        name = params["Name"]
        return [
            (
                f"ssm:{operation}",
                name if name.startswith("arn:") else _arn("ssm", region, "parameter/" + name.lstrip("/")),
            )
        ]
    if service == "secretsmanager" and "SecretId" in params:
        secret = params["SecretId"]
        return [
            (
                f"secretsmanager:{operation}",
                secret if secret.startswith("arn:") else _arn("secretsmanager", region, f"secret:{secret}"),
            )
        ]
    if service == "scheduler" and "Name" in params:
        group = params.get("GroupName") or "default"
        found = [(f"scheduler:{operation}", _arn("scheduler", region, f"schedule/{group}/{params['Name']}"))]
        role = params.get("Target", {}).get("RoleArn")
        return found + ([("iam:PassRole", role)] if role else [])  # the schedule's target role is passed
    if service == "pinpoint-sms-voice-v2":
        return _sms_voice(operation, params, region)
    return [(f"{service}:{operation}", "*")]


def _record(params: dict[str, Any], model: Any = None, context: Any = None, **_: Any) -> None:
    function_id = _current.get()
    if function_id is None or model is None:
        return
    context = context if isinstance(context, dict) else {}
    region = context.get("client_region") or "us-east-1"
    pairs = authorizations(model.service_model.service_name, model.name, params, region, context)
    with _lock:
        _calls.extend(Call(function_id, action, resource) for action, resource in pairs)


def _follow_iterators(parsed: Any = None, context: Any = None, **_: Any) -> None:
    # A shard iterator names no stream: remember which stream each one GetRecords may be given belongs to.
    if not isinstance(parsed, dict) or not isinstance(context, dict) or "iam_stream_arn" not in context:
        return
    for key in ("ShardIterator", "NextShardIterator"):
        if parsed.get(key):
            with _lock:
                _iterators[parsed[key]] = context["iam_stream_arn"]


def install() -> None:
    """Record the calls of every botocore client created from now on (call before clients exist)."""
    global _installed
    if _installed:
        return
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-parameter-build.*.*", _record))
    BUILTIN_HANDLERS.append(("after-call.dynamodbstreams.*", _follow_iterators))
    _installed = True


@contextmanager
def acting_as(function_id: str) -> Iterator[None]:
    """Calls made inside the block (in this thread or context) are the function's."""
    with _lock:
        _invoked.add(function_id)
    token = _current.set(function_id)
    try:
        yield
    finally:
        _current.reset(token)


def recorded() -> list[Call]:
    with _lock:
        return list(_calls)


def invoked() -> set[str]:
    with _lock:
        return set(_invoked)


def clear() -> None:
    with _lock:
        _calls.clear()
        _invoked.clear()
        _iterators.clear()


# ---------------------------------------------------------------------- per-worker records and the check


def records_dir() -> Path:
    """Where each pytest worker appends its calls (IAM_RECORDS_DIR, else the pytest cache)."""
    return Path(os.environ.get("IAM_RECORDS_DIR") or Path.cwd() / ".pytest_cache" / "d" / "iam-calls")


def append_record(calls: list[Call], test_id: str, directory: Path | None = None) -> Path:
    """Append this test's calls to this worker's JSON-lines file for this run."""
    directory = directory or records_dir()
    directory.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    path = directory / f"{_RUN}-{worker}.jsonl"
    with path.open("a", encoding="utf-8") as out:
        for call in sorted(set(calls)):
            out.write(
                json.dumps(
                    {"test": test_id, "function": call.function_id, "action": call.action, "resource": call.resource}
                )
                + "\n"
            )
    return path


def load_records(directory: Path | None = None) -> list[Call]:
    """The distinct calls of the latest run recorded in `directory` (all its workers' files)."""
    directory = directory or records_dir()
    files = sorted(directory.glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    if not files:
        return []
    run = files[-1].name.rsplit("-", 1)[0]
    calls = set()
    for path in files:
        if path.name.rsplit("-", 1)[0] != run:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            calls.add(Call(row["function"], row["action"], row["resource"]))
    return sorted(calls)


def prune_records(directory: Path | None = None, older_than_seconds: float = 86400) -> None:
    """Forget other runs' files older than a day (the report reads the latest run only)."""
    directory = directory or records_dir()
    cutoff = time.time() - older_than_seconds
    for path in directory.glob("*.jsonl"):
        if not path.name.startswith(_RUN) and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)


def settle(template: Template, physical: Mapping[str, str], test_id: str) -> None:
    """The end of a test's stack: record its calls, forget them, and fail on any its policies refuse."""
    calls = recorded()
    clear()
    if calls:
        append_record(calls, test_id)
    refused = disallowed(calls, function_policies(template, physical)) if calls else []
    if refused:
        raise AssertionError(refusal_message(refused, function_policies(template, physical)))
