"""Breakers pushed to End User Messaging SMS's protect configuration: the request shapes (botocore's
Stubber; moto lacks the service), and the detector on moto's table telling the configuration once per
change: a country blocked while its breaker is open and allowed again once it closes, a prefix's
attacked numbers blocked until the breaker's expiry, a refused push tried again on the next tick.
The IAM grant exists only when a protect configuration is set."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from sms_consent import protect_rules, pumping, wiring
from sms_consent.adapters.protect_configuration import EndUserMessagingProtectRules, build_protect_rules
from sms_consent.breakers import Trip
from sms_consent.phones import parse
from sms_consent_local.iam_policies import Call, disallowed, function_policies
from sms_consent_local.template import load_template
from tests.conftest import ROOT, AwsStack, stores
from tests.integration.test_pumping_detector import NOON, TICK

PROTECT_ID = "protect-0123456789abcdef0123456789abcdef"
PROTECT_ARN = f"arn:aws:sms-voice:us-east-1:123456789012:protect-configuration/{PROTECT_ID}"


@pytest.fixture
def eum_client() -> Any:
    return boto3.client(
        "pinpoint-sms-voice-v2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def test_country_rules_and_number_overrides_have_the_documented_shapes(eum_client: Any) -> None:
    rules = EndUserMessagingProtectRules(eum_client, PROTECT_ID)
    until = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    with Stubber(eum_client) as stub:
        for status in ("BLOCK", "ALLOW"):
            for capability in ("SMS", "MMS"):
                stub.add_response(
                    "update_protect_configuration_country_rule_set",
                    {
                        "ProtectConfigurationArn": PROTECT_ARN,
                        "ProtectConfigurationId": PROTECT_ID,
                        "NumberCapability": capability,
                        "CountryRuleSet": {"LV": {"ProtectStatus": status}},
                    },
                    {
                        "ProtectConfigurationId": PROTECT_ID,
                        "NumberCapability": capability,
                        "CountryRuleSetUpdates": {"LV": {"ProtectStatus": status}},
                    },
                )
        stub.add_response(
            "put_protect_configuration_rule_set_number_override",
            {
                "ProtectConfigurationArn": PROTECT_ARN,
                "ProtectConfigurationId": PROTECT_ID,
                "DestinationPhoneNumber": "+14155550101",
                "CreatedTimestamp": until,
                "Action": "BLOCK",
                "ExpirationTimestamp": until,
            },
            {
                "ProtectConfigurationId": PROTECT_ID,
                "DestinationPhoneNumber": "+14155550101",
                "Action": "BLOCK",
                "ExpirationTimestamp": until,
                "ClientToken": stub_any(),
            },
        )
        rules.block_country("LV")
        rules.allow_country("LV")
        rules.block_numbers(["+14155550101"], until)
        stub.assert_no_pending_responses()
    assert build_protect_rules("", "us-east-1") is None  # nothing to push to


def stub_any() -> Any:
    from botocore.stub import ANY

    return ANY


class Recorder:
    """A protect configuration that records what it is told (the port; the adapter is tested above)."""

    def __init__(self, refuse: int = 0) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse = refuse

    def _record(self, name: str, value: Any) -> None:
        if self.refuse > 0:
            self.refuse -= 1
            raise RuntimeError("injected: the provider refused")
        self.calls.append((name, value))

    def block_country(self, country: str) -> None:
        self._record("block_country", country)

    def allow_country(self, country: str) -> None:
        self._record("allow_country", country)

    def block_numbers(self, phones: Sequence[str], until: datetime) -> None:
        self._record("block_numbers", (tuple(phones), until))


def _tick(now: datetime, protect: Recorder) -> pumping.Detection:
    events = wiring.events_of(wiring.inbound_settings())
    config = pumping.PumpingConfig()
    home = frozenset({"US"})  # as the sample programs: the home country is never "new"
    return pumping.run_tick(stores().counters, stores().breakers, events, config, now, home, protect=protect)


def test_a_prefix_breaker_blocks_its_attacked_numbers_until_it_expires(aws_stack: AwsStack) -> None:
    for suffix in range(100, 108):  # a sequential sweep of one 1k block
        stores().counters.record_prompt(parse(f"+14155550{suffix}"), "198.51.100.7", NOON)
    protect = Recorder()

    _tick(TICK, protect)
    _tick(TICK + timedelta(minutes=5), protect)  # nothing changed: nothing told again

    ((name, (phones, until)),) = protect.calls
    breaker = stores().breakers.all_breakers()[("prefix", "+14155550")]
    assert name == "block_numbers"
    assert phones == tuple(f"+14155550{suffix}" for suffix in range(100, 108))
    assert until == breaker.expires_at
    assert breaker.protect == protect_rules.BLOCKED


def test_a_drip_into_the_programs_country_opens_a_watch_not_told_to_the_provider(aws_stack: AwsStack) -> None:
    """Four weeks of US history converting at 45%; then 30 prompts in ten minutes (a drip: 15 per five
    minutes), none confirmed. The detector opens a watch on the US (its sign-ups wait for
    confirmations), never a breaker, and never blocks the country at the provider: consented traffic
    there goes on."""
    slot = pumping.slot_of_week(pumping.bucket_start(NOON))
    stores().counters.seed_baseline("country", "US", {slot: (2, 3, 2, 2)}, prompts=4000, confirmations=1800)
    codes = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212)
    for index in range(30):
        number = f"+1{codes[index % 10]}201{1000 + index * 13:04d}"
        at = NOON - pumping.BUCKET * (index % 2)  # 15 in each of the last two buckets: below a spike
        stores().counters.record_prompt(parse(number), f"198.18.0.{index}", at)
    protect = Recorder()

    detection = _tick(TICK, protect)

    assert [(t.rule, t.dimension, t.key) for t in detection.watches_to_open] == [
        ("conversion_collapse", "country", "US")
    ]
    assert detection.breakers_to_open == ()
    watch = stores().breakers.all_breakers()[("country", "US")]
    assert (watch.watch, watch.expires_at) == (True, TICK + timedelta(minutes=30))
    assert protect.calls == []
    assert pumping.half_open(stores().breakers.all_breakers(), TICK, pumping.PumpingConfig()) == {("country", "US")}

    # The drip goes on and the half-open trickle converts no better: the same attack, not a new one.
    later = NOON + 3 * pumping.BUCKET
    for index in range(30):
        at = later - pumping.BUCKET * (index % 2)
        stores().counters.record_prompt(parse(f"+1{codes[index % 10]}202{1000 + index * 13:04d}"), None, at)
    again = _tick(later + pumping.BUCKET + timedelta(seconds=5), protect)
    assert [t.key for t in again.watches_to_open] == ["US"]  # reported again ...
    assert stores().breakers.all_breakers()[("country", "US")] == watch  # ... neither escalated nor lengthened


def test_a_country_is_blocked_while_its_breaker_is_open_and_allowed_once_it_closes(aws_stack: AwsStack) -> None:
    stores().breakers.open_breaker(Trip("new_destination", "country", "LV", {}, {}), now=NOON, previous=None)
    protect = Recorder(refuse=1)

    _tick(NOON + timedelta(minutes=1), protect)  # the provider refuses: tried again next tick
    _tick(NOON + timedelta(minutes=6), protect)
    _tick(NOON + timedelta(minutes=31), protect)  # the 30-minute breaker has closed
    _tick(NOON + timedelta(minutes=36), protect)

    assert protect.calls == [("block_country", "LV"), ("allow_country", "LV")]
    assert stores().breakers.all_breakers()[("country", "LV")].protect == protect_rules.RELEASED


def test_the_detector_may_push_only_to_the_configured_protect_configuration(aws_stack: AwsStack) -> None:
    push = Call("PumpingDetectorFunction", "sms-voice:UpdateProtectConfigurationCountryRuleSet", PROTECT_ARN)
    other = Call("PumpingDetectorFunction", "sms-voice:PutProtectConfigurationRuleSetNumberOverride", PROTECT_ARN + "x")
    configured = load_template(ROOT / "template.yaml", parameter_overrides={"ProtectConfigurationId": PROTECT_ID})

    assert disallowed([push], function_policies(aws_stack.runner.template, aws_stack.resources)) == [push]
    assert disallowed([push, other], function_policies(configured, aws_stack.resources)) == [other]
