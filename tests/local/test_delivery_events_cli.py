"""`sms-consent delivery-events connect`: the event destination it puts on the user's configuration set
(botocore's Stubber: moto has no End User Messaging SMS), created once and brought up to date after."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sms_consent.provider_opt_outs import REFUSAL_EVENTS
from sms_consent_local import cli, delivery_events_cli

TOPIC = "arn:aws:sns:us-east-1:123456789012:sms-consent-DeliveryEventsTopic-1A2B3C"
WANTED = {
    "ConfigurationSetName": "shop-events",
    "EventDestinationName": "sms-consent-blocked-deliveries",
    "MatchingEventTypes": sorted(REFUSAL_EVENTS),
    "SnsDestination": {"TopicArn": TOPIC},
}


def _destination() -> dict[str, Any]:
    return {
        "EventDestinationName": "sms-consent-blocked-deliveries",
        "Enabled": True,
        "MatchingEventTypes": sorted(REFUSAL_EVENTS),
        "SnsDestination": {"TopicArn": TOPIC},
    }


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client(
        "pinpoint-sms-voice-v2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setattr(delivery_events_cli, "_client", lambda region: client)
    return Stubber(client)


def test_connect_creates_the_destination_for_every_refusal_event(
    stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    answer = {
        "ConfigurationSetArn": "arn:aws:sms-voice:us-east-1:123456789012:configuration-set/shop-events",
        "ConfigurationSetName": "shop-events",
        "EventDestination": _destination(),
    }
    stubbed.add_response("create_event_destination", answer, WANTED)

    with stubbed:
        code = cli.main(["delivery-events", "connect", "--configuration-set", "shop-events", "--topic-arn", TOPIC])
        stubbed.assert_no_pending_responses()

    assert code == 0
    assert "created event destination sms-consent-blocked-deliveries on shop-events" in capsys.readouterr().out
    assert {"TEXT_BLOCKED", "MEDIA_BLOCKED", "TEXT_SPAM", "TEXT_UNKNOWN"} <= set(WANTED["MatchingEventTypes"])


def test_connect_again_updates_the_existing_destination(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stubbed.add_client_error(
        "create_event_destination", "ConflictException", "the destination exists", expected_params=WANTED
    )
    answer = {
        "ConfigurationSetArn": "arn:aws:sms-voice:us-east-1:123456789012:configuration-set/shop-events",
        "ConfigurationSetName": "shop-events",
        "EventDestination": _destination(),
    }
    stubbed.add_response("update_event_destination", answer, {**WANTED, "Enabled": True})

    with stubbed:
        code = cli.main(["delivery-events", "connect", "--configuration-set", "shop-events", "--topic-arn", TOPIC])
        stubbed.assert_no_pending_responses()

    assert code == 0
    assert capsys.readouterr().out.startswith("updated event destination")


def test_a_refused_call_is_reported_with_its_reason(stubbed: Stubber, capsys: pytest.CaptureFixture[str]) -> None:
    stubbed.add_client_error(
        "create_event_destination",
        "ResourceNotFoundException",
        "configuration set shop-events not found",
        expected_params=WANTED,
    )

    with stubbed:
        code = cli.main(["delivery-events", "connect", "--configuration-set", "shop-events", "--topic-arn", TOPIC])

    assert code == 1
    assert "configuration set shop-events not found" in capsys.readouterr().err
