"""The scheduler end to end: real worker processes, real metastores, recorded timestamps."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from harness import Home, Try, max_overlap, wait_for

from taskkit import xcom_codec
from taskkit.states import RunState, State

pytestmark = pytest.mark.slow


def starts(tries: list[Try]) -> list[str]:
    """Task ids in the order their tries started."""
    return [t.task for t in sorted(tries, key=lambda t: t.start)]


def test_chain_runs_in_order_and_passes_xcoms(any_home: Home) -> None:
    """A chain runs each task after its upstream, and each return value reaches the next task."""
    any_home.write_dag(
        "etl",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def etl():
            @task
            def extract(ti=None):
                note(ti, time.time())
                return {"rows": 3}

            @task
            def transform(data, ti=None):
                note(ti, time.time())
                ti.xcom_push("doubled", data["rows"] * 2)
                return data["rows"] + 1

            @task
            def load(total, ti=None):
                note(ti, time.time())
                return f"loaded {total} and {ti.xcom_pull('transform', key='doubled')}"

            load(transform(extract()))

        etl()
        """,
    )
    any_home.sync()
    run = any_home.trigger("etl")

    summary = any_home.run_scheduler()

    assert any_home.run_state("etl", run.run_id) is RunState.SUCCESS
    assert [r.state for r in summary.runs] == [RunState.SUCCESS]
    assert starts(any_home.tries("etl")) == ["extract", "transform", "load"]
    xcoms = {
        (x.task_id, x.key): x.value.decode() for x in any_home.store.get_xcoms("etl", run.run_id)
    }
    assert xcoms == {
        ("extract", "return_value"): '{"rows": 3}',
        ("transform", "return_value"): "4",
        ("transform", "doubled"): "6",
        ("load", "return_value"): '"loaded 4 and 6"',
    }
    assert all(ti.try_number == 1 for ti in any_home.tis("etl", run.run_id).values())


def test_seed_pool_runs_by_priority(any_home: Home) -> None:
    """Three tasks in a one-slot pool with weights 7, 6, 8 start in the order c, a, b."""
    any_home.write_dag(
        "seed",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def seed():
            for name, weight in (("a", 7), ("b", 6), ("c", 8)):
                PythonOperator(
                    task_id=f"process_{name}",
                    python_callable=sleeper,
                    op_kwargs={"seconds": 0.05},
                    pool="test_pool",
                    priority_weight=weight,
                )

        seed()
        """,
    )
    any_home.sync()
    any_home.pool("test_pool", 1)
    run = any_home.trigger("seed")

    any_home.run_scheduler()

    tis = any_home.tis("seed", run.run_id)
    assert all(ti.state is State.SUCCESS for ti in tis.values())
    assert any_home.started_order("seed", run.run_id) == ["process_c", "process_a", "process_b"]
    assert max_overlap(any_home.tries("seed")) == 1


def test_pool_slots_never_exceeded_and_big_task_not_starved(home: Home) -> None:
    """A 4-slot pool never holds more than 4 weighted slots, and a 3-slot task is not starved."""
    home.write_dag(
        "pools",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def pools():
            def op(task_id, slots, weight, seconds=0.2):
                return PythonOperator(
                    task_id=task_id, python_callable=sleeper, pool="wh", pool_slots=slots,
                    priority_weight=weight, op_kwargs={"seconds": seconds, "slots": slots},
                )

            op("warmup", 2, 100, seconds=0.4)
            op("big", 3, 10)
            for i in range(6):
                op(f"small_{i}", 1, 1, seconds=0.1)
            op("double", 2, 1, seconds=0.1)

        pools()
        """,
    )
    home.sync()
    home.pool("wh", 4)
    run = home.trigger("pools")

    home.run_scheduler(core_parallelism=8)

    assert home.run_state("pools", run.run_id) is RunState.SUCCESS
    tries = home.tries("pools")
    assert max_overlap(tries, weight=lambda t: t.slots) <= 4
    first = {t.task: t.start for t in tries}
    # warmup holds 2 of 4 slots: small tasks would fit, but the pool drains for `big`.
    assert all(first["big"] < first[f"small_{i}"] for i in range(6))
    assert first["big"] >= next(t.end for t in tries if t.task == "warmup")


