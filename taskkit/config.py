"""Settings resolved once at the edge: defaults, then taskkit.toml, then env vars, then flags.

Nothing here runs at import time and nothing is global: `load_settings()`
reads the file and the environment it is given and returns a frozen
`Settings`, which callers pass down. Every value remembers where it came
from, so `taskkit config list` can say why a setting has the value it has.
"""

from __future__ import annotations

import base64
import binascii
import os
import sys
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Literal, cast

import attrs

from taskkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

CONFIG_FILE_NAME = "taskkit.toml"
ENV_PREFIX = "TASKKIT__"
HOME_ENV = "TASKKIT_HOME"

Executor = Literal["local", "sequential", "celery"]
EXECUTORS: tuple[Executor, ...] = ("local", "sequential", "celery")


@attrs.frozen
class CoreSettings:
    """The [core] section: where DAGs live and how much runs at once."""

    dags_folder: Path
    executor: Executor = "local"
    parallelism: int = 32
    max_active_tasks_per_dag: int = 16
    max_active_runs_per_dag: int = 16
    default_pool_task_slot_count: int = 128
    dags_are_paused_at_creation: bool = False
    #: The most instances one mapped task may expand to; more fails the task.
    max_map_length: int = 1024
    secret_key: str | None = attrs.field(default=None, repr=False)
    #: Where the HMAC key lives when core.secret_key is not set (default $TASKKIT_HOME/secret_key).
    secret_key_file: Path | None = None
    #: Pickle XCom values JSON cannot hold (signed with the secret key); off by default.
    enable_xcom_pickling: bool = False
    #: The Fernet key(s) encrypting variables and connection secrets (comma-separated: the
    #: first encrypts, each decrypts); None means the file $TASKKIT_HOME/fernet_key.
    fernet_key: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class DatabaseSettings:
    """The [database] section: the metastore's SQLAlchemy URL."""

    sql_alchemy_conn: str


@attrs.frozen
class SchedulerSettings:
    """The [scheduler] section: intervals and timeouts, in seconds."""

    dag_dir_list_interval: float = 30.0
    parsing_timeout: float = 30.0
    heartbeat_sec: float = 2.0
    task_heartbeat_timeout: float = 10.0
    #: PostgreSQL with several schedulers: one whose heartbeat is older than this is declared
    #: dead by the others, which reset its tries and adopt its runs (Airflow's name).
    scheduler_health_check_threshold: float = 10.0
    #: How many DAG files are parsed at once, each in its own child process.
    parsing_processes: int = 2
    #: True when `taskkit dag-processor` runs separately: the scheduler then starts none.
    standalone_dag_processor: bool = False
    #: True when `taskkit triggerer` runs separately: the scheduler then starts none.
    standalone_triggerer: bool = False


@attrs.frozen
class LoggingSettings:
    """The [logging] section: limits on task logs."""

    #: A try's log keeps its first and last half of this many bytes; the middle is cut.
    max_task_log_bytes: int = 100 * 1024 * 1024


@attrs.frozen
class Autoscale:
    """`celery.worker_autoscale`: a worker's pool grows up to `max` and shrinks to `min`."""

    max: int
    min: int

    def __str__(self) -> str:
        return f"{self.max},{self.min}"


@attrs.frozen
class CelerySettings:
    """The [celery] section: the broker, the channel tries report on, and worker defaults.

    `result_backend` None means "the broker": workers report try events on a
    queue of that broker (see docs/distributed.md).
    """

    broker_url: str = "redis://127.0.0.1:6379/0"
    result_backend: str | None = None
    worker_concurrency: int = 16
    default_queue: str = "default"
    #: When set, Celery's autoscaler sizes the pool and worker_concurrency does not apply.
    worker_autoscale: Autoscale | None = None
    #: "user:password[,user:password...]" for `taskkit celery flower`; None: no login.
    flower_basic_auth: str | None = attrs.field(default=None, repr=False)
    #: How long a stopping worker lets its running tries finish before it fails them.
    worker_shutdown_timeout: float = 60.0
    #: At most this many tries the scheduler queued together travel in one broker message.
    tries_per_message: int = 1

    @property
    def events_url(self) -> str:
        """Where workers send try events: the result backend, else the broker."""
        return self.result_backend or self.broker_url


