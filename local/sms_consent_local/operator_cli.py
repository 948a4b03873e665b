"""The operator's commands of `sms-consent`: numbers, blocklist, audit and metrics, against the local
stack or a deployed one (operator_api says how the target is found and what the exit codes mean).

Tables go to standard output (Rich); `--json` prints the API's own JSON instead, for scripts;
progress and errors go to standard error, so that a command's output can be piped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.table import Table

from sms_consent_local.operator_api import OK, REFUSED, UNAVAILABLE, Api, OperatorError, resolve

SMALL_IMPORT_BYTES = 1_000_000  # POST /v1/blocklist/import's own limit
SEARCH_PAGE = 500
UPLOAD_CHUNK = 1 << 20
UPLOAD_TIMEOUT = 600.0
POLL_SECONDS = 1.0

Command = Callable[[Api, argparse.Namespace, Console], int]


def _quoted(phone: str) -> str:
    return urllib.parse.quote(phone, safe="")


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def _write(text: str, output: str | None) -> None:
    if output and output != "-":
        Path(output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


def numbers_show(api: Api, args: argparse.Namespace, out: Console) -> int:
    number = api.json("GET", f"/v1/numbers/{_quoted(args.phone)}")
    if args.json:
        _print_json(number)
        return OK
    table = Table(title=f"{number['phone']}", title_justify="left")
    for column in ("program", "status", "source", "updated", "confirmation pending until"):
        table.add_column(column)
    for program, state in number["programs"].items():
        pending = state.get("pending") or {}
        table.add_row(program, state["status"], state["source"], state["updated_at"], pending.get("expires_at", ""))
    out.print(table)
    block = number.get("block")
    out.print(
        f"blocklist: type {block['type']} since {block['added_at']} ({block['reason']})" if block else "blocklist: -"
    )
    out.print(f"users: {', '.join(number['users']) or '-'}")
    return OK


def numbers_history(api: Api, args: argparse.Namespace, out: Console) -> int:
    events = api.json("GET", f"/v1/numbers/{_quoted(args.phone)}/history")["events"]
    if args.json:
        _print_json(events)
        return OK
    table = Table(title=f"{args.phone}: {len(events)} events, oldest first", title_justify="left")
    for column in ("at", "event", "program", "change", "source"):
        table.add_column(column)
    for event in events:
        change = f"{event.get('old_status') or '-'} -> {event.get('new_status') or '-'}"
        table.add_row(event["at"], event["type"], event.get("program") or "", change, event["source"])
    out.print(table)
    return OK


def blocklist_add(api: Api, args: argparse.Namespace, out: Console) -> int:
    body = {"type": args.type, "reason": args.reason or "", "text": args.text or ""}
    entry = api.json("PUT", f"/v1/blocklist/{_quoted(args.phone)}", body=body)
    if args.json:
        _print_json(entry)
    else:
        out.print(f"blocked {entry['phone']}: type {entry['type']} since {entry['added_at']}")
    return OK


def blocklist_remove(api: Api, args: argparse.Namespace, out: Console) -> int:
    api.request("DELETE", f"/v1/blocklist/{_quoted(args.phone)}")
    if args.json:
        _print_json({"phone": args.phone, "removed": True})
    else:
        out.print(f"{args.phone} is not on the blocklist (any more)")
    return OK


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    return {"type": args.type, "text": args.text, "phone_prefix": args.prefix, "date_from": args.since}


def blocklist_search(api: Api, args: argparse.Namespace, out: Console) -> int:
    found: list[dict[str, Any]] = []
    cursor = None
    err = Console(stderr=True)
    with err.status("searching the blocklist") as status:
        while len(found) < args.limit:
            page = api.json(
                "GET",
                "/v1/blocklist",
                params={**_filters(args), "cursor": cursor, "limit": min(SEARCH_PAGE, args.limit - len(found))},
            )
            found.extend(page["items"])
            status.update(f"searching the blocklist: {len(found)} entries")
            cursor = page.get("cursor")
            if not cursor:
                break
    if args.json:
        _print_json({"items": found, "cursor": cursor})
        return OK
    table = Table(title=f"{len(found)} entries" + (" (more: raise --limit)" if cursor else ""), title_justify="left")
    for column in ("phone", "type", "added", "reason", "text"):
        table.add_column(column)
    for entry in found:
        table.add_row(entry["phone"], str(entry["type"]), entry["added_at"], entry["reason"], entry["text"][:60])
    out.print(table)
    return OK


def _report_import(
    result: dict[str, Any], rejected: int, errors: list[dict[str, Any]], args: argparse.Namespace, out: Console
) -> int:
    if args.json:
        _print_json(result)
    else:
        out.print(f"imported {result['imported']} rows, rejected {rejected}")
        for problem in errors[:20]:
            out.print(f"  line {problem['line']}: {problem['error']}")
    return OK if not rejected else REFUSED


def _import_large(api: Api, path: Path, args: argparse.Namespace, out: Console) -> int:
    """Any size: a presigned upload, then the import's progress until it is done."""
    started = api.json("POST", "/v1/blocklist/imports")
    err = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), console=err) as progress:
        task = progress.add_task(f"uploading {path.name}", total=path.stat().st_size)
        with path.open("rb") as body:
            try:
                answer = requests.put(
                    started["upload_url"], data=_counted(body, progress, task), timeout=UPLOAD_TIMEOUT
                )
            except requests.RequestException as exc:
                raise OperatorError(f"the upload did not complete: {exc}", UNAVAILABLE) from None
        if answer.status_code >= 300:
            raise OperatorError(f"the upload was refused: {answer.status_code} {answer.text[:200]}", UNAVAILABLE)
        progress.update(task, description=f"importing {path.name}", completed=0, total=None)
        status = api.json("GET", f"/v1/blocklist/imports/{started['id']}")
        deadline = time.monotonic() + args.wait
        while status["status"] in ("waiting_for_upload", "running") and time.monotonic() < deadline:
            progress.update(task, description=f"importing {path.name}: {status['rows']:,} rows read")
            time.sleep(POLL_SECONDS)
            status = api.json("GET", f"/v1/blocklist/imports/{started['id']}")
    if status["status"] == "failed":
        raise OperatorError(f"import {started['id']} failed: {status['errors'][:1]}", REFUSED)
    if status["status"] != "done":
        raise OperatorError(f"import {started['id']} is still {status['status']}: check it later", UNAVAILABLE)
    return _report_import(status, status["rejected"], status["errors"], args, out)


