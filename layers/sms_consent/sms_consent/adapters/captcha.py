"""CAPTCHA verification (the Captcha port of `signup`): Cloudflare Turnstile, hCaptcha, reCAPTCHA, local.

The three services share one protocol: POST the secret, the widget's token and the client's IP as a
form to their siteverify endpoint and read `success` (reCAPTCHA v3 adds a `score`). The secret is read
from Secrets Manager (by ARN) or SSM Parameter Store (by name) on the first verification, and kept for
the life of the process.

An unreachable service is neither a pass nor a failure: the result says `unavailable` and the API
answers 503, so a person can retry, and no sign-up ever passes unchecked.

`local` is for the local stack and tests only; its tokens are documented:
`test-pass` passes, `test-fail` fails, and anything else (a missing token included) fails.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from sms_consent.observability import logger
from sms_consent.ports import Captcha, CaptchaResult

SITEVERIFY = {
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
    "recaptcha": "https://www.google.com/recaptcha/api/siteverify",
}
TIMEOUT_SECONDS = 5.0
RECAPTCHA_MIN_SCORE = 0.5  # v3 scores from 0.0 (bot) to 1.0 (person); v2 has no score
LOCAL_PASS = "test-pass"
LOCAL_FAIL = "test-fail"

# (url, form-encoded body, timeout) -> response body; raises OSError/URLError when unreachable.
Transport = Callable[[str, bytes, float], bytes]


def urllib_transport(url: str, body: bytes, timeout: float) -> bytes:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data: bytes = response.read()
        return data


class _StoredSecret:
    """A secret read from an AWS secret store on first use and cached for the life of the process."""

    service = ""

    def __init__(self, name: str, region: str, client: Any = None) -> None:
        self._name = name
        self._region = region
        self._client = client
        self._value: str | None = None

    def __call__(self) -> str:
        if self._value is None:
            if self._client is None:
                from sms_consent.adapters.aws import client

                self._client = client(self.service, self._region)
            self._value = self._read(self._client)
        return self._value

    def _read(self, client: Any) -> str:
        raise NotImplementedError


class SsmSecret(_StoredSecret):
    """From SSM Parameter Store, by parameter name (a SecureString)."""

    service = "ssm"

    def _read(self, client: Any) -> str:
        return str(client.get_parameter(Name=self._name, WithDecryption=True)["Parameter"]["Value"])


class SecretsManagerSecret(_StoredSecret):
    """From Secrets Manager, by ARN (its SecretString)."""

    service = "secretsmanager"

    def _read(self, client: Any) -> str:
        return str(client.get_secret_value(SecretId=self._name)["SecretString"])


class SiteverifyCaptcha:
    """Turnstile, hCaptcha or reCAPTCHA: one siteverify POST per token."""

    def __init__(
        self,
        provider: str,
        secret: Callable[[], str],
        *,
        transport: Transport = urllib_transport,
        timeout: float = TIMEOUT_SECONDS,
        min_score: float = RECAPTCHA_MIN_SCORE,
    ) -> None:
        if provider not in SITEVERIFY:
            raise ValueError(f"unknown CAPTCHA provider '{provider}' (expected one of {', '.join(SITEVERIFY)})")
        self.provider = provider
        self.url = SITEVERIFY[provider]
        self._secret = secret
        self._transport = transport
        self._timeout = timeout
        self._min_score = min_score

    def request_body(self, token: str, client_ip: str | None) -> bytes:
        fields = {"secret": self._secret(), "response": token}
        if client_ip:
            fields["remoteip"] = client_ip
        return urllib.parse.urlencode(fields).encode("ascii")

    def verify(self, token: str, client_ip: str | None) -> CaptchaResult:
        try:
            body = self.request_body(token, client_ip)
        except Exception:
            logger.exception("CAPTCHA secret unavailable", extra={"provider": self.provider})
            return CaptchaResult(self.provider, passed=False, unavailable=True, error_codes=("secret-unavailable",))
        try:
            raw = self._transport(self.url, body, self._timeout)
            answer = json.loads(raw)
        except (OSError, ValueError) as exc:  # URLError, timeouts and HTTP errors are OSErrors
            logger.warning("CAPTCHA service unreachable", extra={"provider": self.provider, "error": str(exc)[:200]})
            return CaptchaResult(self.provider, passed=False, unavailable=True, error_codes=("service-unavailable",))
        if not isinstance(answer, dict):
            return CaptchaResult(self.provider, passed=False, unavailable=True, error_codes=("bad-response",))
        return self._result(answer)

    def _result(self, answer: dict[str, Any]) -> CaptchaResult:
        codes = tuple(str(code) for code in answer.get("error-codes") or ())
        passed = answer.get("success") is True
        score = answer.get("score")
        if passed and isinstance(score, int | float) and score < self._min_score:
            passed, codes = False, (*codes, f"score-below-{self._min_score}")
        hostname = answer.get("hostname")
        challenge_ts = answer.get("challenge_ts")
        return CaptchaResult(
            self.provider,
            passed=passed,
            error_codes=codes,
            hostname=str(hostname) if hostname else None,
            challenge_ts=str(challenge_ts) if challenge_ts else None,
        )


class LocalCaptcha:
    """The local stack's CAPTCHA: `test-pass` passes; `test-fail`, and any other token, fails."""

    provider = "local"

    def verify(self, token: str, client_ip: str | None) -> CaptchaResult:
        if token == LOCAL_PASS:
            return CaptchaResult(self.provider, passed=True, hostname="localhost")
        return CaptchaResult(self.provider, passed=False, error_codes=("invalid-input-response",))


def build_captcha(
    provider: str,
    *,
    secret_parameter: str,
    region: str,
    secret_arn: str = "",
    transport: Transport | None = None,
) -> Captcha:
    """The adapter the settings name; the secret is not read until the first verification."""
    if provider == "local":
        return LocalCaptcha()
    secret: Callable[[], str]
    if secret_arn:
        secret = SecretsManagerSecret(secret_arn, region)
    elif secret_parameter:
        secret = SsmSecret(secret_parameter, region)
    else:
        raise ValueError(
            f"CAPTCHA provider '{provider}' needs CAPTCHA_SECRET_ARN (Secrets Manager) "
            "or CAPTCHA_SECRET_PARAMETER (an SSM parameter name)"
        )
    return SiteverifyCaptcha(provider, secret, transport=transport or urllib_transport)
