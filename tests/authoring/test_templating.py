"""Jinja templates in operator fields: rendered lazily, strictly and recursively."""

from __future__ import annotations

import pytest

from taskkit.authoring.templating import render


def test_plain_values_come_back_as_the_same_objects() -> None:
    """Values without template markers are returned untouched (no copy, no Jinja)."""
    value = ["a", {"b": "c"}, 3]
    assert render(value, {}) is value


def test_strings_inside_lists_tuples_and_dicts_are_rendered() -> None:
    """Templates nested in containers are rendered and the container type kept."""
    rendered = render(["{{ x }}", ("{{ x }}!",), {"k": "{{ x + 1 }}"}], {"x": 1})
    assert rendered == ["1", ("1!",), {"k": "2"}]


def test_an_undefined_name_fails_loudly() -> None:
    """A typo in a template raises instead of rendering an empty string."""
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        render("{{ nope }}", {})


def test_attribute_access_and_statements_work() -> None:
    """`{{ params.x }}` and `{% if %}` blocks render as in Airflow."""
    assert render("{% if params.x %}{{ params.x }}{% endif %}", {"params": {"x": 5}}) == "5"
