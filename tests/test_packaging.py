"""The deployment files: compose parses, .env.example is complete, and the image's exact start
command serves /healthz from a fresh virtualenv (there is no Docker engine to build the image)."""

import json
import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import yaml

from app.config import Settings
from tests.factories import JWT_SECRET, UPSTREAM_KEY
from tests.procs import command_line_server, free_port

ROOT = Path(__file__).parent.parent


def test_compose_file_parses_and_reads_env_file() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    gateway = compose["services"]["gateway"]
    assert gateway["env_file"] == ".env"
    assert gateway["build"] == "."
    assert gateway["environment"]["HOST"] == "0.0.0.0"
    # The ledger's data outlives the container: DATA_DIR is a named volume.
    assert f"ledger:{_dockerfile_env('DATA_DIR')}" in gateway["volumes"]
    assert "ledger" in compose["volumes"]


def test_the_image_user_owns_the_data_dir() -> None:
    # The image runs as an unprivileged user: the ledger's folder must be made and owned for it.
    dockerfile = (ROOT / "Dockerfile").read_text()
    data_dir = _dockerfile_env("DATA_DIR")
    assert data_dir.startswith("/")
    assert f"chown 10001 {data_dir}" in dockerfile
    assert "USER 10001" in dockerfile


def test_env_example_lists_every_setting() -> None:
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert listed == {name.upper() for name in Settings.model_fields}


def test_missing_secret_stops_startup_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENROUTER_API_KEY", "JWT_SECRET")}
    env["JWT_SECRET"] = "changeme"
    env["OPENROUTER_API_KEY"] = UPSTREAM_KEY
    run = subprocess.run(
        [sys.executable, "-m", "app.cli"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "ai-gateway: configuration error: JWT_SECRET is empty or a placeholder; "
        "set it to a real value"
    ]


def _dockerfile_instruction(name: str) -> str:
    lines = (ROOT / "Dockerfile").read_text().replace("\\\n", " ").splitlines()
    return next(line.split(None, 1)[1] for line in lines if line.startswith(name + " "))


def _dockerfile_env(name: str) -> str:
    """The value the image's ENV instruction gives `name`."""
    found = re.search(rf"\b{name}=(\S+)", _dockerfile_instruction("ENV"))
    assert found, f"the Dockerfile sets no {name}"
    return found[1]


def test_image_start_command_in_fresh_venv(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    # No pip of its own (bootstrapping one costs seconds): this interpreter's pip installs into
    # it with `--python`, and resolves and builds exactly as `pip install .` in the image does.
    venv.create(env_dir)
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python")]
        + ["install", "--quiet", "--no-compile", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert pip.returncode == 0, pip.stderr
    command = json.loads(_dockerfile_instruction("CMD"))
    port = free_port()
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "OPENROUTER_API_KEY": UPSTREAM_KEY,
        "JWT_SECRET": JWT_SECRET,
    }
    with command_line_server(
        "the image's start command", command, port=port, env=env, cwd=tmp_path
    ) as server:
        assert httpx.get(f"{server.url}/healthz", timeout=1).json() == {"status": "ok"}
