"""Consent writes under contention: DynamoDB's TransactionConflict and throttling, injected with
botocore's event system on the client the inbound function uses, are retried with jittered backoff
inside the function; an opt-out that still cannot be written fails the invocation (SNS and Lambda
retry it, then the dead-letter queue holds it) and is never dropped or confirmed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sms_consent.consent import Status
from sms_consent.ports import ConcurrentUpdate
from sms_consent.repository.numbers import UPDATE_ATTEMPTS
from tests.conftest import AwsStack, stores
from tests.integration.test_optin_api import PHONE, inbound


class _Http:
    status_code = 400
    headers: dict[str, str] = {}  # noqa: RUF012


class Refusals:
    """The first `times` TransactWriteItems calls answer `code` instead of reaching the table."""

    def __init__(self, code: str, times: int) -> None:
        self.code, self.left, self.calls = code, times, 0

    def __call__(self, **_: Any) -> tuple[Any, dict[str, Any]] | None:
        self.calls += 1
        if self.left <= 0:
            return None
        self.left -= 1
        error: dict[str, Any] = {"Error": {"Code": self.code, "Message": f"injected {self.code}"}}
        if self.code == "TransactionCanceledException":
            error["CancellationReasons"] = [{"Code": "TransactionConflict", "Message": "injected"}]
        return _Http(), error


@pytest.fixture
def inject(aws_stack: AwsStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setattr("sms_consent.repository.numbers.time.sleep", lambda seconds: None)
    aws_stack.runner.load("InboundSmsFunction")  # its cold start builds the client the hook goes on
    events = stores().numbers.table.client.meta.events
    installed: list[Refusals] = []

    def install(code: str, times: int) -> Refusals:
        refusals = Refusals(code, times)
        events.register("before-call.dynamodb.TransactWriteItems", refusals)
        installed.append(refusals)
        return refusals

    yield install
    for refusals in installed:
        events.unregister("before-call.dynamodb.TransactWriteItems", refusals)


def _subscribe(stack: AwsStack) -> None:
    inbound(stack, "ALERTS")
    inbound(stack, "YES")
    stack.outbound_requests()
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED


@pytest.mark.parametrize("code", ["TransactionCanceledException", "ThrottlingException"])
def test_a_stop_through_contention_is_retried_and_recorded(aws_stack: AwsStack, inject: Any, code: str) -> None:
    _subscribe(aws_stack)
    refusals = inject(code, UPDATE_ATTEMPTS - 1)
    inbound(aws_stack, "STOP")
    assert refusals.calls == UPDATE_ATTEMPTS  # four refused, the fifth written
    assert stores().numbers.get(PHONE).status("alerts") is Status.UNSUBSCRIBED
    (reply,) = aws_stack.outbound_requests()
    assert "no more messages" in reply["body"]


def test_a_stop_that_cannot_be_written_fails_the_invocation_and_confirms_nothing(
    aws_stack: AwsStack, inject: Any
) -> None:
    _subscribe(aws_stack)
    inject("TransactionCanceledException", 1000)
    with pytest.raises(ConcurrentUpdate):
        inbound(aws_stack, "STOP")  # Lambda's retries, then the dead-letter queue, take it from here
    assert stores().numbers.get(PHONE).status("alerts") is Status.SUBSCRIBED
    assert aws_stack.outbound_requests() == []  # no confirmation claims an opt-out that was not stored
    assert not [event for event in aws_stack.bus_events() if event["detail-type"] == "ConsentRevoked"]
