"""The cash view (optim.cashflow): free cash flows plus the terminal value give back the NPV,
the IRR zeroes the incremental cash, the payback month, and the no-investment baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import write_case
from hypothesis import given
from hypothesis import strategies as st

from optim import cashflow, engine
from optim.engine import Batch, solve
from optim.errors import InfeasibleError
from optim.tuning import Tuning

FIXTURES = Path(__file__).parent / "fixtures"


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.floats(1e3, 1e7),
       st.floats(0.0, 1e7))
def test_the_irr_zeroes_the_present_value(later: list[float], outlay: float,
                                          terminal: float) -> None:
    flows = np.array([-outlay, *later])
    rate = cashflow.irr(flows, terminal)
    scale = outlay + np.abs(later).sum() + terminal
    if rate is None:
        low = cashflow._npv_at(cashflow.IRR_LOW, flows, terminal)
        high = cashflow._npv_at(cashflow.IRR_HIGH, flows, terminal)
        assert low * high >= 0
    else:
        assert abs(cashflow._npv_at(rate, flows, terminal)) <= 1e-6 * scale


def test_payback_is_the_month_the_cumulative_cash_stays_positive() -> None:
    months = ["2027-01", "2027-02", "2027-03", "2027-04"]
    assert cashflow.payback_month(months, np.array([-10.0, 6.0, 6.0, 1.0])) == "2027-03"
    assert cashflow.payback_month(months, np.array([-10.0, 11.0, -5.0, 5.0])) == "2027-04"
    assert cashflow.payback_month(months, np.array([-10.0, 1.0, 1.0, 1.0])) is None
    assert cashflow.payback_month(months, np.array([0.0, 1.0, 1.0, 1.0])) is None


@pytest.mark.parametrize("name", ["discount_rate", "cash_flow_payback", "capex_budget",
                                  "signed_lease_late", "upgrade_serves_hall", "ai_bridge"])
def test_the_plan_never_earns_less_than_its_baseline(name: str) -> None:
    """The baseline is a feasible plan of the same problem: the optimum is at least as good,
    and the incremental cash discounted at the scenario's rate is the incremental NPV."""
    result = solve(FIXTURES / name / "scenario.toml", baseline=True)
    cash = result.summary["cash_flow"]
    npv = result.summary["npv_hourly_usd"] or result.summary["npv_usd"]
    assert cash["baseline_npv_usd"] <= npv + 1e-6 * max(1.0, abs(npv))
    flows = result.tables["cashflow"]
    plan = cashflow.portfolio(flows[flows["case"] == cashflow.PLAN])
    base = cashflow.portfolio(flows[flows["case"] == cashflow.BASELINE])
    rate = cash["discount_rate"]
    incremental = cashflow._npv_at(
        rate, plan["free_cash_flow_usd"].to_numpy() - base["free_cash_flow_usd"].to_numpy(),
        cash["incremental_terminal_value_usd"])
    assert incremental == pytest.approx(cash["incremental_npv_usd"], rel=1e-9, abs=1e-6)


# A hall under construction needs 10 MW of firm power the site can only get from a
# generator it has yet to build.
HALL_NEEDS_THE_GENERATOR = """
[[generator]]
name = "gas"
unit_mw = 10.0
capex_usd_per_mw = 1000000.0
fuel_usd_per_mmbtu = 3.0
heat_rate_mmbtu_per_mwh = 9.0
life_months = 240

[[site]]
name = "alpha"
node = "N1"
firm_import_mw = 0.0
mining_infra_mw = 0.0
generation = [{ technology = "gas", max_units = 1 }]

[site.ai]
hall_it_mw = 10.0
max_halls = 1
capex_usd_per_mw_it = 1000000.0
lead_time_months = 0
lease_usd_per_kw_month = 150.0
life_months = 120
under_construction = [{ halls = 1, online_month = "2027-01" }]
"""


def test_a_baseline_without_a_feasible_plan_is_reported_not_fatal(tmp_path: Path) -> None:
    """The plan builds the generator the hall needs; the baseline cannot exist."""
    result = solve(write_case(tmp_path, HALL_NEEDS_THE_GENERATOR), baseline=True)
    cash = result.summary["cash_flow"]
    assert "no-investment baseline has no feasible plan" in cash["baseline_error"]
    assert "incremental_npv_usd" not in cash
    assert set(result.tables["cashflow"]["case"]) == {cashflow.PLAN}
    assert cashflow.npv_of(result.tables["cashflow"]) == pytest.approx(result.npv_usd, rel=1e-9)


def test_annual_table_adds_the_sites_up_to_the_portfolio() -> None:
    result = solve(FIXTURES / "two_sites_budget" / "scenario.toml", baseline=True)
    table = cashflow.annual(result.tables["cashflow"])
    plan = table[table["case"] == cashflow.PLAN]
    sites = plan[plan["site"] != cashflow.PORTFOLIO].groupby("year")["free_cash_flow_usd"].sum()
    whole = plan[plan["site"] == cashflow.PORTFOLIO].set_index("year")["free_cash_flow_usd"]
    assert np.allclose(sites.sort_index(), whole.sort_index())
    last = plan[plan["site"] == cashflow.PORTFOLIO].iloc[-1]
    assert last["cumulative_free_cash_flow_usd"] == pytest.approx(
        plan.loc[plan["site"] == cashflow.PORTFOLIO, "free_cash_flow_usd"].sum())
    assert last["terminal_value_usd"] == pytest.approx(
        result.summary["cash_flow"]["terminal_value_usd"])


def test_one_pool_solves_a_repeated_site_once_and_returns_a_baseline_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan's re-solve and its baseline's share one pool of site solves: a site whose
    fixed decisions equal an earlier task's (a site the plan leaves as it is) is solved
    once and both batches get that answer, the one a solve of it alone gives; a batch that
    may fail (the baseline) returns its infeasibility while the plan keeps its answer, and
    a batch that may not raises it. With the generator the hall's dispatch is feasible;
    with every decision at zero (no generator) it is not."""
    run = engine._read(write_case(tmp_path, HALL_NEEDS_THE_GENERATOR), None, None, None,
                       None, False, Tuning(resolve_workers=1))
    engine._prepare(run)
    engine._investment_solve(run, engine.Phases())
    built = run.first.quantities
    assert any(v > 0 for v in built.values())
    alone, _ = engine._solve_sites(run.problem, dict(built), run.mip_gap, None, run.options,
                                   False, 1, "alone")
    nothing = dict.fromkeys(built, 0.0)
    solved_tasks: list = []
    real = engine._solve_site
    monkeypatch.setattr(engine, "_solve_site", lambda task: solved_tasks.append(task) or
                        real(task))
    plan, again, baseline = engine._solve_many(
        [Batch(run.problem, built, None, "the plan"),
         Batch(run.problem, dict(built), None, "the same again", True),
         Batch(run.problem, nothing, None, "the baseline", True)],
        run.mip_gap, None, run.options, False, 1)
    assert len(solved_tasks) == 2
    assert plan[0].objective_usd == again[0].objective_usd == alone.objective_usd
    assert isinstance(baseline, InfeasibleError) and "the baseline" in str(baseline)
    with pytest.raises(InfeasibleError, match="the plan"):
        engine._solve_many([Batch(run.problem, nothing, None, "the plan")], run.mip_gap, None,
                           run.options, False, 1)