def test_parallelism_caps_running_tries(home: Home) -> None:
    """With core.parallelism=2, six independent sleepers never run more than two at once."""
    home.write_dag(
        "wide",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def wide():
            for i in range(6):
                PythonOperator(task_id=f"t{i}", python_callable=sleeper)

        wide()
        """,
    )
    home.sync()
    run = home.trigger("wide")

    home.run_scheduler(core_parallelism=2)

    assert home.run_state("wide", run.run_id) is RunState.SUCCESS
    tries = home.tries("wide")
    assert len(tries) == 6
    assert max_overlap(tries) == 2


def test_per_dag_limits_hold_across_runs(home: Home) -> None:
    """max_active_tasks, max_active_runs and max_active_tis_per_dag each hold across two runs."""
    home.write_dag(
        "limits",
        """
        with DAG("capped", schedule=None, start_date=dt.datetime(2026, 1, 1),
                 max_active_tasks=2):
            for i in range(3):
                PythonOperator(task_id=f"t{i}", python_callable=sleeper)

        with DAG("one_run", schedule=None, start_date=dt.datetime(2026, 1, 1),
                 max_active_runs=1):
            PythonOperator(task_id="first", python_callable=sleeper, op_kwargs={"seconds": 0.1})
            PythonOperator(task_id="second", python_callable=sleeper, op_kwargs={"seconds": 0.1})

        with DAG("one_ti", schedule=None, start_date=dt.datetime(2026, 1, 1)):
            PythonOperator(task_id="solo", python_callable=sleeper, max_active_tis_per_dag=1)
            PythonOperator(task_id="free", python_callable=sleeper, op_kwargs={"seconds": 0.4})
        """,
    )
    home.sync()
    runs = [home.trigger(dag_id) for dag_id in ("capped", "one_run", "one_ti") for _ in range(2)]

    home.run_scheduler(core_parallelism=16)

    assert all(home.run_state(r.dag_id, r.run_id) is RunState.SUCCESS for r in runs)
    capped = home.tries("capped")
    assert len(capped) == 6
    assert max_overlap(capped) == 2
    one_run = home.tries("one_run")
    spans = sorted(
        (min(t.start for t in g), max(t.end for t in g))
        for g in ([t for t in one_run if t.run == r.run_id] for r in runs[2:4])
    )
    assert spans[0][1] <= spans[1][0], "the second run started before the first ended"
    solo = [t for t in home.tries("one_ti") if t.task == "solo"]
    assert len(solo) == 2
    assert max_overlap(solo) == 1
    free = [t for t in home.tries("one_ti") if t.task == "free"]
    assert max_overlap(free) == 2  # the limit is per task, not per DAG


def test_task_held_by_its_pool_does_not_block_other_pools(home: Home) -> None:
    """A high-priority task waiting for its full pool never delays a lower one in another pool."""
    home.write_dag(
        "two_pools",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def two_pools():
            PythonOperator(task_id="holder", python_callable=sleeper, pool="narrow",
                           priority_weight=30, op_kwargs={"seconds": 0.5})
            PythonOperator(task_id="waiter", python_callable=sleeper, pool="narrow",
                           priority_weight=20, op_kwargs={"seconds": 0.05})
            PythonOperator(task_id="elsewhere", python_callable=sleeper, pool="other",
                           priority_weight=1, op_kwargs={"seconds": 0.05})

        two_pools()
        """,
    )
    home.sync()
    home.pool("narrow", 1)
    home.pool("other", 1)
    home.trigger("two_pools")

    home.run_scheduler()

    tries = {t.task: t for t in home.tries("two_pools")}
    assert tries["elsewhere"].start < tries["holder"].end
    assert tries["waiter"].start >= tries["holder"].end


