"""Settings: read once from the environment at cold start, validated, then passed in.

Domain code never reads the environment; handlers call `Settings.from_env()` once at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

DEFAULT_PROGRAM_CONFIG = Path(__file__).parent / "config" / "programs.yaml"


class SettingsError(RuntimeError):
    """The environment is incomplete or wrong; the message names the variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    table_name: str = Field(min_length=3, max_length=255)
    outbound_topic_arn: str = Field(pattern=r"^arn:aws[\w-]*:sns:")
    event_bus_name: str = Field(min_length=1, max_length=256)
    aws_region: str = "us-east-1"
    default_region: str = Field(default="US", pattern=r"^[A-Z]{2}$")
    program_config: Path = DEFAULT_PROGRAM_CONFIG
    sender_adapter: Literal["eum", "sns", "outbox"] = "eum"
    outbox_path: Path = Path(".local/outbox.jsonl")
    configuration_set_name: str = ""
    protect_configuration_id: str = ""
    media_bucket_name: str = ""
    captcha_provider: Literal["turnstile", "hcaptcha", "recaptcha", "local"] = "turnstile"
    captcha_secret_parameter: str = ""
    captcha_secret_arn: str = Field(default="", pattern=r"^(arn:aws[\w-]*:secretsmanager:.+)?$")
    pumping_mode: Literal["enforce", "record_only"] = "enforce"
    allowed_origin: str = Field(default="*", min_length=1, max_length=256)
    deferred_send_queue_url: str = ""
    scheduler_role_arn: str = ""

    @field_validator("program_config")
    @classmethod
    def _config_exists(cls, value: Path) -> Path:
        if not value.is_file():
            raise ValueError(f"program configuration file not found: {value}")
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        names = {name: name.upper() for name in cls.model_fields}
        names["aws_region"] = "AWS_REGION"
        raw = {field: env[var] for field, var in names.items() if env.get(var, "") != ""}
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{names.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else '?'}: {err['msg']}"
                for err in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from None
