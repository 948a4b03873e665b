"""Builds each dependency once per process, on first use, from validated settings.

Handlers ask this module for what they need; tests build the same objects with their own settings.
Nothing here runs at import time, so cold starts pay only for what an invocation uses.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from sms_consent.config import ProgramConfig, load_config
from sms_consent.ports import EventSink, NumberStore, OutboundRequests, SmsSender
from sms_consent.settings import Settings


@functools.cache
def settings() -> Settings:
    from sms_consent.repository.table import bind

    loaded = Settings.from_env()
    bind(loaded.table_name, loaded.aws_region)
    return loaded


@functools.cache
def program_config() -> ProgramConfig:
    return load_config(settings().program_config)


@functools.cache
def number_store() -> NumberStore:
    from sms_consent.repository.numbers import DynamoNumberStore

    settings()  # binds the table
    return DynamoNumberStore()


@functools.cache
def outbound_requests() -> OutboundRequests:
    from sms_consent.adapters.aws import client
    from sms_consent.adapters.outbound_topic import SnsOutboundRequests

    return SnsOutboundRequests(client("sns", settings().aws_region), settings().outbound_topic_arn)


@functools.cache
def event_sink() -> EventSink:
    from sms_consent.adapters.aws import client
    from sms_consent.adapters.event_bus import EventBridgeSink

    return EventBridgeSink(client("events", settings().aws_region), settings().event_bus_name)


@functools.cache
def sms_sender() -> SmsSender:
    from sms_consent.adapters.senders import build_sender

    current = settings()
    return build_sender(
        current.sender_adapter,
        region=current.aws_region,
        outbox_path=current.outbox_path,
        configuration_set=current.configuration_set_name,
        protect_configuration_id=current.protect_configuration_id,
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def reset() -> None:
    """Forget everything built so far (tests switch environments between cases)."""
    from sms_consent.adapters.aws import client

    for cached in (settings, program_config, number_store, outbound_requests, event_sink, sms_sender, client):
        cached.cache_clear()
