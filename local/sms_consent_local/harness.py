"""Invoke a function the way `sam local invoke -e events/... FunctionId` would, without Docker.

The handler file and its environment come from template.yaml, resolved against the resources the
emulator holds; local-only settings (the outbox sender, the local CAPTCHA, the emulator's endpoint,
dummy credentials) are added on top. Each function's module is imported under a name of its own,
since every function's file is called app.py.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from sms_consent_local.template import ACCOUNT_ID, FunctionSpec, Template

LAYER_DIR = Path(__file__).resolve().parents[2] / "layers" / "sms_consent"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def local_overrides(outbox_path: Path, endpoint_url: str | None = None) -> dict[str, str]:
    """What differs on a laptop: handsets are a file, CAPTCHA takes test tokens, AWS is the emulator."""
    overrides = {
        "SENDER_ADAPTER": "outbox",
        "OUTBOX_PATH": str(outbox_path),
        # The Reassigned Numbers Database's stand-in: a file of disconnections beside the outbox.
        "REASSIGNED_NUMBERS_FILE": str(outbox_path.parent / "reassigned_numbers.jsonl"),
        "CAPTCHA_PROVIDER": "local",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "SmsConsentLocal",
    }
    if endpoint_url:
        overrides["AWS_ENDPOINT_URL"] = endpoint_url
    return overrides


def function_environment(
    template: Template,
    function_id: str,
    physical: Mapping[str, str],
    *,
    outbox_path: Path,
    endpoint_url: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The function's environment as Lambda would set it, with the local overrides on top."""
    spec = template.function(function_id)
    resolved = {name: template.resolve(value, physical) for name, value in spec.environment.items()}
    return {
        **{name: "" if value is None else str(value) for name, value in resolved.items()},
        **local_overrides(outbox_path, endpoint_url),
        **DUMMY_CREDENTIALS,
        "AWS_REGION": template.region,
        "AWS_DEFAULT_REGION": template.region,
        **(overrides or {}),
    }


class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    def __init__(
        self,
        function_name: str,
        memory_limit_in_mb: int = 512,
        timeout_seconds: int = 20,
        region: str = "us-east-1",
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.timeout_seconds = timeout_seconds
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in os.environ for the block; the environment is restored exactly afterwards."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def module_name_for(function_id: str) -> str:
    return f"lambda_{function_id}"


def import_handler_module(template: Template, function_id: str) -> ModuleType:
    """Import the function's handler file under a name of its own (every function's file is app.py).

    The layer is on sys.path as /opt/python is in Lambda, and the function's CodeUri during the import,
    as /var/task is, so a handler may import modules that sit next to it.
    """
    spec = template.function(function_id)
    if not spec.module_file.is_file():
        raise ImportError(f"{function_id}: handler file {spec.module_file} not found (CodeUri + Handler)")
    if str(LAYER_DIR) not in sys.path:
        sys.path.insert(0, str(LAYER_DIR))
    module_name = module_name_for(function_id)
    module_spec = importlib.util.spec_from_file_location(module_name, spec.module_file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.module_file}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    code_dir = str(spec.code_uri)
    sys.path.insert(0, code_dir)
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        sys.path.remove(code_dir)
    return module


def load_event(template: Template, event: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """An event given as a dict, or as a path (absolute, or relative to events/ next to the template)."""
    if isinstance(event, Mapping):
        return dict(event)
    path = Path(event)
    if not path.is_absolute():
        path = template.path.parent / "events" / path
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


class FunctionRunner:
    """Runs the template's functions in this process, each with its own environment.

    `invoke(..., reuse=True)` (the default here) keeps a warm module per function, as a warm Lambda
    container does; `reuse=False` imports the handler afresh, so import-time settings are re-read.
    """

    def __init__(self, template: Template, env: Mapping[str, Mapping[str, str]]) -> None:
        self.template = template
        self.env = env  # function id -> environment
        self._modules: dict[str, ModuleType] = {}
        self._specs: dict[str, FunctionSpec] = {}

    @classmethod
    def for_template(
        cls,
        template: Template,
        physical: Mapping[str, str],
        *,
        outbox_path: Path,
        endpoint_url: str | None = None,
        overrides: Mapping[str, str] | None = None,
    ) -> FunctionRunner:
        """A runner for every function of the template, environments resolved against `physical`."""
        env = {
            spec.logical_id: function_environment(
                template,
                spec.logical_id,
                physical,
                outbox_path=outbox_path,
                endpoint_url=endpoint_url,
                overrides=overrides,
            )
            for spec in template.functions()
        }
        return cls(template, env)

    def load(self, function_id: str, *, env_overrides: Mapping[str, str] | None = None) -> ModuleType:
        """Import (cold start) the function's handler module with its environment."""
        from sms_consent import wiring

        with environment({**self.env[function_id], **(env_overrides or {})}):
            wiring.reset()  # the layer's cached settings and clients belong to the previous import
            self._modules[function_id] = import_handler_module(self.template, function_id)
        return self._modules[function_id]

    def spec(self, function_id: str) -> FunctionSpec:
        """The function's spec, read from the template once (it resolves paths: a cost per call)."""
        found = self._specs.get(function_id)
        if found is None:
            found = self._specs[function_id] = self.template.function(function_id)
        return found

    def context_for(self, function_id: str) -> LambdaContext:
        spec = self.spec(function_id)
        return LambdaContext(
            function_id, memory_limit_in_mb=spec.memory_size, timeout_seconds=spec.timeout, region=self.template.region
        )

    def invoke(
        self,
        function_id: str,
        event: Mapping[str, Any] | str | Path,
        *,
        reuse: bool = True,
        apply_env: bool = True,
        env_overrides: Mapping[str, str] | None = None,
        context: Any = None,
    ) -> Any:
        """Call the handler with `event` (a dict, or a path under events/); a cold start when `reuse`
        is False or the function has not run yet.

        `apply_env=False` is for the local stack, which sets the (agreed) environment once for all.
        """
        payload = load_event(self.template, event)
        spec = self.spec(function_id)
        if not reuse or function_id not in self._modules:
            self.load(function_id, env_overrides=env_overrides)
        handler = getattr(self._modules[function_id], spec.handler_name)
        context = context if context is not None else self.context_for(function_id)
        if not apply_env:
            return handler(payload, context)
        with environment({**self.env[function_id], **(env_overrides or {})}):
            return handler(payload, context)


def invoke(
    function_id: str,
    event: Mapping[str, Any] | str | Path,
    *,
    template: Template,
    physical: Mapping[str, str],
    outbox_path: Path,
    endpoint_url: str | None = None,
    env_overrides: Mapping[str, str] | None = None,
    context: Any = None,
) -> Any:
    """One cold invocation, like `sam local invoke -e events/<event> <function_id>`: a fresh import
    of the handler with the template's environment (resolved against `physical`) and `env_overrides`."""
    runner = FunctionRunner.for_template(template, physical, outbox_path=outbox_path, endpoint_url=endpoint_url)
    return runner.invoke(function_id, event, reuse=False, env_overrides=env_overrides, context=context)
