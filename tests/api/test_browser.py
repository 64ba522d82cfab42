"""The web UI in a real browser: logging in, the DAG list, pausing, triggering with conf,
watching a run finish live, a task's log and rendered templates, clearing and marking, a
mapped task in the grid, a 1-slot pool during a run, and a viewer refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import PASSWORDS, ApiHome, make_home
from browser_harness import (
    FAN_DAG,
    NARROW_DAG,
    SLOW_DAG,
    STEER_DAG,
    Shots,
    browser,
    chromium_or_skip,
    start_scheduler,
    start_server,
    stop,
)
from test_server import free_port

from taskkit.services.dags import sync_folder

pytestmark = [pytest.mark.browser, pytest.mark.slow]
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A home with DAGs and users, a running api-server and a Chromium, for this module."""
    sync_playwright = chromium_or_skip()
    tmp = tmp_path_factory.mktemp("ui")
    monkeypatch = pytest.MonkeyPatch()
    api = make_home(tmp, f"sqlite:///{tmp / 'home' / 'taskkit.db'}", monkeypatch)
    api.write_dag("slow.py", SLOW_DAG)
    api.write_dag("narrow.py", NARROW_DAG)
    api.write_dag("steer.py", STEER_DAG)
    api.write_dag("fan.py", FAN_DAG)
    api.write_dag("broken.py", "from taskkit import DAG\n\nDAG(  # unclosed\n")
    api.store.set_pool("single", 1, "one at a time")
    sync_folder(api.store, api.config)
    port = free_port()
    server = start_server(api.env(), port)
    browsers = browser(sync_playwright)
    chromium = next(browsers)
    try:
        yield {
            "api": api,
            "base": f"http://127.0.0.1:{port}",
            "chromium": chromium,
            "shots": Shots(tmp / "screenshots"),
        }
    finally:
        next(browsers, None)
        stop(server)
        api.client.close()
        api.store.dispose()
        monkeypatch.undo()


def logged_in(ui: dict[str, Any], role: str) -> Any:
    """A new browser page logged in as the user named after `role`."""
    context = ui["chromium"].new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(ui["base"] + "/")
    page.fill("input[name=username]", role)
    page.fill("input[name=password]", PASSWORDS[role])
    page.click("button[type=submit]")
    page.wait_for_url(ui["base"] + "/")
    return page


