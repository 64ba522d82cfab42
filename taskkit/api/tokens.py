"""Signed, expiring tokens for bearer auth and UI sessions, and the CSRF value of a session.

A token is `base64url(JSON claims).base64url(HMAC-SHA256)`, keyed with a key
derived from taskkit's secret key, so tokens survive a server restart and
are refused after the secret key changes. Claims: `sub` (username), `kind`
("access" or "session") and `exp` (Unix seconds).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json

import attrs

from taskkit.errors import AuthError

ACCESS_TTL = dt.timedelta(hours=1)
SESSION_TTL = dt.timedelta(hours=12)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.frozen
class Claims:
    """What a valid token says."""

    username: str
    kind: str
    expires: dt.datetime


class TokenSigner:
    """Issues and checks tokens with one key."""

    def __init__(self, secret_key: bytes) -> None:
        self._key = hmac.new(secret_key, b"taskkit api tokens v1", hashlib.sha256).digest()

    def _mac(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()

    def issue(self, username: str, kind: str, now: dt.datetime, ttl: dt.timedelta) -> str:
        """A token for `username` that expires `ttl` after `now`."""
        claims = {"sub": username, "kind": kind, "exp": int((now + ttl).timestamp())}
        body = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def verify(self, token: str, kind: str, now: dt.datetime) -> Claims:
        """The token's claims; AuthError if it is malformed, forged, expired or of another kind."""
        try:
            body_text, mac_text = token.split(".")
            body, mac = _unb64(body_text), _unb64(mac_text)
        except (ValueError, binascii.Error):
            raise AuthError("Malformed token: log in again (POST /auth/token).") from None
        if not hmac.compare_digest(mac, self._mac(body)):
            raise AuthError("Invalid token signature: log in again (POST /auth/token).")
        try:
            claims = json.loads(body)
            expires = dt.datetime.fromtimestamp(int(claims["exp"]), dt.timezone.utc)
            username, got_kind = str(claims["sub"]), str(claims["kind"])
        except (ValueError, KeyError, TypeError):
            raise AuthError("Malformed token: log in again (POST /auth/token).") from None
        if got_kind != kind:
            raise AuthError(f"A {got_kind} token cannot be used here: log in again.")
        if expires <= now:
            raise AuthError("The token has expired: log in again (POST /auth/token).")
        return Claims(username, got_kind, expires)

    def csrf_for(self, session_token: str) -> str:
        """The CSRF value that goes with a session: forms and fetches must send it back."""
        return _b64(self._mac(b"csrf:" + session_token.encode()))[:32]
