"""The core of the Pyomo model: owns the power balance, the rows the options declare, the
cash ledger that becomes the NPV, and the investment ledger that becomes capital charges,
the capex budget and `investments.parquet`.

Option modules (models/) add their own variables and constraints on a block of their own
and register terms here; the core never names an option. A row other than the power
balance is declared by the option that owns it (sense, right-hand side, explanation) and
any option may add terms to it. Every term is a list of Pyomo variables with numpy
coefficients, so results are computed from the solution vector with array arithmetic,
and the objective is exactly the sum of the reported lines.

Futures: the core holds one problem per future (a deterministic run is the case of one)
and builds every option once per future (`enter`); rows, ledgers and flows carry the
future's index. Decisions of months before `commit_months` are one column shared by all
futures; later decisions and all dispatch are per future. The objective weights each
future's NPV by its probability.
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.matrix_constraint import MatrixConstraint, _MatrixConstraintData
from pyomo.core.base.objective import ScalarObjective
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.core.expr.relational_expr import (
    EqualityExpression,
    InequalityExpression,
    RelationalExpression,
)

from optim.problem import Problem
from optim.standard_form import RowStore, StandardForm, standard_form

POWER = "power"
COST_SCALE_DIGITS = 2  # the investment MIP's largest objective coefficient is scaled to ~1e2
CORE_LINES = {"capital_charges_usd": ("Capital charges", 100)}


def _members(component: pyo.Var, keys: Sequence, lbs: list[float],
             ubs: list[float | None]) -> list:
    """The members of an indexed Var (declared not dense, so it has none yet) in key
    order, with their bounds: the first made by Pyomo, the rest copied from it slot by
    slot as Pyomo's dense construction does (VarData.copy), bounds and index set in the
    same pass. Pyomo's own dense construction and a second pass for the bounds cost 1.8x
    as long (43,800 members: 21.5 ms against 12 ms), and building variables is most of a
    re-solve's build."""
    if not len(keys):
        return []
    first = component[keys[0]]
    cls, owner, domain, value, stale = (type(first), first._component, first._domain,
                                        first._value, first._stale)
    new = cls.__new__

    def member(index: object, lb: float, ub: float | None) -> object:
        v = new(cls)
        v._component, v._index, v._value, v._lb, v._ub = owner, index, value, lb, ub
        v._domain, v._fixed, v._stale = domain, False, stale
        return v

    index = component.index_set()
    if len(index) != len(keys) or first.index() != keys[0] or index.at(len(keys)) != keys[-1]:
        raise ValueError(f"variable {component.name}: its keys must be distinct and in "
                         "Pyomo's normal form (scalars, or flat tuples of two or more)")
    members = list(map(member, keys, lbs, ubs))
    component._data = dict(zip(keys, members, strict=True))
    return members


class DecisionKey(NamedTuple):
    """One investment decision: its kind and name, site name, decision month, and future
    ("" for a decision shared by every future, and in a deterministic run)."""

    kind: str
    name: str
    site: str
    month: int
    future: str = ""


Fixed = dict[DecisionKey, float]


class NoInvestment(dict):
    """The `fixed` of the baseline run: every decision that costs capital is fixed to 0;
    capital-free decisions (hosting contract blocks) stay free."""


NO_INVESTMENT: Fixed = NoInvestment()


class _RowData(_MatrixConstraintData):
    """One row of MatrixRows, standardisable as every constraint is, and read as the
    relation `body == rhs`, `body <= ub` or `lb <= body` like any Pyomo constraint (Pyomo's
    own row class has neither). Its body is read from the component's numpy arrays (kept
    as arrays: lists of Python floats cost time and three to four times the memory)."""

    __slots__ = ()

    def to_bounded_expression(self, evaluate_bounds: bool = False) -> tuple:
        return self.lower, self.body, self.upper

    @property
    def body(self) -> LinearExpression:
        comp = self.parent_component()
        start, stop = comp._A_indptr[self._index:self._index + 2].tolist()
        x = comp._x
        return LinearExpression(
            linear_vars=[x[i] for i in comp._A_indices[start:stop].tolist()],
            linear_coefs=comp._A_data[start:stop].tolist(), constant=0)

    def canonical_form(self, compute_values: bool = True) -> object:
        """Pyomo's, with Python floats for the arrays' numpy scalars (Pyomo's legacy NL
        writer prints those as `np.float64(...)`)."""
        repn = super().canonical_form(compute_values)
        repn.linear_coefs = tuple(map(float, repn.linear_coefs))
        if isinstance(repn.constant, np.generic):
            repn.constant = float(repn.constant)
        return repn

    @property
    def expr(self) -> RelationalExpression:
        if self.equality:
            return EqualityExpression((self.body, self.upper))
        if self.lower is None:
            return InequalityExpression((self.body, self.upper), False)
        return InequalityExpression((self.lower, self.body), False)


class _Rows(Sequence):
    """The row objects of a MatrixRows, made when first used: counting them (all the
    recorded standard form asks) needs none, and making them was 12 % of a site's build."""

    def __init__(self, n: int, owner: weakref.ref) -> None:
        self._n, self._owner, self._rows = n, owner, None

    def _made(self) -> tuple:
        if self._rows is None:
            self._rows = tuple(_RowData(i, self._owner) for i in range(self._n))
        return self._rows

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> _RowData:
        return self._made()[i]

    def __iter__(self) -> Iterator[_RowData]:
        return iter(self._made())

    def __deepcopy__(self, memo: dict) -> _Rows:
        """A cloned model's rows belong to the clone's component (copied first)."""
        return _Rows(self._n, weakref.ref(memo[id(self._owner())]))


