"""The scheduler and DAG.test() end every corpus DAG alike: states, try numbers, XComs, run state.

All corpus DAGs are written as real files into one DAGs folder; one real
scheduler (Local executor, real worker processes) runs one run of each, and
each file is imported again here and run with DAG.test(). Any difference is
reported with the DAG's source and a per-task table of both sides.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import attrs
import pytest
from harness import T0, Home
from parity_corpus import HAND_WRITTEN, XCOM_KEYS, CorpusDag, corpus

from taskkit import xcom_codec
from taskkit.scheduling.dag_import import import_dag_file
from taskkit.states import RunState, State, TriggerRule

pytestmark = pytest.mark.slow


@attrs.frozen
class RunView:
    """What one runner left behind for one run: run state, each task instance's state, tries and
    rendered map index, XComs. A mapped task's instances are named `task[map_index]`."""

    state: RunState
    tasks: dict[str, tuple[State, int, str | None]]
    xcoms: dict[tuple[str, str], Any]


def _name(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def scheduler_view(home: Home, dag_id: str, run_id: str) -> RunView:
    """The run as the metastore has it after the scheduler finished."""
    stored = home.store.get_xcoms(dag_id, run_id)
    unknown = sorted({x.key for x in stored} - set(XCOM_KEYS))
    assert not unknown, f"{dag_id} pushed {unknown}: add them to parity_corpus.XCOM_KEYS"
    return RunView(
        state=home.run_state(dag_id, run_id),
        tasks={
            _name(ti.task_id, ti.map_index): (ti.state, ti.try_number, ti.rendered_map_index)
            for ti in home.store.list_task_instances(dag_id, run_id)
        },
        xcoms={
            (_name(x.task_id, x.map_index), x.key): xcom_codec.decode_xcom(
                x.value, x.encoding, key=home.key
            )
            for x in stored
        },
    )


def dag_test_view(path: Path, dag_id: str) -> RunView:
    """The same file imported here and run with DAG.test() (no retry delay, same date)."""
    imported = import_dag_file(path)
    assert imported.error is None, imported.error
    (dag,) = [d for d in imported.dags if d.dag_id == dag_id]
    result = dag.test(logical_date=T0, retry_delay=dt.timedelta(0))
    xcoms = {}
    tasks = {}
    for task_id in result.task_states:
        for map_index, state in result.task_states_of(task_id).items():
            name = _name(task_id, map_index)
            tasks[name] = (
                state,
                result.try_number(task_id, map_index=map_index),
                result.rendered_map_index(task_id, map_index),
            )
            for key in XCOM_KEYS:
                value = result.xcom(task_id, key, map_index=map_index)
                if value is not None:
                    xcoms[name, key] = value
    return RunView(state=result.state, tasks=tasks, xcoms=xcoms)


def _same(a: Any, b: Any) -> bool:
    """Equal, and of the same type all the way (a tuple is not a list here)."""
    return type(a) is type(b) and a == b and repr(a) == repr(b)


def differences(case: CorpusDag, sched: RunView, test: RunView) -> str | None:
    """A report of where the two runners disagree on `case`, or None if they agree."""
    rows = []
    mismatch = sched.state is not test.state
    rows.append(_row("(run)", sched.state.value, test.state.value, mismatch))
    for task_id in sorted(set(sched.tasks) | set(test.tasks), key=_natural):
        left = sched.tasks.get(task_id)
        right = test.tasks.get(task_id)
        differs = left != right
        mismatch |= differs
        rows.append(_row(task_id, _task(left), _task(right), differs))
    for key in sorted(set(sched.xcoms) | set(test.xcoms)):
        missing = object()
        left_value = sched.xcoms.get(key, missing)
        right_value = test.xcoms.get(key, missing)
        differs = not _same(left_value, right_value)
        mismatch |= differs
        rows.append(
            _row(
                f"xcom {key[0]}.{key[1]}",
                "-" if left_value is missing else _short(repr(left_value)),
                "-" if right_value is missing else _short(repr(right_value)),
                differs,
            )
        )
    if not mismatch:
        return None
    table = "\n".join([_row("", "scheduler", "DAG.test()", False), *rows])
    return (
        f"=== {case.dag_id}: {case.about}\n{case.body}\n{table}\n"
        "(rows marked <<< differ; the shared prelude is parity_corpus.CORPUS_PRELUDE)\n"
    )


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} chars)"


def _task(value: tuple[State, int, str | None] | None) -> str:
    if value is None:
        return "-"
    named = "" if value[2] is None else f" {value[2]!r}"
    return f"{value[0].value} (try {value[1]}){named}"


def _row(name: str, left: str, right: str, differs: bool) -> str:
    return f"  {name:<28} {left:<36} {right:<36}{' <<<' if differs else ''}"


def _natural(name: str) -> tuple[str, int, int]:
    """t2 before t10; a mapped task's instances by map index (`m[2]` before `m[10]`)."""
    base, _, index = name.partition("[")
    head = base.rstrip("0123456789")
    tail = base[len(head) :]
    return head, int(tail) if tail else -1, int(index[:-1]) if index else -1


