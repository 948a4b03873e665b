"""Proof of consent (GET /v1/numbers/{phone}/proof) on moto: a web-form sign-up, its YES and a later
STOP, reported with every piece of evidence and the exact words the person agreed to, stored once by
their hash; the printable page escapes what consumers and browsers sent; the digest exposes an
edited copy; a sign-up whose words cannot be stored records no consent."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from sms_consent import proof, signup
from tests.conftest import AwsStack, api_request, response_headers, stores
from tests.integration.test_optin_api import (
    CONSENT_TEXT,
    PAGE,
    PHONE,
    USER_AGENT,
    deliver_outbound,
    form,
    inbound,
    post,
)

OTHER = "+14155550143"


def _proof(stack: AwsStack, phone: str, report_format: str | None = None) -> tuple[int, str, dict[str, str]]:
    query = {"format": report_format} if report_format else None
    event = api_request(
        "GET",
        f"/v1/numbers/{urllib.parse.quote(phone, safe='')}/proof",
        resource="/v1/numbers/{phone}/proof",
        path_parameters={"phone": phone},
        query=query,
    )
    response = stack.invoke("AdminApiFunction", event)
    return response["statusCode"], response["body"], response_headers(response)


def _signed_up_confirmed_and_stopped(stack: AwsStack) -> None:
    assert post(stack, form(), headers={"Origin": "https://shop.example.com"})[0] == 202
    deliver_outbound(stack)
    inbound(stack, "YES")
    inbound(stack, "STOP")
    stack.deliver_stream()


def test_the_report_holds_the_whole_history_with_its_evidence_and_the_words_agreed_to(aws_stack: AwsStack) -> None:
    _signed_up_confirmed_and_stopped(aws_stack)

    status, body, headers = _proof(aws_stack, PHONE)

    assert (status, headers["Content-Type"]) == (200, "application/json")
    report = json.loads(body)
    assert report["phone"] == PHONE
    assert report["programs"]["alerts"]["status"] == "unsubscribed"
    kinds = [entry["type"] for entry in report["events"]]
    assert kinds[:3] == ["DoubleOptInRequested", "ConsentGranted", "ConsentRevoked"]
    asked, confirmed, stopped = report["events"][:3]
    assert asked["web"] == {
        "client_ip": "198.51.100.7",
        "user_agent": USER_AGENT,
        "page_url": PAGE,
        "origin": "https://shop.example.com",
    }
    assert asked["consent_text"]["text"] == CONSENT_TEXT
    assert asked["consent_text"]["hash"] == signup.text_hash(CONSENT_TEXT)
    assert asked["consent_text"]["times_shown"] == 1
    assert asked["consent_text"]["first_shown"] == asked["consent_text"]["last_shown"] == asked["at"]
    assert asked["captcha"] == {"provider": "local", "passed": True, "hostname": "localhost"}
    assert confirmed["message"]["text"] == "YES"
    assert confirmed["message"]["prompt_request_id"] == asked["message"]["prompt_request_id"]
    assert confirmed["other"]["double_opt_in"] is True
    assert stopped["message"]["keyword"] == "STOP"
    assert stopped["message"]["inbound_message_id"]


def test_the_digest_recomputes_for_the_report_and_not_for_an_edited_copy(aws_stack: AwsStack) -> None:
    _signed_up_confirmed_and_stopped(aws_stack)
    report = json.loads(_proof(aws_stack, PHONE)[1])

    assert proof.digest(report) == report["sha256"]
    report["events"][0]["web"]["client_ip"] = "203.0.113.99"
    assert proof.digest(report) != report["sha256"]


def test_words_are_stored_once_for_many_sign_ups_and_their_showings_counted(aws_stack: AwsStack) -> None:
    calls: list[str] = []

    def count_text_puts(params: dict[str, Any], **_: Any) -> None:
        if params["Item"]["PK"]["S"].startswith("TEXT#"):
            calls.append(params["Item"]["PK"]["S"])

    aws_stack.runner.load("OptinApiFunction")
    client = stores().consent_texts._table.client
    client.meta.events.register("provide-client-params.dynamodb.PutItem", count_text_puts)
    try:
        for phone, ip in ((PHONE, "198.51.100.7"), (OTHER, "198.51.100.8")):
            assert post(aws_stack, form(phone=phone), ip=ip)[0] == 202
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.PutItem", count_text_puts)
    aws_stack.deliver_stream()

    text_hash = signup.text_hash(CONSENT_TEXT)
    assert calls == [f"TEXT#{text_hash}"]  # the second sign-up knew the words were stored
    stored = stores().consent_texts.get_many([text_hash])[text_hash]
    assert stored.times_shown == 2
    assert stored.first_shown is not None
    assert stored.last_shown is not None
    assert stored.first_shown <= stored.last_shown


def test_the_printable_page_escapes_what_consumers_and_browsers_sent(aws_stack: AwsStack) -> None:
    hostile = form(page_url='https://shop.example.com/"><script>alert(1)</script>')
    assert post(aws_stack, hostile)[0] == 202
    deliver_outbound(aws_stack)
    inbound(aws_stack, "<img src=x onerror=alert(2)> YES")

    status, page, headers = _proof(aws_stack, PHONE, "html")

    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert CONSENT_TEXT.replace("&", "&amp;") in page
    assert re.search(r"SHA-256 of this report's JSON form: <span class=\"mono\">[0-9a-f]{64}</span>", page)


def test_a_number_never_seen_has_an_empty_report_and_bad_requests_are_problems(aws_stack: AwsStack) -> None:
    status, body, _ = _proof(aws_stack, "+14155550999")
    assert status == 200
    assert json.loads(body)["events"] == []

    for phone, report_format in (("not a number", None), (PHONE, "pdf")):
        status, body, headers = _proof(aws_stack, phone, report_format)
        assert (status, headers["Content-Type"]) == (400, "application/problem+json")


@pytest.fixture
def texts_cannot_be_stored(aws_stack: AwsStack) -> Iterator[None]:
    class _Http:
        status_code = 500
        headers: dict[str, str] = {}  # noqa: RUF012

    def refuse(params: dict[str, Any], **_: Any) -> Any:
        if json.loads(params["body"])["Item"]["PK"]["S"].startswith("TEXT#"):
            return _Http(), {"Error": {"Code": "InternalServerError", "Message": "injected"}}
        return None

    aws_stack.runner.load("OptinApiFunction")
    client = stores().consent_texts._table.client
    client.meta.events.register("before-call.dynamodb.PutItem", refuse)
    yield
    client.meta.events.unregister("before-call.dynamodb.PutItem", refuse)


def test_a_sign_up_whose_words_cannot_be_stored_records_no_consent(
    aws_stack: AwsStack, texts_cannot_be_stored: None
) -> None:
    status, _, headers = post(aws_stack, form())

    assert status == 503
    assert headers["Retry-After"]
    assert stores().numbers.history(PHONE) == []
    assert aws_stack.outbound_requests() == []
