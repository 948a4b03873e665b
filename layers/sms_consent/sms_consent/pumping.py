"""Traffic-pumping detection: pure rules over time-bucketed counters.

Every 5 minutes the detector looks at the bucket that just closed (and the one before it) and compares
each active country, 1k-number prefix and client IP with its baseline: the same hour of the week over
the last 4 weeks (median and MAD, robust to one odd week) and each country's usual conversion from
prompt to confirmation. Every rule has a floor, so low volumes never trip; a new deployment without
history falls back to absolute floors. The allow-list always wins; `record_only` reports without
opening breakers.
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sms_consent import protect_rules
from sms_consent.breakers import Breaker, Trip
from sms_consent.clock import iso, window_start
from sms_consent.messages import BusEvent
from sms_consent.phones import PhoneInfo
from sms_consent.ports import Baseline, BreakerStore, CounterStore, EventSink, HeldPrompts, KeyCounts, ProtectRules

BUCKET = timedelta(minutes=5)
# Evidence of a prompt whose prefix and IP the opt-in API counted itself, as it wrote the prompt: inline
# scoring must see the prompts just before it, not a second later from the table's stream. The stream's
# consumer then adds only its country (a sharded key every sign-up would write, best written in batches).
COUNTED_LIVE = "counted_live"
WEEKS_OF_HISTORY = 4


class PumpingConfig(BaseModel):
    """Thresholds, each with a floor; embedded in programs.yaml under `pumping:`."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    mode: Literal["enforce", "record_only"] = "enforce"
    allow_countries: tuple[str, ...] = ()
    allow_prefixes: tuple[str, ...] = ()
    # volume spike: prompts in a bucket against the same hour of week
    spike_floor: int = Field(default=20, ge=1)
    spike_factor: float = Field(default=4.0, gt=1)
    spike_mad_factor: float = Field(default=6.0, gt=0)
    spike_floor_without_history: int = Field(default=60, ge=1)
    # a spike whose conversion stays above this share of the usual is a campaign, not pumping
    spike_conversion_ratio: float = Field(default=0.35, gt=0, lt=1)
    # conversion collapse: confirmations / prompts over the last two buckets against the country's usual
    conversion_floor_prompts: int = Field(default=25, ge=1)
    conversion_ratio: float = Field(default=0.25, gt=0, lt=1)
    conversion_min_baseline_prompts: int = Field(default=200, ge=1)
    # new destination: a country or prefix with no history at all
    new_destination_floor: int = Field(default=8, ge=1)
    # range sweep: distinct, consecutive last-three-digits within one prefix and bucket
    sweep_min_distinct: int = Field(default=6, ge=2)
    sweep_min_run: int = Field(default=5, ge=2)
    # IP fan-out
    ip_max_numbers: int = Field(default=8, ge=1)
    ip_max_countries: int = Field(default=3, ge=2)
    # Holding until confirmations vouch (inline, `unconfirmed`): in the last ten minutes, the prompts
    # sent to a 1k block or an area code may not pass the scope's budget (plus `hold_baseline_factor`
    # times its usual volume, where it has history) plus `credit_per_confirmation` per confirmation
    # there; a country's, its budget plus one per confirmation, or `credit_per_confirmation` per
    # confirmation once its prompts convert that well. Past it, prompts wait for confirmations.
    hold_prefix_budget: int = Field(default=5, ge=1)
    hold_area_budget: int = Field(default=10, ge=1)
    hold_country_budget: int = Field(default=10, ge=1)
    hold_baseline_factor: float = Field(default=2.0, ge=0)
    credit_per_confirmation: float = Field(default=8.0, ge=0)
    hold_minutes: int = Field(default=15, ge=1, le=24 * 60)  # a held prompt not released by then is dropped
    # Half-open: for `half_open_minutes` after a breaker closes (and while a watch on a programs' own
    # country is open), its block, area code or country may have only `half_open_budget` unconfirmed
    # prompts in ten minutes, and none while as many prompts are held there as its usual budget (the
    # attack is still knocking): an attack that outlasts its breaker gets nothing out, not a fresh budget.
    half_open_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    half_open_budget: int = Field(default=2, ge=1)
    # A prompt held in a half-open scope is released within this many minutes or not at all: what waits
    # longer there is mostly the attack's (a person with no text has been told to text YES by then).
    half_open_release_minutes: int = Field(default=3, ge=1, le=24 * 60)


