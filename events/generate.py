"""Regenerate the sample events with `sam local generate-event` (offline), so they stay real AWS formats.

    .venv/bin/python events/generate.py

Each case is (folder, name, generator args, message payload). SNS payloads are the exact bodies AWS
End User Messaging SMS and our own publishers put on the topics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
SAM = str(Path(sys.executable).with_name("sam"))


def inbound(body: str, *, sender: str = "+18005550100", origin: str = "+14155550123", **extra: Any) -> str:
    payload = {
        "originationNumber": origin,
        "destinationNumber": sender,
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": body,
        "inboundMessageId": extra.pop("inbound_id", "cae173d2-66b9-564c-8309-21f858e9fb84"),
        "previousPublishedMessageId": extra.pop("previous_id", "wJ0APhmnfn9pmpm0pvmm0ruu1mpmnd3s5bk8ld80"),
        **extra,
    }
    return json.dumps(payload, ensure_ascii=False)


def outbound(**request: Any) -> str:
    base = {
        "request_id": "8a4c2d1e-5b6f-4a7b-9c8d-0e1f2a3b4c5d",
        "program": "alerts",
        "category": "marketing",
        "recipients": ["+14155550123"],
        "body": "Example Corp Alerts: the spring sale starts today.",
        "media_urls": [],
        "sender": "+18005550100",
    }
    return json.dumps({**base, **request}, ensure_ascii=False)


def delivery(event_type: str, *, to: str = "+14155550123", final: bool = True, description: str = "") -> str:
    """An End User Messaging SMS event as its configuration set's SNS event destination carries it."""
    status = event_type.removeprefix("TEXT_")
    payload = {
        "eventType": event_type,
        "eventVersion": "1.0",
        "eventTimestamp": 1763900000470,
        "isFinal": final,
        "originationPhoneNumber": "+18005550100",
        "destinationPhoneNumber": to,
        "isoCountryCode": "US",
        "isInternationalSend": False,
        "mcc": "310",
        "mnc": "260",
        "carrierName": "T-Mobile USA",
        "messageId": "862a8790-60c0-4430-9b2b-658bd1e2c3f4",
        "messageRequestTimestamp": 1763900000170,
        "messageEncoding": "GSM",
        "messageType": "PROMOTIONAL",
        "messageStatus": status,
        "messageStatusDescription": description or "Message blocked by the recipient's carrier or device",
        "totalMessageParts": 1,
        "totalMessagePrice": 0.00581,
        "totalCarrierFee": 0.003,
    }
    return json.dumps(payload)


# API Gateway (REST, proxy) requests: (folder, name, method, resource, path); tests fill in the rest.
API_CASES: list[tuple[str, str, str, str, str]] = [
    ("admin_api", "search_blocklist", "GET", "/v1/blocklist", "v1/blocklist"),
    ("optin_api", "post_optin", "POST", "/v1/optins", "v1/optins"),
]

