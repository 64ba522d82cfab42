"""Run ids, pool names and usernames: too long or odd characters are refused clearly."""

from __future__ import annotations

import pytest

from taskkit.errors import InvalidInputError
from taskkit.services.validation import check_pool_name, check_run_id, check_username


def test_ordinary_names_pass() -> None:
    """Default run ids (ISO dates) and plain names are accepted unchanged."""
    assert check_run_id("manual__2026-01-01T00:00:00.123+00:00").startswith("manual__")
    assert check_pool_name("db-pool_1.v2") == "db-pool_1.v2"
    assert check_username("ada.l@example") == "ada.l@example"


@pytest.mark.parametrize("value", ["", "  ", "a b", "a/b", "x;y", "quo'te", "new\nline", "ü"])
def test_odd_characters_are_refused(value: str) -> None:
    """Spaces, slashes, quotes, control and non-ASCII characters are refused."""
    for check in (check_run_id, check_pool_name, check_username):
        with pytest.raises(InvalidInputError):
            check(value)


def test_too_long_names_say_the_limit() -> None:
    """A name over its limit is refused with the limit in the message."""
    with pytest.raises(InvalidInputError, match="at most 250"):
        check_run_id("r" * 251)
    with pytest.raises(InvalidInputError, match="at most 256"):
        check_pool_name("p" * 257)
    with pytest.raises(InvalidInputError, match="at most 64"):
        check_username("u" * 65)
