"""The local stack under load: sign-ups per second through POST /v1/optins as the table grows, from
several concurrent clients, against an echo function on the same server, measured in the same run.

The stack is `LocalStack` (what `sms-consent local` starts: moto's server, the API, every function
wired to its events) in a child process, so the clients do not share its interpreter; the bench adds
one route to it, POST /bench/echo, served by a function that returns the body, run in a pool as large
as OptinApiFunction's, and one that fills the table: copies of the number item (SK STATE) a real
sign-up wrote, under fresh numbers, put straight into moto's table under the emulator's lock
(5,000 a request; not into the stream, see BenchStack.fill).
Goal: sign-ups per second flat from 1,000 to 100,000 items, and at least 20% of echo.

Also measured, in this process and without a clock: the memory one TransactWriteItems allocates in
moto with and without sms_consent_local.moto_patches, on a table of such items (moto as it ships
copies the whole table each time: the memory the issue saw grow during bursts).
"""

from __future__ import annotations

import io
import json
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import child_stack

ROOT = Path(__file__).resolve().parent.parent
TABLE_SIZES = (1_000, 10_000, 100_000)
CLIENTS = 8  # concurrent client threads, each with its own keep-alive session
SIGNUPS = 160  # measured sign-ups per table size (each a fresh number, client IP and 1k block)
ECHOES = 400  # measured echo requests per table size
WARMUP = 2 * CLIENTS  # requests before each measurement: warm containers in every pool slot
GOAL = 0.20
FLAT = 0.75  # the 100k rate at least this share of the 1k rate counts as flat (noise, not the table)
ECHO_PATH, ECHO_FUNCTION = "/bench/echo", "BenchEchoFunction"
FILL_PATH, FILL_FUNCTION = "/bench/fill", "BenchFill"
FILL_CHUNK = 5_000  # items per fill request: the emulator's lock is let go between them
OPTIN = "OptinApiFunction"
CONSENT_TEXT = (
    "I agree to receive Example Corp Alerts, 4 msgs/month. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help."
)


def phone(index: int) -> str:
    """A valid US number in a 1k block of its own (sign-ups are limited to 30 an hour per block)."""
    return f"+1650{201 + index // 10}{index % 10}{index % 1000:03d}"


def client_ip(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"  # 30 sign-ups an hour per IP


def signup(index: int) -> tuple[str, bytes, dict[str, str]]:
    """POST /v1/optins for a new number, as the web form sends it (local CAPTCHA: test-pass)."""
    body = {
        "phone": phone(index),
        "program": "alerts",
        "source": "web_form",
        "use_double_opt_in": True,
        "captcha_token": "test-pass",
        "consent_text": CONSENT_TEXT,
        "page_url": "https://example.com/signup",
    }
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Mozilla/5.0 (bench) sms-consent",
        "Origin": "https://example.com",
        "X-Forwarded-For": client_ip(index),  # the local API's sourceIp, as API Gateway's
    }
    return "/v1/optins", json.dumps(body).encode(), headers


# ---------------------------------------------------------------------- the child: the stack


def serve(workdir: Path) -> int:
    """`sms-consent local` on free ports, plus POST /bench/echo served by a function of its own."""
    from sms_consent_local.stack import ApiRoute, LocalStack, route_pattern

    def echo(event: dict[str, Any]) -> dict[str, Any]:
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": event.get("body") or ""}

    class BenchStack(LocalStack):
        def invoke(self, function_id: str, event: dict[str, Any]) -> Any:
            if function_id == FILL_FUNCTION:
                return {"statusCode": 200, "body": json.dumps(self.fill(json.loads(event["body"])))}
            if function_id != ECHO_FUNCTION:
                return super().invoke(function_id, event)
            with self.pools[ECHO_FUNCTION]:  # a function of the stack, with OptinApiFunction's concurrency
                return echo(event)

        def fill(self, request: dict[str, Any]) -> int:
            """Copies of `model` under numbers start..start+count-1, put into moto's table in this
            process, under the emulator's lock (as one request). Not into the table's stream: the
            stack's poller would read every record (the consent feed's filter drops them) for minutes,
            and that backlog, not the table, would be measured."""
            from moto.dynamodb.models import dynamodb_backends

            from sms_consent_local.template import ACCOUNT_ID

            model: dict[str, Any] = request["model"]
            number = model["PK"]["S"].removeprefix("PHONE#")
            text = json.dumps(model)
            with self.aws_lock:
                table = dynamodb_backends[ACCOUNT_ID]["us-east-1"].get_table(self.created.physical["ConsentTable"])
                stream, table.stream_shard = table.stream_shard, None
                try:
                    for serial in range(request["start"], request["start"] + request["count"]):
                        table.put_item(json.loads(text.replace(number, f"+1212{serial:07d}")))
                finally:
                    table.stream_shard = stream
                return len(table)

        def _serve_api(self) -> None:
            self.pools[ECHO_FUNCTION] = threading.BoundedSemaphore(self.concurrency(OPTIN))
            super()._serve_api()
            # The API's app holds this very list: the routes are matched as the template's are.
            self.routes.append(ApiRoute("POST", ECHO_PATH, route_pattern(ECHO_PATH), ECHO_FUNCTION, False))
            self.routes.append(ApiRoute("POST", FILL_PATH, route_pattern(FILL_PATH), FILL_FUNCTION, False))

    stack = BenchStack(api_port=0, aws_port=0, workdir=workdir)
    signal.signal(signal.SIGTERM, lambda signum, frame: stack.stopping.set())
    try:
        stack.start()
        stack.stopping.wait()
    finally:
        stack.stop()
    return 0


