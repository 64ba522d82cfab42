"""Refusing query parameters an endpoint does not take, instead of ignoring them.

FastAPI ignores unknown query parameters. For a list endpoint that is a
silent wrong answer: `?sate=failed` (or an Airflow filter taskkit does
not have, such as the DAG list's `?owners=`) returns every item as if the
filter had applied.
Every `/api/v2` and `/auth` route depends on `known_query_parameters`, so such
a request is a 400 that names the parameter and what the endpoint takes.
`enum_values` does the same for a value: a misspelt `?state=` is a 400 too.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, TypeVar

from fastapi import Request
from fastapi.routing import APIRoute

from taskkit.errors import InvalidInputError

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant

E = TypeVar("E", bound=enum.Enum)


def enum_values(kind: type[E], values: list[str], noun: str) -> tuple[E, ...]:
    """`values` (a repeated query parameter) as members of `kind`; InvalidInputError (a 400)
    naming the valid values for one that is not."""
    try:
        return tuple(kind(v) for v in values)
    except ValueError:
        names = ", ".join(str(member.value) for member in kind)
        raise InvalidInputError(f"Unknown {noun} in {values}; use {names}.") from None


def _declared(dependant: Dependant) -> set[str]:
    """The query parameters `dependant` declares, its dependencies' included (a few µs)."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared(sub)
    return names


def known_query_parameters(request: Request) -> None:
    """Raise InvalidInputError (400) for a query parameter the matched route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    taken = _declared(route.dependant)
    unknown = sorted({name for name in request.query_params if name not in taken})
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        what = "parameter" if len(unknown) == 1 else "parameters"
        takes = ", ".join(sorted(taken)) if taken else "no query parameters"
        raise InvalidInputError(
            f"Unknown query {what} {names} for {request.method} {route.path}: it takes "
            f"{takes}. Fix the request (see /docs for its schema) and send it again."
        )
