"""Read template.yaml: functions, their events and environment, and intrinsic functions resolved
against what the local emulator created. The template is the only source of wiring, so the local
stack cannot drift from what `sam deploy` creates."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACCOUNT_ID = "123456789012"
STACK_NAME = "sms-consent-local"
IMPLICIT_API = "ServerlessRestApi"  # SAM's logical id for Api events without a RestApiId
DEFAULT_ASYNC_RETRIES = 2  # Lambda's default MaximumRetryAttempts for asynchronous invocations


class TemplateError(ValueError):
    """Something in template.yaml cannot be resolved locally; the message says what and where."""


# ---------------------------------------------------------------------- YAML with CloudFormation tags


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the short forms (!Ref, !GetAtt, !Sub, ...), turned into their long forms."""


def _construct_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise TemplateError(f"!{tag_suffix}: unexpected node")
    if tag_suffix in ("Ref", "Condition"):
        return {tag_suffix: value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # !GetAtt Resource.Attribute; the attribute itself may contain dots (Endpoint.Address).
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def parse_template_text(text: str) -> dict[str, Any]:
    """A template's YAML (or JSON) text as plain dicts and lists, short tags in their long form."""
    body = yaml.load(text, Loader=_CfnLoader)  # a SafeLoader: no arbitrary objects
    if not isinstance(body, dict):
        raise TemplateError("a template is a mapping at its top level")
    return body


# ---------------------------------------------------------------------- what the reader returns


@dataclass(frozen=True)
class EventSource:
    name: str
    type: str  # SNS, SQS, Api, Schedule, ScheduleV2, ...
    properties: dict[str, Any]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str  # "app.lambda_handler"
    environment: dict[str, Any]  # unresolved: Globals merged with the function's own
    events: tuple[EventSource, ...]
    dead_letter_queue: Any | None  # unresolved TargetArn
    timeout: int
    memory_size: int = 128
    maximum_retry_attempts: int = DEFAULT_ASYNC_RETRIES

    @property
    def module_file(self) -> Path:
        return self.code_uri / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    def events_of(self, kind: str) -> list[EventSource]:
        return [event for event in self.events if event.type == kind]


@dataclass(frozen=True)
class ApiRouteSpec:
    """One Api event: what API Gateway routes to the function, and whether it wants an API key."""

    function_id: str
    event_name: str
    path: str  # "/v1/numbers/{phone}"
    method: str  # upper case; "ANY" matches every method
    api_key_required: bool
    rest_api_id: str  # logical id of the AWS::Serverless::Api (IMPLICIT_API when none is named)


@dataclass(frozen=True)
class ScheduleSpec:
    function_id: str
    event_name: str
    expression: str  # "rate(5 minutes)" or "cron(...)"
    enabled: bool
    input: str | None  # a constant JSON input replaces the scheduled event, as in EventBridge

    @property
    def rate_seconds(self) -> float | None:
        """The period of a rate(...) expression; None for cron(...), which runs only when triggered."""
        return rate_seconds(self.expression)


def rate_seconds(expression: str) -> float | None:
    text = expression.strip()
    if text.startswith(("cron(", "at(")):
        return None
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", text)
    if not match:
        raise TemplateError(f"schedule {expression!r} is neither rate(N minutes|hours|days) nor cron(...)")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).removesuffix("s")]
    return float(int(match.group(1)) * unit)


_NO_VALUE = object()  # AWS::NoValue: the property or list item disappears