@dataclass(frozen=True)
class DetectorDeps:
    counters: CounterStore
    breakers: BreakerStore
    events: EventSink
    config: PumpingConfig
    home_countries: frozenset[str] = frozenset()  # the programs' allowed countries
    protect: ProtectRules | None = None  # the provider's protect configuration, where one is set


@dataclass(frozen=True)
class InlineDeps:
    """What scoring a prompt before it leaves needs (the opt-in API)."""

    counters: CounterStore
    breakers: BreakerStore
    events: EventSink
    config: PumpingConfig
    held: HeldPrompts  # where prompts held by `unconfirmed` wait for confirmations
    home_countries: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Detection:
    trips: tuple[Trip, ...]
    breakers_to_open: tuple[Trip, ...] = field(default=())
    watches_to_open: tuple[Trip, ...] = field(default=())  # on the programs' own countries


def bucket_start(moment: datetime) -> datetime:
    return window_start(moment, BUCKET)


def slot_of_week(moment: datetime) -> int:
    """0..2015: which 5-minute slot of the (UTC) week a bucket is."""
    return (moment.weekday() * 24 * 60 + moment.hour * 60 + moment.minute) // 5


def _robust(values: Sequence[int]) -> tuple[float, float]:
    median = float(statistics.median(values))
    mad = float(statistics.median(abs(value - median) for value in values))
    return median, mad


def converts_normally(recent: KeyCounts, baseline: Baseline, config: PumpingConfig) -> bool:
    """A campaign spike brings people who confirm; pumped numbers never do."""
    if baseline.total_prompts < config.conversion_min_baseline_prompts or recent.sent <= 0:
        return False
    usual = baseline.total_confirmations / baseline.total_prompts
    return recent.confirmations / recent.sent >= usual * config.spike_conversion_ratio


def volume_spike(counts: KeyCounts, baseline: Baseline, config: PumpingConfig) -> Trip | None:
    # An area code's spike is a city's campaign as often as an attack: its prompts wait for confirmations
    # (`unconfirmed`) instead, and `held_unconfirmed` closes it when none come.
    if counts.dimension not in ("country", "prefix") or counts.prompts < config.spike_floor:
        return None
    history = [value for value in baseline.same_slot_prompts if value >= 0]
    if len(history) < 2:
        if counts.prompts < config.spike_floor_without_history:
            return None
        return Trip("volume_spike", counts.dimension, counts.key, {"prompts": counts.prompts},
                    {"weeks_of_history": len(history), "floor": config.spike_floor_without_history})  # fmt: skip
    median, mad = _robust(history)
    threshold = max(config.spike_floor, median * config.spike_factor, median + config.spike_mad_factor * max(mad, 1.0))
    if counts.prompts <= threshold:
        return None
    return Trip("volume_spike", counts.dimension, counts.key, {"prompts": counts.prompts},
                {"median": median, "mad": mad, "threshold": round(threshold, 1)})  # fmt: skip


def conversion_collapse(recent: KeyCounts, baseline: Baseline, config: PumpingConfig) -> Trip | None:
    # Busy enough on attempts (prompts held by the inline budgets included), judged over the prompts that
    # left: a held one cannot be confirmed, and an attack still knocking at a closed breaker (nothing
    # sent) must not keep it closed and escalating on attempts that never reached a phone.
    if recent.dimension != "country" or recent.prompts < config.conversion_floor_prompts or recent.sent <= 0:
        return None
    if baseline.total_prompts < config.conversion_min_baseline_prompts:
        return None
    usual = baseline.total_confirmations / baseline.total_prompts
    rate = recent.confirmations / recent.sent
    if usual <= 0 or rate >= usual * config.conversion_ratio:
        return None
    return Trip("conversion_collapse", recent.dimension, recent.key,
                {"sent": recent.sent, "confirmations": recent.confirmations, "conversion": round(rate, 4)},
                {"conversion": round(usual, 4), "prompts": baseline.total_prompts})  # fmt: skip


