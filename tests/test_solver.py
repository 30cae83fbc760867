"""The solver's outcome at a time limit: a plan without a proven bound has bound None
(never an infinite number, which summary.json could not hold)."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pyomo.environ as pyo

from optim.solver import TIME_LIMIT, solve_model


def test_a_time_limit_before_any_bound_gives_no_bound() -> None:
    rng = random.Random(0)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(40), domain=pyo.Integers, bounds=(0, 10))
    m.c = pyo.ConstraintList()
    for _ in range(30):
        m.c.add(sum(rng.random() * m.x[j] for j in range(40)) <= 37.3)
    m.o = pyo.Objective(expr=sum((1 + rng.random()) * m.x[j] for j in range(40)),
                        sense=pyo.maximize)
    out = solve_model(m, 0.0, 1e-9, {}, 1.0, start=[(m.x[j], 0.0) for j in range(40)])
    assert out.status == TIME_LIMIT
    assert out.bound_usd is None and out.mip_gap is None
    json.dumps({"bound_usd": out.bound_usd}, allow_nan=False)


def test_importing_optim_does_not_import_scipy_stats_yet_pyomo_still_compiles() -> None:
    """Pyomo's hook that imports scipy.stats with scipy (about 1 s of every command) is
    off; Pyomo's own standard-form compiler still finds scipy when it needs it."""
    code = ("import sys, optim.cli, optim.engine\n"
            "assert 'scipy.sparse' in sys.modules and 'scipy.stats' not in sys.modules\n"
            "import pyomo.environ as pyo\n"
            "from optim.solver import compile_model\n"
            "m = pyo.ConcreteModel(); m.x = pyo.Var(bounds=(0, 1))\n"
            "m.c = pyo.Constraint(expr=2 * m.x <= 1)\n"
            "m.o = pyo.Objective(expr=m.x, sense=pyo.maximize)\n"
            "assert compile_model(m).n_rows == 1\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr


def _form(rows: list[int], integer: list[bool]):
    import numpy as np
    import scipy.sparse as sp

    from optim.standard_form import StandardForm

    n = len(integer)
    a = sp.csc_matrix((np.ones(n), (rows, range(n))), shape=(1, n))
    return StandardForm(np.arange(n), a, np.zeros(n), np.full(n, 2.5), np.array(integer),
                        np.array([-np.inf]), np.array([4.0]), np.array([1.0, 2.0]), 0.5)


def test_highs_gets_the_arrays_of_the_compiled_form() -> None:
    """The arrays reach HiGHS as they are: max 0.5 + x0 + 2 x1, x0 + x1 <= 4, 0 <= x <= 2.5,
    x1 integer: x1 = 2 (2.5 is not integer), x0 = 2, objective 6.5; as an LP x1 = 2.5,
    x0 = 1.5, objective 7.0."""
    from optim.solver import OPTIMAL, compile_form, solve_compiled

    got: list = []
    mip = solve_compiled(compile_form([0, 1], _form([0, 0], [False, True])), 0.0, None,
                         on_values=got.append)
    assert (mip.status, mip.objective_usd, got[0].tolist()) == (OPTIMAL, 6.5, [2.0, 2.0])
    lp = solve_compiled(compile_form([0, 1], _form([0, 0], [False, False])), 0.0, None,
                        on_values=got.append)
    assert (lp.status, lp.objective_usd, got[1].tolist()) == (OPTIMAL, 7.0, [1.5, 2.5])


def test_a_model_highs_refuses_is_an_error_not_the_last_model() -> None:
    """HiGHS keeps its previous model when it refuses one (here a matrix entry in row 3 of
    a one-row LP): the hand-off raises instead of solving that one."""
    import highspy
    import pytest

    from optim.errors import SolverError
    from optim.solver import compile_form

    h = highspy.Highs()
    h.silent()
    compile_form([0, 1], _form([0, 0], [False, False])).pass_to(h)
    bad = compile_form([0, 1], _form([0, 0], [False, False]))
    bad.form.a.indices[1] = 3
    with pytest.raises(SolverError, match="refused"):
        bad.pass_to(h)