def test_login_and_the_dag_list(ui: dict[str, Any]) -> None:
    """A wrong password is refused on the form; after logging in the DAG list shows every DAG
    with its tags, the import error with file and line, and search narrows it."""
    context = ui["chromium"].new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto(ui["base"] + "/dags/etl")
    assert "/login" in page.url
    ui["shots"].take(page, "login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    assert "Wrong username or password." in page.inner_text("[data-testid=login-error]")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORDS["admin"])
    page.click("button[type=submit]")
    page.wait_for_url(ui["base"] + "/dags/etl")
    page.goto(ui["base"] + "/")
    rows = page.locator("[data-testid=dag-table] tbody tr")
    assert rows.count() == 6
    assert page.locator("tr[data-dag-id=slow] .tag").first.inner_text() == "demo"
    banner = page.inner_text("[data-testid=import-errors]")
    assert re.search(r"broken\.py:\d+", banner)
    ui["shots"].take(page, "dag-list", full_page=True)
    page.fill("input[name=search]", "narr")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector("tr[data-dag-id=narrow]")
    assert page.locator("[data-testid=dag-table] tbody tr").count() == 1
    context.close()


def test_pausing_from_the_dag_list(ui: dict[str, Any]) -> None:
    """The toggle pauses and unpauses the DAG in the metastore."""
    api: ApiHome = ui["api"]
    page = logged_in(ui, "op")
    toggle = page.locator("tr[data-dag-id=other] .switch")
    toggle.click()
    page.wait_for_selector("#toast:not([hidden])")
    page.wait_for_function(
        "() => !document.querySelector('.pause-toggle[data-dag-id=other]').disabled"
    )
    assert api.store.get_dag("other").is_paused
    toggle.click()
    page.wait_for_function(
        "() => document.querySelector('.pause-toggle[data-dag-id=other]').checked"
    )
    page.wait_for_function(
        "() => !document.querySelector('.pause-toggle[data-dag-id=other]').disabled"
    )
    assert not api.store.get_dag("other").is_paused
    page.context.close()


def test_triggering_with_conf_and_watching_the_run_finish_in_the_grid(ui: dict[str, Any]) -> None:
    """The trigger form refuses a param of the wrong type, triggers with a valid conf, and the
    grid shows the run go to success without the page reloading."""
    api: ApiHome = ui["api"]
    page = logged_in(ui, "op")
    page.goto(ui["base"] + "/dags/slow")
    page.evaluate("() => { window.__sameDocument = true; }")
    page.click("#open-trigger")
    page.fill("#trigger-form input[name=rows]", "lots")
    page.click("#trigger-form button[type=submit]")
    error = page.locator("[data-testid=trigger-error]")
    error.wait_for(state="visible")
    assert "Param 'rows' needs a value of type integer" in error.inner_text()
    page.fill("#trigger-form input[name=rows]", "0")  # an integer, but below the schema's minimum
    page.click("#trigger-form button[type=submit]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=trigger-error]')"
        ".textContent.includes('minimum')"
    )
    assert "DAG 'slow', param 'rows'" in error.inner_text()
    assert api.store.list_runs("slow") == []
    ui["shots"].take(page, "trigger-form")
    page.fill("#trigger-form input[name=rows]", "7")
    page.fill("#trigger-form input[name=run_id]", "from_the_ui")
    page.click("#trigger-form button[type=submit]")
    page.wait_for_selector(".run-bar[data-run-id=from_the_ui]")
    assert api.store.get_run("slow", "from_the_ui").conf == {"rows": 7, "label": "daily"}
    scheduler = start_scheduler(api.env())
    try:
        page.wait_for_selector(".cell.running, .cell.queued, .cell.success")
        page.wait_for_selector(".run-bar[data-run-id=from_the_ui][data-state=success]")
    finally:
        stop(scheduler)
    assert page.evaluate("() => window.__sameDocument === true")  # no reload happened
    assert page.locator("#grid a.cell.success[href*='/runs/from_the_ui/']").count() == 2
    ui["shots"].take(page, "dag-grid", full_page=True)
    page.click(".tabs button[data-tab=graph]")
    page.wait_for_selector("#graph .node.success")
    ui["shots"].take(page, "dag-graph", full_page=True)
    page.goto(ui["base"] + "/dags/slow/runs/from_the_ui")
    page.wait_for_selector("#gantt svg")
    assert '"rows": 7' in page.inner_text("[data-testid=run-conf]")
    ui["shots"].take(page, "run-gantt", full_page=True)
    page.context.close()


def test_a_tasks_log(ui: dict[str, Any]) -> None:
    """The task page shows the tail of the try's log, why it is in its state, its XComs and a
    download link for the whole log."""
    api: ApiHome = ui["api"]
    got = api.client.post(
        "/api/v2/dags/slow/dagRuns",
        json={"dag_run_id": "for_the_log", "conf": {"rows": 7}},
        headers=api.token("op"),
    )
    assert got.status_code == 200, got.text
    api.run_scheduler()
    page = logged_in(ui, "viewer")
    page.goto(ui["base"] + "/dags/slow/runs/for_the_log/tasks/extract")
    log = page.locator("[data-testid=log]")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=log]').textContent.includes('row 199')"
    )
    assert "extracting 7 rows for daily" in log.inner_text()
    assert "finished: success" in page.inner_text("[data-testid=wait-reason]")
    page.wait_for_selector("#xcoms code")
    assert "7" in page.inner_text("[data-testid=xcoms]")
    href = page.get_attribute("#log-download", "href")
    assert href is not None and href.endswith("/logs/1?full_content=true")
    ui["shots"].take(page, "task-log", full_page=True)
    page.context.close()


def _states(api: ApiHome, dag_id: str, run_id: str) -> dict[str, str]:
    return {t.task_id: t.state.value for t in api.store.list_task_instances(dag_id, run_id)}


def _clear_and_mark_the_whole_run(ui: dict[str, Any], page: Any) -> None:
    """The run page's buttons: mark the run failed, clear it, and a scheduler reruns it."""
    api: ApiHome = ui["api"]
    page.goto(ui["base"] + "/dags/steer/runs/steered")
    page.evaluate("() => { window.__sameDocument = true; }")
    rows = "#ti-table tbody tr"
    page.wait_for_selector(f"{rows} .badge.success")
    page.click(".run-action[data-action=failed]")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{rows} .badge')]"
        ".every((b) => b.classList.contains('failed'))"
    )
    assert set(_states(api, "steer", "steered").values()) == {"failed"}
    page.click(".run-action[data-action=clear]")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('{rows} .badge')]"
        ".every((b) => b.classList.contains('none'))"
    )
    assert set(_states(api, "steer", "steered").values()) == {"none"}
    scheduler = start_scheduler(api.env())
    try:
        page.wait_for_selector("[data-testid=run-state].success")
    finally:
        stop(scheduler)
    assert set(_states(api, "steer", "steered").values()) == {"success"}
    assert page.evaluate("() => window.__sameDocument === true")
    ui["shots"].take(page, "run-actions", full_page=True)