def test_priority_then_older_run_then_task_id(any_home: Home) -> None:
    """With one slot, tries start by priority, then the older run, then task_id."""
    any_home.write_dag(
        "prio",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def prio():
            for task_id, weight in (("x", 1), ("z", 5), ("y", 5)):
                PythonOperator(task_id=task_id, python_callable=sleeper,
                               priority_weight=weight, op_kwargs={"seconds": 0.01})

        prio()
        """,
    )
    any_home.sync()
    older = any_home.trigger("prio", "older")
    any_home.trigger("prio", "newer")
    assert older.id is not None

    any_home.run_scheduler(core_parallelism=1)

    order = [(t.run, t.task) for t in sorted(any_home.tries("prio"), key=lambda t: t.start)]
    assert order == [
        ("older", "y"),
        ("older", "z"),
        ("newer", "y"),
        ("newer", "z"),
        ("older", "x"),
        ("newer", "x"),
    ]


def test_a_run_created_later_for_an_earlier_date_counts_as_the_older_run(home: Home) -> None:
    """Equal priorities go to the earlier logical date, even when that run was created last."""
    home.write_dag(
        "dated",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def dated():
            PythonOperator(task_id="only", python_callable=sleeper, op_kwargs={"seconds": 0.01})

        dated()
        """,
    )
    home.sync()
    later = dt.datetime(2026, 3, 2, tzinfo=dt.timezone.utc)
    home.trigger("dated", "march", logical_date=later)
    home.trigger("dated", "february", logical_date=later - dt.timedelta(days=30))

    home.run_scheduler(core_parallelism=1)

    order = [t.run for t in sorted(home.tries("dated"), key=lambda t: t.start)]
    assert order == ["february", "march"]


