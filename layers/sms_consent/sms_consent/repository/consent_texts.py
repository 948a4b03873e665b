"""The ConsentTexts port: the words a sign-up showed, stored once by their hash (`TEXT#<hash>`).

A sign-up stores its words before it records the consent (a conditional put, once per process and
text, so a form's thousands of sign-ups do not all write one item); its audit event keeps only the
hash. When each text was first and last shown, and how often, is folded from the table's stream with
the program metrics (repository.feed_ledger) into sharded items (`TEXT#<hash>#<NN>`, the shard picked
per batch, as the metrics are) so that one form's sign-ups never make a hot key; a read merges them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from botocore.exceptions import ClientError

from sms_consent.clock import iso
from sms_consent.consent import AuditEvent
from sms_consent.ports import ConsentText
from sms_consent.repository.table import Increment, Table, item_key

SORT_KEY = "TEXT"
SHOWN_KEY = "SHOWN"
SHARDS = 64


def _pk(text_hash: str) -> str:
    return f"TEXT#{text_hash}"


def increments(event: AuditEvent, shard: int) -> dict[tuple[str, str], Increment]:
    """A sign-up's event (it carries the hash of the words it showed) adds one showing to its text."""
    text_hash = event.evidence.get("consent_text_hash")
    if not isinstance(text_hash, str) or not text_hash:
        return {}
    shown = {"S": iso(event.at)}
    return {
        (f"{_pk(text_hash)}#{shard % SHARDS:02d}", SHOWN_KEY): Increment(
            adds=Counter(times_shown=1), sets={"last_shown": shown}, initial={"first_shown": shown}
        )
    }


class DynamoConsentTexts:
    def __init__(self, table: Table) -> None:
        self._table = table
        self._stored: set[str] = set()  # hashes this process has stored or seen stored

    def remember(self, text_hash: str, text: str) -> None:
        if text_hash in self._stored:
            return
        try:
            self._table.client.put_item(
                TableName=self._table.name,
                Item={**item_key(_pk(text_hash), SORT_KEY), "text": {"S": text}, "text_hash": {"S": text_hash}},
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
        self._stored.add(text_hash)

    def get_many(self, hashes: Sequence[str]) -> dict[str, ConsentText]:
        keys = []
        for text_hash in hashes:
            keys.append(item_key(_pk(text_hash), SORT_KEY))
            keys.extend(item_key(f"{_pk(text_hash)}#{shard:02d}", SHOWN_KEY) for shard in range(SHARDS))
        found = self._table.batch_get(keys)
        texts = {}
        for text_hash in hashes:
            raw = found.get((_pk(text_hash), SORT_KEY))
            if raw is None:
                continue
            shown = [found[key] for key in found if key[0].startswith(f"{_pk(text_hash)}#") and key[1] == SHOWN_KEY]
            firsts = [item["first_shown"]["S"] for item in shown if "first_shown" in item]
            lasts = [item["last_shown"]["S"] for item in shown if "last_shown" in item]
            texts[text_hash] = ConsentText(
                text_hash=text_hash,
                text=raw["text"]["S"],
                first_shown=min(firsts) if firsts else None,  # ISO-8601 UTC strings sort as times
                last_shown=max(lasts) if lasts else None,
                times_shown=sum(int(item.get("times_shown", {}).get("N", 0)) for item in shown),
            )
        return texts
