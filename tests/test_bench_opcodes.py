"""`python -m bench.opcodes` (the steady check of a stage's cost, bench/README.md) runs, and
counts what the quotas add where they add it."""

import re
import subprocess
import sys
from pathlib import Path

from app.quotas import memory

ROOT = Path(__file__).resolve().parent.parent


def test_the_quotas_stage_is_counted_by_function() -> None:
    command = [sys.executable, "-m", "bench.opcodes", "--stage", "quotas", "--requests", "20"]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = done.stdout
    off = re.search(r"quotas off: ([\d,]+) bytecodes per request", report)
    on = re.search(r"quotas on, in-process: ([\d,]+) \(([+-][\d,]+), [+-]([\d.]+) %\)", report)
    assert off, report
    assert on, report
    more = int(on[2].replace(",", ""))
    # Each figure rounded on its own: the difference of the rounded ones is within 1.
    assert abs(int(on[1].replace(",", "")) - int(off[1].replace(",", "")) - more) <= 1
    assert more < 5000  # the five limits' admission and settlement, mostly compiled
    compiled = "compiled with mypyc (their machine code not counted): app.quotas.fastpath"
    assert (compiled in report) == memory.__file__.endswith(".so"), report
    if compiled in report:
        # The hooks are machine code: what is left in bytecode is the pipeline calling them.
        assert more < 400, report  # 20 requests: the loop's timers move it by ~±100
        found = re.search(r"\+\s*([\d.]+)\s+[\d.]+\s+app/pipeline\.py admit\n", report)
        assert found, report
    else:
        # From source, the hooks are among the functions that differ most, per request.
        for hook in ("admit", "record"):
            found = re.search(rf"\+\s*([\d.]+)\s+0\.0\s+app/quotas/fastpath\.py {hook}\n", report)
            assert found, report
            assert float(found[1]) > 20, report
