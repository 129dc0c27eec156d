"""`python -m bench.instructions` (a stage's cost in instructions and simulated cache misses,
bench/README.md): what it reads from callgrind's profile, and what it makes of it."""

from pathlib import Path

import pytest

from app import disconnect
from bench.instructions import SERVE, Counts, parse

# The head and the last lines of a callgrind dump with its cache simulator on.
PROFILE = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
pid: 4242
cmd:  python -c ...
part: 1

positions: line
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw
summary: 1000 300 200 40 30 20 4 3 2

fl=(1) a.c
fn=(1) main
1 1000 300 200 40 30 20 4 3 2
totals: 1000 300 200 40 30 20 4 3 2
"""


def test_the_totals_are_read_by_event(tmp_path: Path) -> None:
    profile = tmp_path / "callgrind.out.1"
    profile.write_text(PROFILE)
    totals = parse(profile)
    assert totals["Ir"] == 1000
    assert (totals["I1mr"], totals["D1mr"], totals["D1mw"]) == (40, 30, 20)
    assert (totals["ILmr"], totals["DLmr"], totals["DLmw"]) == (4, 3, 2)


def test_a_profile_without_totals_is_an_error(tmp_path: Path) -> None:
    profile = tmp_path / "callgrind.out.1"
    profile.write_text(PROFILE.split("summary:")[0])
    with pytest.raises(RuntimeError, match="no events or totals"):
        parse(profile)


def test_the_cycle_estimate_weighs_misses_as_kcachegrind_does() -> None:
    assert Counts(1000.0, 90.0, 9.0).cycles == 1000 + 10 * 90 + 100 * 9


def test_the_served_gateway_waits_longer_before_watching_its_caller() -> None:
    """Under valgrind a call takes ~100 times as long; the caller's watcher must start no
    sooner, relative to the call, than it would at full speed (app/disconnect.py)."""
    namespace: dict[str, object] = {}
    code = SERVE.format(slowdown=100).replace("main(sys.argv[1:])", "pass")
    before = disconnect.WATCH_AFTER_S
    try:
        exec(code, namespace)  # the tool's own start-up line, without starting the gateway
        assert disconnect.WATCH_AFTER_S == pytest.approx(before * 100)
    finally:
        disconnect.WATCH_AFTER_S = before
