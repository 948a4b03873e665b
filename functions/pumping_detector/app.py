"""PumpingDetectorFunction: EventBridge schedule rate(5 minutes) -> one traffic-pumping detector run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import pumping, wiring
from sms_consent.observability import logger, metrics, tracer
from sms_consent.repository.breakers import DynamoBreakers
from sms_consent.repository.counters import DynamoCounters

settings = wiring.settings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    config = wiring.program_config().pumping
    if settings.pumping_mode == "record_only":  # the stack parameter can only make it more cautious
        config = config.model_copy(update={"mode": "record_only"})
    detection = pumping.run_tick(DynamoCounters(), DynamoBreakers(), wiring.event_sink(), config, wiring.utc_now())
    metrics.add_metric(name="PumpingDetectorRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="PumpingTrips", unit=MetricUnit.Count, value=len(detection.trips))
    for trip in detection.trips:
        logger.warning("traffic pumping suspected", extra={"rule": trip.rule, "dimension": trip.dimension})
    return {
        "tick": event.time,
        "trips": [{"rule": t.rule, "dimension": t.dimension, "key": t.key} for t in detection.trips],
    }
