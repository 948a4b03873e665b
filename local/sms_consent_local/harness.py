"""Invoke a function the way `sam local invoke -e events/... FunctionId` would, without Docker.

The handler file and its environment come from template.yaml, resolved against the resources the
emulator holds; local-only settings (the outbox sender, the local CAPTCHA) are added on top.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from sms_consent_local.template import ACCOUNT_ID, Template

LAYER_DIR = Path(__file__).resolve().parents[2] / "layers" / "sms_consent"


def local_overrides(outbox_path: Path, endpoint_url: str | None = None) -> dict[str, str]:
    """What differs on a laptop: handsets are a file, CAPTCHA takes test tokens, AWS is the emulator."""
    overrides = {
        "SENDER_ADAPTER": "outbox",
        "OUTBOX_PATH": str(outbox_path),
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
) -> dict[str, str]:
    spec = template.function(function_id)
    resolved = {name: str(template.resolve(value, physical)) for name, value in spec.environment.items()}
    return {**resolved, **local_overrides(outbox_path, endpoint_url), "AWS_REGION": template.region}


@dataclass
class LambdaContext:
    """The parts of the Lambda context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 20
    region: str = "us-east-1"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "local"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def import_handler_module(template: Template, function_id: str) -> ModuleType:
    """Import the function's handler file under a name of its own (every function's file is app.py)."""
    spec = template.function(function_id)
    if str(LAYER_DIR) not in sys.path:
        sys.path.insert(0, str(LAYER_DIR))
    module_name = f"lambda_{function_id}"
    module_spec = importlib.util.spec_from_file_location(module_name, spec.module_file)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load {spec.module_file}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module
    module_spec.loader.exec_module(module)
    return module


class FunctionRunner:
    """Runs the template's functions in this process, with their own environment."""

    def __init__(self, template: Template, env: Mapping[str, Mapping[str, str]]) -> None:
        self.template = template
        self.env = env  # function id -> environment
        self._modules: dict[str, ModuleType] = {}

    def load(self, function_id: str) -> ModuleType:
        """Import (cold start) the function's handler module with its environment."""
        from sms_consent import wiring

        with environment(self.env[function_id]):
            wiring.reset()
            self._modules[function_id] = import_handler_module(self.template, function_id)
        return self._modules[function_id]

    def invoke(
        self, function_id: str, event: dict[str, Any] | str | Path, *, reuse: bool = True, apply_env: bool = True
    ) -> Any:
        """Call the handler with `event` (a dict, or a path under events/); cold when `reuse` is False.

        `apply_env=False` is for the local stack, which sets the (agreed) environment once for all.
        """
        if not isinstance(event, dict):
            path = Path(event)
            if not path.is_absolute():
                path = self.template.path.parent / "events" / path
            event = json.loads(path.read_text(encoding="utf-8"))
        spec = self.template.function(function_id)
        if not reuse or function_id not in self._modules:
            self.load(function_id)
        handler = getattr(self._modules[function_id], spec.handler_name)
        context = LambdaContext(function_id, timeout_seconds=spec.timeout, region=self.template.region)
        if not apply_env:
            return handler(event, context)
        with environment(self.env[function_id]):
            return handler(event, context)
