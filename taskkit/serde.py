"""DAG payloads: (de)serialisation, signing and the secret key (eagerly imports cloudpickle).

A DAG file in the DAGs folder is not importable in a worker process, and
cloudpickle pickles functions of importable modules by reference; so the DAG
file's own module is pickled by value. Payloads are signed with an HMAC key
kept beside the metastore, because unpickling runs code: a payload that does
not verify is never loaded.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import pickle
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

import cloudpickle

from taskkit.errors import ConfigError, PayloadIntegrityError

SECRET_KEY_FILE = "secret_key"

# cloudpickle's by-value registry is process-global; serialise our edits to it.
_REGISTRY_LOCK = threading.Lock()


def _modules_for(dag: object, module_names: Iterable[str] | None) -> list[ModuleType]:
    """The modules to pickle by value: those named, plus the one loaded from the DAG's file."""
    modules: dict[str, ModuleType] = {}
    for name in module_names or ():
        module = sys.modules.get(name)
        if module is None:
            raise ValueError(f"Module {name!r} is not imported, so it cannot be pickled by value.")
        modules[name] = module
    fileloc = getattr(dag, "fileloc", None)
    if isinstance(fileloc, str) and fileloc:
        target = os.path.realpath(fileloc)
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if path and name not in modules and os.path.realpath(path) == target:
                modules[name] = module
    # taskkit itself is installed in workers; pickling it by value would copy the SDK.
    return [
        m
        for n, m in modules.items()
        if n not in {"__main__", "taskkit"} and not n.startswith("taskkit.")
    ]


_SORTED_SET = "taskkit.sorted_set"
_SPEC_DOMAIN = b"taskkit.dag_spec\0"


class _StablePickler(cloudpickle.Pickler):  # type: ignore[misc]
    """Pickles sets of str or int in sorted order, so equal DAGs give equal bytes.

    Set iteration order depends on PYTHONHASHSEED, which differs per process;
    without this, every parse would look like a new DAG version. The C
    pickler saves sets before consulting reducer_override, but it asks
    persistent_id about every object first, so that is the hook used.
    """

    def persistent_id(self, obj: object) -> object:
        kind = type(obj)
        if kind is frozenset or kind is set:
            items = list(obj)  # type: ignore[call-overload]
            if len(items) > 1 and (
                all(type(i) is str for i in items) or all(type(i) is int for i in items)
            ):
                return (_SORTED_SET, kind is frozenset, sorted(items))
        return None


class _StableUnpickler(pickle.Unpickler):
    """Reads what _StablePickler wrote."""

    def persistent_load(self, pid: object) -> object:
        if isinstance(pid, tuple) and len(pid) == 3 and pid[0] == _SORTED_SET:
            return frozenset(pid[2]) if pid[1] else set(pid[2])
        raise pickle.UnpicklingError(f"Unknown persistent id {pid!r}.")


def _pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    _StablePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buffer.getvalue()


def _unpickle(payload: bytes) -> object:
    return _StableUnpickler(io.BytesIO(payload)).load()


def dumps_dag(dag: object, module_names: Iterable[str] | None = None) -> bytes:
    """Pickle a DAG so a worker needs only the payload and the installed packages.

    The module loaded from `dag.fileloc` and every module in `module_names`
    are pickled by value, so their functions and helpers travel with the DAG.
    The bytes are deterministic for equal DAGs (sets are sorted), so
    `content_hash` of the payload changes only when the DAG does.
    """
    with _REGISTRY_LOCK:
        already = set(cloudpickle.list_registry_pickle_by_value())
        added = [m for m in _modules_for(dag, module_names) if m.__name__ not in already]
        for module in added:
            cloudpickle.register_pickle_by_value(module)
        try:
            return _pickle(dag)
        finally:
            for module in added:
                cloudpickle.unregister_pickle_by_value(module)


def dumps_spec(spec: object, module_names: Iterable[str] | None = None) -> bytes:
    """Pickle a DagSpec alone, stored beside the payload: the scheduler unpickles no operator.

    Modules are pickled by value as for the DAG: a schedule may name classes
    of the DAG file (an asset watcher's trigger).
    """
    return dumps_dag(spec, module_names)


def sign_spec(spec: bytes, key: bytes) -> str:
    """A stored spec's HMAC under the installation's key.

    Prefixed, so a spec never passes for a payload nor a payload for a spec.
    """
    mac = hmac.new(key, _SPEC_DOMAIN, hashlib.sha256)
    mac.update(spec)
    return mac.hexdigest()


def loads_verified_spec(spec: bytes, signature: str, key: bytes) -> object:
    """Verify a stored spec's signature, then unpickle it; raises PayloadIntegrityError."""
    if not hmac.compare_digest(sign_spec(spec, key), signature):
        raise PayloadIntegrityError(
            "A stored DAG spec failed its HMAC check and was not loaded: it was written with "
            "another secret key or altered in the database. Re-parse the DAGs folder "
            "(`taskkit dags list`) to store it again with the current key."
        )
    return _unpickle(spec)


def loads_dag(payload: bytes) -> object:
    """Unpickle a DAG payload. Only call this on payloads that passed `verify`."""
    return _unpickle(payload)


def loads_verified_dag(payload: bytes, signature: str, key: bytes) -> object:
    """Verify a payload's signature, then unpickle it; raises PayloadIntegrityError."""
    verify(payload, signature, key)
    return loads_dag(payload)


def content_hash(payload: bytes) -> str:
    """The SHA-256 hex digest of a payload, used to tell DAG versions apart."""
    return hashlib.sha256(payload).hexdigest()


def sign(payload: bytes, key: bytes) -> str:
    """An HMAC-SHA256 hex signature of the payload under the installation's key."""
    return hmac.new(key, payload, hashlib.sha256).hexdigest()


def verify(payload: bytes, signature: str, key: bytes) -> None:
    """Raise PayloadIntegrityError unless `signature` is the payload's HMAC under `key`."""
    if not hmac.compare_digest(sign(payload, key), signature):
        raise PayloadIntegrityError(
            "A stored DAG payload failed its HMAC check and was not loaded: it was written "
            "with another secret key or altered in the database. If you changed the secret "
            "key, re-parse the DAGs folder (`taskkit dags list`, or the DAG processor's next "
            "pass): versions whose file is unchanged are re-signed with the new key."
        )


def load_secret_key(home: Path, configured: str | None, key_file: Path | None = None) -> bytes:
    """The HMAC key: core.secret_key if set, else the key file (created 0600 if missing).

    The file is core.secret_key_file, else $TASKKIT_HOME/secret_key; keeping it
    outside $TASKKIT_HOME lets the folder tries write to hold no secret.
    Creation uses O_EXCL so two processes starting at once agree on one key.
    """
    if configured:
        return configured.encode()
    path = key_file if key_file is not None else home / SECRET_KEY_FILE
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"Cannot create secret key file {path}: {exc}.") from exc
    else:
        with os.fdopen(fd, "wb") as handle:
            # os.urandom is what secrets.token_bytes calls; importing secrets would load
            # random into the zygote, whose reseed then runs in every forked try.
            handle.write(os.urandom(32))
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"Cannot read secret key file {path}: {exc}. Check core.secret_key_file."
        ) from exc
    if len(key) < 16:
        raise ConfigError(
            f"Secret key file {path} holds {len(key)} bytes; it needs at least 16. "
            "Delete it to have a new one created."
        )
    return key
