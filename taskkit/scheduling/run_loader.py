"""Reading runs and DAG versions out of the metastore into the scheduler's in-memory view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskkit import serde, xcom_codec
from taskkit.errors import DagVersionUnloadableError, RunUnloadableError, XComIntegrityError
from taskkit.execution.base import DagPayload, PreviousSuccess
from taskkit.execution.workload import EncodedXCom
from taskkit.model.dag import DagSpec
from taskkit.scheduling.active_run import ActiveRun
from taskkit.scheduling.engine import RunEngine, TaskInstance, XComMap, mapped_state
from taskkit.scheduling.timetable import Timetable
from taskkit.states import RunState, RunType, State

if TYPE_CHECKING:
    from taskkit.metastore.records import DagVersionRecord, RunRecord
    from taskkit.metastore.store import Metastore


class RunLoader:
    """Loads runs with their task instances and XComs; DAG versions are verified once each."""

    def __init__(self, store: Metastore, secret_key: bytes, max_map_length: int = 1024) -> None:
        self.store = store
        self.secret_key = secret_key
        self.max_map_length = max_map_length
        self._versions: dict[int, tuple[DagSpec, DagPayload]] = {}
        #: Each active run's previous successful run, by (dag_id, run_id); see previous_success.
        self._previous_successes: dict[tuple[str, str], PreviousSuccess | None] = {}

    def version(self, version_id: int) -> tuple[DagSpec, DagPayload]:
        """A DAG version's spec and signed payload, verified and unpickled once per scheduler.

        The spec stored beside the payload is read alone, so no operator is
        unpickled here (a 100,000-task DAG's operators take ~420 MB); a version
        stored before specs were (revision 0013), and not parsed since, is read
        from its payload. Tries run the payload in the zygote.
        """
        if version_id not in self._versions:
            record = self.store.get_dag_version(version_id)
            try:
                spec = self._spec_of(record)
            except Exception as exc:  # altered, signed with another key, or fails to unpickle
                raise DagVersionUnloadableError(
                    f"DAG {record.dag_id!r} version {record.version_number} cannot be loaded: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            payload = DagPayload(version_id, record.payload, record.signature)
            self._versions[version_id] = (spec, payload)
        return self._versions[version_id]

    def _spec_of(self, record: DagVersionRecord) -> DagSpec:
        # The payload is checked (not unpickled) even beside a spec: an altered payload fails
        # the DAG's runs here, with the reason, rather than each of its tries.
        serde.verify(record.payload, record.signature, self.secret_key)
        spec: Any
        if record.spec is not None and record.spec_signature is not None:
            spec = serde.loads_verified_spec(record.spec, record.spec_signature, self.secret_key)
        else:
            dag: Any = serde.loads_verified_dag(record.payload, record.signature, self.secret_key)
            spec = dag.spec
        if not isinstance(spec, DagSpec):
            raise TypeError(f"the stored spec is a {type(spec).__name__}, not a DagSpec")
        return spec

    def spec(self, version_id: int) -> DagSpec:
        return self.version(version_id)[0]

    def load(self, record: RunRecord) -> ActiveRun:
        """The run as the metastore has it now, every undecided task marked for evaluation.

        XComs stay encoded: the scheduler forwards them to tries, never decodes them. A
        pickled one's signature is checked here (without loading it) and stripped, so the try
        that receives it needs no key; one that fails the check fails the run, with the reason.
        """
        tis = self.store.list_ti_progress(record.dag_id, record.run_id)
        xcoms: XComMap = {}
        for xcom in self.store.get_xcoms(record.dag_id, record.run_id):
            try:
                data, encoding = xcom_codec.verify_xcom(xcom.value, xcom.encoding, self.secret_key)
            except XComIntegrityError as exc:
                raise RunUnloadableError(
                    f"XCom {xcom.key!r} of task {xcom.task_id!r} cannot be used: {exc}"
                ) from None
            xcoms.setdefault((xcom.task_id, xcom.map_index), {})[xcom.key] = EncodedXCom(
                data, encoding.value, xcom.length
            )
        engine = RunEngine(
            self.spec(record.dag_version_id),
            {
                (ti.task_id, ti.map_index): TaskInstance(
                    ti.state,
                    ti.try_number,
                    ti.max_tries,
                    ti.next_retry_at,
                    ti.first_poke_at,
                    rendered_map_index=ti.rendered_map_index,
                    next_method=ti.next_method,
                    next_kwargs=ti.next_kwargs,
                )
                for ti in tis
            },
            xcoms,
            max_map_length=self.max_map_length,
        )
        return ActiveRun(
            id=record.id,
            dag_id=record.dag_id,
            run_id=record.run_id,
            dag_version_id=record.dag_version_id,
            logical_date=record.logical_date,
            conf=dict(record.conf),
            run_type=record.run_type.value,
            data_interval_start=record.data_interval_start,
            data_interval_end=record.data_interval_end,
            engine=engine,
            previous_point=(
                None
                if record.run_type == RunType.MANUAL
                else Timetable.of(engine.spec).previous_point(record.logical_date)
            ),
        )

    def task_states(self, dag_id: str, run_id: str) -> dict[str, State]:
        """A run's task states as stored, a mapped task's instances as its overall state."""
        instances: dict[str, list[State]] = {}
        for ti in self.store.list_ti_progress(dag_id, run_id):
            instances.setdefault(ti.task_id, []).append(ti.state)
        return {
            task_id: states[0] if len(states) == 1 else mapped_state(states)
            for task_id, states in instances.items()
        }

    def previous_success(self, run: ActiveRun) -> PreviousSuccess | None:
        """The DAG's latest successful run before `run`'s logical date (Airflow's rule).

        Read once per run until forgotten (the scheduler forgets on a refresh and when
        a run succeeds), so a try sees a run that succeeded up to a refresh interval
        before it was queued.
        """
        ident = (run.dag_id, run.run_id)
        if ident not in self._previous_successes:
            record = self.store.get_previous_run(
                run.dag_id, run.logical_date, state=RunState.SUCCESS
            )
            self._previous_successes[ident] = (
                None
                if record is None
                else PreviousSuccess(
                    data_interval_start=record.data_interval_start or record.logical_date,
                    data_interval_end=record.data_interval_end or record.logical_date,
                    start_date=record.started_at,
                    end_date=record.ended_at,
                    logical_date=record.logical_date,
                )
            )
        return self._previous_successes[ident]

    def forget_previous_successes(self) -> None:
        """Read each run's previous success again when next asked."""
        self._previous_successes.clear()