def new_destination(
    counts: KeyCounts, baseline: Baseline, config: PumpingConfig, home_countries: frozenset[str] = frozenset()
) -> Trip | None:
    """A country or prefix never seen before. The countries the programs send to are never "new": on a
    fresh deployment they have no history yet, and closing one would refuse every legitimate sign-up."""
    if counts.dimension not in ("country", "prefix") or baseline.total_prompts > 0:
        return None
    if counts.dimension == "country" and counts.key in home_countries:
        return None
    if counts.prompts < config.new_destination_floor:
        return None
    return Trip("new_destination", counts.dimension, counts.key, {"prompts": counts.prompts},
                {"prompts_before": 0, "floor": config.new_destination_floor})  # fmt: skip


def longest_run(suffixes: frozenset[str]) -> int:
    values = sorted(int(s) for s in suffixes if s.isdigit())
    best = run = 1 if values else 0
    for previous, current in itertools.pairwise(values):
        run = run + 1 if current == previous + 1 else 1
        best = max(best, run)
    return best


def range_sweep(counts: KeyCounts, config: PumpingConfig) -> Trip | None:
    if counts.dimension != "prefix" or len(counts.suffixes) < config.sweep_min_distinct:
        return None
    run = longest_run(counts.suffixes)
    if run < config.sweep_min_run:
        return None
    return Trip("range_sweep", "prefix", counts.key, {"distinct_numbers": len(counts.suffixes), "longest_run": run},
                {"min_run": config.sweep_min_run, "min_distinct": config.sweep_min_distinct})  # fmt: skip


def ip_fanout(counts: KeyCounts, config: PumpingConfig) -> Trip | None:
    if counts.dimension != "ip":
        return None
    if len(counts.numbers) < config.ip_max_numbers and len(counts.countries) < config.ip_max_countries:
        return None
    return Trip("ip_fanout", "ip", counts.key, {"numbers": len(counts.numbers), "countries": len(counts.countries)},
                {"max_numbers": config.ip_max_numbers, "max_countries": config.ip_max_countries})  # fmt: skip


def held_unconfirmed(recent: KeyCounts, config: PumpingConfig) -> Trip | None:
    """Prompts waiting for confirmations in a block or area code while not one confirmation came in ten
    minutes: what waits is an attack, not a campaign; report it and close the block or area code, so
    that the gate stops it too. Prompts a breaker holds do not count: a sweep closed by its block's
    breaker must not close the city's area code as well. (A country's conversion is
    `conversion_collapse`'s.)"""
    if recent.dimension not in ("prefix", "area") or recent.confirmations:
        return None
    floor = hold_floor(recent.dimension, config)
    if recent.waiting < floor:
        return None
    figures: dict[str, float | int | str] = {"waiting": recent.waiting, "sent": recent.sent, "confirmations": 0}
    return Trip("unconfirmed", recent.dimension, recent.key, figures, {"held_floor": floor})


def _allowed(dimension: str, key: str, config: PumpingConfig) -> bool:
    if dimension == "country":
        return key in config.allow_countries
    if dimension == "prefix":
        return any(key.startswith(prefix) for prefix in config.allow_prefixes)
    return False


def merge(latest: KeyCounts, previous: KeyCounts | None) -> KeyCounts:
    if previous is None:
        return latest
    return KeyCounts(
        latest.dimension,
        latest.key,
        latest.prompts + previous.prompts,
        latest.confirmations + previous.confirmations,
        latest.suffixes | previous.suffixes,
        latest.numbers | previous.numbers,
        latest.countries | previous.countries,
        latest.held + previous.held,
        latest.released + previous.released,
        latest.waiting + previous.waiting,
    )


