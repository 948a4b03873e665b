"""`sms-consent`: the local stack (`local`), a handset (`sms`), a schedule fired now (`schedule`), the
configuration lint (`lint`) and a carrier auditor's walk through the running stack (`drill`)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

DEFAULT_SENDER = "+18005550100"


def _outputs(workdir: Path) -> dict[str, str]:
    path = workdir / "outputs.json"
    if not path.is_file():
        raise SystemExit(f"{path} not found: start the local stack first (make run)")
    outputs: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return outputs


def _parameters(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--parameter {pair!r}: expected NAME=VALUE")
        parameters[name] = value
    return parameters


def cmd_local(args: argparse.Namespace) -> int:
    from sms_consent_local.stack import LocalStack, StackError
    from sms_consent_local.template import TemplateError

    stack = LocalStack(
        host=args.host,
        api_port=args.port,
        aws_port=args.aws_port,
        workdir=Path(args.workdir),
        schedule_seconds=args.schedule_seconds,
        parameter_overrides=_parameters(args.parameter),
    )
    stopped = False

    def _stop(signum: int, frame: Any) -> None:
        nonlocal stopped
        stopped = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        outputs = stack.start()
    except (StackError, TemplateError) as exc:
        stack.stop()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BaseException:
        stack.stop()
        raise
    print(json.dumps(outputs, indent=2), flush=True)
    print(
        f"local stack ready: API {outputs['ApiUrl']}, AWS emulator {outputs['AwsEndpointUrl']} (Ctrl-C stops)",
        flush=True,
    )
    while not stopped:
        time.sleep(0.2)
    print("stopping...", flush=True)
    stack.stop()
    return 0


def inbound_payload(origin: str, text: str, destination: str, previous_message_id: str = "") -> dict[str, str]:
    """AWS End User Messaging SMS's two-way payload, as it publishes it to the topic."""
    return {
        "originationNumber": origin,
        "destinationNumber": destination,
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": text,
        "inboundMessageId": str(uuid.uuid4()),
        "previousPublishedMessageId": previous_message_id,
    }


def last_message_id(outbox: Path, handset: str, sender: str) -> str:
    """The id of the last message `sender` sent to `handset`: what End User Messaging SMS puts in
    previousPublishedMessageId, so that a YES answers the prompt it follows."""
    lines, _ = read_outbox(outbox, 0)
    for line in reversed(lines):
        if line.get("to") == handset and line.get("from") == sender and line.get("message_id"):
            return str(line["message_id"])
    return ""


