"""Committed consent changes, read from the table's stream, become EventBridge events and metrics.

An audit event is written in the same transaction as the change it proves, so the stream holds it
if and only if the change committed. Publishing here, not in the request that made the change,
turns a crash between commit and publish into a delay instead of a lost event: Lambda retries the
batch until it succeeds. Events are therefore delivered at least once (consumers dedupe on
`event_id`); program figures are folded exactly once (the ledger skips what it already counted).
The request path writes only the number's own partition; the counters many numbers share (program
metrics, the traffic-pumping detector's buckets) are written here, a batch at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sms_consent import consent, phones
from sms_consent.ports import Committed, EventSink, FeedLedger

if TYPE_CHECKING:
    from sms_consent.prompt_holds import ReleaseDeps


@dataclass(frozen=True)
class FeedDeps:
    events: EventSink
    ledger: FeedLedger
    # What releasing held prompts needs, built on the first batch with a confirmation (most batches have
    # none: no program configuration or SNS client on the cold start). None: never release.
    releases: Callable[[], ReleaseDeps] | None = None


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    published: int  # events put on the bus (again, when the batch is a retry)
    counted: int  # events added to the figures now (0 for a batch already counted)
    # What the counted events were, for the operations dashboard: OptIns, OptOuts, DoubleOptIn*.
    figures: Counter[str] = field(default_factory=Counter)
    released: int = 0  # held prompts the batch's confirmations let out


def _figures(events: Sequence[consent.AuditEvent]) -> Counter[str]:
    found: Counter[str] = Counter()
    for event in events:
        if event.event_type is consent.EventType.GRANTED:
            found["OptIns"] += 1
            found["DoubleOptInConfirmations"] += bool(event.evidence.get("double_opt_in"))
        elif event.event_type is consent.EventType.REVOKED:
            found["OptOuts"] += 1
        elif event.event_type is consent.EventType.DOUBLE_OPT_IN_REQUESTED:
            found["DoubleOptInPrompts"] += 1
    return +found


def publish_committed(committed: Sequence[Committed], deps: FeedDeps) -> FeedOutcome:
    """Publish the batch's events in stream order, then fold them into the figures.

    Publishing first: if folding fails, the retry publishes again (a duplicate, never a loss) and the
    ledger, which commits atomically, counts the batch then. The batch's double opt-in confirmations,
    once counted, release the held prompts they vouch for (again on a retry: a released prompt has left
    its waiting list, and the gate sends a prompt once).
    """
    ordered = sorted(committed, key=lambda item: item.sequence)
    deps.events.publish(consent.bus_events(item.event for item in ordered))
    counted = deps.ledger.fold(ordered)
    # The ledger folds what follows its marker: the batch's last `counted` events.
    newly = [item.event for item in ordered[len(ordered) - counted :]] if counted else []
    confirmed = [phones.parse(item.event.phone) for item in ordered if consent.vouches_for_prompts(item.event)]
    released = 0
    if confirmed and deps.releases is not None:
        from sms_consent.prompt_holds import release_held  # the pumping rules: only for a batch that confirms

        released = release_held(confirmed, deps.releases())
    return FeedOutcome(published=len(ordered), counted=counted, figures=_figures(newly), released=released)
