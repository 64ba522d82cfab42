"""Creating scheduled runs: an idle refresh looks at no DAG until one is due or changes."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from taskkit import DAG, EmptyOperator
from taskkit.metastore import Metastore, RunRecord
from taskkit.model.dag import DagSpec
from taskkit.scheduling.dag_flags import DagFlagBook
from taskkit.scheduling.run_creation import RunCreator
from taskkit.states import RunState, RunType

T0 = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc)


def _hourly(dag_id: str) -> DagSpec:
    with DAG(dag_id, schedule="@hourly", start_date=T0 - dt.timedelta(days=1), catchup=False) as d:
        EmptyOperator(task_id="noop")
    return d.spec


def test_idle_refreshes_look_at_no_dag_until_one_is_due_or_changes(metastore: Metastore) -> None:
    specs = {}
    for n in range(3):
        spec = _hourly(f"hourly_{n}")
        version = metastore.save_dag_version(
            spec.dag_id, "/dags/h.py", b"p", f"hash{n}", "sig", schedule_desc="@hourly"
        )
        specs[version.version_id] = spec
    looked_at: list[str] = []

    def spec_of(version_id: int) -> DagSpec:
        looked_at.append(specs[version_id].dag_id)
        return specs[version_id]

    creator, book = RunCreator(metastore), DagFlagBook()

    def refresh(now: dt.datetime) -> None:
        changed = book.refresh(metastore, now)
        creator.create_due_runs(
            book.flags,
            changed,
            waiting=Counter(),
            spec_of=spec_of,
            default_max_active_runs=16,
            now=now,
        )

    refresh(T0)  # plans every DAG and creates the latest interval's run of each
    assert sorted(looked_at) == ["hourly_0", "hourly_1", "hourly_2"]
    assert len(metastore.list_active_runs()) == 3

    looked_at.clear()
    for seconds in (1, 2, 3):  # nothing is due before 11:00 and nothing changed
        refresh(T0 + dt.timedelta(seconds=seconds))
    assert looked_at == []

    metastore.set_paused("hourly_1", True)
    refresh(T0 + dt.timedelta(seconds=4))  # a paused DAG is skipped without a look
    assert looked_at == []

    refresh(T0 + dt.timedelta(minutes=31))  # 11:01: the 10:00 interval ended for all
    assert sorted(looked_at) == ["hourly_0", "hourly_2"]  # the paused one gets no run
    runs = Counter(r.dag_id for r in metastore.list_active_runs())
    assert runs == {"hourly_0": 2, "hourly_1": 1, "hourly_2": 2}

    looked_at.clear()
    metastore.set_paused("hourly_1", False)
    refresh(T0 + dt.timedelta(minutes=31, seconds=1))  # unpaused: it catches up at once
    assert looked_at == ["hourly_1"]
    assert Counter(r.dag_id for r in metastore.list_active_runs())["hourly_1"] == 2


def test_a_dag_unpaused_before_its_next_run_still_gets_that_run(metastore: Metastore) -> None:
    """Paused while its next run came due and unpaused before the one after: it is not forgotten."""
    spec = _hourly("hourly")
    metastore.save_dag_version("hourly", "/dags/h.py", b"p", "h", "s")
    creator, book = RunCreator(metastore), DagFlagBook()

    def refresh(now: dt.datetime) -> None:
        creator.create_due_runs(
            book.flags,
            book.refresh(metastore, now),
            waiting=Counter(),
            spec_of=lambda _: spec,
            default_max_active_runs=16,
            now=now,
        )

    refresh(T0)  # 10:30: the 09:00-10:00 run; next due at 11:00
    metastore.set_paused("hourly", True)
    refresh(T0 + dt.timedelta(minutes=31))  # 11:01, paused: nothing
    metastore.set_paused("hourly", False)
    refresh(T0 + dt.timedelta(minutes=31, seconds=1))  # unpaused: the latest interval's run
    assert len(metastore.list_active_runs()) == 2
    refresh(T0 + dt.timedelta(minutes=91))  # 12:01: the next one comes on time
    assert len(metastore.list_active_runs()) == 3


def test_a_continuous_dag_gets_its_next_run_once_it_has_no_active_one(metastore: Metastore) -> None:
    """ "@continuous": a run, then none while it (or a manual run) is queued or running, a
    backfill aside; then the next, from the last one's interval end to now."""
    with DAG("always", schedule="@continuous", start_date=T0 - dt.timedelta(hours=1)) as d:
        EmptyOperator(task_id="noop")
    assert d.max_active_runs == 1
    version = metastore.save_dag_version("always", "/dags/a.py", b"p", "h", "sig")
    creator, book = RunCreator(metastore), DagFlagBook()

    def refresh(now: dt.datetime) -> list[RunRecord]:
        creator.create_due_runs(
            book.flags,
            book.refresh(metastore, now),
            waiting=Counter(),
            spec_of=lambda _: d.spec,
            default_max_active_runs=16,
            now=now,
        )
        return sorted(metastore.list_runs("always"), key=lambda r: r.logical_date)

    (first,) = refresh(T0)
    assert (first.run_type, first.logical_date) == (RunType.SCHEDULED, T0 - dt.timedelta(hours=1))
    assert first.data_interval_end == T0
    assert len(refresh(T0 + dt.timedelta(seconds=1))) == 1  # the first is still queued
    metastore.set_run_state("always", first.run_id, RunState.SUCCESS)
    for run_type in (RunType.MANUAL, RunType.BACKFILL):
        metastore.create_run(
            "always",
            run_type.value,
            T0 - dt.timedelta(days=1),
            run_type=run_type,
            dag_version_id=version.version_id,
            tasks=list(d.spec.tasks.values()),
        )
    assert len(refresh(T0 + dt.timedelta(seconds=2))) == 3  # waits for the manual run
    metastore.set_run_state("always", "manual", RunState.SUCCESS)
    later = T0 + dt.timedelta(seconds=3)
    *_, second = [r for r in refresh(later) if r.run_type is RunType.SCHEDULED]
    assert (second.logical_date, second.data_interval_end) == (T0, later)  # backfill aside
