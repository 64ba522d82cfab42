"""`@asset`: a function that materialises an asset becomes a one-task DAG producing it.

As Airflow 3's `@asset`: the DAG and its task are named after the function
(the DAG id can be given), the task's outlet is the asset, and the DAG runs
on `schedule` (a time schedule, or other assets). `@asset.multi` does the
same for several outlets and returns them as an AssetAll. The function may take
`self` (the asset), `context`, any context key (`outlet_events`,
`logical_date`, ...) and, for each other parameter without a default, the
asset of that name as an inlet.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from taskkit.authoring.asset_events import drain_metadata
from taskkit.authoring.dag import DAG
from taskkit.authoring.operators import CONTEXT_KEYS, PythonOperator
from taskkit.errors import AssetDefinitionError
from taskkit.model.assets import Asset, AssetAlias, AssetAll, BaseAsset

if TYPE_CHECKING:
    from taskkit.authoring.context import Context
    from taskkit.model.timetables import Schedule

#: Parameters that are never inlet asset names.
_NOT_INLETS = frozenset({"self", "context"}) | CONTEXT_KEYS


class _AssetMaterializer(PythonOperator):
    """The task `@asset` creates: calls the function with its asset, context and inlets."""

    def __init__(self, *, definition: BaseAsset, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.definition = definition

    def execute(self, context: Context) -> Any:
        inlets = {a.name: a for a in self.inlets if isinstance(a, Asset)}
        kwargs: dict[str, Any] = {}
        for name, parameter in inspect.signature(self.python_callable).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                continue
            if name == "self":
                kwargs[name] = self.definition
            elif name == "context":
                kwargs[name] = context
            elif name in CONTEXT_KEYS:
                kwargs[name] = context[name]
            else:
                kwargs[name] = inlets[name]
        return drain_metadata(self.python_callable(**kwargs), context["outlet_events"])


def _materialize(
    function: Callable[..., Any],
    *,
    dag_id: str,
    schedule: Schedule,
    definition: BaseAsset,
    outlets: list[Asset | AssetAlias],
    description: str | None,
    tags: Iterable[str],
    dag_kwargs: Mapping[str, Any],
) -> None:
    """Create the one-task DAG running `function`, its parameters' assets as inlets."""
    inlets: list[Asset | AssetAlias] = []
    for parameter in inspect.signature(function).parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            raise AssetDefinitionError(
                f"@asset {function.__name__}: *args and **kwargs are not supported; name "
                "the context keys and inlet assets it takes."
            )
        if parameter.name not in _NOT_INLETS and parameter.default is inspect.Parameter.empty:
            inlets.append(Asset(parameter.name))
    summary = (function.__doc__ or "").strip().split("\n")[0] or None
    with DAG(
        dag_id, schedule=schedule, description=description or summary, tags=tags, **dag_kwargs
    ):
        _AssetMaterializer(
            task_id=function.__name__,
            python_callable=function,
            definition=definition,
            outlets=outlets,
            inlets=inlets,
        )


class _AssetDecorator:
    """`@asset(schedule=...)`, and `@asset.multi(schedule=..., outlets=[...])`."""

    def __call__(
        self,
        *,
        schedule: Schedule,
        name: str | None = None,
        uri: str | None = None,
        group: str = "asset",
        extra: Mapping[str, Any] | None = None,
        dag_id: str | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        **dag_kwargs: Any,
    ) -> Callable[[Callable[..., Any]], Asset]:
        """Decorate a function that materialises an asset; returns the Asset."""

        def wrap(function: Callable[..., Any]) -> Asset:
            asset_name = name or function.__name__
            definition = Asset(
                uri if uri is not None else asset_name, name=asset_name, group=group, extra=extra
            )
            _materialize(
                function,
                dag_id=dag_id or asset_name,
                schedule=schedule,
                definition=definition,
                outlets=[definition],
                description=description,
                tags=tags,
                dag_kwargs=dag_kwargs,
            )
            return definition

        return wrap

    def multi(
        self,
        *,
        schedule: Schedule,
        outlets: Iterable[Asset | AssetAlias],
        dag_id: str | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        **dag_kwargs: Any,
    ) -> Callable[[Callable[..., Any]], AssetAll]:
        """Decorate a function that materialises several assets; returns them as an AssetAll."""
        produced = list(outlets)
        if not produced:
            raise AssetDefinitionError("@asset.multi needs at least one outlet.")

        def wrap(function: Callable[..., Any]) -> AssetAll:
            definition = AssetAll(*produced)
            _materialize(
                function,
                dag_id=dag_id or function.__name__,
                schedule=schedule,
                definition=definition,
                outlets=produced,
                description=description,
                tags=tags,
                dag_kwargs=dag_kwargs,
            )
            return definition

        return wrap


#: `@asset(schedule=...)` and `@asset.multi(schedule=..., outlets=[...])`, as in Airflow 3.
asset = _AssetDecorator()