# ---------------------------------------------------------------------- the clients


Request = tuple[str, bytes, dict[str, str]]


def _burst(api: str, requests_: list[Request], expect: int) -> float:
    """Send `requests_` from CLIENTS threads (one keep-alive session each); requests per second."""
    import requests

    queue: Iterator[Request] = iter(requests_)
    lock = threading.Lock()
    failures: list[str] = []

    def client() -> None:
        with requests.Session() as session:
            while True:
                with lock:
                    request = next(queue, None)
                if request is None:
                    return
                path, body, headers = request
                response = session.post(api + path, data=body, headers=headers, timeout=120)
                if response.status_code != expect:
                    failures.append(f"{path}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(requests_)} requests failed, first: {failures[0]}")
    return len(requests_) / elapsed


def _echo(index: int) -> Request:
    return ECHO_PATH, json.dumps({"n": index}).encode(), {"Content-Type": "application/json"}


class Filler:
    """Copies of a number item (SK STATE) a real sign-up wrote, under fresh numbers, put straight
    into the emulator's table (see BenchStack.fill)."""

    def __init__(self, api: str, dynamodb: Any, table: str, model_phone: str) -> None:
        import requests

        self.api, self.session = api, requests.Session()
        key = {"PK": {"S": f"PHONE#{model_phone}"}, "SK": {"S": "STATE"}}
        self.model: dict[str, Any] = dynamodb.get_item(TableName=table, Key=key)["Item"]
        self.held = int(dynamodb.describe_table(TableName=table)["Table"]["ItemCount"])
        self.serial = 0

    def fill_to(self, size: int) -> int:
        while self.held < size:
            count = min(FILL_CHUNK, size - self.held)
            body = json.dumps({"model": self.model, "start": self.serial, "count": count})
            response = self.session.post(self.api + FILL_PATH, data=body, timeout=600)
            response.raise_for_status()
            self.serial += count
            self.held = int(response.json())
        return self.held


@dataclass
class Row:
    size: int
    held: int
    signups: float
    echoes: float
    rss_mb: float


def _measure() -> list[Row]:
    serial = iter(range(7_990))  # phone() is valid and block-unique below 7990

    def signups(count: int) -> list[Request]:
        return [signup(next(serial)) for _ in range(count)]

    with tempfile.TemporaryDirectory() as scratch:
        child = child_stack.start(
            "bench_local_throughput",
            Path(scratch),
            {"POWERTOOLS_LOG_LEVEL": "WARNING"},  # the handlers' INFO lines would only fill the log file
        )
        api, table = child.outputs["ApiUrl"], child.outputs["ConsentTableName"]
        dynamodb = child.client("dynamodb")
        rows: list[Row] = []
        try:
            warm = signups(WARMUP)
            _burst(api, warm, 202)
            _burst(api, [_echo(i) for i in range(WARMUP)], 200)
            filler = Filler(api, dynamodb, table, phone(0))
            for size in TABLE_SIZES:
                held = filler.fill_to(size)
                _burst(api, signups(WARMUP), 202)
                rate = _burst(api, signups(SIGNUPS), 202)
                echoes = _burst(api, [_echo(i) for i in range(ECHOES)], 200)
                rows.append(Row(size, held, rate, echoes, child.rss_mb()))
        finally:
            child_stack.stop(child)
    return rows


# ---------------------------------------------------------------------- memory of one transaction


