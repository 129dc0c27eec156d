"""Start the gateway as a real process on a real socket, configured through its environment."""

import os
import re
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from mock_openrouter.process import ServerProcess
from mock_openrouter.process import free_port as free_port
from tests.factories import ANON_KEY, API_KEY, JWT_SECRET, UPSTREAM_KEY

READY_TIMEOUT_S = 20.0
# What `ai-gateway --mock-upstream` prints (app/devmode.py).
MOCK_LINE = re.compile(r"mock upstream at (http://[^/\s]+)")
TOKEN_LINE = re.compile(r"dev user token \(valid until [^)]+\): (\S+)")
STOP_TIMEOUT_S = 10.0
ROOT = Path(__file__).resolve().parent.parent
# The test's own environment must not configure the gateway: only what a test passes does.
OWN_PREFIXES = (
    "OPENROUTER_",
    "ACCESS_",
    "AI_",
    "MAX_",
    "UPSTREAM_",
    "CORS_",
    "LEDGER_",
    "DATABASE_URL",
    "DATA_DIR",
)


def gateway_env(upstream_url: str, **env: str) -> dict[str, str]:
    """The gateway's settings as environment variables: the test secrets, fast retries, `env`."""
    return {
        "OPENROUTER_API_KEY": UPSTREAM_KEY,
        "OPENROUTER_BASE_URL": upstream_url,
        "JWT_SECRET": JWT_SECRET,
        "ACCESS_ANON_KEY": ANON_KEY,
        "ACCESS_API_KEY": API_KEY,
        "UPSTREAM_RETRY_BASE_S": "0.01",
        "LOG_LEVEL": "warning",
        # Off unless a test is about it: processes would share one ./data/ledger.db.
        "LEDGER_ENABLED": "false",
        **env,
    }


class GatewayProcess(ServerProcess):
    """`python -m app.cli` on a free port; `logs()` is everything it wrote."""

    def __init__(self, upstream_url: str, **env: str) -> None:
        port = free_port()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES)}
        super().__init__(
            "gateway",
            [sys.executable, "-m", "app.cli", "--port", str(port)],
            port=port,
            ready_path="/healthz",
            env={**inherited, **gateway_env(upstream_url, **env)},
            cwd=ROOT,
            log=Path(f"/tmp/ai-gateway-test-{port}.log"),
            startup_timeout=READY_TIMEOUT_S,
            stop_timeout=STOP_TIMEOUT_S,
        )


def command_line_server(
    name: str, command: list[str], *, port: int, env: Mapping[str, str], cwd: Path
) -> ServerProcess:
    """A gateway started by a command line, as a newcomer or the image starts it; ready once
    `/healthz` answers."""
    return ServerProcess(
        name,
        command,
        port=port,
        ready_path="/healthz",
        env=env,
        cwd=cwd,
        startup_timeout=READY_TIMEOUT_S,
    )


def open_raw_stream(gateway: GatewayProcess, path: str, body: bytes, token: str) -> socket.socket:
    """POST over a bare socket, so a test can stop reading or hang up at a moment it picks."""
    sock = socket.create_connection(("127.0.0.1", gateway.port))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def dev_env(**env: str) -> dict[str, str]:
    unset = ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "JWT_SECRET", "ACCESS_API_KEY")
    return {**{k: v for k, v in os.environ.items() if k not in unset}, **env}


def dev_gateway(tmp_path: Path, **env: str) -> ServerProcess:
    """`ai-gateway --mock-upstream` in a process group of its own, as in a terminal: a signal
    sent to the group is what Ctrl+C sends."""
    port = free_port()
    return ServerProcess(
        "ai-gateway --mock-upstream",
        [sys.executable, "-m", "app.cli", "--mock-upstream", "--port", str(port)],
        port=port,
        ready_path="/healthz",
        env=dev_env(**env),
        cwd=tmp_path,
        startup_timeout=READY_TIMEOUT_S,
        own_process_group=True,
    )
