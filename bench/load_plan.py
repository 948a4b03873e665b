"""The load on the local stack (issue 16): what each number says and expects, and the checks afterwards.

Shared by `bench/bench_load.py` (full size: 10,000 inbound messages from 2,000 numbers, 1,000 web
sign-ups) and `tests/e2e/test_load.py` (a bounded variant). The load itself runs in its own process
(`bench/locustfile.py`, Locust and gevent's monkey-patching): this module imports neither.

Each number follows a script. A step publishes an inbound message in the AWS End User Messaging two-way
format to InboundSmsTopic (or POSTs /v1/optins), names the replies it must cause (tags, see `tag`), and
says whether the number waits for them before its next step. A duplicate delivery republishes an earlier
step's payload unchanged (the same `inboundMessageId`), right away or after the original was answered.
A number's replies are therefore expected in script order, and each is charged to the step that caused
it: the latency from publish to reply is measured on the outbox line's `sent_at`.

Scripts (toll-free +18005550100: program alerts, bare STOP leaves it; short code 12345: tone1/tone2,
a bare STOP with two active programs sends the menu):
- A: ALERTS, YES, STOP, STOP again at once, "ok thanks"               -> alerts unsubscribed
- B: HELP, ALERTS, the ALERTS again (late), YES, YES again at once     -> alerts subscribed
- C: STOP (a number never seen), the STOP again (late), START, YES, "hello" -> alerts subscribed
- D: TONE1, YES, STOP (one active program: all), STOP again at once, HELP -> tone1/tone2 unsubscribed
- E: TONE1, YES, TONE2, YES, STOP (the menu), STOP ALL                 -> tone1/tone2 unsubscribed
- F: HELP, "what is this", the same again at once, STOP                -> alerts unsubscribed
Five publishes a number on average, at most four capped replies (frequency_caps.REPLY_LIMIT is five per
ten minutes; opt-out confirmations and the menu are not capped).

Sign-ups (POST /v1/optins, web_form, double opt-in, CAPTCHA `test-pass`, a client IP of their own, every
number in a 1k block of its own so the per-IP, per-number and per-block limits never refuse them):
- S1: sign up, then YES by SMS                                          -> subscribed
- S2: two submissions at once                                           -> pending
- S3: sign up, resubmit after the prompt, YES, resubmit once subscribed -> subscribed
- S4: sign up                                                           -> pending
Every sign-up causes exactly one prompt; a resubmission none (consent.PROMPT_INTERVAL).
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

TOLL_FREE = "+18005550100"
SHORT_CODE = "12345"
CAPTCHA_PASS = "test-pass"
CONSENT_TEXT = (
    "I agree to receive Example Corp Alerts, 4 msgs/month. Msg & data rates may apply. "
    "Reply STOP to cancel, HELP for help."
)
MAX_NUMBERS = 7_990  # number() is valid and in a 1k block of its own below this

# What a reply is, from its outbox line.
PROMPT, CONFIRMED, STOPPED, MENU, HELP = "prompt", "confirmed", "stopped", "menu", "help"
# What must exist for a distinct inbound message afterwards.
AUDIT, REPLY, RECEIVED = "audit", "reply", "received"


def number(area: str, index: int) -> str:
    """A valid US number in a 1k block of its own (sign-ups are limited to 30 an hour per block)."""
    if not 0 <= index < MAX_NUMBERS:
        raise ValueError(f"index {index} out of range")
    return f"+1{area}{201 + index // 10}{index % 10}{index % 1000:03d}"


def client_ip(index: int) -> str:
    return f"10.{index // 65536 % 256}.{index // 256 % 256}.{index % 256}"  # 30 sign-ups an hour per IP


def tag(line: dict[str, Any]) -> str:
    """What an outbox line is: a prompt, a confirmation, an opt-out confirmation, the menu, or help."""
    body = str(line.get("body", ""))
    if line.get("category") == "optin_prompt":
        return PROMPT
    if "you are subscribed" in body:
        return CONFIRMED
    if "Until you answer" in body:
        return MENU
    if "unsubscribed" in body:
        return STOPPED
    if "help at" in body:
        return HELP
    return "other: " + body[:60]


@dataclass(frozen=True)
class Step:
    """One thing a number does. `action`: sms (a new message), dup (republish the step `message_id`),
    post (one sign-up), post_pair (two identical sign-ups at once)."""

    action: str
    message_id: str = ""
    text: str = ""
    to: str = TOLL_FREE
    expect: tuple[str, ...] = ()  # reply tags this step causes, in order
    wait: bool = False  # wait for every reply expected so far before the next step
    outcome: str = ""  # for an sms: what proves it was handled (AUDIT, REPLY or RECEIVED)
    statuses: tuple[int, ...] = ()  # for a post: the HTTP statuses accepted


@dataclass(frozen=True)
class Script:
    phone: str
    kind: str
    steps: tuple[Step, ...]
    final: dict[str, str]  # program -> status in the table afterwards
    client_ip: str = ""

    @property
    def expected_replies(self) -> list[str]:
        return [reply for step in self.steps for reply in step.expect]


@dataclass(frozen=True)
class Plan:
    conversations: tuple[Script, ...]
    signups: tuple[Script, ...]

    @property
    def inbound_publishes(self) -> int:
        return sum(1 for script in self.all for step in script.steps if step.action in ("sms", "dup"))

    @property
    def distinct_inbound(self) -> int:
        return sum(1 for script in self.all for step in script.steps if step.action == "sms")

    @property
    def duplicates(self) -> int:
        return sum(1 for script in self.all for step in script.steps if step.action == "dup")

    @property
    def posts(self) -> int:
        counts = {"post": 1, "post_pair": 2}
        return sum(counts.get(step.action, 0) for script in self.signups for step in script.steps)

    @property
    def all(self) -> tuple[Script, ...]:
        return self.conversations + self.signups

    def to_json(self) -> str:
        return json.dumps({"conversations": [asdict(s) for s in self.conversations],
                           "signups": [asdict(s) for s in self.signups]})  # fmt: skip

    @staticmethod
    def from_json(text: str) -> Plan:
        raw = json.loads(text)

        def script(item: dict[str, Any]) -> Script:
            steps = tuple(
                Step(**{**step, "expect": tuple(step["expect"]), "statuses": tuple(step["statuses"])})
                for step in item["steps"]
            )
            return Script(item["phone"], item["kind"], steps, item["final"], item["client_ip"])

        return Plan(tuple(script(s) for s in raw["conversations"]), tuple(script(s) for s in raw["signups"]))


def _sms(text: str, expect: tuple[str, ...], outcome: str, *, to: str = TOLL_FREE, wait: bool = True) -> Step:
    return Step("sms", str(uuid.uuid4()), text, to, expect, wait, outcome)


def _dup(original: Step, *, wait: bool = True) -> Step:
    return Step("dup", original.message_id, original.text, original.to, (), wait)


def conversation(kind: str, phone: str) -> Script:
    sc = SHORT_CODE
    if kind == "A":
        stop = _sms("STOP", (STOPPED,), AUDIT, wait=False)
        steps = [_sms("ALERTS", (PROMPT,), AUDIT), _sms("YES", (CONFIRMED,), AUDIT), stop, _dup(stop),
                 _sms("ok thanks", (), RECEIVED, wait=False)]  # fmt: skip
        final = {"alerts": "unsubscribed"}
    elif kind == "B":
        join, yes = _sms("ALERTS", (PROMPT,), AUDIT), _sms("Yes", (CONFIRMED,), AUDIT, wait=False)
        steps = [_sms("HELP", (HELP,), REPLY), join, _dup(join, wait=False), yes, _dup(yes)]
        final = {"alerts": "subscribed"}
    elif kind == "C":
        stop = _sms("Stop please", (STOPPED,), AUDIT)
        steps = [stop, _dup(stop, wait=False), _sms("START", (PROMPT,), AUDIT), _sms("YES", (CONFIRMED,), AUDIT),
                 _sms("hello", (), RECEIVED, wait=False)]  # fmt: skip
        final = {"alerts": "subscribed"}
    elif kind == "D":
        stop = _sms("STOP", (STOPPED,), AUDIT, to=sc, wait=False)
        steps = [_sms("TONE1", (PROMPT,), AUDIT, to=sc), _sms("YES", (CONFIRMED,), AUDIT, to=sc), stop, _dup(stop),
                 _sms("HELP", (HELP,), REPLY, to=sc)]  # fmt: skip
        final = {"tone1": "unsubscribed", "tone2": "unsubscribed"}
    elif kind == "E":
        steps = [_sms("TONE1", (PROMPT,), AUDIT, to=sc), _sms("YES", (CONFIRMED,), AUDIT, to=sc),
                 _sms("TONE2", (PROMPT,), AUDIT, to=sc), _sms("YES", (CONFIRMED,), AUDIT, to=sc),
                 _sms("STOP", (MENU,), AUDIT, to=sc), _sms("STOP ALL", (STOPPED,), AUDIT, to=sc)]  # fmt: skip
        final = {"tone1": "unsubscribed", "tone2": "unsubscribed"}
    elif kind == "F":
        chat = _sms("what is this", (), RECEIVED, wait=False)
        steps = [_sms("HELP", (HELP,), REPLY), chat, _dup(chat, wait=False), _sms("STOP", (STOPPED,), AUDIT)]
        final = {"alerts": "unsubscribed"}
    else:
        raise ValueError(kind)
    return Script(phone, kind, tuple(steps), final)


def signup(kind: str, phone: str, ip: str) -> Script:
    pending, subscribed = (202,), (200,)
    first = Step("post", expect=(PROMPT,), wait=True, statuses=pending)
    if kind == "S1":
        steps = [first, _sms("YES", (CONFIRMED,), AUDIT)]
        final = {"alerts": "subscribed"}
    elif kind == "S2":
        steps = [Step("post_pair", expect=(PROMPT,), wait=True, statuses=pending)]
        final = {"alerts": "pending"}
    elif kind == "S3":
        steps = [first, Step("post", statuses=pending), _sms("YES", (CONFIRMED,), AUDIT),
                 Step("post", statuses=subscribed)]  # fmt: skip
        final = {"alerts": "subscribed"}
    elif kind == "S4":
        steps = [first]
        final = {"alerts": "pending"}
    else:
        raise ValueError(kind)
    return Script(phone, kind, tuple(steps), final, ip)


CONVERSATION_KINDS = ("A", "B", "C", "D", "E", "F")
SIGNUP_KINDS = ("S1", "S2", "S3", "S4")


def make_plan(numbers: int, signups: int) -> Plan:
    """`numbers` numbers texting (five messages each on average), `signups` web sign-ups."""
    if numbers > MAX_NUMBERS or signups > MAX_NUMBERS:
        raise ValueError(f"at most {MAX_NUMBERS} numbers of each kind")
    return Plan(
        tuple(conversation(CONVERSATION_KINDS[i % 6], number("415", i)) for i in range(numbers)),
        tuple(signup(SIGNUP_KINDS[i % 4], number("650", i), client_ip(i)) for i in range(signups)),
    )


def inbound_payload(phone: str, step: Step) -> str:
    """The SNS message: AWS End User Messaging SMS's two-way payload, unchanged (DESIGN.md)."""
    return json.dumps(
        {
            "originationNumber": phone,
            "destinationNumber": step.to,
            "messageKeyword": "KEYWORD_123456789012",
            "messageBody": step.text,
            "inboundMessageId": step.message_id,
            "previousPublishedMessageId": "",
        }
    )


