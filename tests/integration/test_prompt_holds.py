"""Prompts held until confirmations vouch for them (issue 13), through the real handlers on moto: the
opt-in API holds a burst over one area code after its budget, the stream's consumer releases held
prompts as the first confirmations are counted, and an attack, which never confirms, stays held."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sms_consent import prompt_holds, pumping, wiring
from sms_consent.breakers import Trip
from sms_consent.config import load_config
from sms_consent.messages import OutboundRequest
from sms_consent.phones import parse
from sms_consent.repository.held_prompts import DynamoHeldPrompts
from sms_consent.settings import DEFAULT_PROGRAM_CONFIG
from sms_consent_local import aws_calls
from tests.conftest import AwsStack, stores
from tests.integration.test_optin_api import deliver_outbound, form, inbound, post

AREA = "+1415"


def burst_number(index: int) -> str:
    """Numbers of one area code spread over eight exchanges (1k blocks), never consecutive: no sweep."""
    return f"{AREA}{231 + index % 8}{(index * 1237 + 311) % 10000:04d}"


def sign_up(stack: AwsStack, numbers: list[str], first_ip: int = 10) -> list[tuple[int, dict[str, Any]]]:
    """One sign-up per number, each from its own address (a CAPTCHA farm rotating IPs); the table's stream
    is folded between requests, as Lambda's poller does within a second."""
    answers = []
    for offset, number in enumerate(numbers):
        status, body, _ = post(stack, form(phone=number), ip=f"198.18.{first_ip}.{offset}")
        answers.append((status, body))
        stack.deliver_stream()
    return answers


def prompted(stack: AwsStack) -> list[dict[str, Any]]:
    return [request for request in stack.outbound_requests() if request["category"] == "optin_prompt"]


def waiting(area: str = AREA) -> list[dict[str, Any]]:
    table = stores().numbers.table
    page = table.client.query(
        TableName=table.name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"HOLD#area#{area}"}},
    )
    items: list[dict[str, Any]] = page["Items"]
    return items


def test_a_burst_over_one_area_code_gets_ten_prompts_out_and_the_rest_held(aws_stack: AwsStack) -> None:
    numbers = [burst_number(index) for index in range(24)]
    answers = sign_up(aws_stack, numbers)

    # Every answer is the one a sent prompt gets: the attacker learns nothing.
    assert {(status, body["status"], body["prompt_sent"]) for status, body in answers} == {(202, "pending", True)}
    assert [request["recipients"][0] for request in prompted(aws_stack)] == numbers[:10]
    assert len(waiting()) == 14
    held = stores().numbers.history(numbers[10])[0]
    assert held.evidence["prompt_held"] == "unconfirmed on area +1415 (until confirmations arrive)"
    assert stores().breakers.all_breakers() == {}  # nothing is closed: confirmations can still vouch


def test_a_confirmation_releases_held_prompts_which_then_reach_the_phone(aws_stack: AwsStack) -> None:
    numbers = [burst_number(index) for index in range(24)]
    sign_up(aws_stack, numbers)
    deliver_outbound(aws_stack)  # the first ten prompts reach their phones

    inbound(aws_stack, "YES", origin=numbers[3])
    aws_stack.deliver_stream()  # counts the confirmation, then releases what it vouches for
    # 10 sent, 1 confirmed. The area code's budget would take 8 more, but the country (a fresh stack:
    # no history, a budget of 10) takes one, for the confirmed prompt → one more, the oldest.
    assert [request["recipients"][0] for request in prompted(aws_stack)] == numbers[10:11]

    inbound(aws_stack, "YES", origin=numbers[6])
    aws_stack.deliver_stream()
    released = prompted(aws_stack)
    # 11 sent, 2 confirmed: the country converts at one in eight, 16 may be out → five more, oldest first.
    assert [request["recipients"][0] for request in released] == numbers[11:16]
    for request in released:
        pending = stores().numbers.get(request["recipients"][0]).programs["alerts"].pending
        assert pending is not None
        assert request["request_id"] == pending.prompt_request_id
        assert request["metadata"]["released_after_hold"] is True
    assert len(waiting()) == 8
    live = stores().counters.read_live([("area", AREA)], wiring.utc_now())
    assert (live[("area", AREA)].sent, live[("area", AREA)].confirmations) == (16, 2)

    # A released prompt is a prompt like any other: the gate sends it and a YES subscribes.
    aws_stack.outbound_envelopes()
    inbound(aws_stack, "YES", origin=numbers[12])
    assert stores().numbers.get(numbers[12]).programs["alerts"].status.value == "subscribed"


def test_a_redelivered_batch_sends_nothing_twice(aws_stack: AwsStack) -> None:
    numbers = [burst_number(index) for index in range(16)]
    sign_up(aws_stack, numbers)
    assert len(prompted(aws_stack)) == 10

    inbound(aws_stack, "YES", origin=numbers[0])
    inbound(aws_stack, "YES", origin=numbers[1])
    aws_stack.deliver_stream()
    assert [request["recipients"][0] for request in prompted(aws_stack)] == numbers[10:]  # all that waited
    assert waiting() == []
    # The stream delivers the same batch again (a retry): nothing is waiting, nothing is sent again.
    aws_stack.deliver_stream()
    assert prompted(aws_stack) == []