def detect(
    latest: Mapping[tuple[str, str], KeyCounts],
    previous: Mapping[tuple[str, str], KeyCounts],
    baselines: Mapping[tuple[str, str], Baseline],
    config: PumpingConfig,
    home_countries: frozenset[str] = frozenset(),
) -> Detection:
    """Rules over the bucket that just closed (`latest`) and the one before; one trip per key at most.
    `home_countries`: the countries the programs allow, never a new destination."""
    trips: list[Trip] = []
    for key, counts in latest.items():
        if _allowed(counts.dimension, counts.key, config):
            continue
        baseline = baselines.get(key, Baseline())
        recent = merge(counts, previous.get(key))
        spike = None if converts_normally(recent, baseline, config) else volume_spike(counts, baseline, config)
        trip = (
            range_sweep(counts, config)
            or ip_fanout(recent, config)
            or new_destination(recent, baseline, config, home_countries)
            or spike
            or conversion_collapse(recent, baseline, config)
            or held_unconfirmed(recent, config)
        )
        if trip is not None:
            trips.append(trip)
    # A country the programs send to is never closed: consented traffic and campaigns there are what the
    # programs exist for. Its trips are reported; a conversion collapse (prompts that left and were not
    # confirmed: a drip mixed into everyday sign-ups) opens a watch, which makes the country half-open
    # (the people held meanwhile can still confirm by texting YES). A spike alone does not: a burst
    # held by its area code's budget spikes its country too, and sent nothing.
    home = [trip for trip in trips if trip.dimension == "country" and trip.key in home_countries]
    closing = [trip for trip in trips if trip not in home]
    watches = [trip for trip in home if _drips(trip, config)]
    if config.mode != "enforce":
        return Detection(tuple(trips))
    return Detection(tuple(trips), tuple(closing), tuple(watches))


def _drips(trip: Trip, config: PumpingConfig) -> bool:
    """Whether a trip on a programs' own country opens a watch: its conversion collapsed over at least a
    country's budget of prompts that left (a drip got its budget out). Over fewer, the inline rules
    held the attack already, and a handful of everyday prompts unconfirmed for now says little."""
    sent = trip.figures.get("sent", 0)
    return trip.rule == "conversion_collapse" and isinstance(sent, int) and sent >= config.hold_country_budget


def hold_scopes(phone: PhoneInfo) -> list[tuple[str, str]]:
    """Where prompts wait for confirmations: the 1k block, the area code (North America), the country."""
    return [("prefix", phone.prefix), *([("area", phone.area)] if phone.area else []), ("country", phone.country)]


def prompt_keys(phone: PhoneInfo, client_ip: str | None) -> list[tuple[str, str]]:
    keys = hold_scopes(phone)
    return [*keys, ("ip", client_ip)] if client_ip else keys


def hold_floor(dimension: str, config: PumpingConfig) -> int:
    """The unconfirmed prompts a block, area code or country may have in ten minutes, history aside."""
    if dimension == "prefix":
        return config.hold_prefix_budget
    return config.hold_area_budget if dimension == "area" else config.hold_country_budget


def hold_budget(dimension: str, baseline: Baseline, config: PumpingConfig) -> float:
    """Prompts a scope may have sent in ten minutes with nothing confirmed: its floor, plus the usual
    volume of this time of week where there is history (a quiet scope is judged on the floor alone)."""
    floor = hold_floor(dimension, config)
    history = [value for value in baseline.same_slot_prompts if value >= 0]
    usual = float(statistics.median(history)) if len(history) >= 2 else 0.0
    return floor + config.hold_baseline_factor * 2 * usual  # two buckets in the live window


def half_open(
    breakers: Mapping[tuple[str, str], Breaker], now: datetime, config: PumpingConfig
) -> frozenset[tuple[str, str]]:
    """The scopes whose breaker closed less than `half_open_minutes` ago, and the programs' countries
    under an open watch (half-open from the start: nothing there is refused, prompts wait instead)."""
    window = timedelta(minutes=config.half_open_minutes)
    return frozenset(
        key
        for key, breaker in breakers.items()
        if breaker.expires_at <= now < breaker.expires_at + window or (breaker.watch and breaker.is_open(now))
    )


def _vouched_for(
    dimension: str, budget: float, confirmations: int, config: PumpingConfig, *, knocking: bool = False
) -> float:
    """The prompts a scope may have sent in ten minutes. A block's or an area code's confirmations speak
    for its prompts: each adds `credit_per_confirmation` to the budget. A country's window mixes
    everyone's traffic, and its everyday confirmations would let an attack mixed into it out: there it
    is the budget (each confirmation vouching for its own prompt) or, once its prompts convert at one
    in `credit_per_confirmation`, that many per confirmation; not both added up. A country still
    knocked at while half-open gets no multiple: each confirmation vouches for its own prompt only
    (the everyday confirmations would let the attack's prompts out)."""
    credit = config.credit_per_confirmation * confirmations
    if dimension != "country":
        return budget + credit
    if knocking:
        return budget + confirmations
    return max(budget + confirmations, credit)


