"""`sms-consent drill`: a carrier auditor's walk through every sender and program of a configuration.

For each sender, from handsets of its own, it texts what an auditor texts and checks what comes back:

- `HELP` to the sender: the reply names the brand, gives a support contact and says how to opt out;
- for each program: its keyword (an opt-in prompt, or the confirmation without double opt-in), `YES`
  (the confirmation), `STOP` (an opt-out confirmation) and `START` (a new prompt for what it left);
- on a shared sender that asks (`bare_stop: ask`): two programs joined, a bare `STOP` (the menu, which
  must offer `STOP <keyword>` for each program and `STOP ALL`), `STOP <keyword>` (that program only)
  and `STOP` again (all the rest).

Every reply is checked with the compliance lint's `reply_problems`, and every step's state change with
the admin API (`GET /v1/numbers/{phone}`): keyword -> pending (or subscribed), YES -> subscribed, STOP
-> no program of the sender left subscribed or pending, HELP and the menu -> nothing changes.

Handsets are fictional numbers: +1 NPA 555-01xx, the range the North American Numbering Plan keeps for
fiction, so no real subscriber can be texted or changed. Each run picks an area code and a start in
the range at random (`--numbers-from` fixes them): the gate allows a number only a few non-opt-out
replies per ten minutes, so a second run right after the first needs other handsets.

Targets:
- the local stack (default): inbound texts are published to its InboundSmsTopic on the emulator, and
  the replies are read from its outbox (`.local/outbox.jsonl`);
- a deployed stack (`--stack NAME`): the texts go to the stack's InboundSmsTopicArn output with the
  caller's AWS credentials, and the admin API is found as `sms-consent numbers` finds it. Replies go
  out through End User Messaging SMS to the fictional handsets, where nobody can read them: a deployed
  drill checks the state changes only, and marks every reply "not observed" (the local drill, on the
  same configuration, checks their content). A step that changes no state (HELP, the menu) gets
  `--settle` seconds before the handset's next text, as nothing tells when it was processed.

`--config` must be the configuration the target runs (the shipped one by default).

Exit codes: 0 every step passed; 1 a step failed (standard error names each); 2 a configuration that
does not load or a handset outside the fictional range; 5 the target did not answer; 6 no target.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sms_consent.compliance_lint import ReplyKind, reply_problems
from sms_consent.config import ConfigError, Program, ProgramConfig, Sender, load_config
from sms_consent_local.cli import inbound_payload, read_outbox
from sms_consent_local.operator_api import NO_TARGET, UNAVAILABLE, Api, OperatorError, resolve

# Area codes in use in states without statutory caps or hours of their own (see state_rules).
AREA_CODES = ("202", "206", "212", "303", "312", "415", "503", "512", "617", "702", "713", "720", "808", "919")
FICTIONAL_EXCHANGE = "55501"  # 555-0100 to 555-0199
REPLY_TIMEOUT_SECONDS = 20.0
STATE_TIMEOUT_SECONDS = 5.0
SETTLE_SECONDS = 0.3  # after the expected replies, how long an extra (duplicate) one has to show
# Without replies to wait for (a deployed stack), how long a step that changes nothing is given to be
# processed before the next text from the same handset.
UNOBSERVED_SETTLE_SECONDS = 5.0
WALKS_IN_PARALLEL = 4
FAILED = 1

Statuses = dict[str, str]  # program -> subscribed | unsubscribed | pending, as GET /v1/numbers shows it
StateCheck = Callable[[Statuses, Statuses], list[str]]


@dataclass
class Step:
    sender: str
    program: str | None
    name: str
    phone: str
    text: str
    replies: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    skipped: str | None = None
    observed: bool = True  # False where the replies cannot be read (a deployed stack)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        return f"{self.name} on {self.sender}" + (f" ({self.program})" if self.program else "")


class Line(Protocol):
    """Texts from one handset to the target, and what the target sent back to it."""

    def send(self, phone: str, sender: str, text: str) -> None: ...

    def replies(self, phone: str, sender: str, count: int, timeout: float) -> list[dict[str, Any]] | None:
        """The replies since the last send (None where they cannot be observed)."""
        ...


class LocalLine:
    """The local stack: SNS on the emulator in, the outbox out (what `sms-consent sms` does)."""

    def __init__(self, outputs: dict[str, str], workdir: Path) -> None:
        import boto3

        self._topic = outputs["InboundSmsTopicArn"]
        self._outbox = Path(outputs.get("OutboxPath") or workdir / "outbox.jsonl")
        self._sns = boto3.session.Session().client(
            "sns",
            region_name="us-east-1",
            endpoint_url=outputs["AwsEndpointUrl"],
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        self._offsets: dict[str, int] = {}
        self._last_message: dict[tuple[str, str], str] = {}

    def send(self, phone: str, sender: str, text: str) -> None:
        self._offsets[phone] = self._outbox.stat().st_size if self._outbox.is_file() else 0
        # What End User Messaging SMS fills in: the last message the sender sent this handset.
        previous = self._last_message.get((phone, sender), "")
        self._sns.publish(TopicArn=self._topic, Message=json.dumps(inbound_payload(phone, text, sender, previous)))

    def replies(self, phone: str, sender: str, count: int, timeout: float) -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        settle_until: float | None = None
        while True:
            lines, self._offsets[phone] = read_outbox(self._outbox, self._offsets.get(phone, 0))
            found += [line for line in lines if line.get("to") == phone and line.get("from") == sender]
            now = time.monotonic()
            if len(found) >= count and settle_until is None:
                settle_until = now + SETTLE_SECONDS
            if now > deadline or (settle_until is not None and now > settle_until):
                break
            time.sleep(0.1)
        for line in found:
            if line.get("message_id"):
                self._last_message[(phone, sender)] = str(line["message_id"])
        return found


class DeployedLine:
    """A deployed stack: the caller's AWS credentials publish to its InboundSmsTopicArn."""

    def __init__(self, stack: str, region: str | None) -> None:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        session = boto3.session.Session(region_name=region)
        try:
            (described,) = session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        except (BotoCoreError, ClientError) as exc:
            raise OperatorError(f"stack {stack}: {exc}", NO_TARGET) from None
        outputs = {item["OutputKey"]: item["OutputValue"] for item in described.get("Outputs", [])}
        if "InboundSmsTopicArn" not in outputs:
            raise OperatorError(f"stack {stack} has no InboundSmsTopicArn output", NO_TARGET)
        self._topic = outputs["InboundSmsTopicArn"]
        self._sns = session.client("sns")

    def send(self, phone: str, sender: str, text: str) -> None:
        # previousPublishedMessageId stays empty: a YES then answers the sender's latest open prompt.
        self._sns.publish(TopicArn=self._topic, Message=json.dumps(inbound_payload(phone, text, sender)))

    def replies(self, phone: str, sender: str, count: int, timeout: float) -> list[dict[str, Any]] | None:
        return None


