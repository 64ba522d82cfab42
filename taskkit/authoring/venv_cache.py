"""Virtual environments for PythonVirtualenvOperator, built once per set of requirements.

A venv lives in `<cache>/venv-<hash>`, where the hash covers everything
that shapes it (interpreter, requirements, system_site_packages, pip
options, index URLs). Building takes a lock file beside it, so two tries wanting the
same venv at once build it once; a marker written last tells a finished
venv from one a killed try left half-built, which is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs

from taskkit.errors import IsolatedPythonError

_MARKER = "install_complete_marker.json"


@attrs.frozen
class VenvRecipe:
    """What a venv is made of; equal recipes share one cached venv."""

    python: str
    requirements: tuple[str, ...]
    system_site_packages: bool
    pip_install_options: tuple[str, ...] = ()
    #: Where pip looks (the first is the index, the others extra ones; () is no index at
    #: all), written to the venv's pip.conf as Airflow does; None leaves pip's own config.
    index_urls: tuple[str, ...] | None = None

    @property
    def text(self) -> str:
        fields = attrs.asdict(self)
        if self.index_urls is None:
            del fields["index_urls"]  # venvs cached before index_urls existed keep their key
        return json.dumps(fields, sort_keys=True)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]


def default_cache_root() -> Path:
    """$TASKKIT_HOME/venvs (TASKKIT_HOME defaults to ~/taskkit, as the settings do)."""
    home = os.environ.get("TASKKIT_HOME", "").strip()
    return (Path(home).expanduser() if home else Path("~/taskkit").expanduser()) / "venvs"


def find_python(python_version: str | None) -> str:
    """The interpreter for `python_version` ("3.11", "3"), or taskkit's own when None."""
    if python_version is None:
        return sys.executable
    found = shutil.which(f"python{python_version}")
    if found is None:
        raise IsolatedPythonError(
            f"python_version={python_version!r}: no python{python_version} interpreter on this "
            "machine's PATH; install it, or remove python_version to use taskkit's own Python."
        )
    return found


def ensure_venv(recipe: VenvRecipe, cache_root: Path) -> Path:
    """The python of the cached venv for `recipe`, building it first if needed."""
    venv = cache_root / f"venv-{recipe.key}"
    cache_root.mkdir(parents=True, exist_ok=True)
    with Path(f"{venv}.lock").open("w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        marker = venv / _MARKER
        if marker.exists() and marker.read_text(encoding="utf-8") == recipe.text:
            print(f"Reusing the virtual environment in {venv}")
            return venv / "bin" / "python"
        if venv.exists():  # half-built by a try that died, or a hash collision
            shutil.rmtree(venv)
        print(f"Creating a virtual environment in {venv}")
        try:
            _build(recipe, venv)
        except BaseException:
            shutil.rmtree(venv, ignore_errors=True)
            raise
        marker.write_text(recipe.text, encoding="utf-8")
        return venv / "bin" / "python"


def _build(recipe: VenvRecipe, venv: Path) -> None:
    command = [recipe.python, "-m", "venv", str(venv)]
    if recipe.system_site_packages:
        command.append("--system-site-packages")
    if not recipe.requirements:
        command.append("--without-pip")  # nothing to install: skip the slow pip bootstrap
    _run(command, "create the virtual environment")
    if recipe.index_urls is not None:
        # pip reads <venv>/pip.conf ("site" config) before the user's and global ones' values.
        (venv / "pip.conf").write_text(pip_conf(recipe.index_urls), encoding="utf-8")
    if recipe.requirements:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run([*pip, *recipe.pip_install_options, *recipe.requirements], "install the requirements")


def pip_conf(index_urls: Sequence[str]) -> str:
    """A pip.conf naming the index (the first URL) and extra indexes; no URLs: no index."""
    if not index_urls:
        return "[global]\nno-index = true\n"
    lines = [f"index-url = {index_urls[0]}"]
    if len(index_urls) > 1:
        lines.append(f"extra-index-url = {' '.join(index_urls[1:])}")
    return "[global]\n" + "\n".join(lines) + "\n"


def _run(command: Sequence[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
    output = (done.stdout + done.stderr).strip()
    if output:
        print(output)
    if done.returncode != 0:
        last = output.splitlines()[-1] if output else f"exit code {done.returncode}"
        raise IsolatedPythonError(f"Could not {what} ({' '.join(command[:4])} ...): {last}")