class MatrixRows(MatrixConstraint):
    """Pyomo's MatrixConstraint (rows from CSR arrays, no expression built per row), with
    the interface every indexed constraint has in Pyomo 6.10: `values(sort)` and friends,
    and rows that standardise."""

    def construct(self, data: object = None) -> None:
        if self._constructed:
            return
        self._constructed = True
        self._data = _Rows(len(self._lower), weakref.ref(self))

    def keys(self, sort: object = None, ordered: object = None) -> Iterator[int]:
        return iter(range(len(self._data)))

    def values(self, sort: object = None, ordered: object = None) -> Iterator[object]:
        return iter(self._data)

    def items(self, sort: object = None, ordered: object = None) -> Iterator[tuple]:
        return enumerate(self._data)


class LinearObjective(ScalarObjective):
    """`constant + sum(coefs[k] * variables[columns[k]])` as a Pyomo objective whose
    expression is built when first read (Pyomo's compiler and writers, `value(model.npv)`,
    a user's `.expr`), not when the model is built: a re-solve hands its arrays straight
    to HiGHS, and the expression it never reads was 8-15 % of a site's build (35 x 60)."""

    def __init__(self, constant: float, coefs: np.ndarray, columns: np.ndarray,
                 variables: list, sense: int) -> None:
        super().__init__(expr=constant, sense=sense)
        self._terms: tuple | None = (constant, coefs, columns, variables)

    @property
    def args(self) -> tuple:
        if self._terms is not None:
            constant, coefs, columns, variables = self._terms
            self._terms = None
            self.set_value(LinearExpression(
                constant=constant, linear_coefs=coefs.tolist(),
                linear_vars=[variables[c] for c in columns.tolist()]))
        return self._args_


def _matrix_rows(indptr: np.ndarray, cols: np.ndarray, coefs: np.ndarray, sense: str,
                 rhs: np.ndarray, variables: list | tuple) -> MatrixRows:
    """Rows `coefs . x[cols] <sense> rhs` in CSR form (row j: entries indptr[j]..indptr[j+1])
    as one Pyomo component. A tuple of variables (every column of a finished model) is
    shared by the components as it is; from a list, a component keeps only its own."""
    rhs_list = np.broadcast_to(np.asarray(rhs, float), (len(indptr) - 1,)).tolist()
    lower = rhs_list if sense in (">=", "==") else [None] * len(rhs_list)
    upper = rhs_list if sense in ("<=", "==") else [None] * len(rhs_list)
    indptr = np.asarray(indptr, np.int64)
    if isinstance(variables, tuple):
        return MatrixRows(coefs, cols, indptr, lower, upper, variables)
    used, local = np.unique(cols, return_inverse=True)
    return MatrixRows(coefs, local, indptr, lower, upper, [variables[c] for c in used.tolist()])


def within_bounds(value: float, lb: float | None, ub: float | None) -> float:
    """A solved quantity fixed for a re-solve or a MIP start, its float noise beyond its
    bounds removed (HiGHS may return 50.00000000000034 for a variable bounded by 50)."""
    value = float(value)
    if lb is not None and value < lb:
        value = lb
    if ub is not None and value > ub:
        value = ub
    return value


def money_unit(coefficients: np.ndarray) -> float:
    """Dollars per objective unit for the investment MIP: a power of ten bringing the largest
    coefficient near 1e2. Capital charges of 1e8 $ in plain dollars made HiGHS's objective
    badly scaled (measured: the 35x60 MIP 12 s -> 4 s); small cases keep near-dollar units."""
    largest = float(np.abs(coefficients).max()) if len(coefficients) else 0.0
    if largest <= 0:
        return 1.0
    return 10.0 ** max(0, int(np.floor(np.log10(largest))) - COST_SCALE_DIGITS)


