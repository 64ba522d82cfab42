"""Variable: a key-value store shared by DAGs, as Airflow's `Variable`.

`Variable.get` reads the environment first (`TASKKIT_VAR_<KEY>`, as
Airflow's `AIRFLOW_VAR_<KEY>`), then the source in force (the metastore in
a worker, DAG.test()'s `variables=`). The value of a variable whose key
looks secret ("password", "token", "api_key"...) is masked in the try's log
from then on.
"""

from __future__ import annotations

import json
import os
from typing import Any

from taskkit.authoring import masking
from taskkit.authoring.secrets import SecretsSource, current_source
from taskkit.errors import VariableError, VariableNotFoundError

ENV_PREFIX = "TASKKIT_VAR_"


class _NoDefault:
    def __repr__(self) -> str:
        return "NOTSET"


_NOTSET: Any = _NoDefault()


class Variable:
    """Read, write and delete variables; every method is a classmethod, as in Airflow."""

    @classmethod
    def get(
        cls,
        key: str,
        default: Any = _NOTSET,
        deserialize_json: bool = False,
        *,
        default_var: Any = _NOTSET,
    ) -> Any:
        """The variable's value (decoded from JSON with `deserialize_json`).

        A missing variable returns `default`, or without one raises
        VariableNotFoundError (a KeyError naming the key). `default_var` is
        Airflow 2's name for `default`, so DAG files written for it run unchanged.
        """
        if default_var is not _NOTSET:
            if default is not _NOTSET:
                raise TypeError(
                    f"Variable.get({key!r}) got both default and default_var (Airflow 2's "
                    "name for it); pass one."
                )
            default = default_var
        raw = os.environ.get(ENV_PREFIX + key.upper())
        if raw is None:
            source = current_source()
            raw = source.get_variable(key) if source is not None else None
        if raw is None:
            if default is _NOTSET:
                raise VariableNotFoundError(key)
            if masking.should_mask(key):
                masking.mask_secret(default)
            return default
        if masking.should_mask(key):
            masking.mask_secret(raw)
        if not deserialize_json:
            return raw
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise VariableError(
                f"Variable {key!r} is not valid JSON ({exc}); read it without "
                "deserialize_json=True, or store JSON in it."
            ) from None
        if masking.should_mask(key):
            masking.mask_secret(value)
        return value

    @classmethod
    def set(
        cls,
        key: str,
        value: Any,
        description: str | None = None,
        serialize_json: bool = False,
    ) -> None:
        """Store `value` under `key` (as JSON with `serialize_json`, else as its str())."""
        text = json.dumps(value, indent=2) if serialize_json else str(value)
        _writable(key).set_variable(key, text, description)

    @classmethod
    def delete(cls, key: str) -> bool:
        """Delete the variable; whether it existed."""
        return _writable(key).delete_variable(key)


def _writable(key: str) -> SecretsSource:
    source = current_source()
    if source is None:
        raise VariableError(
            f"Cannot write variable {key!r} here: no metastore is in use. Write variables "
            "inside a task, or with `taskkit variables set`."
        )
    return source


class _Values:
    """`var.value` / `var.json` in templates: attribute access reads the variable."""

    def __init__(self, deserialize_json: bool) -> None:
        self._json = deserialize_json

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):  # copy, pickle and jinja probe dunders: not variables
            raise AttributeError(key)
        return Variable.get(key, deserialize_json=self._json)

    def get(self, key: str, default: Any = None) -> Any:
        """`{{ var.value.get('key', 'fallback') }}`."""
        return Variable.get(key, default, deserialize_json=self._json)


class VariableAccessor:
    """The context's `var`: `{{ var.value.key }}` and `{{ var.json.key.field }}`."""

    value = _Values(deserialize_json=False)
    json = _Values(deserialize_json=True)


VAR = VariableAccessor()
