"""InboundSmsFunction: SNS (InboundSmsTopic) -> keywords -> consent change, reply and audit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsNotificationModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import inbound, wiring
from sms_consent.inbound_context import MAX_INBOUND_BODY, InboundAction, InboundSms
from sms_consent.observability import logger, metrics, tracer

settings = wiring.inbound_settings()  # a missing variable fails the cold start, naming it


class RetainedMessage(RuntimeError):
    """A message we cannot process but must not lose (it may be an opt-out): retried, then dead-lettered."""


def handle_message(message: InboundSms, notification: SnsNotificationModel) -> dict[str, Any]:
    outcome = inbound.handle(message, notification.Timestamp, wiring.inbound_deps())
    metrics.add_metric(name=f"Inbound_{outcome.action.value}", unit=MetricUnit.Count, value=1)
    if outcome.misrouted:
        metrics.add_metric(name="InboundMisrouted", unit=MetricUnit.Count, value=1)
    if outcome.action in (InboundAction.OPTED_OUT, InboundAction.ASKED_WHICH) and outcome.replies:
        # FCC: the opt-out confirmation must leave within 5 minutes of the consumer's message.
        delay = (wiring.utc_now() - notification.Timestamp).total_seconds()
        metrics.add_metric(name="OptOutReplyDelay", unit=MetricUnit.Seconds, value=max(delay, 0.0))
    return {"action": outcome.action.value, "intent": outcome.classification.intent.value}


@functools.cache
def idempotent() -> tuple[Any, Callable[..., dict[str, Any]]]:
    """handle_message once per inboundMessageId (the records live on the single table), and its config.

    Built on first use: the idempotency utility brings boto3 and a client, too heavy for the import.
    """
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function

    from sms_consent.adapters.idempotency import PerRecordPersistence
    from sms_consent.repository.table import TTL_ATTRIBUTE

    config = IdempotencyConfig(event_key_jmespath="inboundMessageId", expires_after_seconds=7 * 24 * 3600)
    persistence = PerRecordPersistence(settings.table_name, ttl_attribute=TTL_ATTRIBUTE)
    wrapped: Callable[..., dict[str, Any]] = idempotent_function(
        data_keyword_argument="message", config=config, persistence_store=persistence
    )(handle_message)
    return config, wrapped


def _reject_or_retain(raw: str, reason: str, notification: SnsNotificationModel) -> None:
    """Bad input is counted and dropped, unless it might be an opt-out: that one is retried, then
    dead-lettered with its reason, so that a human records it."""
    if inbound.possible_opt_out(raw, wiring.inbound_deps().keyword_sets):
        metrics.add_metric(name="InboundRetained", unit=MetricUnit.Count, value=1)
        raise RetainedMessage(f"possible opt-out that cannot be processed ({reason}); message {notification.MessageId}")
    logger.warning("rejected inbound message", extra={"sns_message_id": notification.MessageId, "reason": reason})
    metrics.add_metric(name="InboundRejected", unit=MetricUnit.Count, value=1)


def _process(notification: SnsNotificationModel) -> dict[str, Any] | None:
    raw = str(notification.Message)
    try:
        payload = json.loads(raw)
        message = InboundSms.model_validate(payload)
    except (ValueError, ValidationError, RecursionError) as exc:  # RecursionError: brackets nested thousands deep
        _reject_or_retain(raw, f"malformed payload: {str(exc)[:200]}", notification)
        return None
    if len(payload.get("messageBody", "")) > MAX_INBOUND_BODY:
        # Processed on its first characters (a long STOP still opts out); counted so someone looks.
        logger.warning("oversized inbound message cut", extra={"sns_message_id": notification.MessageId})
        metrics.add_metric(name="InboundOversized", unit=MetricUnit.Count, value=1)
    try:
        result: dict[str, Any] = idempotent()[1](message=message, notification=notification)
    except inbound.UnroutableMessage as exc:
        _reject_or_retain(message.messageBody, str(exc), notification)
        return None
    return result


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotent()[0].register_lambda_context(context)
    envelope = parse(event=event, model=SnsModel)
    results = []
    retained: list[RetainedMessage] = []
    for record in envelope.Records:
        try:
            result = _process(record.Sns)
        except RetainedMessage as exc:
            retained.append(exc)  # the other records still get processed
            continue
        if result is not None:
            results.append(result)
    if retained:
        raise retained[0]
    return {"processed": len(results), "results": results}
