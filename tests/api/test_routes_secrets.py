"""/api/v2/variables and /api/v2/connections: admins only, nothing secret in plain text."""

from __future__ import annotations

import json

import pytest
from api_harness import ApiHome
from cryptography.fernet import Fernet

from taskkit.services import connections as conn_service
from taskkit.services.fernet import secret_box


def test_variables_crud_with_pagination(api: ApiHome) -> None:
    """An admin creates, pages through, patches and deletes variables in Airflow's shapes."""
    admin = api.token("admin")
    for key, value in [("a", "1"), ("b", {"x": [1]}), ("c", "3")]:
        made = api.client.post(
            "/api/v2/variables", json={"key": key, "value": value}, headers=admin
        )
        assert made.status_code == 201, made.text
    again = api.client.post("/api/v2/variables", json={"key": "a", "value": "2"}, headers=admin)
    assert again.status_code == 409
    page = api.client.get("/api/v2/variables?limit=2&offset=1", headers=admin).json()
    assert page["total_entries"] == 3
    assert [v["key"] for v in page["variables"]] == ["b", "c"]
    assert json.loads(page["variables"][0]["value"]) == {"x": [1]}
    patched = api.client.patch(
        "/api/v2/variables/a", json={"description": "first"}, headers=admin
    ).json()
    assert (patched["value"], patched["description"]) == ("1", "first")
    masked = api.client.patch(
        "/api/v2/variables/a?update_mask=value",
        json={"value": "9", "description": "x"},
        headers=admin,
    ).json()
    assert (masked["value"], masked["description"]) == ("9", "first")
    assert api.client.delete("/api/v2/variables/a", headers=admin).status_code == 204
    gone = api.client.get("/api/v2/variables/a", headers=admin)
    assert gone.status_code == 404
    assert "Variable 'a' does not exist" in gone.json()["detail"]


def test_secret_variable_values_are_redacted(api: ApiHome) -> None:
    """A secret-looking key's value, and secret keys inside a JSON value, read as ***."""
    admin = api.token("admin")
    api.client.post(
        "/api/v2/variables", json={"key": "db_password", "value": "hunter22"}, headers=admin
    )
    api.client.post(
        "/api/v2/variables",
        json={"key": "cfg", "value": {"user": "u", "api_key": "k-1234567"}},
        headers=admin,
    )
    body = api.client.get("/api/v2/variables", headers=admin).text
    assert "hunter22" not in body
    assert "k-1234567" not in body
    cfg = api.client.get("/api/v2/variables/cfg", headers=admin).json()
    assert json.loads(cfg["value"]) == {"user": "u", "api_key": "***"}


