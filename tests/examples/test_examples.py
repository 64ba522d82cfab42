"""Every example DAG runs through DAG.test() and does what its docstring says."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

from taskkit import DAG, State

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    """Import examples/dags/<name>.py by path, as the DAG processor would."""
    path = EXAMPLES / "dags" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_runs_c_then_a_then_b_in_a_one_slot_pool() -> None:
    """With test_pool at one slot, process_c, process_a, process_b start in that order."""
    dag: DAG = load("seed_pool_priority").seed_pool_priority_dag
    result = dag.test(pools={"test_pool": 1})
    assert result.order == ["process_c", "process_a", "process_b"]
    assert result.state == "success"
    assert result.xcom("process_a") == "processed by process_a"


def test_seed_pool_exists_in_the_pools_file() -> None:
    """examples/pools.json defines test_pool with one slot for the scheduler."""
    pools = json.loads((EXAMPLES / "pools.json").read_text())
    assert pools["test_pool"]["slots"] == 1
    assert pools["warehouse"]["slots"] == 4


def test_taskflow_etl_passes_values_and_renders_the_report() -> None:
    """Rows flow extract -> transform/count -> load, and the bash report quotes load's value."""
    dag: DAG = load("taskflow_etl").taskflow_etl_dag
    result = dag.test(conf={"multiplier": 3})
    assert result.state == "success"
    assert result.xcom("transform") == [30, 96]
    assert result.xcom("load") == "loaded 2 rows totalling 126"
    assert result.xcom("report").endswith("try 1: loaded 2 rows totalling 126")
    assert result.order.index("report") == len(result.order) - 1


def test_pool_slots_big_task_is_not_starved() -> None:
    """The 3-slot rebuild_index starts right after warmup, before any 1-slot load."""
    dag: DAG = load("pool_slots").pool_slots_dag
    result = dag.test(pools={"warehouse": 4})
    assert result.order[:2] == ["warmup", "rebuild_index"]
    assert sorted(result.order[2:]) == [f"load_{i}" for i in range(8)]
    assert result.state == "success"


def test_classic_trigger_rules_example() -> None:
    """publish is upstream_failed, alert and cleanup run, and the run succeeds."""
    dag: DAG = load("classic_trigger_rules").classic_trigger_rules_dag
    result = dag.test()
    assert result.task_states["strict_check"] == State.FAILED
    assert result.task_states["publish"] == State.UPSTREAM_FAILED
    assert result.task_states["alert"] == State.SUCCESS
    assert result.task_states["cleanup"] == State.SUCCESS
    assert result.state == "success"


def test_examples_import_only_taskkit_and_the_standard_library() -> None:
    """Example files import nothing but taskkit and stdlib modules."""
    for path in (EXAMPLES / "dags").glob("*.py"):
        for line in path.read_text().splitlines():
            if line.startswith(("import ", "from ")):
                top = line.split()[1].split(".")[0]
                assert top == "taskkit" or top in sys.stdlib_module_names or top == "__future__", (
                    path.name,
                    line,
                )


def test_the_airflow_port_branches_on_mapped_counts_and_cleans_up() -> None:
    """Mapped extracts per region feed a branch into a group; the teardown always runs."""
    dag: DAG = load("airflow_port").airflow_port()
    result = dag.test()
    assert result.state == "success"
    assert result.xcom("extract") == [20, 20]
    assert result.task_states["report.summary"] is State.SUCCESS
    assert result.task_states["report.full"] is State.SKIPPED
    assert result.task_states["close_session"] is State.SUCCESS
    assert "closing session-1" in result.logs("close_session")
    wide = dag.test(conf={"regions": ["europe", "asia"]})
    assert wide.task_states["report.full"] is State.SUCCESS


def test_warehouse_config_reads_variables_and_a_connection() -> None:
    """The variable's default applies, the connection's password is masked in the log."""
    dag: DAG = load("warehouse_config").warehouse_config_dag
    result = dag.test(
        variables={"team": "finance"},
        connections={"warehouse": "postgres://etl:pw-2026-dw@db:5432/dw"},
    )
    assert result.state == "success"
    assert result.xcom("plan") == {"host": "db", "rows": 100}
    assert "connecting to db:5432 as etl with ***" in result.logs("plan")
    assert result.xcom("report") == "finance loads 100 rows into dw"


def test_data_aware_producer_reports_events_and_the_consumer_reads_them() -> None:
    """load_sales reports one event per asset; daily_report sums the rows it was given."""
    module = load("data_aware")
    produced = module.load_sales_dag.test()
    events = {e.uri.rsplit("/", 1)[-1]: e.extra for e in produced.asset_events}
    assert events == {"orders.parquet": {"rows": 1200}, "customers.parquet": {"rows": 40}}
    triggering = {
        e.uri: [{"extra": e.extra, "source_dag_id": "load_sales"}] for e in produced.asset_events
    }
    report = module.daily_report_dag.test(conf={"triggering_asset_events": triggering})
    assert report.xcom("report") == {"orders.parquet": 1200, "customers.parquet": 40}
