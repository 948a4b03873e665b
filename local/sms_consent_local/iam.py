"""Least privilege, checked: each function's policies as SAM expands them, the AWS calls each
function's code makes (recorded with a botocore hook while a test invokes it), and a matcher that
says whether a call is allowed and which granted actions a function never used.

Only the function code's own calls are judged. What the Lambda service does with the role (reading
the DynamoDB stream, writing logs and traces, sending to a dead-letter queue) is SAM's managed
policies' business and not recorded here.
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlparse

from sms_consent_local.template import ACCOUNT_ID, Template

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("iam_function", default=None)
_calls: list[Call] = []
_installed = False


@dataclass(frozen=True, slots=True, order=True)
class Call:
    function_id: str
    action: str  # "dynamodb:PutItem"
    resource: str  # an ARN, or "*" for calls with none (SNS to a phone number)


@dataclass(frozen=True, slots=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditional: bool  # has a Condition: allowed only under it (not evaluated here)

    def allows(self, call: Call) -> bool:
        return any(fnmatch.fnmatchcase(call.action.lower(), a.lower()) for a in self.actions) and any(
            fnmatch.fnmatchcase(call.resource, r) for r in self.resources
        )


# ---------------------------------------------------------------------- policies as SAM expands them


@cache
def _templates() -> Any:
    from samtranslator.policy_template_processor.processor import PolicyTemplatesProcessor  # type: ignore[import-untyped]

    return PolicyTemplatesProcessor(PolicyTemplatesProcessor.get_default_policy_templates_json())


def _statements(document: Any) -> list[Statement]:
    found = []
    for raw in document if isinstance(document, list) else [document]:
        if raw.get("Effect", "Allow") != "Allow":
            continue
        actions = raw.get("Action", [])
        resources = raw.get("Resource", [])
        found.append(
            Statement(
                tuple([actions] if isinstance(actions, str) else actions),
                tuple([resources] if isinstance(resources, str) else resources),
                "Condition" in raw,
            )
        )
    return found


def function_policies(template: Template, physical: Mapping[str, str]) -> dict[str, list[Statement]]:
    """Each function's Allow statements: SAM policy templates expanded offline, inline statements,
    `!If` branches chosen by the template's conditions, intrinsics resolved against `physical`."""
    processor = _templates()
    policies: dict[str, list[Statement]] = {}
    for logical_id, resource in template.resources_of("AWS::Serverless::Function").items():
        statements: list[Statement] = []
        for entry in resource.get("Properties", {}).get("Policies", []):
            resolved = template.resolve(entry, physical)
            if resolved is None:
                continue  # an !If branch that is AWS::NoValue
            if isinstance(resolved, str):
                raise ValueError(f"{logical_id}: managed policy {resolved} is not checked; use a template")
            (name, value), *_ = resolved.items()
            if name == "Statement":
                statements += _statements(value)
            elif processor.has(name):
                converted = processor.convert(name, value)
                statements += _statements(template.resolve(converted, physical)["Statement"])
            else:
                raise ValueError(f"{logical_id}: unknown policy entry {name}")
        policies[logical_id] = statements
    return policies


def wildcard_grants(template: Template, physical: Mapping[str, str]) -> list[str]:
    """Statements anywhere in the template that allow every action on every resource."""
    found = []
    for logical_id, statements in function_policies(template, physical).items():
        found += [logical_id for s in statements if "*" in s.actions and "*" in s.resources]
    for logical_id, resource in template.resources_of("AWS::IAM::Role").items():
        for policy in template.resolve(resource.get("Properties", {}).get("Policies", []), physical):
            for s in _statements(policy["PolicyDocument"]["Statement"]):
                if "*" in s.actions and "*" in s.resources:
                    found.append(logical_id)
    return found


def disallowed(calls: list[Call], policies: Mapping[str, list[Statement]]) -> list[Call]:
    return [call for call in calls if not any(s.allows(call) for s in policies.get(call.function_id, []))]


def unused_grants(calls: list[Call], policies: Mapping[str, list[Statement]]) -> dict[str, list[str]]:
    """Per function, the granted actions (patterns) that no recorded call used."""
    unused: dict[str, list[str]] = {}
    for function_id, statements in policies.items():
        used = [call for call in calls if call.function_id == function_id]
        for statement in statements:
            for action in statement.actions:
                single = Statement((action,), statement.resources, statement.conditional)
                if not any(single.allows(call) for call in used):
                    unused.setdefault(function_id, []).append(action)
    return unused


