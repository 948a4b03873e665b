"""ProviderSyncFunction: the provider's opt-out list and ours agree.

Three triggers: a schedule (every 15 minutes) reads the provider's list into consumer opt-outs; the
configuration set's delivery events (DeliveryEventsTopic, SNS) make it look a blocked number up at once;
the consent events on ConsentEventBus (ConsentRevoked, ConsentGranted) put a consumer's own decisions
on the provider's list.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.parser import ValidationError, parse
from aws_lambda_powertools.utilities.parser.models import SnsModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import provider_opt_outs, wiring
from sms_consent.observability import logger, metrics, tracer

wiring.provider_sync_settings()  # a missing variable fails the cold start, naming it

SCHEDULED = "Scheduled Event"


def _bus_event(event: EventBridgeEvent) -> dict[str, Any]:
    if event.detail_type == SCHEDULED:
        outcome = provider_opt_outs.sync_in(wiring.provider_sync_deps())
        metrics.add_metric(name="ProviderOptOutsListed", unit=MetricUnit.Count, value=outcome.listed)
        metrics.add_metric(name="ProviderOptOutsRecorded", unit=MetricUnit.Count, value=outcome.recorded)
        return {"listed": outcome.listed, "recorded": outcome.recorded}
    mirrored = provider_opt_outs.mirror(event.detail_type, event.detail, wiring.provider_opt_out_list())
    metrics.add_metric(name=f"ProviderOptOutList_{mirrored.action}", unit=MetricUnit.Count, value=1)
    return {"action": mirrored.action}


def _delivery_events(envelope: SnsModel) -> dict[str, Any]:
    """Each record looked at on its own: a malformed one is counted and dropped (the scheduled sync
    still reads the whole list), a failed lookup is raised after the others, for the retry."""
    actions: list[str] = []
    failed: list[Exception] = []
    for record in envelope.Records:
        try:
            event = provider_opt_outs.DeliveryEvent.model_validate_json(str(record.Sns.Message))
        except ValidationError as exc:
            logger.warning(
                "rejected delivery event",
                extra={"sns_message_id": record.Sns.MessageId, "reason": str(exc)[:200]},
            )
            metrics.add_metric(name="DeliveryEventsRejected", unit=MetricUnit.Count, value=1)
            actions.append("rejected")
            continue
        try:
            looked = provider_opt_outs.delivery_event(event, wiring.provider_sync_deps())
        except Exception as exc:  # the other records still get their lookup
            logger.exception("delivery event lookup failed", extra={"sns_message_id": record.Sns.MessageId})
            failed.append(exc)
            continue
        metrics.add_metric(name=f"DeliveryEvent_{looked.action}", unit=MetricUnit.Count, value=1)
        actions.append(looked.action)
    if failed:
        raise failed[0]
    return {"actions": actions}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return _delivery_events(parse(event=event, model=SnsModel))
    return _bus_event(EventBridgeEvent(event))
