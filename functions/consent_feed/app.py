"""ConsentFeedFunction: the table's stream (committed audit events) -> ConsentEventBus and metrics.

The event source mapping's filter passes only inserted `EVENT#` items; the handler checks again, so
that a record it cannot read (logged and counted) never blocks the rest of the shard. A failure to
publish or to fold raises: Lambda retries the whole batch, then sends its position to the
dead-letter queue (alarmed) before the records expire.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent, event_source
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import consent_feed, wiring
from sms_consent.observability import logger, metrics, tracer
from sms_consent.ports import Committed

wiring.consent_feed_settings()  # a missing variable fails the cold start, naming it


def _committed(record: DynamoDBRecord) -> Committed | None:
    """The audit event an inserted EVENT# item holds; None for any other record."""
    # Storage code loads on first use, as every handler's does through wiring: a short cold start.
    from sms_consent.repository.number_items import EVENT_SK_PREFIX, event_from_raw

    raw: dict[str, Any] = record.raw_event.get("dynamodb") or {}
    sort_key = (raw.get("Keys") or {}).get("SK", {}).get("S", "")
    if record.raw_event.get("eventName") != "INSERT" or not str(sort_key).startswith(EVENT_SK_PREFIX):
        return None
    try:
        return Committed(sequence=int(raw["SequenceNumber"]), event=event_from_raw(raw["NewImage"]))
    except (KeyError, TypeError, ValueError) as exc:
        logger.error("unreadable audit event in the stream", extra={"error": str(exc)[:300], "key": sort_key})
        metrics.add_metric(name="ConsentFeedUnreadable", unit=MetricUnit.Count, value=1)
        return None


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=DynamoDBStreamEvent)
def lambda_handler(event: DynamoDBStreamEvent, context: LambdaContext) -> dict[str, int]:
    committed = [item for item in map(_committed, event.records) if item is not None]
    if not committed:
        return {"published": 0, "counted": 0}
    outcome = consent_feed.publish_committed(committed, wiring.feed_deps())
    metrics.add_metric(name="ConsentEventsPublished", unit=MetricUnit.Count, value=outcome.published)
    metrics.add_metric(name="ConsentEventsCounted", unit=MetricUnit.Count, value=outcome.counted)
    return {"published": outcome.published, "counted": outcome.counted}
