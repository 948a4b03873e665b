"""SendGateFunction: OutboundRequestsTopic (SNS) and DeferredSendQueue (SQS) -> one decision per
recipient -> the SMS sender. Requests that fail to read state are retried and dead-lettered."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsNotificationModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import send_gate, wiring
from sms_consent.messages import ORIGIN_ATTRIBUTE, PLATFORM_ONLY_CATEGORIES, PLATFORM_ORIGIN, OutboundRequest
from sms_consent.observability import logger, metrics, tracer

wiring.send_gate_settings()  # a missing variable fails the cold start, naming it
deferred_batch = BatchProcessor(event_type=EventType.SQS)


def _reject(reason: str, **extra: Any) -> None:
    logger.warning("rejected outbound request", extra={"reason": reason, **extra})
    metrics.add_metric(name="OutboundRejected", unit=MetricUnit.Count, value=1)


def _request(raw: str, *, from_platform: bool) -> OutboundRequest | None:
    try:
        request = OutboundRequest.model_validate(json.loads(raw))
    except (ValueError, ValidationError, RecursionError) as exc:  # RecursionError: brackets nested thousands deep
        _reject(f"malformed request: {str(exc)[:300]}")
        return None
    if request.category in PLATFORM_ONLY_CATEGORIES and not from_platform:
        _reject("platform-only category from outside the platform", category=request.category.value)
        return None
    return request


def _decide(request: OutboundRequest) -> int:
    try:
        decisions = send_gate.process(request, wiring.gate_deps())
    except send_gate.InvalidRequest as exc:
        _reject(str(exc), request_id=request.request_id)
        return 0
    for decision in decisions:
        metrics.add_metric(name=f"Gate_{decision.reason.value}", unit=MetricUnit.Count, value=1)
    return len(decisions)


def _from_sns(notification: SnsNotificationModel) -> int:
    origin = (notification.MessageAttributes or {}).get(ORIGIN_ATTRIBUTE)
    request = _request(str(notification.Message), from_platform=origin is not None and origin.Value == PLATFORM_ORIGIN)
    return _decide(request) if request else 0


def _from_queue(record: SQSRecord) -> None:
    # Deferred requests were accepted by the gate once already; they come back to be decided again.
    request = _request(record.body, from_platform=True)
    if request:
        _decide(request)


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId || Records[0].messageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        result: dict[str, Any] = process_partial_response(  # type: ignore[assignment]
            event=event, record_handler=_from_queue, processor=deferred_batch, context=context
        )
        return result
    envelope = parse(event=event, model=SnsModel)
    return {"decided": sum(_from_sns(record.Sns) for record in envelope.Records)}
