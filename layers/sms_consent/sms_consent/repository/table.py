"""The single table: one base model that every item type extends, bound to the real table at start.

Keys are overloaded strings (`PK`, `SK`); two sparse GSIs serve the access patterns that are not by
number. The table's definition in `template.yaml` is the source of truth; these classes mirror it.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

TTL_ATTRIBUTE = "ttl"


class Gsi1(GlobalSecondaryIndex[Any]):
    """By kind and time: blocklist entries by date, profiles by number."""

    class Meta:
        index_name = "GSI1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


class Gsi2(GlobalSecondaryIndex[Any]):
    """By program and status: subscriber lists and counts."""

    class Meta:
        index_name = "GSI2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class TableItem(Model):
    """Base of every item type. Subclasses add attributes; they share this Meta."""

    class Meta:
        table_name = "ConsentTable"
        region = "us-east-1"
        max_retry_attempts = 3

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    # Epoch seconds; DynamoDB deletes the item some time after it (late: code must not rely on it).
    ttl = NumberAttribute(null=True, attr_name=TTL_ATTRIBUTE)


def bind(table_name: str, region: str) -> None:
    """Point every item type at the deployed table (the name comes from settings)."""
    TableItem.Meta.table_name = table_name
    TableItem.Meta.region = region