def signup_body(phone: str) -> dict[str, Any]:
    return {
        "phone": phone,
        "program": "alerts",
        "source": "web_form",
        "use_double_opt_in": True,
        "captcha_token": CAPTCHA_PASS,
        "language": "en",
        "consent_text": CONSENT_TEXT,
        "page_url": "https://example.com/signup",
    }


def signup_headers(ip: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "Mozilla/5.0 (load) sms-consent",
        "Origin": "https://example.com",
        "X-Forwarded-For": ip,  # the local API's sourceIp, as API Gateway's
    }


# ---------------------------------------------------------------------- afterwards


def read_outbox(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def wait_drained(sqs: Any, outbox: Path, *, quiet: float = 3.0, timeout: float = 300.0) -> float:
    """Wait until every queue of the stack is empty and the outbox has not grown for `quiet` seconds;
    returns the seconds waited."""
    started = time.monotonic()
    size, still_since = -1, time.monotonic()
    urls: list[str] = sqs.list_queues(MaxResults=1000).get("QueueUrls", [])
    while time.monotonic() - started < timeout:
        busy = 0
        for url in urls:
            attributes = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            if "DeadLetter" not in url and "probe" not in url:
                busy += int(attributes["ApproximateNumberOfMessages"])
                busy += int(attributes["ApproximateNumberOfMessagesNotVisible"])
        current = outbox.stat().st_size if outbox.exists() else 0
        if current != size or busy:
            size, still_since = current, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return time.monotonic() - started
        time.sleep(0.5)
    raise AssertionError(f"the stack did not drain within {timeout} s")


def dead_letters(sqs: Any) -> dict[str, int]:
    """Messages (visible or in flight) on each of the stack's dead-letter queues."""
    found: dict[str, int] = {}
    for url in sqs.list_queues(MaxResults=1000).get("QueueUrls", []):
        if "DeadLetter" not in url:
            continue
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        found[url.rsplit("/", 1)[-1]] = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
    return found


def subscribe_received_probe(sqs: Any, events: Any, bus: str) -> str:
    """A queue that gets the bus's InboundMessageReceived events (a message that changed nothing and
    got no reply proves it was handled there); returns its URL."""
    name = f"load-probe-{uuid.uuid4().hex[:8]}"
    url: str = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": ["sms-consent"], "detail-type": ["InboundMessageReceived"]}
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "probe", "Arn": arn}])
    return url


