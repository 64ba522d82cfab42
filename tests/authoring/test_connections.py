"""Connection, BaseHook and {{ conn.id.field }}: URIs, JSON, the environment and DAG.test()."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from taskkit import DAG, BaseHook, BashOperator, Connection, task
from taskkit.errors import ConnectionNotFoundError, ConnectionSpecError

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
URI = "postgres://etl:p%40ss%2Fword@db.example:5432/warehouse?sslmode=require&timeout=5"


def test_a_uri_gives_every_field_and_round_trips() -> None:
    """from_uri splits type, login, password (unquoted), host, port, schema and extra."""
    conn = Connection(conn_id="wh", uri=URI)
    assert (conn.conn_type, conn.host, conn.port, conn.schema) == (
        "postgres",
        "db.example",
        5432,
        "warehouse",
    )
    assert (conn.login, conn.password) == ("etl", "p@ss/word")
    assert conn.extra_dejson == {"sslmode": "require", "timeout": "5"}
    assert Connection.from_uri(conn.get_uri(), "wh") == conn


def test_uri_forms_airflow_accepts() -> None:
    """postgresql:// is postgres, dashes become underscores, a host may carry a protocol."""
    assert Connection.from_uri("postgresql://h", "x").conn_type == "postgres"
    assert Connection.from_uri("google-cloud-platform://", "x").conn_type == "google_cloud_platform"
    web = Connection.from_uri("http://https://api.example.com/v1", "x")
    assert web.host == "https://api.example.com"
    assert web.schema == "v1"
    assert Connection(conn_id="t", host="h", port=1).get_uri() == "//h:1"
    nested = Connection(conn_id="n", conn_type="http", extra={"headers": {"a": 1}})
    assert Connection.from_uri(nested.get_uri(), "n").extra_dejson == {"headers": {"a": 1}}


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("no-scheme-here", "not a connection URI"),
        ("postgres://u:p@host:99999/db", "bad URI"),
        ("a://b://c://d", "not a connection URI"),
    ],
)
def test_bad_uris_are_one_clear_error_without_the_password(uri: str, problem: str) -> None:
    """A malformed URI names the connection and the expected form; a password is never echoed."""
    with pytest.raises(ConnectionSpecError, match=problem) as caught:
        Connection.from_uri(uri, "bad")
    assert "'bad'" in str(caught.value)
    assert ":p@" not in str(caught.value)


def test_fields_are_checked() -> None:
    """An unknown field, a bad port, or uri= with fields is refused with the connection named."""
    with pytest.raises(ConnectionSpecError, match="unknown field"):
        Connection(conn_id="c", hostname="h")
    with pytest.raises(ConnectionSpecError, match="port 'abc' is not a number"):
        Connection(conn_id="c", port="abc")
    with pytest.raises(ConnectionSpecError, match="not both"):
        Connection(conn_id="c", uri="http://h", host="h")


def test_the_environment_holds_connections_as_uri_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    """TASKKIT_CONN_<ID> is read as a URI, or as JSON when it is an object."""
    monkeypatch.setenv("TASKKIT_CONN_WAREHOUSE", URI)
    monkeypatch.setenv(
        "TASKKIT_CONN_API",
        json.dumps({"conn_type": "http", "host": "api.example", "extra": {"token_ttl": 60}}),
    )
    assert Connection.get("warehouse").host == "db.example"
    api = BaseHook.get_connection("api")
    assert (api.conn_type, api.host, api.extra_dejson) == ("http", "api.example", {"token_ttl": 60})


def test_an_unknown_connection_is_one_clear_error() -> None:
    """Connection.get of an undefined id says how to define it."""
    with pytest.raises(ConnectionNotFoundError, match="taskkit connections add nope"):
        Connection.get("nope")


def test_tasks_and_templates_read_the_runs_connections() -> None:
    """Inside DAG.test(), BaseHook.get_connection and {{ conn.id.host }} read `connections=`."""
    with DAG("conns", start_date=START, schedule=None) as dag:

        @task
        def login() -> Any:
            conn = BaseHook.get_connection("wh")
            return [conn.login, conn.port]

        echo = BashOperator(
            task_id="echo", bash_command="echo {{ conn.wh.host }}/{{ conn.api.schema }}"
        )
        login() >> echo
    result = dag.test(
        connections={"wh": URI, "api": {"conn_type": "http", "host": "a", "schema": "v2"}}
    )
    assert result.state == "success"
    assert result.xcom("login") == ["etl", 5432]
    assert result.xcom("echo") == "db.example/v2"
