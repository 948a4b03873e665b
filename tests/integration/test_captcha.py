"""CAPTCHA adapters: the siteverify request each service gets, how its answers are read, the secret from
SSM Parameter Store or Secrets Manager (moto), and what POST /v1/optins answers when the service is down.

The services themselves are on the internet; a recording transport stands in for their HTTP endpoint
and answers with the documented response bodies.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from sms_consent import wiring
from sms_consent.adapters import captcha
from sms_consent.adapters.captcha import (
    SITEVERIFY,
    LocalCaptcha,
    SecretsManagerSecret,
    SiteverifyCaptcha,
    SsmSecret,
    build_captcha,
)
from tests.conftest import AwsStack, api_request, stores

SECRET = "0x4AAAAAAAtest-secret"


@dataclass
class Siteverify:
    """The service's HTTP endpoint: records each form posted and answers with `answer`."""

    answer: Any = field(default_factory=lambda: {"success": True, "hostname": "shop.example.com"})
    posted: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)

    def __call__(self, url: str, body: bytes, timeout: float) -> bytes:
        self.posted.append((url, urllib.parse.parse_qs(body.decode("ascii"))))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()


@pytest.mark.parametrize("provider", ["turnstile", "hcaptcha", "recaptcha"])
def test_each_service_gets_its_siteverify_form(provider: str) -> None:
    service = Siteverify()
    adapter = SiteverifyCaptcha(provider, lambda: SECRET, transport=service)

    result = adapter.verify("widget-token", "198.51.100.7")

    assert result.passed
    assert result.provider == provider
    ((url, posted),) = service.posted
    assert url == SITEVERIFY[provider]
    assert url.startswith("https://")
    assert posted == {"secret": [SECRET], "response": ["widget-token"], "remoteip": ["198.51.100.7"]}
    assert result.evidence() == {"provider": provider, "passed": True, "hostname": "shop.example.com"}


@pytest.mark.parametrize(
    ("answer", "passed", "unavailable", "codes"),
    [
        ({"success": False, "error-codes": ["invalid-input-response"]}, False, False, ["invalid-input-response"]),
        ({"success": "true"}, False, False, []),  # only a JSON true passes
        ({"success": True, "score": 0.9}, True, False, []),
        ({"success": True, "score": 0.1}, False, False, ["score-below-0.5"]),
        ({}, False, False, []),
        ([True], False, True, ["bad-response"]),
        (b"<html>502 Bad Gateway</html>", False, True, ["service-unavailable"]),
        (urllib.error.URLError("timed out"), False, True, ["service-unavailable"]),
        (TimeoutError("read timed out"), False, True, ["service-unavailable"]),
    ],
)
def test_answers_are_read_strictly(answer: Any, passed: bool, unavailable: bool, codes: list[str]) -> None:
    adapter = SiteverifyCaptcha("recaptcha", lambda: SECRET, transport=Siteverify(answer))

    result = adapter.verify("token", None)

    assert (result.passed, result.unavailable) == (passed, unavailable)
    assert list(result.error_codes) == codes


def test_no_client_ip_sends_no_remoteip() -> None:
    service = Siteverify()
    SiteverifyCaptcha("hcaptcha", lambda: SECRET, transport=service).verify("token", None)
    assert "remoteip" not in service.posted[0][1]


def test_the_local_provider_knows_only_its_documented_tokens() -> None:
    local = LocalCaptcha()
    assert local.verify("test-pass", None).passed
    assert not local.verify("test-fail", None).passed
    assert not local.verify("TEST-PASS", None).passed
    assert not local.verify("", None).passed


def test_secrets_come_from_ssm_or_secrets_manager_read_once(aws_stack: AwsStack) -> None:
    ssm = boto3.client("ssm", region_name=aws_stack.region)
    ssm.put_parameter(Name="/sms-consent/captcha-secret", Value=SECRET, Type="SecureString")
    manager = boto3.client("secretsmanager", region_name=aws_stack.region)
    arn = manager.create_secret(Name="sms-consent/captcha", SecretString="sm-" + SECRET)["ARN"]

    from_ssm = SsmSecret("/sms-consent/captcha-secret", aws_stack.region)
    from_manager = SecretsManagerSecret(arn, aws_stack.region)

    assert from_ssm() == SECRET
    assert from_manager() == "sm-" + SECRET
    ssm.put_parameter(Name="/sms-consent/captcha-secret", Value="rotated", Type="SecureString", Overwrite=True)
    assert from_ssm() == SECRET  # kept for the life of the process: one read per cold start


def test_build_captcha_prefers_secrets_manager_and_needs_a_secret(aws_stack: AwsStack) -> None:
    manager = boto3.client("secretsmanager", region_name=aws_stack.region)
    arn = manager.create_secret(Name="sms-consent/captcha", SecretString=SECRET)["ARN"]
    service = Siteverify()

    adapter = build_captcha(
        "turnstile", secret_parameter="/missing", secret_arn=arn, region=aws_stack.region, transport=service
    )
    assert adapter.verify("token", None).passed
    assert service.posted[0][1]["secret"] == [SECRET]

    with pytest.raises(ValueError, match="CAPTCHA_SECRET"):
        build_captcha("hcaptcha", secret_parameter="", region=aws_stack.region)
    assert isinstance(build_captcha("local", secret_parameter="", region=aws_stack.region), LocalCaptcha)