#: The corpus DAGs run on PostgreSQL too: every way a value is stored, replaced and pulled.
XCOM_DAGS = (
    "push_then_raise",
    "push_then_raise_retried",
    "skip_after_push",
    "ancestor_pulls",
    "xcomarg_pipeline",
    "odd_values",
    "custom_operator",
    "timeout_after_push",
    "retries",
    "mapped_group_pipeline",
    "mapped_names_and_pulls",
)


def run_both(home: Home, cases: list[CorpusDag]) -> list[str]:
    """Run `cases` through one scheduler and through DAG.test(); the reports of differences."""
    paths = {case.dag_id: home.write_dag(case.dag_id, case.source) for case in cases}
    home.sync()
    runs = {case.dag_id: home.trigger(case.dag_id).run_id for case in cases}
    summary = home.run_scheduler()
    assert sorted(r.dag_id for r in summary.runs) == sorted(runs)
    reports = []
    for case in cases:
        sched = scheduler_view(home, case.dag_id, runs[case.dag_id])
        test = dag_test_view(paths[case.dag_id], case.dag_id)
        report = differences(case, sched, test)
        if report is not None:
            reports.append(report)
    return reports


def by_id(dag_id: str) -> CorpusDag:
    (case,) = [d for d in HAND_WRITTEN if d.dag_id == dag_id]
    return case


@pytest.fixture(scope="module")
def the_corpus() -> list[CorpusDag]:
    return corpus()


def test_corpus_covers_what_the_issue_asks(the_corpus: list[CorpusDag]) -> None:
    """At least 40 DAGs, hand-written ones for each of the 13 rules, generated ones besides."""
    assert len(the_corpus) >= 40
    assert len({d.dag_id for d in the_corpus}) == len(the_corpus)
    for rule in TriggerRule:
        assert any(f"rule_{rule.value}" == d.dag_id for d in HAND_WRITTEN), rule
    generated = [d for d in the_corpus if d.dag_id.startswith("gen_")]
    assert len(generated) >= 20
    assert len({d.body for d in generated}) == len(generated)


def test_scheduler_and_dag_test_agree_on_every_corpus_dag(
    home: Home, database: str, request: pytest.FixtureRequest
) -> None:
    """Each corpus DAG ends with the same states, try numbers, XComs and run state in both.

    The whole corpus runs on SQLite; on PostgreSQL, the DAGs that store and
    pull every kind of XCom value (the database changes nothing else here).
    """
    if database == "postgres":
        cases = [by_id(dag_id) for dag_id in XCOM_DAGS]
    else:
        cases = request.getfixturevalue("the_corpus")

    reports = run_both(home, cases)

    count = f"{len(reports)} of {len(cases)} DAGs ended differently"
    assert not reports, count + ":\n\n" + "\n".join(reports)


def test_a_retry_starts_with_no_stored_xcoms(home: Home) -> None:
    """What an earlier try pushed is gone once a retry starts: in the metastore as in DAG.test()."""
    case = by_id("push_then_raise_retried")

    reports = run_both(home, [case])

    (run,) = home.store.list_runs(case.dag_id)
    stored = {(x.task_id, x.key) for x in home.store.get_xcoms(case.dag_id, run.run_id)}
    assert ("work", "first_only") not in stored
    assert ("work", "partial") in stored
    assert not reports, reports[0]


def test_a_timed_out_try_keeps_what_it_pushed(home: Home) -> None:
    """A try that pushed a value and then ran past execution_timeout keeps it, in both runners."""
    case = by_id("timeout_after_push")

    reports = run_both(home, [case])

    (run,) = home.store.list_runs(case.dag_id)
    tis = home.tis(case.dag_id, run.run_id)
    assert tis["hang"].state is State.FAILED
    assert "execution_timeout" in (tis["hang"].error or "")
    assert not reports, reports[0]


def test_a_difference_is_shown_with_the_source_and_both_sides() -> None:
    """A disagreement names the DAG, shows its source, and marks each differing row of the table."""
    case = by_id("push_then_raise")
    agreed = RunView(
        RunState.SUCCESS,
        {"work": (State.FAILED, 1, None), "report": (State.SUCCESS, 1, None)},
        {("work", "partial"): 41, ("report", "return_value"): 41},
    )
    assert differences(case, agreed, agreed) is None

    other = attrs.evolve(
        agreed,
        tasks={**agreed.tasks, "work": (State.FAILED, 2, None)},
        xcoms={("work", "partial"): 41, ("report", "return_value"): (41,)},
    )
    report = differences(case, agreed, other)

    assert report is not None
    assert case.body in report
    marked = [line.split()[:2] for line in report.splitlines() if line.endswith("<<<")]
    assert marked == [["work", "failed"], ["xcom", "report.return_value"]]


def test_dagrun_timeout_stops_a_running_try_in_both_runners(home: Home) -> None:
    """A try still running at dagrun_timeout is stopped and skipped, under DAG.test() too."""
    case = by_id("run_timeout")

    reports = run_both(home, [case])

    (run,) = home.store.list_runs(case.dag_id)
    tis = home.tis(case.dag_id, run.run_id)
    assert run.state is RunState.FAILED
    assert {t: (ti.state, ti.try_number) for t, ti in tis.items()} == {
        "slow": (State.SKIPPED, 1),
        "after": (State.SKIPPED, 0),
    }
    assert not reports, reports[0]
