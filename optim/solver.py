"""Hand a Pyomo model to HiGHS and classify the outcome.

The model is compiled to a standard form (the rows the Core recorded while building it,
or Pyomo's `LinearStandardFormCompiler`) and passed to `highspy` as sparse matrices
(Pyomo's compiler is about 4x faster than its default HiGHS interface; the recorded rows
skip its walk over every expression). HiGHS
options are checked by name and type; Pyomo would silently ignore a misspelt one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler
from pyomo.repn.util import FileDeterminism

from optim.errors import InputError, SolverError
from optim.standard_form import StandardForm

OPTIMAL = "optimal"
TIME_LIMIT = "time_limit_feasible"
NO_SOLUTION = "no_solution"
INFEASIBLE = "infeasible"
ERROR = "error"

LIMIT_STATUSES = {
    highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit,
    highspy.HighsModelStatus.kSolutionLimit, highspy.HighsModelStatus.kInterrupt,
    highspy.HighsModelStatus.kObjectiveBound, highspy.HighsModelStatus.kObjectiveTarget,
}
INFEASIBLE_STATUSES = {highspy.HighsModelStatus.kInfeasible,
                       highspy.HighsModelStatus.kUnboundedOrInfeasible}
DEFAULT_OPTIONS: dict[str, object] = {"random_seed": 0, "output_flag": False}
POLL_S = 0.1  # how often the caller's thread looks at a running solve
STOP_WAIT_S = 2.0  # the longest wait for HiGHS to honour an interrupt


@dataclass(frozen=True)
class MipProgress:
    """The state of a running MIP: incumbent and bound in USD (None until known)."""

    elapsed_s: float
    objective_usd: float | None
    bound_usd: float | None
    gap: float | None


OnMip = Callable[[MipProgress], None]


@dataclass(frozen=True)
class SolveOutcome:
    status: str
    highs_status: str
    objective_usd: float | None
    bound_usd: float | None
    mip_gap: float | None
    n_variables: int
    n_integers: int
    n_constraints: int
    handoff_s: float
    solve_s: float
    presolved_to_empty: bool = False  # HiGHS's presolve alone solved the model


def check_options(options: dict[str, object], source: str = "[solver]") -> None:
    """Reject unknown or ill-typed HiGHS options, all at once."""
    h = highspy.Highs()
    h.silent()
    problems = []
    for name, value in options.items():
        if h.setOptionValue(name, value) != highspy.HighsStatus.kOk:
            problems.append(f"{name} = {value!r}: not a valid HiGHS option or value")
    if problems:
        raise InputError(problems, source)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """|bound - objective| / max(1, |objective|), computed here rather than trusted."""
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return abs(bound - objective) / max(1.0, abs(objective))


Start = list[tuple[object, float]]  # (Pyomo variable, value): a partial MIP start


@dataclass
class Compiled:
    """A model in HiGHS's form, as arrays: HiGHS takes them in one call (passModel's array
    form; filling a HighsLp's vectors from numpy cost 25-35 ns per element, most of a
    re-solve's hand-off)."""

    columns: list | np.ndarray  # the Pyomo variables (or column numbers), in column order
    form: StandardForm  # its matrix column-wise
    maximize: bool
    compile_s: float

    @property
    def integrality(self) -> np.ndarray:
        """1 for an integer column, 0 for a continuous one (HiGHS's codes)."""
        return self.form.integer.astype(np.int32)

    @property
    def offset(self) -> float:
        return self.form.offset

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def n_rows(self) -> int:
        return len(self.form.row_lower)

    def pass_to(self, h: highspy.Highs) -> None:
        """Hand the model to a HiGHS instance (arrays of other types are converted)."""
        f, a = self.form, self.form.a
        sense = highspy.ObjSense.kMaximize if self.maximize else highspy.ObjSense.kMinimize
        status = h.passModel(
            a.shape[1], a.shape[0], a.nnz, int(highspy.MatrixFormat.kColwise), int(sense),
            f.offset, f.cost, f.col_lower, f.col_upper, f.row_lower, f.row_upper,
            a.indptr.astype(np.int32, copy=False), a.indices.astype(np.int32, copy=False),
            a.data, self.integrality)
        if status == highspy.HighsStatus.kError:
            raise SolverError("HiGHS refused the model handed to it")


