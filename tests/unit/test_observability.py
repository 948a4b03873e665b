"""No full phone number reaches a log line, whatever field it hides in."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from sms_consent.observability import logger


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The real logger's own formatter, writing to a buffer we can read."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)  # type: ignore[attr-defined]
    yield stream
    logger._logger.removeHandler(handler)


def _last_line(stream: io.StringIO) -> dict[str, object]:
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    parsed: dict[str, object] = json.loads(lines[-1])
    return parsed


def test_message_extra_keys_and_nested_values_are_masked(captured: io.StringIO) -> None:
    logger.info(
        "STOP from +14155550123",
        extra={"phone": "+14155550123", "recipients": ["(415) 555-0124", {"to": "+33612345678"}]},
    )
    line = _last_line(captured)
    raw = json.dumps(line)
    for digits in ("4155550123", "4155550124", "612345678"):
        assert digits not in raw.replace(" ", "").replace("(", "").replace(")", "").replace("-", "")
    assert line["phone"] == "+14*******23"
    assert line["message"] == "STOP from +14*******23"


def test_exceptions_are_masked(captured: io.StringIO) -> None:
    try:
        raise ValueError("cannot send to +14155550123")
    except ValueError:
        logger.exception("send failed")
    line = _last_line(captured)
    assert "4155550123" not in json.dumps(line)
    assert "+14*******23" in str(line["exception"])


def test_system_fields_stay_machine_readable(captured: io.StringIO) -> None:
    logger.info("hello")
    line = _last_line(captured)
    assert line["level"] == "INFO"
    assert str(line["timestamp"])[:4].isdigit()
