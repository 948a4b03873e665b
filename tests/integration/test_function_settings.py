"""Each function validates its own settings at cold start: deployed without a variable it needs, it
fails to start with a message naming that variable, before it touches any event."""

from __future__ import annotations

import pytest

from sms_consent.settings import (
    AdminApiSettings,
    BlocklistFilesSettings,
    ConsentFeedSettings,
    FunctionSettings,
    InboundSettings,
    ListHygieneSettings,
    OptinApiSettings,
    ProviderSyncSettings,
    PumpingDetectorSettings,
    SendGateSettings,
    SettingsError,
)
from tests.conftest import AwsStack

SETTINGS_OF: dict[str, type[FunctionSettings]] = {
    "InboundSmsFunction": InboundSettings,
    "SendGateFunction": SendGateSettings,
    "OptinApiFunction": OptinApiSettings,
    "AdminApiFunction": AdminApiSettings,
    "PumpingDetectorFunction": PumpingDetectorSettings,
    "ConsentFeedFunction": ConsentFeedSettings,
    "ProviderSyncFunction": ProviderSyncSettings,
    "BlocklistFilesFunction": BlocklistFilesSettings,
    "ListHygieneFunction": ListHygieneSettings,
}
REQUIRED = [
    (function_id, model.variable(field))
    for function_id, model in SETTINGS_OF.items()
    for field, info in model.model_fields.items()
    if info.is_required()
]


def test_every_function_of_the_template_has_its_settings_model(aws_stack: AwsStack) -> None:
    assert {spec.logical_id for spec in aws_stack.runner.template.functions()} == set(SETTINGS_OF)


def test_the_template_gives_every_function_what_its_settings_require(aws_stack: AwsStack) -> None:
    for function_id, model in SETTINGS_OF.items():
        model.from_env(aws_stack.runner.env[function_id])


@pytest.mark.parametrize(("function_id", "variable"), REQUIRED)
def test_a_function_without_a_required_variable_fails_its_cold_start_naming_it(
    aws_stack: AwsStack, function_id: str, variable: str
) -> None:
    with pytest.raises(SettingsError, match=f"{SETTINGS_OF[function_id].__name__}: .*{variable}: missing"):
        aws_stack.runner.load(function_id, env_overrides={variable: ""})
