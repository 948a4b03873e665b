"""MMS media checks with S3 HeadObject: size and content type, never downloading the object."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from sms_consent.message_content import MMS_TYPES
from sms_consent.ports import MediaReport, StoreUnavailable

_TRANSIENT = frozenset({"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable"})


class S3MediaInspector:
    def __init__(self, client: Any) -> None:
        self._client = client

    def inspect(self, urls: Sequence[str]) -> MediaReport:
        from botocore.exceptions import ClientError

        total = 0
        problems: list[str] = []
        for url in urls:
            parsed = urlparse(url)
            if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
                problems.append(f"{url[:100]}: media must be given as s3://bucket/key")
                continue
            try:
                head = self._client.head_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))
            except ClientError as exc:
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                if status >= 500 or exc.response.get("Error", {}).get("Code") in _TRANSIENT:
                    # S3 is throttling or failing, the media is not bad: fail the request for a retry.
                    raise StoreUnavailable(f"media could not be checked: {url[:100]}") from exc
                problems.append(f"{url[:100]}: {exc.response.get('Error', {}).get('Code', 'not readable')}")
                continue
            total += int(head.get("ContentLength", 0))
            content_type = str(head.get("ContentType", "")).split(";")[0].strip().lower()
            if content_type not in MMS_TYPES:
                problems.append(f"{url[:100]}: type {content_type or 'unknown'} is not supported for MMS")
        return MediaReport(total_bytes=total, problems=tuple(problems))
