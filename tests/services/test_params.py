"""A DAG's params as a trigger form, and a run's conf checked against them."""

from __future__ import annotations

import pytest

from taskkit.errors import InvalidInputError
from taskkit.services.params import ParamKind, check_conf, conf_from_form, param_fields

PARAMS = {"rows": 3, "ratio": 0.5, "name": "x", "dry": False, "items": [1], "extra": None}


def test_each_default_gives_its_param_a_kind() -> None:
    """Defaults decide the kinds: bool, int, float, str, list; None accepts anything."""
    kinds = {f.name: f.kind for f in param_fields(PARAMS)}
    assert kinds == {
        "rows": ParamKind.INTEGER,
        "ratio": ParamKind.NUMBER,
        "name": ParamKind.STRING,
        "dry": ParamKind.BOOLEAN,
        "items": ParamKind.ARRAY,
        "extra": ParamKind.ANY,
    }


def test_conf_values_of_the_wrong_kind_are_refused() -> None:
    """A conf value of another kind than its param's default is refused, naming both."""
    check_conf("d", PARAMS, {"rows": 5, "ratio": 2, "extra": {"a": 1}, "unknown": "ok"})
    for bad in ({"rows": "5"}, {"rows": True}, {"rows": 1.5}, {"dry": 1}, {"items": "a"}):
        with pytest.raises(InvalidInputError, match="Param '"):
            check_conf("d", PARAMS, bad)


def test_the_form_turns_text_into_typed_values() -> None:
    """Form text becomes an int, a float, a bool (unticked means False) and JSON lists."""
    fields = param_fields(PARAMS)
    conf = conf_from_form(fields, {"rows": " 7 ", "ratio": "1.25", "name": "n", "items": "[2, 3]"})
    assert conf == {"rows": 7, "ratio": 1.25, "name": "n", "dry": False, "items": [2, 3]}
    assert conf_from_form(fields, {"dry": "on"})["dry"] is True


@pytest.mark.parametrize(
    ("name", "text"), [("rows", "seven"), ("ratio", "1,5"), ("items", "{"), ("items", '{"a": 1}')]
)
def test_form_text_that_is_not_of_the_params_kind_is_refused(name: str, text: str) -> None:
    """Text that does not parse as the param's kind is refused, naming the param."""
    with pytest.raises(InvalidInputError, match=f"Param '{name}'"):
        conf_from_form(param_fields(PARAMS), {name: text})
