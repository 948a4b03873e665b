"""MMS media on S3: HeadObject describes each file (never downloading it), and links let a handset that
cannot take MMS open it instead."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlparse

from sms_consent.adapters.aws import transient
from sms_consent.ports import MediaFile, MediaReport, StoreUnavailable


def _bucket_and_key(url: str) -> tuple[str, str] | None:
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        return None
    return parsed.netloc, parsed.path.lstrip("/")


class S3MediaInspector:
    def __init__(self, client: Any) -> None:
        self._client = client

    def inspect(self, urls: Sequence[str]) -> MediaReport:
        from botocore.exceptions import ClientError

        files: list[MediaFile] = []
        problems: list[str] = []
        for url in urls:
            location = _bucket_and_key(url)
            if location is None:
                problems.append(f"{url[:100]}: media must be given as s3://bucket/key")
                continue
            try:
                head = self._client.head_object(Bucket=location[0], Key=location[1])
            except ClientError as exc:
                if transient(exc):
                    # S3 is throttling or failing, the media is not bad: fail the request for a retry.
                    raise StoreUnavailable(f"media could not be checked: {url[:100]}") from exc
                problems.append(f"{url[:100]}: {exc.response.get('Error', {}).get('Code', 'not readable')}")
                continue
            content_type = str(head.get("ContentType", "")).split(";")[0].strip().lower()
            files.append(MediaFile(url=url, content_type=content_type, size=int(head.get("ContentLength", 0))))
        return MediaReport(total_bytes=sum(f.size for f in files), problems=tuple(problems), files=tuple(files))


class S3MediaLinks:
    """`https://<domain>/<key>` when a media domain (a CDN in front of the bucket) is configured, else a
    presigned GET URL valid for `ttl_seconds`. A presigned URL is signed with the function's role
    credentials: it stops working when they expire, whatever its lifetime, and their session token
    makes it about a kilobyte long; a media domain gives short links that last."""

    def __init__(self, region: str, *, domain: str = "", ttl_seconds: int = 604_800) -> None:
        self._region = region
        self._domain = domain.strip().strip("/")
        self._ttl_seconds = ttl_seconds

    @functools.cached_property
    def _signer(self) -> Any:
        import boto3
        from botocore.config import Config

        # SigV4 explicitly: botocore may otherwise presign with SigV2, which S3 is retiring.
        return boto3.session.Session().client("s3", region_name=self._region, config=Config(signature_version="s3v4"))

    def link_for(self, url: str) -> str:
        location = _bucket_and_key(url)
        if location is None:
            raise ValueError(f"not an s3://bucket/key URL: {url[:100]}")
        bucket, key = location
        if self._domain:
            return f"https://{self._domain}/{quote(key)}"
        link: str = self._signer.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=self._ttl_seconds
        )
        return link
