"""MMS that always arrives, on moto: SendGateFunction sends MMS to a US mobile from an MMS sender and an
SMS carrying a working media link otherwise; the gate-check route and SendDecided say which."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import requests
from botocore.stub import ANY, Stubber

from sms_consent import send_gate, wiring
from sms_consent.adapters.media import S3MediaLinks
from sms_consent.adapters.senders import EndUserMessagingSender
from sms_consent.messages import Category, OutboundRequest
from sms_consent.mms import Delivery
from sms_consent_local import iam_calls
from tests.conftest import AwsStack, api_request, load_event

MOBILE = "+12125550123"
JPEG = b"\xff\xd8\xff\xe0" + b"cat" * 1000
TEXT = "Example Corp Alerts: our new catalogue is out."


def media_bucket(aws_stack: AwsStack) -> str:
    """The template's media bucket (the functions may read no other), with one picture and one too large."""
    bucket = aws_stack.runner.env["SendGateFunction"]["MEDIA_BUCKET_NAME"]
    s3 = boto3.client("s3", region_name=aws_stack.region)
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="promo/cat.jpg", Body=JPEG, ContentType="image/jpeg")
    s3.put_object(Bucket=bucket, Key="promo/film.mp4", Body=b"\0" * 600_001, ContentType="video/mp4")
    return bucket


def request(program: str, media_url: str, **extra: Any) -> dict[str, Any]:
    # Transactional: neither a subscription nor quiet hours (which follow the real clock here) hold it.
    return {"program": program, "category": "transactional", "recipients": [MOBILE], "body": TEXT,
            "media_urls": [media_url], **extra}  # fmt: skip


