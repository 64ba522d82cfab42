"""DAG processing: discovery, import errors with lines, a parser that survives bad files, sync."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from taskkit import serde
from taskkit.config import Settings, load_settings
from taskkit.metastore import DagVersionRecord, Metastore
from taskkit.scheduling.dag_import import list_dag_files
from taskkit.scheduling.dag_processor import parse_file, parse_folder, sync_dags_folder

KEY = b"k" * 32

LOOP_DAGS = """
import datetime as dt
from taskkit import DAG, EmptyOperator, dag, task

for name in ("alpha", "beta", "gamma"):
    with DAG(f"loop_{name}", schedule="@daily", start_date=dt.datetime(2026, 1, 1)):
        EmptyOperator(task_id="only")

@dag(schedule=None, tags=["x"])
def never_bound():
    @task
    def one():
        return 1
    one()

never_bound()
print("DAG files may print; the parser ignores it")
"""

SIMPLE = """
from taskkit import DAG, EmptyOperator
with DAG("{dag_id}"):
    EmptyOperator(task_id="{task_id}")
"""


def write(folder: Path, name: str, source: str) -> Path:
    """Write a DAG file (dedented) and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def simple(dag_id: str, task_id: str = "t") -> str:
    """A one-task DAG file's source."""
    return SIMPLE.format(dag_id=dag_id, task_id=task_id)


def test_dags_built_in_a_loop_and_never_bound_are_found(tmp_path: Path) -> None:
    """Every DAG created while the file is imported is found, bound to a name or not."""
    parsed = parse_file(write(tmp_path, "loops.py", LOOP_DAGS))
    assert parsed.error is None
    ids = [d.dag_id for d in parsed.dags]
    assert ids == ["loop_alpha", "loop_beta", "loop_gamma", "never_bound"]
    never_bound = parsed.dags[-1]
    assert never_bound.tags == ("x",)
    assert never_bound.schedule is None
    assert parsed.dags[0].schedule == "@daily"
    assert never_bound.content_hash == serde.content_hash(never_bound.payload)


def test_syntax_error_is_recorded_with_its_line(tmp_path: Path) -> None:
    """A SyntaxError becomes an import error with the file, its line and a one-line message."""
    path = write(tmp_path, "broken.py", "import taskkit\n\ndef f(:\n    pass\n")
    error = parse_file(path).error
    assert error is not None
    assert (error.file, error.line) == (str(path), 3)
    assert error.message.startswith("SyntaxError:")
    assert "\n" not in error.message


def test_exception_is_recorded_with_the_line_in_the_dag_file(tmp_path: Path) -> None:
    """An exception raised while importing names the DAG file's line, not a library frame."""
    source = """
    import json

    CONFIG = json.loads("{not json")
    """
    path = write(tmp_path, "bad.py", source)
    error = parse_file(path).error
    assert error is not None
    assert error.line == 3
    assert error.message.startswith("JSONDecodeError: ")


def test_cycle_is_an_import_error_with_the_cycle_path(tmp_path: Path) -> None:
    """A cycle fails the file at the `with DAG` block, and the message shows the cycle."""
    source = """
    from taskkit import DAG, EmptyOperator

    with DAG("cyclic"):
        a = EmptyOperator(task_id="a")
        b = EmptyOperator(task_id="b")
        a >> b >> a
    """
    error = parse_file(write(tmp_path, "cyclic.py", source)).error
    assert error is not None
    assert error.line == 3
    assert error.message.startswith("CycleError: ")
    assert "a >> b >> a" in error.message or "b >> a >> b" in error.message


def test_sys_exit_in_a_file_is_an_import_error(tmp_path: Path) -> None:
    """A file calling sys.exit() is recorded as failing; the parser itself carries on."""
    path = write(tmp_path, "exits.py", "import sys\n\nsys.exit(3)\n")
    error = parse_file(path).error
    assert error is not None
    assert error.line == 3
    assert "sys.exit(3)" in error.message