# ---------------------------------------------------------------------- recording the calls


def _arn(service: str, region: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


def _queue_arn(url: str, region: str) -> str:
    parts = urlparse(url).path.strip("/").split("/")
    return _arn("sqs", region, parts[-1])


def calls_of(function_id: str, service: str, operation: str, params: Mapping[str, Any], region: str) -> list[Call]:
    """The IAM actions and resources one API call needs."""

    def call(action: str, resource: str) -> Call:
        return Call(function_id, action, resource)

    if service == "dynamodb":

        def table(name: str) -> str:
            return _arn("dynamodb", region, f"table/{name}")

        if operation == "TransactWriteItems":
            kinds = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            return [
                call(f"dynamodb:{kinds[kind]}", table(body["TableName"]))
                for action in params["TransactItems"]
                for kind, body in action.items()
            ]
        if operation in ("BatchGetItem", "BatchWriteItem"):
            return [call(f"dynamodb:{operation}", table(name)) for name in params["RequestItems"]]
        resource = table(params["TableName"])
        if params.get("IndexName"):
            resource += f"/index/{params['IndexName']}"
        return [call(f"dynamodb:{operation}", resource)]
    if service == "sns":
        return [call(f"sns:{operation}", params.get("TopicArn") or params.get("TargetArn") or "*")]
    if service == "events":
        buses = {entry.get("EventBusName", "default") for entry in params.get("Entries", [])}
        return [
            call("events:PutEvents", name if name.startswith("arn:") else _arn("events", region, f"event-bus/{name}"))
            for name in buses
        ]
    if service == "sqs":
        return [call(f"sqs:{operation}", _queue_arn(params["QueueUrl"], region))]
    if service == "s3":
        action = {"HeadObject": "GetObject"}.get(operation, operation)
        return [call(f"s3:{action}", f"arn:aws:s3:::{params['Bucket']}/{params.get('Key', '')}")]
    if service == "ssm":
        return [call(f"ssm:{operation}", _arn("ssm", region, f"parameter{params['Name']}"))]
    if service == "secretsmanager":
        return [call(f"secretsmanager:{operation}", params["SecretId"])]
    if service == "scheduler":
        group = params.get("GroupName", "default")
        found = [call(f"scheduler:{operation}", _arn("scheduler", region, f"schedule/{group}/{params['Name']}"))]
        role = params.get("Target", {}).get("RoleArn")
        return found + ([call("iam:PassRole", role)] if role else [])
    if service == "pinpoint-sms-voice-v2":
        return [call(f"sms-voice:{operation}", _arn("sms-voice", region, "phone-number/*"))]
    return [call(f"{service}:{operation}", "*")]


def _record(params: dict[str, Any], model: Any = None, context: Any = None, **_: Any) -> None:
    function_id = _current.get()
    if function_id is None or model is None:
        return
    region = "us-east-1"
    if context is not None and isinstance(context, dict):
        region = context.get("client_region") or region
    _calls.extend(calls_of(function_id, model.service_model.service_name, model.name, params, region))


def install() -> None:
    """Record the calls of every botocore client created from now on (call before clients exist)."""
    global _installed
    if _installed:
        return
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS.append(("before-parameter-build.*.*", _record))
    _installed = True


@contextmanager
def acting_as(function_id: str) -> Iterator[None]:
    """Calls made inside the block are the function's."""
    token = _current.set(function_id)
    try:
        yield
    finally:
        _current.reset(token)


def recorded() -> list[Call]:
    return list(_calls)


def clear() -> None:
    _calls.clear()


def report(calls: list[Call], policies: Mapping[str, list[Statement]]) -> str:
    lines = []
    for function_id, actions in sorted(unused_grants(calls, policies).items()):
        lines.append(f"{function_id}: granted but not used in this run: {', '.join(sorted(set(actions)))}")
    return "\n".join(lines) or "every granted action was used"


def describe(policies: Mapping[str, list[Statement]]) -> str:
    """What each function's policy allows, one line per statement (for the note and reviews)."""
    lines = []
    for function_id, statements in sorted(policies.items()):
        for s in statements:
            suffix = " (with a condition)" if s.conditional else ""
            lines.append(f"{function_id}: {', '.join(s.actions)} on {', '.join(s.resources)}{suffix}")
    return json.dumps(lines, indent=1)
