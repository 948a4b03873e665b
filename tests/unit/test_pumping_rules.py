"""Every detector rule at its threshold and its floor; escalation; allow-list; record_only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sms_consent.breakers import Breaker, blocking, escalated_duration
from sms_consent.phones import parse
from sms_consent.ports import Baseline, KeyCounts
from sms_consent.pumping import (
    PumpingConfig,
    bucket_start,
    conversion_collapse,
    detect,
    ip_fanout,
    longest_run,
    new_destination,
    range_sweep,
    score_prompt,
    slot_of_week,
    volume_spike,
)

CONFIG = PumpingConfig()
HISTORY = Baseline(same_slot_prompts=(10, 12, 9, 11), total_prompts=5000, total_confirmations=2000)


def country(prompts: int, confirmations: int = 0, key: str = "US") -> KeyCounts:
    return KeyCounts("country", key, prompts, confirmations)


def test_volume_spike_threshold_and_floor() -> None:
    # median 10.5, MAD 1 -> threshold max(20, 42, 16.5) = 42
    assert volume_spike(country(42), HISTORY, CONFIG) is None
    trip = volume_spike(country(43), HISTORY, CONFIG)
    assert trip is not None
    assert trip.rule == "volume_spike"
    assert trip.baseline["median"] == 10.5
    quiet = Baseline(same_slot_prompts=(1, 0, 1, 0), total_prompts=100)
    assert volume_spike(country(19), quiet, CONFIG) is None  # below the floor whatever the ratio
    assert volume_spike(country(20), quiet, CONFIG) is None  # at the floor: the floor must be exceeded
    assert volume_spike(country(21), quiet, CONFIG) is not None


def test_volume_spike_without_history_uses_the_absolute_floor() -> None:
    assert volume_spike(country(59), Baseline(), CONFIG) is None
    assert volume_spike(country(60), Baseline(), CONFIG) is not None


def test_conversion_collapse() -> None:
    # usual conversion 40%: collapse below 10%
    assert conversion_collapse(country(100, 10), HISTORY, CONFIG) is None
    trip = conversion_collapse(country(100, 9), HISTORY, CONFIG)
    assert trip is not None
    assert trip.figures["conversion"] == 0.09
    assert conversion_collapse(country(24, 0), HISTORY, CONFIG) is None  # floor
    thin = Baseline(total_prompts=199, total_confirmations=80)
    assert conversion_collapse(country(100, 0), thin, CONFIG) is None  # baseline too thin to judge


def test_new_destination() -> None:
    assert new_destination(country(7, key="LV"), Baseline(), CONFIG) is None
    assert new_destination(country(8, key="LV"), Baseline(), CONFIG) is not None
    assert new_destination(country(8, key="LV"), Baseline(total_prompts=1), CONFIG) is None


def test_range_sweep() -> None:
    sweep = KeyCounts("prefix", "+3712000", 6, suffixes=frozenset({"100", "101", "102", "103", "104", "250"}))
    assert range_sweep(sweep, CONFIG) is not None
    scattered = KeyCounts("prefix", "+3712000", 6, suffixes=frozenset({"100", "101", "102", "103", "300", "250"}))
    assert range_sweep(scattered, CONFIG) is None  # run of 4 < 5
    few = KeyCounts("prefix", "+3712000", 5, suffixes=frozenset({"100", "101", "102", "103", "104"}))
    assert range_sweep(few, CONFIG) is None  # 5 distinct < 6
    assert longest_run(frozenset({"009", "010", "011"})) == 3


def test_ip_fanout() -> None:
    numbers = frozenset(f"+1415555{i:04d}" for i in range(7))
    assert ip_fanout(KeyCounts("ip", "198.51.100.7", 7, numbers=numbers, countries=frozenset({"US"})), CONFIG) is None
    more = numbers | {"+14155559999"}
    assert ip_fanout(KeyCounts("ip", "198.51.100.7", 8, numbers=more, countries=frozenset({"US"})), CONFIG) is not None
    spread = KeyCounts(
        "ip", "198.51.100.7", 3, numbers=frozenset({"a", "b", "c"}), countries=frozenset({"US", "LV", "GB"})
    )
    assert ip_fanout(spread, CONFIG) is not None


def test_detect_allow_list_and_record_only() -> None:
    latest = {("country", "LV"): country(200, key="LV")}
    assert [t.rule for t in detect(latest, {}, {}, CONFIG).trips] == ["new_destination"]
    assert detect(latest, {}, {}, CONFIG).breakers_to_open
    allowed = PumpingConfig(allow_countries=("LV",))
    assert detect(latest, {}, {}, allowed).trips == ()
    recording = PumpingConfig(mode="record_only")
    detection = detect(latest, {}, {}, recording)
    assert detection.trips
    assert detection.breakers_to_open == ()


def test_escalation() -> None:
    assert escalated_duration(1) == timedelta(minutes=30)
    assert escalated_duration(2) == timedelta(hours=2)
    assert escalated_duration(3) == timedelta(hours=12)
    assert escalated_duration(9) == timedelta(hours=12)


def test_breaker_covers_country_and_prefix() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    phone = parse("+33612345678")
    open_ = {("country", "FR"): Breaker("country", "FR", "r", now, now + timedelta(minutes=30))}
    assert blocking(phone, open_) is not None
    assert blocking(parse("+14155550123"), open_) is None
    prefix = {("prefix", phone.prefix): Breaker("prefix", phone.prefix, "r", now, now + timedelta(minutes=30))}
    assert blocking(phone, prefix) is not None


def test_buckets_and_slots() -> None:
    moment = datetime(2026, 11, 23, 12, 7, 30, tzinfo=UTC)  # a Monday
    assert bucket_start(moment) == datetime(2026, 11, 23, 12, 5, tzinfo=UTC)
    assert slot_of_week(bucket_start(moment)) == (12 * 60 + 5) // 5
    assert slot_of_week(datetime(2026, 11, 29, 23, 55, tzinfo=UTC)) == 2015


@pytest.mark.parametrize("bad", [{"spike_factor": 1}, {"mode": "panic"}, {"unknown": 1}])
def test_config_is_strict(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        PumpingConfig.model_validate(bad)


def test_a_campaign_spike_that_converts_is_left_alone() -> None:
    spike = {("country", "US"): country(60, confirmations=20)}  # 33% vs the usual 40%
    assert detect(spike, {}, {("country", "US"): HISTORY}, CONFIG).trips == ()
    pumped = {("country", "US"): country(60, confirmations=2)}
    assert [t.rule for t in detect(pumped, {}, {("country", "US"): HISTORY}, CONFIG).trips] == ["volume_spike"]


def test_a_country_the_programs_send_to_is_never_new() -> None:
    home = frozenset({"US", "CA"})
    assert new_destination(country(500, key="US"), Baseline(), CONFIG, home) is None
    assert new_destination(country(8, key="LV"), Baseline(), CONFIG, home) is not None
    fresh = {("country", "US"): country(30, key="US")}
    assert detect(fresh, {}, {}, CONFIG, home).trips == ()
    assert [t.rule for t in detect(fresh, {}, {}, CONFIG).trips] == ["new_destination"]  # without the programs' list


# ---------------------------------------------------------------------- inline scoring of one prompt


def _score(number: str, ip: str | None, live: list[KeyCounts], baselines: dict[tuple[str, str], Baseline] | None = None,
           config: PumpingConfig = CONFIG) -> str | None:  # fmt: skip
    trip = score_prompt(parse(number), ip, {(c.dimension, c.key): c for c in live}, baselines or {}, config,
                        frozenset({"US", "CA"}))  # fmt: skip
    return None if trip is None else f"{trip.rule} {trip.dimension} {trip.key}"


def test_inline_scoring_counts_the_prompt_itself_on_top_of_the_last_ten_minutes() -> None:
    swept = KeyCounts("prefix", "+14155550", 5, suffixes=frozenset({"100", "101", "102", "103", "104"}))
    # The sixth consecutive number is the one that shows the sweep: five got out, this one is held.
    assert _score("+14155550105", "192.0.2.1", [swept]) == "range_sweep prefix +14155550"
    few = KeyCounts("prefix", "+14155550", 4, suffixes=frozenset({"100", "101", "102", "103"}))
    assert _score("+14155550104", "192.0.2.1", [few]) is None  # five so far: not yet a sweep
    fanned = KeyCounts("ip", "198.51.100.66", 7, numbers=frozenset(f"+1212555{i:04d}" for i in range(7)))
    assert _score("+13105550123", "198.51.100.66", [fanned]) == "ip_fanout ip 198.51.100.66"
    assert _score("+13105550123", "198.51.100.67", [fanned]) is None
    latvia = KeyCounts("country", "LV", 7)
    assert _score("+37120000123", None, [latvia]) == "new_destination country LV"


def test_inline_scoring_never_holds_a_home_country_spike_an_allowed_key_or_a_known_destination() -> None:
    busy_home = KeyCounts("country", "US", 500)  # a campaign: only its conversion can tell it, later
    assert _score("+12125550123", "10.0.0.1", [busy_home]) is None
    swept = KeyCounts("prefix", "+14155550", 5, suffixes=frozenset({"100", "101", "102", "103", "104"}))
    allowed = PumpingConfig(allow_prefixes=("+1415555",))
    assert _score("+14155550105", "192.0.2.1", [swept], config=allowed) is None
    known = {("country", "LV"): Baseline(total_prompts=40, total_confirmations=20)}
    assert _score("+37120000123", None, [KeyCounts("country", "LV", 30)], known) is None


def test_a_prompt_the_opt_in_api_counted_itself_adds_only_its_country_from_the_stream() -> None:
    from sms_consent.consent import AuditEvent, EventType
    from sms_consent.pumping import COUNTED_LIVE
    from sms_consent.repository.counters import increments

    def prompt(**evidence: object) -> AuditEvent:
        at = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)
        return AuditEvent(EventType.DOUBLE_OPT_IN_REQUESTED, at, "+14152010123", "alerts", None, None, "web_form",
                          {"client_ip": "203.0.113.7", **evidence})  # fmt: skip

    counted_by_feed = {sk.split("#")[0] for _, sk in increments(prompt(), shard=3)}
    counted_live = {sk.split("#")[0] for _, sk in increments(prompt(**{COUNTED_LIVE: True}), shard=3)}
    assert counted_by_feed == {"country", "area", "prefix", "ip"}
    assert counted_live == {"country"}


# ---------------------------------------------------------------------- holding until confirmations vouch


def _waiting(number: str, live: list[KeyCounts], baselines: dict[tuple[str, str], Baseline] | None = None,
             config: PumpingConfig = CONFIG) -> str | None:  # fmt: skip
    from sms_consent.pumping import unconfirmed

    trip = unconfirmed(parse(number), {(c.dimension, c.key): c for c in live}, baselines or {}, config)
    return None if trip is None else f"{trip.dimension} {trip.key}"


def test_each_scope_may_have_its_budget_of_unconfirmed_prompts_and_no_more() -> None:
    number = "+14152310123"
    # The 1k block: 5 sent, the sixth waits; the area code and the country likewise at 10.
    assert _waiting(number, [KeyCounts("prefix", "+14152310", 4)]) is None
    assert _waiting(number, [KeyCounts("prefix", "+14152310", 5)]) == "prefix +14152310"
    assert _waiting(number, [KeyCounts("area", "+1415", 9)]) is None
    assert _waiting(number, [KeyCounts("area", "+1415", 10)]) == "area +1415"
    assert _waiting(number, [KeyCounts("country", "US", 10)]) == "country US"
    # Outside North America there is no area code: block and country only.
    assert _waiting("+447400123456", [KeyCounts("country", "GB", 10)]) == "country GB"


def test_held_prompts_do_not_count_as_sent_and_released_ones_do() -> None:
    number = "+14152310123"
    assert _waiting(number, [KeyCounts("area", "+1415", 30, held=21)]) is None  # 9 sent
    assert _waiting(number, [KeyCounts("area", "+1415", 30, held=21, released=1)]) == "area +1415"


def test_each_confirmation_in_a_block_or_area_code_vouches_for_more_prompts() -> None:
    number = "+14152310123"
    # 17 sent, 1 confirmed: 17 + 1 - 8 = 10, at the budget; the 19th prompt would pass it.
    assert _waiting(number, [KeyCounts("area", "+1415", 17, confirmations=1)]) is None
    assert _waiting(number, [KeyCounts("area", "+1415", 18, confirmations=1)]) == "area +1415"
    stingy = PumpingConfig(credit_per_confirmation=0)
    assert _waiting(number, [KeyCounts("area", "+1415", 10, confirmations=5)], config=stingy) == "area +1415"


def test_a_countrys_confirmations_vouch_for_themselves_until_its_prompts_convert() -> None:
    """The slow drip: 10 pumped prompts out in Britain and one everyday one, confirmed. Budget and credit
    added up (10 + 8), the drip would get 7 more out; as it is, the confirmation vouches for its own
    prompt only. Once the country's prompts convert at one in eight, each confirmation vouches for 8."""
    assert _waiting("+447400123456", [KeyCounts("country", "GB", 10, confirmations=1)]) is None
    assert _waiting("+447400123456", [KeyCounts("country", "GB", 11, confirmations=1)]) == "country GB"
    assert _waiting("+447400123456", [KeyCounts("country", "GB", 15, confirmations=2)]) is None
    assert _waiting("+447400123456", [KeyCounts("country", "GB", 16, confirmations=2)]) == "country GB"