def test_clearing_and_marking_one_task_its_downstream_and_a_whole_run(
    ui: dict[str, Any],
) -> None:
    """The panel's buttons mark one task failed, clear it with its downstream, mark them
    success, and the run page's buttons mark and clear the whole run: each change shows on
    the open page without a reload, and a scheduler then reruns the cleared run to success."""
    api: ApiHome = ui["api"]
    got = api.client.post(
        "/api/v2/dags/steer/dagRuns", json={"dag_run_id": "steered"}, headers=api.token("op")
    )
    assert got.status_code == 200, got.text
    api.run_scheduler()
    page = logged_in(ui, "op")
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(ui["base"] + "/dags/steer/runs/steered/tasks/b")
    page.evaluate("() => { window.__sameDocument = true; }")
    assert "Rendered by try 1." in page.inner_text("[data-testid=templates-note]")
    assert "echo b of steered try 1" in page.inner_text("[data-testid=templates]")
    badge = "[data-testid=ti-state]"

    page.click(".ti-action[data-action=failed]")
    page.wait_for_selector(f"{badge}.failed")
    page.wait_for_function(  # the reason follows the state, as `taskkit tasks why` says it
        "() => document.querySelector('#why').textContent === 'finished: failed'"
    )
    assert _states(api, "steer", "steered") == {"a": "success", "b": "failed", "c": "success"}

    page.check("#with-downstream")
    page.click(".ti-action[data-action=clear]")
    page.wait_for_selector(f"{badge}.none")
    page.wait_for_function("() => document.querySelector('#ti-try').textContent === '1 of 2'")
    assert _states(api, "steer", "steered") == {"a": "success", "b": "none", "c": "none"}

    page.click(".ti-action[data-action=success]")
    page.wait_for_selector(f"{badge}.success")
    assert _states(api, "steer", "steered") == {"a": "success", "b": "success", "c": "success"}
    assert page.evaluate("() => window.__sameDocument === true")
    ui["shots"].take(page, "task-actions", full_page=True)
    _clear_and_mark_the_whole_run(ui, page)

    page.goto(ui["base"] + "/dags/steer/runs/steered/tasks/b")  # each try's own values
    templates = page.locator("[data-testid=templates]")
    assert "echo b of steered try 2" in templates.inner_text()
    page.click(".try[data-try='1']")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=templates-note]').textContent"
        " === 'Rendered by try 1.'"
    )
    assert "echo b of steered try 1" in templates.inner_text()
    page.context.close()


def test_a_mapped_task_in_the_grid_and_its_instances(ui: dict[str, Any]) -> None:
    """A mapped task is one grid row whose cell says "3 success, 1 failed" in the failed
    colour; clicking it lists the instances, and an instance opens its own panel and log."""
    api: ApiHome = ui["api"]
    got = api.client.post(
        "/api/v2/dags/fan/dagRuns", json={"dag_run_id": "fanned"}, headers=api.token("op")
    )
    assert got.status_code == 200, got.text
    api.run_scheduler()
    page = logged_in(ui, "viewer")
    page.goto(ui["base"] + "/dags/fan")
    cell = page.locator("#grid tr[data-task-id=check] a.cell.mapped")
    cell.wait_for()
    assert page.locator("#grid tr[data-task-id=check]").count() == 1
    assert cell.get_attribute("data-counts") == "3 success, 1 failed"
    assert "failed" in (cell.get_attribute("class") or "").split()
    assert cell.inner_text() == "4"
    ui["shots"].take(page, "mapped-grid", full_page=True)
    cell.click()
    page.wait_for_selector("[data-testid=mapped-instances]")
    assert page.locator("[data-testid=mapped-instances] tbody tr").count() == 4
    page.click("[data-testid=mapped-instances] tr[data-map-index='2'] a")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=log]').textContent.includes('checking 3')"
    )
    assert page.inner_text("[data-testid=map-index]") == "[2]"
    assert "three is bad" in page.inner_text("[data-testid=wait-reason]")
    page.context.close()