def solve_model(model: pyo.ConcreteModel, mip_gap: float, time_limit_s: float | None,
                options: dict[str, object] | None = None,
                objective_unit: float = 1.0, start: Start | None = None,
                on_mip: OnMip | None = None, abandon: bool = False,
                compile_with: Callable[[pyo.ConcreteModel], Compiled] | None = None
                ) -> SolveOutcome:
    """Compile (`compile_with`, default Pyomo's standard form), solve and load the solution
    values into the model's variables.

    The objective and bound are reported times `objective_unit` (the model's money unit).
    `start` gives HiGHS values of some variables (e.g. the integers) as a MIP start; HiGHS
    completes it to a full solution if it can. `on_mip` receives the MIP's progress.
    """
    deadline = None if time_limit_s is None else time.perf_counter() + time_limit_s
    with PauseGC():
        return solve_compiled((compile_with or compile_model)(model), mip_gap, time_limit_s,
                              options, objective_unit, start, on_mip, deadline=deadline,
                              abandon=abandon)


def compile_model(model: pyo.ConcreteModel) -> Compiled:
    """Pyomo's standard form of `model` as a HiGHS LP/MIP (sparse, column-wise)."""
    t0 = time.perf_counter()
    # Components are declared in a fixed order and Pyomo keeps insertion order, so the
    # compiler's extra sorting (FileDeterminism.ORDERED) only costs time (about 35 %).
    with PauseGC():
        repn = LinearStandardFormCompiler().write(model, mixed_form=True, set_sense=None,
                                                  file_determinism=FileDeterminism.NONE)
    columns = repn.columns
    n_col, n_row = len(columns), len(repn.rows)
    bounds = np.array([v.bounds for v in columns], dtype=float).reshape(n_col, 2)
    sense = np.array([s for _, s in repn.rows], int)
    rhs = np.asarray(repn.rhs, float)
    maximize = model.component_data_objects(pyo.Objective, active=True).__next__().sense \
        == pyo.maximize
    form = StandardForm(
        columns=np.arange(n_col), a=repn.A.tocsc(),
        col_lower=np.nan_to_num(bounds[:, 0], nan=-np.inf),
        col_upper=np.nan_to_num(bounds[:, 1], nan=np.inf),
        integer=np.array([v.is_integer() for v in columns], bool),
        row_lower=np.where(sense <= 0, rhs, -np.inf) if n_row else np.zeros(0),
        row_upper=np.where(sense >= 0, rhs, np.inf) if n_row else np.zeros(0),
        cost=np.asarray(repn.c.toarray()).ravel() if repn.c.shape[0] else np.zeros(n_col),
        offset=float(repn.c_offset[0]) if len(repn.c_offset) else 0.0)
    return compile_form(columns, form, maximize, t0)


def compile_form(columns: list | np.ndarray, form: StandardForm, maximize: bool = True,
                 t0: float | None = None) -> Compiled:
    """A standard form as a HiGHS LP/MIP; `columns` are the Pyomo variables of its columns
    (or only their numbers, when the solution goes to `solve_compiled`'s `on_values`).
    `t0` (a time.perf_counter()) starts the compile's clock, if earlier than now."""
    t0 = time.perf_counter() if t0 is None else t0
    form = replace(form, a=form.a.tocsc())
    return Compiled(columns, form, maximize, time.perf_counter() - t0)


def _finite(value: float, unit: float) -> float | None:
    return float(value) * unit if np.isfinite(value) else None


class Abandoned(Exception):
    """HiGHS did not stop within STOP_WAIT_S of its deadline (see `solve_compiled`)."""


def _run(h: highspy.Highs, objective_unit: float, on_mip: OnMip | None,
         deadline: float | None = None, abandon: bool = False) -> None:
    """`h.run()` in a thread of its own, so that the caller's thread stays responsive.

    A KeyboardInterrupt there (Ctrl-C, or SIGTERM turned into one) asks HiGHS to stop
    through its interrupt callbacks and is raised again once HiGHS has stopped, or after
    STOP_WAIT_S: HiGHS does not look at them during presolve or a MIP's root LP, so the
    solve may go on in that (daemon) thread until its next check or the process's exit.
    The MIP's progress is handed to `on_mip` in the caller's thread, at most every POLL_S.
    """
    stop = threading.Event()
    latest: list[MipProgress] = []
    t0 = time.perf_counter()

    def interrupt(event: highspy.HighsCallbackEvent) -> None:
        if stop.is_set() or (deadline is not None and time.perf_counter() >= deadline):
            event.interrupt()

    def mip(event: highspy.HighsCallbackEvent) -> None:
        interrupt(event)
        out = event.data_out
        objective = _finite(out.mip_primal_bound, objective_unit)
        bound = _finite(out.mip_dual_bound, objective_unit)
        latest[:] = [MipProgress(time.perf_counter() - t0, objective, bound,
                                 relative_gap(objective, bound))]

    h.cbSimplexInterrupt.subscribe(interrupt)
    h.cbIpmInterrupt.subscribe(interrupt)
    h.cbMipInterrupt.subscribe(mip)
    if on_mip is not None:
        h.cbMipImprovingSolution.subscribe(mip)

    def work() -> None:
        try:
            h.run()
        finally:
            highspy._Highs.resetGlobalScheduler(False)  # as highspy does after a threaded run

    thread = threading.Thread(target=work, name="highs", daemon=True)
    thread.start()
    shown = None
    try:
        while thread.is_alive():
            thread.join(POLL_S)
            if abandon and deadline is not None and thread.is_alive() and \
                    time.perf_counter() > deadline + STOP_WAIT_S:
                stop.set()
                raise Abandoned
            if on_mip is not None and latest and latest[0] is not shown:
                shown = latest[0]
                on_mip(shown)
    except Abandoned:
        raise
    except BaseException:
        stop.set()
        _wait_stopped(thread)
        raise


