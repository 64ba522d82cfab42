"""Reading and writing the JSON files of `pools`, `variables` and `connections` import|export.

A file is read and checked whole before anything is stored, so a malformed
file changes nothing; exported variables and connections are written 0600,
since they hold secrets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from taskkit.errors import TaskkitError


def read_object(path: Path, kind: str, error: type[TaskkitError], example: str) -> dict[str, Any]:
    """The JSON object in `path`; `error` with one line saying what is wrong otherwise."""
    try:
        document: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"Cannot read {kind} file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise error(f"{kind.capitalize()} file {path} is not UTF-8 text; expected JSON.") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{kind.capitalize()} file {path} is not valid JSON: {exc}.") from None
    if not isinstance(document, dict):
        raise error(f"{kind.capitalize()} file {path} must hold a JSON object: {example}.")
    return document


def write_private(path: Path, document: object, kind: str, error: type[TaskkitError]) -> None:
    """Write `document` as JSON to `path`, readable by its owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        raise error(f"Cannot write {kind} file {path}: {exc.strerror}.") from None
