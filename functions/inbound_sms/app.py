"""InboundSmsFunction: SNS (InboundSmsTopic) -> keywords -> consent change, reply and audit."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsNotificationModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import inbound, wiring
from sms_consent.observability import logger, metrics, tracer

settings = wiring.settings()
idempotency_config = IdempotencyConfig(event_key_jmespath="inboundMessageId", expires_after_seconds=7 * 24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=settings.table_name, key_attr="PK", sort_key_attr="SK")


@idempotent_function(data_keyword_argument="message", config=idempotency_config, persistence_store=persistence)
def handle_message(message: inbound.InboundSms, notification: SnsNotificationModel) -> dict[str, Any]:
    deps = inbound.InboundDeps(
        config=wiring.program_config(),
        store=wiring.number_store(),
        outbound=wiring.outbound_requests(),
        events=wiring.event_sink(),
        clock=wiring.utc_now,
    )
    outcome = inbound.handle(message, notification.Timestamp, deps)
    metrics.add_metric(name=f"Inbound_{outcome.action.value}", unit=MetricUnit.Count, value=1)
    return {"action": outcome.action.value, "intent": outcome.classification.intent.value}


def _payload(notification: SnsNotificationModel) -> inbound.InboundSms | None:
    try:
        return inbound.InboundSms.model_validate(json.loads(str(notification.Message)))
    except (ValueError, ValidationError) as exc:
        logger.warning(
            "rejected inbound message", extra={"sns_message_id": notification.MessageId, "error": str(exc)[:300]}
        )
        metrics.add_metric(name="InboundRejected", unit=MetricUnit.Count, value=1)
        return None


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency_config.register_lambda_context(context)
    envelope = parse(event=event, model=SnsModel)
    results = []
    for record in envelope.Records:
        message = _payload(record.Sns)
        if message is not None:
            results.append(handle_message(message=message, notification=record.Sns))
    return {"processed": len(results), "results": results}
