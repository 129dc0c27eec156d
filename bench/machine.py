"""What the figures were measured on: the machine, and the versions of everything in the path."""

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from bench import litellm
from bench.procs import ROOT, can_pin, nginx_binary, tool_version


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        return f"{int(first.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, IndexError, ValueError):
        return "unknown"


def machine() -> dict[str, str]:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "kernel": f"{platform.system()} {platform.release()}",
        "load average at start (1/5/15 min)": load,
        "pinning": "gateway/nginx/LiteLLM on core 0; mock, wrk and the harness on core 1"
        if can_pin()
        else "not available (fewer than 2 cores usable): processes share cores",
    }


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def _commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--", "app", "mock_openrouter", "pyproject.toml"):
        commit += " + uncommitted changes in app/ or mock_openrouter/"
    return commit


def _dist(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(litellm_venv: Path | None) -> dict[str, str]:
    nginx = nginx_binary()
    found = {
        "python": platform.python_version(),
        "gateway commit": _commit(),
        "nginx": tool_version([nginx, "-v"]) if nginx else "not installed",
        "wrk": tool_version(["wrk", "-v"]).split(" Copyright")[0],
    }
    for dist in ("uvicorn", "fastapi", "httpx", "httpx-aiohttp", "aiohttp", "uvloop"):
        found[dist] = _dist(dist)
    if litellm_venv is not None:
        found["litellm"] = litellm.version(litellm_venv)
    return found
