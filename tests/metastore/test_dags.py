"""DAG rows, versions by content hash, pausing, deactivation and import errors."""

from __future__ import annotations

import datetime as dt

import pytest

from taskkit.errors import DagNotFoundError
from taskkit.metastore import Metastore


def _save(store: Metastore, dag_id: str, content: str, **kwargs: object) -> tuple[int, bool]:
    saved = store.save_dag_version(
        dag_id,
        f"/dags/{dag_id}.py",
        content.encode(),
        content,
        "sig",
        **kwargs,  # type: ignore[arg-type]
    )
    return saved.version_id, saved.created


def test_a_new_version_only_when_the_hash_changes(metastore: Metastore) -> None:
    """Saving the same hash twice keeps one version; a new hash makes version 2 current."""
    v1, created1 = _save(metastore, "etl", "h1", tags=["x"], schedule_desc="@daily")
    v1_again, created_again = _save(metastore, "etl", "h1")
    v2, created2 = _save(metastore, "etl", "h2")
    assert (created1, created_again, created2) == (True, False, True)
    assert v1 == v1_again != v2
    assert metastore.get_dag("etl").current_version_id == v2
    version = metastore.get_dag_version(v2)
    assert (version.version_number, version.payload, version.signature) == (2, b"h2", "sig")
    assert version.created_at.tzinfo is not None


def test_returning_to_an_old_hash_reuses_its_version(metastore: Metastore) -> None:
    """Reverting a file makes the earlier version current again instead of a duplicate."""
    v1, _ = _save(metastore, "etl", "h1")
    _save(metastore, "etl", "h2")
    again, created = _save(metastore, "etl", "h1")
    assert (again, created) == (v1, False)
    assert metastore.get_current_dag_version("etl").id == v1


def test_paused_at_creation_applies_only_to_new_dags(metastore: Metastore) -> None:
    """A new DAG starts paused if asked; later saves keep the user's pause flag."""
    _save(metastore, "etl", "h1", paused_at_creation=True)
    assert metastore.get_dag("etl").is_paused
    metastore.set_paused("etl", False)
    _save(metastore, "etl", "h2", paused_at_creation=True)
    assert not metastore.get_dag("etl").is_paused


def test_unknown_dag_is_an_error(metastore: Metastore) -> None:
    """Asking for or pausing an unknown DAG raises DagNotFoundError naming it."""
    with pytest.raises(DagNotFoundError, match="'nope'"):
        metastore.get_dag("nope")
    with pytest.raises(DagNotFoundError):
        metastore.set_paused("nope", True)


def test_deactivate_missing_dags_spares_failed_files(metastore: Metastore) -> None:
    """DAGs no longer found go inactive, except those whose file failed to import."""
    for dag_id in ("a", "b", "c"):
        _save(metastore, dag_id, dag_id)
    gone = metastore.deactivate_missing_dags({"a"}, keep_files={"/dags/c.py"})
    assert gone == ["b"]
    assert [d.dag_id for d in metastore.list_dags()] == ["a", "c"]
    assert len(metastore.list_dags(include_inactive=True)) == 3
    _save(metastore, "b", "b")
    assert metastore.get_dag("b").is_active


def test_next_run_round_trips_as_aware_utc(metastore: Metastore) -> None:
    """next_run is stored in UTC and read back as an aware datetime."""
    _save(metastore, "etl", "h1")
    paris = dt.timezone(dt.timedelta(hours=1))
    metastore.set_next_run("etl", dt.datetime(2026, 1, 1, 1, 0, tzinfo=paris))
    next_run = metastore.get_dag("etl").next_run
    assert next_run == dt.datetime(2026, 1, 1, 0, 0, tzinfo=dt.timezone.utc)
    assert next_run is not None and next_run.utcoffset() == dt.timedelta(0)


def test_naive_datetimes_are_refused(metastore: Metastore) -> None:
    """A naive datetime never reaches the database, where its zone would be guessed."""
    _save(metastore, "etl", "h1")
    with pytest.raises(Exception, match="Naive datetime"):
        metastore.set_next_run("etl", dt.datetime(2026, 1, 1))


def test_replace_import_errors_clears_fixed_files(metastore: Metastore) -> None:
    """A re-parse replaces errors of parsed files and drops those of files now gone."""
    metastore.replace_import_errors(
        {"/d/a.py": (3, "SyntaxError"), "/d/b.py": (None, "boom")}, parsed_files={"/d/a.py"}
    )
    assert [(e.fileloc, e.line) for e in metastore.list_import_errors()] == [
        ("/d/a.py", 3),
        ("/d/b.py", None),
    ]
    metastore.replace_import_errors({}, parsed_files={"/d/a.py"})
    assert [e.fileloc for e in metastore.list_import_errors()] == ["/d/b.py"]
    metastore.replace_import_errors({}, parsed_files=(), all_files={"/d/a.py"})
    assert metastore.list_import_errors() == []


def test_a_version_keeps_its_spec_and_gets_one_when_it_has_none(metastore: Metastore) -> None:
    """A re-parse with the same payload and key writes nothing; a version without a spec
    (stored before revision 0013) gets this parse's; a new key re-signs both."""
    v1, _ = _save(metastore, "etl", "h1")
    assert metastore.get_dag_version(v1).spec is None
    _save(metastore, "etl", "h1", spec=(b"spec1", "ss1"))
    _save(metastore, "etl", "h1", spec=(b"spec2", "ss2"))
    kept = metastore.get_dag_version(v1)
    assert (kept.spec, kept.spec_signature) == (b"spec1", "ss1")
    metastore.save_dag_version("etl", "/dags/etl.py", b"h1", "h1", "new-sig", spec=(b"s", "ss3"))
    resigned = metastore.get_dag_version(v1)
    assert (resigned.signature, resigned.spec, resigned.spec_signature) == ("new-sig", b"s", "ss3")
    v2, _ = _save(metastore, "etl", "h2", spec=(b"spec", "ss"))
    assert metastore.get_dag_version(v2).spec == b"spec"
