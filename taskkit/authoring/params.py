"""`Param`: a run parameter with a default and a JSON schema, and how a run's values are resolved.

DAG `params` and task `params` hold plain values or `Param`s; a run's conf
overrides them (Airflow's `dag_run_conf_overrides_params`). Validation uses
the `jsonschema` library, imported only when a schema is actually checked so
that `import taskkit` stays light.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from taskkit.errors import ParamValidationError


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


#: The default of a Param that must be given a value by the run's conf.
NO_DEFAULT: Any = _NoDefault()


class Param:
    """A value with an optional description and JSON-schema rules: `Param(5, type="integer")`.

    Keyword arguments other than `description` form the schema (or pass
    `schema={...}` whole). A Param without a default must get its value from
    the run's conf.
    """

    __slots__ = ("description", "schema", "value")

    def __init__(self, default: Any = NO_DEFAULT, description: str | None = None, **schema: Any):
        if default is not NO_DEFAULT:
            _check_json("default", default)
        self.value: Any = default
        self.description = description
        given = schema.pop("schema") if "schema" in schema else schema
        if not isinstance(given, Mapping):
            raise ParamValidationError("schema", f"must be a mapping, got {given!r}")
        self.schema: dict[str, Any] = dict(given)

    @property
    def has_value(self) -> bool:
        return self.value is not NO_DEFAULT

    def resolve(
        self, value: Any = NO_DEFAULT, *, name: str = "?", dag_id: str | None = None
    ) -> Any:
        """`value` (or the default) checked against the schema; raises ParamValidationError."""
        final = self.value if value is NO_DEFAULT else value
        if final is NO_DEFAULT:
            raise ParamValidationError(
                name,
                "has no default and no value was given; pass it in the run's conf "
                f"(--conf '{{\"{name}\": ...}}') or give the Param a default.",
                dag_id=dag_id,
            )
        _check_json(name, final, dag_id)
        if self.schema:
            _validate(final, self.schema, name, dag_id)
        return final

    def check_schema(self, *, name: str = "?", dag_id: str | None = None) -> None:
        """Raise ParamValidationError if the schema itself is not valid JSON schema."""
        if not self.schema:
            return
        # Imported here, not at the top: `import taskkit` must not load jsonschema.
        import jsonschema

        cls = jsonschema.validators.validator_for(self.schema)
        try:
            cls.check_schema(self.schema)
        except jsonschema.SchemaError as err:
            raise ParamValidationError(
                name,
                f"its schema is not valid JSON schema: {_one_line(err.message)}",
                dag_id=dag_id,
            ) from None

    def with_value(self, value: Any) -> Param:
        """The same description and schema with another default (a conf or task override)."""
        return Param(value, self.description, schema=self.schema)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Param):
            return NotImplemented
        return (self.value, self.description, self.schema) == (
            other.value,
            other.description,
            other.schema,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Param({self.value!r}, description={self.description!r}, schema={self.schema!r})"


class ParamsDict(MutableMapping[str, Any]):
    """Params by name; reading a key gives the value, `get_param(key)` the Param.

    Plain values are wrapped in schema-less Params. Setting a plain value on
    a key that holds a Param keeps that Param's description and schema.
    """

    __slots__ = ("_params",)

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._params: dict[str, Param] = {}
        if params is not None:
            self.update(params)

    def __getitem__(self, key: str) -> Any:
        param = self._params[key]
        return param.value if param.has_value else None

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise ParamValidationError(repr(key), "param names must be strings.")
        if isinstance(value, Param):
            self._params[key] = value
            return
        try:
            old = self._params.get(key)
            self._params[key] = old.with_value(value) if old is not None else Param(value)
        except ParamValidationError as err:
            raise ParamValidationError(key, err.problem) from None

    def __delitem__(self, key: str) -> None:
        del self._params[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def update(self, *args: Any, **kwargs: Any) -> None:
        if len(args) == 1 and isinstance(args[0], ParamsDict) and not kwargs:
            self._params.update(args[0]._params)
        else:
            super().update(*args, **kwargs)

    def get_param(self, key: str) -> Param:
        return self._params[key]

    def dump(self) -> dict[str, Any]:
        """The values, unvalidated (None for a Param without a default)."""
        return {k: (p.value if p.has_value else None) for k, p in self._params.items()}

    def validate(self, *, dag_id: str | None = None) -> dict[str, Any]:
        """The values, each checked against its schema; raises ParamValidationError."""
        return {k: p.resolve(name=k, dag_id=dag_id) for k, p in self._params.items()}

    def __repr__(self) -> str:
        return f"ParamsDict({self._params!r})"


class DagParam:
    """A reference to DAG param `name`, resolved to the run's value when a try runs.

    A `@dag` function's parameters are these inside its body (and `DAG.param()`
    makes one), as Airflow's DagParam: passed to a task call or an operator
    field, it becomes the run's value of the param, after the run's conf has
    overridden it and it has been validated.
    """

    __slots__ = ("dag_id", "name")

    def __init__(self, dag_id: str, name: str) -> None:
        self.dag_id = dag_id
        self.name = name

    def resolve(self, params: Mapping[str, Any]) -> Any:
        """The value of this param among a try's `params` (the context's)."""
        return params[self.name]

    def __repr__(self) -> str:
        return f"DagParam({self.dag_id!r}, {self.name!r})"


def holds_dag_param(value: Any) -> bool:
    """Whether `value` is a DagParam or holds one in its lists, tuples, sets or dicts."""
    if isinstance(value, DagParam):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(holds_dag_param(item) for item in value)
    if isinstance(value, dict):
        return any(holds_dag_param(item) for item in value.values())
    return False


def merge_params(
    dag_params: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None,
    task_params: Mapping[str, Any] | None = None,
) -> ParamsDict:
    """DAG params, then the task's params over them, then the run's conf over both."""
    merged = ParamsDict(dag_params)
    if task_params:
        merged.update(task_params)
    if conf:
        merged.update(conf)
    return merged


def resolve_params(
    dag_params: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None,
    task_params: Mapping[str, Any] | None = None,
    *,
    dag_id: str | None = None,
) -> dict[str, Any]:
    """The run's param values, validated: call when a run is triggered and for each task.

    Raises ParamValidationError naming the param and the failing rule in one line.
    """
    try:
        merged = merge_params(dag_params, conf, task_params)
    except ParamValidationError as err:  # a conf value JSON cannot hold: name the DAG too
        raise ParamValidationError(err.param, err.problem, dag_id=dag_id) from None
    return merged.validate(dag_id=dag_id)


def param_values(
    dag_params: Mapping[str, Any] | None,
    conf: Mapping[str, Any] | None,
    task_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's param values without validation: the cheap path for building a context.

    Built per try in a worker, so it wraps nothing and checks nothing.
    """
    return {**_values(dag_params), **_values(task_params), **(conf or {})}


