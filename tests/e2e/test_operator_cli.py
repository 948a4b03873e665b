"""The operator's CLI (`sms-consent numbers|blocklist|audit|metrics`) against the running local stack,
as an operator or a script uses it: readable tables, `--json` that parses, files written, and the
documented exit codes for a missing number, a refused request, no answer and no target."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from sms_consent_local import cli
from tests.e2e.conftest import RunningStack

BLOCKED = "+14155557301"
SUBSCRIBED = "+14155557302"
IMPORTED = ("+14155557303", "+14155557304")


def run(stack: RunningStack, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["--workdir", str(stack.workdir), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def as_json(stack: RunningStack, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = run(stack, capsys, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_blocklist_add_show_search_export_and_remove(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = as_json(local_stack, capsys, "blocklist", "add", BLOCKED, "--type", "2", "--reason", "asked by phone")
    assert (entry["phone"], entry["type"], entry["reason"]) == (BLOCKED, 2, "asked by phone")

    code, shown, _ = run(local_stack, capsys, "numbers", "show", BLOCKED)
    assert code == 0
    assert BLOCKED in shown
    assert "blocklist: type 2" in shown

    found = as_json(local_stack, capsys, "blocklist", "search", "--prefix", "+1415555730")
    assert BLOCKED in [item["phone"] for item in found["items"]]

    code, out, _ = run(local_stack, capsys, "blocklist", "export", "--prefix", "+1415555730")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert [BLOCKED, "2"] in [row[:2] for row in rows]

    code, _, _ = run(local_stack, capsys, "blocklist", "remove", BLOCKED)
    assert code == 0
    assert as_json(local_stack, capsys, "numbers", "show", BLOCKED)["block"] is None


def test_an_import_reports_its_rejected_lines_and_exits_4(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    upload = tmp_path / "blocklist.csv"
    upload.write_text(f"Mobile Number,Block Type\n{IMPORTED[0]},3\nnot a number,3\n{IMPORTED[1]},1\n", encoding="utf-8")

    code, out, _ = run(local_stack, capsys, "blocklist", "import", str(upload))

    assert code == 4
    assert "imported 2 rows, rejected 1" in out
    assert "line 3" in out
    assert as_json(local_stack, capsys, "numbers", "show", IMPORTED[1])["block"]["type"] == 1


def test_a_file_goes_through_the_presigned_upload_and_its_import_is_followed(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # What a file over 1 MB takes (forced here with --upload, to keep the test small).
    numbers = [f"+141555576{index:02d}" for index in range(40)]
    upload = tmp_path / "big.csv"
    upload.write_text(
        "Mobile Number,Block Type\n" + "".join(f"{n},2\n" for n in numbers) + "nope,2\n", encoding="utf-8"
    )

    code, out, err = run(local_stack, capsys, "blocklist", "import", str(upload), "--upload", "--wait", "120")

    assert code == 4, err  # one rejected line
    assert "imported 40 rows, rejected 1" in out
    assert "line 42" in out
    assert as_json(local_stack, capsys, "numbers", "show", numbers[-1])["block"]["type"] == 2


def test_history_and_the_proof_of_consent_of_a_number(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answer = local_stack.api(
        "PUT",
        f"/v1/numbers/{urllib.parse.quote(SUBSCRIBED)}/programs/alerts",
        json={"status": "subscribed", "source": "import"},
    )
    assert answer.status_code == 200, answer.text

    events = as_json(local_stack, capsys, "numbers", "history", SUBSCRIBED)
    assert [event["type"] for event in events] == ["ConsentGranted"]
    code, table, _ = run(local_stack, capsys, "numbers", "history", SUBSCRIBED)
    assert code == 0
    assert "ConsentGranted" in table

    page = tmp_path / "proof.html"
    code, _, _ = run(local_stack, capsys, "audit", "export", "--phone", SUBSCRIBED, "--format", "html", "-o", str(page))
    assert code == 0
    assert f"Proof of consent for {SUBSCRIBED}" in page.read_text(encoding="utf-8")
    report = as_json(local_stack, capsys, "audit", "export", "--phone", SUBSCRIBED)
    assert report["events"][0]["type"] == "ConsentGranted"
    assert len(report["sha256"]) == 64


def test_metrics_print_a_table_and_an_unknown_program_exits_3(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str]
) -> None:
    figures = as_json(local_stack, capsys, "metrics", "--program", "alerts")
    assert {"opt_ins", "opt_outs", "subscribers", "time_to_confirm", "revocations"} <= set(figures)
    code, table, _ = run(local_stack, capsys, "metrics", "--program", "alerts")
    assert code == 0
    assert "opt-out confirmations within 5 min" in table

    code, out, err = run(local_stack, capsys, "metrics", "--program", "nope")
    assert (code, out) == (3, "")
    assert "unknown program 'nope'" in err


def test_refusals_no_answer_and_no_target_have_their_exit_codes(
    local_stack: RunningStack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(local_stack, capsys, "numbers", "show", "not-a-number")
    assert code == 4
    assert "400" in err

    wrong_key = ["--api-url", local_stack.api_url, "--api-key", "wrong"]
    code, _, err = run(local_stack, capsys, "numbers", "show", SUBSCRIBED, *wrong_key)
    assert code == 4
    assert "403" in err

    code, _, err = run(
        local_stack, capsys, "numbers", "show", SUBSCRIBED, "--api-url", "http://127.0.0.1:9", "--api-key", "k"
    )
    assert code == 5
    assert "did not answer" in err

    code = cli.main(["--workdir", str(tmp_path), "numbers", "show", SUBSCRIBED])
    assert code == 6
    assert "no target" in capsys.readouterr().err
