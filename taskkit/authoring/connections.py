"""Connection and BaseHook: how a task reaches an external system, as Airflow's are.

`Connection.get(conn_id)` (and `BaseHook.get_connection`) looks in the
environment first (`TASKKIT_CONN_<CONN_ID>`, a URI or a JSON object, as
Airflow's `AIRFLOW_CONN_`), then in the source in force (the metastore in a
worker, DAG.test()'s `connections=`). The password and the secret-looking
values of `extra` are masked in the try's log from then on.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import attrs

from taskkit.authoring import masking
from taskkit.authoring.logging_mixin import LoggingMixin
from taskkit.authoring.secrets import current_source
from taskkit.errors import ConnectionNotFoundError, ConnectionSpecError

ENV_PREFIX = "TASKKIT_CONN_"
#: The query key of a URI whose extra is not a flat string mapping (Airflow's `__extra__`).
EXTRA_KEY = "__extra__"
#: The fields a connection has besides its id, in Airflow's order.
FIELDS = ("conn_type", "description", "host", "schema", "login", "password", "port", "extra")


@attrs.define(init=False)
class Connection:
    """A connection: type, host, schema, login, password, port and a JSON `extra`."""

    conn_id: str
    conn_type: str | None = None
    description: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    port: int | None = None
    extra: str | None = attrs.field(default=None, repr=False)

    def __init__(self, *, conn_id: str, uri: str | None = None, **fields: Any) -> None:
        if uri is not None:
            if fields:
                raise ConnectionSpecError(
                    f"Connection {conn_id!r}: give either uri= or the separate fields "
                    f"({', '.join(sorted(fields))}), not both."
                )
            parsed = Connection.from_uri(uri, conn_id)
            fields = {name: getattr(parsed, name) for name in FIELDS}
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise ConnectionSpecError(
                f"Connection {conn_id!r}: unknown field(s) {', '.join(sorted(unknown))}; "
                f"a connection has {', '.join(FIELDS)}."
            )
        extra = fields.get("extra")
        if extra is not None and not isinstance(extra, str):
            fields["extra"] = json.dumps(extra)  # a dict, as Airflow's JSON form allows
        fields["port"] = _port(conn_id, fields.get("port"))
        self.__attrs_init__(conn_id=conn_id, **fields)

    @classmethod
    def get(cls, conn_id: str) -> Connection:
        """The connection `conn_id`; ConnectionNotFoundError if it is defined nowhere."""
        raw = os.environ.get(ENV_PREFIX + conn_id.upper())
        if raw is not None:
            conn = cls.from_spec(conn_id, raw)
        else:
            source = current_source()
            found = source.get_connection(conn_id) if source is not None else None
            if found is None:
                raise ConnectionNotFoundError(conn_id)
            conn = found
        if conn.password:  # as typed, and as it appears in the connection's URI
            masking.mask_secret([conn.password, quote(conn.password, safe="")])
        return conn

    @classmethod
    def from_spec(cls, conn_id: str, spec: object) -> Connection:
        """From a Connection, a URI, a JSON object (text) or a dict of fields."""
        if isinstance(spec, Connection):
            return spec
        if isinstance(spec, dict):
            return cls(conn_id=conn_id, **spec)
        if isinstance(spec, str):
            text = spec.strip()
            return (
                cls.from_json(text, conn_id)
                if text.startswith("{")
                else cls.from_uri(text, conn_id)
            )
        raise ConnectionSpecError(
            f"Connection {conn_id!r}: expected a URI, a JSON object or a dict of fields, "
            f"got {type(spec).__name__}."
        )

    @classmethod
    def from_json(cls, value: str, conn_id: str) -> Connection:
        """From Airflow's JSON form: {"conn_type": ..., "host": ..., "extra": {...}}."""
        try:
            fields = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConnectionSpecError(f"Connection {conn_id!r} is not valid JSON: {exc}.") from None
        if not isinstance(fields, dict):
            raise ConnectionSpecError(f"Connection {conn_id!r}: the JSON must be an object.")
        return cls(conn_id=conn_id, **fields)

    @classmethod
    def from_uri(cls, uri: str, conn_id: str) -> Connection:
        """From a URI such as `postgres://user:pass@host:5432/db?sslmode=require`."""
        if uri.count("://") > 2 or "://" not in uri:
            raise ConnectionSpecError(
                f"Connection {conn_id!r}: {_hide_password(uri)!r} is not a connection URI; "
                "write it as TYPE://LOGIN:PASSWORD@HOST:PORT/SCHEMA?EXTRA=VALUE."
            )
        conn_type, _, rest = uri.partition("://")
        protocol = None
        if "://" in rest:  # a host with its own protocol: http://https://example.com
            protocol, _, rest = rest.partition("://")
        try:
            parts = urlsplit("//" + rest)
            port = parts.port
        except ValueError as exc:
            raise ConnectionSpecError(
                f"Connection {conn_id!r}: bad URI {_hide_password(uri)!r}: {exc}."
            ) from None
        host = unquote(parts.hostname or "") if parts.hostname else None
        if host and protocol:
            host = f"{protocol}://{host}"
        extra = None
        if parts.query:
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            extra = query[EXTRA_KEY] if EXTRA_KEY in query else json.dumps(query)
        return cls(
            conn_id=conn_id,
            conn_type=_normalize_type(conn_type),
            host=host,
            schema=unquote(parts.path[1:]) or None,
            login=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            port=port,
            extra=extra,
        )

    def get_uri(self) -> str:
        """The connection as a URI (the inverse of from_uri)."""
        uri = f"{self.conn_type.lower().replace('_', '-')}://" if self.conn_type else "//"
        host = self.host or ""
        if "://" in host:
            protocol, host = host.split("://", 1)
            uri += f"{protocol}://"
        auth = ""
        if self.login is not None:
            auth += quote(self.login, safe="")
        if self.password is not None:
            auth += ":" + quote(self.password, safe="")
        if auth:
            uri += auth + "@"
        uri += quote(host, safe="")
        if self.port:
            uri += f":{self.port}"
        if self.schema:
            uri += "/" + quote(self.schema, safe="")
        if self.extra:
            extra = self.extra_dejson
            flat = all(isinstance(v, str) for v in extra.values())
            query = urlencode(extra) if flat and extra else urlencode({EXTRA_KEY: self.extra})
            uri += ("?" if self.schema else "/?") + query
        return uri

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """`extra` as a dict ({} when empty or not a JSON object); its secrets get masked."""
        if not self.extra:
            return {}
        try:
            value = json.loads(self.extra)
        except json.JSONDecodeError:
            return {}
        if not isinstance(value, dict):
            return {}
        masking.mask_secret(value, name="extra")
        return value

    def to_dict(self) -> dict[str, Any]:
        """Every field but the id, extra decoded (the JSON form, for export and the API)."""
        fields: dict[str, Any] = {name: getattr(self, name) for name in FIELDS}
        if self.extra:
            with contextlib.suppress(json.JSONDecodeError):  # else kept as the text it is
                fields["extra"] = json.loads(self.extra)
        return fields


