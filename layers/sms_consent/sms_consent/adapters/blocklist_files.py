"""Blocklist files in S3: presigned uploads for imports, streamed reads, multipart exports.

Nothing here holds a whole file: an import is read as a stream of chunks (from a byte offset, with
the ETag it started on, so a replaced object is noticed), and an export is uploaded in parts of
PART_BYTES as it is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from sms_consent.blocklist_import import READ_CHUNK_BYTES, FileChanged

PART_BYTES = 8 * 1024 * 1024  # S3 wants parts of at least 5 MiB (but the last)


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


class S3UploadedFiles:
    """The UploadedFiles port on the import bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def describe(self, key: str) -> tuple[int, str] | None:
        try:
            head = self._client.head_object(Bucket=self._bucket, Key=key)
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), str(head["ETag"])

    def chunks(self, key: str, *, start: int, etag: str) -> Iterator[bytes]:
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key, Range=f"bytes={start}-", IfMatch=etag)
        except Exception as exc:
            if _code(exc) == "InvalidRange":  # the checkpoint is at the end of the file: nothing left
                return
            if _code(exc) in ("PreconditionFailed", "412", "NoSuchKey"):
                raise FileChanged(f"{key} is not the object the import started on") from exc
            raise
        body = response["Body"]
        try:
            yield from body.iter_chunks(READ_CHUNK_BYTES)
        finally:
            body.close()


def presigned_put(client: Any, bucket: str, key: str, expires_seconds: int) -> str:
    url: str = client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds
    )
    return url


def presigned_get(client: Any, bucket: str, key: str, expires_seconds: int, filename: str) -> str:
    url: str = client.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": "text/csv",
            "ResponseContentDisposition": f'attachment; filename="{filename}"',
        },
        ExpiresIn=expires_seconds,
    )
    return url


def upload_csv(client: Any, bucket: str, key: str, rows: Iterable[list[str | int]]) -> int:
    """Write `rows` as a CSV object with a multipart upload (memory: one part); the rows written.
    The upload is aborted on any error, so a half export never appears as an object."""
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType="text/csv")["UploadId"]
    parts: list[dict[str, Any]] = []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180, as the small export writes it

    def flush() -> None:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        number = len(parts) + 1
        response = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        parts.append({"PartNumber": number, "ETag": response["ETag"]})

    written = 0
    try:
        for row in rows:
            writer.writerow(row)
            written += 1
            if buffer.tell() >= PART_BYTES:
                flush()
        if buffer.tell() or not parts:
            flush()
        client.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
    except BaseException:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return written
