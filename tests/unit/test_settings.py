"""Settings are validated once per function, and a bad environment names the variable at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from sms_consent.settings import (
    DEFAULT_PROGRAM_CONFIG,
    InboundSettings,
    OptinApiSettings,
    PumpingDetectorSettings,
    SendGateSettings,
    SettingsError,
)

COMMON = {"TABLE_NAME": "ConsentTable", "EVENT_BUS_NAME": "sms-consent-dev", "AWS_REGION": "eu-west-1"}
TOPIC = {"OUTBOUND_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:OutboundRequests"}
GATE = {
    **COMMON,
    **TOPIC,
    "DEFERRED_SEND_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/deferred",
    "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
}


def test_reads_the_environment() -> None:
    settings = SendGateSettings.from_env({**GATE, "SENDER_ADAPTER": "sns", "UNRELATED": "x"})
    assert settings.table_name == "ConsentTable"
    assert settings.aws_region == "eu-west-1"
    assert settings.sender_adapter == "sns"
    assert settings.program_config == DEFAULT_PROGRAM_CONFIG
    assert PumpingDetectorSettings.from_env({**COMMON, "PUMPING_MODE": "record_only"}).pumping_mode == "record_only"


def test_each_function_reads_only_its_own_variables() -> None:
    # The detector neither needs nor keeps the gate's queue; the gate's settings have no CAPTCHA.
    assert "deferred_send_queue_url" not in PumpingDetectorSettings.from_env(GATE).model_dump()
    assert "captcha_provider" not in SendGateSettings.from_env(GATE).model_dump()


def test_empty_values_take_the_default() -> None:
    assert (
        SendGateSettings.from_env({**GATE, "CONFIGURATION_SET_NAME": "", "SENDER_ADAPTER": ""}).sender_adapter == "eum"
    )


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"TABLE_NAME": ""}, "TABLE_NAME"),
        ({"OUTBOUND_TOPIC_ARN": "not-an-arn"}, "OUTBOUND_TOPIC_ARN"),
        ({"SENDER_ADAPTER": "carrier-pigeon"}, "SENDER_ADAPTER"),
        ({"DEFAULT_REGION": "usa"}, "DEFAULT_REGION"),
        ({"PROGRAM_CONFIG": "/nonexistent/programs.yaml"}, "PROGRAM_CONFIG"),
        ({"DEFERRED_SEND_QUEUE_URL": ""}, "DEFERRED_SEND_QUEUE_URL"),
        ({"SCHEDULER_ROLE_ARN": "role"}, "SCHEDULER_ROLE_ARN"),
    ],
)
def test_bad_values_name_the_variable(override: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=f"SendGateSettings: .*{variable}"):
        SendGateSettings.from_env({**GATE, **override})


def test_a_missing_variable_is_named_as_required() -> None:
    with pytest.raises(SettingsError, match="OUTBOUND_TOPIC_ARN: missing"):
        InboundSettings.from_env(COMMON)


def test_a_real_captcha_needs_its_secret() -> None:
    with pytest.raises(SettingsError, match="CAPTCHA_SECRET_PARAMETER or CAPTCHA_SECRET_ARN"):
        OptinApiSettings.from_env({**COMMON, **TOPIC, "CAPTCHA_PROVIDER": "turnstile"})
    local = OptinApiSettings.from_env({**COMMON, **TOPIC, "CAPTCHA_PROVIDER": "local"})
    assert local.captcha_provider == "local"


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = InboundSettings.from_env({**COMMON, **TOPIC})
    with pytest.raises(ValueError, match="frozen"):
        settings.table_name = "other"  # type: ignore[misc]
