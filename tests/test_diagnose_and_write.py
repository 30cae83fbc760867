"""Infeasibility messages (data conflicts, the capex budget), the atomic replacement of a
results folder, and the fallback from solving sites alone to one model. Every expected
number is derived in the test's docstring, not copied from a solver run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import SITE, write_case
from typer.testing import CliRunner

from optim import cli, solve
from optim.tuning import Tuning

runner = CliRunner()

AI = ('ai = {{ hall_it_mw = 5.0, max_halls = {max_halls}, capex_usd_per_mw_it = 1.0, '
      'lease_usd_per_kw_month = 100.0, life_months = 12, displaces_mining_mw_per_hall = '
      '{displaces}, under_construction = [{{ halls = 3, online_month = "2027-01" }}] }}\n')
GAS = """
[[generator]]
name = "gas"
unit_mw = 5.0
capex_usd_per_mw = 100000.0
life_months = 12
"""


def _site(name: str, extra: str = "") -> str:
    return SITE.replace('"alpha"', f'"{name}"') + extra


def _solve_cli(path: Path, out: Path) -> tuple[int, str]:
    result = runner.invoke(cli.app, ["solve", str(path), "--out", str(out), "-q"])
    return result.exit_code, " ".join(result.output.split())


def test_data_conflicts_name_site_and_field(tmp_path: Path) -> None:
    """Three sites, each with a contradiction visible in the data alone (no solve):
    * `halls`: 3 halls under construction, ai.max_halls 1: above it by 2;
    * `units`: generation gas with existing_units 3, max_units 1: above it by 2;
    * `infra`: mining_infra_mw 10 minus 4 MW displaced x 3 halls under construction
      (online from the first month, 2027-01) = -2 MW."""
    body = (GAS + _site("halls", AI.format(max_halls=1, displaces=0.0))
            + _site("units", 'generation = [{ technology = "gas", max_units = 1, '
                             'existing_units = 3 }]\n')
            + _site("infra", AI.format(max_halls=3, displaces=4.0)))
    out = tmp_path / "out"
    code, text = _solve_cli(write_case(tmp_path / "case", body), out)
    assert code == 3, text
    assert ("the scenario's requirements conflict: "
            "site 'halls': halls under construction exceed ai.max_halls by 2 "
            "site 'units': generation 'gas' has existing_units above max_units by 2 "
            "site 'infra': mining_infra_mw 10 minus ai.displaces_mining_mw_per_hall 4 x halls "
            "under construction is negative (-2 MW) from 2027-01") in text
    assert not out.exists()


def test_capex_budget_alone_makes_the_portfolio_infeasible(tmp_path: Path) -> None:
    """What forces capex: a hall under construction is online from 2027-01 and draws
    5 MW (pue 1 x hall_it_mw 5) in every hour, never curtailed; the site has no grid
    import, so it must build one 5 MW gas unit in the first month (lead time 0), cash
    capex 5 x 100,000 = 500,000. Signed leases would only be priced; this is forced.

    Each of the two such sites alone fits the year-0 budget of 600,000; together they
    need 1,000,000. So the portfolio is infeasible only through capex_budget_usd."""
    site = """
