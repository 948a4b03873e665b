"""The operator console (web/console/) in headless Chromium against the local stack, as an operator
uses it: enter the key, look a number up (status and history timeline, the proof of consent), search
and edit the blocklist, upload a CSV and read its result, see a program's metrics as charts. And the
key never lands in an address, a cookie, or storage that outlives the tab."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WAIT_MS = 30_000
SUBSCRIBED = "+14155557401"
UPLOADED = ("+14155557402", "+14155557403")
BLOCKED_HERE = "+14155557404"


@pytest.fixture
def console(browser: Browser, local_stack: RunningStack) -> Iterator[tuple[Page, list[Request]]]:
    context = browser.new_context()
    page = context.new_page()
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    page.goto(f"{local_stack.api_url}/console/")
    expect(page.locator("body[data-ready='true']")).to_be_attached(timeout=WAIT_MS)
    yield page, requests
    context.close()


def enter_key(page: Page, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use this key").click()


def test_a_wrong_key_is_refused_and_the_right_one_opens_the_console(
    console: tuple[Page, list[Request]], local_stack: RunningStack
) -> None:
    page, _ = console
    enter_key(page, "not-the-key")
    expect(page.locator("#key-error")).to_have_text("That key was refused.", timeout=WAIT_MS)
    expect(page.locator("#number")).to_be_hidden()

    enter_key(page, local_stack.api_key)
    expect(page.locator("#number")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("link", name="Metrics").click()
    expect(page.locator("#metrics")).to_be_visible()
    expect(page.locator("#number")).to_be_hidden()


def test_a_number_shows_its_status_timeline_and_proof(
    console: tuple[Page, list[Request]], local_stack: RunningStack
) -> None:
    answer = local_stack.api(
        "PUT",
        f"/v1/numbers/{urllib.parse.quote(SUBSCRIBED)}/programs/alerts",
        json={"status": "subscribed", "source": "import"},
    )
    assert answer.status_code == 200, answer.text
    page, _ = console
    enter_key(page, local_stack.api_key)

    page.get_by_label("Phone number").fill("(415) 555-7401")
    page.get_by_role("button", name="Look up").click()

    expect(page.locator("#number-title")).to_have_text(SUBSCRIBED, timeout=WAIT_MS)
    expect(page.locator("#number-programs tbody tr").first).to_contain_text("subscribed")
    expect(page.locator("#number-timeline li")).to_have_count(1)
    expect(page.locator("#number-timeline li").first).to_contain_text("ConsentGranted")
    with page.context.expect_page(timeout=WAIT_MS) as opened:
        page.get_by_role("button", name="Open the proof of consent").click()
    proof = opened.value
    expect(proof.locator("h1")).to_have_text(f"Proof of consent for {SUBSCRIBED}", timeout=WAIT_MS)
    assert proof.url.startswith("blob:")


def test_the_blocklist_is_searched_edited_and_filled_from_a_csv(
    console: tuple[Page, list[Request]], local_stack: RunningStack, tmp_path: Path
) -> None:
    page, _ = console
    enter_key(page, local_stack.api_key)
    page.get_by_role("link", name="Blocklist").click()

    upload = tmp_path / "blocklist.csv"
    upload.write_text(f"Mobile Number,Block Type\n{UPLOADED[0]},3\nnot a number,2\n{UPLOADED[1]},1\n")
    page.get_by_label("File (Mobile Number,Block Type rows)").set_input_files(str(upload))
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-status")).to_have_text("Imported 2 rows, rejected 1.", timeout=WAIT_MS)
    expect(page.locator("#upload-errors li")).to_have_count(1)
    expect(page.locator("#upload-errors li").first).to_contain_text("line 3:")
    expect(page.locator("#upload-progress")).to_have_attribute("value", "100")

    page.get_by_label("Number", exact=True).fill(BLOCKED_HERE)
    page.get_by_role("button", name="Block", exact=True).click()
    page.get_by_label("Numbers starting with").fill("+1415555740")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("#blocklist-table tbody tr")
    expect(rows).to_have_count(3, timeout=WAIT_MS)

    page.get_by_role("button", name=f"Remove {BLOCKED_HERE}").click()
    expect(rows).to_have_count(2, timeout=WAIT_MS)
    blocked = local_stack.api("GET", f"/v1/numbers/{urllib.parse.quote(UPLOADED[1])}").json()["block"]
    assert blocked["type"] == 1
    assert local_stack.api("GET", f"/v1/numbers/{urllib.parse.quote(BLOCKED_HERE)}").json()["block"] is None


def test_metrics_show_as_figures_and_charts(console: tuple[Page, list[Request]], local_stack: RunningStack) -> None:
    figures = local_stack.api("GET", "/v1/metrics", params={"program": "alerts"}).json()
    page, _ = console
    enter_key(page, local_stack.api_key)
    page.get_by_role("link", name="Metrics").click()

    page.get_by_role("button", name="Show").click()

    expect(page.locator("[data-figure='Opt-ins']")).to_have_text(str(figures["opt_ins"]), timeout=WAIT_MS)
    expect(page.locator("[data-figure='Subscribers']")).to_have_text(str(figures["subscribers"]))
    sources = set(figures["opt_ins_by_source"]) | set(figures["opt_outs_by_source"])
    expect(page.locator("#chart-sources rect")).to_have_count(2 * len(sources))

    page.get_by_label("Program").fill("nope")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#metrics-error")).to_contain_text("unknown program 'nope'", timeout=WAIT_MS)


def test_the_key_never_lands_in_an_address_a_cookie_or_lasting_storage(
    console: tuple[Page, list[Request]], local_stack: RunningStack
) -> None:
    page, requests = console
    key = local_stack.api_key
    enter_key(page, key)
    page.get_by_label("Phone number").fill(SUBSCRIBED)
    page.get_by_role("button", name="Look up").click()
    expect(page.locator("#number-result")).to_be_visible(timeout=WAIT_MS)
    page.get_by_role("link", name="Metrics").click()
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#metrics-result")).to_be_visible(timeout=WAIT_MS)

    assert key not in page.url
    assert all(key not in request.url for request in requests)
    assert [request.headers.get("x-api-key") for request in requests if "/v1/" in request.url][:1] == [key]
    assert page.context.cookies() == []
    stored = page.evaluate("() => JSON.stringify([{...localStorage}, {...sessionStorage}])")
    assert stored == "[{},{}]"

    page.reload()
    expect(page.get_by_label("API key")).to_be_visible(timeout=WAIT_MS)  # not remembered
    expect(page.locator("#number")).to_be_hidden()