def test_connections_crud_never_returns_a_password(api: ApiHome) -> None:
    """Created, listed, patched: the password is *** everywhere and *** on PATCH keeps it."""
    admin = api.token("admin")
    body = {
        "connection_id": "wh",
        "conn_type": "postgres",
        "host": "db.example",
        "login": "etl",
        "password": "s3cr3t-pw",
        "port": 5432,
        "schema": "w",
        "extra": json.dumps({"sslmode": "require", "token": "t-1234567"}),
    }
    made = api.client.post("/api/v2/connections", json=body, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["password"] == "***"
    assert api.client.post("/api/v2/connections", json=body, headers=admin).status_code == 409
    listed = api.client.get("/api/v2/connections", headers=admin)
    assert listed.json()["total_entries"] == 1
    assert "s3cr3t-pw" not in listed.text
    assert "t-1234567" not in listed.text
    got = api.client.get("/api/v2/connections/wh", headers=admin).json()
    assert (got["schema"], got["port"], json.loads(got["extra"])["sslmode"]) == (
        "w",
        5432,
        "require",
    )
    patched = api.client.patch(
        "/api/v2/connections/wh", json={**got, "host": "db2.example"}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    stored = conn_service.get_connection(api.store, secret_box(api.config), "wh")
    assert (stored.host, stored.password) == ("db2.example", "s3cr3t-pw")
    assert json.loads(stored.extra or "")["token"] == "t-1234567"
    assert api.client.delete("/api/v2/connections/wh", headers=admin).status_code == 204
    assert api.client.get("/api/v2/connections/wh", headers=admin).status_code == 404


def test_bad_connection_bodies_are_refused(api: ApiHome) -> None:
    """A bad id, a bad port, an extra that is no JSON object, a renaming PATCH: 4xx + detail."""
    admin = api.token("admin")
    for body in (
        {"connection_id": "has space", "conn_type": "http"},
        {"connection_id": "c", "conn_type": "http", "port": 70000},
        {"connection_id": "c", "conn_type": "http", "extra": "[1, 2]"},
        {"connection_id": "c", "conn_type": "http", "surprise": 1},
    ):
        got = api.client.post("/api/v2/connections", json=body, headers=admin)
        assert got.status_code in (400, 422), body
        assert got.json()["detail"]
    api.client.post(
        "/api/v2/connections", json={"connection_id": "c", "conn_type": "http"}, headers=admin
    )
    renamed = api.client.patch(
        "/api/v2/connections/c", json={"connection_id": "d", "conn_type": "http"}, headers=admin
    )
    assert renamed.status_code == 400
    assert "cannot be renamed" in renamed.json()["detail"]


@pytest.mark.parametrize("role", ["viewer", "op"])
@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", "/api/v2/variables", None),
        ("GET", "/api/v2/variables/k", None),
        ("POST", "/api/v2/variables", {"key": "k", "value": "v"}),
        ("PATCH", "/api/v2/variables/k", {"value": "w"}),
        ("DELETE", "/api/v2/variables/k", None),
        ("GET", "/api/v2/connections", None),
        ("GET", "/api/v2/connections/c", None),
        ("POST", "/api/v2/connections", {"connection_id": "c", "conn_type": "http"}),
        ("PATCH", "/api/v2/connections/c", {"connection_id": "c", "conn_type": "ftp"}),
        ("DELETE", "/api/v2/connections/c", None),
    ],
)
def test_viewers_and_ops_are_refused(
    api: ApiHome, role: str, method: str, url: str, body: dict[str, object] | None
) -> None:
    """Only admins manage, or read, variables and connections: others get 403 and no change."""
    admin = api.token("admin")
    api.client.post("/api/v2/variables", json={"key": "k", "value": "v"}, headers=admin)
    api.client.post(
        "/api/v2/connections", json={"connection_id": "c", "conn_type": "http"}, headers=admin
    )
    got = api.client.request(method, url, json=body, headers=api.token(role))
    assert got.status_code == 403
    assert "needs admin" in got.json()["detail"]
    assert api.client.get("/api/v2/variables/k", headers=admin).json()["value"] == "v"
    assert api.client.get("/api/v2/connections/c", headers=admin).json()["conn_type"] == "http"


def test_without_a_login_or_with_a_forged_token_it_is_401(api: ApiHome) -> None:
    """No token, or a token not signed by the server, is 401."""
    assert api.client.get("/api/v2/variables").status_code == 401
    forged = {"Authorization": "Bearer eyJ1c2VyIjoiYWRtaW4ifQ.AAAA"}
    assert api.client.get("/api/v2/connections", headers=forged).status_code == 401
    posted = api.client.post("/api/v2/variables", json={"key": "k", "value": "v"}, headers=forged)
    assert posted.status_code == 401


def test_a_server_with_the_wrong_fernet_key_says_so(api: ApiHome) -> None:
    """Secrets stored under another key are a 500 whose detail says which key to restore."""
    admin = api.token("admin")
    api.client.post("/api/v2/variables", json={"key": "k", "value": "v1234"}, headers=admin)
    (api.home / "fernet_key").write_bytes(Fernet.generate_key())
    got = api.client.get("/api/v2/variables/k", headers=admin)
    assert got.status_code == 500
    assert "Cannot decrypt variable 'k'" in got.json()["detail"]
    assert "v1234" not in got.text
