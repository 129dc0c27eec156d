"""`ai-gateway --mock-upstream`: a newcomer's first run, with no key and no network."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from mock_openrouter.process import free_port
from tests.procs import MOCK_LINE, TOKEN_LINE, command_line_server, dev_env, dev_gateway

ROOT = Path(__file__).parent.parent
ADMIN_LINE = re.compile(r"admin key \(x-api-key\): (\S+)")


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


def assert_gone(mock_url: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{mock_url}/__mock/requests", timeout=1)
        except httpx.ConnectError:
            return
        time.sleep(0.1)
    raise AssertionError(f"the mock at {mock_url} still answers")


def test_ctrl_c_stops_the_gateway_and_the_mock_quietly(tmp_path: Path) -> None:
    with dev_gateway(tmp_path) as gateway:
        mock_url = MOCK_LINE.search(gateway.logs())
        assert mock_url, gateway.logs()
        os.killpg(gateway.pid, signal.SIGINT)
        # uvicorn re-raises the SIGINT it handled once it has shut down: 130, quietly.
        assert gateway.proc.wait(timeout=20) in (0, 128 + signal.SIGINT)
        gateway.stop()
        assert "Traceback" not in gateway.logs()
    assert_gone(mock_url[1])


@pytest.mark.parametrize("after_s", [0.3, 1.0])
def test_ctrl_c_during_start_up_is_quiet(tmp_path: Path, after_s: float) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--mock-upstream", "--port", str(free_port())],
        env=dev_env(),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
        process_group=0,
    )
    time.sleep(after_s)
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=20)
    assert "Traceback" not in err, err
    assert proc.returncode in (0, 128 + signal.SIGINT)
    mock_url = MOCK_LINE.search(err)
    if mock_url:
        assert_gone(mock_url[1])


def test_a_killed_gateway_takes_its_mock_with_it(tmp_path: Path) -> None:
    with dev_gateway(tmp_path) as gateway:
        mock_url = MOCK_LINE.search(gateway.logs())
        assert mock_url, gateway.logs()
        gateway.proc.kill()
    assert_gone(mock_url[1])


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_the_dev_token_and_admin_key_outlive_a_restart(tmp_path: Path, where: str) -> None:
    secret = "a-dev-secret-kept-in-my-env-0123"
    env = {"JWT_SECRET": secret} if where == "environment" else {}
    if where == ".env":
        (tmp_path / ".env").write_text(f"JWT_SECRET={secret}\n")
    printed = []
    for _run in range(2):
        with dev_gateway(tmp_path, **env) as gateway:
            token, admin = TOKEN_LINE.search(gateway.logs()), ADMIN_LINE.search(gateway.logs())
            assert token, gateway.logs()
            assert admin, gateway.logs()
            usage = httpx.get(f"{gateway.url}/api/ai/usage", headers={"x-api-key": admin[1]})
            assert usage.status_code == 200, usage.text
            printed.append((token[1], admin[1]))
    assert printed[0] == printed[1]


def test_the_dev_token_is_the_same_all_day_and_valid_a_day_on() -> None:
    from jose import jwt

    from app.devmode import DAY_S, dev_token

    day = 20_000 * DAY_S
    morning, _ = dev_token("s" * 32, now=day + 60)
    evening, expires = dev_token("s" * 32, now=day + DAY_S - 60)
    assert morning == evening
    assert expires - (day + DAY_S - 60) >= DAY_S
    claims = jwt.get_unverified_claims(morning)
    assert claims["sub"] == "dev-user"
    assert dev_token("t" * 32, now=day)[0] != morning
