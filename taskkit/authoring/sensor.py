"""BaseSensorOperator and PokeReturnValue: tasks that wait for a condition by poking it.

A sensor's try calls `poke(context)` until it returns something truthy.
In poke mode the try sleeps between pokes and keeps its worker, parallelism
and pool slots; in reschedule mode each unsuccessful poke ends the try's
turn (AirflowRescheduleException): the task instance waits in state
up_for_reschedule holding no slot, and the scheduler queues the same try
again at the next poke time. Either way the `timeout` counts from the
try's first poke, and running out of it fails the task without retrying
(AirflowSensorTimeout), or skips it with `soft_fail`. The sensors that take
`deferrable=True` instead defer to a trigger (state deferred, no slot held);
their wait's timeout is the sensor's `timeout`.
"""

from __future__ import annotations

import datetime as dt
import enum
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

from taskkit.authoring.baseoperator import BaseOperator
from taskkit.authoring.operators import PythonOperator
from taskkit.errors import (
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferralError,
    TaskDeferralTimeout,
    TaskTimeoutError,
)

if TYPE_CHECKING:
    from taskkit.authoring.context import Context

#: Airflow's sensors.default_timeout: a week.
DEFAULT_TIMEOUT = dt.timedelta(days=7)
#: Doubling stops here, so a long wait never overflows (2**40 intervals is already ages).
_MAX_DOUBLINGS = 40


class SensorMode(str, enum.Enum):
    """How a sensor waits between pokes."""

    POKE = "poke"  #: sleep inside the try, holding its worker, parallelism and pool slots
    RESCHEDULE = "reschedule"  #: give every slot back and be queued again at the next poke

    def __str__(self) -> str:
        return str(self.value)


class PokeReturnValue:
    """What `poke` may return instead of a bool: whether it is done, and the value to push.

    When the sensor is done, `xcom_value` becomes its return value (its XCom).
    """

    def __init__(self, is_done: bool, xcom_value: Any | None = None) -> None:
        self.is_done = is_done
        self.xcom_value = xcom_value

    def __bool__(self) -> bool:
        return bool(self.is_done)

    def __repr__(self) -> str:
        return f"PokeReturnValue(is_done={self.is_done!r}, xcom_value={self.xcom_value!r})"