def drain_probe(sqs: Any, url: str) -> list[str]:
    """The inbound message ids of every InboundMessageReceived event on the probe queue."""
    ids: list[str] = []
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            empty += 1
            continue
        empty = 0
        for message in messages:
            ids.append(str(json.loads(message["Body"])["detail"]["inbound_message_id"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return ids


@dataclass
class TableView:
    """What the table holds for the numbers of the load: statuses and audit events."""

    statuses: dict[str, dict[str, str]] = field(default_factory=dict)  # phone -> program -> status
    ask_pending: dict[str, list[str]] = field(default_factory=dict)
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # inbound message id -> events
    scanned: int = 0


def read_table(dynamodb: Any, table: str) -> TableView:
    view = TableView()
    paginator = dynamodb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            view.scanned += 1
            pk, sk = item["PK"]["S"], item["SK"]["S"]
            if not pk.startswith("PHONE#"):
                continue
            phone = pk.removeprefix("PHONE#")
            if sk == "STATE":
                programs = item.get("programs", {}).get("M", {})
                view.statuses[phone] = {name: value["M"]["status"]["S"] for name, value in programs.items()}
                view.ask_pending[phone] = list(item.get("ask_pending", {}).get("M", {}))
            elif sk.startswith("EVENT#"):
                evidence = item.get("evidence", {}).get("M", {})
                message_id = evidence.get("inbound_message_id", {}).get("S")
                if message_id:
                    view.events.setdefault(message_id, []).append(
                        {
                            "phone": phone,
                            "program": item.get("program", {}).get("S"),
                            "type": item["event_type"]["S"],
                            "new": item.get("new_status", {}).get("S"),
                        }
                    )
    return view


@dataclass
class Findings:
    """Everything the load got wrong (each list empty when all is well) and what it measured."""

    wrong_replies: list[str] = field(default_factory=list)  # a number's replies differ from its script
    double_prompts: list[str] = field(default_factory=list)
    double_confirmations: list[str] = field(default_factory=list)
    stop_not_answered_once: list[str] = field(default_factory=list)
    not_opted_out: list[str] = field(default_factory=list)
    wrong_status: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # distinct inbound messages without their outcome
    duplicate_effects: list[str] = field(default_factory=list)  # the same change recorded twice for one message
    dead_letters: dict[str, int] = field(default_factory=dict)
    driver_failures: list[str] = field(default_factory=list)  # what the load driver itself saw fail
    reply_latencies: list[float] = field(default_factory=list)  # seconds, inbound publish -> reply sent
    signup_latencies: list[float] = field(default_factory=list)  # seconds, POST sent -> prompt sent
    outbox_lines: int = 0

    @property
    def problems(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            name: value
            for name, value in asdict(self).items()
            if name not in ("reply_latencies", "signup_latencies", "outbox_lines", "dead_letters") and value
        }
        if any(self.dead_letters.values()):
            found["dead_letters"] = {name: count for name, count in self.dead_letters.items() if count}
        return found


def check(
    plan: Plan,
    results: dict[str, Any],
    outbox: list[dict[str, Any]],
    view: TableView,
    received_ids: Iterable[str],
    dead: dict[str, int],
) -> Findings:
    """Compare what happened with what every script expects (see the module's docstring)."""
    found = Findings(dead_letters=dead, driver_failures=list(results.get("failures", [])), outbox_lines=len(outbox))
    by_phone: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in outbox:
        by_phone[str(line["to"])].append(line)
    published: dict[str, float] = results.get("published", {})  # message id -> first publish (epoch)
    posted: dict[str, float] = results.get("posted", {})  # phone -> first POST (epoch)
    received = set(received_ids)
    for script in plan.all:
        lines = by_phone.get(script.phone, [])
        tags = [tag(line) for line in lines]
        if tags != script.expected_replies:
            found.wrong_replies.append(f"{script.kind} {script.phone}: {tags} != {script.expected_replies}")
        counts = Counter(tags)
        if counts[PROMPT] > script.expected_replies.count(PROMPT):
            found.double_prompts.append(f"{script.kind} {script.phone}: {counts[PROMPT]} prompts")
        if counts[CONFIRMED] > script.expected_replies.count(CONFIRMED):
            found.double_confirmations.append(f"{script.kind} {script.phone}: {counts[CONFIRMED]} confirmations")
        if counts[STOPPED] != script.expected_replies.count(STOPPED):
            found.stop_not_answered_once.append(f"{script.kind} {script.phone}: {counts[STOPPED]} opt-out replies")
        statuses = view.statuses.get(script.phone, {})
        for program, status in script.final.items():
            if statuses.get(program) != status:
                target = found.not_opted_out if status == "unsubscribed" else found.wrong_status
                target.append(f"{script.kind} {script.phone} {program}: {statuses.get(program)} (expected {status})")
        if view.ask_pending.get(script.phone):
            found.wrong_status.append(f"{script.kind} {script.phone}: a STOP menu still open")
        # Latencies: the k-th expected reply belongs to the step that expects it.
        causes = [step for step in script.steps for _ in step.expect]
        for line, step, expected in zip(lines, causes, script.expected_replies, strict=False):
            if tag(line) != expected:
                break
            sent = _epoch(str(line["sent_at"]))
            if step.action == "sms" and step.message_id in published:
                found.reply_latencies.append(sent - published[step.message_id])
            elif step.action.startswith("post") and script.phone in posted:
                found.signup_latencies.append(sent - posted[script.phone])
        for step in script.steps:
            if step.action != "sms":
                continue
            events = view.events.get(step.message_id, [])
            if step.outcome == AUDIT and not events:
                found.lost.append(f"{script.kind} {script.phone} {step.text!r} {step.message_id}: no audit event")
            if step.outcome == RECEIVED and step.message_id not in received:
                found.lost.append(f"{script.kind} {script.phone} {step.text!r}: no InboundMessageReceived")
            # (REPLY outcomes are the replies compared above.)
            changes = Counter((event["program"], event["type"], event["new"]) for event in events)
            twice = [change for change, count in changes.items() if count > 1]
            if twice:
                found.duplicate_effects.append(f"{script.kind} {script.phone} {step.text!r}: {twice} recorded twice")
    return found


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[max(0, min(998, round(share * 1000) - 1))]
