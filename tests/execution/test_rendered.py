"""What a try rendered: JSON-ready values per template field, cut with a note when huge."""

from __future__ import annotations

from taskkit import DAG, BashOperator, PythonOperator
from taskkit.execution.rendered import MAX_FIELD_CHARS, rendered_fields
from taskkit.states import State


def test_each_try_reports_its_fields_as_rendered_for_that_try() -> None:
    """DAG.test() results show bash_command and env with the try's values filled in."""
    with DAG("render_me", params={"who": "ada"}) as d:
        BashOperator(
            task_id="greet",
            bash_command="echo hi {{ params.who }} try {{ ti.try_number }}",
            env={"RUN": "{{ dag_run.run_id }}"},
        )
    result = d.test(conf={"who": "grace"}, logical_date=None)
    fields = result.rendered_fields("greet")
    assert fields["bash_command"] == "echo hi grace try 1"
    assert fields["env"] == {"RUN": result.run_id}
    assert "cwd" not in fields  # empty fields are left out


def test_a_failing_try_still_reports_what_it_rendered() -> None:
    """The values are there when they matter most: the command that failed."""
    with DAG("render_fail") as d:
        BashOperator(task_id="boom", bash_command="exit 3 # {{ ds }}")
    result = d.test()
    assert result.task_states["boom"] is State.FAILED
    assert result.rendered_fields("boom")["bash_command"].startswith("exit 3 # 2")


def test_values_become_json_ready_and_huge_ones_are_cut_with_a_note() -> None:
    """Tuples become lists, objects their str(), callables their name; past the cap a note."""
    with DAG("render_shapes"):
        op = PythonOperator(
            task_id="t",
            python_callable=print,
            op_args=[(1, 2), {3: object.__name__}, len],
            op_kwargs={"big": "x" * (MAX_FIELD_CHARS + 10)},
        )
    shown = rendered_fields(op)
    assert shown["op_args"] == [[1, 2], {"3": "object"}, "<callable builtins.len>"]
    big = shown["op_kwargs"]
    assert isinstance(big, str)
    assert big.startswith("Truncated: the rendered value has 4,117 characters; the first 4,096")
    assert len(big) < MAX_FIELD_CHARS + 120


def test_secrets_are_masked_before_the_values_leave_the_try() -> None:
    """A connection's password rendered into a command, and a value under a key like
    `password`, show as *** (the scheduler stores these values; the UI shows them)."""
    with DAG("render_secret") as d:
        BashOperator(
            task_id="load",
            bash_command="psql --password={{ var.value.db_password }}",
            env={"PGPASSWORD": "literal-pw", "REGION": "eu"},
        )
    fields = d.test(variables={"db_password": "hunter2-xyz"}).rendered_fields("load")
    assert fields["bash_command"] == "psql --password=***"
    assert fields["env"] == {"PGPASSWORD": "***", "REGION": "eu"}
