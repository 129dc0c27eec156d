"""What a stage costs in machine instructions and simulated cache misses per request, which,
unlike CPU time on a shared VM, move by under 1 % between runs.

    .venv/bin/python -m bench.instructions --stage quotas [--scenario v1_json] [--requests 300]

Each setting's gateway (`python -m app.cli`, the settings the stage's processes get in
`bench/run.sh`, `PYTHONHASHSEED=0`) runs under valgrind's callgrind with its cache simulator,
counting nothing until it has started and answered 50 warm-up requests; then it counts while
one connection sends `--requests` more, one at a time. Per request: instructions executed (Ir),
first-level cache misses (instructions and data: I1mr + D1mr + D1mw), last-level misses
(ILmr + DLmr + DLmw), and the estimate of cycles KCachegrind uses, Ir + 10 × L1 misses +
100 × LL misses: the code that runs once per request runs with cold caches, so its misses weigh
more than its instructions. User space only: the kernel's share (sockets, epoll) is not seen.

CPU time on this machine drifts by tens of per cent from one second to the next (bench/README,
the quota stage), too far to tell a stage of a few per cent; `bench/run.sh` counts the quota
stage this way too (`Stage.counted`). What still moves a count: time-based work (the metrics'
fold every second, the prices' recheck) spread over as many calls as valgrind's pace allows.
Needs valgrind (`apt-get install valgrind`); about a minute per setting and scenario.
"""

import argparse
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.procs import Server, start_gateway, start_mock_server
from bench.profile import SECRET, out
from bench.scenarios import SCENARIOS, headers, user_token
from bench.stages import STAGE_SCENARIOS, STAGES, Stage

WARM_UP = 50
# Under valgrind a call takes 50 to 100 times as long, so what the gateway does after some wall
# time happens where it never would: a call still running after 50 ms gets a watcher task for
# its caller (app/disconnect.py), which no call here gets at full speed. Scaled to match.
SLOWDOWN = 100
SERVE = (
    "import sys; import app.disconnect as d; d.WATCH_AFTER_S *= {slowdown}; "
    "from app.cli import main; main(sys.argv[1:])"
)
# valgrind runs Python about 50 times slower: start-up takes tens of seconds.
STARTUP_TIMEOUT_S = 300.0
EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")


@dataclass(frozen=True)
class Counts:
    instructions: float
    l1_misses: float
    ll_misses: float

    @property
    def cycles(self) -> float:
        return self.instructions + 10 * self.l1_misses + 100 * self.ll_misses


def parse(profile: Path) -> dict[str, int]:
    """The totals of a callgrind profile, by event."""
    names: list[str] = []
    totals: list[int] = []
    for line in profile.read_text().splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("totals:", "summary:")):
            totals = [int(n) for n in line.split()[1:]]
    if not names or not totals:
        raise RuntimeError(f"{profile}: no events or totals")
    return dict(zip(names, totals, strict=False))


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def count(
    label: str, env: dict[str, str], scenario_key: str, requests: int, workdir: Path, mock: Server
) -> Counts:
    scenario = next(s for s in SCENARIOS if s.key == scenario_key)
    slug = "".join(c if c.isalnum() else "-" for c in label)
    profile = workdir / f"callgrind-{slug}-{scenario_key}.out"
    wrapper = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--cache-sim=yes"]
    wrapper.append(f"--callgrind-out-file={profile}")
    server = start_gateway(
        workdir,
        mock,
        SECRET,
        {"PYTHONHASHSEED": "0", **env},
        f"{label} {scenario_key}",
        wrapper=wrapper,
        python_args=["-c", SERVE.format(slowdown=SLOWDOWN)],
        timeout=STARTUP_TIMEOUT_S,
    )
    try:
        url = f"{server.url}{scenario.path}"
        auth = headers(user_token(SECRET))
        with httpx.Client(timeout=60) as client:

            def send(n: int) -> None:
                for _ in range(n):
                    answer = client.post(url, content=scenario.body, headers=auth)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{label}: {answer.status_code} {answer.text[:200]}")

            send(WARM_UP)
            _control(server.pid, "--instr=on")
            send(requests)
            _control(server.pid, "--instr=off")
            _control(server.pid, "--dump")  # to `<profile>.1`: what was counted
    finally:
        server.stop()
    totals = parse(profile.with_name(f"{profile.name}.1"))
    missing = [e for e in EVENTS if e not in totals]
    if missing:
        raise RuntimeError(f"{profile}: no {missing}")
    return Counts(
        totals["Ir"] / requests,
        (totals["I1mr"] + totals["D1mr"] + totals["D1mw"]) / requests,
        (totals["ILmr"] + totals["DLmr"] + totals["DLmw"]) / requests,
    )


def available() -> bool:
    return shutil.which("valgrind") is not None and shutil.which("callgrind_control") is not None


def count_stage(
    stage: Stage, workdir: Path, mock: Server, requests: int = 300
) -> dict[str, dict[str, dict[str, float]]]:
    """The stage's "off" setting and every judged one, counted in each stage scenario
    (`bench/run.sh` records them beside the stage's CPU figures): label → scenario →
    estimated cycles and instructions per request."""
    settings = [stage.off, *((k, v) for k, v in stage.on.items() if k in stage.budget_pct)]
    found: dict[str, dict[str, dict[str, float]]] = {}
    for label, env in settings:
        for key in STAGE_SCENARIOS:
            counts = count(label, env, key, requests, workdir, mock)
            found.setdefault(label, {})[key] = {
                "cycles": counts.cycles,
                "instructions": counts.instructions,
            }
    return found


def measure(stage: Stage, scenario_key: str, requests: int) -> None:
    settings = [stage.off, *((label, env) for label, env in stage.on.items())]
    with tempfile.TemporaryDirectory() as tmp:
        mock = start_mock_server(seed=0)
        try:
            found = [
                (label, count(label, env, scenario_key, requests, Path(tmp), mock))
                for label, env in settings
            ]
        finally:
            mock.stop()
    scenario = next(s for s in SCENARIOS if s.key == scenario_key)
    out(f"{stage.name}, {scenario.label}, {requests} requests under callgrind, per request:")
    base = found[0][1]
    for label, counts in found:
        shown = []
        for name, value, was in (
            ("instructions", counts.instructions, base.instructions),
            ("L1 misses", counts.l1_misses, base.l1_misses),
            ("LL misses", counts.ll_misses, base.ll_misses),
            ("est. cycles", counts.cycles, base.cycles),
        ):
            delta = "" if counts is base else f" ({100 * (value / was - 1):+.2f} %)"
            shown.append(f"{name} {value:,.0f}{delta}")
        out(f"  {label}: " + "; ".join(shown))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stage", required=True, choices=[s.name for s in STAGES])
    parser.add_argument("--scenario", default="v1_json", choices=[s.key for s in SCENARIOS])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    stage = next(s for s in STAGES if s.name == args.stage)
    if stage.one_process or stage.tokens:
        parser.error(f"{stage.name}: its settings differ in their callers; bench/run.sh --stage")
    measure(stage, args.scenario, args.requests)


if __name__ == "__main__":
    main()
