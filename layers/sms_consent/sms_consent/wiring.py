"""The composition root: each function's dependencies, built once per process from its own settings.

A handler asks for its settings at import (so a missing variable fails the cold start, naming it)
and for its dependencies on first use (so cold starts pay only for what an invocation needs). This is
the only module that picks adapters and stores; tests build the same objects with their own settings
or swap in `tests/fakes.py`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sms_consent import clock
from sms_consent.config import ProgramConfig, load_config
from sms_consent.settings import (
    AdminApiSettings,
    BlocklistFilesSettings,
    ConsentFeedSettings,
    FunctionSettings,
    InboundSettings,
    ListHygieneSettings,
    OptinApiSettings,
    ProviderSyncSettings,
    PumpingDetectorSettings,
    SendGateSettings,
)

if TYPE_CHECKING:
    from sms_consent.blocklist_export import ExportDeps
    from sms_consent.blocklist_import import ImportDeps
    from sms_consent.consent_feed import FeedDeps
    from sms_consent.inbound import InboundDeps
    from sms_consent.list_hygiene import HygieneDeps
    from sms_consent.ports import BreakerSource, EventSink, OutboundRequests, ProviderOptOutList, ReassignedNumbers
    from sms_consent.profiles import ProfileDeps
    from sms_consent.prompt_holds import ReleaseDeps
    from sms_consent.provider_opt_outs import SyncDeps
    from sms_consent.pumping import DetectorDeps, PumpingConfig
    from sms_consent.repository.blocklist import DynamoBlocklist
    from sms_consent.repository.blocklist_imports import DynamoExportJobs, DynamoImportJobs
    from sms_consent.repository.breakers import DynamoBreakers
    from sms_consent.repository.consent_texts import DynamoConsentTexts
    from sms_consent.repository.counters import DynamoCounters
    from sms_consent.repository.metrics import DynamoMetrics
    from sms_consent.repository.numbers import DynamoNumberStore
    from sms_consent.repository.profiles import DynamoProfileStore
    from sms_consent.repository.rate_limits import DynamoRateLimiter
    from sms_consent.send_gate import GateDeps, GateReaders
    from sms_consent.signup import SignupDeps
    from sms_consent.subscriptions import SubscriptionDeps


def utc_now() -> datetime:
    """The clock every function uses; tests move time by replacing this attribute."""
    return clock.utc_now()


def _clock() -> datetime:
    return utc_now()  # looked up per call, so that a replaced utc_now takes effect


# ---------------------------------------------------------------------- settings, one model per function


@functools.cache
def inbound_settings() -> InboundSettings:
    return InboundSettings.from_env()


@functools.cache
def send_gate_settings() -> SendGateSettings:
    return SendGateSettings.from_env()


@functools.cache
def optin_api_settings() -> OptinApiSettings:
    return OptinApiSettings.from_env()


@functools.cache
def admin_api_settings() -> AdminApiSettings:
    return AdminApiSettings.from_env()


@functools.cache
def pumping_detector_settings() -> PumpingDetectorSettings:
    return PumpingDetectorSettings.from_env()


@functools.cache
def consent_feed_settings() -> ConsentFeedSettings:
    return ConsentFeedSettings.from_env()


@functools.cache
def list_hygiene_settings() -> ListHygieneSettings:
    return ListHygieneSettings.from_env()


@functools.cache
def provider_sync_settings() -> ProviderSyncSettings:
    return ProviderSyncSettings.from_env()


@functools.cache
def blocklist_files_settings() -> BlocklistFilesSettings:
    return BlocklistFilesSettings.from_env()


@functools.cache
def program_config(path: Path) -> ProgramConfig:
    return load_config(path)


# ---------------------------------------------------------------------- storage and AWS adapters


@dataclass(frozen=True)
class Stores:
    """Every store on one table."""

    numbers: DynamoNumberStore
    profiles: DynamoProfileStore
    counters: DynamoCounters
    breakers: DynamoBreakers
    rate_limits: DynamoRateLimiter
    blocklist: DynamoBlocklist
    metrics: DynamoMetrics
    consent_texts: DynamoConsentTexts


@functools.cache
def stores(table_name: str, region: str) -> Stores:
    from sms_consent.repository.blocklist import DynamoBlocklist
    from sms_consent.repository.breakers import DynamoBreakers
    from sms_consent.repository.consent_texts import DynamoConsentTexts
    from sms_consent.repository.counters import DynamoCounters
    from sms_consent.repository.metrics import DynamoMetrics
    from sms_consent.repository.numbers import DynamoNumberStore
    from sms_consent.repository.profiles import DynamoProfileStore
    from sms_consent.repository.rate_limits import DynamoRateLimiter
    from sms_consent.repository.table import Table

    table = Table(table_name, region)
    return Stores(
        numbers=DynamoNumberStore(table),
        profiles=DynamoProfileStore(table),
        counters=DynamoCounters(table),
        breakers=DynamoBreakers(table),
        rate_limits=DynamoRateLimiter(table),
        blocklist=DynamoBlocklist(table),
        metrics=DynamoMetrics(table),
        consent_texts=DynamoConsentTexts(table),
    )


def stores_of(settings: FunctionSettings) -> Stores:
    return stores(settings.table_name, settings.aws_region)


@functools.cache
def cached_breakers(table_name: str, region: str) -> BreakerSource:
    from sms_consent.adapters.breaker_cache import CachedBreakers

    return CachedBreakers(stores(table_name, region).breakers)


@functools.cache
def event_sink(bus_name: str, region: str) -> EventSink:
    from sms_consent.adapters.aws import client
    from sms_consent.adapters.event_bus import EventBridgeSink

    return EventBridgeSink(client("events", region), bus_name)


@functools.cache
def outbound_requests(topic_arn: str, region: str) -> OutboundRequests:
    from sms_consent.adapters.aws import client
    from sms_consent.adapters.outbound_topic import SnsOutboundRequests

    return SnsOutboundRequests(client("sns", region), topic_arn)


def events_of(settings: FunctionSettings) -> EventSink:
    return event_sink(settings.event_bus_name, settings.aws_region)


# ---------------------------------------------------------------------- each function's dependencies


@functools.cache
def inbound_deps() -> InboundDeps:
    from sms_consent.inbound import InboundDeps, keyword_sets_of
    from sms_consent.repository.hygiene import DynamoEngagementLog

    settings = inbound_settings()
    config = program_config(settings.program_config)
    found = stores_of(settings)
    return InboundDeps(
        config=config,
        store=found.numbers,
        outbound=outbound_requests(settings.outbound_topic_arn, settings.aws_region),
        events=events_of(settings),
        clock=_clock,
        keyword_sets=keyword_sets_of(config),
        engagement=DynamoEngagementLog(found.numbers.table),
    )


@functools.cache
def hygiene_deps() -> HygieneDeps:
    from sms_consent.list_hygiene import HygieneDeps
    from sms_consent.repository.hygiene import DynamoHygieneIndex, DynamoHygieneLog

    settings = list_hygiene_settings()
    found = stores_of(settings)
    return HygieneDeps(
        config=program_config(settings.program_config),
        store=found.numbers,
        index=DynamoHygieneIndex(found.numbers.table),
        log=DynamoHygieneLog(found.numbers.table),
        outbound=outbound_requests(settings.outbound_topic_arn, settings.aws_region),
    )


@functools.cache
def reassigned_numbers(path: Path | None) -> ReassignedNumbers | None:
    """The Reassigned Numbers Database behind a per-process cache: the local file, or none at all (no
    adapter for the FCC's real database is built yet)."""
    if path is None:
        return None
    from sms_consent.adapters.reassigned_numbers import CachedReassignedNumbers, LocalReassignedNumbers

    return CachedReassignedNumbers(LocalReassignedNumbers(path), clock=_clock)


def _gate_readers(settings: SendGateSettings | AdminApiSettings) -> GateReaders:
    from datetime import timedelta

    from sms_consent.adapters.aws import client
    from sms_consent.adapters.media import S3MediaInspector, S3MediaLinks
    from sms_consent.send_gate import GateReaders

    return GateReaders(
        config=program_config(settings.program_config),
        store=stores_of(settings).numbers,
        breakers=cached_breakers(settings.table_name, settings.aws_region),
        media=S3MediaInspector(client("s3", settings.aws_region)),
        clock=_clock,
        links=S3MediaLinks(
            settings.aws_region,
            domain=settings.media_link_domain,
            ttl_seconds=settings.media_link_ttl_seconds,
        ),
        reassigned=reassigned_numbers(settings.reassigned_numbers_file),
        reassigned_check_after=timedelta(days=settings.reassigned_check_after_days),
    )


@functools.cache
def gate_deps() -> GateDeps:
    """Everything the send gate needs to decide, send, defer and count."""
    from sms_consent.adapters.aws import client
    from sms_consent.adapters.deferral import QueueOrScheduleDeferrals
    from sms_consent.adapters.senders import build_sender
    from sms_consent.send_gate import GateDeps

    settings = send_gate_settings()
    readers = _gate_readers(settings)
    return GateDeps(
        config=readers.config,
        store=stores_of(settings).numbers,
        breakers=readers.breakers,
        media=readers.media,
        clock=readers.clock,
        links=readers.links,
        reassigned=readers.reassigned,
        reassigned_check_after=readers.reassigned_check_after,
        sender=build_sender(
            settings.sender_adapter,
            region=settings.aws_region,
            outbox_path=settings.outbox_path,
            configuration_set=settings.configuration_set_name,
            protect_configuration_id=settings.protect_configuration_id,
        ),
        events=events_of(settings),
        deferrals=QueueOrScheduleDeferrals(
            client("sqs", settings.aws_region),
            client("scheduler", settings.aws_region),
            queue_url=settings.deferred_send_queue_url,
            topic_arn=settings.outbound_topic_arn,
            role_arn=settings.scheduler_role_arn,
        ),
    )


@functools.cache
def signup_deps() -> SignupDeps:
    """Everything POST /v1/optins needs: the CAPTCHA, rate limits and breakers besides the usual ports."""
    from sms_consent.adapters.captcha import build_captcha
    from sms_consent.pumping import InlineDeps
    from sms_consent.repository.held_prompts import DynamoHeldPrompts
    from sms_consent.signup import RateLimitPolicy, SignupDeps

    settings = optin_api_settings()
    config = program_config(settings.program_config)
    return SignupDeps(
        config=config,
        store=stores_of(settings).numbers,
        outbound=outbound_requests(settings.outbound_topic_arn, settings.aws_region),
        captcha=build_captcha(
            settings.captcha_provider,
            secret_parameter=settings.captcha_secret_parameter,
            secret_arn=settings.captcha_secret_arn,
            region=settings.aws_region,
        ),
        texts=stores_of(settings).consent_texts,
        limiter=stores_of(settings).rate_limits,
        breakers=cached_breakers(settings.table_name, settings.aws_region),
        clock=_clock,
        policy=RateLimitPolicy(config.optin_limits),
        captcha_hostnames=settings.expected_captcha_hostnames,
        inline=InlineDeps(
            counters=stores_of(settings).counters,
            breakers=stores_of(settings).breakers,
            events=events_of(settings),
            config=pumping_config(config, settings.pumping_mode),
            home_countries=home_countries(config),
            held=DynamoHeldPrompts(stores_of(settings).numbers.table),
        ),
    )


@dataclass(frozen=True)
class AdminDeps:
    """What the back-office routes need: number, profile, blocklist, metrics and gate-check routes."""

    config: ProgramConfig
    stores: Stores
    subscriptions: SubscriptionDeps
    profiles: ProfileDeps
    gate: GateReaders


@functools.cache
def admin_deps() -> AdminDeps:
    from sms_consent.profiles import ProfileDeps
    from sms_consent.subscriptions import SubscriptionDeps

    settings = admin_api_settings()
    config = program_config(settings.program_config)
    found = stores_of(settings)
    return AdminDeps(
        config=config,
        stores=found,
        subscriptions=SubscriptionDeps(
            config=config,
            store=found.numbers,
            outbound=outbound_requests(settings.outbound_topic_arn, settings.aws_region),
            clock=_clock,
        ),
        profiles=ProfileDeps(store=found.numbers, profiles=found.profiles, clock=_clock),
        gate=_gate_readers(settings),
    )


def pumping_config(programs: ProgramConfig, stack_mode: str) -> PumpingConfig:
    if stack_mode == "record_only":  # the stack parameter can only make it more cautious
        return programs.pumping.model_copy(update={"mode": "record_only"})
    return programs.pumping


def home_countries(programs: ProgramConfig) -> frozenset[str]:
    """The countries the programs allow, and the default region: never a "new destination"."""
    allowed = frozenset(country for program in programs.programs.values() for country in program.allowed_countries)
    return allowed | {programs.default_region}


@functools.cache
def detector_deps() -> DetectorDeps:
    from sms_consent.adapters.protect_configuration import build_protect_rules
    from sms_consent.pumping import DetectorDeps

    settings = pumping_detector_settings()
    programs = program_config(settings.program_config)
    found = stores_of(settings)
    return DetectorDeps(
        counters=found.counters,
        breakers=found.breakers,
        events=events_of(settings),
        config=pumping_config(programs, settings.pumping_mode),
        home_countries=home_countries(programs),
        protect=build_protect_rules(settings.protect_configuration_id, settings.aws_region),
    )


@functools.cache
def provider_opt_out_list() -> ProviderOptOutList:
    from sms_consent.adapters.opt_out_lists import build_opt_out_list

    settings = provider_sync_settings()
    return build_opt_out_list(
        settings.sender_adapter,
        region=settings.aws_region,
        list_name=settings.opt_out_list_name,
        local_path=settings.local_opt_out_list,
    )


@functools.cache
def provider_sync_deps() -> SyncDeps:
    from sms_consent.provider_opt_outs import SyncDeps
    from sms_consent.repository.sync_checkpoint import DynamoSyncCheckpoint

    settings = provider_sync_settings()
    found = stores_of(settings)
    return SyncDeps(
        config=program_config(settings.program_config),
        store=found.numbers,
        provider=provider_opt_out_list(),
        checkpoint=DynamoSyncCheckpoint(found.numbers.table, f"provider-opt-outs#{settings.sender_adapter}"),
        clock=_clock,
    )


@dataclass(frozen=True)
class BlocklistFiles:
    """The blocklist's large files: the bucket and queue they go through, and their jobs' items."""

    bucket: str
    queue_url: str
    s3: Any
    sqs: Any
    imports: DynamoImportJobs
    exports: DynamoExportJobs


@functools.cache
def blocklist_files(bucket: str, queue_url: str, table_name: str, region: str) -> BlocklistFiles:
    from sms_consent.adapters.aws import client
    from sms_consent.repository.blocklist_imports import DynamoExportJobs, DynamoImportJobs

    table = stores(table_name, region).numbers.table
    return BlocklistFiles(
        bucket=bucket,
        queue_url=queue_url,
        s3=client("s3", region),
        sqs=client("sqs", region),
        imports=DynamoImportJobs(table),
        exports=DynamoExportJobs(table),
    )


def blocklist_files_of(settings: AdminApiSettings | BlocklistFilesSettings) -> BlocklistFiles:
    return blocklist_files(
        settings.blocklist_bucket_name, settings.blocklist_queue_url, settings.table_name, settings.aws_region
    )


@functools.cache
def import_deps() -> ImportDeps:
    from sms_consent.adapters.blocklist_files import S3UploadedFiles
    from sms_consent.blocklist_import import ImportDeps

    settings = blocklist_files_settings()
    files = blocklist_files_of(settings)
    return ImportDeps(
        jobs=files.imports,
        files=S3UploadedFiles(files.s3, files.bucket),
        store=stores_of(settings).numbers,
        default_region=program_config(settings.program_config).default_region,
        clock=_clock,
        requeue=lambda import_id: files.sqs.send_message(
            QueueUrl=files.queue_url, MessageBody=json.dumps({"import_id": import_id})
        ),
    )


@functools.cache
def export_deps() -> ExportDeps:
    from sms_consent.adapters.blocklist_files import upload_csv
    from sms_consent.blocklist_export import ExportDeps

    settings = blocklist_files_settings()
    files = blocklist_files_of(settings)
    return ExportDeps(
        jobs=files.exports,
        entries=stores_of(settings).blocklist,
        upload=functools.partial(upload_csv, files.s3, files.bucket),
        clock=_clock,
    )


@functools.cache
def feed_deps() -> FeedDeps:
    from sms_consent.consent_feed import FeedDeps
    from sms_consent.repository.feed_ledger import DynamoFeedLedger

    settings = consent_feed_settings()
    # The table the other stores use: one connection per table in the process.
    ledger = DynamoFeedLedger(stores_of(settings).numbers.table)
    return FeedDeps(events=events_of(settings), ledger=ledger, releases=release_deps)


@functools.cache
def release_deps() -> ReleaseDeps:
    """What the consent feed needs to release held prompts: built on its first batch with a confirmation."""
    from sms_consent.prompt_holds import ReleaseDeps
    from sms_consent.repository.held_prompts import DynamoHeldPrompts

    settings = consent_feed_settings()
    config = program_config(settings.program_config)
    found = stores_of(settings)
    return ReleaseDeps(
        counters=found.counters,
        held=DynamoHeldPrompts(found.numbers.table),
        store=found.numbers,
        outbound=outbound_requests(settings.outbound_topic_arn, settings.aws_region),
        programs=config,
        config=config.pumping,
        clock=_clock,
        breakers=cached_breakers(settings.table_name, settings.aws_region),
    )


def reset() -> None:
    """Forget everything built so far (tests switch environments between cases)."""
    from sms_consent.adapters.aws import client, sending_client

    for cached in (
        inbound_settings,
        send_gate_settings,
        optin_api_settings,
        admin_api_settings,
        pumping_detector_settings,
        consent_feed_settings,
        provider_sync_settings,
        list_hygiene_settings,
        hygiene_deps,
        blocklist_files_settings,
        blocklist_files,
        import_deps,
        export_deps,
        program_config,
        stores,
        cached_breakers,
        event_sink,
        outbound_requests,
        inbound_deps,
        gate_deps,
        signup_deps,
        admin_deps,
        detector_deps,
        feed_deps,
        provider_opt_out_list,
        provider_sync_deps,
        reassigned_numbers,
        client,
        sending_client,
    ):
        cached.cache_clear()
