"""A bench's own local stack in a child process (`python -m bench.<module> serve <workdir>`), so
that the clients measuring it do not share its interpreter; shared by the HTTP benches."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120


@dataclass
class ChildStack:
    process: subprocess.Popen[bytes]
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        """A boto3 client of the child's AWS emulator."""
        import boto3

        session: Any = boto3.session.Session()
        return session.client(
            service,
            region_name="us-east-1",
            endpoint_url=self.outputs["AwsEndpointUrl"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def rss_mb(self) -> float:
        """The stack process's resident memory (Linux), in MB; 0 where /proc is missing."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0.0
        line = next((line for line in status.splitlines() if line.startswith("VmRSS:")), "VmRSS: 0 kB")
        return int(line.split()[1]) / 1024


def start(module: str, workdir: Path, extra_env: dict[str, str] | None = None) -> ChildStack:
    """Run `python -m bench.<module> serve <workdir>` and wait for the stack's outputs.json."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "local"), str(ROOT / "layers" / "sms_consent"), str(ROOT)])
    env.update(extra_env or {})
    log = (workdir / "stack.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{module}", "serve", str(workdir)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    outputs = workdir / "outputs.json"
    deadline = time.monotonic() + START_TIMEOUT
    while not outputs.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the bench's local stack did not start: {(workdir / 'stack.log').read_text()[-3000:]}")
        time.sleep(0.2)
    time.sleep(0.2)  # written, maybe not flushed
    return ChildStack(process, json.loads(outputs.read_text()))


def stop(child: ChildStack) -> None:
    child.process.send_signal(signal.SIGTERM)
    try:
        child.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        child.process.kill()
        child.process.wait()
