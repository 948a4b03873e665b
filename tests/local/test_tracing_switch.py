"""The X-Ray SDK patches botocore only where tracing of AWS calls is on (TraceAwsCalls): by default a
handler's cold start does not pay for it, and with the parameter set every function traces its AWS
calls."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sms_consent_local.template import load_template

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("parameter", "disabled"), [(None, "true"), ("false", "true"), ("true", "false")])
def test_every_function_gets_the_tracing_switch_from_the_parameter(parameter: str | None, disabled: str) -> None:
    overrides = {"TraceAwsCalls": parameter} if parameter else {}
    template = load_template(ROOT / "template.yaml", parameter_overrides=overrides)
    for spec in template.functions():
        assert template.resolve(spec.environment["POWERTOOLS_TRACE_DISABLED"], {}) == disabled, spec.logical_id


@pytest.mark.parametrize(("trace_disabled", "loaded"), [("true", False), ("false", True)])
def test_a_handler_imports_the_xray_sdk_only_when_tracing_is_on(trace_disabled: str, loaded: bool) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT / "layers" / "sms_consent"),
        "AWS_REGION": "us-east-1",
        "TABLE_NAME": "sms-consent-table",
        "EVENT_BUS_NAME": "sms-consent-dev",
        "OUTBOUND_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:outbound",
        # What Lambda sets: Powertools turns the tracer on inside Lambda unless told otherwise.
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "consent-feed",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "POWERTOOLS_TRACE_DISABLED": trace_disabled,
    }
    # Powertools imports the SDK's core either way; the patch of botocore is what costs ~100 ms at import.
    probe = "import sys, app; print('aws_xray_sdk.ext.botocore.patch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT / "functions" / "consent_feed", env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(loaded)
