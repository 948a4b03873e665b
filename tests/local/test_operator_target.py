"""How the operator CLI finds its target: explicit flags or environment, a deployed stack's outputs
and API key (CloudFormation and API Gateway on moto), or the local stack's outputs.json; and the
exit code each kind of answer maps to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sms_consent_local.operator_api import (
    NO_TARGET,
    NOT_FOUND,
    OK,
    REFUSED,
    UNAVAILABLE,
    OperatorError,
    exit_code_for,
    resolve,
)

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with mock_aws():
        yield


def _deploy(outputs: dict[str, str]) -> None:
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {name: {"Value": value} for name, value in outputs.items()},
    }
    boto3.client("cloudformation", region_name=REGION).create_stack(
        StackName="shop-sms", TemplateBody=json.dumps(template)
    )


def test_a_deployed_stack_is_found_by_name_with_its_key_value(aws: None, tmp_path: Path) -> None:
    key = boto3.client("apigateway", region_name=REGION).create_api_key(name="operators", enabled=True)
    _deploy({"ApiUrl": "https://abc123.execute-api.us-east-1.amazonaws.com/prod/", "ApiKeyId": key["id"]})

    target = resolve(api_url=None, api_key=None, stack="shop-sms", region=REGION, workdir=tmp_path, environ={})

    assert target.api_url == "https://abc123.execute-api.us-east-1.amazonaws.com/prod"
    assert target.api_key == key["value"]
    assert target.described_as == "stack shop-sms"


@pytest.mark.parametrize("outputs", [{}, {"ApiUrl": "https://x.example"}])
def test_a_stack_that_is_not_ours_or_absent_is_no_target(aws: None, tmp_path: Path, outputs: dict[str, str]) -> None:
    if outputs:
        _deploy(outputs)
    with pytest.raises(OperatorError) as raised:
        resolve(api_url=None, api_key=None, stack="shop-sms", region=REGION, workdir=tmp_path, environ={})
    assert raised.value.exit_code == NO_TARGET


def test_flags_win_over_the_environment_and_the_environment_over_the_local_stack(tmp_path: Path) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps({"ApiUrl": "http://127.0.0.1:3000", "ApiKey": "local"}))
    environ = {"SMS_CONSENT_API_URL": "https://env.example/prod", "SMS_CONSENT_API_KEY": "from-env"}

    flags = resolve(
        api_url="https://flag.example/", api_key="k", stack=None, region=None, workdir=tmp_path, environ=environ
    )
    env = resolve(api_url=None, api_key=None, stack=None, region=None, workdir=tmp_path, environ=environ)
    local = resolve(api_url=None, api_key=None, stack=None, region=None, workdir=tmp_path, environ={})

    assert (flags.api_url, flags.api_key) == ("https://flag.example", "k")
    assert (env.api_url, env.api_key) == ("https://env.example/prod", "from-env")
    assert (local.api_url, local.api_key, local.described_as) == ("http://127.0.0.1:3000", "local", "local stack")
    with pytest.raises(OperatorError, match="needs --api-key"):
        resolve(api_url="https://flag.example", api_key=None, stack=None, region=None, workdir=tmp_path, environ={})


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (200, OK),
        (204, OK),
        (400, REFUSED),
        (403, REFUSED),
        (404, NOT_FOUND),
        (409, REFUSED),
        (422, REFUSED),
        (429, UNAVAILABLE),
        (500, UNAVAILABLE),
        (503, UNAVAILABLE),
    ],
)
def test_each_answer_maps_to_its_documented_exit_code(status: int, code: int) -> None:
    assert exit_code_for(status) == code
