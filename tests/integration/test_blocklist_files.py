"""Blocklist files of any size on moto: presigned import -> S3 event (EventBridge) -> queue ->
BlocklistFilesFunction, resumed after a timeout, imported once per file; hostile files; exports to S3."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from sms_consent_local import aws_calls
from sms_consent_local.harness import LambdaContext
from sms_consent_local.stack import sqs_record
from tests.conftest import AwsStack, api_request, stores

HEADER = "Mobile Number,Block Type\n"


def _phones(count: int, start: int = 0) -> list[str]:
    return [f"+1415555{index:04d}" for index in range(start, start + count)]


def _csv(count: int, start: int = 0) -> bytes:
    return (HEADER + "".join(f"{phone},3\n" for phone in _phones(count, start))).encode()


def _api(stack: AwsStack, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = stack.invoke("AdminApiFunction", api_request(method, path, **kwargs))
    return response["statusCode"], json.loads(response["body"] or "{}")


def _start(stack: AwsStack) -> str:
    status, body = _api(stack, "POST", "/v1/blocklist/imports")
    assert status == 201, body
    assert body["upload_url"].startswith("https://")
    assert body["method"] == "PUT"
    return str(body["id"])


def _upload(stack: AwsStack, import_id: str, data: bytes) -> None:
    boto3.client("s3", region_name=stack.region).put_object(
        Bucket=stack.resources["BlocklistFilesBucket"], Key=f"uploads/{import_id}", Body=data
    )


def _deliver(stack: AwsStack, context: Any = None) -> list[dict[str, Any]]:
    """Hand what the queue holds to the function, one message per invocation (BatchSize 1)."""
    sqs: Any = boto3.client("sqs", region_name=stack.region)
    url, arn = stack.resources["BlocklistFilesQueue"], stack.resources["BlocklistFilesQueue.Arn"]
    results = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", []):
        with aws_calls.counting():
            result = stack.runner.invoke(
                "BlocklistFilesFunction", {"Records": [sqs_record(messages[0], arn)]}, context=context
            )
        results.extend(result["results"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=messages[0]["ReceiptHandle"])
    return results


def _status(stack: AwsStack, import_id: str) -> dict[str, Any]:
    status, body = _api(
        stack,
        "GET",
        f"/v1/blocklist/imports/{import_id}",
        resource="/v1/blocklist/imports/{import_id}",
        path_parameters={"import_id": import_id},
    )
    assert status == 200, body
    return body


def test_an_uploaded_file_is_imported_onto_the_numbers_state_with_rows_errors_and_few_requests(
    aws_stack: AwsStack,
) -> None:
    import_id = _start(aws_stack)
    assert _status(aws_stack, import_id)["status"] == "waiting_for_upload"
    bad = "not a number,3\n+14155550001,9\n=cmd|' /C calc'!A0,1\n"
    _upload(aws_stack, import_id, _csv(1000) + bad.encode())
    with aws_calls.counting() as counts:
        assert _deliver(aws_stack)[0]["status"] == "done"
    report = _status(aws_stack, import_id)
    assert (report["rows"], report["imported"], report["rejected"]) == (1003, 1000, 3)
    assert [error["line"] for error in report["errors"]] == [1002, 1003, 1004]
    assert report["started_at"]
    assert report["finished_at"]
    # 1,000 numbers: 20 transactions of 50 (state + event each) and 5 checkpoints; 10 batch reads.
    writes = counts["dynamodb.TransactWriteItems"] + counts["dynamodb.BatchWriteItem"] + counts["dynamodb.PutItem"]
    assert writes + counts["dynamodb.UpdateItem"] <= 40
    assert counts["dynamodb.BatchGetItem"] == 10
    state = stores().numbers.get(_phones(1)[0])
    assert state.block is not None
    assert state.block.type == 3
    assert state.block.reason == "import"
    (event,) = stores().numbers.history(_phones(1)[0])
    assert event.evidence["import_id"] == import_id
    assert event.evidence["line"] == 2


def test_a_timeout_mid_file_resumes_from_the_checkpoint_and_the_same_file_again_writes_nothing(
    aws_stack: AwsStack,
) -> None:
    import_id = _start(aws_stack)
    data = _csv(900)
    _upload(aws_stack, import_id, data)

    class ShortContext(LambdaContext):
        """Time runs out after the first chunk of every invocation."""

        def get_remaining_time_in_millis(self) -> int:
            return 1000

    first = _deliver(aws_stack, ShortContext("BlocklistFilesFunction", timeout_seconds=900))
    assert [result["finished"] for result in first] == [False, False, False, False, True]  # 200 rows each
    report = _status(aws_stack, import_id)
    assert (report["status"], report["imported"], report["rows"]) == ("done", 900, 900)
    assert all(len(stores().numbers.history(phone)) == 1 for phone in _phones(900)[::97])

    again = _start(aws_stack)
    _upload(aws_stack, again, data)
    with aws_calls.counting() as counts:
        _deliver(aws_stack)
    report = _status(aws_stack, again)
    assert (report["status"], report["duplicate_of"], report["imported"]) == ("done", import_id, 0)
    assert counts["dynamodb.TransactWriteItems"] == 0
    assert counts["dynamodb.BatchGetItem"] == 0


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (bytes(range(256)) * 64, "the first line must be the header"),
        (b'{"phones": ["+14155550100"]}', "the first line must be the header"),
        (b"", "the file is empty"),
    ],
    ids=["binary", "json", "empty"],
)
def test_a_file_that_is_not_a_blocklist_csv_fails_with_a_clear_error(
    aws_stack: AwsStack, data: bytes, error: str
) -> None:
    import_id = _start(aws_stack)
    _upload(aws_stack, import_id, data)
    _deliver(aws_stack)
    report = _status(aws_stack, import_id)
    assert report["status"] == "failed"
    assert error in report["errors"][0]["error"]


def test_hostile_lines_are_rejected_one_by_one_and_the_rest_imported(aws_stack: AwsStack) -> None:
    import_id = _start(aws_stack)
    long_line = b"+1415555" + b"9" * (50 * 1024 * 1024) + b",3\n"
    data = b"\xef\xbb\xbf" + _csv(3) + long_line + b"\xff\xfe,3\r\n" + b'"+1 415 555 0200",\t3\r' + b"=1+1,3\n"
    _upload(aws_stack, import_id, data)
    _deliver(aws_stack)
    report = _status(aws_stack, import_id)
    assert (report["status"], report["imported"], report["rejected"]) == ("done", 4, 3)
    assert [(e["line"], e["error"][:20]) for e in report["errors"]] == [
        (5, "line longer than 409"),
        (6, "not UTF-8 text"),
        (8, report["errors"][2]["error"][:20]),
    ]
    assert stores().numbers.get("+14155550200").block is not None


def test_unknown_and_malformed_import_ids_are_clear_problems(aws_stack: AwsStack) -> None:
    status, body = _api(
        aws_stack,
        "GET",
        "/v1/blocklist/imports/" + "0" * 32,
        resource="/v1/blocklist/imports/{import_id}",
        path_parameters={"import_id": "0" * 32},
    )
    assert (status, body["title"]) == (404, "Unknown import")
    status, body = _api(
        aws_stack,
        "GET",
        "/v1/blocklist/imports/x",
        resource="/v1/blocklist/imports/{import_id}",
        path_parameters={"import_id": "../x"},
    )
    assert status in (400, 422)
    assert body["status"] == status


def test_an_export_is_written_to_s3_with_formulas_neutralised_and_served_by_a_presigned_link(
    aws_stack: AwsStack,
) -> None:
    for phone, text in (("+14155550001", "=cmd|' /C calc'!A0"), ("+14155550002", "@SUM(1+1)")):
        body = json.dumps({"type": 2, "reason": "-2+3", "text": text})
        status, _ = _api(
            aws_stack,
            "PUT",
            f"/v1/blocklist/{phone}",
            resource="/v1/blocklist/{phone}",
            path_parameters={"phone": phone},
            body=body,
        )
        assert status == 200
    status, started = _api(aws_stack, "POST", "/v1/blocklist/exports", query={"type": "2"})
    assert (status, started["status"]) == (202, "running")
    _deliver(aws_stack)
    export_id = started["id"]
    status, done = _api(
        aws_stack,
        "GET",
        f"/v1/blocklist/exports/{export_id}",
        resource="/v1/blocklist/exports/{export_id}",
        path_parameters={"export_id": export_id},
    )
    assert (status, done["status"], done["rows"]) == (200, "done", 2)
    assert done["download_url"].startswith("https://")
    text = (
        boto3.client("s3", region_name=aws_stack.region)
        .get_object(Bucket=aws_stack.resources["BlocklistFilesBucket"], Key=f"exports/{export_id}.csv")["Body"]
        .read()
        .decode()
    )
    lines = text.splitlines()
    assert lines[0] == "Mobile Number,Block Type,Reason,Text,Added At"
    assert lines[1].startswith("+14155550001,2,'-2+3,'=cmd|' /C calc'!A0,")
    assert lines[2].startswith("+14155550002,2,'-2+3,'@SUM(1+1),")


def test_one_invocation_at_a_time_holds_an_import_and_a_late_one_cannot_overwrite_it(aws_stack: AwsStack) -> None:
    from datetime import timedelta

    from sms_consent.blocklist_import import ImportJob, LostLease
    from sms_consent.clock import utc_now
    from sms_consent.repository.blocklist_imports import DynamoImportJobs

    jobs = DynamoImportJobs(stores().numbers.table)
    now = utc_now()
    jobs.create(ImportJob(id="f" * 32, key="uploads/" + "f" * 32, created_at=now))
    held = jobs.claim("f" * 32, "first", until=now + timedelta(minutes=15), now=now)
    assert held is not None
    assert jobs.claim("f" * 32, "second", until=now + timedelta(minutes=15), now=now) is None
    later = now + timedelta(minutes=16)  # the first invocation died without releasing it
    assert jobs.claim("f" * 32, "second", until=later + timedelta(minutes=15), now=later) is not None
    with pytest.raises(LostLease):
        jobs.save(held, "first")
    assert jobs.claim("0" * 32, "first", until=later, now=now) is None  # unknown
