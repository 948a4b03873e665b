"""ListHygieneFunction: EventBridge schedule (daily) -> one list-hygiene run (seed 001).

Reads only the day's due buckets (no Scan); reminders go to the outbound topic, through the gate.
A failure raises: EventBridge's retries run it again (a reminder is sent once per number and day),
then the event goes to the dead-letter queue (alarmed).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import list_hygiene, wiring
from sms_consent.observability import logger, metrics, tracer

wiring.list_hygiene_settings()  # a missing variable fails the cold start, naming it


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    report = list_hygiene.run(wiring.hygiene_deps(), wiring.utc_now())
    for name, metric in (
        ("reminders", "HygieneReminders"),
        ("removals", "HygieneRemovals"),
        ("engaged", "HygieneEngaged"),
    ):
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=report.total(name))
    return {"tick": event.time, "programs": {program: dict(counts) for program, counts in report.figures.items()}}