def _values(params: Mapping[str, Any] | None) -> dict[str, Any]:
    if not params:
        return {}
    if isinstance(params, ParamsDict):
        return params.dump()
    return {
        k: (v.value if v.has_value else None) if isinstance(v, Param) else v
        for k, v in params.items()
    }


def _check_json(name: str, value: Any, dag_id: str | None = None) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ParamValidationError(
            name,
            f"value {value!r} ({type(value).__name__}) is not JSON-serialisable; use "
            "strings, numbers, booleans, lists and dicts.",
            dag_id=dag_id,
        ) from None


def _validate(value: Any, schema: Mapping[str, Any], name: str, dag_id: str | None) -> None:
    # Imported here, not at the top: `import taskkit` must not load jsonschema.
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=jsonschema.FormatChecker())
    try:
        error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    except jsonschema.SchemaError as err:
        raise ParamValidationError(
            name, f"its schema is not valid JSON schema: {_one_line(err.message)}", dag_id=dag_id
        ) from None
    if error is not None:
        rule = f"{error.validator}: {error.validator_value!r}"
        where = "".join(f"[{p!r}]" for p in error.absolute_path)
        at = f"at {name}{where}: " if where else ""
        raise ParamValidationError(
            name,
            f"{at}{_one_line(error.message)} (schema rule {rule}); pass a value that matches.",
            dag_id=dag_id,
        )


def _one_line(text: str) -> str:
    return " ".join(text.split())
