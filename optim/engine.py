"""`solve(scenario) -> Result`: the whole run as an ordered build script.

read and check inputs -> plain problem -> Pyomo model -> HiGHS -> result tables; with
`blocks:K`, the investments are then fixed and the dispatch is re-solved hour by hour.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import NamedTuple

import highspy
import numpy as np
import pandas as pd
import pyomo
from pyomo.common.gc_manager import PauseGC

from optim import cashflow, diagnose, results
from optim.core import NO_INVESTMENT, Core, DecisionKey, Fixed, NoInvestment, within_bounds
from optim.errors import InfeasibleError, NoSolutionError, SolverError, VerificationError
from optim.models import registry
from optim.problem import Problem, SiteSpec, build_problem
from optim.scenario import Scenario, load_scenario
from optim.series import Series, read_series
from optim.solver import (
    INFEASIBLE,
    NO_SOLUTION,
    OPTIMAL,
    TIME_LIMIT,
    MipProgress,
    OnMip,
    SolveOutcome,
    Start,
    check_options,
    compile_form,
    relative_gap,
    solve_blocks,
    solve_model,
)
from optim.tuning import Tuning
from optim.verify import Verification, verify

Progress = Callable[[str], None]
"""Told each stage's name as it starts. If it also has the methods `mip(MipProgress)` and
`sites(done, total)`, they receive a running MIP's incumbent, bound and gap, and the count
of site solves done (see `Phases`)."""
OnSites = Callable[[int, int], None]


def _site_fixed(fixed: Fixed, site: str) -> Fixed:
    """The decisions of one site (keys carry the site's name, so they fit its sub-problem)."""
    if isinstance(fixed, NoInvestment):
        return fixed
    return {key: q for key, q in fixed.items() if key.site == site}


@dataclass
class Result:
    """A solved scenario: the summary and the tables of MODEL.md §6."""

    summary: dict
    investments: pd.DataFrame
    monthly: pd.DataFrame
    hourly: pd.DataFrame | None = None
    dispatch: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    dispatch_blocks: dict[str, dict[str, np.ndarray]] | None = field(default=None, repr=False)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)  # e.g. futures
    futures: list | None = field(default=None, repr=False)  # per-future plans (MODEL.md §9)

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def npv_usd(self) -> float:
        return self.summary["npv_usd"]

    def all_tables(self) -> dict[str, pd.DataFrame]:
        """The Parquet tables of the results folder, by name."""
        tables = {"investments": self.investments, "monthly": self.monthly, **self.tables}
        if self.hourly is not None:
            tables["hourly"] = self.hourly
        return tables

    def write(self, out: Path, extra_files: dict[str, bytes] | None = None) -> Path:
        """Write the results folder atomically (with `extra_files`, e.g. the run's log)."""
        return results.write_results(out, self.summary, self.all_tables(), extra_files)


def build_model(problem: Problem | tuple[Problem, ...], elastic: bool = False,
                fixed: Fixed | None = None, commit_months: int = 0,
                risk: tuple[float, float] = (0.9, 0.0), free_unfixed: bool = False) -> Core:
    """The Pyomo model of `problem` (or of one problem per future): every option adds
    itself to the core, once per future, providers of published quantities first.

    The garbage collector is paused while building: scanning the growing heap of Pyomo
    objects otherwise takes most of the build time (measured 2.8 s -> 0.8 s per site-year).
    """
    with PauseGC():
        core = Core(problem, elastic=elastic, fixed=fixed, commit_months=commit_months,
                    risk=risk, free_unfixed=free_unfixed)
        options = registry()
        for future in range(core.n_futures):
            core.enter(future)
            for option in options:
                option.build(core)
        core.enter(0)
        core.finish()
    return core


@dataclass
class PlanTables:
    """What a solved model contributes to a Result (per site, so site solves combine).

    `investments` and `quantities` (the decisions, keyed for a re-solve) are filled when
    the model decided them, i.e. not in a re-solve with the decisions fixed.
    """

    objective_usd: float
    lines: dict[str, float]
    monthly: pd.DataFrame
    dispatch: dict[str, dict[str, np.ndarray]]
    hourly: pd.DataFrame | None
    investments: pd.DataFrame | None = None
    quantities: Fixed = field(default_factory=dict)
    build_s: float = 0.0  # building the Pyomo model(s), summed over sites
    workers: int = 1  # processes that solved its sites
    ahead: int = 0  # sites taken from a Speculation's re-solve during the MIP

    @classmethod
    def combine(cls, parts: list[PlanTables]) -> PlanTables:
        lines: dict[str, float] = {}
        for part in parts:
            for k, v in part.lines.items():
                lines[k] = lines.get(k, 0.0) + v
        hourly = None if parts[0].hourly is None else \
            pd.concat([p.hourly for p in parts], ignore_index=True)
        investments = None if parts[0].investments is None else \
            pd.concat([p.investments for p in parts], ignore_index=True)
        return cls(sum(p.objective_usd for p in parts), lines,
                   _stack_monthly([p.monthly for p in parts]),
                   {k: v for p in parts for k, v in p.dispatch.items()}, hourly, investments,
                   {k: v for p in parts for k, v in p.quantities.items()},
                   sum(p.build_s for p in parts))


