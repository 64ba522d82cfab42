"""The UI's pages: server-rendered with Jinja2; small scripts in static/ make them live.

Every change a page offers goes through the REST API (with the session's
CSRF token), except the trigger form, whose text fields the server turns
into a conf of each param's type (services/params.py) so the rules live in
one place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from taskkit.api import auth
from taskkit.api.graph_layout import NODE_H, NODE_W, layout
from taskkit.api.state import ApiState, api_state
from taskkit.api.tokens import SESSION_TTL
from taskkit.errors import AuthError, TooManyLoginsError
from taskkit.model.keys import TaskInstanceKey
from taskkit.services import dags as dag_service
from taskkit.services import logs, params, runs, task_instances, users
from taskkit.services.health import check_health
from taskkit.services.pools import list_pools

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
#: `{{ {...} | query }}`: a query string, lists as repeated keys, empty values left out.
TEMPLATES.env.filters["query"] = lambda values: urlencode(
    {k: v for k, v in values.items() if v not in ("", None, [])}, doseq=True
)
router = APIRouter(include_in_schema=False)
DAGS_PER_PAGE = 50


def _render(request: Request, name: str, **values: Any) -> HTMLResponse:
    session = request.cookies.get(auth.SESSION_COOKIE, "")
    state: ApiState = request.app.state.taskkit
    values.setdefault("user", getattr(request.state, "user", None))
    values["csrf"] = state.signer.csrf_for(session) if session else ""
    values["now"] = state.clock()
    return TEMPLATES.TemplateResponse(request, name, values)


def error_page(request: Request, status: int, message: str) -> Response:
    """An error as a page (the API's errors stay JSON)."""
    response = _render(request, "error.html", status=status, message=message)
    response.status_code = status
    return response


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    """The login form (fields `username` and `password`)."""
    return _render(request, "login.html", next=_safe_next(next), error=None, user=None)


@router.post("/login")
def login(
    request: Request,
    username: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
    api: ApiState = Depends(api_state),
) -> Response:
    """Check the password, set the session cookie and go where the user was heading."""
    now = api.clock()
    try:
        user = users.authenticate(api.store, username, password, now=now)
    except AuthError as exc:
        page = _render(request, "login.html", next=_safe_next(next), error=str(exc), user=None)
        page.status_code = 429 if isinstance(exc, TooManyLoginsError) else 401
        return page
    session = api.signer.issue(user.username, "session", now, SESSION_TTL)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        auth.SESSION_COOKIE,
        session,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", dependencies=[auth.viewer])
def logout() -> Response:
    """End the session."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


@router.get("/", dependencies=[auth.viewer])
def dag_list(
    request: Request,
    search: str = "",
    tag: list[str] = Query([]),
    paused: str = "",
    page: int = Query(1, ge=1),
    api: ApiState = Depends(api_state),
) -> HTMLResponse:
    """The DAG list: search, tags, pause toggles, last and recent runs, import errors."""
    wanted = {"yes": True, "no": False}.get(paused)
    found = dag_service.list_dags(
        api.store,
        dag_service.DagFilter(search or None, tuple(tag), wanted),
        dag_service.Page(DAGS_PER_PAGE, (page - 1) * DAGS_PER_PAGE),
    )
    pages = max(1, -(-found.total_entries // DAGS_PER_PAGE))
    return _render(
        request,
        "dags.html",
        found=found,
        search=search,
        tags=tag,
        paused=paused,
        page=page,
        pages=pages,
        import_errors=dag_service.import_errors(api.store),
        next_run_text=dag_service.next_run_text,
        nav="dags",
    )


@router.get("/dags/{dag_id}", dependencies=[auth.viewer])
def dag_page(request: Request, dag_id: str, api: ApiState = Depends(api_state)) -> HTMLResponse:
    """A DAG: grid, graph, code and the trigger form from its params."""
    dag = api.store.get_dag(dag_id)
    live = api.versions.current(dag_id)
    return _render(
        request,
        "dag.html",
        dag=dag,
        graph=layout(
            live.spec.tasks,
            groups={t.task_id: t.task_group.group_id for t in live.tasks},
            labels={edge: info.label for edge, info in live.edge_info.items() if info.label},
        ),
        node_w=NODE_W,
        node_h=NODE_H,
        fields=params.param_fields(live.params),
        source=dag_service.read_source(dag.fileloc),
        nav="dags",
    )


@router.post("/ui/dags/{dag_id}/trigger", dependencies=[auth.op])
async def trigger_form(
    request: Request, dag_id: str, api: ApiState = Depends(api_state)
) -> JSONResponse:
    """The trigger form: text fields become conf values of each param's type (400 if not)."""
    form = await request.form()
    text = {k: v for k, v in form.items() if isinstance(v, str)}

    def act() -> str:
        fields = params.param_fields(api.versions.current(dag_id).params)
        conf = params.conf_from_form(
            fields, {f.name: text[f.name] for f in fields if f.name in text}
        )
        run = runs.trigger(
            api.store,
            api.config,
            dag_id,
            run_id=text.get("run_id") or None,
            conf=conf,
            now=api.clock(),
        )
        return run.run_id

    run_id = await run_in_threadpool(act)
    return JSONResponse({"dag_run_id": run_id}, status_code=200)


@router.get("/dags/{dag_id}/runs/{run_id}", dependencies=[auth.viewer])
def run_page(
    request: Request, dag_id: str, run_id: str, api: ApiState = Depends(api_state)
) -> HTMLResponse:
    """A run: its Gantt, conf and task instances."""
    dag = api.store.get_dag(dag_id)
    run = api.store.get_run(dag_id, run_id)
    return _render(
        request,
        "run.html",
        dag=dag,
        run=run,
        conf=json.dumps(run.conf, indent=2, sort_keys=True),
        nav="dags",
    )


@router.get("/dags/{dag_id}/runs/{run_id}/tasks/{task_id}", dependencies=[auth.viewer])
def task_page(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int | None = Query(None, ge=-1),
    api: ApiState = Depends(api_state),
) -> HTMLResponse:
    """A task instance: why it waits, its logs per try, XComs, rendered templates, actions.

    A mapped task without `map_index` shows its instances, each linking to its own panel.
    """
    ti = task_instances.get_task_instance(api.store, dag_id, run_id, task_id, map_index)
    dag = api.store.get_dag(dag_id)
    run = api.store.get_run(dag_id, run_id)
    if map_index is None and ti.map_index >= 0:
        instances = [
            t for t in api.store.list_task_instances(dag_id, run_id) if t.task_id == task_id
        ]
        return _render(
            request, "mapped.html", dag=dag, run=run, task_id=task_id, instances=instances
        )
    why = task_instances.explain(
        api.store, lambda: api.versions.get(run.dag_version_id).spec, dag, run, ti
    )
    tries = logs.tries_with_logs(api.logs_folder, dag_id, run_id, task_id, map_index=ti.map_index)
    rendered = api.store.get_rendered_fields(TaskInstanceKey(dag_id, run_id, task_id, ti.map_index))
    return _render(
        request,
        "task.html",
        written=_template_fields(api, run.dag_version_id, task_id),
        rendered=rendered,
        rendered_json=json.dumps({str(k): v for k, v in rendered.items()}),
        shown_try=max(rendered, default=None),
        dag=dag,
        run=run,
        ti=ti,
        why=why,
        tries=tries,
        quote=quote,
        nav="dags",
    )


def _template_fields(api: ApiState, version_id: int, task_id: str) -> dict[str, str]:
    """The task's templated fields as written in the DAG, shown until a try renders them."""
    try:
        operator = api.versions.get(version_id).get_task(task_id)
    except LookupError:
        return {}
    shown = {}
    for name in getattr(operator, "template_fields", ()):
        value = getattr(operator, name, None)
        if value not in (None, "", (), [], {}):
            text = value if isinstance(value, str) else repr(value)
            shown[name] = text if len(text) <= 4000 else text[:4000] + " …"
    return shown


@router.get("/pools", dependencies=[auth.viewer])
def pools_page(request: Request, api: ApiState = Depends(api_state)) -> HTMLResponse:
    """Pools: slots as running / queued / deferred / open, holders and waiters."""
    return _render(request, "pools.html", pools=list_pools(api.store), nav="pools")


@router.get("/health", dependencies=[auth.viewer])
def health_page(request: Request, api: ApiState = Depends(api_state)) -> HTMLResponse:
    """Scheduler, executor and metastore."""
    return _render(request, "health.html", health=check_health(api.store, api.config), nav="health")