def test_unserializable_dag_is_an_import_error(tmp_path: Path) -> None:
    """A DAG holding something cloudpickle cannot pickle fails its file with a clear reason."""
    source = """
    import threading
    from taskkit import DAG, task

    LOCK = threading.Lock()

    with DAG("locked"):
        @task
        def uses_lock():
            with LOCK:
                return 1
        uses_lock()
    """
    error = parse_file(write(tmp_path, "locked.py", source)).error
    assert error is not None
    assert error.message.startswith("Cannot serialize the DAG: ")


def test_duplicate_dag_id_across_files_names_both_files(tmp_path: Path) -> None:
    """Two files defining one dag_id: the first keeps it, the second gets an error naming both."""
    first = write(tmp_path, "a_first.py", simple("shared"))
    second = write(tmp_path, "b_second.py", simple("shared", "other"))
    write(tmp_path, "c_fine.py", simple("fine"))
    parse = parse_folder(tmp_path)
    assert [(d.dag_id, d.fileloc) for d in parse.dags] == [
        ("shared", str(first)),
        ("fine", str(tmp_path / "c_fine.py")),
    ]
    [error] = parse.errors
    assert error.file == str(second)
    assert str(first) in error.message and str(second) in error.message


def test_hanging_exiting_and_crashing_files_do_not_hurt_the_others(tmp_path: Path) -> None:
    """A file that hangs, one that os._exit()s and one that segfaults each get an error alone."""
    write(tmp_path, "a_good.py", simple("good_a"))
    write(tmp_path, "b_hangs.py", "import time\ntime.sleep(60)\n")
    write(tmp_path, "c_good.py", simple("good_c"))
    write(tmp_path, "d_exits.py", "import os\nos._exit(4)\n")
    write(tmp_path, "e_segfaults.py", "import ctypes\nctypes.string_at(0)\n")
    write(tmp_path, "f_good.py", simple("good_f"))
    parse = parse_folder(tmp_path, timeout=5.0)
    assert [d.dag_id for d in parse.dags] == ["good_a", "good_c", "good_f"]
    errors = {Path(e.file).name: e.message for e in parse.errors}
    assert errors.pop("b_hangs.py").startswith(
        "timed out after 5s (the limit is scheduler.parsing_timeout;"
    )
    assert errors == {
        "d_exits.py": "crashed the parser: the interpreter exited with code 4 (os._exit?)",
        "e_segfaults.py": "crashed the parser: killed by signal SIGSEGV",
    }


