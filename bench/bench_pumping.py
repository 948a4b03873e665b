"""Traffic-pumping evaluation: a simulated day of normal web-form traffic with injected attacks and
legitimate spikes, driving the real counters and waiting lists (repository.counters / held_prompts on
moto), the real inline scoring (pumping.check_prompt), the real release (prompt_holds.release_held) and
the real detector (pumping.run_tick).

Time runs event by event: sign-ups at their second, each prompt that leaves confirmed (45%) after a
delay drawn like a person's (median about 30 s), each confirmation counted and followed by a release,
as the stream's consumer does within a second. Four weeks of history are seeded into the baselines
first. Attacks stop once a breaker covers them, as the opt-in API and the gate would. Printed: per
attack, prompts that left (overall and to the busiest 1k block); per legitimate spike, sign-ups held and
for how long; side by side for the scheduled detector alone and with inline scoring.
"""

from __future__ import annotations

import heapq
import math
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from sms_consent.consent import NumberState
    from sms_consent.messages import OutboundRequest
    from sms_consent.ports import NumberStore

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday
# moto answers a Query by scanning the whole table, so a simulated day costs minutes: the default is
# one day (288 ticks) holding every attack; PUMPING_BENCH_TICKS=2016 runs the full week.
TICKS = int(os.environ.get("PUMPING_BENCH_TICKS", 24 * 12))
CONVERSION = 0.45
MEDIAN_REPLY_SECONDS = 30.0
# The sign-up page says "no text within a minute? text YES to <number>": a held person who would have
# answered the prompt texts YES a minute after signing up, plus the time a reply takes. (An assumption:
# that the people who would confirm a prompt also follow the page's line.)
OWN_YES_AFTER = timedelta(seconds=60)
PROGRAM = "alerts"  # the sample configuration's program: allowed in the US and Canada
HOME = frozenset({"US", "CA"})  # never a new destination; Canada has no traffic and no history here
US_AREAS = (212, 213, 305, 312, 404, 415, 512, 617, 702, 206, 303, 713, 214, 602, 503, 619)

# Peak prompts per 5 minutes and the UTC offset of each country's evening peak.
COUNTRIES = {"US": (8.0, -5), "GB": (2.0, 0), "FR": (1.5, 1)}
SAMPLE_NUMBERS = {
    "GB": "+4479{:08d}",
    "FR": "+336{:08d}",
    "LV": "+3712{:07d}",
}


def random_number(rng: random.Random, country: str, area: int | None = None) -> str:
    """A valid mobile number of the country, drawn at random (redrawn where a range is unallocated)."""
    from sms_consent.phones import InvalidPhoneNumber, parse

    while True:
        if country in ("US", "CA"):
            code = area or (rng.choice(US_AREAS) if country == "US" else rng.choice((416, 514, 604, 780)))
            candidate = f"+1{code}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
        else:
            candidate = SAMPLE_NUMBERS[country].format(rng.randrange(10**6, 10**7))
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


def reply_delay(rng: random.Random) -> timedelta:
    """How long a person takes to answer the prompt: log-normal, median 30 s, a few take minutes."""
    return timedelta(seconds=min(rng.lognormvariate(math.log(MEDIAN_REPLY_SECONDS), 0.8), 900))


Prompts = Callable[[random.Random, int], list[tuple[str, str | None]]]  # (number, client ip) per bucket


@dataclass
class Traffic:
    name: str
    start_tick: int
    ticks: int
    prompts: Prompts
    legitimate: bool = False
    seconds: float = 300  # its sign-ups spread over the first seconds of each bucket
    signups: int = 0
    sent: int = 0
    by_block: Counter[str] = field(default_factory=Counter)
    blocked_at: int | None = None
    keys: set[tuple[str, str]] = field(default_factory=set)
    held_for: list[float] = field(default_factory=list)  # legitimate: seconds each released prompt waited
    own_yes: list[float] = field(default_factory=list)  # legitimate, held: seconds until they texted YES
    held: int = 0  # legitimate sign-ups held (released, confirmed by their own YES, or neither)


