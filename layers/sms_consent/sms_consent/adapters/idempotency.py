"""Powertools idempotency records on the single table, one partition per record.

Powertools' composite-key mode puts every record of a function under one partition key
(`idempotency#<function>`), so a STOP storm would write one hot key. Here the record's own key is
the partition key (its sort key is fixed), so records spread like the messages they guard, and
they carry the table's TTL attribute, so DynamoDB deletes them after their expiry.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

RECORD_SK = "IDEMPOTENCY"


class PerRecordPersistence(DynamoDBPersistenceLayer):
    def __init__(self, table_name: str, *, ttl_attribute: str) -> None:
        super().__init__(table_name=table_name, key_attr="PK", sort_key_attr="SK", expiry_attr=ttl_attribute)

    def _get_key(self, idempotency_key: str) -> dict[str, Any]:
        # Overrides Powertools' key layout (static partition, key as sort key): the key is the partition.
        return {self.key_attr: {"S": idempotency_key}, "SK": {"S": RECORD_SK}}