def test_a_healthy_folder_is_parsed_in_one_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Normally each of the `processes` children parses a share of the folder, no more."""
    for i in range(4):
        write(tmp_path, f"dag_{i}.py", simple(f"dag_{i}"))
    started: list[object] = []
    real_popen = subprocess.Popen

    def counting_popen(*args: object, **kwargs: object) -> object:
        started.append(args)
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", counting_popen)
    assert len(parse_folder(tmp_path, processes=2).dags) == 4
    assert len(started) == 2
    started.clear()
    assert len(parse_folder(tmp_path, processes=1).dags) == 4
    assert len(started) == 1


def test_a_hanging_file_holds_up_only_its_own_child(tmp_path: Path) -> None:
    """With two children, every other file is parsed while one child waits on a hanging file:
    the hang costs the folder one timeout, not one per file after it."""
    write(tmp_path, "a_hangs.py", "import time\ntime.sleep(600)\n")
    for i in range(6):
        write(tmp_path, f"b_{i}.py", simple(f"dag_{i}"))
    parse = parse_folder(tmp_path, timeout=3.0, processes=2)
    assert len(parse.dags) == 6
    [error] = parse.errors
    assert error.file.endswith("a_hangs.py")
    assert "scheduler.parsing_timeout" in error.message


def test_hidden_underscore_and_ignored_files_are_skipped(tmp_path: Path) -> None:
    """Files and folders starting with "_" or ".", and .taskkitignore patterns, are not parsed."""
    write(tmp_path, "keep.py", "")
    write(tmp_path, "sub/keep_too.py", "")
    write(tmp_path, "_private.py", "")
    write(tmp_path, ".hidden/x.py", "")
    write(tmp_path, "__pycache__/y.py", "")
    write(tmp_path, "notes.txt", "")
    write(tmp_path, "scratch/z.py", "")
    write(tmp_path, "sub/drafts_1.py", "")
    write(tmp_path, ".taskkitignore", "# comment\nscratch\n")
    write(tmp_path, "sub/.taskkitignore", "drafts_*.py\n")
    assert list_dag_files(tmp_path) == [
        str(tmp_path / "keep.py"),
        str(tmp_path / "sub/keep_too.py"),
    ]
    assert list_dag_files(tmp_path / "missing") == []


# --- sync_dags_folder ---------------------------------------------------------------------


def settings_for(folder: Path, url: str, home: Path, **extra: str) -> Settings:
    """Settings pointing at `folder` and the test database, with a short parsing timeout."""
    environ = {
        "TASKKIT_HOME": str(home),
        "TASKKIT__CORE__DAGS_FOLDER": str(folder),
        "TASKKIT__DATABASE__SQL_ALCHEMY_CONN": url,
        "TASKKIT__SCHEDULER__PARSING_TIMEOUT": "5",
        **extra,
    }
    return load_settings(environ=environ)


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    """An empty DAGs folder."""
    folder = tmp_path / "dags"
    folder.mkdir()
    return folder


@pytest.fixture
def settings(dags_folder: Path, db_url: str, tmp_path: Path) -> Settings:
    """Settings for the parametrised database and the temporary DAGs folder."""
    return settings_for(dags_folder, db_url, tmp_path / "home")


def test_sync_saves_dags_and_creates_a_version_only_when_the_file_changes(
    metastore: Metastore, settings: Settings, dags_folder: Path
) -> None:
    """Same bytes → same version; an edited DAG → a new version that becomes current."""
    path = write(dags_folder, "etl.py", simple("etl"))
    first = sync_dags_folder(metastore, settings, KEY)
    assert (first.saved, first.new_versions) == (("etl",), ("etl",))
    again = sync_dags_folder(metastore, settings, KEY)
    assert (again.saved, again.new_versions) == (("etl",), ())
    assert metastore.get_current_dag_version("etl").version_number == 1
    path.write_text(simple("etl", "renamed_task"))
    edited = sync_dags_folder(metastore, settings, KEY)
    assert edited.new_versions == ("etl",)
    version = metastore.get_current_dag_version("etl")
    assert version.version_number == 2
    assert version.fileloc == str(path)
    assert serde.loads_verified_dag(version.payload, version.signature, KEY).task_ids == [  # type: ignore[attr-defined]
        "renamed_task"
    ]


def test_import_errors_are_recorded_then_cleared_when_fixed(
    metastore: Metastore, settings: Settings, dags_folder: Path
) -> None:
    """A broken file's error is stored with its line and disappears once the file is fixed."""
    path = write(dags_folder, "etl.py", simple("etl"))
    sync_dags_folder(metastore, settings, KEY)
    path.write_text("from taskkit import DAG\nwith DAG('etl'):\n    1 / 0\n")
    report = sync_dags_folder(metastore, settings, KEY)
    [error] = metastore.list_import_errors()
    assert (error.fileloc, error.line) == (str(path), 3)
    assert error.message == "ZeroDivisionError: division by zero"
    assert report.errors[0].line == 3
    assert metastore.get_dag("etl").is_active  # a typo does not make the DAG vanish
    path.write_text(simple("etl"))
    assert sync_dags_folder(metastore, settings, KEY).errors == ()
    assert metastore.list_import_errors() == []


def test_a_deleted_file_makes_its_dag_inactive_not_deleted(
    metastore: Metastore, settings: Settings, dags_folder: Path
) -> None:
    """When a DAG's file disappears the DAG is kept, with its versions, but marked inactive."""
    path = write(dags_folder, "etl.py", simple("etl"))
    write(dags_folder, "other.py", simple("other"))
    sync_dags_folder(metastore, settings, KEY)
    path.unlink()
    report = sync_dags_folder(metastore, settings, KEY)
    assert report.deactivated == ("etl",)
    assert [d.dag_id for d in metastore.list_dags()] == ["other"]
    gone = metastore.get_dag("etl")
    assert not gone.is_active
    assert metastore.get_dag_version(gone.current_version_id or 0).dag_id == "etl"


