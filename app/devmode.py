"""`ai-gateway --mock-upstream`: the mock OpenRouter as a child process, and the credentials a
newcomer needs to try the gateway against it.

The mock runs in a process group of its own and is told to die with the gateway (Linux's
parent-death signal), so neither a terminal's Ctrl+C (which would kill it under open streams
before their grace) nor a gateway killed outright can leave it behind or end it early.

The dev token and the admin key depend only on JWT_SECRET and the UTC day: while JWT_SECRET is
set, a restart prints the same ones, so a token pasted into a client keeps working.
"""

import hashlib
import hmac
import os
import secrets
import sys
import time
from datetime import UTC, datetime

from dotenv import dotenv_values
from jose import jwt

from mock_openrouter.process import MockProcess, start_mock

DAY_S = 24 * 3600
# Issued at the start of the UTC day and valid for two: the same token all day, and at least a
# full day of use wherever in the day it was printed.
DEV_TOKEN_TTL_S = 2 * DAY_S
DEV_USER = "dev-user"
# Names the mock this CLI started, for the apps it serves (and its workers'): app/examples.py.
DEV_UPSTREAM_ENV = "AI_GATEWAY_DEV_UPSTREAM"
_ADMIN_KEY_LABEL = b"ai-gateway dev admin key"


def start_dev_upstream() -> tuple[MockProcess, bool]:
    """Start the mock and point this process's settings (and its workers') at it; also whether
    the admin key is one made here (else ACCESS_API_KEY was configured, and is not printed)."""
    mock = start_mock(own_process_group=True)
    os.environ["OPENROUTER_BASE_URL"] = mock.base_url
    os.environ[DEV_UPSTREAM_ENV] = mock.base_url
    os.environ["OPENROUTER_API_KEY"] = "sk-or-mock-" + secrets.token_hex(8)
    # What the settings will read: the environment over `.env`.
    configured = {**dotenv_values(".env"), **os.environ}
    jwt_secret = configured.get("JWT_SECRET") or secrets.token_urlsafe(32)
    os.environ["JWT_SECRET"] = jwt_secret
    # The admin routes need ACCESS_API_KEY; one is derived from JWT_SECRET unless it is set.
    made_admin_key = not configured.get("ACCESS_API_KEY")
    if made_admin_key:
        os.environ["ACCESS_API_KEY"] = dev_admin_key(jwt_secret)
    return mock, made_admin_key


def dev_admin_key(jwt_secret: str) -> str:
    digest = hmac.new(jwt_secret.encode(), _ADMIN_KEY_LABEL, hashlib.sha256).hexdigest()
    return "ik_" + digest[:40]


def dev_token(secret: str, now: float | None = None) -> tuple[str, int]:
    """A user token and its expiry (epoch seconds): the same for one secret all UTC day."""
    issued = int(time.time() if now is None else now) // DAY_S * DAY_S
    expires = issued + DEV_TOKEN_TTL_S
    claims = {"sub": DEV_USER, "role": "authenticated", "iat": issued, "exp": expires}
    return jwt.encode(claims, secret, algorithm="HS256"), expires


def print_banner(mock: MockProcess, jwt_secret: str, admin_key: str | None, port: int) -> None:
    """What to try the gateway with; a configured admin key (`admin_key` None) is not shown."""
    token, expires = dev_token(jwt_secret)
    until = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%d %H:%M UTC")
    sys.stderr.write(
        f"mock upstream at {mock.base_url}\n"
        f"dev user token (valid until {until}): {token}\n"
        f"admin key (x-api-key): {admin_key or 'ACCESS_API_KEY, as configured'}\n"
        f"try: curl -s localhost:{port}/api/ai/chat/completion"
        " -H 'Authorization: Bearer <token>' -H 'Content-Type: application/json'"
        ' -d \'{"model":"mock/text","messages":[{"role":"user","content":"Hi"}]}\'\n'
        f"admin: curl -s localhost:{port}/api/ai/usage -H 'x-api-key: <admin key>'\n"
        f"browser example: http://localhost:{port}/examples/browser/ (examples/browser/)\n"
    )