def test_retries_until_success(any_home: Home) -> None:
    """A task failing twice with retries=2 succeeds on try 3, with one log file per try."""
    any_home.write_dag(
        "flaky",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1),
             default_args={"retries": 2, "retry_delay": dt.timedelta(0)})
        def flaky():
            @task
            def shaky(ti=None):
                note(ti, time.time())
                if ti.try_number < 3:
                    raise RuntimeError(f"attempt {ti.try_number} failed")
                return ti.try_number

            shaky()

        flaky()
        """,
    )
    any_home.sync()
    run = any_home.trigger("flaky")

    summary = any_home.run_scheduler()

    ti = any_home.tis("flaky", run.run_id)["shaky"]
    assert (ti.state, ti.try_number) == (State.SUCCESS, 3)
    assert [t.try_number for t in any_home.tries("flaky")] == [1, 2, 3]
    logs = sorted(p.name for p in (any_home.path / "logs/flaky" / run.run_id / "shaky").iterdir())
    assert logs == ["1.log", "2.log", "3.log"]
    assert "RuntimeError: attempt 2 failed" in any_home.log_text("flaky", run.run_id, "shaky", 2)
    assert (summary.tries, summary.failed_tries) == (3, 2)


def test_a_dag_dated_with_pendulum_gets_pendulum_dates_in_its_tries(home: Home) -> None:
    """In a try's own process too: pendulum's methods work on the context's dates, in code
    and templates, and a pendulum DateTime returned is stored as a plain datetime."""
    home.write_dag(
        "dated",
        """
        import pendulum

        @dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
        def dated():
            @task
            def tomorrow(logical_date=None):
                return logical_date.add(days=1)

            tomorrow() >> BashOperator(
                task_id="echo", bash_command="echo year={{ logical_date.format('YYYY') }}"
            )

        dated()
        """,
    )
    home.sync()
    run = home.trigger("dated")
    home.run_scheduler()
    assert home.run_state("dated", run.run_id) is RunState.SUCCESS
    stored = home.xcom("dated", run.run_id, "tomorrow")
    assert stored is not None
    value = xcom_codec.decode_xcom(stored.value, stored.encoding, key=home.key)
    assert type(value) is dt.datetime
    assert value == run.logical_date + dt.timedelta(days=1)
    assert f"year={run.logical_date.year}" in home.log_text("dated", run.run_id, "echo", 1)


def test_a_retry_policy_decides_in_the_try_and_the_scheduler_follows(any_home: Home) -> None:
    """The policy runs in the try's process: a FAIL uses none of the task's retries, and a
    RETRY's delay replaces the task's retry_delay (0 here) for the next try."""
    any_home.write_dag(
        "policed",
        """
        from taskkit import ExceptionRetryPolicy, RetryAction, RetryRule

        POLICY = ExceptionRetryPolicy(rules=[
            RetryRule(exception=ConnectionError, retry_delay=dt.timedelta(seconds=1.5),
                      reason="the service is restarting"),
            RetryRule(exception="builtins.PermissionError", action=RetryAction.FAIL),
        ])

        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1),
             default_args={"retries": 3, "retry_delay": dt.timedelta(0), "retry_policy": POLICY})
        def policed():
            @task
            def flaky(ti=None):
                note(ti, time.time())
                if ti.try_number == 1:
                    raise ConnectionError("refused")

            @task
            def denied(ti=None):
                note(ti, time.time())
                raise PermissionError("no access")

            flaky()
            denied()

        policed()
        """,
    )
    any_home.sync()
    run = any_home.trigger("policed")
    any_home.run_scheduler()
    tis = any_home.tis("policed", run.run_id)
    assert (tis["flaky"].state, tis["flaky"].try_number) == (State.SUCCESS, 2)
    assert (tis["denied"].state, tis["denied"].try_number) == (State.FAILED, 1)
    first, second = sorted(
        (t for t in any_home.tries("policed") if t.task == "flaky"), key=lambda t: t.try_number
    )
    assert second.start - first.end >= 1.5  # the policy's delay, not the task's 0
    log = any_home.log_text("policed", run.run_id, "flaky", 1)
    assert "Retry policy: retry (the service is restarting)" in log


def test_impossible_pool_requests_fail_at_once(home: Home) -> None:
    """A task in a missing pool or needing more slots than its pool has fails with the reason."""
    home.write_dag(
        "bad_pools",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def bad_pools():
            missing = EmptyOperator(task_id="missing", pool="nowhere")
            EmptyOperator(task_id="too_big", pool="small", pool_slots=3)
            EmptyOperator(task_id="fine", pool="small")
            missing >> EmptyOperator(task_id="after")

        bad_pools()
        """,
    )
    home.sync()
    home.pool("small", 2)
    run = home.trigger("bad_pools")

    home.run_scheduler()

    tis = home.tis("bad_pools", run.run_id)
    states = {task_id: ti.state for task_id, ti in tis.items()}
    assert states == {
        "missing": State.FAILED,
        "too_big": State.FAILED,
        "fine": State.SUCCESS,
        "after": State.UPSTREAM_FAILED,
    }
    assert "pool 'nowhere' does not exist" in (tis["missing"].error or "")
    assert "needs 3 slots but pool 'small' has only 2" in (tis["too_big"].error or "")
    assert "pool 'nowhere' does not exist" in home.log_text("bad_pools", run.run_id, "missing", 1)
    assert "has only 2" in home.log_text("bad_pools", run.run_id, "too_big", 1)
    assert home.run_state("bad_pools", run.run_id) is RunState.FAILED


