"""Across DAGs under the real scheduler: TriggerDagRunOperator starts (and waits for) another
DAG's run; clearing an ExternalTaskMarker clears the task it names in the other DAG."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from harness import Home, start_scheduler, stop

from taskkit import DAG, TriggerDagRunOperator
from taskkit.cli import cli
from taskkit.errors import InvalidInputError
from taskkit.services import task_instances
from taskkit.services.dag_versions import DagVersions
from taskkit.states import RunState, State

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)

TARGET = """
from taskkit import Param


def work(ti, params=None):
    if params["fail"]:
        raise RuntimeError("asked to fail")
    note(ti, time.time(), day=params["day"])


with DAG("target", schedule=None, start_date=dt.datetime(2026, 1, 1),
         params={"day": Param("none", type="string"), "fail": Param(False, type="boolean")}):
    PythonOperator(task_id="work", python_callable=work)
"""

CONTROLLER = """
from taskkit import TriggerDagRunOperator


def done(ti):
    note(ti, time.time())


with DAG("controller", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    TriggerDagRunOperator(task_id="trigger", trigger_dag_id="{target}",
                          trigger_run_id="from_{{{{ ds }}}}",
                          conf={{"day": "{{{{ ds }}}}", "fail": {fail}}},
                          wait_for_completion={wait}, poke_interval=0.1) >> PythonOperator(
        task_id="done", python_callable=done)
"""


@pytest.fixture
def try_settings(home: Home, monkeypatch: pytest.MonkeyPatch) -> Home:
    """Tries (and DAG.test) use the home's settings and metastore, as under `taskkit scheduler`."""
    monkeypatch.setenv("TASKKIT_HOME", str(home.path))
    monkeypatch.setenv("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", home.db_url)
    return home


def _controller(home: Home, *, target: str = "target", fail: bool = False, wait: bool) -> str:
    home.write_dag("target", TARGET)
    home.write_dag("controller", CONTROLLER.format(target=target, fail=fail, wait=wait))
    home.sync()
    return home.trigger("controller", logical_date=T0).run_id


def test_a_triggered_run_runs_with_its_rendered_conf_and_is_waited_for(try_settings: Home) -> None:
    """The try creates `from_2026-03-01` with the rendered conf, pushes its id, and succeeds
    only once that run has: the task after it starts after the triggered run's task ended.
    It waits as a reschedule-mode sensor does: turns of one try, no slot held between."""
    home = try_settings
    run_id = _controller(home, wait=True)

    home.run_scheduler()

    assert home.run_state("controller", run_id) is RunState.SUCCESS
    triggered = home.store.get_run("target", "from_2026-03-01")
    assert (triggered.state, triggered.conf) == (
        RunState.SUCCESS,
        {"day": "2026-03-01", "fail": False},
    )
    assert triggered.logical_date > T0  # no logical_date given: the moment of the trigger
    pushed = {x.key: x for x in home.store.get_xcoms("controller", run_id)}
    assert pushed["trigger_run_id"].task_id == "trigger"
    ends = {(t.dag, t.task): t for t in home.tries()}
    assert ends["controller", "done"].start > ends["target", "work"].end
    trigger = home.tis("controller", run_id)["trigger"]
    assert trigger.try_number == 1
    log = home.log_text("controller", run_id, "trigger", 1)
    assert log.count("Triggered run 'from_2026-03-01'") == 1  # later turns only read its state
    assert log.count("try_started") >= 2 and "outcome=rescheduled" in log


def test_a_triggered_run_that_fails_fails_the_waiting_task(try_settings: Home) -> None:
    """With wait_for_completion, a triggered run that ends failed fails the task with why."""
    home = try_settings
    run_id = _controller(home, fail=True, wait=True)

    home.run_scheduler()

    trigger = home.tis("controller", run_id)["trigger"]
    assert trigger.state is State.FAILED
    assert "TriggeredRunFailedError" in (trigger.error or "")
    assert "'from_2026-03-01' of DAG 'target' ended failed" in (trigger.error or "")


def test_without_waiting_the_task_succeeds_and_the_run_still_runs(try_settings: Home) -> None:
    """Without wait_for_completion the task ends at once; the scheduler runs the new run."""
    home = try_settings
    run_id = _controller(home, wait=False)

    home.run_scheduler()

    assert home.run_state("controller", run_id) is RunState.SUCCESS
    assert home.run_state("target", "from_2026-03-01") is RunState.SUCCESS


def test_triggering_a_dag_that_does_not_exist_fails_with_that_reason(try_settings: Home) -> None:
    """An unknown trigger_dag_id fails the task naming the DAG; nothing is created."""
    home = try_settings
    run_id = _controller(home, target="nope", wait=False)

    home.run_scheduler()

    trigger = home.tis("controller", run_id)["trigger"]
    assert trigger.state is State.FAILED
    assert "No DAG 'nope'" in (trigger.error or "")
    assert home.store.list_runs("nope") == []


EXISTING = """
from taskkit import TriggerDagRunOperator

with DAG("controller", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    for task_id, options in {"plain": {}, "skip": {"skip_when_already_exists": True},
                             "reset": {"reset_dag_run": True, "wait_for_completion": True}}.items():
        TriggerDagRunOperator(task_id=task_id, trigger_dag_id="target", trigger_run_id="fixed",
                              poke_interval=0.1, **options)
"""


def test_an_existing_run_id_fails_is_skipped_or_is_reset(try_settings: Home) -> None:
    """The same run id again: failed by default, skipped with skip_when_already_exists, and
    with reset_dag_run cleared and run again (its task's second try)."""
    home = try_settings
    home.write_dag("target", TARGET)
    home.write_dag("controller", EXISTING)
    home.sync()
    home.trigger("target", "fixed", conf={"day": "first"})
    home.run_scheduler()
    assert home.tis("target", "fixed")["work"].try_number == 1
    run_id = home.trigger("controller", logical_date=T0).run_id

    home.run_scheduler()

    tis = home.tis("controller", run_id)
    assert tis["plain"].state is State.FAILED
    assert "already has a run 'fixed'" in (tis["plain"].error or "")
    assert "reset_dag_run=True" in (tis["plain"].error or "")
    assert tis["plain"].try_number == 1  # not retried: the run will not stop existing
    assert tis["skip"].state is State.SKIPPED
    assert tis["reset"].state is State.SUCCESS
    work = home.tis("target", "fixed")["work"]
    assert (work.state, work.try_number) == (State.SUCCESS, 2)
    assert home.store.get_run("target", "fixed").conf["day"] == "first"  # conf is kept


def test_a_conf_that_fails_the_target_params_fails_the_task(try_settings: Home) -> None:
    """The conf is checked against the target DAG's params, as `dags trigger` checks it."""
    home = try_settings
    home.write_dag("target", TARGET)
    home.sync()
    with DAG("bad_conf", schedule=None, start_date=T0) as checker:
        TriggerDagRunOperator(task_id="t", trigger_dag_id="target", conf={"fail": "{{ ds }}"})

    result = checker.test(logical_date=T0)

    assert result.task_states == {"t": State.FAILED}
    assert "fail" in result.logs("t") and "boolean" in result.logs("t")
    assert home.store.list_runs("target") == []


def test_dag_test_records_the_run_in_the_configured_metastore(try_settings: Home) -> None:
    """Under DAG.test() the run is created in the metastore of the settings (queued, for a
    scheduler to run), and its id is pushed."""
    home = try_settings
    home.write_dag("target", TARGET)
    home.sync()
    with DAG("tester", schedule=None, start_date=T0) as tester:
        TriggerDagRunOperator(task_id="t", trigger_dag_id="target", trigger_run_id="by_test",
                              logical_date="{{ ds }}T06:00:00")  # fmt: skip

    result = tester.test(logical_date=T0)

    assert result.task_states == {"t": State.SUCCESS}
    assert result.xcom("t", "trigger_run_id") == "by_test"
    run = home.store.get_run("target", "by_test")
    assert (run.state, run.logical_date) == (RunState.QUEUED, T0.replace(hour=6))


def test_a_paused_target_fails_the_task_only_when_asked(try_settings: Home) -> None:
    """fail_when_dag_is_paused fails the task naming the fix; without it the run is created
    (and waits for the DAG to be unpaused), as in Airflow."""
    home = try_settings
    home.write_dag("target", TARGET)
    home.sync()
    home.store.set_paused("target", True)
    with DAG("tester", schedule=None, start_date=T0) as tester:
        TriggerDagRunOperator(task_id="strict", trigger_dag_id="target", trigger_run_id="a",
                              fail_when_dag_is_paused=True)  # fmt: skip
        TriggerDagRunOperator(task_id="lenient", trigger_dag_id="target", trigger_run_id="b")

    result = tester.test(logical_date=T0)

    assert result.task_states == {"strict": State.FAILED, "lenient": State.SUCCESS}
    assert "DagPausedError: DAG 'target' is paused" in result.logs("strict")
    assert "taskkit dags unpause target" in result.logs("strict")
    assert [r.run_id for r in home.store.list_runs("target")] == ["b"]


def test_dag_test_without_a_metastore_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No initialised metastore in the settings: the task fails saying how to make one."""
    monkeypatch.setenv("TASKKIT_HOME", str(tmp_path))
    monkeypatch.delenv("TASKKIT__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    with DAG("tester", schedule=None, start_date=T0) as tester:
        TriggerDagRunOperator(task_id="t", trigger_dag_id="target")

    result = tester.test(logical_date=T0)

    assert result.task_states == {"t": State.FAILED}
    assert "taskkit db init" in result.logs("t")


WAITING_TEST = """
import datetime as dt
from taskkit import DAG, TriggerDagRunOperator

with DAG("tester", schedule=None, start_date=dt.datetime(2026, 1, 1)) as tester:
    TriggerDagRunOperator(task_id="t", trigger_dag_id="target", trigger_run_id="waited",
                          conf={"day": "today"}, wait_for_completion=True, poke_interval=0.1)
result = tester.test()
print(result.task_states["t"].value, result.xcom("t", "trigger_run_id"))
"""


@pytest.mark.slow
def test_dag_test_waits_for_a_scheduler_to_run_the_triggered_run(try_settings: Home) -> None:
    """DAG.test() with wait_for_completion ends once a scheduler on the same metastore has
    run the triggered run (DAG.test runs in its own process here, so a hang fails it)."""
    home = try_settings
    home.write_dag("target", TARGET)
    home.sync()
    scheduler = start_scheduler(home, exit_when_idle=False)
    try:
        done = subprocess.run(
            [sys.executable, "-c", WAITING_TEST],
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        stop(scheduler)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["success", "waited"]
    assert home.run_state("target", "waited") is RunState.SUCCESS
    assert [t.task for t in home.tries("target")] == ["work"]


MARKED = """
from taskkit import ExternalTaskMarker

with DAG("parent", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    EmptyOperator(task_id="parent_task") >> ExternalTaskMarker(
        task_id="marker", external_dag_id="child", external_task_id="child_task1",
        recursion_depth={depth})

with DAG("child", schedule=None, start_date=dt.datetime(2026, 1, 1)):
    EmptyOperator(task_id="child_task0") >> EmptyOperator(task_id="child_task1") >> [
        EmptyOperator(task_id="child_task2"),
        ExternalTaskMarker(task_id="back", external_dag_id="parent",
                           external_task_id="parent_task"),
    ]
"""


def _marked(home: Home, depth: int) -> tuple[str, str, str]:
    home.write_dag("marked", MARKED.format(depth=depth))
    home.sync()
    parent = home.trigger("parent", logical_date=T0).run_id
    child = home.trigger("child", logical_date=T0).run_id
    other = home.trigger("child", logical_date=T0 + dt.timedelta(days=1)).run_id
    home.run_scheduler()
    return parent, child, other


def test_clearing_a_marker_clears_the_external_task_and_its_downstream(
    try_settings: Home,
) -> None:
    """`tasks clear --downstream` on the parent clears child_task1 and what follows it in the
    child's run at the same logical date (not the upstream task, not other dates); the
    child's marker back to the parent closes the circle without clearing anything twice."""
    home = try_settings
    parent, child, other = _marked(home, depth=10)

    result = CliRunner().invoke(
        cli, ["tasks", "clear", "parent", "--run-id", parent, "--task-regex", "parent_task",
              "--downstream", "--yes"], catch_exceptions=False)  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "Cleared 5 task instance(s)" in result.stdout
    states = {t: ti.state for t, ti in home.tis("child", child).items()}
    assert states == {
        "child_task0": State.SUCCESS,
        "child_task1": State.NONE,
        "child_task2": State.NONE,
        "back": State.NONE,
    }
    assert home.run_state("child", child) is RunState.QUEUED
    assert {ti.state for ti in home.tis("child", other).values()} == {State.SUCCESS}

    home.run_scheduler()
    tis = home.tis("child", child)
    assert (tis["child_task1"].state, tis["child_task1"].try_number) == (State.SUCCESS, 2)
    assert tis["child_task0"].try_number == 1


def test_markers_deeper_than_recursion_depth_clear_nothing(try_settings: Home) -> None:
    """With recursion_depth=1 the child's marker is one level too deep: one clear error, and
    no run is touched."""
    home = try_settings
    parent, child, _ = _marked(home, depth=1)
    versions = DagVersions(home.store, home.key)

    with pytest.raises(InvalidInputError, match="deeper than its recursion_depth"):
        task_instances.clear(home.store, versions, "parent", parent, ["parent_task", "marker"])

    assert {ti.state for ti in home.tis("parent", parent).values()} == {State.SUCCESS}
    assert {ti.state for ti in home.tis("child", child).values()} == {State.SUCCESS}


def test_tasks_clear_names_what_markers_reach_and_refuses_too_deep_in_one_line(
    try_settings: Home,
) -> None:
    """The confirmation lists the other DAG's tasks it would clear; answering no clears
    nothing. Too deep a chain is one `error:` line."""
    home = try_settings
    parent, child, _ = _marked(home, depth=10)
    clear = ["tasks", "clear", "parent", "--run-id", parent, "--task-regex", "marker"]

    declined = CliRunner().invoke(cli, clear, input="n\n", catch_exceptions=False)

    assert declined.exit_code == 1
    assert (
        f"and through ExternalTaskMarker, of run {child!r} of DAG 'child': "
        "child_task1, child_task2, back" in declined.output
    )
    assert {ti.state for ti in home.tis("child", child).values()} == {State.SUCCESS}

    home.write_dag("marked", MARKED.format(depth=1))
    home.sync()
    deeper = _marked_again(home)
    too_deep = CliRunner().invoke(
        cli, ["tasks", "clear", "parent", "--run-id", deeper, "--yes"], catch_exceptions=False
    )
    assert too_deep.exit_code == 1
    assert too_deep.stderr.count("\n") == 1
    assert too_deep.stderr.startswith("error: Clearing through ExternalTaskMarker 'back'")


def _marked_again(home: Home) -> str:
    """A parent run at a new date on the DAGs' current version, with a child run beside it."""
    when = T0 + dt.timedelta(days=7)
    home.trigger("child", logical_date=when)
    return home.trigger("parent", logical_date=when).run_id
