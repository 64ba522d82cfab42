"""Logins, tokens, sessions with CSRF, and roles: who may read and who may change."""

from __future__ import annotations

import datetime as dt

import pytest
from api_harness import PASSWORDS, ApiHome

from taskkit.api.tokens import ACCESS_TTL
from taskkit.services.users import MAX_FAILED_LOGINS

#: Every change the API offers, with a body a permitted user could send.
CHANGES = [
    ("PATCH", "/api/v2/dags/etl", {"is_paused": True}),
    ("POST", "/api/v2/dags/etl/dagRuns", {"dag_run_id": "by_viewer"}),
    ("POST", "/api/v2/dags/etl/clearTaskInstances", {"dag_run_id": "r"}),
    ("PATCH", "/api/v2/dags/etl/dagRuns/r", {"state": "success"}),
    ("PATCH", "/api/v2/dags/etl/dagRuns/r/taskInstances/extract", {"new_state": "failed"}),
    ("POST", "/api/v2/pools", {"name": "p2", "slots": 1}),
    ("PATCH", "/api/v2/pools/db", {"slots": 9}),
    ("DELETE", "/api/v2/pools/db", None),
    ("POST", "/api/v2/users", {"username": "x", "role": "admin", "password": "12345678"}),
    ("DELETE", "/api/v2/users/op", None),
]


def test_health_needs_no_login(api: ApiHome) -> None:
    """GET /api/v2/monitor/health answers without a login and reports the metastore."""
    got = api.client.get("/api/v2/monitor/health")
    assert got.status_code == 200
    body = got.json()
    assert body["metadatabase"]["status"] == "healthy"
    assert body["scheduler"]["status"] == "unhealthy"  # no scheduler runs in this test
    assert body["status"] == "unhealthy"
    assert body["celery_workers"] == []  # none reported (tests/services checks the rows)


def test_every_other_endpoint_needs_a_login(api: ApiHome) -> None:
    """Without a login the API answers 401 with a detail saying how to get a token."""
    for url in ("/api/v2/dags", "/api/v2/pools", "/api/v2/importErrors", "/ui/grid/etl"):
        got = api.client.get(url)
        assert got.status_code == 401, url
        assert "POST /auth/token" in got.json()["detail"]


def test_a_token_from_the_right_password_opens_the_api(api: ApiHome) -> None:
    """POST /auth/token with the right password gives a bearer token that the API accepts."""
    got = api.client.get("/api/v2/dags", headers=api.token("viewer"))
    assert got.status_code == 200
    assert got.json()["total_entries"] == 2


def test_a_wrong_password_is_refused(api: ApiHome) -> None:
    """A wrong password or an unknown user gets 401 and no token."""
    for username, password in (("viewer", "nope-nope"), ("ghost", "whatever1")):
        got = api.client.post("/auth/token", json={"username": username, "password": password})
        assert got.status_code == 401
        assert got.json()["detail"] == "Wrong username or password."
        assert "access_token" not in got.json()


def test_failed_logins_are_rate_limited(api: ApiHome) -> None:
    """After repeated wrong passwords even the right one is refused for a while (429)."""
    for _ in range(MAX_FAILED_LOGINS):
        bad = api.client.post("/auth/token", json={"username": "op", "password": "wrong-one"})
        assert bad.status_code == 401
    locked = api.client.post("/auth/token", json={"username": "op", "password": PASSWORDS["op"]})
    assert locked.status_code == 429
    assert "try again in" in locked.json()["detail"]


