"""The README's pictures of the operator console and of a CLI session, made again from the code.

    .venv/bin/python docs/screenshots.py

Starts the local stack (`sms-consent local`) in a temporary folder on free ports, as the end-to-end
tests do (tests/e2e/conftest.py's start_stack), fills it with a little history for fictional numbers
(+1 415 555-01xx: a web sign-up confirmed with YES then STOP, keyword sign-ups, imported consent,
blocklist entries),
then writes:

- docs/images/console-number.png     the number lookup: status per program and the history timeline
- docs/images/console-blocklist.png  the blocklist search
- docs/images/console-metrics.png    the alerts program's figures and charts
- docs/images/cli-session.svg        `numbers show`, `numbers history`, `blocklist search`, `metrics`

The console is driven in Debian's headless Chromium (/usr/bin/chromium, `make browser`) with
Playwright, 1200 px wide. The CLI's commands print through the console object they are given, so they
are called with a recording Rich console (no change to the CLI). Takes about a minute.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.e2e.conftest: the stack and browser helpers the tests use

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402
from rich.console import Console  # noqa: E402

from sms_consent_local import operator_cli  # noqa: E402
from sms_consent_local.operator_api import Api, resolve  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, RunningStack, start_stack, stop_stack  # noqa: E402

IMAGES = ROOT / "docs" / "images"
WAIT_MS = 30_000
PHONE = "+14155550123"  # the number the pictures look at: fictional (555-01xx)
WEB_SIGNUPS = ("+14155550124", "+14155550125")
KEYWORD_SIGNUPS = ("+14155550131", "+14155550132", "+14155550133")
IMPORTED = ("+14155550151", "+14155550152")  # consent collected elsewhere, recorded by an admin
BLOCKED = (
    ("+14155550141", 3, "carrier complaint"),
    ("+14155550142", 1, "wrong number, asked by phone"),
    ("+14155550143", 2, "reassigned number (deactivation file)"),
)
CONSENT_TEXT = "Yes, send me Example Corp Alerts. 4 msgs/month. Msg & data rates may apply. Reply STOP to cancel."


def text(stack: RunningStack, phone: str, body: str) -> None:
    """A text from the handset, and wait for the platform's reply to it."""
    before = len([line for line in stack.outbox_lines() if line["to"] == phone])
    stack.publish_inbound(phone, body)
    stack.wait_outbox(lambda line: line["to"] == phone, count=before + 1)


def web_signup(stack: RunningStack, phone: str) -> None:
    signup = {
        "phone": phone,
        "program": "alerts",
        "consent_text": CONSENT_TEXT,
        "captcha_token": "test-pass",
        "page_url": "https://shop.example.com/signup",
    }
    answer = stack.api("POST", "/v1/optins", key=False, json=signup)
    answer.raise_for_status()
    stack.wait_outbox(lambda line: line["to"] == phone and line["category"] == "optin_prompt")


def fill(stack: RunningStack) -> None:
    web_signup(stack, PHONE)
    text(stack, PHONE, "YES")
    text(stack, PHONE, "HELP")
    text(stack, PHONE, "STOP")
    block = {"type": 2, "reason": "asked by phone", "text": "no more texts, called support"}
    stack.api("PUT", f"/v1/blocklist/{urllib.parse.quote(PHONE)}", json=block).raise_for_status()
    for phone in WEB_SIGNUPS:
        web_signup(stack, phone)
        text(stack, phone, "YES")
    for phone in KEYWORD_SIGNUPS:
        text(stack, phone, "ALERTS")
        text(stack, phone, "YES")
    text(stack, KEYWORD_SIGNUPS[0], "STOP")
    for phone in IMPORTED:
        subscribed = {"status": "subscribed", "source": "import"}
        path = f"/v1/numbers/{urllib.parse.quote(phone)}/programs/alerts"
        stack.api("PUT", path, json=subscribed).raise_for_status()
    for phone, kind, reason in BLOCKED:
        entry = {"type": kind, "reason": reason, "text": ""}
        stack.api("PUT", f"/v1/blocklist/{urllib.parse.quote(phone)}", json=entry).raise_for_status()


def open_console(page: Page, stack: RunningStack) -> None:
    page.goto(f"{stack.api_url}/console/")
    expect(page.locator("body[data-ready='true']")).to_be_attached(timeout=WAIT_MS)
    page.get_by_label("API key").fill(stack.api_key)
    page.get_by_role("button", name="Use this key").click()
    expect(page.locator("#number")).to_be_visible(timeout=WAIT_MS)


def console_screenshots(stack: RunningStack) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        open_console(page, stack)

        page.get_by_label("Phone number").fill("(415) 555-0123")
        page.get_by_role("button", name="Look up").click()
        expect(page.locator("#number-title")).to_have_text(PHONE, timeout=WAIT_MS)
        expect(page.locator("#number-timeline li").first).to_be_visible()
        page.screenshot(path=IMAGES / "console-number.png", full_page=True)

        page.get_by_role("link", name="Blocklist").click()
        page.get_by_label("Numbers starting with").fill("+1415555")
        page.get_by_role("button", name="Search").click()
        expect(page.locator("#blocklist-table tbody tr")).to_have_count(1 + len(BLOCKED), timeout=WAIT_MS)
        page.screenshot(path=IMAGES / "console-blocklist.png", full_page=True)

        page.get_by_role("link", name="Metrics").click()
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#chart-sources rect").first).to_be_attached(timeout=WAIT_MS)
        page.screenshot(path=IMAGES / "console-metrics.png", full_page=True)
        browser.close()


def cli_session(stack: RunningStack) -> None:
    target = resolve(api_url=stack.api_url, api_key=stack.api_key, stack=None, region=None, workdir=stack.workdir)
    api = Api(target)
    out = Console(record=True, width=120, file=io.StringIO(), force_terminal=True)
    commands = [
        (["numbers", "show", PHONE], operator_cli.numbers_show, {"phone": PHONE}),
        (["numbers", "history", PHONE], operator_cli.numbers_history, {"phone": PHONE}),
        (
            ["blocklist", "search", "--prefix", "+1415555"],
            operator_cli.blocklist_search,
            {"type": None, "text": None, "prefix": "+1415555", "since": None, "limit": 1000},
        ),
        (
            ["metrics", "--program", "alerts"],
            operator_cli.metrics,
            {"program": "alerts", "since": None, "until": None},
        ),
    ]
    for argv, command, options in commands:
        out.print(f"[bold green]$[/] sms-consent {' '.join(argv)}", highlight=False)
        command(api, argparse.Namespace(json=False, **options), out)
        out.print()
    out.save_svg(str(IMAGES / "cli-session.svg"), title="sms-consent")


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sms-consent-screenshots-") as workdir:
        stack = start_stack(Path(workdir))
        try:
            fill(stack)
            console_screenshots(stack)
            cli_session(stack)
        finally:
            stop_stack(stack)
    for path in sorted(IMAGES.iterdir()):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
