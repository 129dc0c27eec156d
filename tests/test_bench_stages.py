"""How the benchmark judges a stage's cost (bench/stages.py): by the interval its rounds give,
so a noisy run says UNDECIDED instead of passing or failing by chance, and by the counted
figures, which hardly move between runs."""

from bench.report import Measured, StageResult
from bench.stages import (
    STAGE_SCENARIOS,
    budget,
    cost_pct,
    counted_budget,
    counted_lines,
    interval_pct,
    verdict,
)
from bench.wrk import Load

OFF, ON = "off", "on"


def measured(cpu_us: float) -> Measured:
    return Measured(Load(1000, 1.0, 1000.0, 1.0, 2.0, 0, 20.0, {"gateway": cpu_us}))


def stage(off: list[float], on: list[float]) -> StageResult:
    result = StageResult("quotas", OFF, {ON: 5.0})
    for key in STAGE_SCENARIOS:
        result.rounds.setdefault(OFF, {})[key] = [measured(c) for c in off]
        result.rounds.setdefault(ON, {})[key] = [measured(c) for c in on]
    return result


def test_the_interval_holds_the_median_and_widens_with_the_scatter() -> None:
    steady = stage([100.0] * 24, [102.0 + (i % 3) * 0.5 for i in range(24)])
    key = STAGE_SCENARIOS[0]
    cost = cost_pct(steady, ON, key)
    bounds = interval_pct(steady, ON, key)
    assert cost is not None
    assert bounds is not None
    assert bounds[0] <= cost <= bounds[1]
    assert bounds[1] - bounds[0] <= 1.01
    noisy = stage([100.0] * 24, [80.0 + (i * 7 % 40) for i in range(24)])
    wide = interval_pct(noisy, ON, key)
    assert wide is not None
    assert wide[1] - wide[0] > 10
    assert interval_pct(stage([100.0] * 3, [101.0] * 3), ON, key) is None  # too few pairs


def test_a_cost_is_passed_failed_or_left_undecided_by_its_interval() -> None:
    assert verdict([(1.0, 4.0)] * 3, 5.0) == "PASS"
    assert verdict([(1.0, 4.0), (5.5, 9.0), (1.0, 2.0)], 5.0) == "FAIL"
    assert verdict([(1.0, 4.0), (-2.0, 7.0), (1.0, 2.0)], 5.0) == "UNDECIDED"
    assert verdict([(1.0, 4.0), None], 5.0) == "FAIL"  # a scenario not measured
    assert (budget(stage([100.0] * 24, [102.0] * 24)) or "").startswith("- **PASS** quotas")
    noisy = stage([100.0] * 24, [80.0 + (i * 7 % 40) for i in range(24)])
    assert (budget(noisy) or "").startswith("- **UNDECIDED** quotas")
    assert (budget(stage([100.0] * 24, [110.0] * 24)) or "").startswith("- **FAIL** quotas")


def test_the_counted_cost_is_judged_on_its_own() -> None:
    result = stage([100.0] * 24, [102.0] * 24)
    assert counted_lines(result) == []
    assert counted_budget(result) == []
    result.counted = {
        OFF: {key: {"cycles": 1000.0, "instructions": 800.0} for key in STAGE_SCENARIOS},
        ON: {key: {"cycles": 1030.0, "instructions": 820.0} for key in STAGE_SCENARIOS},
    }
    assert "estimated cycles +3.00 % / +3.00 % / +3.00 %" in counted_lines(result)[0]
    assert "instructions +2.50 %" in counted_lines(result)[0]
    assert counted_budget(result)[0].startswith("- **PASS** quotas, counted")
    result.counted[ON][STAGE_SCENARIOS[1]]["cycles"] = 1060.0
    assert counted_budget(result)[0].startswith("- **FAIL** quotas, counted")
    assert "+6.00 %" in counted_budget(result)[0]