def _traffic() -> list[Traffic]:
    def premium(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "LV"), f"203.0.113.{rng.randrange(250)}") for _ in range(40)]

    def drip(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        # Below a naive per-country cap (50 per 5 minutes): it shows only in conversion.
        return [(random_number(rng, "GB"), f"198.18.{rng.randrange(250)}.{rng.randrange(250)}") for _ in range(14)]

    def home_drip(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        # The same drip to random numbers of the programs' own country, at night there.
        return [(random_number(rng, "US"), f"198.21.{rng.randrange(250)}.{rng.randrange(250)}") for _ in range(14)]

    def sweep(_: random.Random, bucket: int) -> list[tuple[str, str | None]]:
        return [(f"+14152010{100 + bucket * 10 + i:03d}", f"192.0.2.{i}") for i in range(10)]

    def fanout(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "US"), "198.51.100.66") for _ in range(12)]

    def area_burst(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        # 150 numbers over 10 exchanges of one area code, every one from its own address.
        exchanges = [232 + 11 * n for n in range(10)]
        return [(f"+1304{rng.choice(exchanges)}{rng.randrange(10000):04d}", f"198.19.{rng.randrange(250)}.{i}")
                for i in range(50)]  # fmt: skip

    def new_country(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "CA"), f"198.20.{rng.randrange(250)}.{i}") for i in range(50)]

    def tv_ad(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        return [(random_number(rng, "US"), f"10.1.{rng.randrange(250)}.{rng.randrange(250)}") for _ in range(150)]

    def launch(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        # A store chain's launch in one city: 120 sign-ups in five minutes, one area code, every kind of address.
        return [(random_number(rng, "US", 312), f"10.2.{rng.randrange(250)}.{rng.randrange(250)}") for _ in range(120)]

    def spot(rng: random.Random, _: int) -> list[tuple[str, str | None]]:
        # A local TV spot: 100 sign-ups within a minute, one area code.
        return [(random_number(rng, "US", 512), f"10.3.{rng.randrange(250)}.{rng.randrange(250)}") for _ in range(100)]

    return [  # ticks of the first simulated day (Monday, UTC)
        Traffic("burst to a premium-rate country", 40, 6, premium),
        Traffic("slow drip below naive thresholds", 70, 12, drip),
        Traffic("slow drip in the programs' country", 70, 12, home_drip),
        Traffic("sequential sweep of a prefix", 100, 6, sweep),
        Traffic("one IP fanning out", 120, 6, fanout),
        Traffic("burst over one area code", 140, 3, area_burst),
        Traffic("burst to a program country, no history", 160, 2, new_country),
        Traffic("legitimate: national TV ad", 200, 2, tv_ad, legitimate=True),
        Traffic("legitimate: campaign launch, one city", 230, 1, launch, legitimate=True),
        Traffic("legitimate: local TV spot, 100 in a minute", 260, 1, spot, legitimate=True, seconds=60),
    ]


@dataclass
class Outcome:
    traffic: list[Traffic]
    false_breakers: list[tuple[str, str, str, int]]
    watches: list[tuple[str, str, int]]  # watches opened on the programs' countries: rule, country, tick
    requests_per_run: list[int]
    background_held: list[float]  # everyday sign-ups: seconds each held-then-released prompt waited
    background_own_yes: list[float]  # everyday sign-ups held, then confirmed by their own YES: seconds until it
    background_stuck: int  # everyday sign-ups held, never released, no YES of their own (expired, or a breaker)
    background_signups: int
    scoring_requests: int  # DynamoDB requests of inline scoring, all prompts together
    prompts_scored: int


def run() -> list[str]:
    started = time.perf_counter()
    scheduled = simulate(inline=False)
    inline = simulate(inline=True)
    lines = [f"{'traffic':<40} {'scheduled detector only':<30} {'with inline scoring and holds':<40}"]
    for alone, both in zip(scheduled.traffic, inline.traffic, strict=True):
        lines.append(f"{alone.name:<40} {_verdict(alone, scheduled):<30} {_verdict(both, inline):<40}")
    for label, outcome in (("scheduled detector only", scheduled), ("with inline scoring", inline)):
        examples = "; ".join(
            f"{rule} on {dimension} {key} at tick {tick}" for rule, dimension, key, tick in outcome.false_breakers[:3]
        )
        waits, own = outcome.background_held, outcome.background_own_yes
        watches = "; ".join(f"{rule} on {key} at tick {tick}" for rule, key, tick in outcome.watches)
        lines.append(
            f"{label}: false breakers {len(outcome.false_breakers)} in {TICKS} ticks ({TICKS / 288:.1f} simulated "
            f"days){' (' + examples + ')' if examples else ''}; watches {len(outcome.watches)}"
            f"{' (' + watches + ')' if watches else ''}; everyday sign-ups {outcome.background_signups}, "
            f"held then released {len(waits)} (longest {max(waits, default=0):.0f} s), "
            f"held then confirmed by their own YES {len(own)} (longest {max(own, default=0):.0f} s), "
            f"held, neither released nor confirmed {outcome.background_stuck}"
        )
    runs = scheduled.requests_per_run
    lines.append(
        f"DynamoDB requests per detector run: median {sorted(runs)[len(runs) // 2]}, max {max(runs)} "
        "(no Scan; bounded by keys active in the last ten minutes)"
    )
    lines.append(
        f"inline scoring: {inline.scoring_requests / max(inline.prompts_scored, 1):.2f} DynamoDB requests per "
        f"prompt scored ({inline.prompts_scored} prompts)"
    )
    lines.append(f"simulated {TICKS} ticks twice in {time.perf_counter() - started:.0f} s")
    return lines


def _verdict(traffic: Traffic, outcome: Outcome) -> str:
    if traffic.legitimate:
        tripped = any((dimension, key) in traffic.keys for _, dimension, key, _ in outcome.false_breakers)
        waits = traffic.held_for
        stuck = traffic.held - len(waits) - len(traffic.own_yes)
        held = (
            f"held {traffic.held}: longest {max(waits):.0f} s, p50 {statistics.median(waits):.0f} s"
            if waits
            else f"held {traffic.held}"
            if traffic.held
            else "none held"
        )
        own = f", {len(traffic.own_yes)} confirmed by their own YES" if traffic.own_yes else ""
        return f"{'TRIPPED (wrong), ' if tripped else ''}{traffic.sent}/{traffic.signups} sent, {held}{own}" + (
            f", {stuck} never sent" if stuck else ""
        )
    block = max(traffic.by_block.values(), default=0)
    if traffic.blocked_at is None and traffic.sent == traffic.signups:
        return f"{traffic.sent} through (all), block {block}"
    return f"{traffic.sent} through, busiest block {block}"


class _Prompts:
    """The one call the release makes of the number store (`get`): every sign-up here is a pending
    prompt, unsent until it leaves."""

    def __init__(self) -> None:
        self.sent: set[str] = set()
        self.confirmed: set[str] = set()  # by their own YES, their prompt still held: never to be sent

    def get(self, phone: str) -> NumberState:
        from sms_consent.consent import NumberState, Pending, ProgramState, Status

        at = START
        if phone in self.confirmed:
            return NumberState(phone, {PROGRAM: ProgramState(Status.SUBSCRIBED, "keyword", at, at)})
        pending = Pending(at, at + timedelta(days=30), "web_form", f"prompt-{phone}",
                          prompt_message_id="sent" if phone in self.sent else None)  # fmt: skip
        return NumberState(phone, {PROGRAM: ProgramState(Status.PENDING, "web_form", at, at, pending=pending)})


class _Released:
    def __init__(self) -> None:
        self.requests: list[OutboundRequest] = []

    def publish(self, request: OutboundRequest) -> Any:
        self.requests.append(request)


def simulate(*, inline: bool) -> Outcome:
    """One simulated day (or week); with `inline`, every prompt is scored before it leaves, as
    POST /v1/optins does (pumping.check_prompt on the same counters), held when it trips or when its scope
    has more unconfirmed prompts than confirmations vouch for, and released by confirmations."""
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
    from sms_consent import prompt_holds, pumping, wiring
    from sms_consent.breakers import blocking
    from sms_consent.phones import PhoneInfo, parse
    from sms_consent.repository.held_prompts import DynamoHeldPrompts
    from sms_consent_local.harness import function_environment
    from sms_consent_local.resources import create_resources
    from sms_consent_local.template import load_template

    rng = random.Random(2026)
    people = random.Random(7)  # whether a held person texts YES (apart, so the traffic drawn stays the same)
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
        held_store = DynamoHeldPrompts(found.numbers.table)
        scoring = pumping.InlineDeps(found.counters, found.breakers, events, config, held_store, HOME)
        numbers = _Prompts()
        released = _Released()
        clock_now = [START]
        release_deps = prompt_holds.ReleaseDeps(
            counters=found.counters,
            held=held_store,
            store=cast("NumberStore", numbers),
            outbound=released,
            programs=wiring.program_config(settings.program_config),
            config=config,
            clock=lambda: clock_now[0],
            breakers=found.breakers,
        )

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

        traffic = _traffic()
        false_breakers: list[tuple[str, str, str, int]] = []
        requests_per_run: list[int] = []
        background_held: list[float] = []
        background_own_yes: list[float] = []
        watches: list[tuple[str, str, int]] = []
        scoring_requests = prompts_scored = background_signups = background_stuck = 0
        # Events: (time, order, kind, number, ip, owner index or -1 for everyday traffic)
        queue: list[tuple[datetime, int, str, str, str | None, int]] = []
        order = 0
        held_at: dict[str, tuple[datetime, int]] = {}  # number -> when it was held, whose (-1: everyday)

        def push(at: datetime, kind: str, number: str, ip: str | None, owner: int) -> None:
            nonlocal order
            order += 1
            heapq.heappush(queue, (at, order, kind, number, ip, owner))

        def leaves(phone: PhoneInfo, owner: int, at: datetime) -> None:
            """A prompt reaches the phone: pumped numbers never answer, people sometimes do."""
            numbers.sent.add(phone.e164)
            legitimate = owner < 0 or traffic[owner].legitimate
            if os.environ.get("PUMPING_BENCH_DEBUG") and not legitimate:
                print(f"{at:%H:%M:%S} {traffic[owner].name}: a prompt leaves for {phone.e164}")
            if owner >= 0:
                traffic[owner].sent += 1
                traffic[owner].by_block[phone.prefix] += 1
            if legitimate and rng.random() < CONVERSION:
                push(at + reply_delay(rng), "confirm", phone.e164, None, owner)

        def sign_up(number: str, ip: str | None, owner: int, at: datetime, standing: dict[Any, Any]) -> None:
            nonlocal scoring_requests, prompts_scored, background_signups
            phone = parse(number)
            who = traffic[owner] if owner >= 0 else None
            if who is not None:
                who.signups += 1
                who.keys |= set(pumping.prompt_keys(phone, ip))
            else:
                background_signups += 1
            legitimate = who is None or who.legitimate
            open_now = {key: breaker for key, breaker in standing.items() if breaker.is_open(at)}
            if blocking(phone, open_now, client_ip=ip):
                if who is not None and not who.legitimate and who.blocked_at is None:
                    who.blocked_at = (at - START) // pumping.BUCKET
                if legitimate:  # attack collateral: held, never sent (its own YES still confirms it)
                    held_legitimately(phone, owner, at)
                found.counters.record_prompt(phone, ip, at, held=True)
                return
            reason = verdict = None
            if inline:
                with aws_calls.counting() as calls:
                    verdict = pumping.check_prompt(phone, ip, at, scoring, pumping.half_open(standing, at, config))
                scoring_requests += aws_calls.total(calls, "dynamodb")
                prompts_scored += 1
                reason = verdict.reason
                if verdict.trip is not None and legitimate:
                    false_breakers.append((verdict.trip.rule, verdict.trip.dimension, verdict.trip.key,
                                           (at - START) // pumping.BUCKET))  # fmt: skip
            waits = verdict is not None and verdict.trip is None and verdict.waiting is not None
            waits_in = reason.dimension if waits and reason is not None else None
            found.counters.record_prompt(phone, ip, at, held=reason is not None, waits_in=waits_in)
            if reason is None:
                leaves(phone, owner, at)
                return
            if legitimate:
                held_legitimately(phone, owner, at)
            else:
                held_at[phone.e164] = (at, owner)  # whose prompt a release lets out
            if verdict is not None and verdict.waiting is not None and verdict.trip is None:
                prompt_holds.hold(phone.e164, PROGRAM, None, (reason.dimension, reason.key), at, held_store, config)

        def held_legitimately(phone: PhoneInfo, owner: int, at: datetime) -> None:
            if owner >= 0:
                traffic[owner].held += 1
            held_at[phone.e164] = (at, owner)
            if people.random() < CONVERSION:
                push(at + OWN_YES_AFTER + reply_delay(people), "own_yes", phone.e164, None, owner)

        def own_yes(number: str, at: datetime) -> None:
            """A held person texts YES: subscribed (no prompt reached them); it vouches for no other prompt."""
            if number not in held_at or number in numbers.sent:
                return  # released meanwhile: they answered the prompt instead
            since, owner = held_at.pop(number)
            numbers.confirmed.add(number)
            waited = (at - since).total_seconds()
            (background_own_yes if owner < 0 else traffic[owner].own_yes).append(waited)

        def confirm(number: str, at: datetime) -> None:
            phone = parse(number)
            found.counters.record_confirmation(phone, at)
            if not inline:
                return
            clock_now[0] = at
            released.requests.clear()
            prompt_holds.release_held([phone], release_deps)
            for request in released.requests:
                freed = parse(request.recipients[0])
                since, owner = held_at.pop(freed.e164)
                if owner < 0 or traffic[owner].legitimate:  # how long a person's prompt waited
                    waited = (at - since).total_seconds()
                    (background_held if owner < 0 else traffic[owner].held_for).append(waited)
                leaves(freed, owner, at)

        for tick in range(TICKS):
            bucket = START + timedelta(minutes=5 * tick)
            for country in COUNTRIES:
                for _ in range(poisson(rng, expected(country, bucket))):
                    at = bucket + timedelta(seconds=rng.uniform(0, 300))
                    client = f"100.64.{rng.randrange(250)}.{rng.randrange(250)}"
                    push(at, "signup", random_number(rng, country), client, -1)
            for index, item in enumerate(traffic):
                if item.start_tick <= tick < item.start_tick + item.ticks:
                    for number, ip in item.prompts(rng, tick - item.start_tick):
                        push(bucket + timedelta(seconds=rng.uniform(0, item.seconds)), "signup", number, ip, index)
            standing = found.breakers.all_breakers()
            while queue and queue[0][0] < bucket + pumping.BUCKET:
                at, _, kind, number, ip, owner = heapq.heappop(queue)
                if kind == "signup":
                    sign_up(number, ip, owner, at, standing)
                    standing = found.breakers.all_breakers()
                elif kind == "own_yes":
                    own_yes(number, at)
                else:
                    confirm(number, at)

            run_at = bucket + pumping.BUCKET + timedelta(seconds=5)
            with aws_calls.counting() as calls:
                detection = pumping.run_tick(found.counters, found.breakers, events, config, run_at, HOME)
            requests_per_run.append(aws_calls.total(calls, "dynamodb"))
            if os.environ.get("PUMPING_BENCH_DEBUG") and detection.trips:
                print(tick, [(t.rule, t.dimension, t.key) for t in detection.trips])
            for trip in detection.breakers_to_open:
                target = (trip.dimension, trip.key)
                # The attack that most recently started and touched this key owns the breaker.
                owners = [t for t in traffic if target in t.keys and t.start_tick <= tick]
                owner_of = max(owners, key=lambda t: t.start_tick) if owners else None
                if owner_of is not None and not owner_of.legitimate:
                    if owner_of.blocked_at is None:
                        owner_of.blocked_at = tick + 1
                else:
                    false_breakers.append((trip.rule, trip.dimension, trip.key, tick))
            if detection.watches_to_open:
                now_standing = found.breakers.all_breakers()
                watches.extend(
                    (trip.rule, trip.key, tick)
                    for trip in detection.watches_to_open
                    if now_standing[(trip.dimension, trip.key)].opened_at == run_at  # opened, not re-reported
                )
        background_stuck += sum(1 for _, owner in held_at.values() if owner < 0)

    return Outcome(traffic, false_breakers, watches, requests_per_run, background_held, background_own_yes,
                   background_stuck, background_signups, scoring_requests, prompts_scored)  # fmt: skip
