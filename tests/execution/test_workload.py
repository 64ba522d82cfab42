"""A workload's encoding on its way from the Local executor to a worker."""

from __future__ import annotations

import datetime as dt

import attrs

from taskkit.execution.base import PreviousSuccess
from taskkit.execution.workload import EncodedXCom, Workload, decode_workload, encode_workload
from taskkit.model.keys import TaskInstanceKey
from taskkit.model.results import EncodedXComSequence

WHEN = dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)


def test_a_workload_with_every_field_set_travels_whole() -> None:
    """Every field, the key's map index, nested XComs and the previous success come back equal."""
    workload = Workload(
        key=TaskInstanceKey("etl", "manual__1", "load", 3),
        try_number=2,
        max_tries=4,
        dag_version_id=9,
        logical_date=WHEN,
        conf={"size": [1, 2]},
        run_type="scheduled",
        log_path="/logs/etl/manual__1/load/map_index=3/2.log",
        upstream_xcoms={
            ("extract", "return_value"): EncodedXCom(b"[1]", "json", 1),
            ("split", "return_value"): EncodedXComSequence((EncodedXCom(b"2", "json"),), (0,)),
        },
        execution_timeout_s=1.5,
        data_interval_start=WHEN,
        data_interval_end=WHEN + dt.timedelta(days=1),
        max_log_bytes=1024,
        enable_xcom_pickling=True,
        previous_success=PreviousSuccess(WHEN, WHEN, WHEN, WHEN, WHEN),
        first_poke_at=WHEN,
        next_method="execute_complete",
        next_kwargs='{"event": 1}',
        previous_point=WHEN - dt.timedelta(days=1),
    )
    assert all(getattr(workload, f.name) != f.default for f in attrs.fields(Workload))
    decoded = decode_workload(encode_workload(workload))
    assert decoded == workload
    assert decoded.key.map_index == 3 and hash(decoded.key) == hash(workload.key)
