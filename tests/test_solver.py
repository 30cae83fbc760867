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
