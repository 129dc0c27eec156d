"""Processes under measurement: start them pinned, account for their CPU and memory, stop them.

CPU comes from each process's own accounting (/proc/<pid>/stat utime+stime), summed over the
process and its live descendants so an nginx master and its worker count together. On a machine
shared with other work this stays far steadier than wall-clock figures do.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mock_openrouter.process import ServerProcess, start_mock
from mock_openrouter.process import free_port as free_port

ROOT = Path(__file__).resolve().parent.parent
TICK_S = 1 / os.sysconf("SC_CLK_TCK")
GATEWAY_CORE = 0  # the process being measured gets a core of its own
LOAD_CORE = 1  # mock, load generator and this harness share the other
# 5,000 held streams each keep an upstream connection: the default pool (512) would queue them.
GATEWAY_POOL = 8192
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """`pid` and every live process below it (no /proc/<pid>/task/*/children on every kernel)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(int(entry.name))[1])
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
            parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [pid], [pid]
    while todo:
        kids = parents.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total * TICK_S


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


# Read once, before the harness pins itself: afterwards its own mask holds one core only.
_USABLE = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def can_pin() -> bool:
    return {GATEWAY_CORE, LOAD_CORE} <= _USABLE


def pin_self(core: int) -> None:
    """Children inherit the mask: pinning the harness first puts the mock and wrk on `core`."""
    if can_pin():
        os.sched_setaffinity(0, {core})


@dataclass
class Server:
    """A server under measurement, started by the shared launcher (mock_openrouter/process.py)."""

    name: str
    process: ServerProcess = field(repr=False)

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def pid(self) -> int:
        return self.process.pid

    def pids(self) -> list[int]:
        return descendants(self.pid)

    def stop(self) -> None:
        self.process.stop()


def launch(
    name: str,
    cmd: list[str],
    port: int,
    log: Path,
    ready_path: str,
    env: Mapping[str, str],
    timeout: float = STARTUP_TIMEOUT_S,
    pin: bool = True,
) -> Server:
    """Start a server on `core 0` (`pin`: else on any core), wait until `ready_path` answers,
    or fail with its log tail."""
    process = ServerProcess(
        name,
        cmd,
        port=port,
        ready_path=ready_path,
        env=env,
        cwd=log.parent,  # a scratch directory: a developer's .env must not shape the run
        log=log,
        pin_to=GATEWAY_CORE if pin and can_pin() else None,
        startup_timeout=timeout,
        stop_timeout=STOP_TIMEOUT_S,
    )
    return Server(name, process)


def start_mock_server(seed: int) -> Server:
    return Server("mock", start_mock(seed=seed, bench=True))


def gateway_env(mock_url: str, secret: str, data_dir: Path) -> dict[str, str]:
    """The settings every measured gateway runs with, before a stage's own."""
    return {
        "DATA_DIR": str(data_dir),
        "OPENROUTER_API_KEY": "sk-or-bench-0123456789",
        "OPENROUTER_BASE_URL": f"{mock_url}/api/v1",
        "JWT_SECRET": secret,
        "LOG_LEVEL": "warning",
        "UPSTREAM_MAX_CONNECTIONS": str(GATEWAY_POOL),
    }


def start_gateway(
    workdir: Path,
    mock: Server,
    secret: str,
    extra_env: Mapping[str, str] | None = None,
    name: str = "gateway",
    pin: bool = True,
    *,
    wrapper: Sequence[str] = (),
    python_args: Sequence[str] = ("-m", "app.cli"),
    timeout: float = STARTUP_TIMEOUT_S,
) -> Server:
    """A gateway with the bench's settings and `extra_env`, run as `wrapper` (valgrind, for
    bench/instructions.py) `python python_args --host … --port …`."""
    port = free_port()
    slug = name.replace(" ", "-").replace(",", "").replace("(", "").replace(")", "")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # The ledger's SQLite file (when it is on) in the run's directory, one per process.
        **gateway_env(mock.url, secret, workdir / f"data-{slug}"),
        **(extra_env or {}),
    }
    cmd = [*wrapper, sys.executable, *python_args, "--host", "127.0.0.1", "--port", str(port)]
    log = workdir / f"{slug}.log"
    return launch("gateway", cmd, port, log, "/healthz", env, timeout, pin)


NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 16384; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    upstream mock {{
        server 127.0.0.1:{upstream};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def start_nginx(workdir: Path, mock: Server) -> Server:
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx is not installed")
    root = workdir / "nginx"
    root.mkdir()
    port = free_port()
    upstream = int(mock.url.rsplit(":", 1)[1])
    conf = root / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=root, upstream=upstream, port=port))
    cmd = [binary, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")]
    return launch("nginx", cmd, port, root / "stdout.log", "/", os.environ)


def tool_version(cmd: list[str]) -> str:
    """First line a tool prints about itself (wrk and nginx write it to stderr)."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"
