"""`sms-consent delivery-events connect`: make the stack's DeliveryEventsTopic an SNS event destination of
your End User Messaging SMS configuration set (the template cannot: the set is yours, not the stack's).

It matches the delivery events that make ProviderSyncFunction look a number up on the provider's opt-out
list (`provider_opt_outs.REFUSAL_EVENTS`: blocked, carrier-blocked, spam, unknown; texts and media). Run
it again to bring an existing destination of that name up to date.

Exit codes: 0 created or updated; 1 the call was refused (the message says why).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

DESTINATION_NAME = "sms-consent-blocked-deliveries"


def connect(client: Any, configuration_set: str, topic_arn: str) -> str:
    """Create the event destination, or update the one of that name; "created" or "updated"."""
    from botocore.exceptions import ClientError

    from sms_consent.provider_opt_outs import REFUSAL_EVENTS

    wanted: dict[str, Any] = {
        "ConfigurationSetName": configuration_set,
        "EventDestinationName": DESTINATION_NAME,
        "MatchingEventTypes": sorted(REFUSAL_EVENTS),
        "SnsDestination": {"TopicArn": topic_arn},
    }
    try:
        client.create_event_destination(**wanted)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConflictException":
            raise
        client.update_event_destination(**wanted, Enabled=True)
        return "updated"
    return "created"


def _client(region: str | None) -> Any:
    import boto3

    return boto3.client("pinpoint-sms-voice-v2", region_name=region)


def cmd_connect(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        action = connect(_client(args.region), args.configuration_set, args.topic_arn)
    except (ClientError, BotoCoreError) as exc:
        print(f"delivery-events connect: {exc}", file=sys.stderr)
        return 1
    print(f"{action} event destination {DESTINATION_NAME} on {args.configuration_set} -> {args.topic_arn}")
    return 0


def register(commands: Any) -> None:
    events = commands.add_parser(
        "delivery-events", help="where End User Messaging sends blocked-delivery events"
    ).add_subparsers(required=True)
    connect_parser = events.add_parser(
        "connect", help="make the stack's DeliveryEventsTopicArn an event destination of your configuration set"
    )
    connect_parser.add_argument("--configuration-set", required=True, help="the stack's ConfigurationSetName")
    connect_parser.add_argument("--topic-arn", required=True, help="the stack's DeliveryEventsTopicArn output")
    connect_parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    connect_parser.set_defaults(func=cmd_connect)
