"""Solve a scenario with `[futures]` (MODEL.md §9): the engine's ordered stages for a
two-stage stochastic program.

1. every future's series and problem (`optim.futures`);
2. the extensive form: one Core over all futures, decisions of months before
   `commit_months` shared, objective `(1 - λ) E[NPV] + λ CVaR_α`;
3. with λ = 1, every future re-optimised alone with the shared decisions fixed (futures
   above the value-at-risk do not enter the objective, so their own decisions are only
   settled there);
4. after `blocks:K`, every future re-solved hour by hour with its own decisions fixed
   (sites in worker processes, as a deterministic re-solve);
5. with `value`, the value of the stochastic solution and of perfect information;
6. results: per-future NPVs and lines (`futures` table), probability-weighted lines, the
   plan with a `future` column; then the independent check of every future.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optim import cashflow, engine, futures, results
from optim.core import Core, DecisionKey, Fixed
from optim.engine import (
    Batch,
    Phases,
    Result,
    Run,
    _check_outcome,
    _left,
    _solve,
    _solve_many,
    build_model,
    raise_check_failures,
)
from optim.futures import Futures
from optim.problem import Problem, build_problem
from optim.series import Series


@dataclass
class FutureOutcome:
    """One future's plan: its NPV and lines (at the run's resolution and after the hourly
    re-solve), and its dispatch for the checker."""

    name: str
    probability: float
    npv_usd: float
    lines: dict[str, float]
    dispatch: dict = field(repr=False, default_factory=dict)
    npv_hourly_usd: float | None = None
    lines_hourly: dict[str, float] | None = None
    dispatch_hourly: dict | None = field(repr=False, default=None)


def solve(run: Run, phases: Phases, check: bool, value: bool = False) -> Result:
    """Stages 2-6 of a futures run (stage 1, reading, is the engine's)."""
    sc = run.scenario
    with phases("prepare"):
        fut = futures.read_futures(sc, run.series.horizon)
        series = [futures.series_of(run.series, fut, f) for f in range(len(fut))]
        problems = _problems(run, fut, series, run.resolution)
        run.problem = problems[0]
    with phases("build"):
        core = build_model(problems, commit_months=fut.commit_months,
                           risk=(fut.risk_alpha, fut.risk_weight))
    deadline = None if run.time_limit_s is None else time.time() + run.time_limit_s
    with phases("solve"):  # a mean-value plan as MIP start made it slower (34 s -> 42 s)
        outcome = _solve(core, run.mip_gap, _left(deadline), run.options, None, phases.mip,
                         abandon=True, handoff=run.tuning.handoff)
        _check_outcome(outcome, problems[0], run.mip_gap, run.time_limit_s, run.options,
                       "no feasible plan over the futures")
    run.outcome = outcome
    with phases("tables"):
        x = core.values()
        quantities = engine._quantities(core)
        plans = _future_outcomes(core, x, fut)
        investments = results.investments_frame(core, x)
        monthly = results.monthly_frame(core, x)
        if "future" not in investments:  # one future: every decision is shared
            investments["future"] = ""
        if "future" not in monthly:
            monthly.insert(0, "future", fut.names[0])
    if fut.risk_weight >= 1.0:
        with phases("reoptimise", "re-optimise futures"):
            plans, monthly, later = _reoptimised(run, fut, series, quantities, plans)
            investments = pd.concat([investments[investments["future"] == ""], later],
                                    ignore_index=True)
    if not run.hourly_run:
        with phases("resolve", "re-solve"):
            monthly = _hourly(run, fut, series, quantities, plans, phases.sites)
    values = {}
    if value:
        with phases("value", "value of information"):
            values = _value_of_information(run, fut, series, problems, outcome.objective_usd)
    with phases("results"):
        result = _result(run, fut, outcome, plans, investments, monthly, values, phases)
    if check:
        with phases("check"):
            _check(result, run, fut, series, plans)
    result.summary["total_s"] = phases.total()
    return result


def _problems(run: Run, fut: Futures, series: list[Series], resolution: str
              ) -> tuple[Problem, ...]:
    return tuple(build_problem(run.scenario, series[f], resolution, run.tuning.merge_hours,
                               future=name, probability=float(fut.probability[f]))
                 for f, name in enumerate(fut.names))


def _future_outcomes(core: Core, x: np.ndarray, fut: Futures) -> list[FutureOutcome]:
    """Each future's NPV (its own §3 objective), lines and dispatch."""
    return [FutureOutcome(fut.names[f], float(fut.probability[f]),
                          float(per_col @ x[:len(per_col)] + const),
                          results.npv_lines(core, x, f), results.dispatch_by_hour(core, x, f))
            for f, (per_col, const) in enumerate(core.future_npv_terms())]


def _own(quantities: Fixed, name: str, shared_only: bool = False) -> Fixed:
    """One future's decisions keyed as a deterministic run's (future ""): the shared ones
    and (unless `shared_only`) its own."""
    keep = ("",) if shared_only else ("", name)
    return {DecisionKey(k.kind, k.name, k.site, k.month, ""): q
            for k, q in quantities.items() if k.future in keep}


def _reoptimised(run: Run, fut: Futures, series: list[Series], quantities: Fixed,
                 plans: list[FutureOutcome]
                 ) -> tuple[list[FutureOutcome], pd.DataFrame, pd.DataFrame]:
    """λ = 1: each future's best plan given the shared decisions (MODEL.md §9); its own
    later decisions replace the extensive form's in `quantities`."""
    out, frames, later = [], [], []
    for f, name in enumerate(fut.names):
        problem = build_problem(run.scenario, series[f], run.resolution,
                                run.tuning.merge_hours)
        core = build_model(problem, fixed=_own(quantities, name, shared_only=True),
                           free_unfixed=True)
        outcome = _solve(core, run.mip_gap, None, run.options, handoff=run.tuning.handoff)
        _check_outcome(outcome, problem, run.mip_gap, None, run.options,
                       f"future {name!r} with the shared decisions fixed")
        x = core.values()
        for key, q in engine._quantities(core).items():
            if key.month >= fut.commit_months:
                quantities[DecisionKey(key.kind, key.name, key.site, key.month, name)] = q
        own = results.investments_frame(core, x)
        month = own["month"].map({m: k for k, m in enumerate(problem.horizon.month_labels)})
        later.append(own[month >= fut.commit_months].assign(future=name))
        out.append(FutureOutcome(name, plans[f].probability, outcome.objective_usd,
                                 results.npv_lines(core, x), results.dispatch_by_hour(core, x)))
        frame = results.monthly_frame(core, x)
        frame.insert(0, "future", name)
        frames.append(frame)
    return out, pd.concat(frames, ignore_index=True), pd.concat(later, ignore_index=True)


def _hourly(run: Run, fut: Futures, series: list[Series], quantities: Fixed,
            plans: list[FutureOutcome], on_sites: object = None) -> pd.DataFrame:
    """Every future re-solved hour by hour with its own decisions fixed: one pool of
    worker processes over every (future, site)."""
    context = "a future's hourly re-solve with its decisions fixed has no feasible dispatch"
    batches = [Batch(build_problem(run.scenario, series[f], "hourly", run.tuning.merge_hours),
                     _own(quantities, name), plans[f].dispatch, context)
               for f, name in enumerate(fut.names)]
    solved = _solve_many(batches, run.mip_gap, None, run.tuning.resolve_options(run.options),
                         False, run.tuning.resolve_workers, on_sites, run.tuning.handoff)
    frames = []
    for f, (name, (plan, resolved)) in enumerate(zip(fut.names, solved, strict=True)):
        plans[f].npv_hourly_usd = resolved.objective_usd
        plans[f].lines_hourly = plan.lines
        plans[f].dispatch_hourly = plan.dispatch
        frame = plan.monthly.copy()
        frame.insert(0, "future", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _stats(npv: np.ndarray, fut: Futures) -> dict[str, float]:
    p = fut.probability
    return {"objective": float(futures.objective(npv, p, fut.risk_alpha, fut.risk_weight)),
            "expected": float(p @ npv), "cvar": float(futures.cvar(npv, p, fut.risk_alpha))}


def _value_of_information(run: Run, fut: Futures, series: list[Series],
                          problems: tuple[Problem, ...], objective: float) -> dict[str, float]:
    """VSS = objective - objective(EV plan); EVPI = WS - objective (MODEL.md §9), at the
    run's resolution."""
    mean = futures.mean_series(run.series, fut)
    ev_core = build_model(build_problem(run.scenario, mean, run.resolution,
                                        run.tuning.merge_hours))
    ev = _solve(ev_core, run.mip_gap, None, run.options, handoff=run.tuning.handoff)
    _check_outcome(ev, problems[0], run.mip_gap, None, run.options, "the mean-value problem")
    shared = {DecisionKey(k.kind, k.name, k.site, k.month, ""): q
              for k, q in engine._quantities(ev_core).items() if k.month < fut.commit_months}
    with_ev = build_model(problems, fixed=shared, free_unfixed=True,
                          commit_months=fut.commit_months,
                          risk=(fut.risk_alpha, fut.risk_weight))
    fixed_ev = _solve(with_ev, run.mip_gap, None, run.options, handoff=run.tuning.handoff)
    _check_outcome(fixed_ev, problems[0], run.mip_gap, None, run.options,
                   "the stochastic problem with the mean-value plan's first decisions")
    alone = []
    for f in range(len(fut)):
        core = build_model(build_problem(run.scenario, series[f], run.resolution,
                                         run.tuning.merge_hours))
        outcome = _solve(core, run.mip_gap, None, run.options, handoff=run.tuning.handoff)
        _check_outcome(outcome, problems[f], run.mip_gap, None, run.options,
                       f"future {fut.names[f]!r} with perfect foresight")
        alone.append(outcome.objective_usd)
    ws = futures.objective(np.array(alone), fut.probability, fut.risk_alpha, fut.risk_weight)
    return {"vss_usd": float(objective - fixed_ev.objective_usd),
            "evpi_usd": float(ws - objective),
            "ev_plan_objective_usd": float(fixed_ev.objective_usd), "wait_and_see_usd": float(ws)}


def _result(run: Run, fut: Futures, outcome: object, plans: list[FutureOutcome],
            investments: pd.DataFrame, monthly: pd.DataFrame, values: dict[str, float],
            phases: Phases) -> Result:
    npv = np.array([p.npv_usd for p in plans])
    stats = _stats(npv, fut)
    weights = fut.probability
    lines = {k: float(sum(w * p.lines[k] for w, p in zip(weights, plans, strict=True)))
             for k in plans[0].lines}
    summary: dict = {
        "results_version": results.RESULTS_VERSION,
        "scenario": run.scenario.scenario.name,
        "status": outcome.status,
        "highs_status": outcome.highs_status,
        "resolution": run.resolution,
        "npv_usd": stats["objective"],
        "expected_npv_usd": stats["expected"],
        "cvar_npv_usd": stats["cvar"],
        "risk_alpha": fut.risk_alpha,
        "risk_weight": fut.risk_weight,
        "commit_months": fut.commit_months,
        "futures": len(fut),
        "npv_hourly_usd": None,
        "mip_gap": outcome.mip_gap,
        "mip_gap_requested": run.mip_gap,
        "bound_usd": outcome.bound_usd,
        "model_objective_usd": outcome.objective_usd,
        "npv_lines_usd": lines,
        "variables": outcome.n_variables,
        "integers": outcome.n_integers,
        "constraints": outcome.n_constraints,
    }
    if not run.hourly_run:
        hourly = np.array([p.npv_hourly_usd for p in plans])
        h = _stats(hourly, fut)
        summary.update({"npv_hourly_usd": h["objective"], "expected_npv_hourly_usd": h["expected"],
                        "cvar_npv_hourly_usd": h["cvar"],
                        "npv_lines_hourly_usd": {
                            k: float(sum(w * p.lines_hourly[k]
                                         for w, p in zip(weights, plans, strict=True)))
                            for k in plans[0].lines_hourly}})
    summary.update(values)
    summary.update({
        "read_s": phases.get("read"), "prepare_s": phases.get("prepare"),
        "build_s": phases.get("build"), "handoff_s": round(outcome.handoff_s, 3),
        "solve_s": round(outcome.solve_s, 3), "resolve_s": phases.get("resolve"),
        "total_s": phases.total(), "tuning": run.tuning.describe()})
    rows = []
    for p in plans:
        row = {"future": p.name, "probability": p.probability, "npv_usd": p.npv_usd}
        if p.npv_hourly_usd is not None:
            row["npv_hourly_usd"] = p.npv_hourly_usd
        row.update(p.lines_hourly or p.lines)
        rows.append(row)
    table = pd.DataFrame(rows)
    site_order = {site.name: i for i, site in enumerate(run.problem.sites)}
    investments = investments.sort_values(
        ["future", "site", "month", "kind", "name"], kind="stable", ignore_index=True,
        key=lambda c: c.map(site_order) if c.name == "site" else c)
    result = Result(summary, investments, monthly)
    result.tables["futures"] = table
    result.tables["cashflow"] = cashflow.monthly_cash_flows(
        monthly, investments, run.scenario.scenario.discount_rate)
    result.futures = plans
    return result


def _check(result: Result, run: Run, fut: Futures, series: list[Series],
           plans: list[FutureOutcome]) -> None:
    """Every future's plan and NPV re-derived from the raw inputs, the shared decisions
    identical in every future, and the objective recomputed (CVaR by sorting)."""
    from optim.verify import verify

    t0 = time.perf_counter()
    s = result.summary
    failures = []
    inv = result.investments
    month_index = {label: k for k, label in enumerate(run.series.horizon.month_labels)}
    months = inv["month"].map(month_index)
    early = inv[(inv["future"] != "") & (months < fut.commit_months)]
    late = inv[(inv["future"] == "") & (months >= fut.commit_months) & (len(fut) > 1)]
    for _, row in early.iterrows():
        failures.append(f"non-anticipativity: {row['site']} {row['kind']} {row['month']} is "
                        f"decided in future {row['future']!r} before commit_months")
    for _, row in late.iterrows():
        failures.append(f"{row['site']} {row['kind']} {row['month']}: a decision after "
                        "commit_months is listed as shared")
    checks = [("npv_usd", "npv_usd", "dispatch", run.resolution)]
    if not run.hourly_run:
        checks.append(("npv_hourly_usd", "npv_hourly_usd", "dispatch_hourly", "hourly"))
    for key, attr, dispatch_attr, resolution in checks:
        recomputed = []
        for f, p in enumerate(plans):
            own = inv[inv["future"].isin(["", p.name])].drop(columns="future")
            v = verify(run.scenario, series[f], own.reset_index(drop=True),
                       getattr(p, dispatch_attr), getattr(p, attr), resolution)
            recomputed.append(v.npv_recomputed_usd)
            if not v.verified:
                failures.append(f"future {p.name!r} ({key}): {v.describe()}")
        objective = futures.objective(np.array(recomputed), fut.probability, fut.risk_alpha,
                                      fut.risk_weight)
        s[key.replace("_usd", "_recomputed_usd")] = float(objective)
        if abs(objective - s[key]) > 1e-5 + 1e-6 * abs(s[key]):
            failures.append(f"{key}: the objective recomputed from the futures' NPVs is "
                            f"{objective:,.2f}, not {s[key]:,.2f}")
    s["verified"] = not failures
    s["check_s"] = round(time.perf_counter() - t0, 3)
    raise_check_failures(result, failures)
