"""Read template.yaml: functions, their events and environment, and intrinsic functions resolved
against what the local emulator created. The template is the only source of wiring, so the local
stack cannot drift from what `sam deploy` creates."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACCOUNT_ID = "123456789012"
STACK_NAME = "sms-consent-local"


class TemplateError(ValueError):
    """Something in template.yaml cannot be resolved locally; the message says what and where."""


@dataclass(frozen=True)
class EventSource:
    name: str
    type: str  # SNS, SQS, Api, Schedule
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str  # "app.lambda_handler"
    environment: dict[str, Any]  # unresolved: Globals merged with the function's own
    events: tuple[EventSource, ...]
    dead_letter_queue: Any | None
    timeout: int

    @property
    def module_file(self) -> Path:
        return self.code_uri / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def events_of(self, kind: str) -> list[EventSource]:
        return [event for event in self.events if event.type == kind]


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.body.get("Resources", {})
        return resources

    @property
    def globals(self) -> dict[str, Any]:
        found: dict[str, Any] = self.body.get("Globals", {}).get("Function", {})
        return found

    def parameter(self, name: str) -> str:
        if name in self.parameter_overrides:
            return self.parameter_overrides[name]
        spec = self.body.get("Parameters", {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown parameter {name}")
        return str(spec.get("Default", ""))

    def condition(self, name: str) -> bool:
        expression = self.body.get("Conditions", {}).get(name)
        if expression is None:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(expression, {}))

    def is_created(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resources_of(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type and self.is_created(logical_id)
        }

    def functions(self) -> list[FunctionSpec]:
        specs = []
        base_env = self.globals.get("Environment", {}).get("Variables", {})
        for logical_id, resource in self.resources_of("AWS::Serverless::Function").items():
            properties = resource.get("Properties", {})
            env = {**base_env, **properties.get("Environment", {}).get("Variables", {})}
            events = tuple(
                EventSource(name, spec["Type"], dict(spec.get("Properties", {})))
                for name, spec in properties.get("Events", {}).items()
            )
            dlq = properties.get("DeadLetterQueue", {}).get("TargetArn")
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_uri=(self.path.parent / properties["CodeUri"]).resolve(),
                    handler=properties.get("Handler", self.globals.get("Handler", "")),
                    environment=dict(env),
                    events=events,
                    dead_letter_queue=dlq,
                    timeout=int(properties.get("Timeout", self.globals.get("Timeout", 3))),
                )
            )
        return specs

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions():
            if spec.logical_id == logical_id:
                return spec
        raise TemplateError(f"no function {logical_id} in {self.path}")

    # ------------------------------------------------------------------ intrinsic functions

    def _pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::NoValue": "",
        }.get(name)

    def _ref(self, name: str, physical: Mapping[str, str]) -> str:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.body.get("Parameters", {}):
            return self.parameter(name)
        if name in physical:
            return physical[name]
        raise TemplateError(f"!Ref {name}: not created locally")

    def _get_att(self, target: str, attribute: str, physical: Mapping[str, str]) -> str:
        key = f"{target}.{attribute}"
        if key in physical:
            return physical[key]
        raise TemplateError(f"!GetAtt {key}: not available locally")

    def resolve(self, value: Any, physical: Mapping[str, str]) -> Any:
        """Resolve intrinsic functions in `value` (the physical map: logical id -> name/ARN/URL)."""
        if isinstance(value, list):
            return [self.resolve(item, physical) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {key: self.resolve(item, physical) for key, item in value.items()}
        ((key, argument),) = value.items()
        if key == "Ref":
            return self._ref(argument, physical)
        if key == "Fn::GetAtt":
            target, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(target, attribute, physical)
        if key == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            resolved_vars = {name: self.resolve(item, physical) for name, item in variables.items()}

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in resolved_vars:
                    return str(resolved_vars[name])
                if "." in name:
                    target, attribute = name.split(".", 1)
                    return self._get_att(target, attribute, physical)
                return self._ref(name, physical)

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if key == "Fn::If":
            condition, when_true, when_false = argument
            return self.resolve(when_true if self.condition(condition) else when_false, physical)
        if key == "Fn::Equals":
            left, right = (self.resolve(item, physical) for item in argument)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(argument[0], physical)
        if key == "Fn::And":
            return all(self.resolve(item, physical) for item in argument)
        if key == "Fn::Or":
            return any(self.resolve(item, physical) for item in argument)
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items, physical)[int(self.resolve(index, physical))]
        if key == "Fn::Split":
            separator, text = argument
            return str(self.resolve(text, physical)).split(separator)
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items, physical))
        if key == "Condition":
            return self.condition(argument)
        if key.startswith("Fn::"):
            raise TemplateError(f"{key} is not supported locally")
        return {key: self.resolve(argument, physical)}


def load_template(
    path: Path | str, *, parameter_overrides: Mapping[str, str] | None = None, region: str = "us-east-1"
) -> Template:
    """Parse template.yaml, short-form tags (!Ref, !GetAtt, !Sub, ...) included."""
    from cfnlint.decode import cfn_yaml

    body = cfn_yaml.load(str(path))
    return Template(Path(path).resolve(), _plain(body), dict(parameter_overrides or {}), region)


def _plain(value: Any) -> Any:
    """cfn-lint's node classes carry line marks we do not need; plain dicts and lists are easier to copy."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value