def _stack_monthly(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The sites' monthly tables as one: a flow one site lacks (a reserve product it does
    not offer) is 0 MW there, and each column keeps its place beside its neighbours."""
    order: list[str] = []
    for frame in frames:
        for i, column in enumerate(frame.columns):
            if column not in order:
                after = frame.columns[i - 1] if i else None
                order.insert(order.index(after) + 1 if after in order else len(order), column)
    monthly = pd.concat(frames, ignore_index=True)[order]
    flows = [c for c in order if c.endswith("_mw")]
    monthly[flows] = monthly[flows].fillna(0.0)
    return monthly


def _plan_tables(core: Core, x: np.ndarray, hourly: bool,
                 objective_usd: float = 0.0) -> PlanTables:
    decided = core.fixed is None or core.no_investment
    return PlanTables(objective_usd, results.npv_lines(core, x), results.monthly_frame(core, x),
                      results.dispatch_by_hour(core, x),
                      results.hourly_frame(core, x) if hourly else None,
                      results.investments_frame(core, x) if decided else None,
                      _quantities(core, x) if decided else {})


def _solve_site(task: tuple) -> tuple[SolveOutcome, PlanTables | None]:
    """One site's model: its investment MIP (fixed None), or its hourly LP with its
    investments fixed. Sites decouple when no portfolio constraint links them."""
    problem, fixed, mip_gap, deadline, options, hourly, handoff = task
    t0 = time.perf_counter()
    core = build_model(problem, fixed=fixed)
    build_s = time.perf_counter() - t0
    outcome = _solve(core, mip_gap, _left(deadline), options, handoff=handoff)
    plan = None
    if outcome.status in (OPTIMAL, TIME_LIMIT):
        plan = _plan_tables(core, core.values(), hourly, outcome.objective_usd)
        plan.build_s = build_s
    return outcome, plan


def _solve_in_process(task: tuple, collect: bool = True) -> tuple[SolveOutcome,
                                                                  PlanTables | None]:
    """One site in this process; with `collect`, the model's reference cycles are freed
    before the next (0.3 s for a 36-month site's model: worth it only for big ones)."""
    out = _solve_site(task)
    if collect:
        gc.collect()
    return out


def _site_worker(task: tuple, send: Connection) -> None:
    """A forked site worker: solve one site, send ("ok", outcome) or ("error", exception).
    The process ends after one site, so its collector is off: the model's objects are
    freed by the exit, and the collections a build triggers cost 3 % of a 35 x 60 site's
    re-solve."""
    _worker_init()
    gc.disable()
    try:
        message: tuple = ("ok", _solve_site(task))
    except Exception as exc:  # noqa: BLE001 (raised again in the parent)
        message = ("error", exc)
    try:
        send.send(message)
    except Exception as exc:  # noqa: BLE001 (an exception that does not pickle)
        send.send(("error", SolverError(f"a site worker failed: {type(exc).__name__}: "
                                        f"{message[1]}")))
    send.close()


def _worker_init() -> None:
    """A site worker leaves Ctrl-C to its parent (which stops the workers), dies at once
    on SIGTERM or SIGHUP whatever handler it inherited, and exits if its parent is killed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


@contextmanager
def _stops_held() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP held back while a worker is forked and recorded, then
    handed to their handlers: a stop raised between the fork and the record would leave a
    worker that no clean-up knows. Held by swapping the handlers (masking the main thread
    would not do: the kernel hands a signal to any thread that does not block it), so only
    in the main thread, the only one where a handler raises."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {signum: signal.signal(signum, lambda s, _frame: pending.append(s))
                for signum in STOPS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        for signum in pending:
            signal.raise_signal(signum)


STOPS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _in_workers(tasks: list[tuple], workers: int, sizes: list[int],
                on_sites: OnSites | None = None) -> list[tuple[SolveOutcome,
                                                               PlanTables | None]]:
    """Run site solves in forked processes, at most `workers` at a time, largest first,
    results in task order (a site's SITE_ERRORS in its place, for its batch to raise).

    One process per site: its exit frees the model at once (a full garbage collection of a
    Pyomo model costs about a third of a site's re-solve); it is joined after the next
    worker has started, as the exit of a large process takes tens of milliseconds. The
    parent's objects are frozen out of the collector first, so a child's collections never
    walk (and copy) them.
    Any exception here, a KeyboardInterrupt included, kills every worker still running.
    (Plain processes and pipes, not a multiprocessing Pool: a Pool's terminate() hangs
    when a signal to the process group killed a worker holding its task queue's lock.)
    """
    context = multiprocessing.get_context("fork")
    queue = sorted(range(len(tasks)), key=lambda i: -sizes[i])
    outcomes: list = [None] * len(tasks)
    running: dict[int, tuple[multiprocessing.process.BaseProcess, Connection]] = {}
    exiting: list[multiprocessing.process.BaseProcess] = []  # joined once the next started
    gc.freeze()
    try:
        while queue or running:
            while queue and len(running) < workers:
                i = queue.pop(0)
                receive, send = context.Pipe(duplex=False)
                proc = context.Process(target=_site_worker, args=(tasks[i], send),
                                       name=f"site-{i}", daemon=True)
                with _stops_held():
                    proc.start()
                    running[i] = (proc, receive)
                send.close()
            while exiting:
                exiting[-1].join()
                exiting.pop()
            ready = wait([receive for _, receive in running.values()])
            for i, (proc, receive) in list(running.items()):
                if receive not in ready:
                    continue
                try:
                    status, payload = receive.recv()
                except EOFError:
                    proc.join()
                    raise SolverError(f"the worker solving site {i + 1} of {len(tasks)} "
                                      f"died (exit code {proc.exitcode})") from None
                receive.close()
                exiting.append(proc)
                del running[i]
                if status == "error" and not isinstance(payload, SITE_ERRORS):
                    raise payload
                outcomes[i] = payload
                if on_sites is not None:
                    on_sites(len(tasks) - len(queue) - len(running), len(tasks))
    finally:
        for proc, _ in running.values():
            proc.kill()
        for proc, receive in running.values():
            proc.join()
            receive.close()
        for proc in exiting:
            proc.join()
        gc.unfreeze()
    return outcomes


def _solve_sites(problem: Problem, fixed: Fixed | None, mip_gap: float,
                 time_limit_s: float | None, options: dict[str, object], hourly: bool,
                 workers: int | None, context: str,
                 on_sites: OnSites | None = None, handoff: str = "blocks",
                 flows: dict[str, dict] | None = None) -> tuple[PlanTables, SolveOutcome]:
    """Solve every site alone, in parallel processes, and combine: the hourly re-solve
    (decisions `fixed`), or the whole problem when no portfolio constraint couples sites.
    The combined gap is recomputed from the summed objectives and bounds. `time_limit_s`
    bounds them all together: a site queued behind others gets what is left. `on_sites`
    is told (done, total) before the first and after each site. The largest sites start
    first: a site's size is its steps times the number of its flows in `flows` (an earlier
    plan's dispatch, when there is one), a measure of its columns."""
    [out] = _solve_many([Batch(problem, fixed, flows, context)], mip_gap, time_limit_s,
                        options, hourly, workers, on_sites, handoff)
    return out


SITE_ERRORS = (InfeasibleError, NoSolutionError)  # a site's, raised for its batch


def _site_task(problem: Problem, site: str, fixed: Fixed | None, mip_gap: float,
               deadline: float | None, options: dict[str, object], hourly: bool,
               handoff: str) -> tuple:
    """What `_solve_site` needs to solve one site of `problem` alone."""
    return (problem.subset([site]), fixed, mip_gap, deadline, options, hourly, handoff)


def _site_size(site: SiteSpec, flows: dict | None) -> int:
    """A site's steps times its flows in an earlier plan's dispatch: a measure of columns."""
    return site.steps.n * max(1, len((flows or {}).get(site.name, ())))


class Speculation:
    """The hourly re-solve begun while the investment MIP runs (one HiGHS thread, so a
    core idles): one worker process re-solves the sites, largest first, with the decisions
    of the MIP's completed start, and a thread here keeps what it sends. A site where the
    MIP's plan has the same decisions is then not re-solved again (exact: the same task);
    the others' work is lost. On the benches the MIP keeps the start's decisions at every
    site at 35 x 60, at 25 of 35 at 35 x 180."""

    def __init__(self, problem: Problem, quantities: Fixed, flows: dict, mip_gap: float,
                 options: dict[str, object], hourly: bool, handoff: str) -> None:
        self.problem = problem
        order = sorted(problem.sites, key=lambda site: -_site_size(site, flows))
        self.fixed = [_site_fixed(quantities, site.name) for site in order]
        tasks = [_site_task(problem, site.name, own, mip_gap, None, options, hourly, handoff)
                 for site, own in zip(order, self.fixed, strict=True)]
        context = multiprocessing.get_context("fork")
        self.receive, self.send = context.Pipe(duplex=False)
        self.proc = context.Process(target=_speculate, args=(tasks, self.send), daemon=True,
                                    name="speculation")
        self.sites = [site.name for site in order]
        self.solved: dict[int, tuple] = {}
        self.reader = threading.Thread(target=self._read, daemon=True, name="speculation")

    def start(self) -> None:
        """Fork the worker and start reading (a stop held back meanwhile: `stop` then
        finds both started, or neither)."""
        gc.freeze()
        try:
            with _stops_held():
                self.proc.start()
                self.send.close()
                self.reader.start()
        finally:
            gc.unfreeze()

    def _read(self) -> None:
        while True:
            try:
                i, payload = self.receive.recv()
            except Exception:  # noqa: BLE001 (EOF or a message cut short by stop())
                return
            self.solved[i] = payload

    def stop(self) -> Solved:
        """Stop the worker; the sites it finished, for `_solve_many`'s `ahead`."""
        if self.proc.pid is None:
            self.send.close()
            self.receive.close()
            return {}
        self.proc.kill()
        self.proc.join()
        self.reader.join()
        self.receive.close()
        return {(id(self.problem), self.sites[i]): (self.fixed[i], payload)
                for i, payload in self.solved.items()}


def _speculate(tasks: list[tuple], send: Connection) -> None:
    """A Speculation's worker: solve the sites in turn and send each (index, outcome) that
    is optimal; a site that fails or stops short is left to the re-solve, which reports it."""
    _worker_init()
    for i, task in enumerate(tasks):
        try:
            outcome = _solve_in_process(task)
        except Exception:  # noqa: BLE001
            continue
        if outcome[0].status == OPTIMAL:
            send.send((i, outcome))
    send.close()


class Batch(NamedTuple):
    """One problem whose sites `_solve_many` solves alone: its decisions `fixed` (None: an
    investment MIP), an earlier plan's dispatch `flows` (for the sites' sizes), the
    `context` of its errors, and whether its infeasibility is returned (`keep_error`, as
    for a baseline the plan does not need) rather than raised."""

    problem: Problem
    fixed: Fixed | None
    flows: dict | None
    context: str
    keep_error: bool = False


Solved = dict[tuple[int, str], tuple[Fixed, tuple]]  # (id(problem), site): (fixed, outcome)


def _solve_many(batches: list[Batch], mip_gap: float, time_limit_s: float | None,
                options: dict[str, object], hourly: bool, workers: int | None,
                on_sites: OnSites | None = None, handoff: str = "blocks",
                ahead: Solved | None = None,
                ) -> list[tuple[PlanTables, SolveOutcome] | InfeasibleError | NoSolutionError]:
    """`_solve_sites` of several problems (one per future; a plan and its baseline) with one
    pool of workers over all their sites, so that no worker idles between problems. A site
    whose task repeats an earlier one (the same problem's site with equal fixed decisions,
    e.g. a site where the plan invests nothing and its baseline) is solved once; one
    solved `ahead` with the same decisions (a Speculation's) is not solved again."""
    deadline = None if time_limit_s is None else time.time() + time_limit_s
    tasks, sizes, owner, same, outcomes = [], [], [], [], []
    seen: dict[tuple[int, str], list[tuple[Fixed | None, int]]] = {}
    for i, (problem, fixed, flows, *_) in enumerate(batches):
        for site in problem.sites:
            own = None if fixed is None else _site_fixed(fixed, site.name)
            earlier = seen.setdefault((id(problem), site.name), [])
            match = next((k for f, k in earlier if own is not None and f == own), None)
            owner.append(i)
            same.append(len(tasks) if match is None else match)
            if match is not None:
                continue
            earlier.append((own, len(tasks)))
            tasks.append(_site_task(problem, site.name, own, mip_gap, deadline, options,
                                    hourly, handoff))
            sizes.append(_site_size(site, flows))
            known = (ahead or {}).get((id(problem), site.name))
            outcomes.append(known[1] if known and own is not None and known[0] == own
                            else None)
    todo = [t for t, out in enumerate(outcomes) if out is None]
    given = set(range(len(tasks))).difference(todo)
    done = len(given)
    workers = choose_workers([sizes[t] for t in todo] or [0], workers,
                             mip=any(b.fixed is None for b in batches))
    if on_sites is not None:
        on_sites(done, len(tasks))
    count = None if on_sites is None else \
        (lambda finished, _: on_sites(done + finished, len(tasks)))
    if workers > 1:
        solved = _in_workers([tasks[t] for t in todo], workers, [sizes[t] for t in todo],
                             count)
    else:
        solved = []
        collect = sum(sizes) >= PARALLEL_SIZE
        for t in todo:
            try:
                solved.append(_solve_in_process(tasks[t], collect=collect))
            except SITE_ERRORS as exc:
                solved.append(exc)
            if count is not None:
                count(len(solved), len(todo))
    for t, out in zip(todo, solved, strict=True):
        outcomes[t] = out
    by_site = [(tasks[t], outcomes[t]) for t in same]
    results: list[tuple[PlanTables, SolveOutcome] | InfeasibleError | NoSolutionError] = []
    for i, batch in enumerate(batches):
        mine = [to for to, k in zip(by_site, owner, strict=True) if k == i]
        try:
            plan, outcome = _combine_batch(batch, mine, mip_gap, time_limit_s, options,
                                           workers)
            plan.ahead = sum(t in given for t, k in zip(same, owner, strict=True) if k == i)
            results.append((plan, outcome))
        except SITE_ERRORS as exc:
            if not batch.keep_error:
                raise
            results.append(exc)
    return results


def _combine_batch(batch: Batch, mine: list[tuple[tuple, tuple[SolveOutcome, PlanTables]]],
                   mip_gap: float, time_limit_s: float | None, options: dict[str, object],
                   workers: int) -> tuple[PlanTables, SolveOutcome]:
    """A batch's site outcomes checked (an infeasible site explained) and combined."""
    problem, fixed, _, context, _ = batch
    for _, out in mine:
        if isinstance(out, SITE_ERRORS):
            raise out
    if any(o.status == INFEASIBLE for _, (o, _) in mine):
        _raise_infeasible(problem, mip_gap, time_limit_s, options, context, fixed)
    for (sub_problem, sub_fixed, *_), (outcome, _) in mine:
        _check_outcome(outcome, sub_problem, mip_gap, time_limit_s, options, context,
                       sub_fixed)
    plan, outcome = _combined([o for _, o in mine])
    plan.workers = workers
    return plan, outcome


PARALLEL_SIZE = 400_000  # steps x flows of work that pays for one more worker process


def choose_workers(sizes: list[int], requested: int | None = None, mip: bool = False) -> int:
    """Processes for per-site solves: `requested` if given (1: in this process), else one
    per core this process may use and per task; for LPs (decisions fixed) at most one per
    PARALLEL_SIZE of total size (steps x flows, a measure of columns): forking, sending the
    plans back and waiting cost about a second, which small LPs do not repay
    (bench/RESULTS.md, "Workers"). Investment MIPs solved by site always get every core."""
    if requested:
        return max(1, min(len(sizes), requested))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    by_size = len(sizes) if mip else int(sum(sizes) // PARALLEL_SIZE)
    return max(1, min(len(sizes), cores, by_size))


def _combined(outcomes: list[tuple[SolveOutcome, PlanTables]]) -> tuple[PlanTables,
                                                                         SolveOutcome]:
    """The sites' plans as one, the gap recomputed from the summed objectives and bounds."""
    plan = PlanTables.combine([p for _, p in outcomes])
    worst = max((o for o, _ in outcomes), key=lambda o: o.status != OPTIMAL)
    bounds = [o.bound_usd for o, _ in outcomes]
    bound = None if None in bounds else float(sum(bounds))
    total = SolveOutcome(worst.status, worst.highs_status, plan.objective_usd, bound,
                         relative_gap(plan.objective_usd, bound),
                         sum(o.n_variables for o, _ in outcomes),
                         sum(o.n_integers for o, _ in outcomes),
                         sum(o.n_constraints for o, _ in outcomes),
                         sum(o.handoff_s for o, _ in outcomes),
                         sum(o.solve_s for o, _ in outcomes))
    return plan, total


def _decisions(core: Core) -> list[tuple[DecisionKey, int]]:
    """Every investment decision's key and its column (a shared one once)."""
    return list({key: int(c) for inv in core.investments
                 for key, c in zip(inv.keys, inv.col, strict=True)}.items())


def _quantities(core: Core, x: np.ndarray | None = None) -> Fixed:
    """The decisions' values in the solution `x` (default: the model's)."""
    x = core.values() if x is None else x
    return {key: float(x[c]) for key, c in _decisions(core)}


def _solve(core: Core, mip_gap: float, time_limit_s: float | None,
           options: dict[str, object], start: Start | None = None,
           on_mip: OnMip | None = None, abandon: bool = False,
           handoff: str = "blocks") -> SolveOutcome:
    """Solve a built model, handed to HiGHS as Tuning.handoff says: the rows the Core
    recorded ("rows"; an LP block by block with "blocks") or Pyomo's standard form of its
    expressions ("pyomo"); the same LP either way."""
    core.solution = None
    if handoff == "pyomo":
        return solve_model(core.m, mip_gap, time_limit_s, options, core.objective_unit_usd,
                           start, on_mip, abandon=abandon)
    form = core.standard_form()
    if handoff == "blocks" and not form.integer.any():
        outcome, values = solve_blocks(form, options, core.objective_unit_usd,
                                       time_limit_s=time_limit_s)
        core.keep_solution(form.columns, values)
        return outcome
    return solve_model(core.m, mip_gap, time_limit_s, options, core.objective_unit_usd, start,
                       on_mip, abandon=abandon, compile_with=lambda _model: compile_form(
                           [core.vars[c] for c in form.columns], form))


GAP_FLOOR = 1e-9  # float noise of a recombined gap at mip_gap = 0 is ~1e-15
WARM_START_RESOLUTION = "blocks:12"
COARSE_START_RESOLUTION = "blocks:2"
WARM_START_SHARE = 0.25  # of the time left, at most, for the warm start's blocks solve
CERTIFY_SHARE = 0.5  # of the time left, at most, for the LP relaxation that may prove a start
WARM_START_GAP = 0.02  # a blocks:K run's start (from blocks:2): closing the coarse gap to
# 0.5 % cost 60 s of a 35 x 120 run's 121 s, against 3 s at 2 %. An hourly run's start (from
# blocks:12, 0.14 s on the 5 x 12 bench) costs little at the requested gap and keeps it


def _left(deadline: float | None) -> float | None:
    """Seconds left before `deadline` (a time.time()); None without a limit."""
    return None if deadline is None else max(deadline - time.time(), 0.0)


def warm_start_resolution(resolution: str) -> str | None:
    """The coarser resolution whose plan starts a MIP at `resolution`: blocks:12 for an
    hourly MIP, blocks:2 for blocks:K with K > 2, none for blocks:1 and blocks:2."""
    if resolution == "hourly":
        return WARM_START_RESOLUTION
    return COARSE_START_RESOLUTION if int(resolution.split(":")[1]) > 2 else None


def _warm_start(core: Core, scenario: Scenario, series: Series, resolution: str,
                mip_gap: float, time_limit_s: float | None, options: dict[str, object],
                on_mip: OnMip | None = None) -> Start | None:
    """The investments of a solve at the coarser `resolution` as a MIP start (None if the
    model has no integer decisions, or that solve finds no plan): HiGHS completes them with
    a dispatch. A start for a pure LP would only replace HiGHS's presolve."""
    if not any(core.vars[inv.col[0]].is_integer() for inv in core.investments
               if len(inv.col)):
        return None
    blocks = build_model(build_problem(scenario, series, resolution))
    if _solve(blocks, mip_gap, time_limit_s, options, on_mip=on_mip).status not in (
            OPTIMAL, TIME_LIMIT):
        return None
    quantity = _quantities(blocks)
    return [(core.vars[c], quantity[key]) for key, c in _decisions(core)]


def _completed_start(core: Core, start: Start, options: dict[str, object],
                     time_limit_s: float | None) -> tuple[np.ndarray, SolveOutcome] | None:
    """The start's decisions fixed and the rest of the model solved as an LP, block by
    block with presolve on: every column's value and the outcome, or None if that LP has no
    optimum. HiGHS given only the decisions completes them with an LP of its own over the
    whole model (the 5 x 12 hourly bench: 7.7 s there, 1.6 s here)."""
    fixed = {int(c): within_bounds(value, v.lb, v.ub) for c, (v, value) in
             zip(core.cols([v for v, _ in start]), start, strict=True)}
    form = core.standard_form(fixed)
    outcome, values = solve_blocks(form, {"presolve": "on", **options},
                                   core.objective_unit_usd, time_limit_s=time_limit_s)
    if outcome.status != OPTIMAL:
        return None
    x = core.solution_of(form.columns, values)
    x[list(fixed)] = list(fixed.values())
    return x, outcome


def _certified_start(core: Core, x: np.ndarray, completed: SolveOutcome, mip_gap: float,
                     options: dict[str, object], time_limit_s: float | None,
                     on_mip: OnMip | None = None) -> SolveOutcome | None:
    """The completed start's plan as the MIP's answer when the bound of the LP relaxation
    (integrality dropped) proves it within `mip_gap`, the test HiGHS applies at its root;
    else None. HiGHS's MIP presolve leaves that root LP more than twice as large as LP
    presolve does (the 5 x 12 hourly bench: 35 s against 17 s). `on_mip` is told the
    start's NPV as the incumbent."""
    if on_mip is not None:
        on_mip(MipProgress(0.0, completed.objective_usd, None, None))
    form = core.standard_form()
    relaxed = replace(form, integer=np.zeros_like(form.integer))
    bound, _ = solve_blocks(relaxed, {"presolve": "on", **options}, core.objective_unit_usd,
                            time_limit_s=time_limit_s)
    gap = relative_gap(completed.objective_usd, bound.objective_usd)
    if bound.status != OPTIMAL or gap is None or gap > mip_gap * (1 + 1e-9) + GAP_FLOOR:
        return None
    core.keep_solution(np.arange(len(x)), x)
    return SolveOutcome(OPTIMAL, "Optimal (the warm start's plan, within the gap of the LP "
                        "relaxation's bound)", completed.objective_usd, bound.objective_usd,
                        gap, len(form.columns), int(form.integer.sum()), form.a.shape[0],
                        completed.handoff_s + bound.handoff_s,
                        completed.solve_s + bound.solve_s)


def _raise_infeasible(problem: Problem, mip_gap: float, time_limit_s: float | None,
                      options: dict[str, object], context: str,
                      fixed: Fixed | None = None) -> None:
    """Find the infeasible site(s) one at a time and raise with their explanation."""
    messages = []
    for site in problem.sites:
        alone = problem.subset([site.name])
        sub_fixed = None if fixed is None else _site_fixed(fixed, site.name)
        outcome = _solve(build_model(alone, fixed=sub_fixed), mip_gap, time_limit_s, options)
        if outcome.status == INFEASIBLE:
            messages += diagnose.explain_site(
                alone, lambda p, elastic, f=sub_fixed: build_model(p, elastic=elastic, fixed=f),
                lambda c: _solve(c, mip_gap, time_limit_s, options)) or [
                f"site {site.name!r}: no feasible plan (requirements conflict)"]
    if not messages:
        messages = ["every site is feasible alone; the portfolio constraints (capex_budget_usd)"
                    " cannot be met together"]
    raise InfeasibleError(f"{context}:\n  " + "\n  ".join(messages))


def _check_outcome(outcome: SolveOutcome, problem: Problem, mip_gap: float,
                   time_limit_s: float | None, options: dict[str, object], context: str,
                   fixed: Fixed | None = None) -> None:
    if outcome.status == INFEASIBLE:
        _raise_infeasible(problem, mip_gap, time_limit_s, options, context, fixed)
    if outcome.status == NO_SOLUTION:
        raise NoSolutionError(f"{context}: no feasible plan found within the time limit "
                              f"({time_limit_s:g} s); give a longer --time-limit, or solve at "
                              "a coarser --resolution blocks:K")
    if outcome.status not in (OPTIMAL, TIME_LIMIT):
        raise SolverError(f"{context}: HiGHS stopped with status {outcome.highs_status}")


class Phases:
    """Records how long each named stage of a run takes and tells `progress` when one
    starts; `seconds` keeps the totals (a stage may run more than once). `mip` and
    `sites` pass the progress within a stage on, if `progress` takes it."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.progress = progress or (lambda _phase: None)
        self.mip: OnMip | None = getattr(progress, "mip", None)
        self.sites: OnSites | None = getattr(progress, "sites", None)
        self.seconds: dict[str, float] = {}
        self.t0 = time.perf_counter()

    @contextmanager
    def __call__(self, name: str, shown: str | None = None) -> Iterator[None]:
        self.progress(shown or name)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t0)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def get(self, name: str) -> float:
        return round(self.seconds.get(name, 0.0), 3)

    def total(self) -> float:
        return round(time.perf_counter() - self.t0, 3)


@dataclass
class Run:
    """The state one run's stages hand to each other."""

    scenario: Scenario
    resolution: str
    mip_gap: float
    time_limit_s: float | None
    options: dict[str, object]
    tuning: Tuning
    hourly: bool  # hourly.parquet requested
    series: Series | None = None
    problem: Problem | None = None
    outcome: SolveOutcome | None = None
    first: PlanTables | None = None  # the investment solve's plan
    plan: PlanTables | None = None  # the plan that is run (the hourly re-solve after blocks)
    resolved: SolveOutcome | None = None
    solved_by_site: bool = False
    discarded_s: float = 0.0
    baseline: bool = False  # also solve the no-investment baseline (cash flow comparison)
    hourly_problem: Problem | None = None
    baseline_plan: PlanTables | str | None = None  # its plan, or why it has none
    ahead: Solved | None = None  # sites a Speculation re-solved during the MIP

    @property
    def hourly_run(self) -> bool:
        return self.resolution == "hourly"


def solve(scenario: Scenario | Path | str, *, series: Series | None = None,
          resolution: str | None = None, mip_gap: float | None = None,
          time_limit_s: float | None = None, hourly: bool = False, check: bool = True,
          progress: Progress | None = None, tuning: Tuning | None = None,
          value: bool = False, baseline: bool = False) -> Result:
    """Solve a scenario end to end and return its results (nothing is written).

    The run is an ordered script of stages: read, prepare, investment solve, hourly
    re-solve (after blocks), results, check. With `check` (the default) the returned
    plans are re-checked by `optim.verify`, a second implementation of MODEL.md's
    arithmetic; a failure raises VerificationError carrying the result. `tuning` picks
    the speed levers (default: OPTIM_TUNING, else all on); none changes the answer.
    A scenario with `[futures]` is solved by `optim.stochastic` (MODEL.md §9); `value`
    then adds the value of the stochastic solution and of perfect information.
    `baseline` also solves the scenario with no new investment, hour by hour, and compares
    the plan's cash flows with it (incremental NPV, IRR, payback; `optim.cashflow`).
    """
    phases = Phases(progress)
    with phases("read"):
        run = _read(scenario, series, resolution, mip_gap, time_limit_s, hourly, tuning)
        run.baseline = baseline
    if run.scenario.futures is not None:
        from optim import stochastic

        return stochastic.solve(run, phases, check, value)
    with phases("prepare"):
        _prepare(run)
    _investment_solve(run, phases)
    if run.baseline:
        with phases("baseline"):
            _baseline(run, phases.sites)
    if not run.hourly_run:
        together = isinstance(run.baseline_plan, PlanTables)
        with phases("resolve", "re-solve + baseline" if together else "re-solve"):
            _hourly_resolve(run, phases.sites)
    with phases("results"):
        result = _results(run, phases)
    if check:
        with phases("check"):
            _check(result, run.scenario, run.series)
    result.summary["total_s"] = phases.total()
    return result


def _read(scenario: Scenario | Path | str, series: Series | None, resolution: str | None,
          mip_gap: float | None, time_limit_s: float | None, hourly: bool,
          tuning: Tuning | None) -> Run:
    """Stage 1: the validated scenario, its series and the run's settings."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    sc = scenario.scenario
    options = dict(scenario.solver)
    check_options(options)
    run = Run(scenario, resolution or sc.resolution, sc.mip_gap if mip_gap is None else mip_gap,
              sc.time_limit_s if time_limit_s is None else time_limit_s, options,
              Tuning.from_env() if tuning is None else tuning, hourly)
    run.series = read_series(scenario) if series is None else series
    return run


def _prepare(run: Run) -> None:
    """Stage 2: the plain problem; contradictions in the data alone stop here."""
    run.problem = build_problem(run.scenario, run.series, run.resolution, run.tuning.merge_hours)
    diagnose.raise_if_conflicts(run.problem)


def _investment_solve(run: Run, phases: Phases) -> None:
    """Stage 3: the investment MIP, by site when nothing couples the sites (checked: the
    recombined gap must meet the requested one), else as one model with a warm start."""
    problem, mip_gap, limit = run.problem, run.mip_gap, run.time_limit_s
    deadline = None
    if run.tuning.decomposes(run.resolution) and not problem.capex_budget_usd and \
            len(problem.sites) > 1:
        deadline = None if limit is None else time.time() + limit
        t0 = time.perf_counter()
        with phases("solve_by_site", "solve by site"):
            first, outcome = _solve_sites(problem, None, mip_gap, limit, run.options,
                                          run.hourly and run.hourly_run,
                                          run.tuning.resolve_workers, "no feasible plan",
                                          phases.sites, run.tuning.handoff)
        if outcome.status == OPTIMAL and (outcome.mip_gap or 0.0) > \
                mip_gap * (1 + 1e-9) + GAP_FLOOR:
            run.discarded_s = time.perf_counter() - t0  # negative site NPVs: gaps add up
        else:
            run.first, run.outcome, run.solved_by_site = first, outcome, True
            phases.add("build", first.build_s)
            return
    with phases("build"):
        core = build_model(problem)
    if deadline is None and limit is not None:
        deadline = time.time() + limit  # the limit covers MIP solves, not the build
    start = None
    coarse = warm_start_resolution(run.resolution)
    if coarse is not None and run.tuning.warm_start:
        with phases("warm_start", "warm start"):
            left = _left(deadline)
            start = _warm_start(core, run.scenario, run.series, coarse,
                                mip_gap if run.hourly_run else max(mip_gap, WARM_START_GAP),
                                None if left is None else left * WARM_START_SHARE, run.options,
                                phases.mip)
    with phases("solve"):
        run.outcome = None
        completed = None if start is None else \
            _completed_start(core, start, run.options, _left(deadline))
        if completed is not None:
            x, done = completed
            start = list(zip(core.vars, x.tolist(), strict=True))
            if run.hourly_run and run.tuning.certify_start:
                left = _left(deadline)
                run.outcome = _certified_start(core, x, done, mip_gap, run.options,
                                               None if left is None else left * CERTIFY_SHARE,
                                               phases.mip)
        if run.outcome is None:
            speculation = None
            try:
                if completed is not None:
                    speculation = _speculation(run, core, completed[0])
                if speculation is not None:
                    speculation.start()
                run.outcome = _solve(core, mip_gap, _left(deadline), run.options, start,
                                     phases.mip, abandon=True, handoff=run.tuning.handoff)
            finally:
                if speculation is not None:
                    run.ahead = speculation.stop()
        _check_outcome(run.outcome, problem, mip_gap, limit, run.options, "no feasible plan")
    with phases("tables"):
        run.first = _plan_tables(core, core.values(), run.hourly and run.hourly_run,
                                 run.outcome.objective_usd)


def _speculation(run: Run, core: Core, x: np.ndarray) -> Speculation | None:
    """A Speculation (not started) of the re-solve with a MIP start's plan `x`, when the
    run has a re-solve that is worth worker processes (`choose_workers`)."""
    if run.hourly_run or not run.tuning.speculate:
        return None
    hourly = _hourly_problem(run)
    flows = results.dispatch_by_hour(core, x)
    if choose_workers([_site_size(site, flows) for site in hourly.sites]) < 2:
        return None
    return Speculation(hourly, _quantities(core, x), flows, run.mip_gap,
                       run.tuning.resolve_options(run.options), run.hourly, run.tuning.handoff)


def _hourly_problem(run: Run) -> Problem:
    if run.hourly_problem is None:
        run.hourly_problem = run.problem if run.hourly_run else \
            build_problem(run.scenario, run.series, "hourly", run.tuning.merge_hours)
    return run.hourly_problem


def _hourly_resolve(run: Run, on_sites: OnSites | None = None) -> None:
    """Stage 4 (after blocks): the investments fixed, the dispatch re-solved hour by hour,
    site by site; the baseline's blocks plan too, in the same pool of workers."""
    hourly = _hourly_problem(run)
    batches = [Batch(hourly, run.first.quantities, run.first.dispatch,
                     "the hourly re-solve with the blocks investments fixed has no feasible "
                     "dispatch")]
    base = run.baseline_plan
    if isinstance(base, PlanTables):
        batches.append(Batch(hourly, base.quantities, base.dispatch, BASELINE_CONTEXT, True))
    solved = _solve_many(batches, run.mip_gap, None, run.tuning.resolve_options(run.options),
                         run.hourly, run.tuning.resolve_workers, on_sites, run.tuning.handoff,
                         run.ahead)
    run.plan, run.resolved = solved[0]
    if isinstance(base, PlanTables):
        run.baseline_plan = str(solved[1]) if isinstance(solved[1], Exception) else \
            replace(solved[1][0], investments=base.investments, hourly=None)


BASELINE_CONTEXT = "the no-investment baseline has no feasible plan"


def _baseline(run: Run, on_sites: OnSites | None = None) -> None:
    """Stage 4b: the same scenario with no new investment (existing fleet and units,
    committed halls and upgrades; capital-free hosting contracts still chosen), site by
    site, as nothing couples sites without investment. After blocks, its hourly re-solve
    joins the plan's (`_hourly_resolve`)."""
    try:
        run.baseline_plan, _ = _solve_sites(run.problem, NO_INVESTMENT, run.mip_gap,
                                            run.time_limit_s, run.options, False,
                                            run.tuning.resolve_workers, BASELINE_CONTEXT,
                                            on_sites, run.tuning.handoff)
    except SITE_ERRORS as exc:
        run.baseline_plan = str(exc)


def _cash_flows(run: Run, plan: PlanTables, investments: pd.DataFrame,
                summary: dict) -> pd.DataFrame:
    """The plan's monthly cash flows (and its baseline's), and their comparison in
    `summary["cash_flow"]`."""
    rate = run.scenario.scenario.discount_rate
    flows = cashflow.monthly_cash_flows(plan.monthly, investments, rate)
    compared: dict[str, object] = {"plan_npv_usd": cashflow.npv_of(flows),
                                   "terminal_value_usd": float(
                                       flows["terminal_value_usd"].sum())}
    compared["baseline"] = "solved" if isinstance(run.baseline_plan, PlanTables) else \
        "skipped" if run.baseline_plan is None else "failed"
    if isinstance(run.baseline_plan, PlanTables):
        base = cashflow.monthly_cash_flows(run.baseline_plan.monthly,
                                           run.baseline_plan.investments, rate,
                                           cashflow.BASELINE)
        compared.update(cashflow.incremental(flows, base, rate))
        flows = pd.concat([flows, base], ignore_index=True)
    elif run.baseline_plan is not None:
        compared["baseline_error"] = run.baseline_plan
    summary["cash_flow"] = compared
    return flows


def _results(run: Run, phases: Phases) -> Result:
    """Stage 5: the summary of MODEL.md §6 and the result tables."""
    t0 = time.perf_counter()
    sc, outcome, first = run.scenario.scenario, run.outcome, run.first
    summary: dict = {
        "results_version": results.RESULTS_VERSION,
        "scenario": sc.name,
        "status": outcome.status,
        "highs_status": outcome.highs_status,
        "resolution": run.resolution,
        "npv_usd": outcome.objective_usd,
        "npv_hourly_usd": None,
        "npv_hourly_minus_blocks_usd": None,
        "mip_gap": outcome.mip_gap,
        "mip_gap_requested": run.mip_gap,
        "bound_usd": outcome.bound_usd,
        "npv_lines_usd": first.lines,
        "variables": outcome.n_variables,
        "integers": outcome.n_integers,
        "constraints": outcome.n_constraints,
        "solved_by_site": run.solved_by_site,
        "solved_by_site_discarded_s": round(run.discarded_s, 3) if run.discarded_s else None,
    }
    plan = first
    if not run.hourly_run:
        plan, resolved = run.plan, run.resolved
        summary["npv_hourly_usd"] = resolved.objective_usd
        summary["npv_hourly_minus_blocks_usd"] = resolved.objective_usd - outcome.objective_usd
        summary["npv_lines_hourly_usd"] = plan.lines
        summary["hourly_resolve_status"] = resolved.status
        summary["resolve_workers"] = plan.workers
        summary["resolve_sites_ahead"] = plan.ahead
        summary["resolve_work_s"] = {"build": round(plan.build_s, 3),
                                     "handoff": round(resolved.handoff_s, 3),
                                     "solve": round(resolved.solve_s, 3)}
    site_order = {site.name: i for i, site in enumerate(run.problem.sites)}
    investments = first.investments.sort_values(
        ["site", "month", "kind", "name"], kind="stable", ignore_index=True,
        key=lambda c: c.map(site_order) if c.name == "site" else c)
    summary.update({
        "read_s": phases.get("read"),
        "prepare_s": phases.get("prepare"),
        "build_s": phases.get("build"),
        "warm_start_s": phases.get("warm_start"),
        "handoff_s": round(outcome.handoff_s, 3),
        "solve_s": round(outcome.solve_s, 3),
        "resolve_s": phases.get("resolve"),
        "results_s": round(phases.seconds.get("tables", 0.0) + time.perf_counter() - t0, 3),
        "total_s": phases.total(),
        "tuning": run.tuning.describe(),
        "solver": {"name": "highs", "version": highspy.Highs().version(),
                   "pyomo": pyomo.version.version, "options": run.options},
    })
    flows = _cash_flows(run, plan, investments, summary)
    summary["baseline_s"] = phases.get("baseline")
    return Result(summary, investments, plan.monthly, plan.hourly, plan.dispatch,
                  None if run.hourly_run else first.dispatch, {"cashflow": flows})


def _violation_dict(v: Verification) -> dict | None:
    m = v.max_violation
    return None if m is None else {"constraint": m.constraint, "site": m.site, "when": m.when,
                                   "amount": m.amount}


def _check(result: Result, scenario: Scenario, series: Series) -> None:
    """Re-check the plan(s) independently; record the outcome; raise on failure."""
    t0 = time.perf_counter()
    s = result.summary
    checks = [("npv_usd", result.dispatch_blocks or result.dispatch, s["resolution"])]
    if result.dispatch_blocks is not None:
        checks.append(("npv_hourly_usd", result.dispatch, "hourly"))
    failures = []
    worst: Verification | None = None
    for key, dispatch, plan_resolution in checks:
        v = verify(scenario, series, result.investments, dispatch, s[key], plan_resolution)
        s[key.replace("_usd", "_recomputed_usd")] = v.npv_recomputed_usd
        if worst is None or (v.max_violation and (worst.max_violation is None or
                                                  v.max_violation.amount >
                                                  worst.max_violation.amount)):
            worst = v
        if not v.verified:
            failures.append(f"{key}: {v.describe()}")
    s["verified"] = not failures
    s["max_violation"] = _violation_dict(worst) if worst else None
    s["check_s"] = round(time.perf_counter() - t0, 3)
    raise_check_failures(result, failures)


def raise_check_failures(result: Result, failures: list[str]) -> None:
    """VerificationError (exit 5) carrying the result, if the check found anything."""
    if failures:
        error = VerificationError("the plan failed the independent check:\n  " +
                                  "\n  ".join(failures))
        error.result = result
        raise error
