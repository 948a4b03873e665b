"""Sender hygiene (seed 001): the lint's warnings for a number that mixes message types or brands, and
for a shared short code whose programs a consumer cannot tell apart; `sms-consent lint --strict`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from sms_consent.compliance_lint import LintProblem, reply_problems, sender_warnings
from sms_consent.config import load_config, parse_config
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from sms_consent_local import cli


def program(name: str, brand: str, *keywords: str, category: str = "marketing") -> dict[str, Any]:
    """A program whose replies pass the compliance lint (errors), so only warnings are left to see."""
    tail = "4 msgs/month. Msg & data rates may apply. Reply HELP for help, STOP to cancel."
    return {
        "name": name,
        "brand": brand,
        "category": category,
        "keywords": [{"word": word, "action": "opt_in"} for word in keywords],
        "frequency": "4 msgs/month",
        "support": "help@example.com",
        "replies": {
            "optin_prompt": f"{name}: reply YES to confirm. {tail}",
            "confirmation": f"{name}: you are subscribed. {tail}",
            "help": f"{name}: help at help@example.com. Reply STOP to cancel.",
            "stop": f"{name}: you are unsubscribed and will receive no more messages.",
        },
    }


def config_of(number: str, programs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "senders": [
            {
                "number": number,
                "bare_stop": "ask",
                "programs": list(programs),
                "stop_menu": "Reply STOP <keyword> for one program or STOP ALL for every one.",
            }
        ],
        "programs": programs,
    }


def warnings_of(data: dict[str, Any]) -> list[str]:
    return [warning.message for warning in sender_warnings(parse_config(data))]


def test_the_sample_configuration_warns_only_that_its_short_code_serves_two_brands() -> None:
    warnings = sender_warnings(load_config(DEFAULT_PROGRAM_CONFIG))

    assert warnings == [
        LintProblem(
            "senders[1] (12345)", "programs", "serves several brands (Polytone, Truetone): use a number for each brand"
        )
    ]


def test_one_brand_with_distinct_keywords_on_its_short_code_has_no_warning() -> None:
    data = config_of(
        "12345", {"news": program("Acme News", "Acme", "NEWS"), "deals": program("Acme Deals", "ACME", "DEALS")}
    )

    assert warnings_of(data) == []  # brands compare without case


def test_a_number_serving_transactional_and_marketing_programs() -> None:
    data = config_of(
        "+18005550100",
        {
            "orders": program("Acme Orders", "Acme", "ORDERS", category="transactional"),
            "deals": program("Acme Deals", "Acme", "DEALS"),
        },
    )

    assert warnings_of(data) == [
        "serves both transactional and marketing programs (orders (transactional), deals (marketing)): "
        "use a number for each type"
    ]


def test_a_number_serving_several_brands() -> None:
    data = config_of(
        "+18005550100", {"a": program("Acme Deals", "Acme", "ACME"), "b": program("Zed Deals", "Zed", "ZED")}
    )

    assert warnings_of(data) == ["serves several brands (Acme, Zed): use a number for each brand"]


def test_a_program_without_a_keyword_on_a_shared_short_code() -> None:
    data = config_of("12345", {"news": program("Acme News", "Acme", "NEWS"), "deals": program("Acme Deals", "Acme")})

    [warning] = warnings_of(data)
    assert warning.startswith("program 'deals' has no keyword of its own on the shared short code")


def test_a_keyword_that_is_a_universal_word_is_not_the_programs_own() -> None:
    # JOIN is START's synonym on every sender: texting it cannot say "deals".
    data = config_of(
        "12345", {"news": program("Acme News", "Acme", "NEWS"), "deals": program("Acme Deals", "Acme", "JOIN")}
    )

    [warning] = warnings_of(data)
    assert "program 'deals' has no keyword of its own" in warning
    assert "only JOIN" in warning


def test_two_programs_whose_keywords_read_the_same_on_a_handset() -> None:
    # Distinct strings in the file, one keyword once a consumer's text is normalized.
    data = config_of(
        "12345", {"tone1": program("Tone One", "Tones", "TONE-1"), "tone2": program("Tone Two", "Tones", "TONE 1")}
    )

    assert warnings_of(data) == ["programs tone1, tone2 share the keyword TONE 1: a consumer cannot say which program"]


def test_keywords_are_checked_on_short_codes_only() -> None:
    data = config_of("+18005550100", {"news": program("Acme News", "Acme"), "deals": program("Acme Deals", "Acme")})

    assert warnings_of(data) == []


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "programs.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_lint_prints_warnings_and_passes_without_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        config_of("12345", {"a": program("Acme Deals", "Acme", "ACME"), "b": program("Zed Deals", "Zed", "ZED")}),
    )

    assert cli.main(["lint", str(path)]) == 0
    captured = capsys.readouterr()
    assert "OK (2 programs, 1 senders, 1 warning(s))" in captured.out
    assert "warning:" in captured.err
    assert "serves several brands (Acme, Zed)" in captured.err


def test_strict_turns_warnings_into_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        config_of("12345", {"a": program("Acme Deals", "Acme", "ACME"), "b": program("Zed Deals", "Zed", "ZED")}),
    )

    assert cli.main(["lint", "--strict", str(path)]) == 1
    assert "FAILED with --strict" in capsys.readouterr().err


def test_strict_passes_a_clean_configuration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, config_of("12345", {"news": program("Acme News", "Acme", "NEWS")}))

    assert cli.main(["lint", "--strict", str(path)]) == 0
    assert "OK (1 programs, 1 senders, 0 warning(s))" in capsys.readouterr().out


def test_errors_still_fail_without_strict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = program("Acme News", "Acme", "NEWS")
    broken["replies"]["stop"] = "Acme News: bye."
    path = write(tmp_path, config_of("12345", {"news": broken}))

    assert cli.main(["lint", str(path)]) == 1
    assert "the STOP reply must confirm" in capsys.readouterr().err


def test_reply_checks_as_a_handset_reads_them() -> None:
    config = load_config(DEFAULT_PROGRAM_CONFIG)
    alerts = config.programs["alerts"]
    tones = (config.programs["tone1"], config.programs["tone2"])

    assert reply_problems("help", alerts.replies.help, (alerts,)) == []
    assert reply_problems("help", "Questions? Write to support@example.com.", (alerts,)) == [
        "must name the program or brand",
        "must say how to opt out (STOP)",
    ]
    assert reply_problems("stop", alerts.replies.stop, (alerts,)) == []
    assert reply_problems("stop", "Example Corp Alerts: OK.", (alerts,)) == [
        "must confirm that no more messages will be sent"
    ]
    assert reply_problems("optin_prompt", alerts.replies.optin_prompt or "", (alerts,)) == []
    menu = config.senders[1].stop_menu or ""
    assert reply_problems("stop_menu", menu, tones) == []
    assert reply_problems("stop_menu", "Send STOP TONE1 or STOP ALL.", tones) == [
        "must offer STOP TONE2 (Truetone club)"
    ]
