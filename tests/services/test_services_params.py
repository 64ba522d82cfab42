"""A DAG's params as a trigger form, and a run's conf checked against them."""

from __future__ import annotations

import pytest

from taskkit.authoring.params import Param
from taskkit.errors import InvalidInputError
from taskkit.services.params import ParamKind, conf_from_form, param_fields

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


def test_a_params_schema_type_decides_its_field() -> None:
    """A Param's schema type wins over its default; a Param without a default is required."""
    fields = param_fields(
        {
            "n": Param(None, type=["null", "integer"]),
            "when": Param("x", type="string", format="date"),
            "must": Param(type="number", description="a ratio"),
        }
    )
    assert [(f.name, f.kind, f.required) for f in fields] == [
        ("n", ParamKind.INTEGER, False),
        ("when", ParamKind.STRING, False),
        ("must", ParamKind.NUMBER, True),
    ]
    assert fields[2].description == "a ratio"
    assert fields[0].default_text == ""


def test_the_form_turns_text_into_typed_values() -> None:
    """Form text becomes an int, a float, a bool (unticked means False) and JSON lists;
    an empty field keeps the default."""
    fields = param_fields(PARAMS)
    conf = conf_from_form(fields, {"rows": " 7 ", "ratio": "1.25", "name": "n", "items": "[2, 3]"})
    assert conf == {"rows": 7, "ratio": 1.25, "name": "n", "dry": False, "items": [2, 3]}
    assert conf_from_form(fields, {"dry": "on"})["dry"] is True
    assert "rows" not in conf_from_form(fields, {"rows": " "})


@pytest.mark.parametrize(
    ("name", "text"), [("rows", "seven"), ("ratio", "1,5"), ("items", "{"), ("items", '{"a": 1}')]
)
def test_form_text_that_is_not_of_the_params_kind_is_refused(name: str, text: str) -> None:
    """Text that does not parse as the param's kind is refused, naming the param."""
    with pytest.raises(InvalidInputError, match=f"Param '{name}'"):
        conf_from_form(param_fields(PARAMS), {name: text})
