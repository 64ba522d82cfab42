"""Health and version (no login), tokens, and users (admins only)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import version as package_version

from fastapi import APIRouter, Depends, Request, Response

from taskkit.api import auth
from taskkit.api.schemas import (
    HealthInfo,
    HealthResponse,
    TokenBody,
    TokenResponse,
    UserBody,
    UserCollectionResponse,
    UserResponse,
    VersionInfo,
)
from taskkit.api.state import ApiState, api_state
from taskkit.api.tokens import ACCESS_TTL
from taskkit.services import users
from taskkit.services.health import check_health

router = APIRouter()


@router.get("/api/v2/monitor/health", tags=["Monitor"])
def health(api: ApiState = Depends(api_state)) -> HealthResponse:
    """The metastore and the scheduler; needs no login."""
    found = check_health(api.store, api.config)
    return HealthResponse(
        status=found.status,
        metadatabase=HealthInfo(
            status="healthy" if found.metastore_ok else "unhealthy",
            detail=found.metastore_detail,
        ),
        scheduler=HealthInfo(
            status="healthy" if found.scheduler_alive else "unhealthy",
            detail=found.scheduler_detail,
            latest_heartbeat=found.latest_task_heartbeat,
        ),
        executor=found.executor,
        celery_workers=list(found.celery_workers),
    )


@router.get("/api/v2/version", tags=["Version"])
def version() -> VersionInfo:
    """taskkit's version; needs no login, as in Airflow."""
    return VersionInfo(version=_installed_version())


@cache
def _installed_version() -> str:
    """The installed package's version, read from its metadata once, not on every request."""
    return package_version("taskkit")


@router.post("/auth/token", tags=["Auth"], status_code=201)
def token(body: TokenBody, api: ApiState = Depends(api_state)) -> TokenResponse:
    """Exchange a username and password for a bearer token (401 wrong, 429 too many tries)."""
    now = api.clock()
    user = users.authenticate(api.store, body.username, body.password, now=now)
    issued = api.signer.issue(user.username, "access", now, ACCESS_TTL)
    return TokenResponse(access_token=issued, expires_in=int(ACCESS_TTL.total_seconds()))


@router.get("/api/v2/users", dependencies=[auth.admin], tags=["User"])
def list_users(api: ApiState = Depends(api_state)) -> UserCollectionResponse:
    """Every user."""
    found = users.list_users(api.store)
    return UserCollectionResponse(
        users=[UserResponse.of(u) for u in found], total_entries=len(found)
    )


@router.post("/api/v2/users", dependencies=[auth.admin], tags=["User"], status_code=201)
def create_user(body: UserBody, api: ApiState = Depends(api_state)) -> UserResponse:
    """Create a user with a role and password."""
    user, _ = users.create_user(api.store, body.username, users.Role(body.role), body.password)
    return UserResponse.of(user)


@router.delete(
    "/api/v2/users/{username}", dependencies=[auth.admin], tags=["User"], status_code=204
)
def delete_user(username: str, request: Request, api: ApiState = Depends(api_state)) -> Response:
    """Delete a user."""
    users.delete_user(api.store, username)
    return Response(status_code=204)
