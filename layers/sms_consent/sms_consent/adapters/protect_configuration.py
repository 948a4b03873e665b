"""The ProtectRules port: End User Messaging SMS's protect configuration."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sms_consent.ports import ProtectRules

# Breakers stop text messages; MMS goes through the same destinations.
CAPABILITIES = ("SMS", "MMS")


class EndUserMessagingProtectRules:
    def __init__(self, client: Any, protect_configuration_id: str) -> None:
        self._client = client
        self._id = protect_configuration_id

    def _country(self, country: str, status: str) -> None:
        for capability in CAPABILITIES:
            self._client.update_protect_configuration_country_rule_set(
                ProtectConfigurationId=self._id,
                NumberCapability=capability,
                CountryRuleSetUpdates={country: {"ProtectStatus": status}},
            )

    def block_country(self, country: str) -> None:
        self._country(country, "BLOCK")

    def allow_country(self, country: str) -> None:
        self._country(country, "ALLOW")

    def block_numbers(self, phones: Sequence[str], until: datetime) -> None:
        for phone in phones:
            # The same override pushed again (a retried tick) is the same request.
            token = hashlib.sha256(f"{phone}|{until.isoformat()}".encode()).hexdigest()[:64]
            self._client.put_protect_configuration_rule_set_number_override(
                ProtectConfigurationId=self._id,
                DestinationPhoneNumber=phone,
                Action="BLOCK",
                ExpirationTimestamp=until,
                ClientToken=token,
            )


def build_protect_rules(protect_configuration_id: str, region: str) -> ProtectRules | None:
    """None where no protect configuration is set (and on the local stack): the gate is the only stop."""
    if not protect_configuration_id:
        return None
    from sms_consent.adapters.aws import client

    return EndUserMessagingProtectRules(client("pinpoint-sms-voice-v2", region), protect_configuration_id)