def _wait_stopped(thread: threading.Thread) -> None:
    """Wait a little for HiGHS to stop after an interrupt; a further Ctrl-C does not cut
    the wait short."""
    deadline = time.perf_counter() + STOP_WAIT_S
    while thread.is_alive() and time.perf_counter() < deadline:
        try:
            thread.join(POLL_S)
        except KeyboardInterrupt:
            continue


def solve_compiled(compiled: Compiled, mip_gap: float, time_limit_s: float | None,
                   options: dict[str, object] | None = None, objective_unit: float = 1.0,
                   start: Start | None = None, on_mip: OnMip | None = None,
                   deadline: float | None = None, abandon: bool = False,
                   on_values: Callable[[np.ndarray], None] | None = None) -> SolveOutcome:
    """Solve a compiled model with HiGHS, classify the outcome and load the solution
    values into its Pyomo variables (or hand them, in column order, to `on_values`).
    `handoff_s` counts the compile and the hand-off.

    `time_limit_s` (or an earlier `deadline`, a time.perf_counter() value covering the
    compile too) is wall clock for the whole solve: HiGHS's own limit starts only after
    it has completed a partial start, so the interrupt callbacks also stop it there. With
    `abandon`, a HiGHS still busy STOP_WAIT_S after the deadline (in a large root LP, where
    it looks at neither) is left behind in its thread and the outcome is "no solution":
    for a caller about to stop anyway (the CLI exits 4), not one that solves on.

    `on_mip` receives the MIP's incumbent, bound and gap as they change. A
    KeyboardInterrupt while HiGHS runs stops it within about a second and is re-raised.
    """
    t0 = time.perf_counter()
    columns, integrality, offset = compiled.columns, compiled.integrality, compiled.offset
    n_col, n_row = compiled.n_columns, compiled.n_rows
    h = highspy.Highs()
    h.silent()
    for name, value in {**DEFAULT_OPTIONS, "mip_rel_gap": mip_gap, **(options or {})}.items():
        h.setOptionValue(name, "off" if (name, value) == ("presolve", PROBE) else value)
    if deadline is None and time_limit_s is not None:
        deadline = t0 + time_limit_s
    compiled.pass_to(h)
    if start:
        position = {id(v): i for i, v in enumerate(columns)}
        known = [(position[id(v)], x) for v, x in start if id(v) in position]
        h.setSolution(len(known), np.array([i for i, _ in known], np.int32),
                      np.array([x for _, x in known], float))
    t1 = time.perf_counter()
    if deadline is not None:
        h.setOptionValue("time_limit", max(deadline - time.perf_counter(), 0.0))
    try:
        _run(h, objective_unit, on_mip if integrality.any() else None, deadline, abandon)
    except Abandoned:
        return SolveOutcome(NO_SOLUTION, "time limit reached in HiGHS's root LP", None, None,
                            None, n_col, int(integrality.sum()), n_row,
                            compiled.compile_s + t1 - t0, time.perf_counter() - t1)
    t2 = time.perf_counter()

    model_status = h.getModelStatus()
    info = h.getInfo()
    has_solution = info.primal_solution_status == 2
    is_mip = bool(integrality.any())
    objective = info.objective_function_value if has_solution else None
    if model_status == highspy.HighsModelStatus.kOptimal:
        status = OPTIMAL
    elif model_status in LIMIT_STATUSES:
        status = TIME_LIMIT if has_solution else NO_SOLUTION
    elif model_status in INFEASIBLE_STATUSES:
        status = INFEASIBLE
    elif model_status == highspy.HighsModelStatus.kModelEmpty:
        status, objective = OPTIMAL, offset
    else:
        status = ERROR
    if status in (OPTIMAL, TIME_LIMIT) and n_col:
        values = np.asarray(h.getSolution().col_value)
        if is_mip:
            values = np.where(integrality == 1, np.round(values), values)
        if on_values is not None:
            on_values(values)
        else:
            for v, x in zip(columns, values.tolist(), strict=True):
                v.set_value(x, skip_validation=True)
    bound = (info.mip_dual_bound if is_mip else objective) if objective is not None else None
    if status == OPTIMAL and not is_mip:
        bound = objective
    objective = None if objective is None else objective * objective_unit
    bound = None if bound is None or not np.isfinite(bound) else bound * objective_unit
    return SolveOutcome(status, h.modelStatusToString(model_status), objective, bound,
                        relative_gap(objective, bound), n_col, int(integrality.sum()), n_row,
                        compiled.compile_s + t1 - t0, t2 - t1,
                        h.getModelPresolveStatus() == highspy.HighsPresolveStatus.kReducedToEmpty)