def test_the_pools_page_during_a_run_with_a_one_slot_pool(ui: dict[str, Any]) -> None:
    """While three tasks share a 1-slot pool, the page shows one holder, the others waiting
    with the scheduler's reason, and never more slots in use than the pool has."""
    api: ApiHome = ui["api"]
    page = logged_in(ui, "op")
    got = api.client.post(
        "/api/v2/dags/narrow/dagRuns", json={"dag_run_id": "pooled"}, headers=api.token("op")
    )
    assert got.status_code == 200
    page.goto(ui["base"] + "/pools")
    single = page.locator("section.pool[data-pool=single]")
    scheduler = start_scheduler(api.env())
    seen: list[str] = []
    try:
        single.locator("[data-testid=pool-holders] li .badge.running").wait_for()
        single.locator("[data-testid=pool-waiters] li .small").first.wait_for()
        numbers = single.locator("[data-testid=pool-numbers]").inner_text()
        seen.append(numbers)
        assert numbers.startswith("1 running · 0 queued · 0 deferred · 0 open of 1"), numbers
        waiting = single.locator("[data-testid=pool-waiters]").inner_text()
        assert "narrow / " in waiting
        assert "single" in waiting  # the scheduler's wait reason names the pool
        ui["shots"].take(page, "pools", full_page=True)
        for _ in range(20):  # sample while it drains: never more than the pool holds
            numbers = single.locator("[data-testid=pool-numbers]").inner_text()
            seen.append(numbers)
            running, queued = (int(n) for n in re.findall(r"(\d+) (?:running|queued)", numbers))
            assert running + queued <= 1, numbers
            page.wait_for_timeout(200)
        page.wait_for_function(
            "() => document.querySelector('section.pool[data-pool=single] "
            "[data-testid=pool-numbers]').textContent"
            ".startsWith('0 running · 0 queued · 0 deferred · 1 open of 1')",
            timeout=WAIT_MS,
        )
    finally:
        stop(scheduler)
    assert api.store.get_run("narrow", "pooled").state.value == "success"
    page.goto(ui["base"] + "/")
    page.wait_for_selector("tr[data-dag-id=narrow] [data-testid=last-run-state]")
    ui["shots"].take(page, "dag-list-after-runs", full_page=True)
    page.context.close()


def test_a_viewer_is_refused_a_change_in_the_ui(ui: dict[str, Any]) -> None:
    """A viewer's pause toggle and trigger are refused with the reason, and nothing changes."""
    api: ApiHome = ui["api"]
    page = logged_in(ui, "viewer")
    toggle = page.locator("tr[data-dag-id=other] .switch")
    toggle.click()
    toast = page.locator("#toast.bad")
    toast.wait_for(state="visible")
    assert "has role viewer" in toast.inner_text()
    page.wait_for_function(
        "() => document.querySelector('.pause-toggle[data-dag-id=other]').checked"
    )
    assert not api.store.get_dag("other").is_paused
    page.goto(ui["base"] + "/dags/other")
    page.click("#open-trigger")
    page.click("#trigger-form button[type=submit]")
    error = page.locator("[data-testid=trigger-error]")
    error.wait_for(state="visible")
    assert "needs op or above" in error.inner_text()
    assert api.store.list_runs("other") == []
    ui["shots"].take(page, "viewer-refused")
    page.context.close()


def test_the_health_page(ui: dict[str, Any]) -> None:
    """The health page shows the metastore, the scheduler and the executor."""
    page = logged_in(ui, "viewer")
    page.goto(ui["base"] + "/health")
    assert "healthy" in page.inner_text("[data-testid=health-metastore]")
    assert "local" in page.inner_text("[data-testid=health-executor]")
    ui["shots"].take(page, "health")
    page.context.close()


def test_screenshots_are_saved(ui: dict[str, Any]) -> None:
    """The tests leave their screenshots under their temp dir as artifacts.

    Self-contained: under xdist this module's other tests may run in another worker.
    """
    page = ui["chromium"].new_page()
    page.goto(ui["base"] + "/login")
    path: Path = ui["shots"].take(page, "login-page")
    page.close()
    assert path.parent == ui["shots"].folder
    assert path.read_bytes().startswith(b"\x89PNG")
    if ui["shots"].copy_to is not None:
        assert (ui["shots"].copy_to / path.name).read_bytes() == path.read_bytes()