def test_crashing_tries_fail_with_reason_and_others_carry_on(any_home: Home) -> None:
    """Raising, os._exit, a segfault, SIGKILL and a timeout fail their try; other tasks run."""
    any_home.write_dag(
        "faults",
        """
        import ctypes
        import signal


        def raises():
            raise ValueError("bad row 17")


        def exits():
            os._exit(3)


        def segfaults():
            ctypes.string_at(0)


        def killed():
            os.kill(os.getpid(), signal.SIGKILL)


        def hangs():
            time.sleep(30)


        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def faults():
            PythonOperator(task_id="raises", python_callable=raises)
            PythonOperator(task_id="exits", python_callable=exits)
            PythonOperator(task_id="segfaults", python_callable=segfaults)
            PythonOperator(task_id="killed", python_callable=killed, retries=1,
                           retry_delay=dt.timedelta(0))
            PythonOperator(task_id="hangs", python_callable=hangs,
                           execution_timeout=dt.timedelta(seconds=0.5))
            PythonOperator(task_id="fine", python_callable=sleeper, op_kwargs={"seconds": 0})

        faults()
        """,
    )
    any_home.sync()
    run = any_home.trigger("faults")

    any_home.run_scheduler()

    tis = any_home.tis("faults", run.run_id)
    assert {t: ti.state for t, ti in tis.items()} == {
        "raises": State.FAILED,
        "exits": State.FAILED,
        "segfaults": State.FAILED,
        "killed": State.FAILED,
        "hangs": State.FAILED,
        "fine": State.SUCCESS,
    }
    expected = {
        "raises": "ValueError: bad row 17",
        "exits": "exited with code 3",
        "segfaults": "killed by signal SIGSEGV",
        "killed": "killed by signal SIGKILL",
        "hangs": "execution_timeout",
    }
    for task_id, reason in expected.items():
        assert reason in (tis[task_id].error or ""), task_id
        try_number = tis[task_id].try_number
        assert reason in any_home.log_text("faults", run.run_id, task_id, try_number), task_id
    assert tis["killed"].try_number == 2
    assert "bad row 17" in any_home.log_text("faults", run.run_id, "raises", 1)  # the traceback


