"""boto3 clients, created on first use (not at import: cold starts stay short) and reused."""

from __future__ import annotations

import functools
from typing import Any

RETRY_CONFIG: dict[str, Any] = {
    "retries": {"mode": "standard", "max_attempts": 5},
    "connect_timeout": 3,
    "read_timeout": 10,
}


# Error codes that mean "busy or failing, try later" across the services we call (SNS says "Throttled",
# S3 "SlowDown", DynamoDB "ThrottlingException"...); any 5xx means the same.
TRANSIENT_CODES = frozenset(
    {
        "Throttling", "ThrottlingException", "Throttled", "ThrottledException", "TooManyRequestsException",
        "ProvisionedThroughputExceededException", "RequestLimitExceeded", "TransactionInProgressException",
        "SlowDown", "RequestTimeout", "ServiceUnavailable", "ServiceUnavailableException", "InternalError",
        "InternalFailure", "InternalServerError", "InternalServerException", "InternalErrorException",
        "KMSThrottlingException",
    }
)  # fmt: skip


def transient(error: Any) -> bool:
    """A botocore ClientError that a later retry may get past."""
    response = getattr(error, "response", None) or {}
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return response.get("Error", {}).get("Code", "") in TRANSIENT_CODES or status >= 500


def unsent(error: Any) -> bool:
    """A botocore connection failure that happened before the request reached the service."""
    from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

    return isinstance(error, (EndpointConnectionError, ConnectTimeoutError))


@functools.cache
def client(service: str, region: str) -> Any:
    import boto3
    from botocore.config import Config

    session: Any = boto3.session.Session()
    return session.client(service, region_name=region, config=Config(**RETRY_CONFIG))


@functools.cache
def sending_client(service: str, region: str) -> Any:
    """A client for the calls that put a text on a phone. botocore's retries would repeat a send whose
    answer was lost (a read timeout after the provider sent it): the gate defers a refused send instead,
    and a send without an answer is never repeated (its claim stays)."""
    import boto3
    from botocore.config import Config

    session: Any = boto3.session.Session()
    config = Config(**{**RETRY_CONFIG, "retries": {"mode": "standard", "total_max_attempts": 1}})
    return session.client(service, region_name=region, config=config)