def test_a_scope_whose_breaker_just_closed_is_half_open() -> None:
    from sms_consent.pumping import half_open, unconfirmed

    now = datetime(2026, 11, 16, 6, 30, tzinfo=UTC)
    closed = Breaker("country", "GB", "conversion_collapse", now - timedelta(minutes=40), now - timedelta(minutes=10))
    still_open = Breaker("country", "LV", "volume_spike", now - timedelta(minutes=5), now + timedelta(minutes=25))
    long_ago = Breaker("prefix", "+3725123", "range_sweep", now - timedelta(hours=5), now - timedelta(hours=3))
    breakers = {(b.dimension, b.key): b for b in (closed, still_open, long_ago)}
    half_opened = half_open(breakers, now, CONFIG)
    assert half_opened == {("country", "GB")}

    def waits(counts: KeyCounts) -> bool:
        return unconfirmed(parse("+447400123456"), {("country", "GB"): counts}, {}, CONFIG, half_opened) is not None

    # Two unconfirmed prompts in ten minutes (half_open_budget), not ten; none while ten are still held.
    assert not waits(KeyCounts("country", "GB", 1))
    assert waits(KeyCounts("country", "GB", 2))
    assert waits(KeyCounts("country", "GB", 10, held=10))
    assert not waits(KeyCounts("country", "GB", 5, confirmations=1, held=4))  # 1 sent, 1 confirmed


