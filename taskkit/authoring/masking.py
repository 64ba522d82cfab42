"""Secrets masked as `***` in task logs: connection passwords and sensitive variables' values.

As Airflow's secrets masker: a value is registered when a try reads it
(a connection's password, a variable whose key looks secret, `mask_secret`),
and from then on every line the try writes to its log — printed output,
subprocess output relayed by BashOperator, logging records, tracebacks and
the try's error — shows `***` in its place. Values shorter than
MIN_LENGTH_TO_MASK are not masked, since masking "a" or "1" would shred
the log without hiding anything.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, TextIO

MASK = "***"
MIN_LENGTH_TO_MASK = 5

#: Airflow's DEFAULT_SENSITIVE_FIELDS: a key containing one of these (after lower-casing and
#: turning non-word runs into "_") holds a secret.
SENSITIVE_FIELDS = frozenset(
    {
        "access_key",
        "access_token",
        "api_key",
        "apikey",
        "auth_header",
        "authorization",
        "bearer",
        "connection_string",
        "dsn",
        "passphrase",
        "passwd",
        "password",
        "private_key",
        "proxy",
        "proxy_password",
        "proxies",
        "secret",
        "service_account",
        "service_key",
        "token",
        "keyfile_dict",
        "webhook_url",
    }
)


class _Registry:
    """The secrets this process has seen, and one compiled pattern matching any of them."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.pattern: re.Pattern[str] | None = None

    def add(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if len(v) >= MIN_LENGTH_TO_MASK} - self.secrets
        if fresh:  # longest first, so a secret containing another is hidden whole
            self.secrets |= fresh
            ordered = sorted(self.secrets, key=len, reverse=True)
            self.pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def clear(self) -> None:
        self.secrets.clear()
        self.pattern = None


_registry = _Registry()


def should_mask(key: str) -> bool:
    """Whether a variable's key (or a connection extra's key) names a secret."""
    normalized = re.sub(r"\W+", "_", key.strip().lower())
    return any(field in normalized for field in SENSITIVE_FIELDS)


def mask_secret(secret: Any, name: str | None = None) -> None:
    """Hide `secret` (a string, or every string inside a dict or list) in this process's logs.

    With `name`, a dict's values are masked only under keys that look secret
    (as Airflow masks a connection's extra); without, every string is.
    """
    _registry.add(_strings(secret, name))


def _strings(value: Any, name: str | None) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if name is None or should_mask(str(key)):
                yield from _strings(item, None)
            elif isinstance(item, (Mapping, list, tuple)):
                yield from _strings(item, name)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _strings(item, name)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    pattern = _registry.pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def forget_secrets() -> None:
    """Drop every registered secret (for tests)."""
    _registry.clear()


class MaskingStream(io.TextIOBase):
    """A text stream that redacts what is written to it before passing it on.

    Secrets are replaced per write, which is per line for print() and for
    BashOperator's relayed output; a secret split across two writes is the
    price of not buffering a try's output.
    """

    def __init__(self, target: TextIO) -> None:
        self.target = target

    def write(self, text: str) -> int:
        self.target.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def fileno(self) -> int:
        return self.target.fileno()

    def isatty(self) -> bool:
        return self.target.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")


class MaskingFilter(logging.Filter):
    """Redacts secrets in log records (message and arguments, formatted once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _registry.pattern is not None:
            message = record.getMessage()
            redacted = redact(message)
            if redacted != message:
                record.msg, record.args = redacted, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class _MaskedOutput:
    """Puts masking wrappers on sys.stdout and sys.stderr inside the block.

    A class rather than a generator, and the last wrappers are reused while
    the streams stay the same (every try of a DAG.test() run): this runs once
    per try, on DAG.test()'s hot path.
    """

    def __init__(self) -> None:
        self._wrappers: dict[str, MaskingStream] = {}
        self._saved: list[tuple[TextIO, TextIO]] = []

    def _wrap(self, name: str, target: TextIO) -> MaskingStream:
        wrapper = self._wrappers.get(name)
        if wrapper is None or wrapper.target is not target:
            wrapper = self._wrappers[name] = MaskingStream(target)
        return wrapper

    def __enter__(self) -> None:
        out, err = sys.stdout, sys.stderr
        self._saved.append((out, err))
        # `type() is`: MaskingStream is an ABC (io's), and a first isinstance() of a stream
        # in a forked try copies ~15 pages of the zygote's for the ABC's caches.
        if type(out) is not MaskingStream:  # else already masked (a nested block)
            sys.stdout, sys.stderr = self._wrap("out", out), self._wrap("err", err)

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self._saved.pop()


#: `with masked_output:` redacts secrets in what is written to stdout and stderr.
masked_output = _MaskedOutput()
