"""Variables and connections in the metastore: encrypted at rest, imported all or nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from taskkit.authoring.connections import Connection
from taskkit.errors import (
    ConnectionNotFoundError,
    ConnectionSpecError,
    FernetKeyError,
    InvalidNameError,
    VariableError,
    VariableNotFoundError,
)
from taskkit.metastore import Metastore
from taskkit.services import connections, variables
from taskkit.services.fernet import SecretBox


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key()], "a test key")


def _raw(store: Metastore, sql: str) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_values_and_passwords_are_stored_encrypted(metastore: Metastore, box: SecretBox) -> None:
    """The database holds no plain variable value, password or extra; services read them back."""
    variables.set_variable(metastore, box, "db_password", "hunter22", "the DB's")
    conn = Connection(conn_id="wh", uri="postgres://etl:s3cr3t@db.example:5432/w?sslmode=require")
    connections.save_connection(metastore, box, conn)
    dump = repr(_raw(metastore, "SELECT * FROM variable")) + repr(
        _raw(metastore, "SELECT * FROM connection")
    )
    assert "hunter22" not in dump
    assert "s3cr3t" not in dump
    assert "sslmode" not in dump
    assert "db.example" in dump  # the host is not secret
    assert variables.get_variable(metastore, box, "db_password").value == "hunter22"
    assert connections.get_connection(metastore, box, "wh") == conn


def test_a_wrong_key_reads_nothing(metastore: Metastore, box: SecretBox) -> None:
    """Under another Fernet key, reading a variable or a connection is FernetKeyError."""
    variables.set_variable(metastore, box, "k", "v")
    connections.save_connection(
        metastore, box, Connection(conn_id="c", conn_type="http", password="p")
    )
    other = SecretBox([Fernet.generate_key()], "another key")
    with pytest.raises(FernetKeyError, match="variable 'k'"):
        variables.get_variable(metastore, other, "k")
    with pytest.raises(FernetKeyError, match="connection 'c'"):
        connections.list_connections(metastore, other)


def test_listing_pages_and_counts(metastore: Metastore, box: SecretBox) -> None:
    """list_* return one page by key and the total."""
    for i in range(5):
        variables.set_variable(metastore, box, f"k{i}", str(i))
    page, total = variables.list_variables(metastore, box, limit=2, offset=2)
    assert [v.key for v in page] == ["k2", "k3"]
    assert total == 5


def test_unknown_and_bad_keys(metastore: Metastore, box: SecretBox) -> None:
    """Unknown keys are not-found errors naming them; keys with odd characters are refused."""
    with pytest.raises(VariableNotFoundError, match="'nope'"):
        variables.delete_variable(metastore, "nope")
    with pytest.raises(ConnectionNotFoundError, match="'nope'"):
        connections.get_connection(metastore, box, "nope")
    with pytest.raises(InvalidNameError, match="Variable key"):
        variables.set_variable(metastore, box, "has space", "v")
    with pytest.raises(ConnectionSpecError, match="needs a conn_type"):
        connections.save_connection(metastore, box, Connection(conn_id="c", host="h"))
    with pytest.raises(ConnectionSpecError, match="extra must be a JSON object"):
        connections.save_connection(
            metastore, box, Connection(conn_id="c", conn_type="http", extra="[1]")
        )


def test_variables_round_trip_through_export_and_import(
    metastore: Metastore, box: SecretBox, tmp_path: Path
) -> None:
    """Export writes Airflow's format (0600); importing it elsewhere gives the same variables."""
    variables.set_variable(metastore, box, "plain", "text")
    variables.set_variable(metastore, box, "cfg", json.dumps({"a": [1, 2]}), "settings")
    out = tmp_path / "vars.json"
    assert variables.export_variables(metastore, box, out) == 2
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text()) == {
        "cfg": {"value": {"a": [1, 2]}, "description": "settings"},
        "plain": "text",
    }
    for key in ("plain", "cfg"):
        variables.delete_variable(metastore, key)
    assert variables.import_variables(metastore, box, out) == ["cfg", "plain"]
    cfg = variables.get_variable(metastore, box, "cfg")
    assert (json.loads(cfg.value), cfg.description) == ({"a": [1, 2]}, "settings")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ('["a", "b"]', "must hold a JSON object"),
        ('{"good": "1", "bad key": "2"}', "Variable key 'bad key' is not valid"),
    ],
)
def test_a_malformed_variables_file_imports_nothing(
    metastore: Metastore, box: SecretBox, tmp_path: Path, content: str, problem: str
) -> None:
    """A bad file is one error naming the file; not even its good entries are stored."""
    path = tmp_path / "vars.json"
    path.write_text(content)
    with pytest.raises(VariableError, match=problem) as caught:
        variables.import_variables(metastore, box, path)
    assert str(path) in str(caught.value)
    assert variables.list_variables(metastore, box) == ([], 0)


def test_connections_import_uris_and_objects_all_or_nothing(
    metastore: Metastore, box: SecretBox, tmp_path: Path
) -> None:
    """A file of URIs and field objects imports whole; one bad port imports none of it."""
    good = {
        "wh": "postgres://etl:pw@db:5432/w",
        "api": {"conn_type": "http", "host": "api.example", "extra": {"timeout": 5}},
    }
    path = tmp_path / "conns.json"
    path.write_text(json.dumps({**good, "broken": {"conn_type": "http", "port": "eighty"}}))
    with pytest.raises(ConnectionSpecError, match="'broken': port 'eighty' is not a number"):
        connections.import_connections(metastore, box, path)
    assert connections.list_connections(metastore, box)[1] == 0
    path.write_text(json.dumps(good))
    assert connections.import_connections(metastore, box, path) == ["wh", "api"]
    out = tmp_path / "out.json"
    connections.export_connections(metastore, box, out)
    exported = json.loads(out.read_text())
    assert exported["wh"]["password"] == "pw"
    assert exported["api"]["extra"] == {"timeout": 5}
