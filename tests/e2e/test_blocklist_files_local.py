"""A blocklist file of a few thousand rows on the local stack: the presigned upload to the emulator's
S3 starts the import (S3 -> EventBridge -> queue -> BlocklistFilesFunction) and the status route
reports it done; the gate then sees the block. An export comes back through its presigned link."""

from __future__ import annotations

import time

import requests

from tests.e2e.conftest import RunningStack

ROWS = 3000
WAIT_SECONDS = 120


def _poll(stack: RunningStack, path: str, until: tuple[str, ...]) -> dict[str, object]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        answer = stack.api("GET", path)
        assert answer.status_code == 200, answer.text
        body: dict[str, object] = answer.json()
        if body["status"] in until or time.monotonic() > deadline:
            return body
        time.sleep(0.5)


def test_a_presigned_upload_is_imported_and_exported_on_the_local_stack(own_stack: RunningStack) -> None:
    local_stack = own_stack
    started = local_stack.api("POST", "/v1/blocklist/imports")
    assert started.status_code == 201, started.text
    upload = started.json()
    rows = "".join(f"+1628555{index:04d},2\n" for index in range(ROWS))
    put = requests.put(
        upload["upload_url"], data=("Mobile Number,Block Type\n" + rows + "nope,2\n").encode(), timeout=30
    )
    assert put.status_code == 200, put.text

    report = _poll(local_stack, f"/v1/blocklist/imports/{upload['id']}", ("done", "failed"))
    assert (report["status"], report["imported"], report["rejected"]) == ("done", ROWS, 1)
    number = local_stack.api("GET", "/v1/numbers/%2B16285550042").json()
    assert number["block"]["type"] == 2

    export = local_stack.api("POST", "/v1/blocklist/exports", params={"phone_prefix": "1628555"})
    assert export.status_code == 202, export.text
    done = _poll(local_stack, f"/v1/blocklist/exports/{export.json()['id']}", ("done", "failed"))
    assert (done["status"], done["rows"]) == ("done", ROWS)
    csv_text = requests.get(str(done["download_url"]), timeout=30).text
    assert csv_text.count("\n") == ROWS + 1
