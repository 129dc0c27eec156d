"""wrk as the load generator: a compiled, event-driven client much cheaper per request than what it
measures, so the figures are the server's and not the client's.

A Lua script sets the POST body and headers and, in `done`, prints one JSON line with the counts
and latency percentiles (wrk records microseconds). For the sequential run the script stops the
thread after a fixed number of responses. The generator's own CPU comes from the kernel's
accounting of the reaped child (RUSAGE_CHILDREN), reported per request beside the servers'.
"""

import json
import resource
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.procs import cpu_seconds

MARK = "BENCH_JSON "
DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,'
    .. '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    "{mark}", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99)))
end
"""
STOP_AFTER = """
local seen = 0
response = function(status, headers, body)
  seen = seen + 1
  if seen >= {limit} then wrk.thread:stop() end
end
"""


@dataclass
class Load:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator_cpu_us: float
    cpu_us: dict[str, float]  # per server process (tree), CPU microseconds per request


def available() -> bool:
    return shutil.which("wrk") is not None


def script(body: bytes, headers: Mapping[str, str], limit: int | None) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{body.decode()}]==]"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    text = "\n".join(lines) + "\n" + DONE.replace("{mark}", MARK)
    if limit is not None:
        text += STOP_AFTER.replace("{limit}", str(limit))
    return text


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(
    workdir: Path,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connections: int,
    seconds: int,
    servers: Mapping[str, Callable[[], list[int]]],
    limit: int | None = None,
) -> Load:
    """One wrk run; `servers` name the processes whose CPU is read before and after it."""
    lua = workdir / "request.lua"
    lua.write_text(script(body, headers, limit))
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    cmd += ["-s", str(lua), url]
    pids = {name: pids() for name, pids in servers.items()}
    before = {name: cpu_seconds(p) for name, p in pids.items()}
    # Only wrk is reaped while it runs, so the children's CPU delta is wrk's alone.
    gen0 = _children_cpu()
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    out = done.stdout
    gen = _children_cpu() - gen0
    spent = {name: cpu_seconds(p) - before[name] for name, p in pids.items()}
    line = next((x for x in out.splitlines() if x.startswith(MARK)), None)
    if line is None:
        raise RuntimeError(f"exit {done.returncode}, no summary: {(out + done.stderr)[-300:]}")
    raw: dict[str, int] = json.loads(line[len(MARK) :])
    n = max(raw["requests"], 1)
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    wall = raw["duration_us"] / 1e6
    return Load(
        requests=raw["requests"],
        seconds=wall,
        rps=raw["requests"] / wall,
        p50_ms=raw["p50_us"] / 1e3,
        p99_ms=raw["p99_us"] / 1e3,
        errors=errors,
        generator_cpu_us=gen / n * 1e6,
        cpu_us={name: s / n * 1e6 for name, s in spent.items()},
    )
