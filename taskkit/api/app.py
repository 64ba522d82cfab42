"""The ASGI app: the REST API, the UI's pages and static files, and the API docs.

The docs page at /docs is Swagger UI served from the `swagger-ui-bundle`
package's files (no CDN), reading /openapi.json.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import swagger_ui_bundle
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from taskkit.api import (
    errors,
    live,
    pages,
    routes_assets,
    routes_connections,
    routes_dags,
    routes_misc,
    routes_pools,
    routes_runs,
    routes_tasks,
    routes_variables,
)
from taskkit.api.state import ApiState
from taskkit.api.strict_query import known_query_parameters
from taskkit.api.tokens import TokenSigner
from taskkit.config import Settings
from taskkit.metastore import Metastore
from taskkit.services.dag_versions import DagVersions, secret_key

STATIC = Path(__file__).parent / "static"


def create_app(
    config: Settings,
    store: Metastore,
    *,
    live_interval: float = 1.0,
    clock: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    """The app for one metastore; the caller owns `store` (and disposes of it)."""
    key = secret_key(config)
    app = FastAPI(
        title="taskkit",
        version="2",
        description="taskkit's REST API, in Apache Airflow 3's /api/v2 shapes.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.taskkit = ApiState(
        config=config,
        store=store,
        versions=DagVersions(store, key),
        signer=TokenSigner(key),
        live_interval=live_interval,
        **({"clock": clock} if clock is not None else {}),
    )
    errors.install(app)
    for router in (
        routes_misc.router,
        routes_dags.router,
        routes_runs.router,
        routes_tasks.router,
        routes_pools.router,
        routes_variables.router,
        routes_assets.router,
        routes_connections.router,
    ):
        app.include_router(router, dependencies=[Depends(known_query_parameters)])
    for router in (routes_runs.ui_router, live.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount(
        "/swagger-ui",
        StaticFiles(directory=Path(swagger_ui_bundle.swagger_ui_path)),
        name="swagger",
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="taskkit API",
            swagger_js_url="/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/swagger-ui/favicon-32x32.png",
        )

    return app
