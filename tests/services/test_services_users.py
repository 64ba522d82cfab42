"""Users: slow password hashes, generated passwords, roles, and the failed-login lockout."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit.errors import AuthError, TooManyLoginsError, UserError, UserNotFoundError
from taskkit.metastore import Metastore
from taskkit.services import users
from taskkit.services.users import LOCKOUT, MAX_FAILED_LOGINS, Role

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def test_passwords_are_stored_as_argon2_hashes(metastore: Metastore) -> None:
    """The stored value is an argon2id hash, never the password."""
    users.create_user(metastore, "ada", Role.OP, "correct horse")
    stored = metastore.get_user("ada").password_hash
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert users.authenticate(metastore, "ada", "correct horse", now=NOW).role is Role.OP


def test_a_generated_password_is_returned_once_and_works(metastore: Metastore) -> None:
    """Without a password one is generated, returned, and logs in."""
    user, generated = users.create_user(metastore, "bob", Role.VIEWER)
    assert generated is not None and len(generated) >= 12
    assert users.authenticate(metastore, "bob", generated, now=NOW).username == user.username


def test_bad_users_are_refused(metastore: Metastore) -> None:
    """A taken name, a short password, an odd name and an unknown role are refused."""
    users.create_user(metastore, "ada", Role.OP, "long enough")
    with pytest.raises(UserError, match="already exists"):
        users.create_user(metastore, "ada", Role.OP, "long enough")
    with pytest.raises(UserError, match="at least 8"):
        users.create_user(metastore, "eve", Role.OP, "short")
    with pytest.raises(ValueError, match="Username"):
        users.create_user(metastore, "e ve", Role.OP, "long enough")
    with pytest.raises(UserError, match="use one of viewer, op, admin"):
        Role.parse("root")
    with pytest.raises(UserNotFoundError):
        users.delete_user(metastore, "ghost")


def test_roles_include_the_ones_below() -> None:
    """admin may do what op may, op what viewer may; not the other way."""
    assert Role.ADMIN.may(Role.OP) and Role.OP.may(Role.VIEWER)
    assert not Role.VIEWER.may(Role.OP) and not Role.OP.may(Role.ADMIN)


def test_repeated_failures_lock_logins_until_the_lockout_passes(metastore: Metastore) -> None:
    """After MAX_FAILED_LOGINS wrong passwords the right one is refused until LOCKOUT passes,
    then it works and the counter starts over."""
    users.create_user(metastore, "ada", Role.OP, "right password")
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(AuthError, match="Wrong username or password"):
            users.authenticate(metastore, "ada", "wrong password", now=NOW)
    with pytest.raises(TooManyLoginsError, match="try again in"):
        users.authenticate(metastore, "ada", "right password", now=NOW + LOCKOUT / 2)
    later = NOW + LOCKOUT + dt.timedelta(seconds=1)
    assert users.authenticate(metastore, "ada", "right password", now=later).username == "ada"
    assert metastore.get_user("ada").failed_logins == 0