def test_a_scopes_usual_volume_raises_its_budget_and_the_allow_list_exempts_it() -> None:
    number = "+14152310123"
    usual = {("country", "US"): Baseline(same_slot_prompts=(6, 5, 7, 6))}  # median 6 per 5 minutes
    # 10 + 2 x (2 buckets x 6) = 34 unconfirmed prompts in ten minutes before anything waits.
    assert _waiting(number, [KeyCounts("country", "US", 33)], usual) is None
    assert _waiting(number, [KeyCounts("country", "US", 34)], usual) == "country US"
    assert _waiting(number, [KeyCounts("country", "US", 34)], {("country", "US"): Baseline((6,))}) == "country US"
    allowed = PumpingConfig(allow_countries=("US",), allow_prefixes=("+1415",))
    assert (
        _waiting(number, [KeyCounts("country", "US", 99), KeyCounts("prefix", "+14152310", 99)], config=allowed) is None
    )


def test_a_programs_country_is_watched_never_closed() -> None:
    """A drip into the home country drags its conversion down: the trip is reported and opens a watch
    (its prompts wait for confirmations), never a breaker refusing every sign-up and send there."""
    collapsed = {("country", "US"): country(40, 0), ("country", "GB"): country(40, 0, key="GB")}
    baselines = {("country", "US"): HISTORY, ("country", "GB"): HISTORY}
    detection = detect(collapsed, {}, baselines, CONFIG, frozenset({"US"}))
    assert {(t.rule, t.key) for t in detection.trips} == {("conversion_collapse", "US"), ("conversion_collapse", "GB")}
    assert [(t.dimension, t.key) for t in detection.breakers_to_open] == [("country", "GB")]
    assert [(t.rule, t.dimension, t.key) for t in detection.watches_to_open] == [
        ("conversion_collapse", "country", "US")
    ]
    # Nor a collapse over fewer prompts sent than a country's budget: the inline rules held the attack
    # (35 of its 40 here), and five everyday prompts not confirmed yet say little.
    held_back = {("country", "US"): KeyCounts("country", "US", 40, held=35)}
    few = detect(held_back, {}, {("country", "US"): HISTORY}, CONFIG, frozenset({"US"}))
    assert [(t.rule, t.figures["sent"]) for t in few.trips] == [("conversion_collapse", 5)]
    assert few.watches_to_open == ()
    # A spike alone opens no watch: a burst held by its area code's budget spikes its country too.
    spiked = detect({("country", "US"): country(60, 0)}, {}, {("country", "US"): HISTORY}, CONFIG, frozenset({"US"}))
    assert [(t.rule, t.key) for t in spiked.trips] == [("volume_spike", "US")]
    assert (spiked.breakers_to_open, spiked.watches_to_open) == ((), ())
    recorded = detect(collapsed, {}, baselines, PumpingConfig(mode="record_only"), frozenset({"US"}))
    assert len(recorded.trips) == 2
    assert (recorded.breakers_to_open, recorded.watches_to_open) == ((), ())