def unconfirmed(
    phone: PhoneInfo,
    live: Mapping[tuple[str, str], KeyCounts],
    baselines: Mapping[tuple[str, str], Baseline],
    config: PumpingConfig,
    half_opened: frozenset[tuple[str, str]] = frozenset(),
) -> Trip | None:
    """Whether one more prompt to this number would leave more unconfirmed prompts in its block, area
    code or country than confirmations vouch for. Pumped numbers never confirm; people do, within a
    minute or two, and once they convert at one in `credit_per_confirmation` each confirmation vouches
    for that many: a campaign's spike is held for a moment and released as its first confirmations
    arrive, an attack stays held.
    A half-open scope (`half_open`: its breaker just closed, or a watch is open on it) gets
    `half_open_budget`, or none while it is still being knocked at."""
    for dimension, key in hold_scopes(phone):
        if _allowed(dimension, key, config):
            continue
        counts = live.get((dimension, key), KeyCounts(dimension, key))
        usual = hold_budget(dimension, baselines.get((dimension, key), Baseline()), config)
        # Half-open and still knocking (as many held in ten minutes as its usual budget): nothing but
        # what confirmations vouch for. Its everyday sign-ups alone do not knock: they fit the budget.
        opened = (dimension, key) in half_opened
        knocking = opened and counts.held >= usual
        budget = 0 if knocking else config.half_open_budget if opened else usual
        if counts.sent + 1 > _vouched_for(dimension, budget, counts.confirmations, config, knocking=knocking):
            figures: dict[str, float | int | str] = {
                "sent": counts.sent,
                "confirmations": counts.confirmations,
                "held": counts.held,
            }
            limits: dict[str, float | int | str] = {
                "budget": round(budget, 1),
                "credit_per_confirmation": config.credit_per_confirmation,
            }
            return Trip("unconfirmed", dimension, key, figures, limits)
    return None


def score_prompt(
    phone: PhoneInfo,
    client_ip: str | None,
    live: Mapping[tuple[str, str], KeyCounts],
    baselines: Mapping[tuple[str, str], Baseline],
    config: PumpingConfig,
    home_countries: frozenset[str] = frozenset(),
) -> Trip | None:
    """The rules that need no conversion figures (a sweep, an IP fanning out, a new destination), on the
    last ten minutes' counts with this prompt added: judged before the prompt leaves, not 5 minutes
    later. Spikes and conversion collapses stay with the scheduled detector: a campaign's spike is
    told from pumping only by its confirmations, which come minutes after the prompts."""
    this = {
        ("country", phone.country): KeyCounts("country", phone.country, 1),
        ("prefix", phone.prefix): KeyCounts("prefix", phone.prefix, 1, suffixes=frozenset({phone.e164[-3:]})),
    }
    if client_ip:
        this[("ip", client_ip)] = KeyCounts(
            "ip", client_ip, 1, numbers=frozenset({phone.e164}), countries=frozenset({phone.country})
        )
    for key, prompt in this.items():
        if _allowed(key[0], key[1], config):
            continue
        counts = merge(prompt, live.get(key))
        trip = (
            range_sweep(counts, config)
            or ip_fanout(counts, config)
            or new_destination(counts, baselines.get(key, Baseline()), config, home_countries)
        )
        if trip is not None:
            return trip
    return None


@dataclass(frozen=True)
class Verdict:
    """What scoring a prompt found: a rule that opens a breaker (`trip`), or a scope whose prompts wait
    for confirmations (`waiting`: the prompt is held and released when they come)."""

    trip: Trip | None = None
    waiting: Trip | None = None

    @property
    def reason(self) -> Trip | None:
        return self.trip or self.waiting


