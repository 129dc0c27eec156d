"""How many concurrent open streams one gateway process holds, and what each costs in memory.

    python -m bench.streams --port P --token T --gateway-pid PID --levels 1000,2000,5000

Run by the harness as its own process on the load core, so its CPU is its own. It opens legacy
chat streams in batches (a burst of thousands would overflow the listen backlog and measure SYN
retries, not the gateway), and at each level waits until every stream has had its first event,
then reads the gateway's RSS. The streams are slow on purpose (one token every two seconds): this
measures holding capacity (memory, descriptors, no errors), not relay throughput. Each stream must
then end with the legacy `done` event and no error event. Prints one JSON object.
"""

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field

import orjson
import uvloop

from bench.procs import ROOT, Server, cpu_seconds, rss_kb

BATCH = 100
BATCH_GAP_S = 0.1
MAX_PENDING = 500  # launched but not yet answered: stay well under uvicorn's backlog of 2048
SETTLE_S = 1.0
SAMPLES = 3
FDS_PER_STREAM = 2  # in the gateway: the caller's connection and the upstream one


@dataclass
class Tally:
    launched: int = 0
    opened: int = 0  # had their first event
    open_now: int = 0
    done: int = 0
    connect_errors: int = 0
    status_errors: int = 0
    error_events: int = 0
    cut_short: int = 0
    never_opened: int = 0
    events: int = 0  # SSE data events received, over all streams
    statuses: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)  # the first few failures, as seen

    def sample(self, text: str) -> None:
        if len(self.samples) < SAMPLES:
            self.samples.append(text[-300:])

    @property
    def failed(self) -> int:
        return self.connect_errors + self.status_errors + self.error_events + self.cut_short

    @property
    def answered(self) -> int:
        return self.opened + self.never_opened


def request_bytes(port: int, path: str, token: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _read(reader: asyncio.StreamReader, tally: Tally) -> str:
    """Read one response to its end; count it open from its first event. Returns how it ended."""
    started = done = errored = False
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1].decode()
        if status != "200":
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            tally.sample(head.decode(errors="replace"))
            return "status"
        tail = b""
        while chunk := await reader.read(65536):
            window = tail + chunk
            if not started and b"data:" in window:
                started = True
                tally.opened += 1
                tally.open_now += 1
            tally.events += window.count(b"data:") - tail.count(b"data:")
            done = done or b'"done":true' in window
            if not errored and b'"error"' in window:
                errored = True
                tally.sample(window.decode(errors="replace"))
            tail = window[-32:]  # a marker may straddle two reads
        if not (errored or done):
            tally.sample(f"ended without done: {tail!r}")
        return "error_event" if errored else "done" if done else "cut_short"
    finally:
        if started:
            tally.open_now -= 1
        else:
            tally.never_opened += 1


async def one(port: int, request: bytes, tally: Tally) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        tally.connect_errors += 1
        tally.never_opened += 1
        return
    try:
        writer.write(request)
        outcome = await _read(reader, tally)
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
        tally.sample(repr(err))
        outcome = "cut_short"
    finally:
        writer.close()
    if outcome == "status":
        tally.status_errors += 1
    elif outcome == "error_event":
        tally.error_events += 1
    elif outcome == "done":
        tally.done += 1
    else:
        tally.cut_short += 1


async def run(args: argparse.Namespace) -> dict[str, object]:
    body = orjson.dumps(
        {"model": args.model, "messages": [{"role": "user", "content": "Hi"}], "stream": True}
    )
    request = request_bytes(args.port, args.path, args.token, body)
    tally = Tally()
    tasks: list[asyncio.Task[None]] = []
    base_rss = rss_kb(args.gateway_pid)
    t0 = time.monotonic()
    levels: list[dict[str, object]] = []
    for level in args.levels:
        ramp0 = time.monotonic()
        while tally.launched < level:
            if tally.launched - tally.answered < MAX_PENDING:
                for _ in range(min(BATCH, level - tally.launched)):
                    tasks.append(asyncio.create_task(one(args.port, request, tally)))
                    tally.launched += 1
            await asyncio.sleep(BATCH_GAP_S)
        deadline = time.monotonic() + args.open_timeout
        while time.monotonic() < deadline:
            if tally.answered >= level:
                break
            await asyncio.sleep(0.05)
        ramp_s = time.monotonic() - ramp0
        await asyncio.sleep(SETTLE_S)
        rss = rss_kb(args.gateway_pid)
        open_now = tally.open_now
        levels.append(
            {
                "level": level,
                "open": open_now,
                "ramp_s": round(ramp_s, 2),
                "rss_kb": rss,
                "rss_per_stream_kb": round((rss - base_rss) / max(open_now, 1), 1),
                "errors_so_far": tally.failed,
            }
        )
    # Every stream must now finish on its own; a stall past the stream's lifetime is an error.
    _, pending = await asyncio.wait(tasks, timeout=args.finish_timeout) if tasks else ((), set())
    for task in pending:
        task.cancel()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "base_rss_kb": base_rss,
        "levels": levels,
        "stalled": len(pending),
        "seconds": round(time.monotonic() - t0, 1),
        "generator_cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        **asdict(tally),
    }


def measure(
    gateway: Server, token: str, levels: list[int], model: str
) -> tuple[dict[str, object] | None, str]:
    """Run this module as a child (on the load core, inherited); its figures, or why none."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    allowed = [n for n in levels if FDS_PER_STREAM * n + 256 <= soft]
    if not allowed:
        return None, f"open-file limit {soft} is too low for {levels[0]} streams"
    port = gateway.url.rsplit(":", 1)[1]
    cmd = [sys.executable, "-m", "bench.streams", "--port", port, "--token", token]
    cmd += ["--gateway-pid", str(gateway.pid), "--levels", ",".join(map(str, allowed))]
    cmd += ["--model", model]
    cpu0 = cpu_seconds(gateway.pids())
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        return None, f"stream test failed: {done.stderr[-500:]}"
    result: dict[str, object] = orjson.loads(done.stdout.strip().splitlines()[-1])
    result["gateway_cpu_s"] = round(cpu_seconds(gateway.pids()) - cpu0, 2)
    result["rss_after_kb"] = rss_kb(gateway.pid)  # once every stream has ended
    result["model"] = model
    skipped = [n for n in levels if n not in allowed]
    return result, f"levels {skipped} skipped: open-file limit {soft}" if skipped else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--gateway-pid", type=int, required=True)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], required=True)
    parser.add_argument("--path", default="/api/ai/chat/completion")
    parser.add_argument("--model", default="mock/text?tokens=20&tpot_ms=2000")
    parser.add_argument("--open-timeout", type=float, default=60.0)
    parser.add_argument("--finish-timeout", type=float, default=90.0)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    result = uvloop.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
