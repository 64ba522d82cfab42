"""Users and roles: creating them, checking a password, the failed-login rate limit.

Passwords are hashed with argon2id (argon2-cffi's defaults). After
MAX_FAILED_LOGINS wrong passwords in a row a user's logins are refused for
LOCKOUT, whatever the password, so guessing is slow.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import TYPE_CHECKING

import attrs
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from taskkit import validation
from taskkit.errors import AuthError, TooManyLoginsError, UserError, UserNotFoundError

if TYPE_CHECKING:
    from taskkit.metastore import Metastore
    from taskkit.metastore.users import UserRecord

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(seconds=60)
#: argon2id at OWASP's recommended minimum (19 MiB, 2 passes): slow to guess, quick to log in.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
#: Verified against when the user does not exist, so both cases take as long.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class Role(str, enum.Enum):
    """What a user may do; each role may do everything the ones before it may."""

    VIEWER = "viewer"  # reads everything
    OP = "op"  # also triggers, clears, marks, pauses and edits pools
    ADMIN = "admin"  # also manages users, variables and connections

    @property
    def rank(self) -> int:
        """Its place in viewer < op < admin."""
        return list(Role).index(self)

    def may(self, needed: Role) -> bool:
        """True if this role includes `needed`."""
        return self.rank >= needed.rank

    @classmethod
    def parse(cls, text: str) -> Role:
        """A role from its name, or UserError listing the roles."""
        try:
            return cls(text)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise UserError(f"Unknown role {text!r}; use one of {names}.") from None


@attrs.frozen
class User:
    """A user as the API sees them (no hash)."""

    username: str
    role: Role
    created_at: dt.datetime

    @classmethod
    def of(cls, record: UserRecord) -> User:
        """From the metastore's record."""
        return cls(record.username, Role.parse(record.role), record.created_at)


def create_user(
    store: Metastore, username: str, role: Role, password: str | None = None
) -> tuple[User, str | None]:
    """Create a user; returns it and the generated password when none was given."""
    validation.username(username)
    generated = None
    if password is None:
        password = generated = secrets.token_urlsafe(12)
    elif len(password) < 8:
        raise UserError("A password needs at least 8 characters.")
    record = store.create_user(username, role.value, _HASHER.hash(password))
    return User.of(record), generated


def list_users(store: Metastore) -> list[User]:
    """Every user by name."""
    return [User.of(r) for r in store.list_users()]


def delete_user(store: Metastore, username: str) -> None:
    """Delete a user; UserNotFoundError for an unknown name."""
    store.delete_user(username)


def get_user(store: Metastore, username: str) -> User:
    """One user; UserNotFoundError for an unknown name."""
    return User.of(store.get_user(username))


def authenticate(store: Metastore, username: str, password: str, *, now: dt.datetime) -> User:
    """The user if the password is right; AuthError if not, TooManyLoginsError when locked."""
    try:
        record = store.get_user(username)
    except UserNotFoundError:
        _verify(_DUMMY_HASH, password)
        raise AuthError("Wrong username or password.") from None
    if record.failed_logins >= MAX_FAILED_LOGINS and record.last_failed_at is not None:
        wait = record.last_failed_at + LOCKOUT - now
        if wait > dt.timedelta(0):
            raise TooManyLoginsError(
                f"Too many failed logins for {username!r}: try again in "
                f"{int(wait.total_seconds()) + 1} s."
            )
    ok = _verify(record.password_hash, password)
    store.record_login(username, ok=ok, now=now)
    if not ok:
        raise AuthError("Wrong username or password.")
    return User.of(record)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