CASES: list[tuple[str, str, str]] = [
    ("inbound_sms", "help", inbound("HELP")),
    ("inbound_sms", "help_spanish", inbound("AYUDA")),
    ("inbound_sms", "stop", inbound("Stop please")),
    ("inbound_sms", "stop_short_code_menu", inbound("STOP", sender="12345")),
    ("inbound_sms", "stop_program", inbound("STOP TONE1", sender="12345")),
    ("inbound_sms", "stop_all", inbound("STOP ALL", sender="12345")),
    ("inbound_sms", "start", inbound("START")),
    ("inbound_sms", "join_program", inbound("JOIN TONE1", sender="12345")),
    ("inbound_sms", "keyword_opt_in", inbound("ALERTS")),
    ("inbound_sms", "confirm_yes", inbound("YES")),
    ("inbound_sms", "revocation_phrase", inbound("please don't text me anymore")),
    ("inbound_sms", "other_text", inbound("What time do you open?")),
    ("inbound_sms", "misrouted_sender", inbound("STOP", sender="+18005559999")),
    ("inbound_sms", "oversized_stop", inbound("STOP " + "x" * 10_235)),  # 10 KB: cut, classified, opted out
    ("inbound_sms", "control_characters", inbound("STOP\u0000\u0007\u202e")),
    ("inbound_sms", "lone_surrogate", inbound("STOP").replace("STOP", "STOP\\ud800")),
    ("inbound_sms", "not_json", "STOP this is not JSON"),
    ("inbound_sms", "missing_fields", json.dumps({"originationNumber": "+14155550123", "messageBody": "hi"})),
    ("inbound_sms", "unparseable_number", inbound("HELP", origin="not-a-number")),
    ("inbound_sms", "stop_missing_id", json.dumps({"originationNumber": "+14155550123", "messageBody": "Stop please"})),
    ("inbound_sms", "stop_unparseable_number", inbound("STOP", origin="not-a-number")),
    ("inbound_sms", "help_french", inbound("AIDE")),
    ("inbound_sms", "stop_french", inbound("ARRÊT")),
    ("inbound_sms", "help_program", inbound("HELP TONE2", sender="12345")),
    (
        "inbound_sms",
        "confirm_named_prompt",
        inbound("YES", sender="12345", origin="+14155550144", previous_id="m-tone1"),
    ),
    ("inbound_sms", "confirm_after_window", inbound("YES", origin="+14155550155")),
    ("inbound_sms", "blocked_number_stop", inbound("STOP", origin="+14155550166")),
    ("inbound_sms", "blocked_number_help", inbound("HELP", origin="+14155550166")),
    ("send_gate", "compliance_reply_without_marker", outbound(category="compliance_reply", body="help text")),
    ("send_gate", "too_many_recipients", outbound(recipients=[f"+1415555{i:04d}" for i in range(101)])),
    ("send_gate", "unknown_program", outbound(program="nope")),
    ("send_gate", "marketing", outbound()),
    ("provider_sync", "delivery_blocked", delivery("TEXT_BLOCKED")),
    (
        "provider_sync",
        "delivery_successful",
        delivery("TEXT_SUCCESSFUL", description="Message has been accepted by phone carrier"),
    ),
]


