"""Profiles and the numbers they use (the ProfileStore port of `profiles`).

- `USER#<user id>` / `PROFILE`: the profile's current number.
- `PHONE#<e164>` / `USER#<user id>`: the link, kept under the number so that one Query lists every
  profile sharing it (the number's STATE and EVENT# items live in the same partition).

Status lives on the number's STATE item only: every linked profile sees it without copies to keep in
step. Moving a profile is one transaction: the profile (on condition that it still names the number
we read), the old link removed, the new link written.
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from sms_consent.clock import iso
from sms_consent.repository.number_items import phone_key
from sms_consent.repository.table import Table, TableItem, error_code

PROFILE_SK = "PROFILE"


def user_key(user_id: str) -> str:
    return f"USER#{user_id}"


class ProfileItem(TableItem):
    user_id = UnicodeAttribute()
    phone = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ProfileLinkItem(TableItem):
    user_id = UnicodeAttribute()
    phone = UnicodeAttribute()
    linked_at = UnicodeAttribute()


class DynamoProfileStore:
    """The ProfileStore port on the single table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._profiles = table.model(ProfileItem)
        self._links = table.model(ProfileLinkItem)

    def phone_of(self, user_id: str) -> str | None:
        try:
            item = self._profiles.get(user_key(user_id), PROFILE_SK, consistent_read=True)
        except self._profiles.DoesNotExist:
            return None
        return str(item.phone)

    def users_of(self, phone: str, *, limit: int = 100) -> list[str]:
        """The profiles linked to a number (one Query on the number's partition)."""
        items = self._links.query(
            phone_key(phone), self._links.sk.startswith("USER#"), consistent_read=True, limit=limit
        )
        return [str(item.user_id) for item in items]

    def link(self, user_id: str, phone: str, previous: str | None, now: datetime) -> bool:
        """Point the profile at `phone` if it still names `previous` (None: no profile yet).

        Returns False when another request moved the profile since it was read; nothing is written then.
        """
        profile = self._profiles(pk=user_key(user_id), sk=PROFILE_SK, user_id=user_id, phone=phone, updated_at=iso(now))
        condition = self._profiles.pk.does_not_exist() if previous is None else self._profiles.phone == previous
        try:
            with TransactWrite(connection=self.table.connection) as transaction:
                transaction.save(profile, condition=condition)
                if previous is not None:
                    transaction.delete(self._links(pk=phone_key(previous), sk=user_key(user_id)))
                transaction.save(
                    self._links(
                        pk=phone_key(phone), sk=user_key(user_id), user_id=user_id, phone=phone, linked_at=iso(now)
                    )
                )
        except TransactWriteError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise
        return True
