"""Deferred sends: an SQS delay when the wait is under 15 minutes, else a one-time Scheduler schedule
that publishes the request back to OutboundRequestsTopic. Either way the gate decides again."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sms_consent.messages import OutboundRequest

SQS_MAX_DELAY_SECONDS = 900


class QueueOrScheduleDeferrals:
    def __init__(self, sqs: Any, scheduler: Any, *, queue_url: str, topic_arn: str, role_arn: str) -> None:
        self._sqs = sqs
        self._scheduler = scheduler
        self._queue_url = queue_url
        self._topic_arn = topic_arn
        self._role_arn = role_arn

    def defer(self, request: OutboundRequest, until: datetime, now: datetime) -> None:
        body = json.dumps(request.model_dump(mode="json"))
        wait = max(0, int((until - now).total_seconds()) + 1)
        if wait <= SQS_MAX_DELAY_SECONDS:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=body, DelaySeconds=wait)
            return
        self._scheduler.create_schedule(
            Name=f"sms-consent-{uuid.uuid4().hex[:40]}",
            ScheduleExpression=f"at({until.strftime('%Y-%m-%dT%H:%M:%S')})",
            ScheduleExpressionTimezone="UTC",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": self._topic_arn, "RoleArn": self._role_arn, "Input": body},
            ActionAfterCompletion="DELETE",
        )
