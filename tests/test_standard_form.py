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


def test_rows_from_arrays_keep_each_rows_entries_in_order() -> None:
    """Core.sparse_rows: row r holds the entries whose row is r, in the order given (200
    entries in shuffled rows, trailing rows left empty), in the recorded arrays and in the
    Pyomo rows alike; Core.rows makes the same rows from (variables, coefficients) terms."""
    core = _empty_core()
    block = core.block("t")
    x = core.var(block, "x", range(50), 0.0, 10.0)
    rng = np.random.default_rng(7)
    row = rng.integers(0, 12, 200)
    col = core.cols(x)[rng.integers(0, 50, 200)]
    coef = np.round(rng.uniform(-5, 5, 200), 3)
    core.sparse_rows(block, "by_arrays", row, col, coef, 15, ">=", np.arange(15.0))
    expected = [[(int(c), float(k)) for r, c, k in zip(row, col, coef, strict=True) if r == j]
                for j in range(15)]
    store = core.lp
    got = [[(int(c), float(k)) for r, c, k in zip(store.rows[0], store.cols[0], store.coefs[0],
                                                  strict=True) if r == j] for j in range(15)]
    assert got == expected and store.n_rows == 15
    rows = list(block.by_arrays.values())
    assert len(rows) == 15 and [r.lower for r in rows] == list(np.arange(15.0))
    for j, r in enumerate(rows):
        body = r.body
        assert [(core.cols([v])[0], k) for v, k in zip(body.linear_vars, body.linear_coefs,
                                                      strict=True)] == expected[j]
        assert all(type(k) is float for k in r.canonical_form().linear_coefs)
    terms = [([core.vars[c] for c, _ in e], [k for _, k in e]) for e in expected]
    core.rows(block, "by_terms", terms, ">=", np.arange(15.0))
    assert [str(r.expr) for r in block.by_terms.values()] == [str(r.expr) for r in rows]


def test_rows_from_arrays_refuse_entries_outside_them() -> None:
    """A row past n_rows, or column -1 (a None member), would make the recorded rows and
    the Pyomo rows differ: refused when the rows are added."""
    core = _empty_core()
    block = core.block("t")
    x = core.var(block, "x", range(3), 0.0, 1.0)
    cols = core.cols(x)
    with pytest.raises(ValueError, match="outside 0..1"):
        core.sparse_rows(block, "a", np.array([0, 2]), cols[:2], np.ones(2), 2, "<=", 1.0)
    with pytest.raises(ValueError, match="None member"):
        core.sparse_rows(block, "b", np.array([0, 0]), np.array([cols[0], -1]), np.ones(2), 1,
                         "<=", 1.0)
    with pytest.raises(ValueError, match="None member"):
        core.rows(block, "c", [([x[0], None], [1.0, 1.0])], "<=", 1.0)


def test_picked_members_know_their_columns() -> None:
    """Core.pick (positions, -1 for none, or a mask) gives the members (None for none)
    and the columns a search by identity finds (-1 for none), without building that
    search."""
    core = _empty_core()
    block = core.block("t")
    x = core.var(block, "x", range(6), 0.0, 10.0)
    by_position = core.pick(x, np.array([4, 0, 2]))
    by_mask = core.pick(x, np.array([True, False, True, False, False, True]))
    with_gaps = core.pick(x, np.array([2, -1, 0, -1]))
    of_picked = core.pick(with_gaps, np.array([1, 2, -1]))
    assert by_position == [x[4], x[0], x[2]] and by_mask == [x[0], x[2], x[5]]
    assert with_gaps == [x[2], None, x[0], None] and of_picked == [None, x[0], None]
    assert not core._col
    for picked in (by_position, by_mask, with_gaps, of_picked):
        assert core.cols(picked).tolist() == \
            [-1 if v is None else core._column_map()[id(v)] for v in picked]


@pytest.mark.parametrize("keys", [[3, 3, 4], [(1,), (2,)], [((0, 1), 2), ((0, 2), 2)]],
                         ids=["repeated", "1-tuples", "nested tuples"])
def test_a_variable_refuses_keys_pyomo_would_change(keys) -> None:
    """Pyomo drops a repeated key and flattens 1-tuples and nested tuples; members made
    under the keys as given would not be the component's: refused."""
    core = _empty_core()
    with pytest.raises(ValueError, match="distinct and in Pyomo's normal form"):
        core.var(core.block("t"), "x", keys, 0.0, 1.0)


def test_the_parts_of_blocks_are_the_blocks_sliced_from_the_lp() -> None:
    """StandardForm.parts (one permutation, then slices) gives every block's LP exactly as
    StandardForm.part does, for block-diagonal LPs with empty rows and columns and the
    blocks in any order; blocks() finds the independent blocks."""
    import scipy.sparse as sp

    from optim.standard_form import StandardForm

    rng = np.random.default_rng(3)
    for _ in range(20):
        sizes = rng.integers(1, 6, (rng.integers(1, 6), 2))
        a = sp.block_diag([sp.random(r, c, 0.6, random_state=rng) for r, c in sizes]).tocsr()
        row_order, col_order = rng.permutation(a.shape[0]), rng.permutation(a.shape[1])
        a = a[row_order][:, col_order].tocsc()
        n_rows, n_cols = a.shape
        form = StandardForm(np.arange(n_cols) + 100, a, -rng.random(n_cols), rng.random(n_cols),
                            rng.random(n_cols) < 0.3, -rng.random(n_rows), rng.random(n_rows),
                            rng.random(n_cols), 1.5)
        blocks = form.blocks(int(rng.integers(1, 8)))
        assert sorted(np.concatenate([b.cols for b in blocks])) == list(range(n_cols))
        assert sorted(np.concatenate([b.rows for b in blocks])) == list(range(n_rows))
        for b in blocks:
            outside = np.setdiff1d(np.arange(n_rows), b.rows)
            assert a[outside][:, b.cols].nnz == 0
        shuffled = [blocks[i] for i in rng.permutation(len(blocks))]
        for block, part in zip(shuffled, form.parts(shuffled), strict=True):
            whole = form.part(block.cols, block.rows)
            assert (part.a != whole.a).nnz == 0 and part.a.shape == whole.a.shape
            assert (part.a.toarray() == a[block.rows][:, block.cols].toarray()).all()
            for field in ("columns", "col_lower", "col_upper", "integer", "row_lower",
                          "row_upper", "cost"):
                assert np.array_equal(getattr(part, field), getattr(whole, field)), field
            assert part.offset == whole.offset == 0.0
