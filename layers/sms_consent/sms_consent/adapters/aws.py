"""boto3 clients, created on first use (not at import: cold starts stay short) and reused."""

from __future__ import annotations

import functools
from typing import Any

RETRY_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 3,
    "read_timeout": 10,
}


@functools.cache
def client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    session: Any = boto3.session.Session()
    return session.client(service, region_name=region, config=Config(**RETRY_CONFIG))
