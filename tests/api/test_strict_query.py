"""A query parameter an endpoint does not take is a 400 that names it, never ignored."""

from __future__ import annotations

from api_harness import ApiHome


def test_a_misspelt_filter_is_refused_not_ignored(api_sqlite: ApiHome) -> None:
    """`?sate=failed` would otherwise list every run as if it had filtered them."""
    api = api_sqlite
    assert api.client.post(
        "/api/v2/dags/etl/dagRuns", json={"dag_run_id": "r1"}, headers=api.token("op")
    ).is_success
    got = api.get("/api/v2/dags/etl/dagRuns?sate=failed&limit=5")
    assert got.status_code == 400, got.text
    detail = got.json()["detail"]
    assert "Unknown query parameter 'sate'" in detail
    assert "GET /api/v2/dags/{dag_id}/dagRuns" in detail
    assert "it takes limit, offset, order_by, state." in detail
    assert api.get("/api/v2/dags/etl/dagRuns?state=failed&limit=5").json()["dag_runs"] == []
    assert len(api.get("/api/v2/dags/etl/dagRuns?state=queued").json()["dag_runs"]) == 1


def test_airflow_parameters_taskkit_lacks_are_named_too(api_sqlite: ApiHome) -> None:
    """Airflow's DAG-list `owners` is not taken here: the request says so instead of not
    filtering."""
    got = api_sqlite.get("/api/v2/dags?order_by=-dag_id&owners=data&paused=true")
    assert got.status_code == 400, got.text
    assert "Unknown query parameter 'owners' for GET /api/v2/dags" in got.json()["detail"]
    health = api_sqlite.client.get("/api/v2/monitor/health?verbose=1")
    assert health.status_code == 400
    assert "it takes no query parameters" in health.json()["detail"]


def test_pages_and_declared_parameters_are_unaffected(api_sqlite: ApiHome) -> None:
    """Declared parameters work as before; pages stay lenient (a link's tracking tag)."""
    api = api_sqlite
    got = api.get("/api/v2/dags?limit=5&offset=0&tags=misc&dag_id_pattern=oth")
    assert got.status_code == 200, got.text
    assert [d["dag_id"] for d in got.json()["dags"]] == ["other"]
    assert api.client.get("/login?utm_source=mail").status_code == 200
