"""The reference sign-up form (web/) in headless Chromium, posting cross-origin to the local stack's API.

The page is served by a second HTTP server at http://localhost:<port>, the API answers at
http://127.0.0.1:<other port>: a different origin, so the browser preflights the POST and lets the
page read the answer only if the API's CORS headers allow it. The page gets the API's address from
its `?api=` parameter.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.e2e.conftest import ROOT, RunningStack, start_stack, stop_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

WEB = ROOT / "web"
SENDER = "+18005550100"
# Generous bounds for asynchronous effects; they are limits for a poll, not speed requirements.
WAIT_SECONDS = 30
WAIT_MS = WAIT_SECONDS * 1000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[RunningStack]:
    # A stack of its own: the form's rate limits (per client IP, per number prefix) stay this module's.
    running = start_stack(tmp_path_factory.mktemp("browser-stack"))
    yield running
    stop_stack(running)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output to failures


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """web/ served from another origin than the API's: `localhost` and a port of its own."""
    handler = functools.partial(_QuietHandler, directory=str(WEB))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()


def origin_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def open_form(page: Page, url: str) -> None:
    page.goto(url)
    # signup.js marks the form once its handlers and the local CAPTCHA are in place.
    expect(page.locator("form#sms-signup[data-ready='true']")).to_be_visible(timeout=WAIT_MS)


def open_cross_origin_form(page: Page, page_origin: str, stack: RunningStack) -> str:
    url = f"{page_origin}/index.html?api={urllib.parse.quote(stack.api_url, safe='')}"
    open_form(page, url)
    assert page.evaluate("location.origin") == page_origin
    assert origin_of(stack.api_url) != page_origin, "the test must be cross-origin"
    return url


def submit(page: Page, stack: RunningStack) -> Response:
    """Click "Sign up" and return the API's answer to the POST the page makes."""

    def is_optin_post(response: Response) -> bool:
        return response.url == stack.api_url + "/v1/optins" and response.request.method == "POST"

    with page.expect_response(is_optin_post, timeout=WAIT_MS) as answer:
        page.get_by_role("button", name="Sign up").click()
    return answer.value


