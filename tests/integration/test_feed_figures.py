"""The dashboard's consent figures (OptIns, OptOuts, DoubleOptInPrompts, DoubleOptInConfirmations)
are emitted by the consent feed for what its ledger folded now: a retried batch adds nothing to the
dashboard, a retry that grew adds only its new events, as the API's program metrics do."""

from __future__ import annotations

from collections.abc import Sequence

from sms_consent import consent, wiring
from sms_consent.consent import EventType
from sms_consent.consent_feed import FeedDeps, publish_committed
from sms_consent.messages import BusEvent
from sms_consent.ports import Committed
from sms_consent.repository.feed_ledger import DynamoFeedLedger
from tests.conftest import AwsStack, stores


class Bus:
    def __init__(self) -> None:
        self.published: list[BusEvent] = []

    def publish(self, events: Sequence[BusEvent]) -> None:
        self.published.extend(events)


def _event(kind: EventType, index: int, **evidence: object) -> consent.AuditEvent:
    old, new = {
        EventType.GRANTED: ("pending", "subscribed"),
        EventType.REVOKED: ("subscribed", "unsubscribed"),
        EventType.DOUBLE_OPT_IN_REQUESTED: (None, "pending"),
    }[kind]
    return consent.AuditEvent(kind, wiring.utc_now(), f"+1415555{index:04d}", "alerts", old, new, "keyword", evidence)


def test_the_feed_reports_each_consent_change_to_the_dashboard_once(aws_stack: AwsStack) -> None:
    events = [
        _event(EventType.DOUBLE_OPT_IN_REQUESTED, 1),
        _event(EventType.GRANTED, 1, double_opt_in=True),
        _event(EventType.GRANTED, 2),
        _event(EventType.REVOKED, 3),
        _event(EventType.REVOKED, 4),
    ]
    batch = [Committed(20_000_000_000_000_000_000_001 + index, event) for index, event in enumerate(events)]
    bus = Bus()
    deps = FeedDeps(events=bus, ledger=DynamoFeedLedger(stores().numbers.table))

    first = publish_committed(batch[:3], deps)
    again = publish_committed(batch[:3], deps)  # the same batch delivered again
    grown = publish_committed(batch, deps)  # the retry holds two more

    assert dict(first.figures) == {"DoubleOptInPrompts": 1, "OptIns": 2, "DoubleOptInConfirmations": 1}
    assert dict(again.figures) == {}
    assert dict(grown.figures) == {"OptOuts": 2}
    assert len(bus.published) == 3 + 3 + 5  # events themselves are at least once