@dataclass
class Ledger:
    """Flat arrays of (future, site, month or step, coefficient, column) entries, added in
    segments that share a name and detail."""

    name: list[str] = field(default_factory=list)  # per segment
    detail: list[str] = field(default_factory=list)  # per segment
    size: list[int] = field(default_factory=list)  # per segment
    future: list[np.ndarray] = field(default_factory=list)
    site: list[np.ndarray] = field(default_factory=list)
    index: list[np.ndarray] = field(default_factory=list)
    coef: list[np.ndarray] = field(default_factory=list)
    col: list[np.ndarray] = field(default_factory=list)

    def add(self, name: str, site: int, index: np.ndarray, coef: np.ndarray,
            col: np.ndarray, detail: str = "", future: int = 0) -> None:
        n = len(col)
        self.name.append(name)
        self.detail.append(detail)
        self.size.append(n)
        self.future.append(np.full(n, future))
        self.site.append(np.full(n, site))
        self.index.append(np.asarray(index, int))
        self.coef.append(np.asarray(coef, float))
        self.col.append(np.asarray(col, int))

    def names(self) -> np.ndarray:
        """Every entry's name."""
        return np.repeat(np.array(self.name, dtype=object), self.size)

    def futures(self) -> np.ndarray:
        return np.concatenate(self.future) if self.future else np.zeros(0, int)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self.col:
            empty = np.zeros(0, int)
            return np.array([], dtype=object), empty, empty, np.zeros(0), empty
        return (self.names(), np.concatenate(self.site), np.concatenate(self.index),
                np.concatenate(self.coef), np.concatenate(self.col))

    def values(self, x: np.ndarray) -> np.ndarray:
        """Each entry's value: coef * x[col], or coef alone for constants (col -1)."""
        if not self.col:
            return np.zeros(0)
        return np.concatenate(self.coef) * np.append(x, 1.0)[np.concatenate(self.col)]

    def totals(self, x: np.ndarray, future: int, length: int,
               detailed: bool = False) -> dict[tuple[int, str], np.ndarray]:
        """Per (site, name) (or (site, "name:detail") if `detailed`) of one future, the sum
        of the entries' values at every index 0..length-1."""
        x1 = np.append(x, 1.0)
        out: dict[tuple[int, str], np.ndarray] = {}
        for name, detail, fut, site, index, coef, col in zip(
                self.name, self.detail, self.future, self.site, self.index, self.coef,
                self.col, strict=True):
            if not len(col) or fut[0] != future:
                continue
            key = (int(site[0]), f"{name}:{detail}" if detailed and detail else name)
            total = out.setdefault(key, np.zeros(length))
            total += np.bincount(index, weights=coef * x1[col], minlength=length)
        return out


@dataclass(frozen=True)
class Investment:
    kind: str
    name: str
    site: int
    future: int
    keys: tuple[DecisionKey, ...]
    month: np.ndarray  # decision months
    col: np.ndarray  # columns of the decision variables
    mw_per_unit: float
    capex_usd_per_unit: float
    life_months: int | None


@dataclass
class Row:
    """A per-step row of one site and future: sum of terms <sense> rhs."""

    sense: str
    rhs: np.ndarray
    label: str
    explain: list[Callable[[np.ndarray], str]] = field(default_factory=list)


