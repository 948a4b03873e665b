"""Builds each dependency once per process, on first use, from validated settings.

Handlers ask this module for what they need; tests build the same objects with their own settings.
Nothing here runs at import time, so cold starts pay only for what an invocation uses.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

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


@functools.cache
def gate_deps() -> Any:
    """Everything the send gate needs (also used by the synchronous check route)."""
    from sms_consent.adapters.aws import client
    from sms_consent.adapters.breaker_cache import CachedBreakers
    from sms_consent.adapters.deferral import QueueOrScheduleDeferrals
    from sms_consent.adapters.media import S3MediaInspector
    from sms_consent.repository.counters import record_prompt
    from sms_consent.send_gate import GateDeps

    current = settings()
    return GateDeps(
        config=program_config(),
        store=number_store(),  # type: ignore[arg-type]
        sender=sms_sender(),
        events=event_sink(),
        clock=utc_now,
        breakers=CachedBreakers(),
        media=S3MediaInspector(client("s3", current.aws_region)),
        deferrals=QueueOrScheduleDeferrals(
            client("sqs", current.aws_region),
            client("scheduler", current.aws_region),
            queue_url=current.deferred_send_queue_url,
            topic_arn=current.outbound_topic_arn,
            role_arn=current.scheduler_role_arn,
        ),
        count_prompt=record_prompt,
    )


@functools.cache
def optin_deps() -> Any:
    """Everything POST /v1/optins needs: the CAPTCHA, rate limits and breakers besides the usual ports."""
    from sms_consent.adapters.breaker_cache import CachedBreakers
    from sms_consent.adapters.captcha import build_captcha
    from sms_consent.optins import FormDeps, RateLimitPolicy
    from sms_consent.repository.rate_limits import DynamoRateLimiter

    current = settings()
    config = program_config()
    return FormDeps(
        config=config,
        store=number_store(),
        outbound=outbound_requests(),
        events=event_sink(),
        captcha=build_captcha(
            current.captcha_provider,
            secret_parameter=current.captcha_secret_parameter,
            secret_arn=current.captcha_secret_arn,
            region=current.aws_region,
        ),
        limiter=DynamoRateLimiter(),
        breakers=CachedBreakers(),
        clock=lambda: utc_now(),  # looked up per call: tests move time by replacing utc_now
        policy=RateLimitPolicy(config.optin_limits),
    )


@functools.cache
def admin_deps() -> Any:
    """What the number routes need to change a number's consent."""
    from sms_consent.optins import AdminDeps

    return AdminDeps(
        config=program_config(),
        store=number_store(),
        outbound=outbound_requests(),
        events=event_sink(),
        clock=lambda: utc_now(),
    )


@functools.cache
def profile_deps() -> Any:
    """What the profile route needs to link a user to a number."""
    from sms_consent.optins import ProfileDeps
    from sms_consent.repository.profiles import DynamoProfileStore

    settings()  # binds the table
    return ProfileDeps(
        store=number_store(), profiles=DynamoProfileStore(), events=event_sink(), clock=lambda: utc_now()
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


def reset() -> None:
    """Forget everything built so far (tests switch environments between cases)."""
    from sms_consent.adapters.aws import client

    for cached in (
        settings,
        program_config,
        number_store,
        outbound_requests,
        event_sink,
        sms_sender,
        gate_deps,
        optin_deps,
        admin_deps,
        profile_deps,
        client,
    ):
        cached.cache_clear()