def test_megabytes_of_output_are_logged(home: Home) -> None:
    """A task printing several megabytes completes, and every line is in its log."""
    home.write_dag(
        "chatty",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def chatty():
            @task
            def talk():
                for i in range(40_000):
                    print(f"line {i:06d} " + "x" * 100)
                return "done"

            talk()

        chatty()
        """,
    )
    home.sync()
    run = home.trigger("chatty")

    home.run_scheduler()

    assert home.tis("chatty", run.run_id)["talk"].state is State.SUCCESS
    text = home.log_text("chatty", run.run_id, "talk", 1)
    lines = [line for line in text.splitlines() if line.startswith("line ")]
    assert len(lines) == 40_000
    assert lines[0].startswith("line 000000 ") and lines[-1].startswith("line 039999 ")


def test_self_log_of_a_custom_operator_is_in_the_try_log(home: Home) -> None:
    """`self.log.info(...)` in an operator ported from Airflow lands in its try's log file."""
    home.write_dag(
        "selflog",
        """
        from taskkit import BaseOperator

        class Loud(BaseOperator):
            def execute(self, context):
                self.log.info("rows loaded: %d", 42)

        with DAG("selflog", schedule=None, start_date=dt.datetime(2026, 1, 1)):
            Loud(task_id="loud")
        """,
    )
    home.sync()
    run = home.trigger("selflog")

    home.run_scheduler()

    assert home.tis("selflog", run.run_id)["loud"].state is State.SUCCESS
    assert "Loud: rows loaded: 42" in home.log_text("selflog", run.run_id, "loud", 1)


def test_wait_reason_is_written_for_a_task_waiting_on_its_pool(home: Home) -> None:
    """While a long task holds a one-slot pool, the waiting task's wait_reason says so."""
    home.write_dag(
        "waiting",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def waiting():
            PythonOperator(task_id="long", python_callable=sleeper, pool="one",
                           priority_weight=2, op_kwargs={"seconds": 1.0})
            PythonOperator(task_id="short", python_callable=sleeper, pool="one",
                           op_kwargs={"seconds": 0})

        waiting()
        """,
    )
    home.sync()
    home.pool("one", 1)
    run = home.trigger("waiting")
    thread = threading.Thread(target=home.run_scheduler, daemon=True)
    thread.start()
    try:
        waiting = wait_for(
            lambda: (ti := home.tis("waiting", run.run_id)["short"]).wait_reason and ti
        )
        assert waiting.state is State.SCHEDULED
        assert "pool 'one' full: 1 of 1 slots in use" in (waiting.wait_reason or "")
        assert home.tis("waiting", run.run_id)["long"].state in {State.QUEUED, State.RUNNING}
    finally:
        thread.join(30)
    assert not thread.is_alive()
    tis = home.tis("waiting", run.run_id)
    assert tis["short"].state is State.SUCCESS
    assert tis["short"].wait_reason is None


def test_a_start_is_written_with_a_short_tries_end_and_alone_for_a_long_one(home: Home) -> None:
    """A short try's start rides with its finish, its details kept; a long try reads as
    running, with its process, while it runs."""
    home.write_dag(
        "lengths",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def lengths():
            quick = PythonOperator(task_id="quick", python_callable=sleeper,
                                   op_kwargs={"seconds": 0})
            quick >> PythonOperator(task_id="long", python_callable=sleeper,
                                    op_kwargs={"seconds": 2.0})

        lengths()
        """,
    )
    home.sync()
    run = home.trigger("lengths")
    thread = threading.Thread(target=home.run_scheduler, daemon=True)
    thread.start()
    try:
        long = wait_for(
            lambda: (ti := home.tis("lengths", run.run_id)["long"]).state is State.RUNNING and ti
        )
        assert long.pid is not None and long.hostname and long.started_at is not None
        quick = home.tis("lengths", run.run_id)["quick"]
        assert quick.state is State.SUCCESS
        assert quick.started_at is not None and quick.ended_at is not None
        assert quick.started_at <= quick.ended_at and quick.hostname
    finally:
        thread.join(30)
    assert not thread.is_alive()
    assert home.tis("lengths", run.run_id)["long"].state is State.SUCCESS


def test_runs_keep_their_dag_version_when_the_file_changes(home: Home) -> None:
    """A run created before its DAG file was edited or deleted finishes on its own version."""
    body = """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def {dag_id}():
            @task
            def which():
                return "{version}"

            which()

        {dag_id}()
        """
    edited = home.write_dag("edited", body.format(dag_id="edited", version="v1"))
    deleted = home.write_dag("deleted", body.format(dag_id="deleted", version="v1"))
    home.sync()
    old = home.trigger("edited", "old")
    gone = home.trigger("deleted", "gone")
    edited.write_text(edited.read_text().replace('"v1"', '"v2"'))
    deleted.unlink()

    home.run_scheduler()  # parses the folder on start: a new version of `edited`

    assert home.run_state("edited", "old") is RunState.SUCCESS
    assert home.run_state("deleted", "gone") is RunState.SUCCESS
    assert home.store.get_xcoms("edited", old.run_id)[0].value == b'"v1"'
    assert home.store.get_xcoms("deleted", gone.run_id)[0].value == b'"v1"'
    assert home.store.get_current_dag_version("edited").id != old.dag_version_id
    new = home.trigger("edited", "new")
    home.run_scheduler()
    assert home.store.get_xcoms("edited", new.run_id)[0].value == b'"v2"'


def test_control_flow_under_the_scheduler(any_home: Home) -> None:
    """Branches, short circuits, skip/fail exceptions, teardowns and a failed try's XComs."""
    any_home.write_dag(
        "flow",
        """
        from taskkit import AirflowFailException, ShortCircuitOperator, setup, teardown

        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1),
             default_args={"retries": 2, "retry_delay": dt.timedelta(0)})
        def flow():
            @task.branch
            def pick():
                return "left"

            @task
            def partial(ti=None):
                ti.xcom_push("partial", 41)
                raise AirflowFailException("no retry")

            @task(trigger_rule="all_done")
            def pull(ti=None):
                return ti.xcom_pull("partial", key="partial")

            @setup
            def create():
                return "cluster"

            @teardown
            def delete():
                pass

            left, right = EmptyOperator(task_id="left"), EmptyOperator(task_id="right")
            join = EmptyOperator(task_id="join", trigger_rule="none_failed_min_one_success")
            pick() >> [left, right] >> join
            gate = ShortCircuitOperator(task_id="gate", python_callable=lambda: False)
            gate >> EmptyOperator(task_id="gated")
            made, dropped = create(), delete()
            made >> partial() >> pull() >> dropped
            made >> dropped

        flow()
        """,
    )
    any_home.sync()
    run = any_home.trigger("flow")
    any_home.run_scheduler()
    tis = any_home.tis("flow", run.run_id)
    assert {t: ti.state for t, ti in tis.items()} == {
        "pick": State.SUCCESS,
        "left": State.SUCCESS,
        "right": State.SKIPPED,
        "join": State.SUCCESS,
        "gate": State.SUCCESS,
        "gated": State.SKIPPED,
        "create": State.SUCCESS,
        "partial": State.FAILED,
        "pull": State.SUCCESS,
        "delete": State.SUCCESS,
    }
    assert tis["partial"].try_number == 1  # AirflowFailException spends no retry
    # As in Airflow the leaves decide: `pull` (all_done) succeeded after `partial` failed.
    assert any_home.run_state("flow", run.run_id) is RunState.SUCCESS
    pulled = {
        x.task_id: x.value.decode()
        for x in any_home.store.get_xcoms("flow", run.run_id)
        if x.key == "return_value"
    }
    assert pulled["pull"] == "41"


def test_mapped_tasks_run_as_instances_under_the_scheduler(any_home: Home) -> None:
    """Expansion, per-run limits, per-instance XComs and logs, and the reduce, for real."""
    any_home.write_dag(
        "mapped",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1))
        def mapped():
            @task
            def numbers():
                return [1, 2, 3, 4, 5]

            @task(max_active_tis_per_dagrun=2)
            def work(x, ti=None):
                start = time.time()
                time.sleep(0.2)
                note(ti, start)
                print(f"instance {ti.map_index} got {x}")
                return x * 10

            @task
            def total(values):
                return sum(values)

            @task
            def never(x):
                return x

            @task
            def nothing():
                return []

            total(work.expand(x=numbers()))
            never.expand(x=nothing())
            BashOperator.partial(task_id="shout").expand(bash_command=["echo a", "echo b"])

        mapped()
        """,
    )
    any_home.sync()
    run = any_home.trigger("mapped")

    any_home.run_scheduler()

    assert any_home.run_state("mapped", run.run_id) is RunState.SUCCESS
    rows = any_home.store.list_task_instances("mapped", run.run_id)
    states = {(ti.task_id, ti.map_index): ti.state for ti in rows}
    assert states == {
        ("numbers", -1): State.SUCCESS,
        **{("work", i): State.SUCCESS for i in range(5)},
        ("total", -1): State.SUCCESS,
        ("nothing", -1): State.SUCCESS,
        ("never", -1): State.SKIPPED,
        ("shout", 0): State.SUCCESS,
        ("shout", 1): State.SUCCESS,
    }
    xcoms = {
        (x.task_id, x.map_index): (x.value.decode(), x.length)
        for x in any_home.store.get_xcoms("mapped", run.run_id)
    }
    assert xcoms[("numbers", -1)] == ("[1, 2, 3, 4, 5]", 5)
    assert [xcoms[("work", i)][0] for i in range(5)] == ["10", "20", "30", "40", "50"]
    assert xcoms[("total", -1)] == ("150", None)
    assert (xcoms[("shout", 0)][0], xcoms[("shout", 1)][0]) == ('"a"', '"b"')
    work_tries = [t for t in any_home.tries("mapped") if t.task == "work"]
    assert len(work_tries) == 5
    assert max_overlap(work_tries) <= 2
    from tasklogs import format_log

    from taskkit.execution.tasklog import log_path

    logs = any_home.path / "logs"
    third = format_log(log_path(logs, "mapped", run.run_id, "work", 1, map_index=3))
    assert "instance 3 got 4" in third
    assert not log_path(logs, "mapped", run.run_id, "work", 1).exists()

    # DAG.test() of the same DAG version decides exactly the same instances and values.
    from taskkit import serde

    version = any_home.store.get_current_dag_version("mapped")
    dag = serde.loads_verified_dag(version.payload, version.signature, any_home.key)
    result = dag.test()
    assert {
        (task_id, i): state
        for task_id in result.task_states
        for i, state in result.task_states_of(task_id).items()
    } == states
    assert result.xcom("work") == [10, 20, 30, 40, 50]
    assert result.xcom("total") == 150


def test_depends_on_past_and_wait_for_downstream_order_two_runs(any_home: Home) -> None:
    """Run 2's task starts only after run 1's task and its downstream task finished."""
    any_home.write_dag(
        "past",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1), max_active_runs=2)
        def past():
            first = PythonOperator(task_id="first", python_callable=sleeper,
                                   op_kwargs={"seconds": 0.3}, wait_for_downstream=True)
            after = PythonOperator(task_id="after", python_callable=sleeper,
                                   op_kwargs={"seconds": 0.3})
            first >> after

        past()
        """,
    )
    any_home.sync()
    one = any_home.trigger(
        "past", "one", logical_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    )
    two = any_home.trigger(
        "past", "two", logical_date=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc)
    )
    any_home.run_scheduler()
    assert any_home.run_state("past", one.run_id) is RunState.SUCCESS
    assert any_home.run_state("past", two.run_id) is RunState.SUCCESS
    tries = {(t.run, t.task): t for t in any_home.tries("past")}
    assert tries["two", "first"].start >= tries["one", "after"].end