class Handsets:
    """Fictional numbers, +1 NPA 555-01xx, handed out in order from a start in the range."""

    def __init__(self, first: str | None) -> None:
        if first is None:
            self._area, self._next = random.choice(AREA_CODES), random.randrange(100)
        else:
            if not (first.startswith("+1") and len(first) == 12 and first[5:10] == FICTIONAL_EXCHANGE):
                raise ValueError(f"{first} is not a fictional number +1 NPA 555-01xx")
            self._area, self._next = first[2:5], int(first[10:])
        self._handed = 0

    def take(self) -> str:
        if self._handed == 100:
            raise ValueError("the drill needs more than the 100 fictional numbers of one area code")
        number = f"+1{self._area}{FICTIONAL_EXCHANGE}{self._next % 100:02d}"
        self._next += 1
        self._handed += 1
        return number


@dataclass(frozen=True)
class Drill:
    config: ProgramConfig
    line: Line
    api: Api
    reply_timeout: float = REPLY_TIMEOUT_SECONDS
    unobserved_settle: float = UNOBSERVED_SETTLE_SECONDS

    def statuses(self, phone: str) -> Statuses:
        number = self.api.json("GET", f"/v1/numbers/{urllib.parse.quote(phone)}")
        return {program: str(view["status"]) for program, view in number.get("programs", {}).items()}

    def exchange(
        self,
        step: Step,
        expected: Sequence[tuple[ReplyKind, tuple[Program, ...]]],
        state_check: StateCheck,
        *,
        changes_state: bool = True,
    ) -> tuple[Step, Statuses]:
        """Send the step's text; check the replies against `expected` (any order) and the state change."""
        before = self.statuses(step.phone)
        self.line.send(step.phone, step.sender, step.text)
        received = self.line.replies(step.phone, step.sender, len(expected), self.reply_timeout)
        if received is None:
            step.observed = False
            if not changes_state:
                # Nothing to wait for: give the stack time to process it, or the next text could overtake it.
                time.sleep(self.unobserved_settle)
        else:
            step.replies = [str(line.get("body", "")) for line in received]
            step.problems += _reply_problems(step.replies, expected, self.reply_timeout)
        # The state is stored before the replies go out; a deployed stack's may lag the publish a little.
        deadline = time.monotonic() + (STATE_TIMEOUT_SECONDS if received else self.reply_timeout)
        while True:
            after = self.statuses(step.phone)
            state_problems = state_check(before, after)
            if not state_problems or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        step.problems += state_problems
        return step, after

    # ------------------------------------------------------------------ walks

    def help_walk(self, sender: Sender, phone: str) -> list[Step]:
        programs = self._programs(sender)
        # A shared sender's own HELP speaks for all its programs; otherwise the first program's.
        speaks_for = programs if len(programs) > 1 and sender.help else programs[:1]
        step, _ = self.exchange(
            Step(sender.number, None, "HELP", phone, "HELP"),
            [("help", speaks_for)],
            _unchanged(sender),
            changes_state=False,
        )
        return [step]

    def program_walk(self, sender: Sender, program_id: str, phone: str) -> list[Step]:
        program = self.config.programs[program_id]
        keyword = _keyword(program)
        if keyword is None:
            reason = "no opt-in keyword: an auditor cannot join it by text"
            return [Step(sender.number, program_id, "keyword", phone, "", skipped=reason)]
        steps = self.join(sender, program_id, phone)
        if not all(step.passed for step in steps):
            return steps
        stop, after = self.exchange(
            Step(sender.number, program_id, "STOP", phone, "STOP"),
            [("stop", (program,) if len(sender.programs) == 1 else self._programs(sender))],
            _left_all(sender, program_id),
        )
        steps.append(stop)
        if not stop.passed:
            return steps
        # START resumes what the number left (on a single-program sender, that program).
        resumed = (
            sender.programs
            if len(sender.programs) == 1
            else [p for p in sender.programs if after.get(p) == "unsubscribed"]
        )
        start, _ = self.exchange(
            Step(sender.number, program_id, "START", phone, "START"),
            [(self._join_reply(p), (self.config.programs[p],)) for p in resumed],
            _joined(resumed, self.config, confirmed=False),
        )
        steps.append(start)
        return steps

    def join(self, sender: Sender, program_id: str, phone: str) -> list[Step]:
        """The program's keyword and, with double opt-in, the YES that confirms it."""
        program = self.config.programs[program_id]
        keyword = _keyword(program) or ""
        steps = []
        step, _ = self.exchange(
            Step(sender.number, program_id, f"keyword {keyword}", phone, keyword),
            [(self._join_reply(program_id), (program,))],
            _joined([program_id], self.config, confirmed=False),
        )
        steps.append(step)
        if step.passed and program.double_opt_in:
            yes, _ = self.exchange(
                Step(sender.number, program_id, "double opt-in YES", phone, "YES"),
                [("confirmation", (program,))],
                _joined([program_id], self.config, confirmed=True),
            )
            steps.append(yes)
        return steps

    def ask_walk(self, sender: Sender, phone: str) -> list[Step]:
        """Seed 004's menu: two programs joined, a bare STOP, STOP <keyword>, then STOP again."""
        chosen = [p for p in sender.programs if _keyword(self.config.programs[p])][:2]
        if len(chosen) < 2:
            return [
                Step(sender.number, None, "STOP menu", phone, "STOP", skipped="fewer than two programs with a keyword")
            ]
        steps = [step for program_id in chosen for step in self.join(sender, program_id, phone)]
        if not all(step.passed for step in steps):
            return steps
        programs = self._programs(sender)
        menu, _ = self.exchange(
            Step(sender.number, None, "STOP menu", phone, "STOP"),
            [("stop_menu", programs)],
            _unchanged(sender),
            changes_state=False,
        )
        steps.append(menu)
        if not menu.passed:
            return steps
        first, second = chosen
        keyword = _keyword(self.config.programs[first])
        answer, _ = self.exchange(
            Step(sender.number, first, f"menu answer STOP {keyword}", phone, f"STOP {keyword}"),
            [("stop", (self.config.programs[first],))],
            _only_left(first, second),
        )
        steps.append(answer)
        if answer.passed:
            rest, _ = self.exchange(
                Step(sender.number, None, "STOP the rest", phone, "STOP"),
                [("stop", programs)],
                _left_all(sender, second),
            )
            steps.append(rest)
        return steps

    def _programs(self, sender: Sender) -> tuple[Program, ...]:
        return tuple(self.config.programs[p] for p in sender.programs)

    def _join_reply(self, program_id: str) -> ReplyKind:
        return "optin_prompt" if self.config.programs[program_id].double_opt_in else "confirmation"

    def run(self, handsets: Handsets) -> list[Step]:
        walks: list[Callable[[], list[Step]]] = []
        for sender in self.config.senders:
            walks.append(_bind(self.help_walk, sender, handsets.take()))
            for program_id in sender.programs:
                walks.append(_bind(self.program_walk, sender, program_id, handsets.take()))
            if sender.bare_stop == "ask" and sender.stop_menu and len(sender.programs) > 1:
                walks.append(_bind(self.ask_walk, sender, handsets.take()))
        # Each walk has its handset to itself, so walks run side by side; steps within one are in order.
        with ThreadPoolExecutor(WALKS_IN_PARALLEL, thread_name_prefix="drill") as pool:
            results = [pool.submit(walk) for walk in walks]
            return [step for result in results for step in result.result()]