def test_an_attack_that_never_confirms_stays_held_while_the_rest_of_the_country_flows(aws_stack: AwsStack) -> None:
    new_york = [f"+1212{300 + index}{4000 + index * 7:04d}" for index in range(4)]
    sign_up(aws_stack, new_york[:3], first_ip=20)
    for number in new_york[:3]:
        inbound(aws_stack, "YES", origin=number)
    aws_stack.deliver_stream()
    assert len(prompted(aws_stack)) == 3

    numbers = [burst_number(index) for index in range(40)]
    sign_up(aws_stack, numbers)
    assert len(prompted(aws_stack)) == 10
    assert len(waiting()) == 30

    # The country's confirmations vouch for a new sign-up in New York, not for the area under attack.
    sign_up(aws_stack, new_york[3:], first_ip=30)
    assert [request["recipients"][0] for request in prompted(aws_stack)] == new_york[3:]
    inbound(aws_stack, "YES", origin=new_york[3])
    aws_stack.deliver_stream()
    assert prompted(aws_stack) == []
    assert len(waiting()) == 30


def test_a_country_without_confirmations_holds_after_its_budget_and_a_confirmation_there_releases(
    aws_stack: AwsStack,
) -> None:
    """A fresh deployment has no history: a burst spread over many area codes (a new country's, say) is
    held by the country's budget; a confirmation anywhere in the country vouches for its own prompt
    (one more), two converting at one in eight for 16."""
    codes = (201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228)
    spread = [f"+1{code}201{1000 + index * 13:04d}" for index, code in enumerate(codes)]
    assert {status for status, _ in sign_up(aws_stack, spread)} == {202}
    out = [request["recipients"][0] for request in prompted(aws_stack)]
    assert out == spread[:10]
    held = stores().numbers.history(spread[10])[0]
    assert held.evidence["prompt_held"] == "unconfirmed on country US (until confirmations arrive)"
    # It waits on its country's budget: held for its area code too, but not waiting for the area code's
    # confirmations (a campaign held by a watched country must not make its area codes look attacked).
    area = ("area", str(parse(spread[10]).area))
    live = stores().counters.read_live([area], wiring.utc_now())[area]
    assert (live.held, live.waiting) == (1, 0)

    inbound(aws_stack, "YES", origin=spread[0])
    aws_stack.deliver_stream()
    assert [request["recipients"][0] for request in prompted(aws_stack)] == spread[10:11]
    inbound(aws_stack, "YES", origin=spread[1])
    aws_stack.deliver_stream()
    assert [request["recipients"][0] for request in prompted(aws_stack)] == spread[11:16]


def test_releasing_costs_one_query_per_scope_and_nothing_when_nothing_waits(aws_stack: AwsStack) -> None:
    post(aws_stack, form(phone="+12122010123"), ip="198.51.100.9")
    aws_stack.deliver_stream()
    inbound(aws_stack, "YES", origin="+12122010123")
    with aws_calls.counting() as calls:
        aws_stack.deliver_stream()
    # The confirmation's block, area code and country: one Query each, and no read of counters.
    assert calls.get("dynamodb.Query", 0) == 3
    assert calls.get("dynamodb.BatchGetItem", 0) == 0


def test_record_only_records_what_it_would_hold_and_sends(aws_stack: AwsStack) -> None:
    aws_stack.runner.env["OptinApiFunction"]["PUMPING_MODE"] = "record_only"  # type: ignore[index]
    aws_stack.runner.load("OptinApiFunction")
    numbers = [burst_number(index) for index in range(14)]
    sign_up(aws_stack, numbers)

    assert len(prompted(aws_stack)) == 14
    assert waiting() == []
    evidence = stores().numbers.history(numbers[10])[0].evidence
    assert evidence["prompt_hold_recorded"] == "unconfirmed on area +1415 (until confirmations arrive)"
    assert "prompt_held" not in evidence


def test_an_area_code_whose_breaker_just_closed_lets_two_prompts_out_not_a_fresh_budget(aws_stack: AwsStack) -> None:
    """Half-open: the breaker opened 40 minutes ago for 30 minutes; the attack that outlasts it gets two
    prompts out in ten minutes (half_open_budget), not the area code's ten."""
    opened = wiring.utc_now() - timedelta(minutes=40)
    stores().breakers.open_breaker(Trip("unconfirmed", "area", AREA, {}, {}), now=opened, previous=None)
    numbers = [burst_number(index) for index in range(6)]

    answers = sign_up(aws_stack, numbers)

    assert {(status, body["prompt_sent"]) for status, body in answers} == {(202, True)}
    assert [request["recipients"][0] for request in prompted(aws_stack)] == numbers[:2]
    assert len(waiting()) == 4