def test_expired_and_forged_tokens_are_refused(api: ApiHome) -> None:
    """An expired token, a token with a changed body and garbage all get 401."""
    signer = api.signer()
    old = signer.issue(
        "admin", "access", dt.datetime.now(dt.timezone.utc) - 2 * ACCESS_TTL, ACCESS_TTL
    )
    good = api.token("viewer")["Authorization"].removeprefix("Bearer ")
    body, mac = good.split(".")
    forged_body = signer.issue("admin", "access", dt.datetime.now(dt.timezone.utc), ACCESS_TTL)
    forged = f"{forged_body.split('.')[0]}.{mac}"  # admin's claims under viewer's signature
    cases = {old: "expired", forged: "signature", "abc": "Malformed", f"{body}.": "signature"}
    for token, why in cases.items():
        got = api.client.get("/api/v2/dags", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 401, token
        assert why in got.json()["detail"]


def test_a_session_token_is_not_a_bearer_token(api: ApiHome) -> None:
    """A token of another kind (a UI session) is refused as a bearer token."""
    session = api.signer().issue("admin", "session", dt.datetime.now(dt.timezone.utc), ACCESS_TTL)
    got = api.client.get("/api/v2/dags", headers={"Authorization": f"Bearer {session}"})
    assert got.status_code == 401


def test_a_deleted_users_token_stops_working(api: ApiHome) -> None:
    """Deleting a user ends their access at once, even with a token that has not expired."""
    headers = api.token("op")
    api.client.delete("/api/v2/users/op", headers=api.token("admin"))
    got = api.client.get("/api/v2/dags", headers=headers)
    assert got.status_code == 401
    assert "no longer exists" in got.json()["detail"]


@pytest.mark.parametrize(("method", "url", "body"), CHANGES)
def test_a_viewer_is_refused_every_change(
    api: ApiHome, method: str, url: str, body: dict[str, object] | None
) -> None:
    """A viewer gets 403 for every change, and nothing changes."""
    got = api.client.request(method, url, json=body, headers=api.token("viewer"))
    assert got.status_code == 403
    assert "needs op" in got.json()["detail"] or "needs admin" in got.json()["detail"]
    assert api.store.get_dag("etl").is_paused is False
    assert api.store.list_runs("etl") == []
    assert {p.name: p.slots for p in api.store.list_pools()} == {"db": 1, "default_pool": 128}
    assert len(api.store.list_users()) == 3


def test_an_op_may_not_manage_users(api: ApiHome) -> None:
    """Ops change DAGs and pools but managing users needs an admin."""
    headers = api.token("op")
    assert api.client.get("/api/v2/users", headers=headers).status_code == 403
    assert api.client.patch(
        "/api/v2/dags/etl", json={"is_paused": True}, headers=headers
    ).is_success
    admin = api.token("admin")
    listed = api.client.get("/api/v2/users", headers=admin).json()
    assert [u["username"] for u in listed["users"]] == ["admin", "op", "viewer"]


def test_the_ui_session_needs_a_csrf_token_to_change_anything(api: ApiHome) -> None:
    """With the login cookie, a change without the page's CSRF token is refused (403)."""
    form = {"username": "op", "password": PASSWORDS["op"]}
    login = api.client.post("/login", data=form, follow_redirects=False)
    assert login.status_code == 303
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert api.client.get("/api/v2/dags").status_code == 200  # reads need no CSRF token
    refused = api.client.patch("/api/v2/dags/etl", json={"is_paused": True})
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    wrong = api.client.patch(
        "/api/v2/dags/etl", json={"is_paused": True}, headers={"X-CSRF-Token": "guess"}
    )
    assert wrong.status_code == 403
    page = api.client.get("/").text
    csrf = page.split('name="csrf-token" content="')[1].split('"')[0]
    allowed = api.client.patch(
        "/api/v2/dags/etl", json={"is_paused": True}, headers={"X-CSRF-Token": csrf}
    )
    assert allowed.status_code == 200
    assert api.store.get_dag("etl").is_paused


def test_pages_send_a_visitor_without_a_login_to_the_login_form(api: ApiHome) -> None:
    """A page asked for without a login redirects to /login, keeping where the user was going."""
    got = api.client.get("/pools", follow_redirects=False)
    assert got.status_code == 303
    assert got.headers["location"] == "/login?next=/pools"
    form = api.client.get("/login").text
    assert 'name="username"' in form
    assert 'name="password"' in form


def test_a_wrong_password_on_the_login_form_says_so(api: ApiHome) -> None:
    """The login form shows the error and sets no session cookie."""
    got = api.client.post("/login", data={"username": "op", "password": "bad-bad-bad"})
    assert got.status_code == 401
    assert "Wrong username or password." in got.text
    assert "set-cookie" not in got.headers