def check_prompt(
    phone: PhoneInfo,
    client_ip: str | None,
    now: datetime,
    deps: InlineDeps,
    half_opened: frozenset[tuple[str, str]] = frozenset(),
) -> Verdict:
    """Score a prompt about to be sent; on a trip, open its breaker at once (in `enforce` mode) and report
    it like the detector does. The caller holds the prompt when the verdict has a reason, in `enforce`
    mode. One read of the live counters and one of the baselines. `half_opened`: `half_open`'s scopes."""
    keys = prompt_keys(phone, client_ip)
    live = deps.counters.read_live(keys, now)
    baselines = deps.counters.baselines(keys, slot_of_week(bucket_start(now)))
    trip = score_prompt(phone, client_ip, live, baselines, deps.config, deps.home_countries)
    if trip is None:
        return Verdict(waiting=unconfirmed(phone, live, baselines, deps.config, half_opened))
    return Verdict(trip=_open(trip, now, deps))


def _open(trip: Trip, now: datetime, deps: InlineDeps) -> Trip:
    opened = None
    if deps.config.mode == "enforce" and trip.breaker is not None:
        previous = deps.breakers.all_breakers().get(trip.breaker)
        if previous is not None and previous.is_open(now):
            # Opened by an earlier prompt of the same attack (breakers are cached for a minute per
            # warm function): held, but neither re-opened (escalation is per attack) nor re-reported.
            return trip
        opened = deps.breakers.open_breaker(trip, now=now, previous=previous)
    deps.events.publish([suspected(trip, deps.config, opened, bucket_start(now), now, source="inline_scoring")])
    return trip


def suspected(
    trip: Trip, config: PumpingConfig, breaker: Breaker | None, bucket: datetime, now: datetime, *, source: str
) -> BusEvent:
    return BusEvent(
        detail_type="TrafficPumpingSuspected",
        detail={
            "rule": trip.rule,
            "dimension": trip.dimension,
            "key": trip.key,
            "phone": None,
            "figures": trip.figures,
            "baseline": trip.baseline,
            "mode": config.mode,
            "breaker_expires_at": iso(breaker.expires_at) if breaker is not None else None,
            "bucket": iso(bucket),
            "source": source,
            "timestamp": iso(now),
        },
    )


def run_tick(
    counters: CounterStore,
    breakers: BreakerStore,
    events: EventSink,
    config: PumpingConfig,
    now: datetime,
    home_countries: frozenset[str] = frozenset(),
    protect: ProtectRules | None = None,
) -> Detection:
    """One detector run: read the closed buckets and baselines, detect, open breakers, report, tell
    the provider's protect configuration (`protect_rules`), roll up.

    A failure anywhere leaves breakers as they were; they expire on their own.
    """
    latest_start = bucket_start(now) - BUCKET
    previous_start = latest_start - BUCKET
    latest = counters.read_bucket(latest_start)
    previous = counters.read_bucket(previous_start)
    baselines = counters.baselines(list(latest), slot_of_week(latest_start))
    detection = detect(latest, previous, baselines, config, home_countries)
    to_open = [(trip, False) for trip in detection.breakers_to_open] + [(t, True) for t in detection.watches_to_open]
    existing = breakers.all_breakers() if to_open or protect is not None else {}
    opened: dict[tuple[str, str], Breaker] = {}
    for trip, watch in to_open:
        target = trip.breaker
        if target is None or target in opened:
            continue
        standing = existing.get(target)
        if (
            standing is not None
            and standing.is_open(now)
            and (standing.watch or (standing.trips and now - standing.trips[-1] <= 2 * BUCKET))
        ):
            # Opened minutes ago for this same attack (inline scoring saw it first): one attack, one step
            # of escalation. A watch's country trips again while its half-open trickle converts badly:
            # the same drip, not a new attack (the country stays half-open after it anyway).
            continue
        opened[target] = breakers.open_breaker(trip, now=now, previous=standing, watch=watch)
    if detection.trips:
        events.publish(
            [
                suspected(trip, config, opened.get((trip.dimension, trip.key)), latest_start, now,
                          source="pumping_detector")
                for trip in detection.trips
            ]
        )  # fmt: skip
    if protect is not None:
        seen = {key: merge(counts, previous.get(key)) for key, counts in latest.items()}
        protect_rules.push({**existing, **opened}, seen, breakers, protect, now)
    counters.roll_up(previous_start, previous)
    return detection
