"""POST /v1/optins through OptinApiFunction's handler, with the template's table, topics and bus on moto.

The web form's double opt-in end to end: the pending confirmation and its evidence, the prompt on
OutboundRequestsTopic, the send gate delivering it, the consumer's YES, and every refusal the public
route makes (problem+json, never a 500).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_consent import signup, wiring
from sms_consent.breakers import Trip
from sms_consent.config import parse_config
from sms_consent.consent import EventType, Status
from sms_consent.pumping import bucket_start
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from tests.conftest import AwsStack, api_request, load_event, response_headers, stores

PHONE = "+14155550142"
CONSENT_TEXT = (
    "I agree to receive Example Corp Alerts, 4 msgs/month. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help. Terms: https://example.com/sms-terms"
)
PAGE = "https://shop.example.com/signup"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36"


def form(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phone": "(415) 555-0142",
        "program": "alerts",
        "source": "web_form",
        "use_double_opt_in": True,
        "captcha_token": "test-pass",
        "language": "en",
        "consent_text": CONSENT_TEXT,
        "page_url": PAGE,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def post(
    stack: AwsStack,
    body: dict[str, Any] | str | None,
    *,
    ip: str = "198.51.100.7",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any], dict[str, str]]:
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    event = api_request(
        "POST", "/v1/optins", body=raw, source_ip=ip, headers=headers, sample="optin_api/post_optin.json"
    )
    event["requestContext"]["identity"]["userAgent"] = USER_AGENT
    response = stack.invoke("OptinApiFunction", event)
    document = json.loads(response["body"]) if response.get("body") else {}
    return response["statusCode"], document, response_headers(response)


def deliver_outbound(stack: AwsStack) -> list[dict[str, Any]]:
    """Run the send gate on what reached OutboundRequestsTopic; the requests it got."""
    envelopes = stack.outbound_envelopes()
    for envelope in envelopes:
        stack.invoke("SendGateFunction", stack.sns_event_for(envelope))
    return [json.loads(envelope["Message"]) for envelope in envelopes]


def inbound(stack: AwsStack, text: str, *, origin: str = PHONE, at: datetime | None = None) -> Any:
    event = load_event("inbound_sms/confirm_yes.json")
    message = json.loads(event["Records"][0]["Sns"]["Message"])
    message.update(originationNumber=origin, messageBody=text, inboundMessageId=f"in-{text}-{origin}-{at}")
    message.pop("previousPublishedMessageId", None)
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    moment = at or datetime.now(UTC)
    event["Records"][0]["Sns"]["Timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return stack.invoke("InboundSmsFunction", event)


def test_a_web_form_sign_up_records_evidence_sends_one_prompt_and_a_yes_subscribes(aws_stack: AwsStack) -> None:
    before = datetime.now(UTC)
    status, body, headers = post(aws_stack, form(), headers={"Origin": "https://shop.example.com"})

    assert status == 202
    assert body["status"] == "pending"
    assert body["prompt_sent"] is True
    assert body["double_opt_in_reason"] == "program_uses_double_opt_in"
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(days=29, hours=23) < expires - before <= timedelta(days=30, minutes=1)
    assert headers["Content-Type"] == "application/json"
    assert headers["Access-Control-Allow-Origin"] == "*"  # the template's AllowedOrigin default

    state = stores().numbers.get(PHONE)
    pending = state.programs["alerts"].pending
    assert state.status("alerts") is Status.PENDING
    assert pending is not None
    assert pending.expires_at == expires
    assert pending.asked_at is not None  # stored: a reply sent before it cannot confirm this prompt
    assert before <= pending.asked_at <= pending.requested_at

    (requested,) = [
        event for event in stores().numbers.history(PHONE) if event.event_type is EventType.DOUBLE_OPT_IN_REQUESTED
    ]
    evidence = requested.evidence
    assert requested.source == "web_form"
    assert evidence["client_ip"] == "198.51.100.7"
    assert evidence["user_agent"] == USER_AGENT
    assert evidence["page_url"] == PAGE
    assert evidence["origin"] == "https://shop.example.com"
    assert "consent_text" not in evidence  # the words are stored once, by their hash
    assert evidence["consent_text_hash"] == signup.text_hash(CONSENT_TEXT)
    stored = stores().consent_texts.get_many([evidence["consent_text_hash"]])
    assert stored[evidence["consent_text_hash"]].text == CONSENT_TEXT
    assert evidence["captcha"] == {"provider": "local", "passed": True, "hostname": "localhost"}
    assert evidence["prompt_request_id"] == pending.prompt_request_id

    sending = datetime.now(UTC)
    (prompt,) = deliver_outbound(aws_stack)
    assert prompt["category"] == "optin_prompt"
    assert prompt["recipients"] == [PHONE]
    assert prompt["sender"] == "+18005550100"
    assert "client_ip" not in prompt["metadata"]  # the evidence holds it; the outbound topic need not
    # The prompt is counted where the traffic-pumping detector reads (per country, 1k block and client
    # IP), folded from the stream by the consent feed.
    assert aws_stack.deliver_stream() > 0
    buckets = {bucket_start(before), bucket_start(sending)}  # the sign-up may straddle two
    counts = {key: value for start in buckets for key, value in stores().counters.read_bucket(start).items()}
    assert counts[("country", "US")].prompts == 1
    assert counts[("prefix", "+14155550")].suffixes == frozenset({"142"})
    assert counts[("ip", "198.51.100.7")].numbers == frozenset({PHONE})
    (sent,) = aws_stack.outbox_lines()
    assert sent["to"] == PHONE
    assert sent["category"] == "optin_prompt"
    assert "YES" in sent["body"]
    assert "DoubleOptInRequested" in [event["detail-type"] for event in aws_stack.bus_events()]

    inbound(aws_stack, "YES")
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED
    granted = stores().numbers.history(PHONE)[-1]
    assert granted.event_type is EventType.GRANTED
    assert granted.evidence["inbound_message_id"].startswith("in-YES")
    assert "ConsentGranted" in [event["detail-type"] for event in aws_stack.bus_events()]

    assert [request["category"] for request in deliver_outbound(aws_stack)] == ["compliance_reply"]

    # Signing up again once subscribed changes nothing and sends nothing.
    status, body, _ = post(aws_stack, form())
    assert (status, body["status"], body["prompt_sent"]) == (200, "subscribed", False)
    assert aws_stack.outbound_envelopes() == []


def test_a_resubmitted_form_answers_202_again_without_a_second_prompt(aws_stack: AwsStack) -> None:
    first = post(aws_stack, form())
    assert len(deliver_outbound(aws_stack)) == 1  # the gate sends the prompt and records its message id
    second = post(aws_stack, form(phone="+1 415-555-0142"), ip="198.51.100.99")

    assert first[0] == second[0] == 202
    assert second[1]["status"] == "pending"
    assert second[1]["prompt_sent"] is False
    assert second[1]["expires_at"] == first[1]["expires_at"]
    assert aws_stack.outbound_requests() == []
    assert len([line for line in aws_stack.outbox_lines() if line["to"] == PHONE]) == 1
    requests = [
        event for event in stores().numbers.history(PHONE) if event.event_type is EventType.DOUBLE_OPT_IN_REQUESTED
    ]
    assert len(requests) == 1


def test_a_prompt_older_than_ten_minutes_is_sent_again(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime.now(UTC)
    post(aws_stack, form())
    monkeypatch.setattr(wiring, "utc_now", lambda: start + timedelta(minutes=11))
    status, body, _ = post(aws_stack, form())

    assert (status, body["prompt_sent"]) == (202, True)
    assert len(aws_stack.outbound_requests()) == 2


def test_the_confirmation_window_is_enforced_in_code_not_by_ttl(aws_stack: AwsStack) -> None:
    post(aws_stack, form())
    deliver_outbound(aws_stack)
    aws_stack.outbox_lines()

    # DynamoDB's TTL deletes late (moto never does): the pending item is still there after 31 days.
    inbound(aws_stack, "YES", at=datetime.now(UTC) + timedelta(days=31))

    state = stores().numbers.get(PHONE)
    assert state.status("alerts") is not Status.SUBSCRIBED
    assert not [event for event in stores().numbers.history(PHONE) if event.event_type is EventType.GRANTED]


def test_only_the_consumer_undoes_an_opt_out_a_web_form_starts_a_double_opt_in(aws_stack: AwsStack) -> None:
    post(aws_stack, form())
    deliver_outbound(aws_stack)
    inbound(aws_stack, "YES")
    inbound(aws_stack, "STOP")
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    aws_stack.outbound_envelopes()

    # Even a form that does not ask for double opt-in cannot resubscribe an opted-out number.
    status, body, _ = post(aws_stack, form(use_double_opt_in=False))

    assert (status, body["status"], body["prompt_sent"]) == (202, "pending", True)
    assert body["double_opt_in_reason"] == "consumer_opted_out"  # the response says why
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    (prompt,) = aws_stack.outbound_requests()
    assert prompt["category"] == "optin_prompt"
    last = stores().numbers.history(PHONE)[-1]
    assert last.event_type is EventType.DOUBLE_OPT_IN_REQUESTED
    assert last.evidence["double_opt_in_reason"] == "consumer_opted_out"


@pytest.mark.parametrize(
    ("changes", "status", "problem", "detail"),
    [
        ({"phone": "+1 415 555"}, 400, "invalid-number", "phone"),
        ({"phone": "not a number at all"}, 400, "invalid-number", "phone"),
        ({"phone": "+1 900 555 0123"}, 400, "number-type-not-allowed", "premium rate"),
        ({"phone": "+33 8 84 01 23 45"}, 400, "number-type-not-allowed", "shared cost"),
        ({"phone": "+44 7400 123456"}, 400, "country-not-allowed", "GB"),
        ({"program": "nosuchprogram"}, 400, "unknown-program", "nosuchprogram"),
        ({"captcha_token": None}, 400, "captcha-missing", "captcha_token"),
        ({"captcha_token": ""}, 400, "captcha-missing", "captcha_token"),
        ({"captcha_token": "test-fail"}, 403, "captcha-failed", "CAPTCHA"),
        ({"captcha_token": "forged-token"}, 403, "captcha-failed", "CAPTCHA"),
        ({"source": "import"}, 400, None, "source"),
        ({"consent_text": "yes"}, 400, None, "consent_text"),
        ({"consent_text": None}, 400, None, "consent_text"),
        ({"language": "<script>"}, 400, None, "language"),
        ({"phone": "1" * 5000}, 400, None, "phone"),
        ({"use_double_opt_in": "maybe"}, 400, None, "use_double_opt_in"),
    ],
)
def test_rejections_are_problem_documents_and_send_nothing(
    aws_stack: AwsStack, changes: dict[str, Any], status: int, problem: str | None, detail: str
) -> None:
    body = form()
    body.update({key: value for key, value in changes.items() if value is not None})
    for key in [key for key, value in changes.items() if value is None]:
        body.pop(key)

    answer, document, headers = post(aws_stack, body)

    assert answer == status
    assert headers["Content-Type"] == "application/problem+json"
    assert document["status"] == status
    assert detail.lower() in document["detail"].lower()
    if problem:
        assert document["type"] == f"urn:sms-consent:problem:{problem}"
    assert aws_stack.outbound_requests() == []
    assert stores().numbers.history(PHONE) == []


@pytest.mark.parametrize(
    ("raw", "status", "detail"),
    [
        ("nope", 400, "not valid JSON"),
        ('{"phone": "+14155550142",', 400, "not valid JSON"),
        ("[1, 2, 3]", 400, "JSON object"),
        ('"a string"', 400, "JSON object"),
        ("", 400, "JSON object"),
        (None, 400, "JSON object"),
        (json.dumps(form(consent_text="x" * 20_000)), 413, "larger than"),
        ('{"phone": "\\ud800", "program": "alerts"}', 400, "consent_text"),
    ],
)
def test_bodies_that_are_not_a_form_get_a_clear_error(
    aws_stack: AwsStack, raw: str | None, status: int, detail: str
) -> None:
    answer, document, headers = post(aws_stack, raw)

    assert answer == status
    assert headers["Content-Type"] == "application/problem+json"
    assert detail.lower() in document["detail"].lower()
    assert aws_stack.outbound_requests() == []


@pytest.mark.parametrize(
    "media_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html", "text/plain"]
)
def test_a_body_that_is_not_json_by_its_media_type_gets_415(aws_stack: AwsStack, media_type: str) -> None:
    status, document, _ = post(aws_stack, "phone=%2B14155550142&program=alerts", headers={"Content-Type": media_type})

    assert status == 415
    assert "application/json" in document["detail"]
    assert aws_stack.outbound_requests() == []


def test_a_refusal_tells_a_browser_on_another_origin_when_to_retry(aws_stack: AwsStack) -> None:
    for index in range(30):  # the client's hourly limit, spent on failed CAPTCHAs
        post(aws_stack, form(phone=f"+1415555{index:04d}", captcha_token="test-fail"))
    status, _, headers = post(aws_stack, form(), headers={"Origin": "https://shop.example.com"})

    assert status == 429
    assert "Retry-After" in headers["Access-Control-Expose-Headers"]


def test_a_body_that_is_not_utf8_gets_400_not_500(aws_stack: AwsStack) -> None:
    # API Gateway base64-encodes a binary body; this one is Latin-1, not UTF-8.
    event = api_request("POST", "/v1/optins", body=None, sample="optin_api/post_optin.json")
    latin1 = json.dumps(form()).encode().replace(b"Example", b"Ex\xe9mple")
    event.update(body=base64.b64encode(latin1).decode(), isBase64Encoded=True)
    response = aws_stack.invoke("OptinApiFunction", event)
    assert response["statusCode"] == 400
    assert "UTF-8" in json.loads(response["body"])["detail"]
    assert aws_stack.outbound_requests() == []


def test_unknown_fields_from_a_business_form_are_ignored(aws_stack: AwsStack) -> None:
    status, body, _ = post(aws_stack, form(newsletter="yes", utm_source="ads"))
    assert (status, body["status"]) == (202, "pending")


def test_a_client_ip_is_limited_before_its_captcha_is_checked(aws_stack: AwsStack) -> None:
    answers = [post(aws_stack, form(phone=f"+1415555{index:04d}", captcha_token="test-fail"))[0] for index in range(30)]
    status, document, headers = post(aws_stack, form(phone="+14155559999"))

    assert set(answers) == {403}
    assert status == 429
    assert document["type"] == "urn:sms-consent:problem:rate-limited"
    assert "this client" in document["detail"]
    assert 1 <= int(headers["Retry-After"]) <= 3600
    # Another client is not affected.
    assert post(aws_stack, form(phone="+14155559999"), ip="198.51.100.8")[0] == 202


def test_a_1k_number_block_is_limited_whatever_the_client(aws_stack: AwsStack) -> None:
    # A sweep through consecutive numbers from many addresses: the prefix counter stops it.
    answers = [post(aws_stack, form(phone=f"+1415555{index:04d}"), ip=f"203.0.113.{index}")[0] for index in range(30)]
    status, document, _ = post(aws_stack, form(phone="+14155550999"), ip="203.0.113.200")
    other_block = post(aws_stack, form(phone="+14155551999"), ip="203.0.113.201")[0]

    assert set(answers) == {202}
    assert status == 429
    assert "numbers in this range" in document["detail"]
    assert other_block == 202
    # Inline scoring held the sweep from its sixth prompt (test_inline_scoring); the other block's went.
    assert len(aws_stack.outbound_requests()) == 5 + 1


def test_one_number_gets_at_most_five_prompts_a_day(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)
    answers = []
    for attempt in range(6):
        monkeypatch.setattr(wiring, "utc_now", lambda attempt=attempt: start + timedelta(minutes=11 * attempt))
        answers.append(post(aws_stack, form(), ip=f"198.51.100.{attempt}")[:2])

    assert [status for status, _ in answers] == [202] * 5 + [429]
    assert "this number" in answers[-1][1]["detail"]
    assert len(aws_stack.outbound_requests()) == 5


@pytest.mark.parametrize(
    ("dimension", "key", "ip"),
    [("prefix", "+14152010", "198.51.100.7"), ("country", "US", "198.51.100.7"), ("ip", "192.0.2.66", "192.0.2.66")],
)
def test_open_pumping_breakers_hold_the_prompt_and_answer_as_usual(
    aws_stack: AwsStack, dimension: str, key: str, ip: str
) -> None:
    """Held, not refused: the answer is the one a sent prompt gets, so an attacker learns nothing."""
    now = datetime.now(UTC)
    stores().breakers.open_breaker(Trip("range_sweep", dimension, key, {"prompts": 40}, {}), now=now, previous=None)
    real = "+14152010142"  # not a fictional 555-01xx number: those are never held

    status, document, headers = post(aws_stack, form(phone=real), ip=ip)

    assert (status, document["status"], document["prompt_sent"]) == (202, "pending", True)
    assert set(document) == {"status", "expires_at", "prompt_sent", "double_opt_in_reason"}
    assert "Retry-After" not in headers
    assert aws_stack.outbound_requests() == []
    (requested,) = stores().numbers.history(real)
    assert requested.event_type is EventType.DOUBLE_OPT_IN_REQUESTED
    assert requested.evidence["prompt_held"] == f"range_sweep on {dimension} {key} (breaker open)"
    assert stores().numbers.get(real).status("alerts") is Status.PENDING  # never subscribed without a YES


def test_a_breaker_elsewhere_does_not_stop_this_number(aws_stack: AwsStack) -> None:
    stores().breakers.open_breaker(Trip("volume_spike", "country", "CA", {}, {}), now=datetime.now(UTC), previous=None)
    assert post(aws_stack, form())[0] == 202


def test_openapi_document_and_swagger_ui_are_served(aws_stack: AwsStack) -> None:
    spec_event = api_request("GET", "/v1/openapi.json")
    spec_response = aws_stack.invoke("OptinApiFunction", spec_event)
    spec = json.loads(spec_response["body"])

    assert spec_response["statusCode"] == 200
    assert set(spec["paths"]) >= {
        "/v1/optins",
        "/v1/numbers/{phone}",
        "/v1/numbers/{phone}/programs/{program}",
        "/v1/numbers/{phone}/history",
        "/v1/users/{user_id}/phone",
        "/v1/gate/check",
        "/v1/blocklist",
    }
    optin = spec["paths"]["/v1/optins"]["post"]
    assert optin["security"] == []
    assert spec["paths"]["/v1/numbers/{phone}"]["get"]["security"] == [{"apiKey": []}]
    request_schema = optin["requestBody"]["content"]["application/json"]["schema"]
    assert "OptinRequest" in json.dumps(request_schema)
    assert {"202", "400", "403", "429"} <= set(optin["responses"])

    docs = aws_stack.invoke("OptinApiFunction", api_request("GET", "/v1/docs"))
    assert docs["statusCode"] == 200
    assert "swagger-ui" in docs["body"].lower()
    assert "/v1/optins" in docs["body"]


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 8000 + "]" * 8000,
        '{"a":' * 3000 + "1" + "}" * 3000,
        '{"phone": 1e999, "program": "alerts"}',
        '{"phone": null, "program": null, "consent_text": null}',
        "\x00\x01\x02",
        "\ufeff{}",
        json.dumps(form(program="alerts\u0000")),
        json.dumps(form(program="a" * 10_000)),
        json.dumps(form(page_url="javascript:alert(1)" + "x" * 3000)),
        json.dumps(form(captcha_token="t" * 5000)),
        json.dumps({**form(), "phone": ["+14155550142"]}),
    ],
)
def test_hostile_bodies_get_a_4xx_problem_never_a_500(aws_stack: AwsStack, raw: str) -> None:
    status, document, headers = post(aws_stack, raw)

    assert 400 <= status < 500
    assert headers["Content-Type"] == "application/problem+json"
    assert document["detail"]
    assert aws_stack.outbound_requests() == []


def test_the_limits_come_from_the_program_configuration(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = yaml.safe_load(DEFAULT_PROGRAM_CONFIG.read_text(encoding="utf-8"))
    data["optin_limits"] = {"per_client_ip": 2, "client_ip_window_minutes": 10}
    custom = tmp_path / "programs.yaml"
    custom.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setitem(aws_stack.runner.env["OptinApiFunction"], "PROGRAM_CONFIG", str(custom))
    wiring.reset()

    answers = [post(aws_stack, form(phone=f"+1415555{index:04d}"))[0] for index in range(3)]
    status, document, headers = post(aws_stack, form(phone="+14155550003"))

    assert answers == [202, 202, 429]
    assert status == 429
    assert document["type"] == "urn:sms-consent:problem:rate-limited"
    assert 1 <= int(headers["Retry-After"]) <= 600


def test_limits_that_make_no_sense_do_not_load() -> None:
    data = yaml.safe_load(DEFAULT_PROGRAM_CONFIG.read_text(encoding="utf-8"))
    data["optin_limits"] = {"per_number": 0}
    with pytest.raises(ValueError, match="per_number"):
        parse_config(data)
