"""ConsentFeedFunction: the table's stream (committed audit events) -> ConsentEventBus and metrics;
double opt-in confirmations release the prompts held until confirmations vouch for them.

The event source mapping's filter passes only inserted `EVENT#` items; the handler checks again, so
that a record it cannot read (logged and counted) never blocks the rest of the shard. A failure to
publish or to fold raises: Lambda retries the whole batch, then sends its position to the
dead-letter queue (alarmed) before the records expire.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import consent_feed, wiring
from sms_consent.observability import logger, metrics, tracer
from sms_consent.ports import Committed

wiring.consent_feed_settings()  # a missing variable fails the cold start, naming it


def _readable(records: Iterable[DynamoDBRecord]) -> list[Committed]:
    """The batch's committed audit events; an unreadable one is logged and counted, the rest kept."""
    # Storage code loads on first use, as every handler's does through wiring: a short cold start.
    from sms_consent.repository.number_items import committed_of

    found = []
    for record in records:
        try:
            committed = committed_of(record.raw_event)
        except ValueError as exc:
            logger.error("unreadable audit event in the stream", extra={"error": str(exc)[:300]})
            metrics.add_metric(name="ConsentFeedUnreadable", unit=MetricUnit.Count, value=1)
            continue
        if committed is not None:
            found.append(committed)
    return found


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, int]:
    committed = _readable(event.records)
    if not committed:
        return {"published": 0, "counted": 0}
    outcome = consent_feed.publish_committed(committed, wiring.feed_deps())
    metrics.add_metric(name="ConsentEventsPublished", unit=MetricUnit.Count, value=outcome.published)
    metrics.add_metric(name="ConsentEventsCounted", unit=MetricUnit.Count, value=outcome.counted)
    for name, count in outcome.figures.items():  # exactly once: a retried batch counts nothing again
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    if outcome.released:
        metrics.add_metric(name="HeldPromptsReleased", unit=MetricUnit.Count, value=outcome.released)
    return {"published": outcome.published, "counted": outcome.counted, "released": outcome.released}
