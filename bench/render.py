"""The Markdown report: what was measured on what, the tables, the ratios and the budget.

`python -m bench.render bench/results/latest.json` writes the .md again from its .json twin, so a
change to the report's layout needs no new run.
"""

import sys
from pathlib import Path
from typing import Any

import orjson

from bench import report, stages, workers
from bench.report import Measured, Results, ScenarioResult, StageResult
from bench.wrk import Load

READING = """\
How to read it: every row sends the same request at the same concurrency. (a) is the mock
OpenRouter straight, (b) nginx `proxy_pass` in front of it, (c) the gateway, (d) the LiteLLM
proxy when measured. CPU µs/req is each server process's own CPU time (utime+stime from
/proc/<pid>/stat, descendants included) divided by the requests it answered; it holds steady on a
shared machine where req/s and latency do not. With 16 connections on one core, latency is
mostly queueing (≈ 16 / req/s): the sequential table is the one that shows the latency a single
request pays. "added over (a)" is the gateway's p50/p99 minus the mock's for the upstream request
that the row's gateway request becomes. The wrk column is the load generator's own CPU per
request: it must stay well under the figures it measures."""


def _kv(title: str, items: dict[str, str] | dict[str, object]) -> list[str]:
    return [f"## {title}", "", *(f"- {k}: {v}" for k, v in items.items()), ""]


def markdown(r: Results) -> str:
    lines = [
        f"# ai-gateway benchmark, {r.started_utc}",
        "",
        *_kv("Machine", r.machine),
        *_kv("Versions", r.versions),
        *_kv("Configuration", r.config),
        "## Per scenario (gateway, with the baselines' CPU beside it)",
        "",
        READING,
        "",
        *report.scenario_table(r),
        "",
        *(
            line
            for stage in r.stages
            for line in [
                f"## Stage cost: {stage.name} (interleaved rounds, same run)",
                "",
                *stages.table(stage),
                "",
                *([*stages.counted_lines(stage), ""] if stage.counted else []),
            ]
        ),
        "## Throughput with 1 and 2 workers (`--workers`, same run)",
        "",
        *(
            workers.table(r.workers)
            if r.workers
            else [f"Not measured: {r.workers_skipped or 'this report predates it'}"]
        ),
        "",
        "## CPU ratios",
        "",
        *report.ratio_table(r),
        "",
        "## Baselines: the upstream requests, straight and through the other proxies",
        "",
        *report.baseline_table(r),
        "",
        "## Sequential added latency (one connection, legacy chat JSON)",
        "",
        *report.sequential_table(r),
        "",
        "## Concurrent open streams in one gateway process (legacy stream route)",
        "",
        *report.streams_section(r),
        "",
        "## Budget (bench/README.md)",
        "",
        *report.budget(r),
        *(line for stage in r.stages if (line := stages.budget(stage)) is not None),
        *(line for stage in r.stages for line in stages.counted_budget(stage)),
    ]
    lines += ["", f"The run took {r.seconds} s."]
    if r.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in r.notes)]
    return "\n".join(lines) + "\n"


def stages_markdown(r: Results) -> str:
    """A run of stages alone (`--stage`): their tables and budget lines, nothing else."""
    lines = [
        f"# ai-gateway benchmark, {r.started_utc}: stages only",
        "",
        *_kv("Machine", r.machine),
        *_kv("Configuration", r.config),
    ]
    if r.workers:
        lines += ["## Throughput with 1 and 2 workers", "", *workers.table(r.workers), ""]
    for stage in r.stages:
        lines += [f"## Stage cost: {stage.name} (interleaved rounds)", "", *stages.table(stage), ""]
        lines += [*stages.counted_lines(stage), ""] if stage.counted else []
    lines += [line for stage in r.stages if (line := stages.budget(stage)) is not None]
    lines += [line for stage in r.stages for line in stages.counted_budget(stage)]
    lines += ["", f"The run took {r.seconds} s."]
    return "\n".join(lines) + "\n"


def _measured(raw: dict[str, Any]) -> Measured:
    load = raw["load"]
    return Measured(Load(**load) if load else None, raw["skipped"], raw["events"])


def from_json(raw: dict[str, Any]) -> Results:
    r = Results(raw["started_utc"], raw["machine"], raw["versions"], raw["config"])
    r.baselines = {
        kind: {target: _measured(m) for target, m in row.items()}
        for kind, row in raw["baselines"].items()
    }
    r.scenarios = [
        ScenarioResult(s["key"], s["label"], s["kind"], _measured(s["gateway"]))
        for s in raw["scenarios"]
    ]
    r.sequential = {target: _measured(m) for target, m in raw["sequential"].items()}
    r.workers = {label: [_measured(m) for m in ms] for label, ms in raw.get("workers", {}).items()}
    r.workers_skipped = raw.get("workers_skipped", "")
    # Reports before 2026-11-30 measured variants one after the other ("variants"): not shown.
    r.stages = [
        StageResult(
            stage["name"],
            stage["off"],
            stage["budget_pct"]
            if isinstance(stage["budget_pct"], dict)
            else dict.fromkeys(
                [k for k in stage["rounds"] if k != stage["off"]], stage["budget_pct"]
            ),
            {
                label: {key: [_measured(m) for m in ms] for key, ms in row.items()}
                for label, row in stage["rounds"].items()
            },
            stage["skipped"],
            stage.get("counted", {}),
        )
        for stage in raw.get("stages", [])
    ]
    r.streams, r.streams_skipped = raw["streams"], raw["streams_skipped"]
    r.notes, r.seconds = raw["notes"], raw.get("seconds", 0)
    return r


def main() -> None:
    for name in sys.argv[1:]:
        path = Path(name)
        path.with_suffix(".md").write_text(markdown(from_json(orjson.loads(path.read_bytes()))))
        sys.stdout.write(f"written: {path.with_suffix('.md')}\n")


if __name__ == "__main__":
    main()
