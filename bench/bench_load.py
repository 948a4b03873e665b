"""Load on the local stack (issue 16): 10,000 inbound messages from 2,000 numbers and 1,000 web sign-ups,
duplicates and resubmissions mixed in, driven by Locust; then every opt-out, reply and message checked.

The stack is `LocalStack` (what `sms-consent local` starts) in a child process (bench/child_stack.py),
with its schedules pushed out of the run: the traffic-pumping detector would rightly call 1,000 prompts in
five minutes on a deployment without history a volume spike (60 prompts a bucket) and pause sign-ups,
which is not what this measures. It adds one route, GET /bench/calls: the AWS requests its functions and
pollers made so far, by service and operation (botocore's client, counted in the child).

The load runs in a third process, `python -m bench.locustfile` (Locust's local runner; gevent), playing the
scripts of bench/load_plan.py. Baseline, same stack, same run, before the load: one number at a time
texting HELP and one visitor at a time signing up, publish (or POST) to the reply in the outbox.

Figures: p50/p99 from publish to reply (each outbox line charged to the message that caused it) and from
POST to prompt, against the idle round trip; messages and sign-ups per second against one at a time;
DynamoDB requests per message. `LOAD_SCALE=0.1` for a tenth; LOAD_USERS concurrent numbers (64).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import child_stack, load_plan
from bench.load_plan import Findings, Plan, percentile

ROOT = Path(__file__).resolve().parent.parent
NUMBERS, SIGNUPS = 2_000, 1_000
IDLE_ROUND_TRIPS = 12
CALLS_PATH, CALLS_FUNCTION = "/bench/calls", "BenchCalls"
NO_SCHEDULES = 10 * 24 * 3600.0  # seconds: no detector or provider tick during the run


# ---------------------------------------------------------------------- the child: the stack


def serve(workdir: Path) -> int:
    """`sms-consent local` on free ports without schedule ticks, counting the AWS requests it makes."""
    import botocore.client

    from sms_consent_local.stack import ApiRoute, LocalStack, route_pattern

    calls: Counter[str] = Counter()
    lock = threading.Lock()
    make_api_call = getattr(botocore.client.BaseClient, "_make_api_call")  # noqa: B009 (private, untyped)

    def counted(client: Any, operation: str, params: Any) -> Any:
        with lock:
            calls[f"{client.meta.service_model.service_name}:{operation}"] += 1
        return make_api_call(client, operation, params)

    setattr(botocore.client.BaseClient, "_make_api_call", counted)  # noqa: B010

    class BenchStack(LocalStack):
        def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
            if function_id == CALLS_FUNCTION:
                with lock:
                    return {"statusCode": 200, "body": json.dumps(dict(calls))}
            return super().invoke(function_id, event)

        def _serve_api(self) -> None:
            super()._serve_api()
            self.routes.append(ApiRoute("GET", CALLS_PATH, route_pattern(CALLS_PATH), CALLS_FUNCTION, False))

    stack = BenchStack(api_port=0, aws_port=0, workdir=workdir, schedule_seconds=NO_SCHEDULES)
    signal.signal(signal.SIGTERM, lambda signum, frame: stack.stopping.set())
    try:
        stack.start()
        stack.stopping.wait()
    finally:
        stack.stop()
    return 0


# ---------------------------------------------------------------------- driving the load


def drive(plan: Plan, outputs: dict[str, str], scratch: Path, users: int, deadline: float = 3600.0) -> dict[str, Any]:
    """Play `plan` with Locust in its own process; its results (see bench/locustfile.py)."""
    plan_file, outputs_file, results_file = scratch / "plan.json", scratch / "outputs.json", scratch / "results.json"
    plan_file.write_text(plan.to_json())
    outputs_file.write_text(json.dumps(outputs))
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layers" / "sms_consent"), str(ROOT)])
    log = scratch / "locust.log"
    command = [sys.executable, "-m", "bench.locustfile", str(plan_file), str(outputs_file), str(results_file)]
    command += ["--users", str(users), "--deadline", str(deadline)]
    with log.open("wb") as out:
        done = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=deadline + 120)
    if done.returncode != 0 or not results_file.exists():
        raise RuntimeError(f"the load driver failed ({done.returncode}): {log.read_text()[-3000:]}")
    results: dict[str, Any] = json.loads(results_file.read_text())
    return results


def examine(plan: Plan, results: dict[str, Any], outputs: dict[str, str], client: Any, probe: str) -> Findings:
    """Wait for the stack to go quiet, then compare the outbox, the table, the bus probe and the
    dead-letter queues with the plan."""
    sqs = client("sqs")
    outbox = Path(outputs["OutboxPath"])
    load_plan.wait_drained(sqs, outbox)
    view = load_plan.read_table(client("dynamodb"), outputs["ConsentTableName"])
    return load_plan.check(
        plan,
        results,
        load_plan.read_outbox(outbox),
        view,
        load_plan.drain_probe(sqs, probe),
        load_plan.dead_letters(sqs),
    )


# ---------------------------------------------------------------------- the idle baseline


def _wait_line(outbox: Path, phone: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in load_plan.read_outbox(outbox):
            if line["to"] == phone:
                return line
        time.sleep(0.02)
    raise RuntimeError(f"no reply to {phone} within {timeout} s")


def idle_round_trips(child: child_stack.ChildStack, count: int) -> tuple[list[float], list[float]]:
    """One at a time: HELP from a fresh number to its reply, and a sign-up to its prompt (seconds)."""
    import requests

    from bench.load_plan import Step, inbound_payload, number, signup_body, signup_headers

    outputs = child.outputs
    outbox, sns = Path(outputs["OutboxPath"]), child.client("sns")
    texts, signups = [], []
    for index in range(count):
        phone = number("510", index)
        step = Step("sms", f"idle-{index}", "HELP")
        started = time.time()
        sns.publish(TopicArn=outputs["InboundSmsTopicArn"], Message=inbound_payload(phone, step))
        texts.append(load_plan._epoch(_wait_line(outbox, phone)["sent_at"]) - started)
    with requests.Session() as session:
        for index in range(count):
            phone = number("510", 5_000 + index)
            started = time.time()
            response = session.post(
                outputs["ApiUrl"] + "/v1/optins",
                data=json.dumps(signup_body(phone)),
                headers=signup_headers(f"10.250.0.{index}"),
                timeout=60,
            )
            if response.status_code != 202:
                raise RuntimeError(f"idle sign-up: {response.status_code} {response.text[:200]}")
            signups.append(load_plan._epoch(_wait_line(outbox, phone)["sent_at"]) - started)
    return texts, signups


# ---------------------------------------------------------------------- report


def _calls(api: str) -> Counter[str]:
    import requests

    response = requests.get(api + CALLS_PATH, timeout=30)
    response.raise_for_status()
    return Counter({str(name): int(count) for name, count in response.json().items()})


def _median(values: list[float]) -> float:
    return percentile(values, 0.5)


def report(
    plan: Plan,
    results: dict[str, Any],
    found: Findings,
    idle: tuple[list[float], list[float]],
    calls: Counter[str],
    drained: float,
) -> list[str]:
    from rich.console import Console
    from rich.table import Table

    elapsed = float(results["elapsed"])
    idle_text, idle_signup = _median(idle[0]), _median(idle[1])
    table = Table(title="Load on the local stack (Locust), against the idle round trip measured in the same run")
    for name in ("what", "under load", "idle (one at a time)", "ratio"):
        table.add_column(name, justify="right")
    for name, values, base in (
        ("inbound publish -> reply", found.reply_latencies, idle_text),
        ("sign-up POST -> prompt", found.signup_latencies, idle_signup),
    ):
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        table.add_row(f"{name} p50", f"{p50 * 1000:,.0f} ms", f"{base * 1000:,.0f} ms", f"{p50 / base:.1f}x")
        table.add_row(f"{name} p99", f"{p99 * 1000:,.0f} ms", f"{base * 1000:,.0f} ms", f"{p99 / base:.1f}x")
    messages_per_s = plan.inbound_publishes / elapsed
    signups_per_s = plan.posts / elapsed
    table.add_row(
        "inbound messages/s", f"{messages_per_s:.1f}", f"{1 / idle_text:.1f}", f"{messages_per_s * idle_text:.1f}x"
    )
    table.add_row("sign-ups/s", f"{signups_per_s:.1f}", f"{1 / idle_signup:.1f}", f"{signups_per_s * idle_signup:.1f}x")
    dynamodb = {name: count for name, count in calls.items() if name.startswith("dynamodb:")}
    units = plan.distinct_inbound + plan.posts
    table.add_row("DynamoDB requests per message or sign-up", f"{sum(dynamodb.values()) / units:.1f}", "", "")
    out = io.StringIO()
    Console(file=out, width=120, force_terminal=False, color_system=None).print(table)
    top = ", ".join(f"{name.split(':')[1]} {count:,}" for name, count in Counter(dynamodb).most_common(6))
    problems = found.problems
    confirming = sum(1 for script in plan.signups for step in script.steps if step.action == "sms")
    texting = plan.inbound_publishes - confirming
    lines = [
        *out.getvalue().rstrip().splitlines(),
        f"{plan.inbound_publishes:,} inbound publishes ({plan.distinct_inbound:,} distinct, {plan.duplicates:,} "
        f"duplicate deliveries): {texting:,} from {len(plan.conversations):,} texting numbers, {confirming:,} YES "
        f"from sign-up numbers; {plan.posts:,} POST /v1/optins for {len(plan.signups):,} numbers (resubmissions "
        f"included); {found.outbox_lines:,} outbox lines, {len(found.dead_letters)} dead-letter queues checked",
        f"Locust users: {results['users']}; load {elapsed:.1f} s, then {drained:.1f} s until every queue was empty",
        f"DynamoDB requests during the load: {sum(dynamodb.values()):,} ({top}); stream reads "
        f"{sum(c for n, c in calls.items() if n.startswith('dynamodbstreams:')):,}",
        "ratios: latency under load / idle p50; throughput x idle p50 = how many round trips overlapped. The rates"
        " are the mix's, set by the driver: sign-up users are a fifth of the users and their scripts wait for"
        " prompts and SMS confirmations (bench_local_throughput measures sign-ups alone)",
    ]
    if problems:
        lines.append(f"DEFECTS ({sum(len(v) for v in problems.values())}):")
        for name, value in problems.items():
            items = list(value.items()) if isinstance(value, dict) else value
            lines.append(f"  {name}: {len(items)}, first: {items[:3]}")
    else:
        lines.append(
            "checked: every STOP-ed number opted out in the table, each opt-out answered once, no second prompt or "
            "confirmation, every distinct message's outcome present, replies exactly as scripted, dead-letter "
            "queues empty"
        )
    return lines


def measure(scale: float = 1.0, users: int = 64) -> list[str]:
    plan = load_plan.make_plan(max(6, round(NUMBERS * scale)), max(4, round(SIGNUPS * scale)))
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        child = child_stack.start("bench_load", workdir, {"POWERTOOLS_LOG_LEVEL": "WARNING"})
        try:
            outputs = child.outputs
            probe = load_plan.subscribe_received_probe(
                child.client("sqs"), child.client("events"), outputs["EventBusName"]
            )
            idle = idle_round_trips(child, IDLE_ROUND_TRIPS)
            before = _calls(outputs["ApiUrl"])
            results = drive(plan, outputs, workdir, users)
            started = time.monotonic()
            load_plan.wait_drained(child.client("sqs"), Path(outputs["OutboxPath"]))
            drained = time.monotonic() - started
            calls = _calls(outputs["ApiUrl"]) - before
            found = examine(plan, results, outputs, child.client, probe)
            # The baseline's own lines are not the load's: drop them from the count.
            found.outbox_lines -= 2 * IDLE_ROUND_TRIPS
        finally:
            child_stack.stop(child)
    return report(plan, results, found, idle, calls, drained)


def run() -> list[str]:
    return measure(float(os.environ.get("LOAD_SCALE", "1")), int(os.environ.get("LOAD_USERS", "64")))


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "serve":
        return serve(Path(argv[1]))
    print("\n".join(run()))
    return 0


if __name__ == "__main__":
    for extra in (ROOT / "layers" / "sms_consent", ROOT / "local", ROOT):
        if str(extra) not in sys.path:
            sys.path.insert(0, str(extra))
    sys.exit(main(sys.argv[1:]))
