"""Traffic-pumping evaluation: a simulated week of normal web-form traffic with injected attacks,
driving the real counters (repository.counters on moto) and the real detector (pumping.run_tick).

Normal traffic has daily and weekly cycles in four countries and realistic conversion (prompts
confirmed within minutes). Four weeks of history are seeded into the baselines first (through the
same repository the detector reads). Attacks stop sending once a breaker covers them, as the gate
and the opt-in API would. Printed: per attack, detected or not, minutes to detection, prompts that
got through; false breakers per simulated week; DynamoDB requests per detector run.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sms_consent.breakers import Trip

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday
# moto answers a Query by scanning the whole table, so a simulated day costs minutes: the default is
# one day (288 ticks) holding every attack; PUMPING_BENCH_TICKS=2016 runs the full week (~15 min).
TICKS = int(os.environ.get("PUMPING_BENCH_TICKS", 24 * 12))
CONVERSION = 0.45
HOME = frozenset({"US", "CA"})  # the programs' countries: never a new destination

# Peak prompts per 5 minutes and the UTC offset of each country's evening peak.
COUNTRIES = {"US": (8.0, -5), "CA": (2.5, -5), "GB": (2.0, 0), "FR": (1.5, 1)}
SAMPLE_NUMBERS = {
    "US": "+1415{:07d}",
    "CA": "+1416{:07d}",
    "GB": "+4479{:08d}",
    "FR": "+336{:08d}",
    "LV": "+3712{:07d}",
}


def random_number(rng: random.Random, country: str) -> str:
    """A valid mobile number of the country, drawn at random (redrawn where a range is unallocated)."""
    from sms_consent.phones import InvalidPhoneNumber, parse

    while True:
        digits = rng.randrange(2 * 10**6, 10**7) if country in ("US", "CA") else rng.randrange(10**6, 10**7)
        candidate = SAMPLE_NUMBERS[country].format(digits)
        try:
            return parse(candidate).e164
        except InvalidPhoneNumber:
            continue


def expected(country: str, moment: datetime) -> float:
    peak, offset = COUNTRIES[country]
    hour = (moment.hour + moment.minute / 60 + offset) % 24
    daily = 0.15 + 0.85 * max(0.0, math.sin(math.pi * (hour - 7) / 16)) if 7 <= hour <= 23 else 0.15
    weekly = 0.7 if (moment + timedelta(hours=offset)).weekday() >= 5 else 1.0
    return peak * daily * weekly


def poisson(rng: random.Random, lam: float) -> int:
    limit, count, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


@dataclass
class Attack:
    name: str
    start_tick: int
    ticks: int
    prompts: Callable[[random.Random, int], list[tuple[str, str | None]]]  # (number, client ip) per bucket
    legitimate: bool = False
    sent: int = 0
    blocked_at: int | None = None
    keys: set[tuple[str, str]] = field(default_factory=set)


def _attacks() -> list[Attack]:
    def premium(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "LV"), f"203.0.113.{rng.randrange(250)}") for _ in range(40)]

    def drip(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        # Below a naive per-country cap (50 per 5 minutes): it shows only in conversion.
        return [(random_number(rng, "GB"), f"198.18.{rng.randrange(250)}.{rng.randrange(250)}") for _ in range(14)]

    def sweep(_: random.Random, bucket: int) -> list[tuple[str, str | None]]:
        return [(f"+14155550{100 + bucket * 10 + i:03d}", f"192.0.2.{i}") for i in range(10)]

    def fanout(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "US"), "198.51.100.66") for _ in range(12)]

    def campaign(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "US"), f"10.0.{rng.randrange(250)}.{rng.randrange(250)}")
                for _ in range(45)]  # fmt: skip

    return [  # ticks of the first simulated day (Monday, UTC)
        Attack("burst to a premium-rate country", 40, 6, premium),
        Attack("slow drip below naive thresholds", 90, 12, drip),
        Attack("sequential sweep of a prefix", 140, 6, sweep),
        Attack("one IP fanning out", 190, 6, fanout),
        Attack("legitimate marketing spike", 240, 6, campaign, legitimate=True),
    ]


@dataclass
class Outcome:
    attacks: list[Attack]
    false_breakers: list[tuple[str, str, str, int]]
    requests_per_run: list[int]
    held_legitimate: int  # legitimate prompts held by inline scoring
    scoring_reads: int  # DynamoDB requests made by inline scoring, all prompts together
    prompts_scored: int


def run() -> list[str]:
    started = time.perf_counter()
    scheduled = simulate(inline=False)
    inline = simulate(inline=True)
    lines = [f"{'attack':<36} {'scheduled detector only':<34} {'with inline scoring':<34}"]
    for alone, both in zip(scheduled.attacks, inline.attacks, strict=True):
        lines.append(f"{alone.name:<36} {_verdict(alone, scheduled):<34} {_verdict(both, inline):<34}")
    for label, outcome in (("scheduled detector only", scheduled), ("with inline scoring", inline)):
        examples = "; ".join(
            f"{rule} on {dimension} {key} at tick {tick}" for rule, dimension, key, tick in outcome.false_breakers[:3]
        )
        lines.append(
            f"{label}: false breakers {len(outcome.false_breakers)} in {TICKS} ticks "
            f"({TICKS / 288:.1f} simulated days); legitimate prompts held {outcome.held_legitimate}"
            + (f" ({examples})" if examples else "")
        )
    runs = scheduled.requests_per_run
    lines.append(
        f"DynamoDB requests per detector run: median {sorted(runs)[len(runs) // 2]}, max {max(runs)} "
        "(no Scan; bounded by keys active in the last ten minutes)"
    )
    lines.append(
        f"inline scoring: {inline.scoring_reads / max(inline.prompts_scored, 1):.2f} DynamoDB requests per prompt "
        f"scored ({inline.prompts_scored} prompts)"
    )
    lines.append(f"simulated {TICKS} ticks twice in {time.perf_counter() - started:.0f} s")
    return lines


def _verdict(attack: Attack, outcome: Outcome) -> str:
    if attack.legitimate:
        tripped = any((dimension, key) in attack.keys for _, dimension, key, _ in outcome.false_breakers)
        return f"{'TRIPPED (wrong)' if tripped else 'left alone'}, {attack.sent} sent"
    if attack.blocked_at is None:
        return f"NOT detected, {attack.sent} through"
    return f"{attack.sent} through, stopped at {(attack.blocked_at - attack.start_tick) * 5} min"


def simulate(*, inline: bool) -> Outcome:
    """One simulated day (or week); with `inline`, every prompt is scored before it leaves, as
    POST /v1/optins does (pumping.check_prompt on the same counters), and held when it trips."""
    from moto import mock_aws

    from sms_consent_local import aws_calls

    aws_calls.install()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    from sms_consent import pumping, wiring
    from sms_consent.breakers import blocking
    from sms_consent.phones import PhoneInfo, parse
    from sms_consent_local.harness import function_environment
    from sms_consent_local.resources import create_resources
    from sms_consent_local.template import load_template

    rng = random.Random(2026)
    held_legitimate = scoring_reads = prompts_scored = 0
    with mock_aws():
        template = load_template(ROOT / "template.yaml")
        created = create_resources(template, region="us-east-1")
        os.environ.update(
            function_environment(template, "PumpingDetectorFunction", created.physical, outbox_path=Path("/dev/null"))
        )
        wiring.reset()
        settings = wiring.pumping_detector_settings()
        found = wiring.stores_of(settings)
        events = wiring.events_of(settings)
        config = pumping.PumpingConfig()
        scoring = pumping.InlineDeps(found.counters, found.breakers, events, config, HOME)

        def held(phone: PhoneInfo, ip: str | None, moment: datetime) -> Trip | None:
            """Inline scoring of one prompt (a trip opens its breaker at once); None without it."""
            nonlocal scoring_reads, prompts_scored
            if not inline:
                return None
            with aws_calls.counting() as calls:
                trip = pumping.check_prompt(phone, ip, moment, scoring)
            scoring_reads += aws_calls.total(calls, "dynamodb")
            prompts_scored += 1
            return trip

        # Four weeks of history for every country and slot, seeded through the repository.
        for country in COUNTRIES:
            history = {
                slot: [poisson(rng, expected(country, START + timedelta(minutes=5 * slot)))
                       for _ in range(pumping.WEEKS_OF_HISTORY)]
                for slot in range(2016)
            }  # fmt: skip
            total = sum(sum(weeks) for weeks in history.values())
            found.counters.seed_baseline(
                "country", country, history, prompts=total, confirmations=int(total * CONVERSION)
            )

        attacks = _attacks()
        false_breakers: list[tuple[str, str, str, int]] = []
        requests_per_run: list[int] = []
        pending_confirmations: list[tuple[int, str]] = []
        for tick in range(TICKS):
            bucket = START + timedelta(minutes=5 * tick)
            moment = bucket + timedelta(seconds=30)
            open_now = found.breakers.open_breakers(moment)
            for country in COUNTRIES:
                for _ in range(poisson(rng, expected(country, bucket))):
                    phone = parse(random_number(rng, country))
                    if blocking(phone, open_now):
                        continue
                    client = f"100.64.{rng.randrange(250)}.{rng.randrange(250)}"
                    if (trip := held(phone, client, moment)) is not None:
                        held_legitimate += 1
                        false_breakers.append((trip.rule, trip.dimension, trip.key, tick))
                        open_now = found.breakers.open_breakers(moment)
                        continue
                    found.counters.record_prompt(phone, client, moment)
                    if rng.random() < CONVERSION:
                        pending_confirmations.append((tick + rng.choice((0, 0, 1)), phone.e164))
            for attack in attacks:
                if not attack.start_tick <= tick < attack.start_tick + attack.ticks:
                    continue
                for number, ip in attack.prompts(rng, tick - attack.start_tick):
                    phone = parse(number)
                    attack.keys |= {("country", phone.country), ("prefix", phone.prefix)} | (
                        {("ip", ip)} if ip else set()
                    )
                    covered = blocking(phone, open_now) or (open_now.get(("ip", ip)) if ip else None)
                    if covered:
                        continue
                    if (trip := held(phone, ip, moment)) is not None:
                        # Its breaker opened at once: the prompts after it are covered (the opt-in API
                        # holds them too; their sign-ups are still counted, as the feed counts them).
                        found.counters.record_prompt(phone, ip, moment)
                        open_now = found.breakers.open_breakers(moment)
                        if attack.legitimate:
                            held_legitimate += 1
                            false_breakers.append((trip.rule, trip.dimension, trip.key, tick))
                        elif attack.blocked_at is None:
                            attack.blocked_at = tick
                        continue
                    found.counters.record_prompt(phone, ip, moment)
                    attack.sent += 1
                    if attack.legitimate and rng.random() < CONVERSION:
                        pending_confirmations.append((tick + rng.choice((0, 0, 1)), phone.e164))
            due = [entry for entry in pending_confirmations if entry[0] <= tick]
            pending_confirmations = [entry for entry in pending_confirmations if entry[0] > tick]
            for _, number in due:
                found.counters.record_confirmation(parse(number), moment)

            run_at = bucket + pumping.BUCKET + timedelta(seconds=5)
            with aws_calls.counting() as calls:
                detection = pumping.run_tick(found.counters, found.breakers, events, config, run_at, HOME)
            requests_per_run.append(aws_calls.total(calls, "dynamodb"))
            if os.environ.get("PUMPING_BENCH_DEBUG") and detection.trips:
                print(tick, [(t.rule, t.dimension, t.key) for t in detection.trips])
            for trip in detection.breakers_to_open:
                target = (trip.dimension, trip.key)
                # The attack that most recently started and touched this key owns the breaker.
                owners = [a for a in attacks if target in a.keys and a.start_tick <= tick]
                owner = max(owners, key=lambda a: a.start_tick) if owners else None
                if owner is not None and not owner.legitimate:
                    if owner.blocked_at is None:
                        owner.blocked_at = tick + 1
                else:
                    false_breakers.append((trip.rule, trip.dimension, trip.key, tick))

    return Outcome(attacks, false_breakers, requests_per_run, held_legitimate, scoring_reads, prompts_scored)
