"""Retry policies: a task decides from the exception itself whether, and when, to retry.

Airflow 3.3's `retry_policy=`: evaluated in the try's process when it fails,
with the exception in hand. The run engine only sees the outcome: fail now
(no retries left to use), retry after the policy's delay, or the task's own
retry rules. A policy can fail a task early but never gives it more tries than
its `retries`. AirflowFailException and a sensor's timeout fail the task
without asking the policy, as in Airflow.
"""

from __future__ import annotations

import abc
import datetime as dt
import enum
import importlib
from typing import TYPE_CHECKING, Any

import attrs

from taskkit.errors import DagDefinitionError

if TYPE_CHECKING:
    from taskkit.authoring.context import Context


class RetryAction(enum.Enum):
    """What a failed try leads to."""

    #: Retry (after the decision's delay, else the task's): only while retries are left.
    RETRY = "retry"
    #: Fail now, leaving the remaining retries unused.
    FAIL = "fail"
    #: The task's own rules: retries, retry_delay, retry_exponential_backoff.
    DEFAULT = "default"


@attrs.frozen
class RetryDecision:
    """A policy's answer for one failure; `reason` goes to the try's log."""

    action: RetryAction = RetryAction.DEFAULT
    #: The wait before the next try, used as it is (no backoff, no max_retry_delay).
    retry_delay: dt.timedelta | None = None
    reason: str | None = None

    @classmethod
    def fail(cls, reason: str | None = None) -> RetryDecision:
        return cls(RetryAction.FAIL, reason=reason)

    @classmethod
    def retry(cls, delay: dt.timedelta | None = None, reason: str | None = None) -> RetryDecision:
        return cls(RetryAction.RETRY, delay, reason)

    @classmethod
    def default(cls) -> RetryDecision:
        return cls()


class RetryPolicy(abc.ABC):
    """Subclass and implement `evaluate` for retry rules of your own."""

    @abc.abstractmethod
    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        """Decide for the exception that failed try `try_number` (from 1).

        `max_tries` is Airflow's: the task's retries, so a try with
        `try_number <= max_tries` has a retry left.
        """


#: An exception class, or the dotted import path of one.
ExceptionSpec = type[BaseException] | str


@attrs.define
class RetryRule:
    """One exception (or a list of them: any matches) and what its failures lead to."""

    exception: ExceptionSpec | list[ExceptionSpec]
    action: RetryAction = RetryAction.RETRY
    retry_delay: dt.timedelta | None = None
    reason: str | None = None
    #: False: only the exact classes match, not their subclasses.
    match_subclasses: bool = True
    _classes: tuple[type[BaseException], ...] | None = attrs.field(
        default=None, init=False, repr=False, eq=False
    )

    def __attrs_post_init__(self) -> None:
        for spec in self.specs:
            if isinstance(spec, type) and issubclass(spec, BaseException):
                continue
            if not isinstance(spec, str) or "." not in spec.strip("."):
                raise DagDefinitionError(
                    f"RetryRule: exception must be an exception class or the dotted import path "
                    f"of one, such as 'requests.exceptions.HTTPError'; got {spec!r}."
                )
        if not isinstance(self.action, RetryAction):
            raise DagDefinitionError(
                f"RetryRule: action must be RetryAction.RETRY, FAIL or DEFAULT; "
                f"got {self.action!r}."
            )
        if self.retry_delay is not None and (
            not isinstance(self.retry_delay, dt.timedelta) or self.retry_delay < dt.timedelta(0)
        ):
            raise DagDefinitionError(
                f"RetryRule: retry_delay must be a timedelta of 0 or more, or None; "
                f"got {self.retry_delay!r}."
            )

    @property
    def specs(self) -> list[ExceptionSpec]:
        return self.exception if isinstance(self.exception, list) else [self.exception]

    def unresolved(self) -> list[str]:
        """The dotted paths that import nothing here: they never match (a typo, or a package
        only the workers have)."""
        return [spec for spec in self.specs if isinstance(spec, str) and _load(spec) is None]

    def matches(self, exception: BaseException) -> bool:
        if self._classes is None:
            loaded = (spec if isinstance(spec, type) else _load(spec) for spec in self.specs)
            self._classes = tuple(c for c in loaded if c is not None)
        if self.match_subclasses:
            return isinstance(exception, self._classes)
        return type(exception) in self._classes


class ExceptionRetryPolicy(RetryPolicy):
    """Rules tried in order, the first that matches decides; `default` when none does."""

    def __init__(self, rules: list[RetryRule], default: RetryAction = RetryAction.DEFAULT) -> None:
        if not all(isinstance(rule, RetryRule) for rule in rules):
            raise DagDefinitionError("ExceptionRetryPolicy: rules must be a list of RetryRule.")
        if not isinstance(default, RetryAction):
            raise DagDefinitionError(
                f"ExceptionRetryPolicy: default must be a RetryAction; got {default!r}."
            )
        self.rules = list(rules)
        self.default = default

    def evaluate(
        self,
        exception: BaseException,
        try_number: int,
        max_tries: int,
        context: Context | None = None,
    ) -> RetryDecision:
        for rule in self.rules:
            if rule.matches(exception):
                reason = rule.reason or f"Matched rule for {type(exception).__name__}"
                return RetryDecision(rule.action, rule.retry_delay, reason)
        return RetryDecision(self.default)

    def unresolved(self) -> list[str]:
        """Every rule's dotted paths that import nothing here."""
        return [path for rule in self.rules for path in rule.unresolved()]


def _load(path: str) -> type[BaseException] | None:
    """The exception class at a dotted path, or None if there is none."""
    module, _, name = path.rpartition(".")
    try:
        found: Any = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None
    return found if isinstance(found, type) and issubclass(found, BaseException) else None
