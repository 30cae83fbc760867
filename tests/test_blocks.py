"""An LP solved block by block (the `split_blocks` lever) is the LP solved whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from optim import solver
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
    assert [(c.tolist(), r.tolist(), e) for c, r, e in blocks] == [([0, 1], [0, 2], 3),
                                                                    ([2, 3, 4], [1], 2)]
    [(cols, rows, largest)] = _form(a).blocks(min_entries=100)
    assert largest == 3
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


def _tiled(a: np.ndarray, lower: list[float], upper: list[float], cost: list[float],
           copies: int) -> StandardForm:
    """`copies` independent copies of one small LP (0 <= x <= 2), as one form."""
    n_rows, n_cols = a.shape
    big = sp.block_diag([sp.csr_matrix(a)] * copies, format="csc")
    return StandardForm(np.arange(n_cols * copies), big, np.zeros(n_cols * copies),
                        np.full(n_cols * copies, 2.0), np.zeros(n_cols * copies, bool),
                        np.tile(lower, copies), np.tile(upper, copies),
                        np.tile(cost, copies), 0.0)


@pytest.mark.parametrize(("form", "expected"), [
    # one row over three columns: presolve solves each hour outright -> on throughout
    (_tiled(np.array([[1.0, 1, 1]]), [-np.inf], [3.0], [1.0, 2, -1], 100), ("on", "on")),
    # two rows over five columns: presolve cannot -> off after the first group
    (_tiled(np.array([[1.0, -1, 1, -1, 2], [1, 1, 0, 0, 1]]), [0.0, -np.inf], [0.0, 3.0],
            [1.0, 2, -1, 3, 0.5], 40), ("on", "off")),
    # blocks larger than TINY_BLOCK_ENTRIES (a year's row): never presolved
    (_tiled(np.ones((1, 70)), [-np.inf], [3.0], np.linspace(-1, 1, 70).tolist(), 6),
     ("off", "off")),
])
def test_the_presolve_probe_keeps_presolve_where_it_solves_tiny_blocks_outright(
        form: StandardForm, expected: tuple[str, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first group of tiny blocks is solved with presolve on; the rest keep it only if
    that presolve solved the group outright (`expected`: the first group's and the rest's)."""
    used: list[str] = []
    real = solver.solve_compiled

    def spy(*args: object, **kwargs: object) -> solver.SolveOutcome:
        used.append(args[3]["presolve"])
        return real(*args, **kwargs)

    monkeypatch.setattr(solver, "solve_compiled", spy)
    n_entries = form.a.nnz
    probed, x = solver.solve_blocks(form, {"presolve": solver.PROBE},
                                    min_entries=n_entries // 5)
    assert len(used) >= 5 and used[0] == expected[0] and set(used[1:]) == {expected[1]}
    monkeypatch.setattr(solver, "solve_compiled", real)
    plain, y = solver.solve_blocks(form, {"presolve": "off"}, min_entries=n_entries)
    assert probed.objective_usd == pytest.approx(plain.objective_usd, rel=1e-9)
    assert form.cost @ x == pytest.approx(plain.objective_usd, rel=1e-9)