@attrs.frozen
class LocalSettings:
    """The [local] section: opt-in process reuse for trusted, short tasks.

    It holds wherever tries run through a zygote: the Local executor's, and
    each Celery worker's.

    `reuse_processes` 0 (the default) runs every try in a fresh forked
    process. N > 0 runs tries in long-lived worker processes, each replaced
    after a crash, after N tries, or once its memory passes
    `reuse_max_rss_mb`; see docs/performance.md for what that gives up.
    Workers the pool grew by for a burst exit after `reuse_idle_timeout`
    seconds without a try, so an idle pool shrinks back to its starting size.
    """

    reuse_processes: int = 0
    reuse_max_rss_mb: int = 1024
    reuse_idle_timeout: float = 60.0


@attrs.frozen
class Settings:
    """Every setting, typed and validated, plus where each value came from.

    `sources` maps "section.key" to "default", "file <path>", "env <VAR>" or
    "flag"; read it through `describe()` or `source_of()`.
    """

    home: Path
    core: CoreSettings
    database: DatabaseSettings
    scheduler: SchedulerSettings
    celery: CelerySettings = attrs.Factory(CelerySettings)
    logging: LoggingSettings = attrs.Factory(LoggingSettings)
    local: LocalSettings = attrs.Factory(LocalSettings)
    sources: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    def get(self, name: str) -> object:
        """Return the value of a setting by its dotted name, e.g. "core.parallelism"."""
        if name not in _SPECS:
            raise ConfigError(f"Unknown setting {name!r}. Known settings: {', '.join(_SPECS)}.")
        section, key = name.split(".")
        return getattr(getattr(self, section), key)

    def source_of(self, name: str) -> str:
        """Where the setting's value came from: default, file <path>, env <VAR> or flag."""
        return self.sources.get(name, "default")

    def describe(self) -> list[tuple[str, str, str]]:
        """Rows of (name, value, source) for every setting; secrets are masked."""
        rows = []
        moot = {name: by for name, by in _OVERRIDDEN_BY if self.get(by) is not None}
        for name, spec in _SPECS.items():
            value = self.get(name)
            shown = "<hidden>" if spec.secret and value is not None else shown_value(value)
            source = self.source_of(name)
            if name in moot:
                source += f" (not used: {moot[name]} is set and overrides it)"
            rows.append((name, shown, source))
        return rows


