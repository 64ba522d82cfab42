"""`self.log` on operators and hooks, as Airflow's LoggingMixin gives them."""

from __future__ import annotations

import logging


class LoggingMixin:
    """A `log` attribute: the class's logger, whose records go to the try's log.

    Custom operators and hooks written for Airflow call `self.log.info(...)`
    everywhere; the logger is named after the class, as Airflow names it.
    """

    @property
    def log(self) -> logging.Logger:
        """The logger `taskkit.task.<module>.<class>`."""
        cls = type(self)
        return logging.getLogger(f"taskkit.task.{cls.__module__}.{cls.__qualname__}")
