"""PumpingDetectorFunction: EventBridge schedule rate(5 minutes) -> one traffic-pumping detector run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import pumping, wiring
from sms_consent.observability import logger, metrics, tracer
from sms_consent.ports import StoreUnavailable

wiring.pumping_detector_settings()  # a missing variable fails the cold start, naming it


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    deps = wiring.detector_deps()
    try:
        detection = pumping.run_tick(
            deps.counters, deps.breakers, deps.events, deps.config, wiring.utc_now(), deps.home_countries, deps.protect
        )
    except StoreUnavailable as exc:
        # Baselines that cannot be read are not "no history": skip this run rather than judge blind.
        logger.error("detector run skipped: counters could not be read", extra={"error": str(exc)})
        metrics.add_metric(name="PumpingDetectorReadErrors", unit=MetricUnit.Count, value=1)
        return {"tick": event.time, "skipped": "counters could not be read", "trips": []}
    metrics.add_metric(name="PumpingDetectorRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="PumpingTrips", unit=MetricUnit.Count, value=len(detection.trips))
    metrics.add_metric(name="BreakersOpened", unit=MetricUnit.Count, value=len(detection.breakers_to_open))
    metrics.add_metric(name="WatchesOpened", unit=MetricUnit.Count, value=len(detection.watches_to_open))
    for trip in detection.trips:
        logger.warning("traffic pumping suspected", extra={"rule": trip.rule, "dimension": trip.dimension})
    return {
        "tick": event.time,
        "trips": [{"rule": t.rule, "dimension": t.dimension, "key": t.key} for t in detection.trips],
    }