def test_a_watch_refuses_nothing_and_makes_its_country_half_open() -> None:
    from sms_consent.pumping import half_open, unconfirmed

    now = datetime(2026, 11, 16, 6, 30, tzinfo=UTC)
    watch = Breaker("country", "US", "conversion_collapse", now - timedelta(minutes=5), now + timedelta(minutes=25),
                    watch=True)  # fmt: skip
    phone = parse("+14152310123")
    assert blocking(phone, {("country", "US"): watch}, client_ip="198.51.100.7") is None
    assert half_open({("country", "US"): watch}, now, CONFIG) == {("country", "US")}
    # Expired: half-open for `half_open_minutes` more, like any breaker; then forgotten.
    assert half_open({("country", "US"): watch}, now + timedelta(minutes=30), CONFIG) == {("country", "US")}
    assert half_open({("country", "US"): watch}, now + timedelta(hours=3), CONFIG) == frozenset()
    # A breaker on the number's block still stops it, watch or not.
    sweep = Breaker("prefix", phone.prefix, "range_sweep", now, now + timedelta(minutes=30))
    assert blocking(phone, {("country", "US"): watch, ("prefix", phone.prefix): sweep}) == sweep

    usual = {("country", "US"): Baseline(same_slot_prompts=(6, 5, 7, 6))}  # budget 10 + 2 x 12 = 34
    watched = frozenset({("country", "US")})

    def waits(counts: KeyCounts) -> bool:
        return unconfirmed(phone, {("country", "US"): counts}, usual, CONFIG, watched) is not None

    assert not waits(KeyCounts("country", "US", 1))
    assert waits(KeyCounts("country", "US", 2))  # half_open_budget, not 34
    # Its everyday sign-ups alone (held fewer than its usual budget) do not count as knocking ...
    assert not waits(KeyCounts("country", "US", 30, held=29))  # 1 sent, a second fits
    # ... an attack still knocking (held as many as the usual budget) gets only what confirmations vouch
    # for, each for its own prompt only (not 8: the country's everyday confirmations would let the
    # attack's prompts out) ...
    assert waits(KeyCounts("country", "US", 35, held=34))
    assert not waits(KeyCounts("country", "US", 35, confirmations=2, held=34))  # 1 sent, 2 confirmed
    assert waits(KeyCounts("country", "US", 36, confirmations=2, held=34))  # 2 sent: no more (not 16)
    # ... and once it stops knocking, prompts that convert like people's are let out 8 per confirmation.
    assert not waits(KeyCounts("country", "US", 45, confirmations=2, held=30))  # 15 sent
    assert waits(KeyCounts("country", "US", 46, confirmations=2, held=30))


