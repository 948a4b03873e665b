"""Program configuration: the shipped sample loads; bad files stop loading with file, program and field."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_consent.config import ConfigError, load_config, parse_config
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG


@pytest.fixture
def sample() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(DEFAULT_PROGRAM_CONFIG.read_text(encoding="utf-8"))
    return data


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "programs.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_shipped_sample_matches_the_design(sample: dict[str, Any]) -> None:
    config = load_config(DEFAULT_PROGRAM_CONFIG)
    assert config.sender("+18005550100") is not None
    assert config.senders_by_number["+18005550100"].bare_stop == "all"
    assert config.senders_by_number["12345"].bare_stop == "ask"
    assert config.programs_of("12345") == ("tone1", "tone2")
    assert config.program_for_keyword("tone1", "12345") == "tone1"
    assert config.program_for_keyword("TONE1", "+18005550100") is None
    assert config.programs["alerts"].double_opt_in is True


def test_reply_without_stop_instructions_names_file_program_and_field(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["programs"]["alerts"]["replies"]["confirmation"] = (
        "Example Corp Alerts: you are subscribed. 4 msgs/month. Msg & data rates may apply. Reply HELP for help."
    )
    path = _write(tmp_path, sample)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.file == str(path)
    assert error.where == "program 'alerts'"
    assert error.field == "replies.confirmation"
    assert "STOP" in error.message
    assert str(path) in str(error)
    assert "replies.confirmation" in str(error)


def test_unknown_keyword_action_is_rejected(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["programs"]["tone1"]["keywords"] = [{"word": "TONE1", "action": "subscribe_forever"}]
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, sample))
    assert caught.value.where == "program 'tone1'"
    assert caught.value.field == "keywords.0.action"


def test_malformed_sender_number_is_rejected(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["senders"][1]["number"] = "+1 555 12"
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, sample))
    assert caught.value.where == "senders[1]"
    assert caught.value.field == "number"
    assert "+1 555 12" in caught.value.message


@pytest.mark.parametrize(
    ("path", "value", "field", "fragment"),
    [
        (
            ("programs", "alerts", "replies", "help"),
            "Call us anytime. Reply STOP to cancel.",
            "replies.help",
            "support contact",
        ),
        (("programs", "alerts", "replies", "stop"), "Bye for now!", "replies.stop", "no more messages"),
        (
            ("programs", "alerts", "replies", "optin_prompt"),
            "Reply YES to confirm. Reply HELP for help, STOP to cancel. 4 msgs/month. Msg & data rates may apply.",
            "replies.optin_prompt",
            "program or brand",
        ),
        (
            ("programs", "alerts", "replies", "optin_prompt"),
            "Example Corp Alerts: reply YES. Msg & data rates may apply. Reply HELP for help, STOP to cancel.",
            "replies.optin_prompt",
            "frequency",
        ),
        (
            ("programs", "alerts", "replies", "confirmation"),
            "Example Corp Alerts: subscribed. 4 msgs/month. Reply HELP for help, STOP to cancel.",
            "replies.confirmation",
            "Msg & data rates",
        ),
        (
            ("programs", "alerts", "translations", "es", "stop"),
            "Example Corp Alertas: adios.",
            "translations.es.stop",
            "no more messages",
        ),
    ],
)
def test_compliance_lint(
    tmp_path: Path, sample: dict[str, Any], path: tuple[str, ...], value: str, field: str, fragment: str
) -> None:
    data = copy.deepcopy(sample)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, data))
    assert caught.value.field == field
    assert fragment in caught.value.message


def test_sender_referencing_unknown_program(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["senders"][0]["programs"] = ["alerts", "nope"]
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, sample))
    assert (caught.value.where, caught.value.field) == ("senders[0]", "programs")


def test_asking_sender_needs_a_menu(tmp_path: Path, sample: dict[str, Any]) -> None:
    del sample["senders"][1]["stop_menu"]
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, sample))
    assert caught.value.field == "stop_menu"


def test_keyword_owned_by_two_programs(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["programs"]["tone2"]["keywords"] = [{"word": "TONE1"}]
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, sample))
    assert "TONE1" in caught.value.message


def test_unknown_field_is_rejected(tmp_path: Path, sample: dict[str, Any]) -> None:
    sample["programs"]["alerts"]["frequncy"] = "typo"
    with pytest.raises(ConfigError) as caught:
        load_config(_write(tmp_path, sample))
    assert caught.value.field == "frequncy"


@pytest.mark.parametrize("text", ["", "- just\n- a list\n", "programs: [\n", "\x00\x01"])
def test_not_a_config_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "programs.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.yaml")


def test_parse_config_rejects_non_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["not", "a", "mapping"])
