"""The image's files: .env.example is complete, requirements.lock is current, and the image's
exact install and start command serve /healthz from a fresh virtualenv (there is no Docker
engine to build the image). The compose file: tests/test_compose.py."""

import os
import re
import subprocess
import sys
import venv
from pathlib import Path

import httpx

from app.config import Settings
from tests.compiled import COMPILED, compiles, module_name
from tests.dockerfile import instructions, lay_out_workdir, pip_commands, start_command
from tests.factories import JWT_SECRET, UPSTREAM_KEY
from tests.procs import command_line_server, free_port

ROOT = Path(__file__).parent.parent


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


def _dockerfile_env(name: str) -> str:
    """The value the image's ENV instruction gives `name`."""
    found = re.search(rf"\b{name}=(\S+)", instructions("ENV")[0])
    assert found, f"the Dockerfile sets no {name}"
    return found[1]


def test_requirements_lock_is_current() -> None:
    """The image installs requirements.lock: it must pin every runtime dependency at the
    version the tests run with (scripts/lock.py writes it; `--check` compares)."""
    run = subprocess.run(
        [sys.executable, "scripts/lock.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    lock = (ROOT / "requirements.lock").read_text()
    assert "\nfastapi==" in lock
    assert "\npytest==" not in lock  # no dev tools in the image


def test_image_install_and_start_command_in_fresh_venv(tmp_path: Path) -> None:
    """The Dockerfile's own pip commands, run in order on a folder laid out as its COPY lines
    and .dockerignore leave WORKDIR (so a file the context lacks fails here too), then its CMD."""
    env_dir = tmp_path / "venv"
    workdir = tmp_path / "srv"
    lay_out_workdir(workdir)
    # No pip of its own (bootstrapping one costs seconds): this interpreter's pip installs into
    # it with `--python`, and resolves and builds exactly as the image's pip does.
    venv.create(env_dir)
    commands = pip_commands()
    # The pinned dependencies first, then the project alone on top of them.
    assert commands[0][-2:] == ["-r", "requirements.lock"]
    assert "--no-deps" in commands[1]
    for args in commands:
        pip = subprocess.run(
            [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), *args]
            + (["--quiet", "--no-compile"] if args[0] == "install" else []),
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert pip.returncode == 0, f"pip {' '.join(args)}: {pip.stdout}{pip.stderr}"
    # The build compiled the quotas' per-call modules (setup.py), as the image checks it did
    # (with the compiler it installs for the step; here, where there is one).
    check = next(c for c in instructions("RUN") if "python -I -c" in c)
    assert "import app.quotas.memory" in check
    assert "endswith('.so')" in check
    script = "import importlib\n" + "".join(
        f"print(importlib.import_module('{module_name(path)}').__file__)\n" for path in COMPILED
    )
    files = subprocess.run(
        [str(env_dir / "bin" / "python"), "-I", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(files) == len(COMPILED)
    suffix = ".so" if compiles() else ".py"
    assert all(f.startswith(str(env_dir)) and f.endswith(suffix) for f in files), files
    port = free_port()
    env = {
        "PATH": f"{env_dir / 'bin'}:/usr/bin:/bin",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "OPENROUTER_API_KEY": UPSTREAM_KEY,
        "JWT_SECRET": JWT_SECRET,
    }
    with command_line_server(
        "the image's start command", start_command(), port=port, env=env, cwd=tmp_path
    ) as server:
        assert httpx.get(f"{server.url}/healthz", timeout=1).json() == {"status": "ok"}