def _bind(function: Callable[..., list[Step]], *args: Any) -> Callable[[], list[Step]]:
    return lambda: function(*args)


def _keyword(program: Program) -> str | None:
    return next((rule.word for rule in program.keywords if rule.action == "opt_in"), None)


def _reply_problems(
    replies: list[str], expected: Sequence[tuple[ReplyKind, tuple[Program, ...]]], timeout: float
) -> list[str]:
    problems: list[str] = []
    if len(replies) < len(expected):
        problems.append(f"{len(replies)} of {len(expected)} expected repl(ies) within {timeout:g} s")
    elif len(replies) > len(expected):
        problems.append(f"{len(replies)} replies where {len(expected)} were expected")
    open_expectations = list(expected)
    for body in replies:
        if not open_expectations:
            break
        # Replies to one text may arrive in any order: each takes the first expectation it meets.
        checked = [(kind, programs, reply_problems(kind, body, programs)) for kind, programs in open_expectations]
        match = next((item for item in checked if not item[2]), checked[0])
        open_expectations.remove((match[0], match[1]))
        problems += [f"{match[0].replace('_', ' ')} reply {message}: {body!r}" for message in match[2]]
    return problems


def _unchanged(sender: Sender) -> StateCheck:
    def check(before: Statuses, after: Statuses) -> list[str]:
        changed = [p for p in sender.programs if before.get(p) != after.get(p)]
        return [f"{p} changed from {before.get(p)} to {after.get(p)}" for p in changed]

    return check


