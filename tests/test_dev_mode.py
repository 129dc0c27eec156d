"""`ai-gateway --mock-upstream`: a newcomer's first run, with no key and no network."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import orjson

from tests.procs import free_port

ROOT = Path(__file__).parent.parent
TOKEN_LINE = re.compile(r"dev user token \(24 h\): (\S+)")


def test_mock_upstream_answers_a_real_sdk_call(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "JWT_SECRET")
    }
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--mock-upstream", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while (
            not (found := TOKEN_LINE.search(log.read_text()))
            or "startup complete" not in log.read_text()
        ):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        run = subprocess.run(
            ["node", "one_chat.mjs"],
            cwd=ROOT / "tests" / "clients",
            env={**os.environ, "GATEWAY_URL": f"http://127.0.0.1:{port}", "USER_TOKEN": found[1]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        answer = orjson.loads(run.stdout)
        assert answer["choices"][0]["message"] == {"role": "assistant", "content": "Hello there!"}
        assert answer["usage"] == {"promptTokens": 12, "completionTokens": 8, "totalTokens": 20}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert "sk-or-mock-" not in log.read_text()