def sns_event(topic: str, message: str) -> dict[str, Any]:
    # sam renders --message into JSON without escaping it, so the payload goes in after generation.
    result = subprocess.run(
        [SAM, "local", "generate-event", "sns", "notification", "--topic", topic, "--message", "PLACEHOLDER"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    event: dict[str, Any] = json.loads(result.stdout)
    sns = event["Records"][0]["Sns"]
    sns["Message"] = message
    sns["Subject"] = None
    # sam leaves these as EXAMPLE; AWS always sends URLs (and Powertools' SnsModel checks them).
    sns["SigningCertUrl"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-example.pem"
    sns["UnsubscribeUrl"] = (
        "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        + event["Records"][0]["EventSubscriptionArn"]
    )
    return event


def api_event(method: str, resource: str, path: str) -> dict[str, Any]:
    result = subprocess.run(
        [
            SAM,
            "local",
            "generate-event",
            "apigateway",
            "aws-proxy",
            "--method",
            method,
            "--resource",
            resource,
            "--path",
            path,
            "--body",
            "",
        ],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    event: dict[str, Any] = json.loads(result.stdout)
    return event


STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/sms-consent-local-ConsentTable/stream/2026-12-01T00:00:00.000"
)


def audit_image(event_id: str, event_type: str, old: str, new: str) -> dict[str, Any]:
    """An audit event item as the table's stream carries it (NewImage)."""
    at = "2026-12-01T15:04:05.000000Z"
    return {
        "PK": {"S": "PHONE#+14155550123"},
        "SK": {"S": f"EVENT#{at}#{event_id}"},
        "event_type": {"S": event_type},
        "at": {"S": at},
        "phone": {"S": "+14155550123"},
        "program": {"S": "alerts"},
        "old_status": {"S": old},
        "new_status": {"S": new},
        "source": {"S": "keyword"},
        "evidence": {"M": {"text": {"S": "Stop please"}, "inbound_message_id": {"S": "cae173d2"}}},
        "event_id": {"S": event_id},
    }


def stream_event(records: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """sam's DynamoDB stream event, its records replaced by (eventName, image) of our table's items."""
    result = subprocess.run(
        [SAM, "local", "generate-event", "dynamodb", "update"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    )
    template = json.loads(result.stdout)["Records"][0]
    event: dict[str, Any] = {"Records": []}
    for index, (name, image) in enumerate(records):
        record = json.loads(json.dumps(template))
        record["eventID"] = f"{index:032x}"
        record["eventName"] = name
        record["eventSourceARN"] = STREAM_ARN
        dynamodb = record["dynamodb"]
        dynamodb.update(
            Keys={"PK": image["PK"], "SK": image["SK"]},
            SequenceNumber=str(4421584500000000017450439091 + index),
            StreamViewType="NEW_IMAGE",
            SizeBytes=len(json.dumps(image)),
        )
        dynamodb.pop("OldImage", None)
        dynamodb.pop("NewImage", None)
        if name != "REMOVE":
            dynamodb["NewImage"] = image
        event["Records"].append(record)
    return event


STATE = {"PK": {"S": "PHONE#+14155550123"}, "SK": {"S": "STATE"}, "version": {"N": "3"}}
MARKER = {"PK": {"S": "FOLDED#4421584500000000017450439000"}, "SK": {"S": "FOLDED"}}
STREAM_CASES: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = [
    (
        "committed_events",
        [
            ("MODIFY", STATE),
            ("INSERT", audit_image("e1", "ConsentRevoked", "subscribed", "unsubscribed")),
            ("REMOVE", MARKER),
            ("INSERT", audit_image("e2", "ConsentGranted", "unsubscribed", "subscribed")),
        ],
    ),
    (
        "unreadable_event",
        [
            ("INSERT", {**audit_image("e3", "NotAnEventType", "subscribed", "unsubscribed")}),
            (
                "INSERT",
                {key: value for key, value in audit_image("e4", "ConsentRevoked", "a", "b").items() if key != "at"},
            ),
            ("INSERT", audit_image("e5", "ConsentRevoked", "subscribed", "unsubscribed")),
        ],
    ),
]


def bus_event(detail_type: str, source: str, detail: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event: sam's scheduled-event envelope with the given type, source and detail."""
    raw = subprocess.run(
        [SAM, "local", "generate-event", "cloudwatch", "scheduled-event"],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
    ).stdout
    event: dict[str, Any] = json.loads(raw)
    event.update({"detail-type": detail_type, "source": source, "detail": detail})
    return event


def consent_detail(event_type: str, source: str, old: str | None, new: str) -> dict[str, Any]:
    return {
        "phone": "+14155550123",
        "program": "alerts",
        "old_status": old,
        "new_status": new,
        "source": source,
        "timestamp": "2026-11-23T12:00:00.000000Z",
        "event_id": f"{event_type}-{source}",
        "evidence": {"keyword": "STOP"} if source == "keyword" and event_type == "ConsentRevoked" else {},
    }


BUS_CASES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    ("provider_sync", "scheduled", "Scheduled Event", "aws.events", {}),
    (
        "provider_sync",
        "consumer_stop",
        "ConsentRevoked",
        "sms-consent",
        consent_detail("ConsentRevoked", "keyword", "subscribed", "unsubscribed"),
    ),
    (
        "provider_sync",
        "consumer_start",
        "ConsentGranted",
        "sms-consent",
        consent_detail("ConsentGranted", "keyword", "unsubscribed", "subscribed"),
    ),
    (
        "provider_sync",
        "carrier_opt_out",
        "ConsentRevoked",
        "sms-consent",
        consent_detail("ConsentRevoked", "carrier", "subscribed", "unsubscribed"),
    ),
]


def main() -> None:
    for folder, name, detail_type, source, detail in BUS_CASES:
        target = HERE / folder / f"{name}.json"
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(bus_event(detail_type, source, detail), indent=2) + "\n")
        print(target.relative_to(HERE.parent))
    for name, records in STREAM_CASES:
        target = HERE / "consent_feed" / f"{name}.json"
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(stream_event(records), indent=2) + "\n")
        print(target.relative_to(HERE.parent))
    for folder, name, method, resource, path in API_CASES:
        target = HERE / folder / f"{name}.json"
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(api_event(method, resource, path), indent=2) + "\n")
        print(target.relative_to(HERE.parent))
    topics = {
        "inbound_sms": "InboundSmsTopic",
        "send_gate": "OutboundRequestsTopic",
        "provider_sync": "DeliveryEventsTopic",
    }
    for folder, name, message in CASES:
        target = HERE / folder / f"{name}.json"
        target.parent.mkdir(exist_ok=True)
        target.write_text(json.dumps(sns_event(topics[folder], message), indent=2, ensure_ascii=False) + "\n")
        print(target.relative_to(HERE.parent))


if __name__ == "__main__":
    main()