def _counted(body: Any, progress: Progress, task: Any) -> Any:
    while chunk := body.read(UPLOAD_CHUNK):
        progress.advance(task, len(chunk))
        yield chunk


def blocklist_import(api: Api, args: argparse.Namespace, out: Console) -> int:
    path = Path(args.file)
    if args.upload or path.stat().st_size > SMALL_IMPORT_BYTES:
        return _import_large(api, path, args, out)
    with Console(stderr=True).status(f"importing {args.file}"):
        result = api.json("POST", "/v1/blocklist/import", data=path.read_bytes(), content_type="text/csv")
    return _report_import(result, len(result["rejected"]), result["rejected"], args, out)


def blocklist_export(api: Api, args: argparse.Namespace, out: Console) -> int:
    response = api.request("GET", "/v1/blocklist/export", params=_filters(args))
    _write(response.text, args.output)
    return OK


def audit_export(api: Api, args: argparse.Namespace, out: Console) -> int:
    response = api.request("GET", f"/v1/numbers/{_quoted(args.phone)}/proof", params={"format": args.format})
    _write(
        response.text if args.format == "html" else json.dumps(response.json(), indent=2, ensure_ascii=False) + "\n",
        args.output,
    )
    return OK


def metrics(api: Api, args: argparse.Namespace, out: Console) -> int:
    figures = api.json("GET", "/v1/metrics", params={"program": args.program, "from": args.since, "to": args.until})
    if args.json:
        _print_json(figures)
        return OK
    table = Table(title=f"{figures['program']}: {figures['date_from']} to {figures['date_to']}", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name in ("opt_ins", "opt_outs", "prompts", "confirmations", "double_opt_in_conversion", "subscribers"):
        table.add_row(name.replace("_", " "), str(figures[name]))
    for name in ("opt_ins_by_source", "opt_outs_by_source", "opt_ins_by_keyword", "opt_outs_by_keyword"):
        for key, value in figures[name].items():
            table.add_row(f"{name.replace('_', ' ')}: {key}", str(value))
    for name in ("time_to_confirm", "opt_out_confirmation"):
        timer = figures[name]
        median = f"{timer['median_seconds']} s" if timer["median_seconds"] is not None else "-"
        table.add_row(f"{name.replace('_', ' ')}: median at most", median)
    stop = figures["opt_out_confirmation"]
    table.add_row("opt-out confirmations within 5 min / later", f"{stop['within_limit']} / {stop['over_limit']}")
    revocations = figures["revocations"]
    table.add_row(
        "revocations within 10 business days / later",
        f"{revocations['within_10_business_days']} / {revocations['later']}",
    )
    out.print(table)
    return OK


def register(commands: Any) -> None:
    """Add the operator's commands to `sms-consent`'s subcommands."""

    def with_target(parser: argparse.ArgumentParser, command: Command) -> None:
        parser.add_argument("--stack", help="a deployed stack's name (its outputs and API key are looked up)")
        parser.add_argument("--region", help="the deployed stack's region (default: your AWS configuration's)")
        parser.add_argument("--api-url", help="the API's base URL (or SMS_CONSENT_API_URL)")
        parser.add_argument("--api-key", help="its API key (or SMS_CONSENT_API_KEY)")
        parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")
        parser.set_defaults(func=lambda args: run(command, args))

    numbers = commands.add_parser("numbers", help="a number's consent and history").add_subparsers(required=True)
    show = numbers.add_parser("show", help="its status per program, blocklist entry and users")
    show.add_argument("phone")
    with_target(show, numbers_show)
    history = numbers.add_parser("history", help="its audit trail, oldest first")
    history.add_argument("phone")
    with_target(history, numbers_history)

    blocklist = commands.add_parser("blocklist", help="search and edit the blocklist").add_subparsers(required=True)
    add = blocklist.add_parser("add", help="block a number (type 1 inbound, 2 outbound, 3 both)")
    add.add_argument("phone")
    add.add_argument("--type", type=int, choices=(1, 2, 3), default=3)
    add.add_argument("--reason")
    add.add_argument("--text")
    with_target(add, blocklist_add)
    remove = blocklist.add_parser("remove", help="unblock a number")
    remove.add_argument("phone")
    with_target(remove, blocklist_remove)
    for name, command, helped in (
        ("search", blocklist_search, "list entries"),
        ("export", blocklist_export, "write entries as CSV"),
    ):
        parser = blocklist.add_parser(name, help=helped)
        parser.add_argument("--type", help="1, 2, 3 or a comma-separated list")
        parser.add_argument("--text", help="entries whose reason or text holds this")
        parser.add_argument("--prefix", help="numbers starting with this, e.g. +1415")
        parser.add_argument("--since", help="added at or after this ISO-8601 time")
        if name == "search":
            parser.add_argument("--limit", type=int, default=1000)
        else:
            parser.add_argument("-o", "--output", help="file to write (standard output by default)")
        with_target(parser, command)
    imports = blocklist.add_parser(
        "import", help="import a CSV of 'Mobile Number,Block Type' rows (over 1 MB: uploaded to S3, then imported)"
    )
    imports.add_argument("file")
    imports.add_argument("--upload", action="store_true", help="upload to S3 and import from there, whatever the size")
    imports.add_argument("--wait", type=float, default=3600.0, help="seconds to follow a large import (3600)")
    with_target(imports, blocklist_import)

    audit = commands.add_parser("audit", help="proof of consent").add_subparsers(required=True)
    export = audit.add_parser("export", help="a number's proof-of-consent report (JSON, or a printable HTML page)")
    export.add_argument("--phone", required=True)
    export.add_argument("--format", choices=("json", "html"), default="json")
    export.add_argument("-o", "--output", help="file to write (standard output by default)")
    with_target(export, audit_export)

    figures = commands.add_parser("metrics", help="a program's opt-ins, opt-outs, conversion and FCC timers")
    figures.add_argument("--program", required=True)
    figures.add_argument("--from", dest="since", help="first day, YYYY-MM-DD (30 days ago)")
    figures.add_argument("--to", dest="until", help="last day, YYYY-MM-DD (today)")
    with_target(figures, metrics)


def run(command: Command, args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    try:
        target = resolve(
            api_url=args.api_url, api_key=args.api_key, stack=args.stack, region=args.region, workdir=Path(args.workdir)
        )
        return command(Api(target), args, Console())
    except OperatorError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        return exc.exit_code
