"""DAG payloads: pickled by value from files off sys.path, hashed, signed and verified."""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from taskkit import serde
from taskkit.errors import PayloadIntegrityError
from taskkit.model.dag import DagSpec
from taskkit.model.task import TaskSpec

DAG_FILE = '''
import os

def helper(x):
    return x * FACTOR

FACTOR = 7

class FakeDag:
    """Stands in for a DAG: a callable defined in the DAG file, and its file path."""

    def __init__(self, fileloc):
        self.fileloc = fileloc
        self.dag_id = "fake"

    def run(self, x):
        return helper(x) + len(os.sep)

def make(fileloc):
    return FakeDag(fileloc)
'''


def _load_off_path(path: Path) -> object:
    name = f"dagfile_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_dag_from_a_file_off_sys_path_round_trips_in_another_process(tmp_path: Path) -> None:
    """A DAG whose callables and helpers live in a non-importable file runs after unpickling."""
    path = tmp_path / "not_a_package" / "my_dag.py"
    path.parent.mkdir()
    path.write_text(DAG_FILE)
    module = _load_off_path(path)
    dag = module.make(str(path))  # type: ignore[attr-defined]
    payload = serde.dumps_dag(dag)
    del sys.modules[module.__name__]  # type: ignore[attr-defined]

    script = textwrap.dedent(
        """
        import sys
        from taskkit import serde
        dag = serde.loads_dag(sys.stdin.buffer.read())
        print(dag.dag_id, dag.run(6))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], input=payload, capture_output=True, check=True, cwd="/"
    )
    assert done.stdout.decode().split() == ["fake", str(42 + len(os.sep))]


def test_named_modules_are_pickled_by_value_and_registry_is_restored(tmp_path: Path) -> None:
    """module_names adds modules to pickle by value, and cloudpickle's registry is left as found."""
    import cloudpickle

    path = tmp_path / "helpers.py"
    path.write_text("def double(x):\n    return 2 * x\n")
    module = _load_off_path(path)
    before = set(cloudpickle.list_registry_pickle_by_value())
    payload = serde.dumps_dag(module.double, module_names=[module.__name__])  # type: ignore[attr-defined]
    assert set(cloudpickle.list_registry_pickle_by_value()) == before
    del sys.modules[module.__name__]  # type: ignore[attr-defined]
    restored = serde.loads_dag(payload)
    assert callable(restored) and restored(21) == 42


def test_unknown_module_name_is_an_error() -> None:
    """Naming a module that is not imported is a clear ValueError."""
    with pytest.raises(ValueError, match="not imported"):
        serde.dumps_dag(object(), module_names=["no_such_module_xyz"])


def test_content_hash_is_sha256_hex() -> None:
    """content_hash is the payload's SHA-256 hex digest."""
    assert serde.content_hash(b"") == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_signatures_verify_only_with_the_same_key_and_payload() -> None:
    """A payload verifies under its key; another key or a changed byte is refused."""
    key = b"k" * 32
    signature = serde.sign(b"payload", key)
    serde.verify(b"payload", signature, key)
    with pytest.raises(PayloadIntegrityError, match="HMAC"):
        serde.verify(b"payload", signature, b"x" * 32)
    with pytest.raises(PayloadIntegrityError):
        serde.loads_verified_dag(b"paylaod", signature, key)


def test_secret_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    """Without a configured key, a 32-byte 0600 key file is created once and then reused."""
    home = tmp_path / "home"
    first = serde.load_secret_key(home, None)
    assert len(first) == 32
    assert stat.S_IMODE((home / "secret_key").stat().st_mode) == 0o600
    assert serde.load_secret_key(home, None) == first


def test_configured_secret_key_wins(tmp_path: Path) -> None:
    """core.secret_key, when set, is the key and no file is created."""
    assert serde.load_secret_key(tmp_path, "configured-secret-key") == b"configured-secret-key"
    assert not (tmp_path / "secret_key").exists()


REAL_DAG_FILE = """
import datetime as dt
from taskkit import dag, task

def helper(x):
    return x + 1

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1), tags=["a", "b", "c"])
def fan_out():
    @task
    def first() -> int:
        return helper(41)

    @task
    def branch(x: int) -> int:
        return x

    value = first()
    for i in range(6):
        branch.override(task_id=f"b{i}")(value)

fan_out_dag = fan_out()
"""

PICKLE_IN_CHILD = """
import importlib.util, sys
from taskkit import serde
spec = importlib.util.spec_from_file_location("taskkit_dagfile_child", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
sys.stdout.buffer.write(serde.dumps_dag(module.fan_out_dag))
"""


def test_real_dag_payload_is_identical_across_processes_and_runs_elsewhere(
    tmp_path: Path,
) -> None:
    """Pickling one @dag file in processes with different hash seeds gives identical bytes,

    so the content hash changes only when the DAG does, and the payload runs in
    a process that cannot import the file.
    """
    path = tmp_path / "fan_out.py"
    path.write_text(REAL_DAG_FILE)
    payloads = [
        subprocess.run(
            [sys.executable, "-c", PICKLE_IN_CHILD, str(path)],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    ]
    assert serde.content_hash(payloads[0]) == serde.content_hash(payloads[1])
    run = "import sys; from taskkit import serde\n" + (
        "r = serde.loads_dag(sys.stdin.buffer.read()).test(); print(r.state, r.xcom('b5'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", run], input=payloads[0], capture_output=True, check=True, cwd="/"
    )
    assert done.stdout.decode().split() == ["success", "42"]


def test_sets_keep_their_type_and_contents() -> None:
    """Sorted pickling of sets gives back the same sets and frozensets."""
    value = {"f": frozenset({"b", "a", "c"}), "s": {3, 1, 2}, "mixed": {1, "a"}, "one": {"x"}}
    assert serde.loads_dag(serde.dumps_dag(value)) == value


def test_the_key_file_can_live_outside_taskkit_home(tmp_path: Path) -> None:
    """With core.secret_key_file the key is created (0600) and read there, not in $TASKKIT_HOME."""
    from taskkit.config import load_settings

    home = tmp_path / "home"
    outside = tmp_path / "vault" / "taskkit.key"
    settings = load_settings(
        environ={"TASKKIT_HOME": str(home), "TASKKIT__CORE__SECRET_KEY_FILE": str(outside)}
    )
    assert settings.core.secret_key_file == outside
    key = serde.load_secret_key(home, None, settings.core.secret_key_file)
    assert outside.read_bytes() == key
    assert stat.S_IMODE(outside.stat().st_mode) == 0o600
    assert not (home / "secret_key").exists()
    assert serde.load_secret_key(home, None, outside) == key


def test_a_task_spec_pickles_as_its_changed_fields_and_shares_the_defaults() -> None:
    """A stored DagSpec holds each task's non-default fields only; loading shares one empty
    set of ids and one retry delay between tasks instead of a copy each."""
    changed = TaskSpec("b", upstream=frozenset({"a"}), retries=2, outlets=("s3://x",))
    plain = TaskSpec("c")
    assert plain.__reduce__()[1] == ("c", {})
    assert changed.__reduce__()[1] == (
        "b",
        {"upstream": frozenset({"a"}), "retries": 2, "outlets": ("s3://x",)},
    )
    spec = DagSpec("d", {"b": changed, "c": plain})
    loaded = serde.loads_dag(serde.dumps_spec(spec))
    assert loaded == spec
    b, c = loaded.tasks.values()  # type: ignore[attr-defined]
    assert b.downstream is c.upstream is c.upstream_setups is TaskSpec("z").downstream
    assert b.retry_delay is c.retry_delay


def test_a_spec_signature_is_not_a_payload_signature() -> None:
    """Specs are signed apart from payloads: neither signature verifies the other kind."""
    key = b"k" * 32
    data = serde.dumps_spec(DagSpec("d", {}))
    assert serde.sign_spec(data, key) != serde.sign(data, key)
    with pytest.raises(PayloadIntegrityError):
        serde.loads_verified_spec(data, serde.sign(data, key), key)
    with pytest.raises(PayloadIntegrityError):
        serde.loads_verified_dag(data, serde.sign_spec(data, key), key)
    assert serde.loads_verified_spec(data, serde.sign_spec(data, key), key) == DagSpec("d", {})
