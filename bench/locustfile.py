"""The load driver: Locust users play the scripts of `bench/load_plan.py` against a running local stack.

Run in a process of its own (Locust monkey-patches the standard library with gevent on import):

    python -m bench.locustfile PLAN_JSON OUTPUTS_JSON RESULTS_JSON [--users N]

It starts Locust's local runner with its library API, `ConversationUser`s publishing inbound messages
to InboundSmsTopic (boto3, against the stack's emulator) and `SignupUser`s posting /v1/optins (Locust's
HTTP client), until every script is played, then writes RESULTS_JSON: the first publish time of every
inbound message, the first POST time of every sign-up, what failed, and Locust's request statistics.
The file also works as `locust -f bench/locustfile.py` with LOAD_PLAN, LOAD_OUTPUTS (and LOAD_RESULTS) set.

Every number plays its script alone and in order; a step that expects replies waits for them to appear in
the stack's outbox (one greenlet tails the file), so a number's replies come in script order.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gevent  # type: ignore[import-untyped]  # gevent ships no stubs
from locust import HttpUser, User, events, task
from locust.env import Environment
from locust.exception import StopUser

from bench.load_plan import Plan, Script, Step, inbound_payload, signup_body, signup_headers, tag

REPLY_TIMEOUT = 180.0  # seconds a number waits for a reply before the driver counts it as missing
TAIL_INTERVAL = 0.05


class Shared:
    """What every user of the run shares: the plan's queues, the outbox tail and the results."""

    def __init__(self, plan: Plan, outputs: dict[str, str]) -> None:
        self.outputs = outputs
        self.conversations: Iterator[Script] = iter(plan.conversations)
        self.signups: Iterator[Script] = iter(plan.signups)
        self.remaining = len(plan.conversations) + len(plan.signups)
        self.replies: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.published: dict[str, float] = {}
        self.posted: dict[str, float] = {}
        self.failures: list[str] = []
        self.outbox = Path(outputs["OutboxPath"])
        self._offset = 0
        self._partial = b""
        self._sns: Any = None

    def sns(self) -> Any:
        if self._sns is None:
            import boto3
            from botocore.config import Config

            session: Any = boto3.session.Session()
            self._sns = session.client(
                "sns",
                region_name="us-east-1",
                endpoint_url=self.outputs["AwsEndpointUrl"],
                aws_access_key_id="local",
                aws_secret_access_key="local",
                config=Config(max_pool_connections=256, retries={"max_attempts": 3, "mode": "standard"}),
            )
        return self._sns

    def tail(self) -> None:
        """Read what the outbox gained since the last call (one greenlet calls this in a loop)."""
        if not self.outbox.exists():
            return
        with self.outbox.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        data = self._partial + chunk
        *complete, self._partial = data.split(b"\n")
        for raw in complete:
            if raw.strip():
                line = json.loads(raw)
                self.replies[str(line["to"])].append(line)

    def finished(self) -> None:
        self.remaining -= 1


SHARED: Shared | None = None
LIBRARY_RUN = False  # main() runs and ends the test itself


def shared() -> Shared:
    if SHARED is None:
        raise RuntimeError("the plan is not loaded: run `python -m bench.locustfile` or set LOAD_PLAN/LOAD_OUTPUTS")
    return SHARED


def _load_from_environment() -> None:
    global SHARED
    if SHARED is None and os.environ.get("LOAD_PLAN") and os.environ.get("LOAD_OUTPUTS"):
        plan = Plan.from_json(Path(os.environ["LOAD_PLAN"]).read_text())
        SHARED = Shared(plan, json.loads(Path(os.environ["LOAD_OUTPUTS"]).read_text()))


@events.test_start.add_listener
def _start_tail(environment: Environment, **kwargs: Any) -> None:
    _load_from_environment()
    state = shared()

    def loop() -> None:
        while True:
            state.tail()
            gevent.sleep(TAIL_INTERVAL)

    def quit_when_done() -> None:  # under `locust -f`: end the run once every script is played
        while state.remaining > 0:
            gevent.sleep(0.2)
        if environment.runner is not None:
            environment.runner.quit()

    gevent.spawn(loop)
    if not LIBRARY_RUN:
        gevent.spawn(quit_when_done)


@events.test_stop.add_listener
def _write_results(environment: Environment, **kwargs: Any) -> None:
    target = os.environ.get("LOAD_RESULTS")
    if target and SHARED is not None:
        Path(target).write_text(json.dumps(results(environment)))


def results(environment: Environment) -> dict[str, Any]:
    state = shared()
    stats = {
        name: {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p99_ms": entry.get_response_time_percentile(0.99),
        }
        for (name, method), entry in environment.stats.entries.items()
    }
    return {"published": state.published, "posted": state.posted, "failures": state.failures, "stats": stats}


