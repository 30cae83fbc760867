"""The solver's outcome at a time limit: a plan without a proven bound has bound None
(never an infinite number, which summary.json could not hold)."""

from __future__ import annotations

import json
import random

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
