"""`ai-gateway --mock-upstream`: a newcomer's first run, with no key and no network."""

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from mock_openrouter.process import free_port
from tests.procs import command_line_server

ROOT = Path(__file__).parent.parent
MOCK_LINE = re.compile(r"mock upstream at (http://[^/\s]+)")
TOKEN_LINE = re.compile(r"dev user token \(24 h\): (\S+)")


def test_mock_upstream_answers_a_real_sdk_call(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "JWT_SECRET")
    }
    # Ready once /healthz answers; the token is printed before the server starts.
    command = [sys.executable, "-m", "app.cli", "--mock-upstream", "--port", str(port)]
    with command_line_server(
        "ai-gateway --mock-upstream", command, port=port, env=env, cwd=tmp_path
    ) as gateway:
        found = TOKEN_LINE.search(gateway.logs())
        assert found, gateway.logs()
        run = subprocess.run(
            ["node", "one_chat.mjs"],
            cwd=ROOT / "tests" / "clients",
            env={**os.environ, "GATEWAY_URL": gateway.url, "USER_TOKEN": found[1]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        answer = orjson.loads(run.stdout)
        assert answer["choices"][0]["message"] == {"role": "assistant", "content": "Hello there!"}
        assert answer["usage"] == {"promptTokens": 12, "completionTokens": 8, "totalTokens": 20}
        mock_url = MOCK_LINE.search(gateway.logs())
        assert mock_url, gateway.logs()
        gateway.stop()
        assert "sk-or-mock-" not in gateway.logs()
        # SIGTERM stops the mock the gateway started, too: nothing is left listening.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{mock_url[1]}/__mock/requests", timeout=2)