def test_prompts_held_without_a_single_confirmation_are_reported_and_close_their_area_code() -> None:
    """Not a country: its held count includes what a breaker holds (conversion_collapse judges it)."""
    from sms_consent.pumping import held_unconfirmed

    held = KeyCounts("area", "+1304", 40, held=30, waiting=30)
    assert held_unconfirmed(held, CONFIG) is not None
    assert held_unconfirmed(KeyCounts("area", "+1304", 40, 1, held=30, waiting=30), CONFIG) is None  # confirmed
    assert held_unconfirmed(KeyCounts("area", "+1304", 19, held=9, waiting=9), CONFIG) is None  # under the floor
    assert held_unconfirmed(KeyCounts("country", "GB", 40, held=30, waiting=30), CONFIG) is None
    # A sweep's block breaker holds 30 of the area code's prompts: the block is closed, not the city.
    assert held_unconfirmed(KeyCounts("area", "+1304", 40, held=30), CONFIG) is None
    detection = detect({("area", "+1304"): held}, {}, {}, CONFIG, frozenset({"US"}))
    assert [(t.rule, t.dimension, t.key) for t in detection.breakers_to_open] == [("unconfirmed", "area", "+1304")]


def test_an_area_codes_spike_is_not_a_breaker() -> None:
    """A city's campaign spikes its area code: its prompts wait for confirmations instead."""
    assert volume_spike(KeyCounts("area", "+1312", 120), Baseline(), CONFIG) is None
    assert volume_spike(KeyCounts("prefix", "+13122010", 120), Baseline(), CONFIG) is not None