def test_parsing_another_folder_leaves_this_folders_dags_active(
    metastore: Metastore, settings: Settings, dags_folder: Path, db_url: str, tmp_path: Path
) -> None:
    """Syncing a second DAGs folder does not deactivate the DAGs found in the first one."""
    write(dags_folder, "etl.py", simple("etl"))
    sync_dags_folder(metastore, settings, KEY)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    write(elsewhere, "other.py", simple("other"))
    report = sync_dags_folder(metastore, settings_for(elsewhere, db_url, tmp_path / "h2"), KEY)
    assert report.deactivated == ()
    assert [d.dag_id for d in metastore.list_dags()] == ["etl", "other"]


def test_new_dags_start_paused_when_configured(
    metastore: Metastore, dags_folder: Path, db_url: str, tmp_path: Path
) -> None:
    """core.dags_are_paused_at_creation makes newly found DAGs start paused."""
    write(dags_folder, "etl.py", simple("etl"))
    config = settings_for(
        dags_folder, db_url, tmp_path / "home", TASKKIT__CORE__DAGS_ARE_PAUSED_AT_CREATION="true"
    )
    sync_dags_folder(metastore, config, KEY)
    assert metastore.get_dag("etl").is_paused


RUN_STORED_VERSION = """
import sys
from taskkit import serde
payload = sys.stdin.buffer.read()
dag = serde.loads_verified_dag(payload, sys.argv[1], sys.argv[2].encode())
result = dag.test()
print(result.state, result.xcom("total"), result.xcom("shout"))
"""


def run_elsewhere(version: DagVersionRecord, tmp_path: Path) -> list[str]:
    """Run a stored version with DAG.test() in a fresh interpreter, away from the DAGs folder."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    completed = subprocess.run(
        [sys.executable, "-c", RUN_STORED_VERSION, version.signature, KEY.decode()],
        input=version.payload,
        capture_output=True,
        cwd=elsewhere,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr.decode()
    return completed.stdout.decode().split()


SELF_CONTAINED = """
import datetime as dt
from taskkit import dag, task, BashOperator

FACTOR = 7

def helper(values):
    return sum(values) * FACTOR

class Shouter:
    def shout(self, text):
        return text.upper() + "!"

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def self_contained():
    @task
    def numbers():
        return [1, 2, 3]

    @task
    def total(values):
        return helper(values)

    @task
    def shout(value):
        return Shouter().shout(f"total {value}")

    shout(total(numbers())) >> BashOperator(task_id="echo", bash_command="echo {{ ds }}")

self_contained()
"""


def test_a_stored_version_runs_where_the_dag_file_is_not_importable(
    metastore: Metastore, settings: Settings, dags_folder: Path, tmp_path: Path
) -> None:
    """A version loaded back from the metastore runs in a fresh process without the DAG file."""
    path = write(dags_folder, "self_contained.py", SELF_CONTAINED)
    sync_dags_folder(metastore, settings, KEY)
    version = metastore.get_current_dag_version("self_contained")
    path.unlink()  # the worker must need nothing but the payload
    assert run_elsewhere(version, tmp_path) == ["success", "42", "TOTAL", "42!"]


HELPER_MODULE = """
FACTOR = 7

def helper(values):
    return sum(values) * FACTOR

class Shouter:
    def shout(self, text):
        return text.upper() + "!"
"""

USES_HELPER_MODULE = """
import datetime as dt
from taskkit import dag, task
from shared_helpers import Shouter, helper

@dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
def uses_helpers():
    @task
    def total():
        return helper([1, 2, 3])

    @task
    def shout(value):
        return Shouter().shout(f"total {value}")

    shout(total())

