"""Prompts held until confirmations vouch for their scope, on the single table.

`HOLD#<dimension>#<key>` / `<held_at>#<phone>#<program>`: one partition per block, area code or country
that was over its budget, newest last; a release reads the newest few with one Query and takes each
with a conditional DeleteItem, so that two releases never send one prompt twice (the gate's send
claim would stop the second anyway). Items expire with the hold (`hold_minutes`).
"""

from __future__ import annotations

from datetime import datetime

from sms_consent.clock import iso, parse_iso
from sms_consent.ports import HeldPrompt
from sms_consent.repository.table import TTL_ATTRIBUTE, Table, item_key


def _pk(scope: tuple[str, str]) -> str:
    return f"HOLD#{scope[0]}#{scope[1]}"


def _sk(prompt: HeldPrompt) -> str:
    return f"{iso(prompt.held_at)}#{prompt.phone}#{prompt.program}"


class DynamoHeldPrompts:
    def __init__(self, table: Table) -> None:
        self.table = table

    def hold(self, prompt: HeldPrompt, until: datetime) -> None:
        item = {
            **item_key(_pk(prompt.scope), _sk(prompt)),
            TTL_ATTRIBUTE: {"N": str(int(until.timestamp()))},
        }
        if prompt.language:
            item["language"] = {"S": prompt.language}
        self.table.client.put_item(TableName=self.table.name, Item=item)

    def waiting(self, scope: tuple[str, str], since: datetime, limit: int) -> list[HeldPrompt]:
        page = self.table.client.query(
            TableName=self.table.name,
            KeyConditionExpression="PK = :pk AND SK >= :since",
            ExpressionAttributeValues={":pk": {"S": _pk(scope)}, ":since": {"S": iso(since)}},
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        found = []
        for raw in page.get("Items", []):
            held_at, phone, program = raw["SK"]["S"].split("#", 2)
            language = raw.get("language", {}).get("S")
            found.append(HeldPrompt(phone, program, language, parse_iso(held_at), scope))
        return found

    def take(self, prompt: HeldPrompt) -> bool:
        try:
            self.table.client.delete_item(
                TableName=self.table.name,
                Key=item_key(_pk(prompt.scope), _sk(prompt)),
                ConditionExpression="attribute_exists(PK)",
            )
        except self.table.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
