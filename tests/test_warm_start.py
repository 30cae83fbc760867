"""An hourly MIP's start: the blocks:12 plan's decisions, completed by an LP of the dispatch
solved block by block, and taken as the answer only when the LP relaxation's bound proves
it within the requested gap (Tuning.certify_start)."""

from __future__ import annotations

from pathlib import Path

import pytest

from optim import engine
from optim.tuning import Tuning

BUDGET = Path(__file__).parent / "fixtures" / "two_sites_budget" / "scenario.toml"


def hourly_mip(path: Path) -> tuple[engine.Run, engine.Core, list]:
    """A scenario's hourly model (one MIP: its capex budget couples the sites) and the
    decisions of its blocks:12 plan as a start."""
    run = engine._read(path, None, None, None, None, False, Tuning())
    engine._prepare(run)
    core = engine.build_model(run.problem)
    start = engine._warm_start(core, run.scenario, run.series, "blocks:12", 0.0, None, {})
    assert start
    return run, core, start


def test_a_completed_start_is_its_decisions_dispatched_hour_by_hour() -> None:
    """The completed start keeps its decisions, and its NPV is the one a second model
    gives: the hourly re-solve with those decisions as constants, site by site."""
    run, core, start = hourly_mip(BUDGET)
    x, completed = engine._completed_start(core, start, {}, None)
    assert [x[c] for c in core.cols([v for v, _ in start])] == [value for _, value in start]
    quantities = {key: float(x[c]) for key, c in engine._decisions(core)}
    _, resolved = engine._solve_sites(run.problem, quantities, 0.0, None, {}, False, 1,
                                      "the re-solve")
    assert completed.objective_usd == pytest.approx(resolved.objective_usd, rel=1e-9)


def test_only_a_start_the_relaxation_proves_is_the_answer() -> None:
    """Investing nothing is a feasible start here (NPV 0: the sites have no fleet yet) but
    not an optimal one: the relaxation's bound proves it only within a gap as wide as its
    own, and that bound is no lower than the optimum HiGHS finds."""
    run, core, _ = hourly_mip(BUDGET)
    nothing = [(core.vars[c], 0.0) for _, c in engine._decisions(core)]
    x, completed = engine._completed_start(core, nothing, {}, None)
    optimum = engine.solve(BUDGET, tuning=Tuning(certify_start=False)).npv_usd
    assert completed.objective_usd < optimum - 1.0
    assert engine._certified_start(core, x, completed, 0.0, {}, None) is None
    proved = engine._certified_start(core, x, completed, float("inf"), {}, None)
    assert proved is not None and proved.objective_usd == completed.objective_usd
    assert proved.bound_usd >= optimum - 1e-6 * abs(optimum)
    assert engine._certified_start(core, x, completed, proved.mip_gap, {}, None) is not None
    assert engine._certified_start(core, x, completed, proved.mip_gap * 0.99, {}, None) is None


def test_a_proved_start_is_reported_as_such() -> None:
    """The fixture's blocks:12 plan is its hourly optimum (its hand-derived NPV, checked by
    test_fixtures): the bound proves it at gap 0, and summary.json says where the plan came
    from."""
    summary = engine.solve(BUDGET).summary
    assert summary["highs_status"].startswith("Optimal (the warm start's plan")
    assert summary["mip_gap"] <= engine.GAP_FLOOR
    assert summary["bound_usd"] >= summary["npv_usd"] - 1e-6