[[site]]
name = "{name}"
node = "N1"
ai = {{ hall_it_mw = 5.0, max_halls = 1, capex_usd_per_mw_it = 1.0, lease_usd_per_kw_month = 100.0, life_months = 12, under_construction = [{{ halls = 1, online_month = "2027-01" }}] }}
generation = [{{ technology = "gas", max_units = 1 }}]
"""  # noqa: E501
    body = GAS + site.format(name="east") + site.format(name="west")
    alone = write_case(tmp_path / "alone", GAS + site.format(name="east"),
                       scenario_extra="capex_budget_usd = [600000.0]")
    assert solve(alone).npv_usd > 0  # one site fits the budget
    path = write_case(tmp_path / "both", body, scenario_extra="capex_budget_usd = [600000.0]")
    out = tmp_path / "out"
    code, text = _solve_cli(path, out)
    assert code == 3, text
    assert ("no feasible plan: every site is feasible alone; the portfolio constraints "
            "(capex_budget_usd) cannot be met together") in text
    assert not out.exists()
    loose = write_case(tmp_path / "loose", body, scenario_extra="capex_budget_usd = [1000000.0]")
    assert solve(loose).status == "optimal"  # the budget, and only the budget, binds


def _siblings(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name != out.name and
                  p.name.startswith(f".{out.name}."))


def test_solving_again_replaces_the_results_folder_atomically(tmp_path: Path) -> None:
    """A second solve into the same --out replaces optim's files (the summary is the
    second scenario's) and keeps a file the user left there (optim never deletes what it
    did not write, tests/test_safety.py); a run that fails on bad input (exit 2) leaves the
    earlier folder as it was, byte for byte."""
    out = tmp_path / "results"
    npv = {}
    for name, price in (("first", 30.0), ("second", 40.0)):
        assert _solve_cli(write_case(tmp_path / name, price=price), out)[0] == 0
        npv[name] = json.loads((out / "summary.json").read_text())["npv_usd"]
        (out / f"{name}.txt").write_text("left by the user")
    # 10 MW mined at 100 USD/MWh (48 x 1000 / 20 / 24) against the import price, 744 hours
    assert npv == pytest.approx({"first": 744 * 10 * 70, "second": 744 * 10 * 60})
    assert (out / "first.txt").read_text() == "left by the user"
    assert _siblings(out) == []
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = write_case(tmp_path / "bad")
    bad.write_text(bad.read_text().replace("firm_import_mw", "firm_import_mv"))
    code, text = _solve_cli(bad, out)
    assert code == 2, text
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _siblings(out) == []


GAIN = """
[[site]]
name = "gain"
node = "N1"
firm_import_mw = 11.0
mining_infra_mw = 10.5
max_new_asic_mw = 1.0
existing_fleet = [{ asic = "S21", mw = 10.0 }]
"""
LOSS = """
[[site]]
name = "loss"
node = "N1"
ppa_mw = 10.0
ppa_price_usd_per_mwh = 94.0
"""


def test_sites_whose_gaps_do_not_cancel_are_solved_again_as_one_model(tmp_path: Path) -> None:
    """`gain` mines 10 MW at 100 USD/MWh against 30 and may buy one 1 MW block (cash capex
    1e6 / 20 x 10 = 500,000, capital charge 500,000 / 36 a month) of which only 0.5 MW fits
    under mining_infra_mw 10.5. `loss` holds a hedge losing 10 MW x (94 - 30) every hour.

    Optimum: buy the block (0.5 x 744 x 70 = 26,040 > 13,888.89):
    NPV = 10.5 x 744 x 70 - 500,000 / 36 - 10 x 744 x 64 = 56,791.11.
    The LP relaxation of `gain` buys half a block (10.5 MW mined, half the charge): bound
    520,800 + 26,040 - 6,944.44 = 539,895.56. With presolve off, `gain` alone
    stops at the root with an incumbent within its 5 % gap but a bound thousands of USD
    above it; summed with `loss` (NPV -476,160, exact), those dollars are more than 5 % of
    the small portfolio NPV: the per-site plans are discarded and one model is solved."""
    path = write_case(tmp_path, GAIN + LOSS)
    path.write_text(path.read_text().replace("mip_gap = 0", "mip_gap = 0.05")
                    + '\n[solver]\npresolve = "off"\n')
    expected = 10.5 * 744 * 70 - 500_000 / 36 - 10 * 744 * 64
    fallback = solve(path, tuning=Tuning(resolve_workers=1)).summary
    assert fallback["solved_by_site"] is False
    assert fallback["solved_by_site_discarded_s"] is not None
    assert fallback["solved_by_site_discarded_s"] >= 0
    whole = solve(path, tuning=Tuning(decompose="never", resolve_workers=1)).summary
    assert whole["solved_by_site"] is False and whole["solved_by_site_discarded_s"] is None
    # one model at 5 %: the only other plan (no block, 44,640) is 30 % below the LP bound
    assert fallback["npv_usd"] == pytest.approx(expected, abs=1e-3)
    assert whole["npv_usd"] == pytest.approx(expected, abs=1e-3)


def test_at_zero_gap_the_per_site_solve_is_kept(tmp_path: Path) -> None:
    """The same two sites at mip_gap 0 with prices 20 + 0.37 x (37 h mod 101) (all below
    100, so `gain` mines in every hour): each site is solved to optimality, and summing
    objectives and bounds leaves only float noise, which must not discard the plans.
    NPV = 10.5 x sum(100 - p) - 500,000 / 36 + 10 x sum(p - 94)."""
    price = 20.0 + 0.37 * (np.arange(744) * 37 % 101)
    path = write_case(tmp_path, GAIN + LOSS, price=price)
    alone = solve(path, tuning=Tuning(resolve_workers=1)).summary
    assert alone["solved_by_site"] is True
    assert alone["solved_by_site_discarded_s"] is None
    expected = 10.5 * (100 - price).sum() - 500_000 / 36 + 10 * (price - 94).sum()
    assert alone["npv_usd"] == pytest.approx(expected, abs=1e-3)
    whole = solve(path, tuning=Tuning(decompose="never", resolve_workers=1)).summary
    assert whole["npv_usd"] == pytest.approx(alone["npv_usd"], abs=1e-3)