def test_prompts_a_breaker_holds_count_as_held_not_as_waiting_for_confirmations(aws_stack: AwsStack) -> None:
    """`held_unconfirmed` judges what waits for confirmations: a sweep held by its block's breaker must
    not make the whole area code look unconfirmed."""
    numbers = [burst_number(index) for index in range(16)]
    block = parse(numbers[0]).prefix
    stores().breakers.open_breaker(Trip("range_sweep", "prefix", block, {}, {}), now=wiring.utc_now(), previous=None)

    sign_up(aws_stack, numbers)

    covered = [number for number in numbers if parse(number).prefix == block]
    live = stores().counters.read_live([("area", AREA)], wiring.utc_now())[("area", AREA)]
    assert covered
    assert (live.prompts, live.held - live.waiting) == (16, len(covered))
    # Ten leave; the rest of the uncovered ones wait, each on the waiting list.
    assert live.waiting == len(waiting()) == 16 - len(covered) - 10


def test_a_held_sign_up_confirmed_by_its_own_yes_lets_no_other_prompt_out(aws_stack: AwsStack) -> None:
    """The page tells people with no text to text YES: a held person who does is subscribed at once (the
    proof says no prompt reached them), but that YES vouches for none of the prompts held beside it."""
    numbers = [burst_number(index) for index in range(14)]
    sign_up(aws_stack, numbers)
    assert len(prompted(aws_stack)) == 10

    inbound(aws_stack, "YES", origin=numbers[11])
    aws_stack.deliver_stream()

    program = stores().numbers.get(numbers[11]).programs["alerts"]
    assert program.status.value == "subscribed"
    granted = stores().numbers.history(numbers[11])[-1]
    assert (granted.event_type.value, granted.evidence["prompt_never_sent"]) == ("ConsentGranted", True)
    assert prompted(aws_stack) == []  # nothing released
    live = stores().counters.read_live([("area", AREA)], wiring.utc_now())[("area", AREA)]
    assert (live.sent, live.confirmations) == (10, 0)

    # YES to prompts that reached their phones vouch as usual (one, then 16 out: see above); the
    # number that confirmed on its own is not sent a prompt.
    inbound(aws_stack, "YES", origin=numbers[0])
    aws_stack.deliver_stream()
    assert [request["recipients"][0] for request in prompted(aws_stack)] == numbers[10:11]
    inbound(aws_stack, "YES", origin=numbers[1])
    aws_stack.deliver_stream()
    assert [request["recipients"][0] for request in prompted(aws_stack)] == numbers[12:14]
    assert waiting() == []


def test_a_watch_on_the_programs_country_holds_prompts_and_refuses_no_sign_up(aws_stack: AwsStack) -> None:
    """The detector opens a watch, not a breaker, on a programs' own country: sign-ups there are
    answered as usual and, beyond two unconfirmed prompts in ten minutes, wait for confirmations."""
    watch = Trip("conversion_collapse", "country", "US", {}, {})
    stores().breakers.open_breaker(watch, now=wiring.utc_now(), previous=None, watch=True)
    codes = (201, 202, 203, 205, 206)
    spread = [f"+1{code}201{1000 + index * 13:04d}" for index, code in enumerate(codes)]

    answers = sign_up(aws_stack, spread)

    assert {(status, body["status"], body["prompt_sent"]) for status, body in answers} == {(202, "pending", True)}
    assert [request["recipients"][0] for request in prompted(aws_stack)] == spread[:2]
    held = stores().numbers.history(spread[2])[0]
    assert held.evidence["prompt_held"] == "unconfirmed on country US (until confirmations arrive)"


class _Outbox:
    def __init__(self) -> None:
        self.requests: list[OutboundRequest] = []

    def publish(self, request: OutboundRequest) -> Any:
        self.requests.append(request)


def test_a_half_open_scope_releases_a_held_prompt_within_minutes_or_never(aws_stack: AwsStack) -> None:
    """What waits minutes in a half-open scope is mostly the attack's: once it stops knocking, a
    confirmation there lets out only prompts held in the last `half_open_release_minutes` (3); the
    people behind older ones were told to text YES a minute after signing up."""
    opened = wiring.utc_now() - timedelta(minutes=40)
    stores().breakers.open_breaker(Trip("unconfirmed", "area", AREA, {}, {}), now=opened, previous=None)
    numbers = [burst_number(index) for index in range(4)]
    sign_up(aws_stack, numbers)
    assert len(prompted(aws_stack)) == 2
    assert len(waiting()) == 2
    confirmed = parse(numbers[0])

    def release_at(minutes: int) -> list[str]:
        at = wiring.utc_now() + timedelta(minutes=minutes)
        outbox = _Outbox()
        deps = prompt_holds.ReleaseDeps(
            counters=stores().counters, held=DynamoHeldPrompts(stores().numbers.table), store=stores().numbers,
            outbound=outbox, programs=load_config(DEFAULT_PROGRAM_CONFIG), config=pumping.PumpingConfig(),
            clock=lambda: at, breakers=stores().breakers,
        )  # fmt: skip
        prompt_holds.release_held([confirmed], deps)
        return [request.recipients[0] for request in outbox.requests]

    stores().counters.record_confirmation(confirmed, wiring.utc_now())
    assert release_at(4) == []  # held four minutes ago: left to expire
    assert len(waiting()) == 2
    assert release_at(1) == numbers[2:]  # the same prompts a minute after they were held: released
