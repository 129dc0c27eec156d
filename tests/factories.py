"""Settings and credentials for tests: one place that knows the test secrets."""

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from jose import jwt

from app.config import Settings

JWT_SECRET = "test-jwt-secret-0123456789abcdef"
UPSTREAM_KEY = "sk-or-v1-test-upstream-key-7f3a9c"
ANON_KEY = "anon_test_key"
API_KEY = "ik_test_admin_key"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openrouter_api_key": UPSTREAM_KEY,
        "openrouter_base_url": "http://127.0.0.1:9/api/v1",
        "jwt_secret": JWT_SECRET,
        "access_anon_key": ANON_KEY,
        "access_api_key": API_KEY,
        "upstream_retry_base_s": 0.01,
        "upstream_connect_timeout_s": 2.0,
        # Off unless a test is about it: no database file per app (tests/test_ledger.py).
        "ledger_enabled": False,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def make_token(
    sub: str | None = "user-1",
    *,
    role: str | None = "authenticated",
    expires_in: int | None = 900,
    secret: str = JWT_SECRET,
    algorithm: str = "HS256",
    **claims: Any,
) -> str:
    payload: dict[str, Any] = dict(claims)
    if sub is not None:
        payload["sub"] = sub
    if role is not None:
        payload["role"] = role
    if expires_in is not None:
        payload["exp"] = int(time.time()) + expires_in
    return jwt.encode(payload, secret, algorithm=algorithm)


LEGACY_ANON_JWT_CLAIMS = {"email": "anon@insforge.com"}


def legacy_anon_jwt() -> str:
    """The non-expiring anon token pre-opaque-key InsForge deployments shipped."""
    return make_token(
        "12345678-1234-5678-90ab-cdef12345678",
        role="anon",
        expires_in=None,
        **LEGACY_ANON_JWT_CLAIMS,
    )


def asgi_scope(method: str, path: str, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """An HTTP scope for calling the app directly, as a server would: a user's token, a JSON
    body, and a copy of the lifespan's state."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [
            (b"authorization", f"Bearer {make_token()}".encode()),
            (b"content-type", b"application/json"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": dict(state or {}),
    }


def asgi_receive(
    body: bytes, leave_after_s: float | None = None
) -> Callable[[], Awaitable[dict[str, Any]]]:
    """A server's `receive` for one request: the whole body, then (after `leave_after_s`) the
    caller's disconnect, or nothing more at all when the caller never leaves."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        if leave_after_s is None:
            await asyncio.Event().wait()
        await asyncio.sleep(leave_after_s or 0)
        return {"type": "http.disconnect"}

    return receive
