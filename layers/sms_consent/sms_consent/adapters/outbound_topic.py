"""OutboundRequests port on SNS: the only way a message gets to the send gate."""

from __future__ import annotations

import json
from typing import Any

from sms_consent.messages import ORIGIN_ATTRIBUTE, PLATFORM_ONLY_CATEGORIES, PLATFORM_ORIGIN, OutboundRequest


class SnsOutboundRequests:
    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, request: OutboundRequest) -> str:
        attributes: dict[str, Any] = {"category": {"DataType": "String", "StringValue": request.category.value}}
        if request.category in PLATFORM_ONLY_CATEGORIES:
            attributes[ORIGIN_ATTRIBUTE] = {"DataType": "String", "StringValue": PLATFORM_ORIGIN}
        response = self._client.publish(
            TopicArn=self._topic_arn, Message=json.dumps(request.model_dump(mode="json")), MessageAttributes=attributes
        )
        return str(response["MessageId"])