def test_a_missing_secret_is_unavailable_not_a_pass(aws_stack: AwsStack) -> None:
    adapter = SiteverifyCaptcha("turnstile", SsmSecret("/not/there", aws_stack.region), transport=Siteverify())
    result = adapter.verify("token", None)
    assert (result.passed, result.unavailable) == (False, True)


def _post_with_turnstile(
    aws_stack: AwsStack,
    monkeypatch: pytest.MonkeyPatch,
    service: Siteverify,
    *,
    phone: str = "+14155550142",
    token: str = "widget-token",
    env: dict[str, str] | None = None,
) -> Any:
    boto3.client("ssm", region_name=aws_stack.region).put_parameter(
        Name="/sms-consent/captcha-secret", Value=SECRET, Type="SecureString", Overwrite=True
    )
    monkeypatch.setattr(captcha, "urllib_transport", service)
    wiring.reset()
    body = {
        "phone": phone,
        "program": "alerts",
        "captcha_token": token,
        "consent_text": "I agree to receive Example Corp Alerts, 4 msgs/month. Msg & data rates may apply.",
    }
    event = api_request("POST", "/v1/optins", body=json.dumps(body), source_ip="198.51.100.7")
    overrides = {"CAPTCHA_PROVIDER": "turnstile", "CAPTCHA_SECRET_PARAMETER": "/sms-consent/captcha-secret"}
    overrides.update(env or {})
    try:
        return aws_stack.runner.invoke("OptinApiFunction", event, reuse=False, env_overrides=overrides)
    finally:
        wiring.reset()


def test_the_optin_route_verifies_with_the_configured_service(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Siteverify()
    response = _post_with_turnstile(aws_stack, monkeypatch, service)

    assert response["statusCode"] == 202
    ((url, posted),) = service.posted
    assert url == SITEVERIFY["turnstile"]
    assert posted["response"] == ["widget-token"]
    assert posted["remoteip"] == ["198.51.100.7"]


def test_an_unreachable_service_answers_503_and_subscribes_nobody(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    response = _post_with_turnstile(aws_stack, monkeypatch, Siteverify(urllib.error.URLError("no route")))

    assert response["statusCode"] == 503
    document = json.loads(response["body"])
    assert document["type"] == "urn:sms-consent:problem:captcha-unavailable"
    assert "try again" in document["detail"]
    assert aws_stack.outbound_requests() == []


@dataclass
class SingleUseSiteverify(Siteverify):
    """As the services answer: a token passes once; every later verification of it is a duplicate."""

    seen: set[str] = field(default_factory=set)

    def __call__(self, url: str, body: bytes, timeout: float) -> bytes:
        token = urllib.parse.parse_qs(body.decode("ascii"))["response"][0]
        self.answer = (
            {"success": False, "error-codes": ["timeout-or-duplicate"]}
            if token in self.seen
            else {"success": True, "hostname": "shop.example.com", "challenge_ts": "2026-12-05T09:00:00Z"}
        )
        self.seen.add(token)
        return super().__call__(url, body, timeout)


def _refused_as_failed_captcha(response: dict[str, Any], detail: str) -> None:
    assert response["statusCode"] == 403
    document = json.loads(response["body"])
    assert document["type"] == "urn:sms-consent:problem:captcha-failed"
    assert detail in document["detail"]


def test_a_replayed_token_signs_up_nobody_else(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> None:
    service = SingleUseSiteverify()
    first = _post_with_turnstile(aws_stack, monkeypatch, service, phone="+14155550142", token="solved-once")
    assert first["statusCode"] == 202
    assert len(aws_stack.outbound_requests()) == 1  # the first person's prompt

    replay = _post_with_turnstile(aws_stack, monkeypatch, service, phone="+14155550143", token="solved-once")

    _refused_as_failed_captcha(replay, "not passed")
    assert len(service.posted) == 2  # the replay was checked with the service, not trusted
    assert aws_stack.outbound_requests() == []
    assert stores().numbers.history("+14155550143") == []


@pytest.mark.parametrize(
    ("env", "solved_on"),
    [
        ({"CAPTCHA_HOSTNAMES": "shop.example.com"}, "captcha-farm.example.net"),
        ({"CAPTCHA_HOSTNAMES": "shop.example.com, www.example.com"}, None),  # the service could not place it
        ({"ALLOWED_ORIGIN": "https://shop.example.com"}, "shop.example.com.evil.test"),
    ],
)
def test_a_token_solved_on_another_site_is_refused(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], solved_on: str | None
) -> None:
    service = Siteverify({"success": True, "hostname": solved_on} if solved_on else {"success": True})

    response = _post_with_turnstile(aws_stack, monkeypatch, service, env=env)

    _refused_as_failed_captcha(response, "another site")
    assert aws_stack.outbound_requests() == []
    assert stores().numbers.history("+14155550142") == []


@pytest.mark.parametrize(
    "env",
    [
        {"CAPTCHA_HOSTNAMES": "www.example.com,Shop.Example.com"},
        {"ALLOWED_ORIGIN": "https://shop.example.com:8443"},
        {},  # an open CORS origin and no list: any site, as before
    ],
)
def test_a_token_solved_on_the_business_site_passes(
    aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    response = _post_with_turnstile(aws_stack, monkeypatch, Siteverify(), env=env)

    assert response["statusCode"] == 202
    (history,) = stores().numbers.history("+14155550142")
    assert history.evidence["captcha"]["hostname"] == "shop.example.com"