class BaseHook(LoggingMixin):
    """The base of hooks; taskkit ships none, but `get_connection` works as in Airflow."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        """The connection `conn_id` (see Connection.get)."""
        return Connection.get(conn_id)


def _normalize_type(conn_type: str) -> str:
    if conn_type == "postgresql":
        return "postgres"
    return conn_type.replace("-", "_")


def _port(conn_id: str, port: object) -> int | None:
    if port is None or port == "":
        return None
    try:
        value = int(str(port)) if isinstance(port, (int, str)) else None
    except ValueError:
        value = None
    if value is None:
        raise ConnectionSpecError(
            f"Connection {conn_id!r}: port {port!r} is not a number; use 1-65535."
        )
    if not 0 < value < 65536 or isinstance(port, bool):
        raise ConnectionSpecError(f"Connection {conn_id!r}: port {port!r} is out of range 1-65535.")
    return value


def _hide_password(uri: str) -> str:
    """A URI with its password, if any, replaced by *** (for error messages)."""
    scheme, sep, rest = uri.partition("://")
    auth, at, host = rest.rpartition("@")
    if not at or ":" not in auth:
        return uri
    return f"{scheme}{sep}{auth.split(':', 1)[0]}:***@{host}"


class ConnectionAccessor:
    """The context's `conn`: `{{ conn.my_id.host }}`, `{{ conn.get('my_id').login }}`."""

    def __getattr__(self, conn_id: str) -> Connection:
        if conn_id.startswith("__"):  # copy, pickle and jinja probe dunders: not connections
            raise AttributeError(conn_id)
        return Connection.get(conn_id)

    def get(self, conn_id: str, default: Connection | None = None) -> Connection | None:
        """The connection, or `default` if it is not defined."""
        try:
            return Connection.get(conn_id)
        except ConnectionNotFoundError:
            return default


CONN = ConnectionAccessor()
