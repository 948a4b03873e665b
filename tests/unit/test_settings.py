"""Settings are validated once, and a bad environment names the variable at fault."""

from __future__ import annotations

from pathlib import Path

import pytest

from sms_consent.settings import DEFAULT_PROGRAM_CONFIG, Settings, SettingsError

GOOD = {
    "TABLE_NAME": "ConsentTable",
    "OUTBOUND_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:OutboundRequests",
    "EVENT_BUS_NAME": "sms-consent-dev",
    "AWS_REGION": "eu-west-1",
}


def test_reads_the_environment() -> None:
    settings = Settings.from_env({**GOOD, "SENDER_ADAPTER": "sns", "PUMPING_MODE": "record_only", "UNRELATED": "x"})
    assert settings.table_name == "ConsentTable"
    assert settings.aws_region == "eu-west-1"
    assert settings.sender_adapter == "sns"
    assert settings.pumping_mode == "record_only"
    assert settings.program_config == DEFAULT_PROGRAM_CONFIG


def test_empty_values_take_the_default() -> None:
    assert Settings.from_env({**GOOD, "CONFIGURATION_SET_NAME": "", "SENDER_ADAPTER": ""}).sender_adapter == "eum"


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"TABLE_NAME": ""}, "TABLE_NAME"),
        ({"OUTBOUND_TOPIC_ARN": "not-an-arn"}, "OUTBOUND_TOPIC_ARN"),
        ({"SENDER_ADAPTER": "carrier-pigeon"}, "SENDER_ADAPTER"),
        ({"DEFAULT_REGION": "usa"}, "DEFAULT_REGION"),
        ({"PROGRAM_CONFIG": "/nonexistent/programs.yaml"}, "PROGRAM_CONFIG"),
    ],
)
def test_bad_values_name_the_variable(override: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env({**GOOD, **override})


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = Settings.from_env(GOOD)
    with pytest.raises(ValueError, match="frozen"):
        settings.table_name = "other"  # type: ignore[misc]
