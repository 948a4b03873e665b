"""The SMS sender port's three adapters: End User Messaging SMS, SNS, and the local outbox file."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sms_consent.adapters.aws import transient, unsent
from sms_consent.messages import Category, OutgoingSms, SendResult
from sms_consent.ports import RecipientOptedOut, SendError, SmsSender

PROMOTIONAL = frozenset({Category.MARKETING})


def _message_type(category: Category) -> str:
    return "PROMOTIONAL" if category in PROMOTIONAL else "TRANSACTIONAL"


class EndUserMessagingSender:
    """AWS End User Messaging SMS (`pinpoint-sms-voice-v2`): the default in AWS."""

    def __init__(self, client: Any, *, configuration_set: str = "", protect_configuration_id: str = "") -> None:
        self._client = client
        self._configuration_set = configuration_set
        self._protect_configuration_id = protect_configuration_id

    def send(self, message: OutgoingSms) -> SendResult:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "MessageBody": message.body,
            "Context": {"request_id": message.request_id, "program": message.program, "category": message.category},
        }
        if message.sender:
            request["OriginationIdentity"] = message.sender
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        if self._protect_configuration_id:
            request["ProtectConfigurationId"] = self._protect_configuration_id
        try:
            if message.media_urls:
                response = self._client.send_media_message(MediaUrls=list(message.media_urls), **request)
            else:
                response = self._client.send_text_message(MessageType=_message_type(message.category), **request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, reason = error.get("Code", ""), exc.response.get("Reason", "")
            if code == "ConflictException" and reason == "DESTINATION_PHONE_NUMBER_OPTED_OUT":
                raise RecipientOptedOut(f"{code}: {reason}") from exc
            retryable = transient(exc) or code == "ServiceQuotaExceededException"
            raise SendError(f"{code}: {reason or error.get('Message', '')}", retryable=retryable) from exc
        except BotoCoreError as exc:
            if unsent(exc):
                raise SendError(f"not sent: {exc}", retryable=True) from exc
            raise  # no answer: it may have been sent, so it is not tried again
        return SendResult(message_id=response["MessageId"], sent_at=datetime.now(UTC))


class SnsSender:
    """SNS `Publish(PhoneNumber=...)`. SNS sends no MMS."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send(self, message: OutgoingSms) -> SendResult:
        from botocore.exceptions import BotoCoreError, ClientError

        if message.media_urls:
            raise SendError("the SNS sender cannot send MMS media", retryable=False)
        attributes: dict[str, Any] = {
            "AWS.SNS.SMS.SMSType": {
                "DataType": "String",
                "StringValue": "Promotional" if message.category in PROMOTIONAL else "Transactional",
            }
        }
        if message.sender and message.sender.startswith("+"):
            attributes["AWS.MM.SMS.OriginationNumber"] = {"DataType": "String", "StringValue": message.sender}
        try:
            response = self._client.publish(PhoneNumber=message.to, Message=message.body, MessageAttributes=attributes)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            raise SendError(f"{code}: {exc}", retryable=transient(exc)) from exc
        except BotoCoreError as exc:
            if unsent(exc):
                raise SendError(f"not sent: {exc}", retryable=True) from exc
            raise  # no answer: it may have been sent, so it is not tried again
        return SendResult(message_id=response["MessageId"], sent_at=datetime.now(UTC))


class OutboxSender:
    """The local stack's handset: one JSON line per message that would have reached a phone."""

    _lock = threading.Lock()

    def __init__(self, path: Path) -> None:
        self._path = path

    def send(self, message: OutgoingSms) -> SendResult:
        result = SendResult(message_id=f"local-{uuid.uuid4().hex}", sent_at=datetime.now(UTC))
        line = {
            "to": message.to,
            "from": message.sender,
            "body": message.body,
            "media_urls": list(message.media_urls),
            "category": message.category.value,
            "program": message.program,
            "request_id": message.request_id,
            "message_id": result.message_id,
            "sent_at": result.sent_at.isoformat().replace("+00:00", "Z"),
        }
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self._path.open("a", encoding="utf-8") as outbox:
            outbox.write(json.dumps(line, ensure_ascii=False) + "\n")
        return result


def build_sender(
    adapter: str, *, region: str, outbox_path: Path, configuration_set: str = "", protect_configuration_id: str = ""
) -> SmsSender:
    from sms_consent.adapters.aws import sending_client

    if adapter == "outbox":
        return OutboxSender(outbox_path)
    if adapter == "sns":
        return SnsSender(sending_client("sns", region))
    return EndUserMessagingSender(
        sending_client("pinpoint-sms-voice-v2", region),
        configuration_set=configuration_set,
        protect_configuration_id=protect_configuration_id,
    )