class Core:
    """A model under construction; see the module docstring."""

    def __init__(self, problems: Problem | Sequence[Problem], elastic: bool = False,
                 fixed: Fixed | None = None, commit_months: int = 0,
                 risk: tuple[float, float] = (0.9, 0.0), free_unfixed: bool = False) -> None:
        self.problems = (problems,) if isinstance(problems, Problem) else tuple(problems)
        self.elastic = elastic
        self.fixed = fixed
        self.no_investment = isinstance(fixed, NoInvestment)
        self.free_unfixed = free_unfixed or self.no_investment  # absent from `fixed`: free
        self.commit_months = commit_months
        self.risk_alpha, self.risk_weight = risk
        self.objective_unit_usd = 1.0  # set by _build_objective
        self.future = 0
        self.problem = self.problems[0]
        self.m = pyo.ConcreteModel(name=self.problem.name)
        self.vars: list = []
        self._col: dict[int, int] = {}  # id(variable) -> column; see _column_map
        self._col_pending: list[tuple[list, int]] = []
        self._terms: dict[tuple[str, int, int], list[tuple[np.ndarray, np.ndarray]]] = \
            defaultdict(list)
        self._row_const: dict[tuple[str, int, int], np.ndarray] = {}
        self._declared: dict[tuple[str, int, int], Row] = {}
        self._explainers: dict[tuple[str, int, int], list[Callable[[np.ndarray], str]]] = \
            defaultdict(list)
        self._list_cols: dict[int, tuple[list, np.ndarray]] = {}
        self._col_lb: list[float] = []
        self._col_ub: list[float] = []
        self._col_integer: list[bool] = []
        self._fixed_cols: dict[int, float] = {}
        self.solution: np.ndarray | None = None  # a block-by-block solve's column values
        self.lp = RowStore()
        self._cost = np.zeros(0)
        self._offset = 0.0
        self._shared: dict[DecisionKey, tuple[object, int]] = {}  # (variable, column)
        self._published: dict[tuple[int, str, int], list[tuple[str, list | None, np.ndarray]]] \
            = defaultdict(list)
        self.cash = Ledger()
        self.flows = Ledger()
        self.states = Ledger()
        self.investments: list[Investment] = []
        self.slack_cols: dict[tuple[str, int, int], np.ndarray] = {}

    # ----------------------------------------------------------------- futures

    @property
    def n_futures(self) -> int:
        return len(self.problems)

    def enter(self, future: int) -> None:
        """Build what follows for future `future` (its problem becomes `self.problem`)."""
        self.future = future
        self.problem = self.problems[future]

    def decision_key(self, kind: str, name: str, site: int, month: int) -> DecisionKey:
        """The key of a decision in the current future: shared ("") before commit_months."""
        shared = self.n_futures == 1 or month < self.commit_months
        return DecisionKey(kind, name, self.problem.sites[site].name, int(month),
                           "" if shared else self.problem.future)

    def block(self, name: str) -> pyo.Block:
        """A fresh block on the model for one option's components (in this future)."""
        block = pyo.Block(concrete=True)
        self.m.add_component(name if self.future == 0 else f"{name}__f{self.future}", block)
        return block

    # ----------------------------------------------------------------- columns

    def cols(self, variables: list) -> np.ndarray:
        """Column numbers of Pyomo variables (registering new ones); a None member (a step
        the quantity does not reach) is column -1 and gets coefficient 0 wherever used.
        A long list is remembered (by identity: lists are not changed once passed here)."""
        cached = self._list_cols.get(id(variables))
        if cached is not None and cached[0] is variables:
            return cached[1]
        column = self._column_map()
        get = column.get
        found = [-1 if v is None else get(id(v)) for v in variables]
        if None in found:
            for i, v in enumerate(variables):
                if found[i] is None:
                    found[i] = column.setdefault(id(v), len(self.vars))
                    if found[i] == len(self.vars):
                        self.vars.append(v)
                        self._col_lb.append(-np.inf if v.lb is None else v.lb)
                        self._col_ub.append(np.inf if v.ub is None else v.ub)
                        self._col_integer.append(v.is_integer())
        out = np.array(found, int)
        if len(variables) >= 64:  # a per-step list, usually passed on to several ledgers
            self._list_cols[id(variables)] = (variables, out)
        return out

    def _steps(self, site: int) -> int:
        return self.problem.sites[site].steps.n

    # ----------------------------------------------------------------- rows

    def declare_row(self, row: str, site: int, sense: str, rhs: np.ndarray | float,
                    label: str, explain: Callable[[np.ndarray], str] | None = None) -> None:
        """Own a per-step row of a site: `sum of its terms <sense> rhs` in every step.
        `explain(short_steps)` says in business words why it cannot hold there."""
        rhs = np.broadcast_to(np.asarray(rhs, float), (self._steps(site),)).copy()
        key = (row, site, self.future)
        if key in self._declared:
            raise ValueError(f"row {row!r} of site {site} is declared twice")
        self._declared[key] = Row(sense, rhs, label, [explain] if explain else [])

    def explain(self, row: str, site: int, explain: Callable[[np.ndarray], str]) -> None:
        """Add a phrase to the explanation of a row another option (or the core) owns."""
        self._explainers[(row, site, self.future)].append(explain)

    def add_to_row(self, row: str, site: int, variables: list | None,
                   coef: np.ndarray | float) -> None:
        """Add coef[j] * variables[j] (or the constant coef[j]) to the site's row `row`."""
        n = self._steps(site)
        coef = np.broadcast_to(np.asarray(coef, float), (n,)).copy()
        key = (row, site, self.future)
        if variables is None:
            self._row_const[key] = self._row_const.get(key, np.zeros(n)) + coef
        else:
            col = self.cols(variables)
            col = np.where(coef == 0, -1, col)  # a zero term is left out of the row
            self._terms[key].append((col, np.where(col < 0, 0.0, coef)))

    # ----------------------------------------------------------------- flows and ledgers

    def draw(self, site: int, flow: str, variables: list | None,
             coef: np.ndarray | float = 1.0, detail: str = "") -> None:
        """A use of power at every step (MW), reported as `flow` (per `detail`: asic, tech)."""
        coef = np.broadcast_to(np.asarray(coef, float), (self._steps(site),))
        self.add_to_row(POWER, site, variables, -coef)
        self.add_flow(flow, site, variables, coef, detail)

    def supply(self, site: int, flow: str, variables: list | None,
               coef: np.ndarray | float = 1.0, detail: str = "") -> None:
        """A source of power at every step (MW), reported as `flow`."""
        coef = np.broadcast_to(np.asarray(coef, float), (self._steps(site),))
        self.add_to_row(POWER, site, variables, coef)
        self.add_flow(flow, site, variables, coef, detail)

    def add_flow(self, flow: str, site: int, variables: list | None,
                 coef: np.ndarray | float, detail: str = "") -> None:
        n = self._steps(site)
        col = np.full(n, -1) if variables is None else self.cols(variables)
        coef = np.broadcast_to(coef, (n,))
        if variables is not None:
            coef = np.where(col < 0, 0.0, coef)
        self.flows.add(flow, site, np.arange(n), coef, col, detail, self.future)

    def add_state(self, state: str, site: int, month: np.ndarray, variables: list | None,
                  coef: np.ndarray | float = 1.0) -> None:
        """A monthly quantity to report (fleet MW, halls online, units); constant if no vars."""
        col = np.full(len(month), -1) if variables is None else self.cols(variables)
        self.states.add(state, site, month, np.broadcast_to(coef, (len(month),)), col,
                        future=self.future)

    def add_cash(self, line: str, site: int, month: np.ndarray, coef: np.ndarray,
                 variables: list | None = None) -> None:
        """Undiscounted dollars in `month`: coef * variable, or coef alone if no variables."""
        month = np.asarray(month, int)
        col = np.full(len(month), -1) if variables is None else self.cols(variables)
        coef = np.broadcast_to(coef, (len(month),))
        if variables is not None:
            coef = np.where(col < 0, 0.0, coef)
        self.cash.add(line, site, month, coef, col, future=self.future)

    # ----------------------------------------------------------------- published quantities

    def publish(self, quantity: str, site: int, variables: list | None,
                coef: np.ndarray | float, detail: str = "") -> None:
        """Offer a per-step quantity (e.g. the mining draw per ASIC model) to other options."""
        coef = np.broadcast_to(np.asarray(coef, float), (self._steps(site),)).copy()
        self._published[(self.future, quantity, site)].append((detail, variables, coef))

    def published(self, quantity: str, site: int) -> list[tuple[str, list | None, np.ndarray]]:
        """The (detail, variables or None, coefficients) parts of a published quantity at a
        site in this future; empty when its provider has none there."""
        return list(self._published.get((self.future, quantity, site), []))

    # ----------------------------------------------------------------- decisions

    def decision(self, block: pyo.Block, name: str, kind: str, detail: str, site: int,
                 months: np.ndarray, ub: float | None, integer: bool, mw_per_unit: float,
                 capex_usd_per_unit: float, life_months: int | None,
                 charged_parts: tuple[tuple[float, int], ...] | None = None) -> list:
        """Decision variables of one kind at a site, one per decision month: shared by
        every future before `commit_months`, fixed to `fixed` in a re-solve, and
        registered as investments (cash capex, capital charge to the horizon end).
        `charged_parts` ((USD, life months), ...) splits the capital charge of a unit whose
        parts have different lives (a cloud hall and its GPUs); default: all of
        `capex_usd_per_unit` over `life_months`."""
        months = np.asarray(months, int)
        keys = [self.decision_key(kind, detail, site, k) for k in months]
        new = [i for i, key in enumerate(keys) if key not in self._shared]
        if new:
            component = self.var(block, name, [int(months[i]) for i in new], 0.0, ub,
                                 integer=integer)
            columns = self.cols(component).tolist()
            for i, v, column in zip(new, component, columns, strict=True):
                self._shared[keys[i]] = (v, column)
                if self.fixed is not None:
                    if self.no_investment and (capex_usd_per_unit > 0 or charged_parts):
                        v.fix(0.0)
                    elif keys[i] in self.fixed:
                        v.fix(within_bounds(self.fixed[keys[i]], v.lb, v.ub))
                    elif self.free_unfixed:
                        continue
                    else:
                        raise KeyError(f"no fixed quantity for decision {keys[i]}")
                    self._fixed_cols[column] = float(v.value)
        variables = [self._shared[key][0] for key in keys]
        col = np.array([self._shared[key][1] for key in keys], int)
        self._add_investment(kind, detail, site, months, col, mw_per_unit,
                             capex_usd_per_unit, life_months, tuple(keys), charged_parts)
        return variables

    def _add_investment(self, kind: str, name: str, site: int, month: np.ndarray,
                        col: np.ndarray, mw_per_unit: float, capex_usd_per_unit: float,
                        life_months: int | None, keys: tuple[DecisionKey, ...],
                        charged_parts: tuple[tuple[float, int], ...] | None = None) -> None:
        """A decision with cash capex in its month and a capital charge to the horizon end."""
        self.investments.append(Investment(kind, name, site, self.future, keys, month, col,
                                           mw_per_unit, capex_usd_per_unit, life_months))
        if charged_parts is None:
            charged_parts = () if life_months is None else ((capex_usd_per_unit, life_months),)
        charge = sum(usd * self.problem.crf(life) for usd, life in charged_parts)
        if charge == 0 or len(month) == 0:
            return
        n = self.problem.n_months
        reps = n - month
        charged = np.concatenate([np.arange(k, n) for k in month])
        self.cash.add("capital_charges_usd", site, charged, np.full(len(charged), -charge),
                      np.repeat(col, reps), future=self.future)

    # ----------------------------------------------------------------- finishing

    def finish(self) -> None:
        """Create the rows, the capex budget and the objective from what was registered."""
        self._build_rows()
        self._build_budget()
        self._build_objective()

    def row(self, key: tuple[str, int, int]) -> Row:
        """The declaration of a row (the power balance is the core's own)."""
        if key in self._declared:
            return self._declared[key]
        if key[0] == POWER:
            return Row("==", np.zeros(self.problems[key[2]].sites[key[1]].steps.n),
                       "power balance")
        raise ValueError(f"row {key[0]!r} has terms but no option declares it")

    def _build_rows(self) -> None:
        """One constraint per step of every row something adds to; a declared row nothing
        uses does not exist (a site without miners, hosting or displacing halls has no
        mining-infrastructure row, whatever its `mining_infra_mw`)."""
        m = self.m
        variables: tuple | None = None
        bounds: tuple[np.ndarray, np.ndarray] | None = None
        for key in sorted(set(self._terms) | set(self._row_const)):
            row, site, future = key
            spec = self.row(key)
            n = len(spec.rhs)
            terms = self._terms.get(key, [])
            constant = self._row_const.get(key, np.zeros(n))
            rhs = spec.rhs - constant
            if not terms:
                self._check_constant_row(key, spec, rhs)
                continue
            cols = np.stack([c for c, _ in terms], axis=1)
            coefs = np.stack([k for _, k in terms], axis=1)
            name = f"{row}_{self.problems[future].sites[site].name}" + \
                (f"__f{future}" if future else "")
            if self.elastic:
                slack = pyo.Var(range(n), domain=pyo.NonNegativeReals)
                m.add_component(f"slack_{name}", slack)
                sign = -1.0 if spec.sense == "<=" else 1.0
                slack_cols = self.cols([slack[j] for j in range(n)])
                self.slack_cols[key] = slack_cols
                cols = np.column_stack([cols, slack_cols])
                coefs = np.column_stack([coefs, np.full(n, sign)])
            sense = spec.sense
            if sense == "<=" and not self.elastic and bounds is None:
                bounds = np.asarray(self._col_lb, float), np.asarray(self._col_ub, float)
            steps = np.arange(n) if sense != "<=" or self.elastic else \
                self._binding(cols, coefs, rhs, *bounds)
            if not len(steps):
                continue
            self.lp.add(np.repeat(np.arange(len(steps)), cols.shape[1]), cols[steps].ravel(),
                        coefs[steps].ravel(), len(steps), sense, rhs[steps])
            if variables is None or len(variables) != len(self.vars):
                variables = tuple(self.vars)
            present = cols[steps] >= 0
            indptr = np.concatenate([[0], np.cumsum(present.sum(axis=1))])
            m.add_component(name, _matrix_rows(indptr, cols[steps][present],
                                               coefs[steps][present], sense, rhs[steps],
                                               variables))

    @staticmethod
    def _binding(cols: np.ndarray, coefs: np.ndarray, rhs: np.ndarray, col_lb: np.ndarray,
                 col_ub: np.ndarray) -> np.ndarray:
        """Steps whose `<=` row could bind: the others hold at every value within the
        variables' bounds `col_lb`, `col_ub` (e.g. the mining infrastructure row of a small
        fleet)."""
        lb, ub = col_lb[cols], col_ub[cols]
        with np.errstate(invalid="ignore"):
            largest = np.where(coefs > 0, coefs * ub, np.where(coefs < 0, coefs * lb, 0.0))
        return np.flatnonzero(~(largest.sum(axis=1) <= rhs + 1e-9))

    def _check_constant_row(self, key: tuple[str, int, int], spec: Row,
                            rhs: np.ndarray) -> None:
        """A row without variables (every term fixed) must already hold."""
        bad = {"<=": rhs < -1e-9, ">=": rhs > 1e-9, "==": np.abs(rhs) > 1e-9}[spec.sense]
        if bad.any():
            from optim.errors import InfeasibleError

            site = self.problems[key[2]].sites[key[1]].name
            raise InfeasibleError(f"site {site!r}: {key[0]} cannot hold "
                                  f"with the decisions fixed ({int(bad.sum())} steps)")

    def explanations(self, key: tuple[str, int, int]) -> list[Callable[[np.ndarray], str]]:
        """The phrases explaining a row: its owner's, then the other options'."""
        return [*self.row(key).explain, *self._explainers.get(key, [])]

    def _build_budget(self) -> None:
        budget = self.problem.capex_budget_usd
        if not budget or not self.investments:
            return
        m = self.m
        m.capex_budget = pyo.ConstraintList()  # in millions of dollars, like the budget
        for future in range(self.n_futures):
            mine = [inv for inv in self.investments if inv.future == future]
            if not mine:
                continue
            month = np.concatenate([inv.month for inv in mine])
            col = np.concatenate([inv.col for inv in mine])
            capex = np.concatenate([np.full(len(inv.col), inv.capex_usd_per_unit)
                                    for inv in mine])
            year = month // 12
            for y, limit in enumerate(budget):
                pick = (year == y) & (capex > 0)
                if pick.any():
                    body = LinearExpression(constant=0.0,
                                            linear_coefs=(capex[pick] / 1e6).tolist(),
                                            linear_vars=[self.vars[c] for c in col[pick]])
                    m.capex_budget.add(body <= float(limit) / 1e6)
                    self.lp.add(np.zeros(int(pick.sum()), np.int64), col[pick],
                                capex[pick] / 1e6, 1, "<=", float(limit) / 1e6)

    def cash_weights(self, weighted: bool = True) -> np.ndarray:
        """Every cash entry's weight in the objective: its month's discount factor times its
        future's probability (the NPV lines are the entries' values times the same); the
        discount factor alone unless `weighted` (a future's own NPV)."""
        _, _, month, _, _ = self.cash.arrays()
        if not weighted:
            return self.problem.discount_factor[month]
        probability = np.array([p.probability for p in self.problems], float)
        return self.problem.discount_factor[month] * probability[self.cash.futures()]

    def _build_objective(self) -> None:
        _, _, _, coef, col = self.cash.arrays()
        weighted = coef * self.cash_weights()
        if self.elastic:
            constant = 0.0
            slack = np.concatenate(list(self.slack_cols.values())) if self.slack_cols \
                else np.zeros(0, int)
            obj = np.zeros(len(self.vars))
            obj[slack] = -1.0
        else:
            constant = float(weighted[col < 0].sum())
            obj = np.bincount(col[col >= 0], weights=weighted[col >= 0],
                              minlength=len(self.vars))
        nz = np.flatnonzero(obj)
        if (self.fixed is None or self.free_unfixed) and not self.elastic:
            self.objective_unit_usd = money_unit(obj[nz])
        unit = self.objective_unit_usd
        if self.risk_weight > 0 and not self.elastic:
            obj, constant = self._add_risk(obj, constant, unit)
            nz = np.flatnonzero(obj)
        self._cost, self._offset = obj / unit, constant / unit
        self.m.npv = LinearObjective(constant / unit, obj[nz] / unit, nz, self.vars,
                                     pyo.maximize)

    def future_npv_terms(self) -> list[tuple[np.ndarray, float]]:
        """Every future's NPV as (coefficient per column, constant), in USD (one pass over
        the cash ledger)."""
        _, _, month, coef, col = self.cash.arrays()
        weighted = coef * self.problem.discount_factor[month]
        future = self.cash.futures()
        out = []
        for f in range(self.n_futures):
            mine = future == f
            w, c = weighted[mine], col[mine]
            per_col = np.bincount(c[c >= 0], weights=w[c >= 0], minlength=len(self.vars))
            out.append((per_col, float(w[c < 0].sum())))
        return out

    def _add_risk(self, expected: np.ndarray, constant: float,
                  unit: float) -> tuple[np.ndarray, float]:
        """(1 - λ) E[NPV] + λ CVaR_α with CVaR_α = max_η η - Σ p_ω u_ω / (1 - α),
        u_ω >= η - NPV_ω, u_ω >= 0 (Rockafellar-Uryasev; rows in money units)."""
        lam, alpha = self.risk_weight, self.risk_alpha
        b = pyo.Block(concrete=True)
        self.m.add_component("risk", b)
        [eta] = self.var(b, "eta", [0], -np.inf, None)
        shortfall = self.var(b, "shortfall", list(range(self.n_futures)), 0.0)
        terms, rhs = [], []
        for f, (per_col, const) in enumerate(self.future_npv_terms()):
            nz = np.flatnonzero(per_col)
            terms.append(([shortfall[f], eta, *[self.vars[c] for c in nz]],
                          [1.0, -1.0, *(per_col[nz] / unit).tolist()]))
            rhs.append(-const / unit)
        self.rows(b, "tail", terms, ">=", np.array(rhs))
        obj = np.append((1.0 - lam) * expected, np.zeros(len(self.vars) - len(expected)))
        obj[self.cols([eta])[0]] += lam * unit
        probability = np.array([p.probability for p in self.problems], float)
        obj[self.cols(shortfall)] -= lam * unit * probability / (1.0 - alpha)
        return obj, (1.0 - lam) * constant

    def var(self, block: pyo.Block, name: str, keys: list | range, lb: np.ndarray | float = 0.0,
            ub: np.ndarray | float | None = None, integer: bool = False) -> list:
        """An indexed variable with per-key bounds; returns its members in key order
        (registered as columns at once).

        The members are made by `_members` in one pass, bounds included; the standard-form
        test reads them back through Pyomo's compiler on every fixture."""
        if not isinstance(keys, range):
            keys = [k.item() if isinstance(k, np.generic) else k for k in keys]
        n = len(keys)
        lbs = np.broadcast_to(np.asarray(lb, float), (n,)).tolist()
        ubs = [None] * n if ub is None else np.broadcast_to(np.asarray(ub, float), (n,)).tolist()
        index = pyo.RangeSet(keys.start, keys.stop - 1) \
            if isinstance(keys, range) and keys.step == 1 and n else keys
        component = pyo.Var(index, domain=pyo.Integers if integer else pyo.Reals, dense=False)
        block.add_component(name, component)
        members = _members(component, keys, lbs, ubs)
        start = len(self.vars)
        self.vars.extend(members)
        self._col_lb.extend(lbs)
        self._col_ub.extend([np.inf if u is None else u for u in ubs])
        self._col_integer.extend([integer] * n)
        self._col_pending.append((members, start))
        self._list_cols[id(members)] = (members, np.arange(start, start + n))
        return members

    def _column_map(self) -> dict[int, int]:
        """Column of every variable by identity, the variables `var` made since the last
        call entered first: a re-solve whose rows take whole member lists (remembered by
        `cols`) never needs it (the map was 8 % of a site's build)."""
        for members, start in self._col_pending:
            self._col.update(zip(map(id, members), range(start, start + len(members)),
                                 strict=True))
        self._col_pending.clear()
        return self._col

    def rows(self, block: pyo.Block, name: str, terms: list[tuple[list, list]], sense: str,
             rhs: np.ndarray | float) -> None:
        """Linear rows sum(coef * var) <sense> rhs, one per (vars, coefs) pair in `terms`."""
        lengths = np.fromiter((len(v) for v, _ in terms), np.int64, len(terms))
        flat = [v for variables, _ in terms for v in variables]
        cols = self.cols(flat) if flat else np.zeros(0, np.int64)
        coefs = np.fromiter((c for _, k in terms for c in k), float, int(lengths.sum()))
        self.sparse_rows(block, name, np.repeat(np.arange(len(terms)), lengths), cols, coefs,
                         len(terms), sense, rhs)

    def sparse_rows(self, block: pyo.Block, name: str, row: np.ndarray, col: np.ndarray,
                    coef: np.ndarray, n_rows: int, sense: str, rhs: np.ndarray | float) -> None:
        """`n_rows` linear rows from arrays: entry i adds coef[i] * (column col[i]) to row
        row[i]; the entries of a row keep their order. Columns come from `cols` (of whole
        member lists, or `pick`), so no variable is looked up by identity."""
        row, col, coef = np.asarray(row, np.int64), np.asarray(col, np.int64), \
            np.asarray(coef, float)
        if len(row) and (row.min() < 0 or row.max() >= n_rows):
            raise ValueError(f"rows {name}: an entry's row is outside 0..{n_rows - 1}")
        if len(col) and (col.min() < 0 or col.max() >= len(self.vars)):
            raise ValueError(f"rows {name}: an entry's column is not a variable's (a None "
                             "member has column -1 and cannot be in a row)")
        order = np.argsort(row, kind="stable")
        row, col, coef = row[order], col[order], coef[order]
        self.lp.add(row, col, coef, n_rows, sense, rhs)
        indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n_rows))])
        block.add_component(name, _matrix_rows(indptr, col, coef, sense, rhs, self.vars))

    def pick(self, variables: list, index: np.ndarray) -> list:
        """variables[index] (positions, -1 for no member: None, column -1, as `cols` gives
        it; or a mask) as a list whose columns are known (remembered like a member
        list's), for a ledger or row that takes some members, or a per-step list of
        members that some steps lack."""
        index = np.asarray(index)
        index = np.flatnonzero(index) if index.dtype == bool else index.astype(np.int64)
        picked = [None if k < 0 else variables[k] for k in index.tolist()]
        columns = self.cols(variables)[np.maximum(index, 0)] if len(variables) else \
            np.zeros(len(index), np.int64)
        self._list_cols[id(picked)] = (picked, np.where(index < 0, -1, columns))
        return picked

    def total_cap(self, block: pyo.Block, name: str, variables: list, limit: float) -> None:
        """sum(variables) <= limit over a horizon's decisions; no row once every one is
        settled (a re-solve's fixed decisions already respect it; with some left free, as in
        a future re-optimised with its shared decisions fixed, the row holds the rest)."""
        if variables and not all(v.fixed for v in variables):
            self.rows(block, name, [(variables, [1.0] * len(variables))], "<=", limit)

    @staticmethod
    def settled(variables: list) -> np.ndarray | list:
        """Values of the variables when every one is fixed (decisions of a re-solve), else
        the variables themselves."""
        if all(v.fixed for v in variables):
            return np.array([float(v.value) for v in variables])
        return variables

    @staticmethod
    def per(quantity: np.ndarray | list, index: np.ndarray,
            coef: np.ndarray | float = 1.0) -> tuple[list | None, np.ndarray]:
        """(variables, coefficients) of coef * quantity[index], or (None, constants) when
        the quantity is settled: the form every register method takes."""
        coef = np.broadcast_to(np.asarray(coef, float), (len(index),))
        if isinstance(quantity, np.ndarray):
            return None, coef * quantity[index]
        return [quantity[k] for k in index], coef

    def capped(self, block: pyo.Block, name: str, n: int, cap: np.ndarray | list,
               index: np.ndarray, coef: np.ndarray | float = 1.0) -> list:
        """Non-negative variables x[j] <= coef[j] * cap[index[j]]: a bound when the cap is
        settled, a row when it is a decision."""
        variables, c = self.per(cap, index, coef)
        if variables is None:
            return self.var(block, name, range(n), 0.0, c)
        x = self.var(block, name, range(n), 0.0)
        self.rows(block, f"{name}_cap", [([x[j], variables[j]], [1.0, -c[j]]) for j in range(n)],
                  "<=", 0.0)
        return x

    def stock(self, block: pyo.Block, name: str, additions: list, invest_months: np.ndarray,
              lag_months: int, base: np.ndarray | float, unit: float = 1.0) -> np.ndarray | list:
        """Monthly stock = base + unit * additions decided at least `lag_months` earlier
        (fleet MW, halls online, generator units): one variable per month, or an array of
        values when every addition is settled."""
        months = np.arange(self.problem.n_months)
        ready = invest_months[None, :] + lag_months <= months[:, None]
        settled = self.settled(additions)
        if isinstance(settled, np.ndarray):
            added = ready @ settled if len(settled) else np.zeros(len(months))
            return np.broadcast_to(np.asarray(base, float), (len(months),)) + unit * added
        stock = self.var(block, name, list(months), 0.0)
        self.rows(block, f"{name}_def", [
            ([stock[k], *[additions[i] for i in np.flatnonzero(ready[k])]],
             [1.0, *[-unit] * int(ready[k].sum())]) for k in months], "==", base)
        return stock

    def standard_form(self, fixed: dict[int, float] | None = None) -> StandardForm:
        """The finished model as arrays for HiGHS (see optim.standard_form), with the
        columns in `fixed` (column: value) fixed too. Every Pyomo constraint must have been
        made by the core's methods, which record it."""
        made = sum(len(c) for c in self.m.component_objects(pyo.Constraint, active=True))
        if made != self.lp.n_rows:
            raise RuntimeError(f"{made - self.lp.n_rows} Pyomo constraints were added outside "
                               "the core's methods; add rows with Core.rows or declare_row")
        n = len(self.vars)
        return standard_form(self.lp, n, np.asarray(self._col_lb, float),
                             np.asarray(self._col_ub, float), np.asarray(self._col_integer, bool),
                             {**self._fixed_cols, **(fixed or {})}, self._cost, self._offset)

    def keep_solution(self, columns: np.ndarray, values: np.ndarray) -> None:
        """Keep a solve's values of some columns as the model's solution, without loading
        them into Pyomo variables."""
        self.solution = self.solution_of(columns, values)

    def solution_of(self, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Every column's value from those of some columns (the rest: fixed values, or 0
        for columns in no row)."""
        x = np.zeros(len(self.vars))
        if self._fixed_cols:
            x[np.fromiter(self._fixed_cols, np.int64)] = list(self._fixed_cols.values())
        x[columns] = values
        return x

    def values(self) -> np.ndarray:
        """The value of every registered column after a solve: the kept solution of a
        block-by-block solve, else the Pyomo variables' values."""
        if self.solution is not None:
            return self.solution
        return np.array([v.value if v.value is not None else 0.0 for v in self.vars], float)
