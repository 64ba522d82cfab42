"""Turning taskkit's errors into JSON `{"detail": ...}` responses with the fitting status.

The UI's pages get a login redirect instead of a 401, and an error page
instead of JSON for anything else.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from taskkit.api.pages import error_page
from taskkit.errors import (
    AuthError,
    ConflictError,
    DagImportError,
    DuplicateRunError,
    FernetKeyError,
    ForbiddenError,
    MetastoreError,
    NotFoundError,
    TaskkitError,
    TooManyLoginsError,
)

#: Most specific first.
_STATUS: tuple[tuple[type[TaskkitError], int], ...] = (
    (TooManyLoginsError, 429),
    (AuthError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (DuplicateRunError, 409),
    (ConflictError, 409),
    (MetastoreError, 503),
    (FernetKeyError, 500),  # the server's key, not the request, is wrong
    (DagImportError, 400),
)


def status_of(exc: TaskkitError) -> int:
    """The HTTP status for one of taskkit's errors (400 for bad input by default)."""
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith(("/api/", "/auth/", "/ui/")) or path == "/openapi.json")


async def _taskkit_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TaskkitError)
    status = status_of(exc)
    if status == 401 and _is_page(request):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if _is_page(request):
        return error_page(request, status, str(exc))
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {error.get('msg', 'invalid')}")
    detail = "; ".join(problems) + ". Fix the request (see /docs for its schema) and send it again."
    return JSONResponse({"detail": detail}, status_code=422)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and _is_page(request):
        return error_page(request, 404, f"No page at {request.url.path}.")
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No endpoint {request.method} {request.url.path}; see /docs for the API."
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(TaskkitError, _taskkit_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