class ScriptPlayer:
    """Plays one script's steps; the user classes differ only in where their scripts come from."""

    environment: Environment

    def play(self, script: Script, post: Any = None) -> None:
        state = shared()
        expected = 0
        for step in script.steps:
            if step.action in ("sms", "dup"):
                self._publish(script.phone, step)
            elif step.action == "post":
                self._post(script, step, post)
            elif step.action == "post_pair":
                pair = [gevent.spawn(self._post, script, step, post) for _ in range(2)]
                gevent.joinall(pair, raise_error=True)
            expected += len(step.expect)
            if step.wait and not self._await(script, expected):
                got = [tag(line) for line in state.replies[script.phone]]
                state.failures.append(f"{script.kind} {script.phone}: waited for {expected} replies, got {got}")
                return

    def _publish(self, phone: str, step: Step) -> None:
        state = shared()
        started = time.time()
        error: Exception | None = None
        try:
            state.sns().publish(TopicArn=state.outputs["InboundSmsTopicArn"], Message=inbound_payload(phone, step))
        except Exception as exc:
            error = exc
            state.failures.append(f"publish {phone} {step.text!r}: {exc}")
        state.published.setdefault(step.message_id, started)
        self.environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="SNS",
            name="publish duplicate" if step.action == "dup" else "publish",
            response_time=(time.time() - started) * 1000,
            response_length=0,
            exception=error,
            context={},
        )

    def _post(self, script: Script, step: Step, post: Any) -> None:
        state = shared()
        state.posted.setdefault(script.phone, time.time())
        with post(
            "/v1/optins",
            data=json.dumps(signup_body(script.phone)),
            headers=signup_headers(script.client_ip),
            name="POST /v1/optins",
            catch_response=True,
        ) as response:
            if response.status_code not in step.statuses:
                message = f"POST {script.phone}: {response.status_code} {response.text[:200]} (wanted {step.statuses})"
                state.failures.append(message)
                response.failure(message)

    def _await(self, script: Script, count: int) -> bool:
        """Wait until the number has `count` replies; fire a `reply` request for each new one."""
        state = shared()
        deadline = time.monotonic() + REPLY_TIMEOUT
        started = time.time()
        while len(state.replies[script.phone]) < count:
            if time.monotonic() > deadline:
                return False
            gevent.sleep(TAIL_INTERVAL)
        self.environment.events.request.fire(  # type: ignore[no-untyped-call]
            request_type="outbox",
            name="reply awaited",
            response_time=(time.time() - started) * 1000,
            response_length=0,
            exception=None,
            context={},
        )
        return True


class ConversationUser(ScriptPlayer, User):
    """A handset after another: each texts the stack its script (InboundSmsTopic, via the emulator)."""

    weight = 4

    @task
    def converse(self) -> None:
        state = shared()
        script = next(state.conversations, None)
        if script is None:
            raise StopUser()
        try:
            self.play(script)
        finally:
            state.finished()


class SignupUser(ScriptPlayer, HttpUser):
    """A visitor after another: each fills in the web form (POST /v1/optins) and may confirm by SMS."""

    weight = 1

    @task
    def sign_up(self) -> None:
        state = shared()
        script = next(state.signups, None)
        if script is None:
            raise StopUser()
        try:
            self.play(script, self.client.post)
        finally:
            state.finished()


_load_from_environment()  # under `locust -f`: the plan and the stack from LOAD_PLAN and LOAD_OUTPUTS
if SHARED is not None:
    SignupUser.host = SHARED.outputs["ApiUrl"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("plan", type=Path)
    parser.add_argument("outputs", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--users", type=int, default=64, help="concurrent numbers (64)")
    parser.add_argument("--deadline", type=float, default=3600.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    global SHARED, LIBRARY_RUN
    LIBRARY_RUN = True
    plan = Plan.from_json(args.plan.read_text())
    SHARED = Shared(plan, json.loads(args.outputs.read_text()))
    outputs = SHARED.outputs
    total = max(2, args.users)
    signup_users = min(max(1, total // 5), max(1, len(plan.signups))) if plan.signups else 0
    conversation_users = total - signup_users if plan.conversations else 0
    ConversationUser.fixed_count = conversation_users
    SignupUser.fixed_count = signup_users
    user_classes: list[type[User]] = [cls for cls, n in ((ConversationUser, conversation_users),
                                                          (SignupUser, signup_users)) if n]  # fmt: skip
    environment = Environment(user_classes=user_classes, events=events, host=outputs["ApiUrl"])
    runner = environment.create_local_runner()
    started = time.time()
    runner.start(conversation_users + signup_users, spawn_rate=1000)
    deadline = time.monotonic() + args.deadline
    while SHARED.remaining > 0 and time.monotonic() < deadline:
        gevent.sleep(0.2)
    if SHARED.remaining:
        SHARED.failures.append(f"{SHARED.remaining} scripts unfinished after {args.deadline} s")
    elapsed = time.time() - started
    runner.quit()
    found = results(environment)
    found["elapsed"] = elapsed
    found["users"] = {"conversations": conversation_users, "signups": signup_users}
    args.results.write_text(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
