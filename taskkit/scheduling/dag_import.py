"""Import one DAG file in this process and find DAG files in a folder.

Importing collects every DAG the file creates (bound to a name or not) and
turns any failure (SyntaxError, an exception, a DAG definition error,
sys.exit) into a FileImportError with the line in the file where it happened.
The DAG processor runs this in a child process; `dags test` and `tasks
test` run it in the CLI's own process, once the child found the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING

import attrs

from taskkit.authoring.registry import collect_dags
from taskkit.errors import ConfigError, DuplicateDagIdError

if TYPE_CHECKING:
    from taskkit.authoring.dag import DAG

IGNORE_FILE = ".taskkitignore"


@attrs.frozen
class FileImportError:
    """Why one DAG file yielded no DAGs: the file, the line in it, and a one-line message."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@attrs.frozen
class ImportedFile:
    """A file imported in this process: the live DAG objects it created, or its error."""

    path: str
    dags: tuple[DAG, ...]
    error: FileImportError | None
    module_name: str


def absolute(path: str | os.PathLike[str]) -> str:
    """An absolute, normalised path (symlinks kept: fileloc is the path the user sees)."""
    return os.path.normpath(Path(path).absolute())


def module_name_for(path: str) -> str:
    """A unique, stable module name for a DAG file, so two files named dag.py never clash."""
    return "taskkit_dagfile_" + hashlib.sha1(path.encode()).hexdigest()[:12]


def import_dag_file(path: str | os.PathLike[str]) -> ImportedFile:
    """Import a DAG file in this process and collect every DAG it creates; never raises.

    The module is registered in sys.modules under `module_name_for(path)`
    while (and after) it runs, so serde can pickle it by value. Errors
    (SyntaxError, any exception, a DAG definition error, sys.exit) become a
    FileImportError with the line in the file where they happened.
    """
    file = absolute(path)
    name = module_name_for(file)
    collector = collect_dags()
    try:
        with collector as dags:
            module = _exec_module(name, file)
            for dag in dags:
                dag.validate()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # user code may raise anything, SystemExit included
        sys.modules.pop(name, None)
        return ImportedFile(file, (), _error_from(file, exc), name)
    del module
    return ImportedFile(file, tuple(collector.dags), _duplicates_in_file(file, dags), name)


def _exec_module(name: str, file: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}: not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _duplicates_in_file(file: str, dags: Sequence[DAG]) -> FileImportError | None:
    seen: set[str] = set()
    for dag in dags:
        if dag.dag_id in seen:
            clash = DuplicateDagIdError(dag.dag_id, file)
            return FileImportError(file, None, f"{type(clash).__name__}: {clash}")
        seen.add(dag.dag_id)
    return None


def _error_from(file: str, exc: BaseException) -> FileImportError:
    """A one-line message and the line in `file` where `exc` was raised."""
    if isinstance(exc, SyntaxError) and exc.filename == file:
        return FileImportError(file, exc.lineno, f"{type(exc).__name__}: {exc.msg}")
    line = _innermost_line(file, exc.__traceback__)
    if isinstance(exc, SystemExit):
        message = f"SystemExit: the file called sys.exit({exc.code!r}) while being imported"
    else:
        text = str(exc).strip().splitlines()
        message = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    return FileImportError(file, line, message)


def _innermost_line(file: str, tb: TracebackType | None) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == file:
            line = lineno
    return line


# --- finding files --------------------------------------------------------------------------


def list_dag_files(folder: str | os.PathLike[str]) -> list[str]:
    """Every .py file under `folder`, sorted; names starting with "_" or "." are skipped.

    A `.taskkitignore` file in a folder lists glob patterns (one per line,
    relative to that folder, "#" for comments) of files and folders to skip.
    """
    root = Path(absolute(folder))
    check_dags_folder(root)
    if not root.is_dir():
        return []
    return sorted(str(p) for p in _walk(root, []))


def check_dags_folder(folder: str | os.PathLike[str]) -> None:
    """Raise ConfigError if the DAGs folder exists but is not a folder (a missing one is empty)."""
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ConfigError(
            f"The DAGs folder {path} is a file, not a folder. Point core.dags_folder "
            "(or --dags-folder) at the folder that holds your DAG files."
        )


def _walk(folder: Path, ignores: list[tuple[Path, str]]) -> Iterator[Path]:
    ignore_file = folder / IGNORE_FILE
    if ignore_file.is_file():
        patterns = [
            line.strip()
            for line in ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        ignores = ignores + [(folder, pattern) for pattern in patterns]
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(("_", ".")) or _ignored(entry, ignores):
            continue
        if entry.is_dir():
            yield from _walk(entry, ignores)
        elif entry.suffix == ".py" and entry.is_file():
            yield entry


def _ignored(entry: Path, ignores: Iterable[tuple[Path, str]]) -> bool:
    return any(entry.relative_to(base).match(pattern) for base, pattern in ignores)
