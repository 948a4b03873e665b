"""Logger, metrics and tracer, set up once per process; phone numbers never reach a log line."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from sms_consent.phones import mask_text

# Fields the formatter itself fills; they hold no user data and must stay machine-readable.
_SYSTEM_KEYS = frozenset({"level", "location", "timestamp", "service", "sampling_rate", "xray_trace_id", "cold_start"})


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return mask_text(str(value))  # exceptions and other objects would be str()-ed by the serializer


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Masks phone-number-like text in every field, including exceptions and extra keys."""

    def serialize(self, log: Any) -> str:
        return super().serialize(
            log={key: value if key in _SYSTEM_KEYS else _masked(value) for key, value in log.items()}
        )


logger = Logger(logger_formatter=MaskingFormatter())
metrics = Metrics()
# Patch botocore only: it traces every AWS call (pynamodb included) without importing more at cold start.
tracer = Tracer(patch_modules=("botocore",))
