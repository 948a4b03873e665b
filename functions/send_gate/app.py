"""SendGateFunction: SNS (OutboundRequestsTopic) -> one decision per recipient -> SMS sender."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import SnsModel, SnsNotificationModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import send_gate, wiring
from sms_consent.messages import ORIGIN_ATTRIBUTE, PLATFORM_ONLY_CATEGORIES, PLATFORM_ORIGIN, OutboundRequest
from sms_consent.observability import logger, metrics, tracer

wiring.settings()


def _request(notification: SnsNotificationModel) -> OutboundRequest | None:
    try:
        request = OutboundRequest.model_validate(json.loads(str(notification.Message)))
    except (ValueError, ValidationError) as exc:
        logger.warning(
            "rejected outbound request", extra={"sns_message_id": notification.MessageId, "error": str(exc)[:300]}
        )
        metrics.add_metric(name="OutboundRejected", unit=MetricUnit.Count, value=1)
        return None
    origin = (notification.MessageAttributes or {}).get(ORIGIN_ATTRIBUTE)
    if request.category in PLATFORM_ONLY_CATEGORIES and (origin is None or origin.Value != PLATFORM_ORIGIN):
        logger.warning("rejected platform-only category from outside", extra={"category": request.category.value})
        metrics.add_metric(name="OutboundRejected", unit=MetricUnit.Count, value=1)
        return None
    return request


@logger.inject_lambda_context(correlation_id_path="Records[0].Sns.MessageId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    envelope = parse(event=event, model=SnsModel)
    deps = send_gate.GateDeps(
        config=wiring.program_config(),
        store=wiring.number_store(),
        sender=wiring.sms_sender(),
        events=wiring.event_sink(),
        clock=wiring.utc_now,
    )
    decided = 0
    for record in envelope.Records:
        request = _request(record.Sns)
        if request is None:
            continue
        for decision in send_gate.process(request, deps):
            metrics.add_metric(name=f"Gate_{decision.reason.value}", unit=MetricUnit.Count, value=1)
            decided += 1
    return {"decided": decided}
