"""BashSensor: waits until a bash command exits with 0."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from taskkit.authoring.sensor import BaseSensorOperator
from taskkit.errors import AirflowFailException, InvalidTaskParameterError

if TYPE_CHECKING:
    from taskkit.authoring.context import Context


class BashSensor(BaseSensorOperator):
    """Runs `bash_command` at each poke: done when it exits with 0.

    With `retry_exit_code` set, only that exit code means "not yet" and any
    other non-zero code fails the task at once (AirflowFailException); without
    it every non-zero code means "not yet", as in Airflow.
    """

    template_fields: ClassVar[tuple[str, ...]] = ("bash_command", "env")

    def __init__(
        self,
        *,
        bash_command: str,
        env: Mapping[str, str] | None = None,
        output_encoding: str = "utf-8",
        retry_exit_code: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(bash_command, str) or not bash_command.strip():
            raise InvalidTaskParameterError(
                f"DAG {self.dag.dag_id!r}, task {self.task_id!r}: bash_command must be a "
                "non-empty string."
            )
        self.bash_command = bash_command
        self.env = dict(env) if env is not None else None
        self.output_encoding = output_encoding
        self.retry_exit_code = retry_exit_code

    def poke(self, context: Context) -> bool:
        done = subprocess.run(
            ["bash", "-c", self.bash_command],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=self.env,  # None inherits the try's environment
            check=False,
            start_new_session=True,
        )
        sys.stdout.write(done.stdout.decode(self.output_encoding, errors="replace"))
        code = done.returncode
        print(f"Command exited with return code {code}")
        if code == 0:
            return True
        if self.retry_exit_code is not None and code != self.retry_exit_code:
            raise AirflowFailException(f"Command exited with return code {code}")
        return False
