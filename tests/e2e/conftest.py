"""The local stack as a newcomer starts it (`sms-consent local`), on free ports, in a scratch folder."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("sms-consent")
START_TIMEOUT = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    workdir: Path
    outputs: dict[str, str]
    log: Path
    _outbox_offset: int = field(default=0)

    @property
    def api_url(self) -> str:
        return self.outputs["ApiUrl"]

    @property
    def api_key(self) -> str:
        return self.outputs["ApiKey"]

    @property
    def endpoint(self) -> str:
        """The AWS emulator's URL (moto's server)."""
        return self.outputs["AwsEndpointUrl"]

    @property
    def outbox(self) -> Path:
        return Path(self.outputs["OutboxPath"])

    def client(self, service: str) -> Any:
        session: Any = boto3.session.Session()
        return session.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.outputs["AwsEndpointUrl"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def api(self, method: str, path: str, *, key: bool = True, **kwargs: Any) -> requests.Response:
        headers = {"x-api-key": self.api_key} if key else {}
        headers.update(kwargs.pop("headers", {}))
        return requests.request(method, self.api_url + path, headers=headers, timeout=30, **kwargs)

    def publish_inbound(self, origin: str, text: str, to: str = "+18005550100", **extra: str) -> str:
        message_id = extra.pop("inboundMessageId", str(uuid.uuid4()))
        payload = {
            "originationNumber": origin,
            "destinationNumber": to,
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": text,
            "inboundMessageId": message_id,
            "previousPublishedMessageId": extra.pop("previousPublishedMessageId", ""),
        }
        self.client("sns").publish(TopicArn=self.outputs["InboundSmsTopicArn"], Message=json.dumps(payload))
        return message_id

    def subscribe_probe(self, topic_arn: str) -> str:
        """A fresh queue subscribed to `topic_arn` (SNS envelopes in its bodies); returns its URL."""
        sqs = self.client("sqs")
        url: str = sqs.create_queue(QueueName=f"probe-{uuid.uuid4().hex[:12]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
        return url

    def receive(self, queue_url: str, *, timeout: float = 30) -> list[dict[str, Any]]:
        """Messages from a queue of the emulator: the first batch that arrives within `timeout`."""
        sqs = self.client("sqs")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages: list[dict[str, Any]] = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if messages:
                return messages
        return []

    def outbox_lines(self) -> list[dict[str, Any]]:
        if not self.outbox.exists():
            return []
        return [json.loads(line) for line in self.outbox.read_text(encoding="utf-8").splitlines() if line.strip()]

    def wait_outbox(
        self, predicate: Callable[[dict[str, Any]], bool], *, count: int = 1, timeout: float = 30
    ) -> list[dict[str, Any]]:
        """Lines matching `predicate`, once at least `count` of them are there (or fail after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [line for line in self.outbox_lines() if predicate(line)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} outbox line(s), found {found}; log: {self.log}")
            time.sleep(0.2)


def start_stack(workdir: Path, *extra_args: str) -> RunningStack:
    """`sms-consent local` in a subprocess, on ports the system picks (outputs.json says which)."""
    log = workdir / "stack.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in [name for name in env if name.startswith("AWS_")]:
        env.pop(name)
    process = subprocess.Popen(
        [str(CLI), "--workdir", str(workdir), "local", "--port", "0", "--aws-port", "0", *extra_args],
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    outputs_file = workdir / "outputs.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not outputs_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the local stack did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    time.sleep(0.2)
    return RunningStack(process, workdir, json.loads(outputs_file.read_text()), log)


def stop_stack(stack: RunningStack) -> int:
    stack.process.send_signal(signal.SIGINT)
    try:
        return stack.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        raise


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[RunningStack]:
    """A stack of its own, for a test whose data would disturb the shared one (thousands of blocklist
    rows; sign-ups that use up an area code's or a country's budget of unconfirmed prompts)."""
    workdir = tmp_path / "stack"
    workdir.mkdir()
    stack = start_stack(workdir)
    yield stack
    stop_stack(stack)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Any:
    """Debian's headless Chromium, driven by Playwright (its own browser download is unavailable here)."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        # A failure, not a skip: the pages are features, and only these tests show they work.
        pytest.fail(
            f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (Playwright's download is unavailable)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
