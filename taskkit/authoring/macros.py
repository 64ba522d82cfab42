"""`macros` in templates and the context, as Airflow offers them: `{{ macros.ds_add(ds, 7) }}`.

`json`, `time`, `uuid`, `datetime` and `timedelta` are the standard ones;
`random` is `random.random` (as in Airflow); `dateutil` (with its
`relativedelta` and `parser`) and `uuid` load on first use, so importing
this module stays cheap.
"""

from __future__ import annotations

import json  # noqa: F401 - exported to templates as macros.json
import time  # noqa: F401 - exported to templates as macros.time
from datetime import datetime, timedelta
from typing import Any

#: What `dir(macros)` lists; random, uuid and dateutil load on first use.
_NAMES = (
    "datetime",
    "dateutil",
    "ds_add",
    "ds_format",
    "json",
    "random",
    "time",
    "timedelta",
    "uuid",
)


def ds_add(ds: str, days: int) -> str:
    """`ds` (YYYY-MM-DD) moved by `days` (negative goes back): ds_add("2026-01-01", 5)."""
    if not days:
        return str(ds)
    moved = datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)
    return moved.strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """`ds` parsed with `input_format` and written with `output_format` (strftime codes)."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def __getattr__(name: str) -> Any:
    # Lazy: these imports cost more than the rest of the module and most runs never use them.
    if name == "random":
        from random import random

        return random
    if name == "uuid":
        import uuid

        return uuid
    if name == "dateutil":
        import dateutil
        import dateutil.parser
        import dateutil.relativedelta

        return dateutil
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(_NAMES)