BLOCK_ENTRIES = 5_000  # matrix entries per HiGHS call when an LP is solved block by block:
# simplex work grows faster than a block (HiGHS time of 8 sites of the 35 x 60 bench: 3.8 s
# at 100,000 entries, 2.9 s at 5,000, 3.0-3.2 s at 2,000 and 10,000; means of 2-4 runs)
PROBE = "probe"  # a re-solve's `presolve`: on only where it solves tiny blocks outright
TINY_BLOCK_ENTRIES = 64  # a block this small (an hour's few rows) is one presolve may solve


def solve_blocks(form: StandardForm, options: dict[str, object] | None,
                 objective_unit: float = 1.0, min_entries: int = BLOCK_ENTRIES,
                 time_limit_s: float | None = None) -> tuple[SolveOutcome, np.ndarray]:
    """A pure LP solved block by block (StandardForm.blocks: exact, since nothing couples
    the blocks): the outcome, adding the blocks up, and the value of each of the form's
    columns (NaN where a block has no solution). Simplex work grows faster than the LP, so
    a 120-month site's hourly LP in ten yearly blocks solved 2.7x faster than whole. The
    values are not loaded into Pyomo variables: for the 35 x 60 bench's sites that loop
    (and reading them back) cost a fifth of the re-solve's time outside HiGHS.

    With `presolve = "probe"` (PROBE) presolve is off, except for groups of tiny blocks
    (an hour alone) when the first such group shows that presolve solves them outright:
    then it is 2-3x faster than dual simplex's one iteration per row, where on blocks it
    only shrinks it costs more than it saves (bench/RESULTS.md, "Re-solve presolve").
    `time_limit_s` bounds all the blocks together."""
    deadline = None if time_limit_s is None else time.perf_counter() + time_limit_s
    values = np.full(len(form.columns), np.nan)
    options = dict(options or {})
    probe = options.get("presolve") == PROBE
    tiny_presolve = "on" if probe else options.get("presolve")
    parts = []
    blocks = form.blocks(min_entries)
    for (cols, _rows, largest), part in zip(blocks, form.parts(blocks), strict=True):
        if probe:
            options["presolve"] = tiny_presolve if largest <= TINY_BLOCK_ENTRIES else "off"
        outcome = solve_compiled(compile_form(cols, part), 0.0, None, options,
                                 deadline=deadline, on_values=_setter(values, cols))
        if probe and largest <= TINY_BLOCK_ENTRIES and tiny_presolve == "on" and \
                not outcome.presolved_to_empty:
            tiny_presolve = "off"
        parts.append(outcome)
    worst = next((o for o in parts if o.status == INFEASIBLE), None) or \
        next((o for o in parts if o.status != OPTIMAL), None)
    n_col, n_row = sum(o.n_variables for o in parts), sum(o.n_constraints for o in parts)
    handoff_s, solve_s = sum(o.handoff_s for o in parts), sum(o.solve_s for o in parts)
    if worst is not None:
        return SolveOutcome(worst.status, worst.highs_status, None, None, None, n_col, 0,
                            n_row, handoff_s, solve_s), values
    objective = (sum(o.objective_usd for o in parts) + form.offset) * objective_unit
    return SolveOutcome(OPTIMAL, f"Optimal ({len(parts)} independent blocks)", objective,
                        objective, 0.0, n_col, 0, n_row, handoff_s, solve_s), values


def _setter(values: np.ndarray, cols: np.ndarray) -> Callable[[np.ndarray], None]:
    def put(x: np.ndarray) -> None:
        values[cols] = x
    return put
