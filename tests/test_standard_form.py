"""The rows the Core records as it builds (the `direct_handoff` lever) are the LP that
Pyomo's standard form compiles from the model's expressions: same columns with the same
bounds, costs and integrality, same rows (compared as sorted row signatures), same
optimum. Checked on every fixture: the investment model, its re-solve with the decisions
fixed (substituted into the rows), and the elastic model that explains infeasibility; for
the futures fixtures, the extensive form with its CVaR rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optim.engine import _quantities, build_model
from optim.futures import read_futures, series_of
from optim.problem import build_problem
from optim.scenario import load_scenario
from optim.series import read_series
from optim.solver import compile_form, compile_model, solve_compiled

FIXTURES = sorted((Path(__file__).parent / "fixtures").glob("*/scenario.toml"))


def _rows(compiled, order: np.ndarray) -> list[tuple]:
    """Every row as (bounds, sorted (column, coefficient) pairs), columns in `order`."""
    form = compiled.form
    a = form.a.tocoo()
    entries: list[list] = [[] for _ in range(a.shape[0])]
    for r, c, v in zip(a.row.tolist(), a.col.tolist(), a.data.tolist(), strict=True):
        entries[r].append((int(order[c]), round(v, 9)))
    return sorted((round(lo, 6), round(hi, 6), tuple(sorted(e))) for lo, hi, e in
                  zip(form.row_lower.tolist(), form.row_upper.tolist(), entries, strict=True))


def _same_lp(core) -> None:
    pyomo = compile_model(core.m)
    form = core.standard_form()
    direct = compile_form([core.vars[c] for c in form.columns], form)
    position = {id(v): i for i, v in enumerate(pyomo.columns)}
    assert sorted(position) == sorted(id(v) for v in direct.columns)
    order = np.array([position[id(v)] for v in direct.columns], int)
    for field in ("cost", "col_lower", "col_upper"):
        mine = np.empty(len(order))
        mine[order] = getattr(direct.form, field)
        assert np.allclose(mine, getattr(pyomo.form, field), rtol=1e-12), field
    assert (pyomo.integrality[order] == direct.integrality).all()
    assert direct.offset == pytest.approx(pyomo.offset, rel=1e-12, abs=1e-9)
    assert _rows(direct, order) == _rows(pyomo, np.arange(pyomo.n_columns))
    a = solve_compiled(pyomo, 0.0, None).objective_usd
    b = solve_compiled(direct, 0.0, None).objective_usd
    assert (a is None) == (b is None)
    if a is not None:
        assert b == pytest.approx(a, rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.parent.name for p in FIXTURES])
def test_recorded_rows_are_pyomos_standard_form(path: Path) -> None:
    scenario = load_scenario(path)
    series = read_series(scenario)
    if scenario.futures is not None:  # the extensive form, its CVaR rows included
        fut = read_futures(scenario, series.horizon)
        problems = tuple(build_problem(scenario, series_of(series, fut, f),
                                       scenario.scenario.resolution, future=name,
                                       probability=float(fut.probability[f]))
                         for f, name in enumerate(fut.names))
        _same_lp(build_model(problems, commit_months=fut.commit_months,
                             risk=(fut.risk_alpha, max(fut.risk_weight, 0.5))))
        return
    problem = build_problem(scenario, series, scenario.scenario.resolution)
    core = build_model(problem)
    _same_lp(core)
    _same_lp(build_model(problem, elastic=True))
    if solve_compiled(compile_model(core.m), 0.0, None).objective_usd is not None:
        hourly = build_problem(scenario, series, "hourly")
        _same_lp(build_model(hourly, fixed=_quantities(core)))


def test_a_constraint_made_outside_the_core_is_refused() -> None:
    """The recorded rows would miss it, so the hand-off refuses rather than drop it."""
    import pyomo.environ as pyo

    scenario = load_scenario(FIXTURES[0])
    core = build_model(build_problem(scenario, read_series(scenario)))
    core.m.stray = pyo.Constraint(expr=core.vars[0] <= 1.0)
    with pytest.raises(RuntimeError, match="1 Pyomo constraints were added outside"):
        core.standard_form()


def test_the_objective_expression_is_built_when_first_read() -> None:
    """A re-solve hands its arrays to HiGHS and never reads the Pyomo objective; whoever
    does (a clone first, then Pyomo's value) gets constant + coefs . x exactly."""
    import pyomo.environ as pyo

    from optim.core import LinearObjective

    m = pyo.ConcreteModel()
    m.x = pyo.Var([0, 1, 2], bounds=(0, 4))
    m.npv = LinearObjective(2.0, np.array([3.0, -1.0, 0.5]), np.array([0, 1, 2]),
                            [m.x[0], m.x[1], m.x[2]], pyo.maximize)
    assert m.npv._terms is not None
    copy = m.clone()
    for model in (m, copy):
        for i, v in enumerate((1.0, 2.0, 4.0)):
            model.x[i].value = v
        assert pyo.value(model.npv) == pytest.approx(2.0 + 3.0 - 2.0 + 2.0)
        assert model.npv._terms is None
        assert {id(v) for v in pyo.expr.identify_variables(model.npv.expr)} == \
            {id(model.x[i]) for i in range(3)}
        assert model.npv.sense == pyo.maximize


def test_a_cloned_model_is_the_same_lp() -> None:
    """Pyomo's clone of a built model (its matrix rows made on first use, its objective
    built on first read) compiles to the LP of the original, over the clone's variables."""
    scenario = load_scenario(FIXTURES[0])
    core = build_model(build_problem(scenario, read_series(scenario)))
    copy = core.m.clone()
    a, b = compile_model(core.m), compile_model(copy)
    assert {id(v) for v in b.columns}.isdisjoint(id(v) for v in a.columns)
    assert [v.name for v in a.columns] == [v.name for v in b.columns]
    assert _rows(a, np.arange(a.n_columns)) == _rows(b, np.arange(b.n_columns))
    for field in ("cost", "col_lower", "col_upper"):
        assert np.array_equal(getattr(a.form, field), getattr(b.form, field))
    assert a.offset == b.offset


def test_a_matrix_row_reads_as_the_relation_it_records() -> None:
    """`row.expr` of every matrix row is a Pyomo relation (==, <= or >=) between its body
    and its bound, and the solved plan satisfies each one (evaluated side by side); the
    fixtures are read until every sense has been seen."""
    import pyomo.environ as pyo
    from pyomo.core.expr.relational_expr import EqualityExpression, InequalityExpression

    from optim.engine import _solve

    senses: set[str] = set()
    first = [p for p in FIXTURES if p.parent.name in ("signed_lease_ontime", "hosting_budget")]
    for path in first + [p for p in FIXTURES if p not in first]:
        scenario = load_scenario(path)
        if scenario.futures is not None:
            continue
        core = build_model(build_problem(scenario, read_series(scenario)))
        if _solve(core, 0.0, None, {}, handoff="pyomo").objective_usd is None:
            continue
        rows = [r for c in core.m.component_objects(pyo.Constraint, active=True)
                for r in c.values()]
        assert len(rows) == core.lp.n_rows
        for row in rows:
            relation = row.expr
            assert isinstance(relation, (EqualityExpression, InequalityExpression)), relation
            left, right = (pyo.value(side) for side in relation.args)
            tol = 1e-6 * max(1.0, abs(left), abs(right))
            body = str(row.body)  # a new expression at every read: compared as text
            if isinstance(relation, EqualityExpression):
                senses.add("==")
                assert left == pytest.approx(right, abs=tol)
                assert str(relation.args[0]) == body
                assert relation.args[1] == row.upper == row.lower
            elif row.lower is None:
                senses.add("<=")
                assert left <= right + tol
                assert (str(relation.args[0]), relation.args[1]) == (body, row.upper)
            else:
                senses.add(">=")
                assert left <= right + tol
                assert (relation.args[0], str(relation.args[1])) == (row.lower, body)
                assert str(relation) == f"{row.lower}  <=  {body}"
        if senses == {"==", "<=", ">="}:
            return
    pytest.fail(f"the fixtures' rows have only the senses {sorted(senses)}")


def _empty_core():
    from optim.core import Core

    scenario = load_scenario(FIXTURES[0])
    return Core(build_problem(scenario, read_series(scenario)))


@pytest.mark.parametrize("keys", [range(5), range(3, 9), [(0, 2), (1, 2), (0, 3)], [7, 2, 9]],
                         ids=["range", "offset range", "tuples", "unordered"])
@pytest.mark.parametrize("integer", [False, True])
def test_a_variables_members_are_what_pyomo_makes(keys, integer: bool) -> None:
    """Core.var makes its members slot by slot (Core._members): every one is the member
    Pyomo's own dense construction makes (index, name, bounds, domain, value, flags), in
    key order, and the component finds, iterates, fixes and clones them as its own."""
    import pyomo.environ as pyo

    core = _empty_core()
    block = core.block("t")
    n = len(keys)
    lb, ub = np.arange(n) * -1.0, np.arange(n) + 0.5
    members = core.var(block, "x", keys, lb, ub, integer=integer)
    pyomos = pyo.Var(list(keys), domain=pyo.Integers if integer else pyo.Reals,
                     bounds=lambda _m, *k: (lb[list(keys).index(k[0] if len(k) == 1 else k)],
                                            ub[list(keys).index(k[0] if len(k) == 1 else k)]))
    block.add_component("y", pyomos)
    component = block.x
    assert list(component.values()) == members == [component[k] for k in keys]
    assert list(component.keys()) == list(pyomos.keys()) == list(keys)
    assert len(component) == n
    for v, w in zip(members, pyomos.values(), strict=True):
        assert (v.index(), v.lb, v.ub, v.domain, v.value, v.fixed, v.stale) == \
            (w.index(), w.lb, w.ub, w.domain, w.value, w.fixed, w.stale)
        assert v.name == w.name.replace("t.y", "t.x")
        assert v.parent_component() is component and v.parent_block() is block
        assert v.is_integer() == integer
    members[1].fix(0.0)
    assert members[1].fixed and members[1].value == 0.0 and not members[0].fixed
    copy = block.clone()
    assert [c.index() for c in copy.x.values()] == list(keys)
    assert all(c is not v for c, v in zip(copy.x.values(), members, strict=True))
    assert [(c.lb, c.ub, c.fixed) for c in copy.x.values()] == \
        [(v.lb, v.ub, v.fixed) for v in members]
    assert core.cols(members).tolist() == list(range(len(core.vars) - n, len(core.vars)))


def test_rows_from_arrays_are_the_rows_of_their_terms() -> None:
    """Core.sparse_rows (entries as arrays, columns from whole member lists or `pick`)
    records and builds the rows Core.rows makes from (variables, coefficients) terms, each
    row's entries in the order given; `pick` knows the columns a search by identity
    finds."""
    core = _empty_core()
    block = core.block("t")
    x = core.var(block, "x", range(6), 0.0, 10.0)
    z = core.var(block, "z", range(3), 0.0, None)
    picked = core.pick(x, np.array([4, 0, 2]))
    assert picked == [x[4], x[0], x[2]]
    assert core.cols(picked).tolist() == [core._column_map()[id(v)] for v in picked]
    terms = [([z[0], x[4], x[0]], [1.0, -2.0, 0.5]), ([z[1]], [3.0]), ([z[2], x[2]], [1.0, 1.0])]
    core.rows(block, "by_terms", terms, "<=", np.array([1.0, 2.0, 3.0]))
    row = np.array([2, 0, 1, 0, 0, 2])
    col = np.concatenate([core.cols(z)[[2, 0, 1]], core.cols(picked)])
    coef = np.array([1.0, 1.0, 3.0, -2.0, 0.5, 1.0])
    core.sparse_rows(block, "by_arrays", row, col, coef, 3, "<=", np.array([1.0, 2.0, 3.0]))
    by_terms, by_arrays = block.by_terms, block.by_arrays
    assert [str(r.expr) for r in by_terms.values()] == [str(r.expr) for r in by_arrays.values()]
    assert [r.upper for r in by_arrays.values()] == [1.0, 2.0, 3.0]
    lp = core.lp
    for part in ("rows", "cols", "coefs", "upper"):
        first, second = getattr(lp, part)[0], getattr(lp, part)[1]
        if part == "rows":
            second = second - 3
        assert np.array_equal(first, second), part