uses_helpers()
"""


def test_helper_modules_beside_dag_files_travel_with_the_payload(
    metastore: Metastore, settings: Settings, dags_folder: Path, tmp_path: Path
) -> None:
    """A DAG file may import a helper module from the DAGs folder; workers need neither file."""
    dag_file = write(dags_folder, "uses_helpers.py", USES_HELPER_MODULE)
    helper_file = write(dags_folder, "shared_helpers.py", HELPER_MODULE)
    report = sync_dags_folder(metastore, settings, KEY)
    assert report.errors == ()
    version = metastore.get_current_dag_version("uses_helpers")
    dag_file.unlink()
    helper_file.unlink()
    assert run_elsewhere(version, tmp_path) == ["success", "42", "TOTAL", "42!"]


def test_a_rotated_secret_key_is_recovered_by_the_next_parse(
    metastore: Metastore, settings: Settings, dags_folder: Path
) -> None:
    """After the secret key changes, re-parsing an unchanged DAG re-signs its stored version
    with the new key (no new version), so it loads again; so does a version whose stored bytes
    were altered, as long as a fresh parse gives the bytes its hash names."""
    write(dags_folder, "etl.py", simple("etl"))
    sync_dags_folder(metastore, settings, KEY)
    new_key = b"n" * 32
    old = metastore.get_current_dag_version("etl")
    with pytest.raises(serde.PayloadIntegrityError):
        serde.loads_verified_dag(old.payload, old.signature, new_key)
    report = sync_dags_folder(metastore, settings, new_key)
    assert report.new_versions == ()
    version = metastore.get_current_dag_version("etl")
    assert version.id == old.id
    assert serde.loads_verified_dag(version.payload, version.signature, new_key).dag_id == "etl"  # type: ignore[attr-defined]


def test_each_version_stores_its_signed_spec_and_an_old_version_gets_it_on_the_next_parse(
    metastore: Metastore, settings: Settings, dags_folder: Path
) -> None:
    """The spec stored beside the payload is the DAG's own; a version stored without one
    (before revision 0013) gets it when its unchanged file is parsed again, and a key change
    re-signs it with the payload."""
    write(dags_folder, "etl.py", simple("etl"))
    sync_dags_folder(metastore, settings, KEY)
    version = metastore.get_current_dag_version("etl")
    assert version.spec is not None and version.spec_signature is not None
    dag = serde.loads_verified_dag(version.payload, version.signature, KEY)
    spec = serde.loads_verified_spec(version.spec, version.spec_signature, KEY)
    assert spec == dag.spec  # type: ignore[attr-defined]
    with metastore.engine.begin() as connection:  # as revision 0013 leaves older versions
        connection.execute(text("UPDATE dag_version SET spec = NULL, spec_signature = NULL"))
    assert metastore.get_current_dag_version("etl").spec is None
    assert sync_dags_folder(metastore, settings, KEY).new_versions == ()
    filled = metastore.get_current_dag_version("etl")
    assert (filled.id, filled.spec, filled.spec_signature) == (
        version.id,
        version.spec,
        version.spec_signature,
    )
    new_key = b"n" * 32
    sync_dags_folder(metastore, settings, new_key)
    resigned = metastore.get_current_dag_version("etl")
    assert resigned.spec is not None and resigned.spec_signature is not None
    assert serde.loads_verified_spec(resigned.spec, resigned.spec_signature, new_key) == spec


def test_airflow_only_default_args_are_warnings_beside_the_import_errors(
    metastore: Metastore, settings: Settings, dags_folder: Path
) -> None:
    """default_args={'email': ...}: the DAG is saved, and a warning names the ignored key."""
    write(
        dags_folder,
        "mailer.py",
        "import datetime as dt\nfrom taskkit import DAG, EmptyOperator\n"
        "with DAG('mailer', start_date=dt.datetime(2026, 1, 1),\n"
        "         default_args={'email': 'ops@example.com'}):\n"
        "    EmptyOperator(task_id='t')\n",
    )
    report = sync_dags_folder(metastore, settings, KEY)
    assert report.saved == ("mailer",)
    [warning] = metastore.list_import_errors()
    assert warning.message.startswith("warning: DAG 'mailer': default_args key 'email'")
