"""BlocklistFilesFunction: imports uploaded blocklist files and writes exports (BlocklistQueue).

The queue carries S3's object-created events (through EventBridge) for uploads, continuations of
imports that ran out of time, and export requests from the API. One message per invocation: an
import uses the whole invocation, and stops early by the time it has left.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from sms_consent import blocklist_export, blocklist_import, wiring
from sms_consent.observability import logger, metrics, tracer

wiring.blocklist_files_settings()  # a missing variable fails the cold start, naming it


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=SQSEvent)
def lambda_handler(event: SQSEvent, context: LambdaContext) -> dict[str, Any]:
    results = []
    for record in event.records:  # BatchSize 1 in the template; a larger batch runs in turn
        message = json.loads(record.body)
        if "export_id" in message:
            exported = blocklist_export.run(wiring.export_deps(), message)
            metrics.add_metric(
                name="BlocklistRowsExported", unit=MetricUnit.Count, value=exported.rows if exported else 0
            )
            results.append({"export_id": message["export_id"], "status": exported.status if exported else "unknown"})
            continue
        import_id = blocklist_import.import_id_of(message)
        if import_id is None:
            logger.warning("not a blocklist file message", extra={"message_id": record.message_id})
            continue
        outcome = blocklist_import.run(
            wiring.import_deps(),
            import_id,
            f"{context.aws_request_id}:{record.message_id}",
            remaining_ms=context.get_remaining_time_in_millis,
        )
        metrics.add_metric(name="BlocklistNumbersImported", unit=MetricUnit.Count, value=outcome.written)
        status = outcome.job.status if outcome.job else "unknown"
        results.append({"import_id": import_id, "status": status, "finished": outcome.finished, "busy": outcome.busy})
    return {"results": results}
