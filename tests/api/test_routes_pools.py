"""/api/v2/pools: the slot counts by state, and creating, changing and deleting pools."""

from __future__ import annotations

import pytest
from api_harness import ApiHome

from taskkit import validation
from taskkit.errors import InvalidNameError

SLOT_KEYS = {
    "occupied_slots",
    "running_slots",
    "queued_slots",
    "scheduled_slots",
    "deferred_slots",
    "open_slots",
}


def test_pools_have_every_slot_count(api: ApiHome) -> None:
    """Each pool has name, slots, description and every *_slots count of Airflow's shape."""
    body = api.get("/api/v2/pools").json()
    assert body["total_entries"] == 2
    db = body["pools"][0]
    assert db["name"] == "db"
    assert db["slots"] == 1
    assert set(db) >= SLOT_KEYS
    assert db["open_slots"] == 1


def test_create_update_and_delete_a_pool(api: ApiHome) -> None:
    """An op creates, resizes and deletes a pool; duplicates are 409, unknown ones 404."""
    op = api.token("op")
    made = api.client.post("/api/v2/pools", json={"name": "gpu", "slots": 2}, headers=op)
    assert made.status_code == 201
    assert made.json()["open_slots"] == 2
    again = api.client.post("/api/v2/pools", json={"name": "gpu", "slots": 2}, headers=op)
    assert again.status_code == 409
    changed = api.client.patch(
        "/api/v2/pools/gpu", json={"slots": 5, "description": "cards"}, headers=op
    )
    assert changed.json()["slots"] == 5
    assert api.get("/api/v2/pools/gpu").json()["description"] == "cards"
    assert api.client.delete("/api/v2/pools/gpu", headers=op).status_code == 204
    assert api.get("/api/v2/pools/gpu").status_code == 404
    assert api.client.patch("/api/v2/pools/gpu", json={"slots": 1}, headers=op).status_code == 404


def test_include_deferred_is_created_patched_and_shown(api: ApiHome) -> None:
    """include_deferred (Airflow's pool field) is set on POST, changed by PATCH, and kept
    when a PATCH leaves it out."""
    op = api.token("op")
    made = api.client.post(
        "/api/v2/pools", json={"name": "api", "slots": 2, "include_deferred": True}, headers=op
    )
    assert (made.status_code, made.json()["include_deferred"]) == (201, True)
    assert made.json()["deferred_slots"] == 0
    kept = api.client.patch("/api/v2/pools/api", json={"slots": 3}, headers=op).json()
    assert (kept["slots"], kept["include_deferred"]) == (3, True)
    off = api.client.patch("/api/v2/pools/api", json={"include_deferred": False}, headers=op)
    assert off.json()["include_deferred"] is False
    assert api.get("/api/v2/pools/db").json()["include_deferred"] is False


def test_default_pool_cannot_be_deleted(api: ApiHome) -> None:
    """Deleting default_pool is refused with a detail that says to resize it instead."""
    got = api.client.delete("/api/v2/pools/default_pool", headers=api.token("op"))
    assert got.status_code == 400
    assert "set its slots instead" in got.json()["detail"]


def test_pool_names_that_are_too_long_or_odd_and_bad_slots_are_refused(api: ApiHome) -> None:
    """Pool names over 250 characters or with odd characters are refused with the message of
    the one rule the CLI and the metastore use too (taskkit.validation); negative slots too."""
    op = api.token("op")
    for name in ("p" * 251, "has space", "semi;colon", "slash/y", "", "<b>"):
        got = api.client.post("/api/v2/pools", json={"name": name, "slots": 1}, headers=op)
        assert got.status_code == 400, name
        with pytest.raises(InvalidNameError) as rule:
            validation.pool_name(name)
        assert got.json()["detail"] == str(rule.value), name
    negative = api.client.post("/api/v2/pools", json={"name": "neg", "slots": -1}, headers=op)
    assert negative.status_code == 422
    assert "slots" in negative.json()["detail"]
    assert {p.name for p in api.store.list_pools()} == {"db", "default_pool"}
