"""The scheduler's writes waiting for its next transaction: state changes and what goes with them.

Every engine `Transition` becomes a conditional `TIChange` here (`record`),
with the XComs, rendered fields and asset events of the try that caused it;
`write` commits them all in one transaction and keeps them when it fails, so
a failed write is retried with nothing lost. A change that continues the
same task instance's pending one (none -> scheduled, then scheduled ->
queued, in one round) is folded into it (`add`): one UPDATE of the row
instead of two, which is most of a chain's hop on the database's side.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import attrs

from taskkit import xcom_codec
from taskkit.metastore.records import (
    UNSET,
    AssetEventWrite,
    RenderedFieldsWrite,
    TIChange,
    TriggerWrite,
    XComWrite,
)
from taskkit.metastore.store import Metastore
from taskkit.model.keys import TaskInstanceKey
from taskkit.scheduling.engine import Transition
from taskkit.scheduling.transitions import deferred_reason, reschedule_reason
from taskkit.states import FINISHED_STATES, OCCUPYING_STATES, State

#: States a timer releases: a retry's delay, a reschedule-mode sensor's next poke, a
#: deferral's timeout (a deferred instance is released sooner when its trigger fires).
TIMED = frozenset({State.UP_FOR_RETRY, State.UP_FOR_RESCHEDULE, State.DEFERRED})


@attrs.define
class PendingWrites:
    """What the next commit writes, in the order it was decided."""

    changes: list[TIChange] = attrs.Factory(list)
    xcom_writes: list[XComWrite] = attrs.Factory(list)
    #: Finished tries' rendered template fields, written with their transitions.
    rendered_writes: list[RenderedFieldsWrite] = attrs.Factory(list)
    #: Task instances starting a new try: their stored values go (as in the engine).
    xcom_clears: list[TaskInstanceKey] = attrs.Factory(list)
    #: Asset events of finished tries, written with their transitions.
    asset_writes: list[AssetEventWrite] = attrs.Factory(list)
    #: The triggers of tries that deferred, written with their transitions.
    trigger_writes: list[TriggerWrite] = attrs.Factory(list)
    #: Where each task instance's latest change is in `changes` (`add` folds into it).
    _latest: dict[TaskInstanceKey, int] = attrs.Factory(dict)
    #: A change as it was before a queueing was folded into it (`drop_unsent` restores it).
    _before_queue: dict[TaskInstanceKey, TIChange] = attrs.Factory(dict)

    def __bool__(self) -> bool:
        """Whether the next commit has anything to write."""
        return bool(self.changes or self.xcom_writes)

    def record(
        self, key: TaskInstanceKey, change: Transition, secret_key: bytes, **columns: Any
    ) -> None:
        """One engine transition as a metastore change, with the XComs its try pushed.

        `columns` are what the caller knows besides the state (times, pid, reasons).
        """
        expected = OCCUPYING_STATES if change.source in OCCUPYING_STATES else change.source
        if change.target in FINISHED_STATES or change.target in TIMED:
            columns.setdefault("error", change.error)
            columns.setdefault("next_retry_at", change.next_retry_at)
            columns.setdefault("first_poke_at", change.first_poke_at)
            if change.rendered_map_index is not None:
                columns["rendered_map_index"] = change.rendered_map_index
        if change.source in OCCUPYING_STATES or change.next_method is not None:
            columns.setdefault("next_method", change.next_method)  # None once a try ends
            columns.setdefault("next_kwargs", change.next_kwargs)
        if change.target is State.UP_FOR_RESCHEDULE:
            columns.setdefault("wait_reason", reschedule_reason(change.next_retry_at))
        if change.deferral is not None:
            columns.setdefault("wait_reason", deferred_reason(change.deferral))
            self.trigger_writes.append(
                TriggerWrite(
                    key, change.try_number, change.deferral.classpath, change.deferral.kwargs
                )
            )
        ti_change = TIChange(
            key,
            expected=expected,
            state=change.target,
            try_number=change.try_number,
        )
        self.add(attrs.evolve(ti_change, **columns) if columns else ti_change)
        for name, value in change.xcoms.items():
            # A try without the key pickles unsigned (only with core.enable_xcom_pickling):
            # sign what is stored; the unsigned copy stays in memory for downstream tries.
            data, encoding = xcom_codec.sign_xcom(value.data, value.encoding, secret_key)
            self.xcom_writes.append(XComWrite(key, name, data, encoding.value, value.length))

    def add(self, change: TIChange) -> None:
        """Add one change, folded into the task instance's pending one if it continues it.

        `change` continues the pending change when it expects the state that
        one leaves (or, for one that sets no state, the states it expects):
        then it applies exactly when the pending one does, so one UPDATE
        with both changes' columns (the later's winning), conditioned on the
        pending one's expected states, does what the two did in turn. When
        the pending one is lost, the folded one is lost with it, rather than
        applying alone to a row someone else moved.
        """
        index = self._latest.get(change.key)
        if index is not None:
            pending = self.changes[index]
            leaves = pending.expected if pending.state is UNSET else frozenset({pending.state})
            if leaves <= change.expected:
                if change.state is State.QUEUED:
                    self._before_queue.setdefault(change.key, pending)
                folded: dict[str, Any] = change.values()
                self.changes[index] = attrs.evolve(pending, **folded)
                return
        self._latest[change.key] = len(self.changes)
        self.changes.append(change)

    def clear_xcoms(self, key: TaskInstanceKey) -> None:
        """A new try starts: what an earlier try pushed is gone (as in Airflow)."""
        self.xcom_writes = [w for w in self.xcom_writes if w.ti != key]
        self.xcom_clears.append(key)

    def drop_unsent(self, unsent: Collection[TaskInstanceKey]) -> None:
        """Tries chosen but never handed to the executor stay scheduled: forget queuing them."""
        changes = self.changes
        self.changes, self._latest = [], {}
        for change in changes:
            if change.key in unsent and change.state is State.QUEUED:
                before = self._before_queue.get(change.key)
                if before is not None:
                    self.add(before)
                continue
            self.add(change)
        self._before_queue = {}
        self.xcom_clears = [k for k in self.xcom_clears if k not in unsent]

    def write(self, store: Metastore) -> tuple[set[TaskInstanceKey], list[AssetEventWrite]]:
        """Commit everything pending in one transaction.

        Returns the task instances whose change was lost (someone else changed
        them) and the asset events written. Kept pending if the write fails.
        Call it only when there is something to write (`bool(self)`).
        """
        changes = self.changes
        applied = store.transition_task_instances(
            changes,
            self.xcom_writes,
            self.xcom_clears,
            self.rendered_writes,
            self.asset_writes,
            triggers=self.trigger_writes,
        )
        # Only once written: a failed write is retried.
        self.changes, self.xcom_writes, self.xcom_clears = [], [], []
        self._latest, self._before_queue = {}, {}
        self.trigger_writes = []
        self.rendered_writes, asset_writes, self.asset_writes = [], self.asset_writes, []
        lost = {
            c.key for c, ok in zip(changes, applied, strict=True) if not ok and c.state is not UNSET
        }
        return lost, asset_writes