def read_outbox(path: Path, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Complete JSON lines after `offset`, and the offset after them."""
    if not path.is_file():
        return [], offset
    with path.open("rb") as outbox:
        outbox.seek(offset)
        data = outbox.read()
    complete = data[: data.rfind(b"\n") + 1]
    lines = [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]
    return lines, offset + len(complete)


def cmd_sms(args: argparse.Namespace) -> int:
    import boto3

    from sms_consent.phones import InvalidPhoneNumber, normalize_sender, to_e164

    outputs = _outputs(Path(args.workdir))
    try:
        origin = to_e164(args.origin)
        destination = normalize_sender(args.to)
    except InvalidPhoneNumber as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    outbox = Path(outputs.get("OutboxPath") or Path(args.workdir) / "outbox.jsonl")
    offset = outbox.stat().st_size if outbox.is_file() else 0
    sns = boto3.session.Session().client(
        "sns",
        region_name="us-east-1",
        endpoint_url=outputs["AwsEndpointUrl"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    previous = args.reply_to if args.reply_to is not None else last_message_id(outbox, origin, destination)
    payload = inbound_payload(origin, args.text, destination, previous)
    sns.publish(TopicArn=outputs["InboundSmsTopicArn"], Message=json.dumps(payload))
    deadline = time.monotonic() + args.wait
    replies = 0
    last_reply = 0.0
    while time.monotonic() < deadline:
        lines, offset = read_outbox(outbox, offset)
        for line in lines:
            if line.get("to") == origin:
                replies += 1
                last_reply = time.monotonic()
                print(f"{line.get('from')} -> {line['to']} [{line.get('category')}]: {line['body']}", flush=True)
        if replies and time.monotonic() - last_reply > args.quiet:
            break
        time.sleep(0.1)
    if not replies:
        print(f"(no reply to {origin} within {args.wait:g} s)", file=sys.stderr)
        return 1
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    outputs = _outputs(Path(args.workdir))
    request = urllib.request.Request(f"{outputs['ApiUrl']}/_local/schedules/{args.name}", method="POST", data=b"")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            result: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        print(f"error: {json.loads(exc.read()).get('message', exc.reason)}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"error: the local stack does not answer at {outputs['ApiUrl']} ({exc.reason}); start it with make run")
        return 1
    print(json.dumps(result))
    return 0 if result.get("ok") else 1


def cmd_lint(args: argparse.Namespace) -> int:
    from sms_consent.compliance_lint import sender_warnings
    from sms_consent.config import ConfigError, load_config
    from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

    path = Path(args.config) if args.config else DEFAULT_PROGRAM_CONFIG
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    # Warnings (sender hygiene) do not stop a configuration from loading; --strict makes CI fail on them.
    warnings = sender_warnings(config)
    for warning in warnings:
        print(f"warning: {path}: {warning.where}, field '{warning.field}': {warning.message}", file=sys.stderr)
    counts = f"{len(config.programs)} programs, {len(config.senders)} senders, {len(warnings)} warning(s)"
    if warnings and args.strict:
        print(f"{path}: FAILED with --strict ({counts})", file=sys.stderr)
        return 1
    print(f"{path}: OK ({counts})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sms-consent", description=__doc__)
    parser.add_argument("--workdir", default=".local", help="where outputs.json and outbox.jsonl live (.local)")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="start the local stack (what `make run` runs)")
    local.add_argument("--host", default="127.0.0.1")
    local.add_argument("--port", type=int, default=3000, help="API port (3000; 0 picks a free one)")
    local.add_argument("--aws-port", type=int, default=5000, help="AWS emulator port (5000; 0 picks a free one)")
    local.add_argument(
        "--schedule-seconds", type=float, default=None, help="fire every Schedule event this often instead of its rate"
    )
    local.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="override a template parameter"
    )
    local.set_defaults(func=cmd_local)

    sms = commands.add_parser("sms", help="send a text from a handset to the local stack and print the replies")
    sms.add_argument("origin", metavar="FROM", help="the handset's number")
    sms.add_argument("text", metavar="TEXT")
    sms.add_argument("--to", default=DEFAULT_SENDER, help=f"the sender number or short code ({DEFAULT_SENDER})")
    sms.add_argument("--wait", type=float, default=15.0, help="seconds to wait for replies (15)")
    sms.add_argument("--quiet", type=float, default=1.5, help="stop this long after the last reply (1.5)")
    sms.add_argument(
        "--reply-to",
        default=None,
        metavar="MESSAGE_ID",
        help="previousPublishedMessageId (default: the last message SENDER sent to FROM, as AWS fills it)",
    )
    sms.set_defaults(func=cmd_sms)

    schedule = commands.add_parser("schedule", help="fire a function's Schedule event now on the running stack")
    schedule.add_argument("name", metavar="FUNCTION", help="the function's logical id (or the event's name)")
    schedule.add_argument("--timeout", type=float, default=120.0)
    schedule.set_defaults(func=cmd_schedule)

    lint = commands.add_parser("lint", help="validate a program configuration (schema + compliance lint)")
    lint.add_argument("config", nargs="?", help="path of programs.yaml (the shipped one by default)")
    lint.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too, for CI")
    lint.set_defaults(func=cmd_lint)

    from sms_consent_local import operator_cli

    operator_cli.register(commands)

    from sms_consent_local import drill

    drill.register(commands)

    from sms_consent_local import delivery_events_cli

    delivery_events_cli.register(commands)

    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
