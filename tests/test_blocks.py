"""An LP solved block by block (the `split_blocks` lever) is the LP solved whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from optim.engine import _quantities, _solve, build_model
from optim.problem import build_problem
from optim.scenario import load_scenario
from optim.series import read_series
from optim.standard_form import StandardForm

FIXTURES = Path(__file__).parent / "fixtures"


def _form(a: np.ndarray) -> StandardForm:
    n_rows, n_cols = a.shape
    return StandardForm(np.arange(n_cols), sp.csc_matrix(a), np.zeros(n_cols),
                        np.ones(n_cols), np.zeros(n_cols, bool), np.full(n_rows, -np.inf),
                        np.ones(n_rows), np.ones(n_cols), 0.0)


def test_blocks_are_the_connected_rows_and_columns_grouped_in_order() -> None:
    a = np.array([[1, 1, 0, 0, 0],    # row 0: columns 0, 1
                  [0, 0, 1, 0, 1],    # row 1: columns 2, 4
                  [0, 1, 0, 0, 0]])   # row 2: column 1; column 3 is in no row
    blocks = _form(a).blocks(min_entries=1)
    # column 3 (no entries) joins the group of the component before it
    assert [(c.tolist(), r.tolist()) for c, r in blocks] == [([0, 1], [0, 2]),
                                                              ([2, 3, 4], [1])]
    [(cols, rows)] = _form(a).blocks(min_entries=100)
    assert cols.tolist() == [0, 1, 2, 3, 4] and rows.tolist() == [0, 1, 2]


@pytest.mark.parametrize("name", ["blocks_vs_hourly", "hosting_budget", "cp4_curtail",
                                  "reserve_monthly_forced_on", "stress_generation",
                                  "ai_tenant_profile"])
def test_a_re_solve_block_by_block_equals_the_whole_lp(name: str) -> None:
    scenario = load_scenario(FIXTURES / name / "scenario.toml")
    series = read_series(scenario)
    decided = build_model(build_problem(scenario, series, "blocks:2", True))
    _solve(decided, 0.0, None, {})
    fixed = _quantities(decided)
    hourly = build_problem(scenario, series, "hourly", True)
    whole = _solve(build_model(hourly, fixed=fixed), 0.0, None, {}, handoff="rows")
    core = build_model(hourly, fixed=fixed)
    split = _solve(core, 0.0, None, {}, handoff="blocks")
    assert split.status == whole.status == "optimal"
    assert split.objective_usd == pytest.approx(whole.objective_usd, rel=1e-9, abs=1e-6)
    assert "independent blocks" in split.highs_status
    form, x = core.standard_form(), core.values()
    assert np.isfinite(x).all()
    kept = x[form.columns]
    assert (form.a @ kept >= form.row_lower - 1e-6).all()
    assert (form.a @ kept <= form.row_upper + 1e-6).all()
    assert ((kept >= form.col_lower - 1e-9) & (kept <= form.col_upper + 1e-9)).all()
    assert (form.cost @ kept + form.offset) * core.objective_unit_usd == pytest.approx(
        split.objective_usd, rel=1e-9, abs=1e-6)