def send_through_the_function(aws_stack: AwsStack, outbound: dict[str, Any], **env: str) -> None:
    event = load_event("send_gate/marketing.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(outbound)
    event["Records"][0]["Sns"]["MessageAttributes"] = {}
    with iam_calls.acting_as("SendGateFunction"):
        result = aws_stack.runner.invoke("SendGateFunction", event, reuse=not env, env_overrides=env)
    assert result == {"decided": 1}


def decided(aws_stack: AwsStack) -> list[dict[str, Any]]:
    return [e["detail"] for e in aws_stack.bus_events() if e["detail-type"] == "SendDecided"]


def test_mms_sender_sends_the_media_and_a_sender_without_mms_sends_a_working_link(aws_stack: AwsStack) -> None:
    cat = f"s3://{media_bucket(aws_stack)}/promo/cat.jpg"
    send_through_the_function(aws_stack, request("alerts", cat))  # toll-free sender, enabled for MMS
    send_through_the_function(aws_stack, request("tone1", cat, body="Polytone: new tones."))  # short code, no MMS

    mms, sms = aws_stack.outbox_lines()
    assert (mms["to"], mms["from"], mms["body"], mms["media_urls"]) == (MOBILE, "+18005550100", TEXT, [cat])
    assert (sms["to"], sms["from"], sms["media_urls"]) == (MOBILE, "12345", [])
    text, link = sms["body"].rsplit(" ", 1)
    assert text == "Polytone: new tones."
    assert link.startswith("https://")
    assert "X-Amz-Expires=604800" in link  # presigned (SigV4) for the configured lifetime
    opened = requests.get(link, timeout=5)  # moto answers the presigned GET as S3 would
    assert (opened.status_code, opened.content) == (200, JPEG)

    assert [(d["phone"], d["decision"], d["delivery"]) for d in decided(aws_stack)] == [
        (MOBILE, "allow", "mms"),
        (MOBILE, "allow", "sms_link"),
    ]


def test_a_media_domain_gives_short_links(aws_stack: AwsStack) -> None:
    cat = f"s3://{media_bucket(aws_stack)}/promo/cat.jpg"
    send_through_the_function(
        aws_stack, request("tone1", cat, body="Polytone: new tones."), MEDIA_LINK_DOMAIN="media.example.com"
    )
    (sms,) = aws_stack.outbox_lines()
    assert sms["body"] == "Polytone: new tones. https://media.example.com/promo/cat.jpg"
    assert sms["media_urls"] == []
    assert [d["delivery"] for d in decided(aws_stack)] == ["sms_link"]


def test_media_over_a_limit_is_refused_naming_the_limit(aws_stack: AwsStack) -> None:
    film = f"s3://{media_bucket(aws_stack)}/promo/film.mp4"
    send_through_the_function(aws_stack, request("alerts", film))
    assert aws_stack.outbox_lines() == []
    (detail,) = decided(aws_stack)
    assert (detail["decision"], detail["reason"], detail["delivery"]) == ("deny", "MESSAGE_INVALID", "mms")
    assert detail["detail"] == f"per file: {film} is 600001 bytes, over 600000 for video/mp4"


def test_gate_check_route_says_how_each_recipient_gets_the_media(aws_stack: AwsStack) -> None:
    bucket = media_bucket(aws_stack)

    def check(program: str, media_url: str) -> dict[str, Any]:
        body = request(program, media_url)
        response = aws_stack.invoke("AdminApiFunction", api_request("POST", "/v1/gate/check", body=json.dumps(body)))
        assert response["statusCode"] == 200, response["body"]
        (decision,) = json.loads(response["body"])["decisions"]
        return dict(decision)

    assert check("alerts", f"s3://{bucket}/promo/cat.jpg") | {"retry_at": None} == {
        "phone": MOBILE, "decision": "allow", "reason": "ALLOWED", "retry_at": None, "delivery": "mms", "detail": None,
    }  # fmt: skip
    assert check("tone1", f"s3://{bucket}/promo/cat.jpg")["delivery"] == "sms_link"
    refused = check("alerts", f"s3://{bucket}/promo/film.mp4")
    assert (refused["reason"], refused["detail"]) == (
        "MESSAGE_INVALID",
        f"per file: s3://{bucket}/promo/film.mp4 is 600001 bytes, over 600000 for video/mp4",
    )
    schema = aws_stack.invoke("OptinApiFunction", api_request("GET", "/v1/openapi.json"))
    view = json.loads(schema["body"])["components"]["schemas"]["GateDecisionView"]["properties"]
    assert view["delivery"]["enum"] == ["sms", "mms", "sms_link"]


def test_end_user_messaging_sends_text_for_a_link_and_media_for_mms(aws_stack: AwsStack) -> None:
    cat = f"s3://{media_bucket(aws_stack)}/promo/cat.jpg"
    client = boto3.client("pinpoint-sms-voice-v2", region_name=aws_stack.region)
    deps = replace(
        wiring.gate_deps(),
        sender=EndUserMessagingSender(client),
        links=S3MediaLinks(aws_stack.region, domain="media.example.com"),
    )

    def outbound(program: str, body: str) -> OutboundRequest:
        return OutboundRequest(
            program=program, category=Category.TRANSACTIONAL, recipients=(MOBILE,), body=body, media_urls=(cat,)
        )

    common = {"DestinationPhoneNumber": MOBILE, "Context": ANY}
    with Stubber(client) as stub:
        stub.add_response(
            "send_media_message",
            {"MessageId": "mms-1"},
            {**common, "MessageBody": TEXT, "MediaUrls": [cat], "OriginationIdentity": "+18005550100"},
        )
        stub.add_response(
            "send_text_message",
            {"MessageId": "sms-1"},
            {**common, "MessageType": "TRANSACTIONAL", "OriginationIdentity": "12345",
             "MessageBody": "Polytone: new tones. https://media.example.com/promo/cat.jpg"},
        )  # fmt: skip
        (as_mms,) = send_gate.process(outbound("alerts", TEXT), deps)
        (as_link,) = send_gate.process(outbound("tone1", "Polytone: new tones."), deps)
        stub.assert_no_pending_responses()
    assert (as_mms.reason, as_mms.delivery) == (send_gate.Reason.ALLOWED, Delivery.MMS)
    assert (as_link.reason, as_link.delivery) == (send_gate.Reason.ALLOWED, Delivery.SMS_LINK)