def _joined(programs: Sequence[str], config: ProgramConfig, *, confirmed: bool) -> StateCheck:
    def check(before: Statuses, after: Statuses) -> list[str]:
        problems = []
        for p in programs:
            wanted = "pending" if config.programs[p].double_opt_in and not confirmed else "subscribed"
            if after.get(p) != wanted:
                problems.append(f"{p} is {after.get(p)}, expected {wanted}")
        return problems

    return check


def _left_all(sender: Sender, program_id: str) -> StateCheck:
    def check(before: Statuses, after: Statuses) -> list[str]:
        kept = [p for p in sender.programs if after.get(p) in ("subscribed", "pending")]
        problems = [f"{p} is still {after[p]} after the opt-out" for p in kept]
        if after.get(program_id) != "unsubscribed":
            problems.append(f"{program_id} is {after.get(program_id)}, expected unsubscribed")
        return problems

    return check


def _only_left(left: str, kept: str) -> StateCheck:
    def check(before: Statuses, after: Statuses) -> list[str]:
        problems = []
        if after.get(left) != "unsubscribed":
            problems.append(f"{left} is {after.get(left)}, expected unsubscribed")
        if after.get(kept) != "subscribed":
            problems.append(f"{kept} is {after.get(kept)}, expected still subscribed")
        return problems

    return check


