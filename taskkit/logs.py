"""structlog configuration, done only by the CLI.

Library code gets a module-level `structlog.get_logger(__name__)` and never
configures anything; the CLI calls `configure_logging` once at start-up.
"""

from __future__ import annotations

import logging
import sys

import structlog


def _stderr_logger(*args: object) -> object:
    """A logger on the *current* sys.stderr, which tests and redirections may swap."""
    return structlog.PrintLogger(sys.stderr)


def configure_logging(level: str = "warning", json: bool = False) -> None:
    """Send structlog output to stderr at `level` and above, as console text or JSON lines."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"Unknown log level {level!r}; use debug, info, warning or error.")
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