def number(stack: RunningStack, e164: str) -> dict[str, Any]:
    response = stack.api("GET", f"/v1/numbers/{urllib.parse.quote(e164)}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def history(stack: RunningStack, e164: str) -> list[dict[str, Any]]:
    response = stack.api("GET", f"/v1/numbers/{urllib.parse.quote(e164)}/history")
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def wait_for_status(stack: RunningStack, e164: str, program: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        state = number(stack, e164)
        if state["programs"].get(program, {}).get("status") == status:
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"{e164} never became {status} in {program}: {state}; log: {stack.log}")
        time.sleep(0.2)


def prompts_to(stack: RunningStack, e164: str) -> list[dict[str, Any]]:
    return [line for line in stack.outbox_lines() if line["to"] == e164 and line["category"] == "optin_prompt"]


def test_signup_from_another_origin_then_yes_subscribes(page: Page, page_origin: str, stack: RunningStack) -> None:
    e164 = "+14155550142"
    url = open_cross_origin_form(page, page_origin, stack)
    disclosure = page.locator("#signup-consent")
    for phrase in ("Example Corp Alerts", "4 msgs/month", "Msg & data rates may apply", "Reply STOP to cancel"):
        expect(disclosure).to_contain_text(phrase)
    expect(disclosure.get_by_role("link", name="SMS terms")).to_have_attribute("href", "https://example.com/sms-terms")

    page.get_by_label("Mobile phone number").fill("(415) 555-0142")
    page.get_by_label("Program").select_option(label="Example Corp Alerts")
    page.get_by_label("I'm not a robot").check()
    answer = submit(page, stack)

    assert answer.status == 202, answer.text()
    result = answer.json()
    assert result["status"] == "pending"
    assert result["prompt_sent"] is True
    assert answer.headers.get("access-control-allow-origin") in ("*", page_origin)
    sent = answer.request.post_data_json
    shown = " ".join(disclosure.inner_text().split())
    assert sent == {
        "phone": "(415) 555-0142",
        "program": "alerts",
        "source": "web_form",
        "use_double_opt_in": True,
        "captcha_token": "test-pass",
        "language": "en",
        "consent_text": shown,
        "page_url": url,
    }

    # The page could read the cross-origin answer: it shows the pending state with the expiry.
    done = page.get_by_role("status")
    expect(done).to_be_visible(timeout=WAIT_MS)
    expect(done).to_contain_text("Check your phone")
    expect(done).to_contain_text("(415) 555-0142")
    expect(page.locator("#signup-expires-at")).to_have_attribute("datetime", result["expires_at"])
    expect(page.locator("#signup-expires-at")).not_to_be_empty()
    # A prompt held while pumping is suspected reaches nobody: the page always says how to confirm anyway.
    expect(done).to_contain_text("No text within a minute? Text YES to +1 (800) 555-0100 from your phone.")
    expect(page.locator("form#sms-signup")).to_be_hidden()

    (prompt,) = stack.wait_outbox(
        lambda line: line["to"] == e164 and line["category"] == "optin_prompt", timeout=WAIT_SECONDS
    )
    assert prompt["from"] == SENDER
    assert "Example Corp Alerts" in prompt["body"]
    assert number(stack, e164)["programs"]["alerts"]["status"] == "pending"

    stack.publish_inbound(e164, "YES", to=SENDER)
    state = wait_for_status(stack, e164, "alerts", "subscribed")
    assert state["phone"] == e164

    events = history(stack, e164)
    web_form = [event for event in events if event["source"] == "web_form" and event["program"] == "alerts"]
    assert web_form, events
    evidence = web_form[0]["evidence"]
    assert evidence["page_url"] == url
    assert evidence["consent_text_hash"] == "sha256:" + hashlib.sha256(shown.encode("utf-8")).hexdigest()
    # The exact words the page showed, stored once by their hash, are in the number's proof of consent.
    proof = stack.api("GET", f"/v1/numbers/{urllib.parse.quote(e164)}/proof")
    assert proof.status_code == 200, proof.text
    (signed,) = [entry for entry in proof.json()["events"] if entry["source"] == "web_form"][:1]
    assert signed["consent_text"]["text"] == shown
    assert "Chrome" in evidence["user_agent"]
    assert evidence["origin"] == page_origin
    assert evidence["captcha"]
    assert events[-1]["new_status"] == "subscribed"


def test_failed_captcha_shows_the_api_detail_and_sends_nothing(
    page: Page, page_origin: str, stack: RunningStack
) -> None:
    e164 = "+14155550143"
    open_cross_origin_form(page, page_origin, stack)
    page.get_by_label("Mobile phone number").fill("415-555-0143")
    page.get_by_label("Test token").fill("test-fail")
    answer = submit(page, stack)

    assert answer.status == 403, answer.text()
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    alert = page.get_by_role("alert")
    expect(alert).to_have_text(problem["detail"], timeout=WAIT_MS)
    assert "CAPTCHA" in problem["detail"]
    expect(page.get_by_role("status")).to_be_hidden()
    # The refusal came before anything was stored, so nothing was queued to send either.
    assert number(stack, e164)["programs"] == {}
    assert history(stack, e164) == []

    # Passing the CAPTCHA on a second try clears the error. prompt_sent true means no prompt had gone to
    # this number in the last 10 minutes, so the refused attempt sent none.
    page.get_by_label("I'm not a robot").check()
    retry = submit(page, stack)
    assert retry.status == 202, retry.text()
    assert retry.json()["prompt_sent"] is True
    expect(page.get_by_role("status")).to_contain_text("We sent a text", timeout=WAIT_MS)
    expect(alert).to_be_hidden()
    stack.wait_outbox(lambda line: line["to"] == e164 and line["category"] == "optin_prompt", timeout=WAIT_SECONDS)
    assert len(prompts_to(stack, e164)) == 1


def test_without_an_api_address_the_form_posts_to_its_own_origin(page: Page, stack: RunningStack) -> None:
    # Served by the local API itself (it serves web/ at /), so the default API base is this same origin.
    open_form(page, stack.api_url + "/")
    page.get_by_label("Mobile phone number").fill("(415) 555-0144")
    page.get_by_label("Test token").fill("test-fail")
    answer = submit(page, stack)
    assert answer.status == 403
    expect(page.get_by_role("alert")).to_have_text(answer.json()["detail"], timeout=WAIT_MS)


def test_the_form_refuses_to_submit_without_a_captcha_token(page: Page, page_origin: str, stack: RunningStack) -> None:
    open_cross_origin_form(page, page_origin, stack)
    page.get_by_label("Mobile phone number").fill("(415) 555-0145")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_have_text("Complete the CAPTCHA before signing up.", timeout=WAIT_MS)
    expect(page.get_by_role("status")).to_be_hidden()
