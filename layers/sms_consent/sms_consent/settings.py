"""Settings: one validated model per function, read once from the environment at cold start.

Each function reads only the variables it uses, and those it cannot work without are required: a
function deployed without one fails at cold start with a message that names the variable, instead of
failing on its first request (or, worse, working half). Domain code never reads the environment;
`wiring` builds each function's dependencies from its own model.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_PROGRAM_CONFIG = Path(__file__).parent / "config" / "programs.yaml"
SNS_TOPIC_ARN = r"^arn:aws[\w-]*:sns:"
# Media links for recipients that cannot take MMS: a host name (optionally with a path) in front of the
# media bucket, else presigned URLs; 7 days is the longest a presigned URL can live.
MEDIA_LINK_DOMAIN = r"^([A-Za-z0-9.-]+(/[A-Za-z0-9._~/-]*)?)?$"
MEDIA_LINK_TTL = 7 * 24 * 3600
# Marketing to consent older than this asks the Reassigned Numbers Database; 45 days is the least a
# provider must age a disconnected number before reassigning it (FCC 18-177).
REASSIGNED_CHECK_AFTER_DAYS = 45


class SettingsError(RuntimeError):
    """The environment is incomplete or wrong; the message names the variable."""


class FunctionSettings(BaseModel):
    """What every function needs: the table, the event bus, the region and the program configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table_name: str = Field(min_length=3, max_length=255)
    event_bus_name: str = Field(min_length=1, max_length=256)
    aws_region: str = "us-east-1"
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    program_config: Path = DEFAULT_PROGRAM_CONFIG

    @field_validator("program_config")
    @classmethod
    def _config_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"program configuration file not found: {value}")
        return value

    @classmethod
    def variable(cls, field: str) -> str:
        return "AWS_REGION" if field == "aws_region" else field.upper()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """This model's variables from the environment (empty ones take the default); SettingsError
        names every variable that is missing or wrong."""
        env = os.environ if environ is None else environ
        raw = {field: env[cls.variable(field)] for field in cls.model_fields if env.get(cls.variable(field), "")}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                (f"{cls.variable(str(err['loc'][0]))}: " if err["loc"] else "")
                + ("missing (required by this function)" if err["type"] == "missing" else err["msg"])
                for err in exc.errors()
            )
            raise SettingsError(f"invalid settings for {cls.__name__}: {problems}") from None


class InboundSettings(FunctionSettings):
    """InboundSmsFunction: replies go to the outbound topic."""

    outbound_topic_arn: str = Field(pattern=SNS_TOPIC_ARN)


class SendGateSettings(FunctionSettings):
    """SendGateFunction: the SMS sender, MMS media, and deferrals by queue or one-time schedule."""

    outbound_topic_arn: str = Field(pattern=SNS_TOPIC_ARN)  # where one-time schedules send deferred requests
    deferred_send_queue_url: str = Field(min_length=1)
    scheduler_role_arn: str = Field(pattern=r"^arn:aws[\w-]*:iam::")
    sender_adapter: Literal["eum", "sns", "outbox"] = "eum"
    outbox_path: Path = Path(".local/outbox.jsonl")
    configuration_set_name: str = ""
    protect_configuration_id: str = ""
    media_bucket_name: str = ""
    media_link_domain: str = Field(default="", max_length=253, pattern=MEDIA_LINK_DOMAIN)
    media_link_ttl_seconds: int = Field(default=MEDIA_LINK_TTL, ge=60, le=MEDIA_LINK_TTL)
    # The Reassigned Numbers Database's local stand-in (JSON lines); unset: no database is asked.
    reassigned_numbers_file: Path | None = None
    reassigned_check_after_days: int = Field(default=REASSIGNED_CHECK_AFTER_DAYS, ge=0, le=3650)


