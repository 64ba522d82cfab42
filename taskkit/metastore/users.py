"""Users of the API and UI: stored with a password hash; the hash is never made here."""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from taskkit.errors import UserError, UserNotFoundError
from taskkit.metastore.tables import UserRow
from taskkit.metastore.units import UnitOfWork, rowcount

_USER_COLUMNS = tuple(UserRow.__table__.c)


@attrs.frozen
class UserRecord:
    """A user with their role and the failed-login counter the rate limit reads."""

    username: str
    role: str
    password_hash: str = attrs.field(repr=False)
    created_at: dt.datetime
    failed_logins: int
    last_failed_at: dt.datetime | None


def _no_user(username: str) -> UserNotFoundError:
    return UserNotFoundError(f"No user {username!r}. Run `taskkit users list` to see the users.")


class UserMethods(UnitOfWork):
    """Creating, reading and deleting users; counting failed logins."""

    def create_user(self, username: str, role: str, password_hash: str) -> UserRecord:
        """Store a new user; raises UserError if the name is taken."""
        values = {
            "username": username,
            "role": role,
            "password_hash": password_hash,
            "created_at": self._now(),
            "failed_logins": 0,
        }
        try:
            with self._write() as session:
                session.execute(insert(UserRow).values(**values))
        except IntegrityError:
            raise UserError(
                f"User {username!r} already exists; delete it first or pick another name."
            ) from None
        return self.get_user(username)

    def get_user(self, username: str) -> UserRecord:
        """One user; raises UserNotFoundError."""
        with self._read() as session:
            row = session.execute(
                select(*_USER_COLUMNS).where(UserRow.username == username)
            ).first()
        if row is None:
            raise _no_user(username)
        return UserRecord(**row._asdict())

    def list_users(self) -> list[UserRecord]:
        """Every user by name."""
        with self._read() as session:
            query = select(*_USER_COLUMNS).order_by(UserRow.username)
            return [UserRecord(**row._asdict()) for row in session.execute(query)]

    def delete_user(self, username: str) -> None:
        """Delete a user; raises UserNotFoundError for an unknown name."""
        with self._write() as session:
            deleted = rowcount(session.execute(delete(UserRow).where(UserRow.username == username)))
        if not deleted:
            raise _no_user(username)

    def record_login(self, username: str, *, ok: bool, now: dt.datetime) -> None:
        """Reset the failed-login counter after a good login, or count one more failure."""
        query = update(UserRow).where(UserRow.username == username)
        if ok:
            query = query.values(failed_logins=0, last_failed_at=None)
        else:
            query = query.values(failed_logins=UserRow.failed_logins + 1, last_failed_at=now)
        with self._write() as session:
            session.execute(query)