def shown_value(value: object) -> str:
    """A setting's value as `config list` prints it: "" for unset, "true"/"false" for bools."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --- parsing and validation of one raw value -------------------------------------------

Parser = Callable[[object, "_Origin"], object]


@attrs.frozen
class _Origin:
    """Where a raw value came from; relative paths resolve against `base`."""

    source: str
    base: Path


def _parse_int(raw: object, origin: _Origin) -> int:
    if isinstance(raw, bool):
        raise ValueError("expected an integer, got a boolean")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str):
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("expected an integer") from None
    else:
        raise ValueError(f"expected an integer, got {type(raw).__name__}")
    if not -(2**63) <= value < 2**63:
        raise ValueError("must fit in a 64-bit integer")
    return value


def _positive_int(raw: object, origin: _Origin) -> int:
    value = _parse_int(raw, origin)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def _non_negative_int(raw: object, origin: _Origin) -> int:
    value = _parse_int(raw, origin)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive_float(raw: object, origin: _Origin) -> float:
    if isinstance(raw, bool):
        raise ValueError("expected a number of seconds, got a boolean")
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("expected a number of seconds") from None
    else:
        raise ValueError(f"expected a number of seconds, got {type(raw).__name__}")
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a finite number greater than 0")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(raw: object, origin: _Origin) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError("expected true or false")


def _parse_executor(raw: object, origin: _Origin) -> Executor:
    if isinstance(raw, str) and raw.strip().lower() in EXECUTORS:
        return cast(Executor, raw.strip().lower())
    raise ValueError(f"expected one of {', '.join(EXECUTORS)}")


def _parse_path(raw: object, origin: _Origin) -> Path:
    if not isinstance(raw, (str, os.PathLike)) or not str(raw).strip():
        raise ValueError("expected a non-empty path")
    path = Path(str(raw).strip()).expanduser()
    return path if path.is_absolute() else origin.base / path


def _parse_optional_path(raw: object, origin: _Origin) -> Path | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _parse_path(raw, origin)


def _parse_log_limit(raw: object, origin: _Origin) -> int:
    value = _parse_int(raw, origin)
    if value < 4096:
        raise ValueError("must be at least 4096 bytes")
    return value


def _parse_url(raw: object, origin: _Origin) -> str:
    if not isinstance(raw, str) or "://" not in raw:
        raise ValueError("expected a SQLAlchemy URL such as sqlite:////path/taskkit.db")
    scheme = raw.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme not in {"sqlite", "postgresql", "postgres"}:
        raise ValueError("only sqlite:// and postgresql:// URLs are supported")
    return raw.strip()


_BROKER_SCHEMES = {"redis", "rediss", "amqp", "amqps", "pyamqp"}


def _parse_broker_url(raw: object, origin: _Origin) -> str:
    if not isinstance(raw, str) or raw.split("://", 1)[0].lower() not in _BROKER_SCHEMES:
        raise ValueError(
            "expected a Redis or RabbitMQ URL such as redis://127.0.0.1:6379/0 "
            "or amqp://guest:guest@127.0.0.1:5672//"
        )
    return raw.strip()


def _parse_optional_broker_url(raw: object, origin: _Origin) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    return _parse_broker_url(raw, origin)


def _parse_queue(raw: object, origin: _Origin) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("expected a non-empty queue name")
    return raw.strip()


def _parse_autoscale(raw: object, origin: _Origin) -> Autoscale | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    text = raw.strip() if isinstance(raw, str) else None
    parts = text.split(",") if text else []
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise ValueError('expected "MAX,MIN" process counts, such as "16,4"')
    high, low = (int(p) for p in parts)
    if high < 1 or low > high:
        raise ValueError("MAX must be at least 1 and MIN between 0 and MAX")
    return Autoscale(high, low)


def _parse_basic_auth(raw: object, origin: _Origin) -> str | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        raise ValueError("expected user:password pairs separated by commas")
    for pair in raw.split(","):
        user, sep, password = pair.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError("expected user:password pairs separated by commas")
    return raw.strip()


def _parse_secret(raw: object, origin: _Origin) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError("expected a string")
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters long")
    return raw


def _parse_fernet_key(raw: object, origin: _Origin) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError("expected a string")
    for key in raw.split(","):
        try:
            decoded = base64.urlsafe_b64decode(key.strip().encode())
        except (binascii.Error, ValueError):
            decoded = b""
        if len(decoded) != 32:
            raise ValueError(
                "each key must be 32 url-safe base64-encoded bytes; make one with "
                '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key())"`'
            )
    return raw


@attrs.frozen
class _Spec:
    """How to parse one setting and what its default is (given TASKKIT_HOME)."""

    parse: Parser
    default: Callable[[Path], object]
    secret: bool = False


_SPECS: dict[str, _Spec] = {
    "core.dags_folder": _Spec(_parse_path, lambda home: home / "dags"),
    "core.executor": _Spec(_parse_executor, lambda home: "local"),
    "core.parallelism": _Spec(_positive_int, lambda home: 32),
    "core.max_active_tasks_per_dag": _Spec(_positive_int, lambda home: 16),
    "core.max_active_runs_per_dag": _Spec(_positive_int, lambda home: 16),
    "core.default_pool_task_slot_count": _Spec(_non_negative_int, lambda home: 128),
    "core.dags_are_paused_at_creation": _Spec(_parse_bool, lambda home: False),
    "core.max_map_length": _Spec(_positive_int, lambda home: 1024),
    "core.secret_key": _Spec(_parse_secret, lambda home: None, secret=True),
    "core.secret_key_file": _Spec(_parse_optional_path, lambda home: None),
    "core.enable_xcom_pickling": _Spec(_parse_bool, lambda home: False),
    "core.fernet_key": _Spec(_parse_fernet_key, lambda home: None, secret=True),
    "database.sql_alchemy_conn": _Spec(_parse_url, lambda home: f"sqlite:///{home / 'taskkit.db'}"),
    "scheduler.dag_dir_list_interval": _Spec(_positive_float, lambda home: 30.0),
    "scheduler.parsing_timeout": _Spec(_positive_float, lambda home: 30.0),
    "scheduler.heartbeat_sec": _Spec(_positive_float, lambda home: 2.0),
    "scheduler.task_heartbeat_timeout": _Spec(_positive_float, lambda home: 10.0),
    "scheduler.scheduler_health_check_threshold": _Spec(_positive_float, lambda home: 10.0),
    "scheduler.parsing_processes": _Spec(_positive_int, lambda home: 2),
    "scheduler.standalone_dag_processor": _Spec(_parse_bool, lambda home: False),
    "scheduler.standalone_triggerer": _Spec(_parse_bool, lambda home: False),
    "logging.max_task_log_bytes": _Spec(_parse_log_limit, lambda home: 100 * 1024 * 1024),
    "celery.broker_url": _Spec(_parse_broker_url, lambda home: "redis://127.0.0.1:6379/0"),
    "celery.result_backend": _Spec(_parse_optional_broker_url, lambda home: None),
    "celery.worker_concurrency": _Spec(_positive_int, lambda home: 16),
    "celery.default_queue": _Spec(_parse_queue, lambda home: "default"),
    "celery.worker_autoscale": _Spec(_parse_autoscale, lambda home: None),
    "celery.flower_basic_auth": _Spec(_parse_basic_auth, lambda home: None, secret=True),
    "celery.worker_shutdown_timeout": _Spec(_positive_float, lambda home: 60.0),
    "celery.tries_per_message": _Spec(_positive_int, lambda home: 1),
    "local.reuse_processes": _Spec(_non_negative_int, lambda home: 0),
    "local.reuse_max_rss_mb": _Spec(_positive_int, lambda home: 1024),
    "local.reuse_idle_timeout": _Spec(_positive_float, lambda home: 60.0),
}


def setting_names() -> tuple[str, ...]:
    """Every setting's dotted name ("core.parallelism"), in `config list`'s order."""
    return tuple(_SPECS)


def setting_is_secret(name: str) -> bool:
    """Whether the setting `name` is a secret, never shown or handed to DAG code."""
    return _SPECS[name].secret


#: Settings that make another one moot when they are set: (moot, by).
_OVERRIDDEN_BY = (("celery.worker_concurrency", "celery.worker_autoscale"),)


# --- gathering raw values from each layer -----------------------------------------------


def _home_from(environ: Mapping[str, str]) -> Path:
    raw = environ.get(HOME_ENV, "").strip()
    return Path(raw).expanduser().absolute() if raw else Path("~/taskkit").expanduser()


def _read_file(path: Path) -> dict[str, tuple[object, _Origin]]:
    """Raw values from taskkit.toml; a missing file is fine, a malformed one is not."""
    try:
        with path.open("rb") as handle:
            document = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot parse config file {path}: {exc}.") from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc}.") from exc
    origin = _Origin(f"file {path}", path.parent)
    values: dict[str, tuple[object, _Origin]] = {}
    for section, table in document.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"Unknown top-level key {section!r} in {path}: settings belong in sections "
                f"such as [core]. Known settings: {', '.join(_SPECS)}."
            )
        for key, raw in table.items():
            name = f"{section}.{key}"
            if name not in _SPECS:
                raise ConfigError(
                    f"Unknown setting {name!r} in {path}. Known settings: {', '.join(_SPECS)}."
                )
            values[name] = (raw, origin)
    return values


def _read_env(environ: Mapping[str, str]) -> dict[str, tuple[object, _Origin]]:
    """Raw values from TASKKIT__SECTION__KEY variables; unknown ones are an error."""
    values: dict[str, tuple[object, _Origin]] = {}
    for var, raw in sorted(environ.items()):
        if not var.upper().startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX) :].split("__")
        name = ".".join(parts).lower()
        if len(parts) != 2 or name not in _SPECS:
            raise ConfigError(
                f"Unknown setting in environment variable {var}. Known variables: "
                + ", ".join(_env_var(n) for n in _SPECS)
                + "."
            )
        values[name] = (raw, _Origin(f"env {var}", Path.cwd()))
    return values


def _env_var(name: str) -> str:
    return ENV_PREFIX + name.upper().replace(".", "__")


def _read_overrides(overrides: Mapping[str, object]) -> dict[str, tuple[object, _Origin]]:
    """Raw values from command-line flags; None means the flag was not given."""
    values: dict[str, tuple[object, _Origin]] = {}
    for name, raw in overrides.items():
        if name not in _SPECS:
            raise ConfigError(f"Unknown setting {name!r}. Known settings: {', '.join(_SPECS)}.")
        if raw is not None:
            values[name] = (raw, _Origin("flag", Path.cwd()))
    return values


def load_settings(
    overrides: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Resolve every setting: defaults < $TASKKIT_HOME/taskkit.toml < env vars < overrides.

    `environ` defaults to `os.environ`; `overrides` maps dotted names
    ("core.parallelism") to flag values, where None means "not given".
    Raises ConfigError naming the setting, the bad value and its source.
    """
    env = os.environ if environ is None else environ
    home = _home_from(env)
    layers = [_read_file(home / CONFIG_FILE_NAME), _read_env(env), _read_overrides(overrides or {})]
    parsed: dict[str, object] = {}
    sources: dict[str, str] = {}
    for name, spec in _SPECS.items():
        raw: object = spec.default(home)
        origin = _Origin("default", home)
        for layer in layers:
            if name in layer:
                raw, origin = layer[name]
        try:
            parsed[name] = spec.parse(raw, origin)
        except ValueError as exc:
            shown = "<hidden>" if spec.secret else repr(raw)
            message = f"Bad setting {name} = {shown} (from {origin.source}): {exc}."
            raise ConfigError(message) from exc
        sources[name] = origin.source
    return Settings(
        home=home,
        core=CoreSettings(**_section(parsed, "core")),
        database=DatabaseSettings(**_section(parsed, "database")),
        scheduler=SchedulerSettings(**_section(parsed, "scheduler")),
        celery=CelerySettings(**_section(parsed, "celery")),
        logging=LoggingSettings(**_section(parsed, "logging")),
        local=LocalSettings(**_section(parsed, "local")),
        sources=sources,
    )


#: Settings whose value must never reach a try (or a DAG file being parsed) through the
#: environment it inherits: see docs/security.md.
SECRET_ENV_VARS: tuple[str, ...] = (ENV_PREFIX + "CORE__SECRET_KEY",)


def remove_secrets_from_environment(environ: MutableMapping[str, str] | None = None) -> None:
    """Drop secret settings from this process's environment once they are loaded.

    Tries, DAG-file parsers and worker processes inherit the environment of
    the process that starts them; a key they can read is a key they can use
    to forge signed payloads. Call after `load_settings`, before starting any.
    """
    env = os.environ if environ is None else environ
    for name in list(env):
        if name.upper() in SECRET_ENV_VARS:
            del env[name]


def _section(parsed: Mapping[str, object], section: str) -> dict[str, Any]:
    prefix = section + "."
    return {name[len(prefix) :]: value for name, value in parsed.items() if name.startswith(prefix)}
