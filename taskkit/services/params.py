"""A DAG's params as a trigger form, and checking a run's conf against them.

A param's default gives its kind (bool, integer, number, text, list or
object; None means anything goes), as Airflow infers a Param's type from a
plain default. A conf value of another kind is refused with a message that
names the param, the kind it needs and what it got.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs

from taskkit.errors import InvalidInputError


class ParamKind(str, enum.Enum):
    """What a param accepts, from its default."""

    BOOLEAN = "boolean"
    INTEGER = "integer"
    NUMBER = "number"
    STRING = "string"
    ARRAY = "array"
    OBJECT = "object"
    ANY = "any"

    @classmethod
    def of(cls, value: object) -> ParamKind:
        """The kind of a default value."""
        if isinstance(value, bool):
            return cls.BOOLEAN
        if isinstance(value, int):
            return cls.INTEGER
        if isinstance(value, float):
            return cls.NUMBER
        if isinstance(value, str):
            return cls.STRING
        if isinstance(value, (list, tuple)):
            return cls.ARRAY
        if isinstance(value, dict):
            return cls.OBJECT
        return cls.ANY

    def accepts(self, value: object) -> bool:
        """True if `value` (decoded JSON) is of this kind."""
        if self is ParamKind.ANY:
            return True
        if self is ParamKind.NUMBER:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if self is ParamKind.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool)
        return ParamKind.of(value) is self


@attrs.frozen
class ParamField:
    """One field of the trigger form."""

    name: str
    kind: ParamKind
    default: Any

    @property
    def default_text(self) -> str:
        """The default as the form shows it (JSON for lists and objects)."""
        if self.kind in (ParamKind.ARRAY, ParamKind.OBJECT, ParamKind.ANY):
            return json.dumps(self.default)
        return "" if self.default is None else str(self.default)


def param_fields(params: Mapping[str, Any]) -> list[ParamField]:
    """The trigger form's fields, in the DAG's order."""
    return [ParamField(name, ParamKind.of(value), value) for name, value in params.items()]


def check_conf(dag_id: str, params: Mapping[str, Any], conf: Mapping[str, Any]) -> None:
    """Raise InvalidInputError for the first conf value whose kind its param does not accept."""
    for field in param_fields(params):
        if field.name in conf and not field.kind.accepts(conf[field.name]):
            got = type(conf[field.name]).__name__
            raise InvalidInputError(
                f"Param {field.name!r} of DAG {dag_id!r} needs a value of type "
                f"{field.kind.value}, not {got} ({conf[field.name]!r}); fix it in the conf."
            )


def conf_from_form(fields: list[ParamField], form: Mapping[str, str]) -> dict[str, Any]:
    """Turn the form's text inputs into conf values of each param's kind, or InvalidInputError."""
    conf: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name)
        if raw is None:
            if field.kind is ParamKind.BOOLEAN:
                conf[field.name] = False  # an unticked checkbox is not sent
            continue
        conf[field.name] = _parse(field, raw)
    return conf


def _parse(field: ParamField, raw: str) -> Any:
    kind = field.kind
    try:
        if kind is ParamKind.BOOLEAN:
            return raw.lower() in {"on", "true", "1", "yes"}
        if kind is ParamKind.INTEGER:
            return int(raw.strip())
        if kind is ParamKind.NUMBER:
            return float(raw.strip())
        if kind is ParamKind.STRING:
            return raw
        value = json.loads(raw)
    except ValueError:
        raise InvalidInputError(
            f"Param {field.name!r} needs a value of type {kind.value}; {raw!r} is not one."
        ) from None
    if not kind.accepts(value):
        raise InvalidInputError(
            f"Param {field.name!r} needs a JSON {kind.value}; {raw!r} is a {type(value).__name__}."
        )
    return value