def test_dagrun_timeout_fails_the_run_and_stops_its_running_try(any_home: Home) -> None:
    """Past dagrun_timeout the run fails, the running try is killed, the rest is skipped."""
    any_home.write_dag(
        "slow",
        """
        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1),
             dagrun_timeout=dt.timedelta(seconds=1))
        def slow():
            long = PythonOperator(task_id="long", python_callable=sleeper,
                                  op_kwargs={"seconds": 60})
            long >> EmptyOperator(task_id="never")

        slow()
        """,
    )
    any_home.sync()
    run = any_home.trigger("slow")
    any_home.run_scheduler()
    assert any_home.run_state("slow", run.run_id) is RunState.FAILED
    tis = any_home.tis("slow", run.run_id)
    assert (tis["long"].state, tis["never"].state) == (State.SKIPPED, State.SKIPPED)
    assert any_home.tries("slow") == []  # killed before it could note its end


def test_dag_callbacks_run_in_their_own_process_and_a_hanging_one_is_killed(
    any_home: Home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """on_failure_callback runs beside the scheduler; one that hangs is killed; runs go on."""
    monkeypatch.setattr("taskkit.execution.dag_callbacks.CALLBACK_TIMEOUT_S", 5.0)
    marker = any_home.path / "callback.txt"
    any_home.write_dag(
        "cb",
        f"""
        def record(context):
            with open({str(marker)!r}, "a") as f:
                f.write(context["reason"] + " " + context["dag_run"].run_id + "\\n")

        def hang(context):
            time.sleep(3600)

        @dag(schedule=None, start_date=dt.datetime(2026, 1, 1),
             on_failure_callback=[record, hang], on_success_callback=record)
        def cb():
            @task
            def boom():
                raise ValueError("no")
            boom()

        cb()
        """,
    )
    any_home.sync()
    runs = [any_home.trigger("cb", "first"), any_home.trigger("cb", "second")]
    any_home.run_scheduler()
    assert all(any_home.run_state("cb", run.run_id) is RunState.FAILED for run in runs)
    assert sorted(marker.read_text().splitlines()) == ["task_failure first", "task_failure second"]
    log = (any_home.path / "logs" / "cb" / "first" / "@dag_callbacks.log").read_text()
    assert "Calling the failure callbacks of run 'first'" in log