# ---------------------------------------------------------------------- the command


def print_table(steps: list[Step], described_as: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Compliance drill against {described_as}", title_justify="left")
    for column in ("#", "sender", "program", "step", "handset", "result"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", overflow="fold")
    for number, step in enumerate(steps, 1):
        if step.skipped:
            result, detail = "[yellow]skip[/]", step.skipped
        elif step.passed:
            result = "[green]pass[/]"
            detail = "reply not observed" if not step.observed else (step.replies[0][:70] if step.replies else "")
        else:
            result, detail = "[red]FAIL[/]", "; ".join(step.problems)
        table.add_row(str(number), step.sender, step.program or "-", step.name, step.phone, result, detail)
    console = Console()
    # Piped into a file or CI log: wide enough that the details stay readable.
    (console if console.is_terminal else Console(width=200)).print(table)


def cmd_drill(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from sms_consent.settings import DEFAULT_PROGRAM_CONFIG

    path = Path(args.config) if args.config else DEFAULT_PROGRAM_CONFIG
    try:
        config = load_config(path)
        handsets = Handsets(args.numbers_from)
        workdir = Path(args.workdir)
        target = resolve(api_url=None, api_key=None, stack=args.stack, region=args.region, workdir=workdir)
        if args.stack:
            line: Line = DeployedLine(args.stack, args.region)
        else:
            line = LocalLine(json.loads((workdir / "outputs.json").read_text(encoding="utf-8")), workdir)
        steps = Drill(config, line, Api(target), reply_timeout=args.wait, unobserved_settle=args.settle).run(handsets)
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OperatorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (BotoCoreError, ClientError) as exc:
        # Publishing the texts failed: the emulator (or the account's SNS) did not take them.
        print(f"error: cannot publish to the inbound topic: {exc}", file=sys.stderr)
        return UNAVAILABLE
    failed = [step for step in steps if not step.passed]
    if args.json:
        document = {
            "passed": not failed,
            "target": target.described_as,
            "config": str(path),
            "steps": [{**asdict(step), "passed": step.passed} for step in steps],
        }
        print(json.dumps(document, indent=2))
    else:
        print_table(steps, target.described_as)
    if failed:
        print(f"drill failed: {'; '.join(step.label for step in failed)}", file=sys.stderr)
        return FAILED
    return 0


def register(commands: Any) -> None:
    drill = commands.add_parser(
        "drill", help="walk every sender and program as a carrier's auditor does; pass/fail per step"
    )
    drill.add_argument("--config", help="the configuration the target runs (the shipped one by default)")
    drill.add_argument("--stack", help="a deployed stack's name (default: the local stack)")
    drill.add_argument("--region", help="the deployed stack's region (default: your AWS configuration's)")
    drill.add_argument(
        "--numbers-from",
        metavar="PHONE",
        help="the first fictional handset, +1 NPA 555-01xx (default: a random area code and start)",
    )
    drill.add_argument("--wait", type=float, default=REPLY_TIMEOUT_SECONDS, help="seconds to wait for a reply (20)")
    drill.add_argument(
        "--settle",
        type=float,
        default=UNOBSERVED_SETTLE_SECONDS,
        help="on a deployed stack, seconds given to a step that changes no state (5)",
    )
    drill.add_argument("--json", action="store_true", help="print the steps as JSON instead of a table")
    drill.set_defaults(func=cmd_drill)
