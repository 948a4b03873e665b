"""Where the operator CLI sends its requests, and what an answer means for its exit code.

A target is an API address and its key, found in this order:
1. `--api-url` and `--api-key` (or SMS_CONSENT_API_URL and SMS_CONSENT_API_KEY);
2. `--stack NAME`: a deployed stack's outputs (`ApiUrl`, `ApiKeyId`) read from CloudFormation, and
   the key's value from API Gateway (the caller's AWS credentials and region);
3. the local stack's `outputs.json` in the working folder (what `make run` writes).

Exit codes a script can rely on: 0 done; 2 bad usage (argparse's own); 3 not found; 4 refused
(another 4xx: invalid input, a consent rule); 5 unavailable (a 5xx, 429, or no answer at all);
6 no target (no stack found, no key).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

OK, NOT_FOUND, REFUSED, UNAVAILABLE, NO_TARGET = 0, 3, 4, 5, 6
TIMEOUT_SECONDS = 30.0


class OperatorError(Exception):
    """Something the operator must read, with the exit code it ends the command with."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Target:
    api_url: str
    api_key: str
    described_as: str  # "local stack", "stack my-stack", "https://..."


def _from_stack(name: str, region: str | None) -> Target:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(region_name=region)
    try:
        (stack,) = session.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        outputs = {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}
        if "ApiUrl" not in outputs or "ApiKeyId" not in outputs:
            raise OperatorError(f"stack {name} has no ApiUrl/ApiKeyId outputs: is it an sms-consent stack?", NO_TARGET)
        key = session.client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
    except (BotoCoreError, ClientError) as exc:
        raise OperatorError(f"stack {name}: {exc}", NO_TARGET) from None
    return Target(outputs["ApiUrl"].rstrip("/"), key, f"stack {name}")


def resolve(
    *,
    api_url: str | None,
    api_key: str | None,
    stack: str | None,
    region: str | None,
    workdir: Path,
    environ: Mapping[str, str] = os.environ,
) -> Target:
    url = api_url or environ.get("SMS_CONSENT_API_URL")
    key = api_key or environ.get("SMS_CONSENT_API_KEY")
    if url:
        if not key:
            raise OperatorError("--api-url needs --api-key (or SMS_CONSENT_API_KEY)", NO_TARGET)
        return Target(url.rstrip("/"), key, url)
    if stack:
        return _from_stack(stack, region)
    outputs_file = workdir / "outputs.json"
    if not outputs_file.is_file():
        raise OperatorError(
            f"no target: pass --stack NAME or --api-url and --api-key, or start the local stack ({outputs_file} "
            "not found)",
            NO_TARGET,
        )
    outputs = json.loads(outputs_file.read_text(encoding="utf-8"))
    return Target(outputs["ApiUrl"].rstrip("/"), outputs["ApiKey"], "local stack")


def exit_code_for(status: int) -> int:
    if status < 400:
        return OK
    if status == 404:
        return NOT_FOUND
    if status == 429 or status >= 500:
        return UNAVAILABLE
    return REFUSED


class Api:
    """The admin API of one target; an answer of 400 and above raises OperatorError with its detail."""

    def __init__(self, target: Target, session: requests.Session | None = None) -> None:
        self.target = target
        self._session = session or requests.Session()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        data: bytes | None = None,
        content_type: str = "application/json",
    ) -> requests.Response:
        headers = {"x-api-key": self.target.api_key}
        payload = data
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
        if payload is not None:
            headers["Content-Type"] = content_type
        query = {name: value for name, value in (params or {}).items() if value is not None}
        try:
            response = self._session.request(
                method, self.target.api_url + path, params=query, data=payload, headers=headers, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as exc:
            raise OperatorError(f"{self.target.described_as} did not answer: {exc}", UNAVAILABLE) from None
        if response.status_code >= 400:
            raise OperatorError(_problem_text(response), exit_code_for(response.status_code))
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        return response.json() if response.content else {}


def _problem_text(response: requests.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:300]}"
    detail = document.get("detail") or document.get("message") or document
    return f"{response.status_code} {document.get('title', '')}: {detail}".replace("  ", " ")