def _transaction_memory(size: int) -> tuple[int, int]:
    """Bytes one failing TransactWriteItems allocates at its peak in moto (in process), on a table
    of `size` number items: moto as it ships (a deep copy of the table), then patched."""
    import contextlib
    import tracemalloc

    import boto3
    from moto import mock_aws
    from moto.dynamodb import models

    from sms_consent_local import moto_patches

    moto_patches.apply()
    patched = models.DynamoDBBackend.transact_write_items
    shipped = getattr(patched, "__wrapped__", None)
    if shipped is None:
        raise RuntimeError("moto_patches.apply() keeps moto's method as __wrapped__")
    peaks: list[int] = []
    with mock_aws():
        dynamodb: Any = boto3.client(
            "dynamodb", region_name="us-east-1", aws_access_key_id="b", aws_secret_access_key="b"
        )
        dynamodb.create_table(
            TableName="t",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("PK", "SK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        for start in range(0, size, 25):
            numbers = [f"+1212{index:07d}" for index in range(start, min(start + 25, size))]
            dynamodb.batch_write_item(RequestItems={"t": [{"PutRequest": {"Item": _number_state(n)}} for n in numbers]})
        absent = {"PK": {"S": "none"}, "SK": {"S": "STATE"}}
        failing = [
            {"Put": {"TableName": "t", "Item": _number_state("+16502010000")}},
            {"ConditionCheck": {"TableName": "t", "Key": absent, "ConditionExpression": "attribute_exists(PK)"}},
        ]
        try:
            for method in (shipped, patched):
                models.DynamoDBBackend.transact_write_items = method  # type: ignore[method-assign]
                tracemalloc.start()
                try:
                    with contextlib.suppress(dynamodb.exceptions.TransactionCanceledException):
                        dynamodb.transact_write_items(TransactItems=failing)
                    peaks.append(tracemalloc.get_traced_memory()[1])
                finally:
                    tracemalloc.stop()
        finally:
            models.DynamoDBBackend.transact_write_items = patched  # type: ignore[method-assign]
    return peaks[0], peaks[1]


def _number_state(number: str) -> dict[str, Any]:
    return {
        "PK": {"S": f"PHONE#{number}"},
        "SK": {"S": "STATE"},
        "version": {"N": "2"},
        "programs": {
            "M": {
                "alerts": {
                    "M": {
                        "status": {"S": "pending"},
                        "source": {"S": "web_form"},
                        "updated_at": {"S": "2026-01-01T00:00:00Z"},
                    }
                }
            }
        },
        "ask_pending": {"M": {}},
    }


# ---------------------------------------------------------------------- report


def _table(rows: list[Row]) -> list[str]:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Local sign-ups (POST /v1/optins) vs an echo function, same server, same run")
    for name in ("table items", "sign-ups/s", "echo/s", "sign-ups / echo", "vs 1k", "stack RSS"):
        table.add_column(name, justify="right")
    base = rows[0].signups
    for row in rows:
        ratio = row.signups / row.echoes
        table.add_row(
            f"{row.held:,}",
            f"{row.signups:.1f}",
            f"{row.echoes:.1f}",
            f"{ratio:.2f}x {'ok' if ratio >= GOAL else 'BELOW'}",
            f"{row.signups / base:.2f}",
            f"{row.rss_mb:,.0f} MB",
        )
    out = io.StringIO()
    Console(file=out, width=110, force_terminal=False, color_system=None).print(table)
    worst = min(row.signups / row.echoes for row in rows)
    flat = rows[-1].signups / base
    return [
        *out.getvalue().rstrip().splitlines(),
        f"{CLIENTS} client threads; {SIGNUPS} new-number sign-ups and {ECHOES} echoes per size after a warm-up; "
        "the table filled with copies of a real sign-up's number item (SK STATE), straight into the emulator",
        f"goal: at least {GOAL:.2f}x echo -> worst {worst:.2f}x ({'met' if worst >= GOAL else 'NOT met'}); "
        f"flat from {rows[0].held:,} to {rows[-1].held:,} items -> {flat:.2f} of the 1k rate "
        f"({'flat' if flat >= FLAT else 'NOT flat'}, threshold {FLAT})",
    ]


def run() -> list[str]:
    from sms_consent_local import moto_patches

    moto_patches.apply()
    lines = _table(_measure())
    lines.append("one failing TransactWriteItems in moto (in process), peak memory it allocates:")
    for size in (1_000, 10_000):
        shipped, patched = _transaction_memory(size)
        lines.append(
            f"  {size:>6,} number items: {shipped / 1e6:7.1f} MB as moto ships it (a deep copy of the table and its"
            f" stream), {patched / 1e3:6.1f} kB patched"
        )
    return lines


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