@dataclass
class Template:
    path: Path
    body: dict[str, Any]
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        declared = self.body.get("Parameters", {})
        for name, value in self.parameter_overrides.items():
            if name not in declared:
                raise TemplateError(f"parameter override {name}: the template declares no such parameter")
            allowed = declared[name].get("AllowedValues")
            if allowed is not None and value not in [str(item) for item in allowed]:
                raise TemplateError(f"parameter override {name}={value!r}: allowed values are {allowed}")

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
        if "Default" not in spec:
            raise TemplateError(f"parameter {name} has no Default: pass it as a parameter override")
        return str(spec["Default"])

    def condition(self, name: str) -> bool:
        expression = self.body.get("Conditions", {}).get(name)
        if expression is None:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(expression, {}))

    def is_created(self, logical_id: str) -> bool:
        if logical_id not in self.resources:
            raise TemplateError(f"no resource {logical_id} in {self.path}")
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self.condition(condition)

    def resources_of(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource.get("Type") == resource_type and self.is_created(logical_id)
        }

    # ------------------------------------------------------------------ functions and their events

    def functions(self) -> list[FunctionSpec]:
        specs = []
        defaults = self.globals
        base_env = defaults.get("Environment", {}).get("Variables", {})
        for logical_id, resource in self.resources_of("AWS::Serverless::Function").items():
            properties = resource.get("Properties", {})
            # SAM merges Globals' variables with the function's own; the function's win.
            env = {**base_env, **properties.get("Environment", {}).get("Variables", {})}
            events = tuple(
                EventSource(name, spec["Type"], dict(spec.get("Properties", {})))
                for name, spec in properties.get("Events", {}).items()
            )
            code_uri = properties.get("CodeUri", defaults.get("CodeUri"))
            handler = properties.get("Handler", defaults.get("Handler"))
            if not isinstance(code_uri, str) or not isinstance(handler, str) or "." not in handler:
                raise TemplateError(f"{logical_id}: CodeUri and Handler (module.function) must be plain strings")
            invoke_config = {**defaults.get("EventInvokeConfig", {}), **properties.get("EventInvokeConfig", {})}
            specs.append(
                FunctionSpec(
                    logical_id=logical_id,
                    code_uri=(self.path.parent / code_uri).resolve(),
                    handler=handler,
                    environment=dict(env),
                    events=events,
                    dead_letter_queue=properties.get("DeadLetterQueue", {}).get("TargetArn"),
                    timeout=int(properties.get("Timeout", defaults.get("Timeout", 3))),
                    memory_size=int(properties.get("MemorySize", defaults.get("MemorySize", 128))),
                    maximum_retry_attempts=int(invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
                )
            )
        return specs

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions():
            if spec.logical_id == logical_id:
                return spec
        raise TemplateError(f"no function {logical_id} in {self.path}")

    def _api_properties(self, rest_api_id: str) -> dict[str, Any]:
        """An API's properties over the Globals' Api section, as SAM merges them."""
        api_globals: dict[str, Any] = self.body.get("Globals", {}).get("Api", {})
        own = self.resources.get(rest_api_id, {}).get("Properties", {}) if rest_api_id != IMPLICIT_API else {}
        return {**api_globals, **own}

    def api_routes(self) -> list[ApiRouteSpec]:
        routes = []
        for spec in self.functions():
            for source in spec.events_of("Api"):
                rest_api = source.properties.get("RestApiId", {"Ref": IMPLICIT_API})
                if not (isinstance(rest_api, dict) and isinstance(rest_api.get("Ref"), str)):
                    raise TemplateError(f"{spec.logical_id}.{source.name}: RestApiId must be !Ref of an Api resource")
                rest_api_id = rest_api["Ref"]
                api_auth = self._api_properties(rest_api_id).get("Auth", {})
                own_auth = source.properties.get("Auth", {})
                required = own_auth.get("ApiKeyRequired", api_auth.get("ApiKeyRequired", False))
                routes.append(
                    ApiRouteSpec(
                        function_id=spec.logical_id,
                        event_name=source.name,
                        path=str(source.properties["Path"]),
                        method=str(source.properties["Method"]).upper(),
                        api_key_required=bool(self.resolve(required, {})),
                        rest_api_id=rest_api_id,
                    )
                )
        return routes

    def api_cors(self, rest_api_id: str) -> dict[str, str] | None:
        """The API's Cors settings with parameters resolved; header values keep SAM's inner quotes."""
        cors = self._api_properties(rest_api_id).get("Cors")
        if cors is None:
            return None
        resolved = self.resolve(cors, {})
        if isinstance(resolved, str):  # the short form is the allowed origin alone
            return {"AllowOrigin": resolved}
        return {str(key): str(value) for key, value in resolved.items()}

    def schedules(self) -> list[ScheduleSpec]:
        found = []
        for spec in self.functions():
            for source in spec.events:
                if source.type not in ("Schedule", "ScheduleV2"):
                    continue
                properties = self.resolve(source.properties, {})
                expression = properties.get("Schedule") or properties.get("ScheduleExpression")
                if not isinstance(expression, str):
                    raise TemplateError(f"{spec.logical_id}.{source.name}: no schedule expression")
                rate_seconds(expression)  # fail at start on a malformed expression
                state = properties.get("State")
                enabled = bool(properties.get("Enabled", True)) and state != "DISABLED"
                found.append(ScheduleSpec(spec.logical_id, source.name, expression, enabled, properties.get("Input")))
        return found

    def outputs(
        self, physical: Mapping[str, str], *, unresolved: Callable[[str, TemplateError], None] | None = None
    ) -> dict[str, str]:
        """The template's Outputs resolved locally; outputs whose Condition is false are left out, and
        so are those naming a resource the local stack does not create (the dashboard), each reported
        to `unresolved`."""
        resolved = {}
        for name, spec in self.body.get("Outputs", {}).items():
            condition = spec.get("Condition")
            if condition is not None and not self.condition(condition):
                continue
            try:
                resolved[name] = str(self.resolve(spec["Value"], physical))
            except TemplateError as exc:
                if unresolved is not None:
                    unresolved(name, exc)
        return resolved

    # ------------------------------------------------------------------ intrinsic functions

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
            "AWS::NoValue": _NO_VALUE,
        }.get(name)

    def _ref(self, name: str, physical: Mapping[str, str]) -> Any:
        pseudo = self._pseudo(name)
        if pseudo is not None:
            return pseudo
        if name in self.body.get("Parameters", {}):
            return self.parameter(name)
        if name in physical:
            return physical[name]
        if name in self.resources and not self.is_created(name):
            raise TemplateError(f"!Ref {name}: its Condition is false, so it does not exist")
        raise TemplateError(f"!Ref {name}: not a parameter, and not created locally")

    def _get_att(self, target: str, attribute: str, physical: Mapping[str, str]) -> str:
        key = f"{target}.{attribute}"
        if key in physical:
            return physical[key]
        raise TemplateError(f"!GetAtt {key}: not available locally")

    def resolve(self, value: Any, physical: Mapping[str, str]) -> Any:
        """Resolve intrinsic functions in `value` (the physical map: logical id -> name/ARN/URL, and
        "<logical id>.<attribute>" -> attribute). AWS::NoValue removes the property (None at the top)."""
        resolved = self._resolve(value, physical)
        return None if resolved is _NO_VALUE else resolved

    def _resolve(self, value: Any, physical: Mapping[str, str]) -> Any:
        if isinstance(value, list):
            items = [self._resolve(item, physical) for item in value]
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            # An IAM statement's Condition is a mapping; the intrinsic Condition names one.
            if key.startswith("Fn::") or (key in ("Ref", "Condition") and isinstance(argument, str)):
                return self._function(key, argument, physical)
        resolved = {key: self._resolve(item, physical) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, key: str, argument: Any, physical: Mapping[str, str]) -> Any:
        if key == "Ref":
            return self._ref(str(self._resolve(argument, physical)), physical)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::GetAtt":
            target, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self._get_att(target, str(self._resolve(attribute, physical)), physical)
        if key == "Fn::Sub":
            return self._sub(argument, physical)
        if key == "Fn::If":
            condition, when_true, when_false = argument
            return self._resolve(when_true if self.condition(condition) else when_false, physical)
        if key == "Fn::Equals":
            left, right = (self._resolve(item, physical) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._resolve(argument[0], physical)
        if key == "Fn::And":
            return all(self._resolve(item, physical) for item in argument)
        if key == "Fn::Or":
            return any(self._resolve(item, physical) for item in argument)
        if key == "Fn::Select":
            index, items = argument
            chosen = self._resolve(items, physical)
            position = int(self._resolve(index, physical))
            if not isinstance(chosen, list) or not 0 <= position < len(chosen):
                raise TemplateError(f"Fn::Select: index {position} out of range for {chosen!r}")
            return chosen[position]
        if key == "Fn::Split":
            separator, text = argument
            return str(self._resolve(text, physical)).split(separator)
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self._resolve(items, physical))
        if key == "Fn::FindInMap":
            map_name, top, second = (str(self._resolve(item, physical)) for item in argument)
            try:
                return self.body["Mappings"][map_name][top][second]
            except KeyError as exc:
                raise TemplateError(f"Fn::FindInMap [{map_name}, {top}, {second}]: not in Mappings") from exc
        if key == "Fn::Base64":
            return base64.b64encode(str(self._resolve(argument, physical)).encode()).decode()
        if key == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if key == "Fn::ToJsonString":
            return json.dumps(self._resolve(argument, physical), separators=(",", ":"))
        raise TemplateError(f"{key} is not supported locally")

    def _sub(self, argument: Any, physical: Mapping[str, str]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        resolved_vars = {name: self._resolve(item, physical) for name, item in variables.items()}

        def substitute(match: re.Match[str]) -> str:
            literal, name = match.group(1), match.group(2).strip()
            if literal:  # ${!Name} is the text ${Name}
                return "${" + match.group(2) + "}"
            if name in resolved_vars:
                return str(resolved_vars[name])
            if "." in name and self._pseudo(name) is None:
                target, attribute = name.split(".", 1)
                return self._get_att(target, attribute, physical)
            value = self._ref(name, physical)
            if value is _NO_VALUE:
                raise TemplateError("Fn::Sub: ${AWS::NoValue} cannot be substituted")
            return str(value)

        return re.sub(r"\$\{(!?)([^}]+)\}", substitute, str(text))


def load_template(
    path: Path | str, *, parameter_overrides: Mapping[str, str] | None = None, region: str = "us-east-1"
) -> Template:
    """Parse template.yaml, short-form tags (!Ref, !GetAtt, !Sub, ...) included."""
    source = Path(path)
    try:
        body = parse_template_text(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    return Template(source.resolve(), body, dict(parameter_overrides or {}), region)
