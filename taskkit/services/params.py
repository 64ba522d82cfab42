"""A DAG's params as a trigger form: one field per param, and the form's text as a conf.

Validation itself is the authoring layer's (`resolve_params`: each Param's
JSON schema, as Airflow checks it); this module only decides which input a
field gets and turns its text into a value of that kind: the schema's
`type` when it has one, else the kind of the default.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any

import attrs

from taskkit.authoring.params import Param, ParamsDict
from taskkit.errors import InvalidInputError


class ParamKind(str, enum.Enum):
    """What a field accepts."""

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

    @classmethod
    def of_param(cls, param: Param) -> ParamKind:
        """The schema's type (ignoring "null"), else the default's kind."""
        declared = param.schema.get("type")
        names = [declared] if isinstance(declared, str) else list(declared or [])
        names = [n for n in names if n != "null"]
        if len(names) == 1 and names[0] in {k.value for k in cls}:
            return cls(names[0])
        return cls.of(param.value) if param.has_value else cls.ANY


@attrs.frozen
class ParamField:
    """One field of the trigger form."""

    name: str
    kind: ParamKind
    default: Any
    description: str | None = None
    required: bool = False

    @property
    def default_text(self) -> str:
        """The default as the form shows it (JSON for lists, objects and untyped values)."""
        if self.default is None:
            return ""
        if self.kind in (ParamKind.ARRAY, ParamKind.OBJECT, ParamKind.ANY):
            return json.dumps(self.default)
        return str(self.default)


def param_fields(params: Mapping[str, Any]) -> list[ParamField]:
    """The trigger form's fields, in the DAG's order."""
    every = params if isinstance(params, ParamsDict) else ParamsDict(params)
    fields = []
    for name in every:
        param = every.get_param(name)
        default = param.value if param.has_value else None
        fields.append(
            ParamField(
                name, ParamKind.of_param(param), default, param.description, not param.has_value
            )
        )
    return fields


def conf_from_form(fields: list[ParamField], form: Mapping[str, str]) -> dict[str, Any]:
    """Turn the form's text inputs into conf values of each field's kind, or InvalidInputError.

    An empty field leaves the param at its default.
    """
    conf: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name)
        if raw is None:
            if field.kind is ParamKind.BOOLEAN:
                conf[field.name] = False  # an unticked checkbox is not sent
            continue
        if raw.strip() == "" and field.kind is not ParamKind.STRING:
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
    if kind is not ParamKind.ANY and ParamKind.of(value) is not kind:
        raise InvalidInputError(
            f"Param {field.name!r} needs a JSON {kind.value}; {raw!r} is a {type(value).__name__}."
        )
    return value
