"""DagStateTrigger and WorkflowTrigger: fire when other DAGs' runs or tasks reach a state.

They poll the metastore from the triggerer (read only, in a thread so the
loop never blocks), as Airflow 3's do through its API: the deferrable forms
of TriggerDagRunOperator(wait_for_completion=True) and ExternalTaskSensor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from functools import partial
from typing import Any

from taskkit.sensors.external_states import external_states, run_states
from taskkit.triggers.base import BaseTrigger, TriggerEvent


class DagStateTrigger(BaseTrigger):
    """Fires when every run in `run_ids` of `dag_id` is in one of `states`.

    The event's payload maps each run id to its state.
    """

    def __init__(
        self,
        dag_id: str,
        states: Sequence[str],
        run_ids: Sequence[str],
        poll_interval: float = 5.0,
    ) -> None:
        super().__init__()
        self.dag_id = dag_id
        self.states = [str(s) for s in states]
        self.run_ids = list(run_ids)
        self.poll_interval = float(poll_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return "taskkit.triggers.external_task.DagStateTrigger", {
            "dag_id": self.dag_id,
            "states": self.states,
            "run_ids": self.run_ids,
            "poll_interval": self.poll_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        while True:
            found = await asyncio.to_thread(run_states, self.dag_id, self.run_ids)
            if len(found) == len(self.run_ids) and all(s in self.states for s in found.values()):
                yield TriggerEvent({"dag_id": self.dag_id, "states": found})
                return
            await asyncio.sleep(self.poll_interval)


class WorkflowTrigger(BaseTrigger):
    """Fires when `external_dag_id`'s runs at `logical_dates` (or the tasks
    `external_task_ids` of them) reach an allowed, failed or skipped state.

    The event's payload is `{"status": "success" | "failed" | "skipped"}`, as
    Airflow's; the resumed ExternalTaskSensor turns it into its outcome.
    """

    def __init__(
        self,
        external_dag_id: str,
        logical_dates: Sequence[dt.datetime],
        *,
        external_task_ids: Sequence[str] | None = None,
        external_task_group_id: str | None = None,
        allowed_states: Sequence[str] = ("success",),
        failed_states: Sequence[str] = (),
        skipped_states: Sequence[str] = (),
        poke_interval: float = 2.0,
    ) -> None:
        super().__init__()
        self.external_dag_id = external_dag_id
        self.logical_dates = list(logical_dates)
        self.external_task_ids = list(external_task_ids) if external_task_ids else None
        self.external_task_group_id = external_task_group_id
        self.allowed_states = list(allowed_states)
        self.failed_states = list(failed_states)
        self.skipped_states = list(skipped_states)
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return "taskkit.triggers.external_task.WorkflowTrigger", {
            "external_dag_id": self.external_dag_id,
            "logical_dates": self.logical_dates,
            "external_task_ids": self.external_task_ids,
            "external_task_group_id": self.external_task_group_id,
            "allowed_states": self.allowed_states,
            "failed_states": self.failed_states,
            "skipped_states": self.skipped_states,
            "poke_interval": self.poke_interval,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        expected = len(self.logical_dates) * len(self.external_task_ids or [""])
        while True:
            states = await asyncio.to_thread(
                partial(
                    external_states,
                    self.external_dag_id,
                    self.logical_dates,
                    self.external_task_ids,
                    self.failed_states,
                    group_id=self.external_task_group_id,
                    skipped_states=self.skipped_states,
                    allowed_states=self.allowed_states,
                )
            )
            seen = set(states.values())
            if seen & set(self.failed_states):
                yield TriggerEvent({"status": "failed", "states": _shown(states)})
                return
            if seen & set(self.skipped_states):
                yield TriggerEvent({"status": "skipped", "states": _shown(states)})
                return
            if len(states) == expected and seen <= set(self.allowed_states):
                yield TriggerEvent({"status": "success", "states": _shown(states)})
                return
            await asyncio.sleep(self.poke_interval)


def _shown(states: dict[tuple[dt.datetime, str], str]) -> dict[str, str]:
    return {f"{d.isoformat()} {task or 'run'}": s for (d, task), s in states.items()}
