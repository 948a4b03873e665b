"""Cold-start import time of every handler, as a ratio to the floor: `import boto3` + one client.

Each figure is the median of several fresh interpreters, each timing only its own imports (not the
interpreter's start). Handlers are found in template.yaml and imported the way Lambda does: the
function's CodeUri as the task root and the layer's package on the path, with the template's default
parameters (the X-Ray SDK loads only with TraceAwsCalls=true; its cost is printed too). Target: 1.3x.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNS = 7
TARGET = 1.3

FLOOR = "import boto3; boto3.client('sns', region_name='us-east-1')"
TIMED = "import time; started = time.perf_counter(); {code}; print(time.perf_counter() - started)"

# Stand-ins for what the template resolves at deploy time; handlers validate these at import.
DEPLOYED_VALUES = {
    "TABLE_NAME": "sms-consent-ConsentTable-ABC123",
    "OUTBOUND_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:sms-consent-OutboundRequestsTopic",
    "EVENT_BUS_NAME": "sms-consent-dev",
    "DEFERRED_SEND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/DeferredSendQueue",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/DeferredSendSchedulerRole",
}


def _functions() -> tuple[dict[str, tuple[Path, str]], dict[str, str]]:
    from cfnlint.decode import cfn_yaml

    template: Any = cfn_yaml.load(str(ROOT / "template.yaml"))
    parameters = template.get("Parameters", {})
    env: dict[str, str] = {}
    for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            env[name] = value
        elif isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
            env[name] = str(parameters[value["Ref"]].get("Default", ""))
        else:
            env[name] = DEPLOYED_VALUES.get(name, "")
    conditions = template.get("Conditions", {})

    def condition(name: str) -> bool:
        # The template's conditions are `!Equals [!Ref Parameter, "value"]`: take each parameter's default.
        left, right = conditions[name]["Fn::Equals"]
        value = str(parameters[left["Ref"]].get("Default", "")) if isinstance(left, dict) else str(left)
        return value == str(right)

    for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, dict) and "Fn::If" in value:
            test, when_true, when_false = value["Fn::If"]
            env[name] = str(when_true if condition(test) else when_false)
    functions = {}
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Function":
            properties = resource["Properties"]
            module = properties["Handler"].rsplit(".", 1)[0]
            functions[logical_id] = (ROOT / properties["CodeUri"], module)
    return functions, env


def _median_seconds(code: str, cwd: Path, env: dict[str, str]) -> float:
    samples = []
    for _ in range(RUNS):
        result = subprocess.run(
            [sys.executable, "-c", TIMED.format(code=code)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(result.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def run() -> list[str]:
    functions, function_env = _functions()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        # What Lambda sets: Powertools enables the tracer only inside Lambda.
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        **function_env,
        "PYTHONPATH": str(ROOT / "layers" / "sms_consent"),
        "PYTHONDONTWRITEBYTECODE": "",
    }
    floor = _median_seconds(FLOOR, ROOT, env)
    lines = [f"floor (import boto3 + one client): {floor * 1000:.0f} ms, median of {RUNS}"]
    worst = 0.0
    for logical_id, (code_dir, module) in sorted(functions.items()):
        try:
            seconds = _median_seconds(f"import {module}", code_dir, env)
        except subprocess.CalledProcessError as exc:
            lines.append(f"{logical_id:<26} import failed: {exc.stderr.strip().splitlines()[-1]}")
            worst = float("inf")
            continue
        ratio = seconds / floor
        worst = max(worst, ratio)
        verdict = "ok" if ratio <= TARGET else f"over the {TARGET}x target"
        lines.append(f"{logical_id:<26} {seconds * 1000:6.0f} ms  {ratio:4.2f}x floor  {verdict}")
    lines.append(f"worst: {worst:.2f}x (target <= {TARGET}x)")
    traced = {**env, "POWERTOOLS_TRACE_DISABLED": "false"}
    with_sdk = max(_median_seconds(f"import {module}", code_dir, traced) for code_dir, module in functions.values())
    lines.append(f"with TraceAwsCalls=true (X-Ray SDK loaded): worst {with_sdk / floor:.2f}x floor")
    return lines
