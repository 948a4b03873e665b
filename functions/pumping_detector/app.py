"""PumpingDetectorFunction: EventBridge schedule rate(5 minutes) -> traffic-pumping detector tick."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import wiring
from sms_consent.observability import logger, metrics, tracer

wiring.settings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    # The detector's rules and breakers are issue #6's; the tick is wired so the schedule, its
    # dead-letter queue and the stalled-detector alarm can be exercised already.
    logger.info("detector tick", extra={"scheduled_time": event.time})
    return {"tick": event.time, "trips": []}
