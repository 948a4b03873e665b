"""ProviderSyncFunction: the provider's opt-out list and ours agree.

Two triggers: a schedule (every 15 minutes) reads the provider's list into consumer opt-outs; the
consent events on ConsentEventBus (ConsentRevoked, ConsentGranted) put a consumer's own decisions
on the provider's list.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import provider_opt_outs, wiring
from sms_consent.observability import logger, metrics, tracer

wiring.provider_sync_settings()  # a missing variable fails the cold start, naming it

SCHEDULED = "Scheduled Event"


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    if event.detail_type == SCHEDULED:
        outcome = provider_opt_outs.sync_in(wiring.provider_sync_deps())
        metrics.add_metric(name="ProviderOptOutsListed", unit=MetricUnit.Count, value=outcome.listed)
        metrics.add_metric(name="ProviderOptOutsRecorded", unit=MetricUnit.Count, value=outcome.recorded)
        return {"listed": outcome.listed, "recorded": outcome.recorded}
    mirrored = provider_opt_outs.mirror(event.detail_type, event.detail, wiring.provider_opt_out_list())
    metrics.add_metric(name=f"ProviderOptOutList_{mirrored.action}", unit=MetricUnit.Count, value=1)
    return {"action": mirrored.action}