class BaseSensorOperator(BaseOperator):
    """A task that waits: subclasses implement `poke(context)`; see the module docstring.

    `poke_interval`, `timeout` and `max_wait` take a timedelta or seconds.
    `exponential_backoff` doubles the wait after each poke (no random
    jitter, unlike Airflow, so the next poke time is exact), capped by
    `max_wait` and by the time left before the timeout. A poke that raises
    fails the try (its retries apply) unless `silent_fail` (log it and
    poke again) or `never_fail` (skip).
    """

    def __init__(
        self,
        *,
        poke_interval: dt.timedelta | float = 60,
        timeout: dt.timedelta | float | None = None,
        soft_fail: bool = False,
        mode: SensorMode | str = SensorMode.POKE,
        exponential_backoff: bool = False,
        max_wait: dt.timedelta | float | None = None,
        silent_fail: bool = False,
        never_fail: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.poke_interval: float = self._as_delta("poke_interval", poke_interval).total_seconds()
        self.timeout: float = self._as_delta(
            "timeout", DEFAULT_TIMEOUT if timeout is None else timeout
        ).total_seconds()
        max_wait_delta = self._as_optional_delta("max_wait", max_wait)
        self.max_wait: float | None = max_wait_delta.total_seconds() if max_wait_delta else None
        self.soft_fail = self._check_bool("soft_fail", soft_fail)
        self.exponential_backoff = self._check_bool("exponential_backoff", exponential_backoff)
        self.silent_fail = self._check_bool("silent_fail", silent_fail)
        self.never_fail = self._check_bool("never_fail", never_fail)
        if self.soft_fail and self.never_fail:
            raise self._fail("soft_fail and never_fail exclude each other; pass only one.")
        try:
            self.mode = SensorMode(mode)
        except ValueError:
            raise self._fail(
                f"mode must be 'poke' or 'reschedule', got {mode!r}; use mode='reschedule' to "
                "give back the task's slots between pokes."
            ) from None

    @property
    def reschedule(self) -> bool:
        """Whether this sensor gives its slots back between pokes (Airflow's name)."""
        return self.mode == SensorMode.RESCHEDULE  # == : a plain "reschedule" set later counts

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Whether the condition holds now; override it."""
        raise NotImplementedError(f"{type(self).__name__} must implement poke(context)")

    def execute(self, context: Context) -> Any:
        """Poke until done: the PokeReturnValue's xcom_value (if any) is the task's value."""
        first = context["ti"].first_reschedule_date if self.reschedule else None
        started = first or _utcnow()
        clock = time.monotonic()

        def elapsed() -> float:
            # Across reschedules only the wall clock spans tries; within one try, monotonic.
            if self.reschedule:
                return (_utcnow() - started).total_seconds()
            return time.monotonic() - clock

        poke_count = 1
        while True:
            done = self._poke_once(context)
            if done:
                return done.xcom_value if isinstance(done, PokeReturnValue) else None
            waited = elapsed()
            if waited > self.timeout:
                message = (
                    f"Sensor has timed out: it has waited {waited:.1f}s, more than its timeout "
                    f"of {self.timeout:g}s."
                )
                if self.soft_fail:
                    raise AirflowSkipException(message)
                raise AirflowSensorTimeout(message)
            if self.reschedule:
                poke_count = self.pokes_before(waited)
            interval = self.next_interval(poke_count, waited)
            if self.reschedule:
                raise AirflowRescheduleException(_utcnow() + dt.timedelta(seconds=interval))
            time.sleep(interval)
            poke_count += 1

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context
    ) -> Any:
        """Resume a deferred sensor: its wait timing out is a sensor timeout (no retry), and
        with soft_fail or never_fail a failed wait skips, as in Airflow."""
        try:
            try:
                return super().resume_execution(next_method, next_kwargs, context)
            except TaskDeferralTimeout as exc:
                raise AirflowSensorTimeout(
                    f"Sensor has timed out: its deferred wait passed its timeout of "
                    f"{self.timeout:g}s ({exc})."
                ) from exc
        except (AirflowSensorTimeout, TaskDeferralError) as exc:
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(f"Skipped instead of failing: {exc}") from exc
            raise

    def defer_to(self, trigger: Any, method_name: str = "execute_complete") -> NoReturn:
        """Defer to `trigger` for at most the sensor's `timeout` (deferrable=True)."""
        self.defer(
            trigger=trigger, method_name=method_name, timeout=dt.timedelta(seconds=self.timeout)
        )

    def execute_complete(self, context: Context, event: Any = None) -> None:
        """Where a deferred sensor resumes when its trigger fired: it is done."""
        print(f"The trigger fired ({event!r}): done")

    def _poke_once(self, context: Context) -> bool | PokeReturnValue:
        """One poke, with soft_fail, never_fail and silent_fail applied to what it raises."""
        try:
            return self.poke(context)
        except AirflowSkipException:
            raise
        except (AirflowSensorTimeout, TaskTimeoutError, AirflowFailException) as exc:
            if self.soft_fail or self.never_fail:
                raise AirflowSkipException(f"Skipped instead of failing: {exc}") from exc
            raise
        except Exception as exc:
            if self.silent_fail:
                print("The poke failed (silent_fail: poking on):", file=sys.stderr)
                traceback.print_exc()
                return False
            if self.never_fail:
                raise AirflowSkipException(f"Skipped instead of failing: {exc}") from exc
            raise

    def next_interval(self, poke_count: int, elapsed: float) -> float:
        """Seconds to wait after poke number `poke_count`, `elapsed` seconds into the wait."""
        if not self.exponential_backoff:
            return self.poke_interval
        interval: float = self.poke_interval * 2 ** min(poke_count - 1, _MAX_DOUBLINGS)
        interval = max(min(interval, self.timeout - elapsed), 0.0)
        if self.max_wait is not None:
            interval = min(interval, self.max_wait)
        return interval

    def pokes_before(self, elapsed: float) -> int:
        """How many pokes a reschedule-mode sensor has made `elapsed` seconds into its wait.

        Each poke is a separate turn, so the count is worked out from the
        time waited (as Airflow does): the pokes whose waits fit in it.
        """
        if not self.exponential_backoff or self.poke_interval <= 0:
            return 1
        count, total = 1, 0.0
        while count <= _MAX_DOUBLINGS:
            total += self.next_interval(count, total)
            if total > elapsed:
                break
            count += 1
        return count


class PythonSensor(BaseSensorOperator, PythonOperator):
    """Waits until `python_callable` returns something truthy (or a done PokeReturnValue).

    Arguments and context values reach the callable as for PythonOperator.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("templates_dict", "op_args", "op_kwargs")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        value = self.call(context, self.op_args, self.op_kwargs)
        return value if isinstance(value, PokeReturnValue) else PokeReturnValue(bool(value))


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
