"""Who is asking: bearer tokens for scripts, session cookies (with CSRF) for the UI, and roles.

Every endpoint but health and login depends on `require(Role...)`: no login
is 401, a role that may not is 403. A cookie session must send the CSRF
value with every state change (header X-CSRF-Token, or the form field
csrf_token); a bearer token needs none, since browsers never send it by
themselves.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request

from taskkit.api.state import ApiState, api_state
from taskkit.errors import AuthError, ForbiddenError, UserNotFoundError
from taskkit.services.users import Role, User, get_user

SESSION_COOKIE = "taskkit_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def _csrf_sent(request: Request) -> str | None:
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    return sent


async def current_user(request: Request, state: ApiState = Depends(api_state)) -> User:
    """The logged-in user from `Authorization: Bearer` or the session cookie; 401 without."""
    header = request.headers.get("authorization", "")
    now = state.clock()
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthError("Use `Authorization: Bearer <token>`; get one from POST /auth/token.")
        claims = state.signer.verify(token.strip(), "access", now)
    else:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            raise AuthError("Not logged in: get a token from POST /auth/token or log in at /login.")
        claims = state.signer.verify(session, "session", now)
        if request.method not in _SAFE_METHODS:
            sent = await _csrf_sent(request)
            if not sent or not hmac.compare_digest(sent, state.signer.csrf_for(session)):
                raise ForbiddenError(
                    f"Missing or wrong CSRF token: send the {CSRF_HEADER} header from the page "
                    "(reload it if it is old)."
                )
    try:
        user = get_user(state.store, claims.username)
    except UserNotFoundError:
        raise AuthError(f"User {claims.username!r} no longer exists: log in again.") from None
    request.state.user = user
    return user


def require(needed: Role) -> Callable[..., Awaitable[User]]:
    """A dependency: the logged-in user, if their role includes `needed` (else 403)."""

    async def check(user: User = Depends(current_user)) -> User:
        if not user.role.may(needed):
            raise ForbiddenError(
                f"User {user.username!r} has role {user.role.value}; this needs "
                f"{needed.value} or above. Ask an admin to change your role."
            )
        return user

    return check


viewer = Depends(require(Role.VIEWER))
op = Depends(require(Role.OP))
admin = Depends(require(Role.ADMIN))