class OptinApiSettings(FunctionSettings):
    """OptinApiFunction: the public sign-up route, its CAPTCHA and CORS origin."""

    outbound_topic_arn: str = Field(pattern=SNS_TOPIC_ARN)
    allowed_origin: str = Field(default="*", min_length=1, max_length=256)
    captcha_provider: Literal["turnstile", "hcaptcha", "recaptcha", "local"] = "turnstile"
    captcha_secret_parameter: str = ""
    captcha_secret_arn: str = Field(default="", pattern=r"^(arn:aws[\w-]*:secretsmanager:.+)?$")
    # Sites whose solved CAPTCHAs count, comma-separated; empty: the host of ALLOWED_ORIGIN, if not *.
    captcha_hostnames: str = Field(default="", max_length=1024, pattern=r"^[A-Za-z0-9.,: -]*$")
    pumping_mode: Literal["enforce", "record_only"] = "enforce"  # inline scoring holds prompts only in enforce

    @property
    def expected_captcha_hostnames(self) -> frozenset[str]:
        """The hostnames a CAPTCHA must have been solved on; empty means any (an open CORS origin)."""
        listed = {name.strip().lower() for name in self.captcha_hostnames.split(",") if name.strip()}
        if listed:
            return frozenset(listed)
        if self.allowed_origin == "*":
            return frozenset()
        host = urllib.parse.urlsplit(self.allowed_origin).hostname
        return frozenset({host.lower()}) if host else frozenset()

    @model_validator(mode="after")
    def _captcha_has_a_secret(self) -> Self:
        if self.captcha_provider != "local" and not (self.captcha_secret_parameter or self.captcha_secret_arn):
            raise ValueError(f"CAPTCHA_SECRET_PARAMETER or CAPTCHA_SECRET_ARN: {self.captcha_provider} needs a secret")
        return self


class AdminApiSettings(FunctionSettings):
    """AdminApiFunction: status changes send prompts through the outbound topic; large blocklist
    files go through the blocklist bucket and queue."""

    outbound_topic_arn: str = Field(pattern=SNS_TOPIC_ARN)
    allowed_origin: str = Field(default="*", min_length=1, max_length=256)
    blocklist_bucket_name: str = Field(min_length=3, max_length=63)
    blocklist_queue_url: str = Field(min_length=1)
    # The gate check makes the same media links as the gate, to fit them into the segments it reports.
    media_link_domain: str = Field(default="", max_length=253, pattern=MEDIA_LINK_DOMAIN)
    media_link_ttl_seconds: int = Field(default=MEDIA_LINK_TTL, ge=60, le=MEDIA_LINK_TTL)
    # The Reassigned Numbers Database's local stand-in (JSON lines); unset: no database is asked.
    reassigned_numbers_file: Path | None = None
    reassigned_check_after_days: int = Field(default=REASSIGNED_CHECK_AFTER_DAYS, ge=0, le=3650)


class BlocklistFilesSettings(FunctionSettings):
    """BlocklistFilesFunction: imports uploaded files and writes exports, in the blocklist bucket; its
    queue carries S3's notifications, continuations of long imports and export requests."""

    blocklist_bucket_name: str = Field(min_length=3, max_length=63)
    blocklist_queue_url: str = Field(min_length=1)


class PumpingDetectorSettings(FunctionSettings):
    """PumpingDetectorFunction: the stack parameter can only make the configured mode more cautious."""

    pumping_mode: Literal["enforce", "record_only"] = "enforce"
    protect_configuration_id: str = ""  # End User Messaging SMS: breakers are pushed to it when set


class ListHygieneSettings(FunctionSettings):
    """ListHygieneFunction: reminders go to the outbound topic (through the gate)."""

    outbound_topic_arn: str = Field(pattern=SNS_TOPIC_ARN)


class ProviderSyncSettings(FunctionSettings):
    """ProviderSyncFunction: the provider whose opt-out list mirrors ours (the send gate's sender)."""

    sender_adapter: Literal["eum", "sns", "outbox"] = "eum"
    opt_out_list_name: str = Field(default="Default", min_length=1, max_length=256)
    outbox_path: Path = Path(".local/outbox.jsonl")  # the local list lives beside it

    @property
    def local_opt_out_list(self) -> Path:
        return self.outbox_path.parent / "provider_opt_outs.jsonl"


class ConsentFeedSettings(FunctionSettings):
    """ConsentFeedFunction: reads the table's stream, writes the metrics and puts events on the bus;
    confirmations release held prompts to the outbound topic."""

    outbound_topic_arn: str = Field(pattern=SNS_TOPIC_ARN)
