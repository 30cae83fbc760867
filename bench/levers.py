"""Measure the speed levers of issue 5 one at a time, and check none moves the answer.

    python bench/levers.py [--work bench/.work] [--seeds 3]     (also run by bench/run.py)

Each lever is one change against the defaults, run as the real command
``python cli.py solve`` on a benchmark portfolio: an engine lever through OPTIM_TUNING
(optim/tuning.py), a HiGHS setting through a `[solver]` table in a copy of the scenario.
Where HiGHS's path matters (the hourly MIP, whose time is almost all its root LP) every
variant runs with HiGHS `random_seed` 0 .. seeds-1 and the median and range are reported,
since the seed alone moves that time by about 2x. Every run's NPV is compared with the
baseline run of the same seed: a lever that leaves the MIP untouched (merging hours or
worker processes in the re-solve) must give the same NPVs to 1e-6; one that changes the
MIP's path must stay within the MIP gap of the baseline.

The hand-off paths from Pyomo to HiGHS are timed in-process on the same hourly model.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
EXACT_REL = 1e-6


@dataclass(frozen=True)
class Lever:
    name: str
    what: str
    tuning: str = ""  # OPTIM_TUNING
    solver: dict = field(default_factory=dict)  # [solver] table
    exact: bool = False  # the investment MIP is untouched: NPVs must agree to 1e-6
    drop_budget: bool = False  # run on the portfolio without its capex budget
    compare_to: str | None = "baseline"  # the lever whose answer this one must give
    by_site: bool | None = None  # must (True) or must not (False) be solved site by site
    max_seeds: int | None = None  # fewer seeds for a slow variant
    timeout_s: float | None = None  # a shorter limit for a variant expected to be slow


HOURLY_LEVERS = (
    Lever("baseline", "defaults (merged hours, warm start, recorded-rows hand-off, "
          "dual simplex)",
          compare_to=None),
    Lever("no merge", "one step per hour (identical hours not merged)", "merge_hours=false"),
    Lever("no warm start", "no MIP start from a blocks:12 solve's investments",
          "warm_start=false"),
    Lever("no start check", "HiGHS solves the MIP even when the LP relaxation's bound "
          "proves its completed start within the gap", "certify_start=false"),
    Lever("IPM", "HiGHS interior point for the MIP's LPs", solver={"mip_lp_solver": "ipm"},
          max_seeds=1),
    Lever("no presolve", "HiGHS presolve off", solver={"presolve": "off"}, max_seeds=1,
          timeout_s=120.0),
    Lever("1 thread", "HiGHS threads = 1", solver={"threads": 1}),
    Lever("no budget, whole", "without the capex budget, one model of all sites",
          "decompose=never", drop_budget=True, compare_to=None),
    Lever("no budget, by site", "without the capex budget, each site alone in its own "
          "process (uncoupled sites decompose)", drop_budget=True, by_site=True,
          compare_to="no budget, whole"),
)
BLOCKS_LEVERS = (
    Lever("baseline", "defaults (merged hours, re-solve in one process per core)",
          compare_to=None),
    Lever("no merge", "re-solve with one step per hour", "merge_hours=false", exact=True),
    Lever("no speculation", "no re-solve during the MIP with its start's decisions",
          "speculate=false", exact=True),
    Lever("1 process", "re-solve sites one after the other in the main process",
          "resolve_workers=1", exact=True),
    Lever("Pyomo hand-off", "HiGHS gets Pyomo's standard form compiled from the model's "
          "expressions instead of the rows the Core recorded", "direct_handoff=false",
          exact=True),
    Lever("re-solve presolve", "HiGHS presolve on for the re-solve's LPs",
          "resolve_presolve=on", exact=True),
    Lever("no re-solve presolve", "HiGHS presolve off for every re-solve LP (no probe for "
          "tiny blocks)", "resolve_presolve=off", exact=True),
    Lever("whole LP", "each site's re-solve LP solved whole, not block by block",
          "split_blocks=false", exact=True),
)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def variant(scenario: Path, lever: Lever, seed: int) -> Path:
    """A copy of the scenario (next to it, so its data paths hold) with the lever's
    [solver] table and HiGHS random_seed."""
    options = {"random_seed": seed, **lever.solver}
    text = scenario.read_text()
    if lever.drop_budget:
        text = "\n".join(line for line in text.splitlines()
                         if not line.startswith("capex_budget_usd"))
    if "[solver]" in text:
        raise ValueError(f"{scenario} already has a [solver] table")
    body = "\n".join(f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}"
                     for k, v in options.items()).replace("'", '"')
    path = scenario.with_name(f"scenario.lever.{slug(lever.name)}.{seed}.toml")
    path.write_text(text.rstrip() + "\n\n[solver]\n" + body + "\n")
    return path


def within(row: dict, base: dict, exact: bool) -> tuple[bool, str]:
    """Does a lever's run give the baseline's answer: exactly, or (both solved to the
    requested gap) within that requested gap?"""
    if any(r.get("solve_status") not in (None, "optimal") for r in (row, base)):
        return False, "not solved to the gap"
    a, b = row["npv_usd"], base["npv_usd"]
    rel = abs(a - b) / max(1.0, abs(b))
    if exact:
        keys = [k for k in ("npv_usd", "npv_hourly_usd") if base.get(k) is not None]
        worst = max(abs(row[k] - base[k]) / max(1.0, abs(base[k])) for k in keys)
        return worst <= EXACT_REL, f"{worst:.1e}"
    allowed = max(row.get("mip_gap_requested") or row["mip_gap"] or 0.0,
                  base.get("mip_gap_requested") or base["mip_gap"] or 0.0)
    return rel <= allowed * (1 + 1e-9) + 1e-12, f"{rel:.2e} (gap {allowed:.2%})"


def run_levers(measure, scenario: Path, levers: tuple[Lever, ...], seeds: int,  # noqa: ANN001
               work: Path, timeout_s: float, log=print) -> list[dict]:  # noqa: ANN001
    """Every lever x seed through `measure` (bench/run.py's); one row per lever."""
    rows, done = [], {}
    for lever in levers:
        runs = []
        for seed in range(min(seeds, lever.max_seeds or seeds)):
            path = variant(scenario, lever, seed)
            run = measure(path, work / f"lever_{slug(lever.name)}_{seed}",
                          timeout_s=lever.timeout_s or timeout_s,
                          env={"OPTIM_TUNING": lever.tuning})
            path.unlink()
            if run["status"] == "ok" and lever.by_site is not None and \
                    run.get("solved_by_site") != lever.by_site:
                run["status"] = "wrong path"  # e.g. a silent fallback to one model
            if run["status"] == "ok":
                done[(lever.name, seed)] = run
            base = done.get((lever.compare_to, seed))
            if run["status"] == "ok" and base is not None:
                run["same_answer"], run["difference"] = within(run, base, lever.exact)
            runs.append(run)
            log(f"  lever {lever.name!r} seed {seed}: {run['status']}, wall {run['wall_s']:.1f} s"
                + (f", NPV diff {run.get('difference')}" if run["status"] == "ok" else ""))
        rows.append(summarise(lever, runs))
    return rows


def summarise(lever: Lever, runs: list[dict]) -> dict:
    ok = [r for r in runs if r["status"] == "ok"]
    row = {"lever": lever.name, "what": lever.what, "runs": len(runs), "finished": len(ok),
           "exact": lever.exact, "statuses": sorted({r["status"] for r in runs}),
           "compare_to": lever.compare_to}
    for key in ("wall_s", "solve_s", "resolve_s", "total_s", "variables", "peak_rss_mb"):
        values = [r[key] for r in ok if r.get(key) is not None]
        row[key] = statistics.median(values) if values else None
        row[f"{key}_range"] = (min(values), max(values)) if values else None
    unfinished = [r["wall_s"] for r in runs if r["status"] != "ok"]
    row["unfinished_wall_s"] = max(unfinished) if unfinished else None
    checks = [r["same_answer"] for r in ok if "same_answer" in r]
    if not all(checks):
        row["same_answer"] = False
    elif checks and len(checks) == len(runs):
        row["same_answer"] = True
    else:
        row["same_answer"] = None  # not every run finished and was compared
    row["differences"] = [r.get("difference") for r in ok]
    return row


def handoff_paths(scenario: Path, work: Path) -> dict:
    """Seconds to get the same Pyomo model into HiGHS by three routes (no solve)."""
    try:
        import highspy

        if str(REPO_ROOT) not in sys.path:
            sys.path.insert(0, str(REPO_ROOT))
        from pyomo.common.gc_manager import PauseGC
        from pyomo.contrib.appsi.solvers.highs import Highs as AppsiHighs

        from optim.engine import build_model
        from optim.problem import build_problem
        from optim.scenario import load_scenario
        from optim.series import read_series
        from optim.solver import solve_model

        sc = load_scenario(scenario)
        core = build_model(build_problem(sc, read_series(sc), "hourly", merge_hours=True))
        out = {"variables": len(core.vars)}
        solve_model(core.m, 0.005, 0.0, {})  # warms the compiler's imports (scipy)
        outcome = solve_model(core.m, 0.005, 0.0, {})
        out["standard_form_s"] = outcome.handoff_s
        lp = work / "handoff.lp"
        with PauseGC():
            t0 = time.perf_counter()
            core.m.write(str(lp), io_options={"symbolic_solver_labels": False})
            h = highspy.Highs()
            h.silent()
            h.readModel(str(lp))
            out["lp_file_s"] = time.perf_counter() - t0
        lp.unlink()
        with PauseGC():
            t0 = time.perf_counter()
            appsi = AppsiHighs()
            appsi.set_instance(core.m)
            out["appsi_s"] = time.perf_counter() - t0
        return {k: round(v, 2) if isinstance(v, float) else v for k, v in out.items()}
    except Exception as exc:  # noqa: BLE001 - a measurement must not break the benchmark
        return {"error": f"{type(exc).__name__}: {exc}"}


def _fmt_range(row: dict, key: str) -> str:
    if row.get(key) is None:
        stopped = row.get("unfinished_wall_s")
        return f"> {stopped:.0f}" if key == "wall_s" and stopped else "-"
    lo, hi = row[f"{key}_range"]
    return f"{row[key]:.1f}" + (f" ({lo:.1f}-{hi:.1f})" if row["finished"] > 1 else "")


def render(hourly: list[dict], blocks: list[dict], handoff: dict, sizes: dict) -> list[str]:
    lines = ["## Levers", "",
             "Written by bench/levers.py: one lever changed at a time against the defaults, "
             "the real command each time. `wall` is the median over HiGHS random_seed 0 .. "
             f"{sizes['seeds'] - 1} (range in brackets) for the hourly MIP; `same answer` "
             "compares each run's NPV with the baseline run of the same seed: exactly (1e-6) "
             "where the investment MIP is untouched, else within the MIP gap.", ""]
    for title, rows, key in ((f"{sizes['hourly']} hourly", hourly, "solve_s"),
                             (f"{sizes['blocks']} blocks:12", blocks, "resolve_s")):
        if not rows:
            continue
        by_name = {r["lever"]: r for r in rows}
        lines += [f"**{title}**", "",
                  f"| lever | what | finished | wall s | {key[:-2]} s | variables | wall vs "
                  "reference | same answer as |", "| --- | --- | ---: | ---: | ---: | ---: | ---: "
                  "| --- |"]
        for r in rows:
            base = by_name.get(r.get("compare_to") or "")
            ratio = "-" if base is None or not base.get("wall_s") or not r.get("wall_s") \
                else f"{r['wall_s'] / base['wall_s']:.2f}x"
            same = {True: "yes", False: "**NO**", None: "-"}[r["same_answer"]] + (
                f" ({r['compare_to']})" if r.get("compare_to") else " (reference)")
            status = f"{r['finished']}/{r['runs']}" + (
                "" if r["finished"] == r["runs"] else f" ({', '.join(r['statuses'])})")
            lines.append(f"| {r['lever']} | {r['what']} | {status} | {_fmt_range(r, 'wall_s')} "
                         f"| {_fmt_range(r, key)} | {_f_int(r['variables'])} | {ratio} "
                         f"| {same} |")
        lines.append("")
    one = next((r for r in blocks if r["lever"] == "1 process"), None)
    base = next((r for r in blocks if r["lever"] == "baseline"), None)
    if one and base and one.get("resolve_s") and base.get("resolve_s"):
        lines += [f"The re-solve in worker processes is {one['resolve_s'] / base['resolve_s']:.2f}"
                  f"x faster than in one process (which also pays a garbage collection per "
                  f"site) on {sizes.get('cpus', 2)} cores: both cores are busy to the end, so "
                  "splitting the sites' re-solves further (per hosting contract block) could "
                  "only add per-process overhead here; the tasks are balanced largest first.",
                  ""]
    if handoff:
        if "error" in handoff:
            lines += [f"Hand-off paths not measured: {handoff['error']}", ""]
        else:
            lines += [f"**Hand-off from Pyomo to HiGHS** ({sizes['hourly']} hourly model, "
                      f"{handoff['variables']:,} variables, in-process, no solve): "
                      f"standard-form compiler + passModel (used) {handoff['standard_form_s']:.2f}"
                      f" s; LP file + readModel {handoff['lp_file_s']:.2f} s; Pyomo's appsi "
                      f"HiGHS interface {handoff['appsi_s']:.2f} s.", ""]
    return lines


def _f_int(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main(argv: list[str] | None = None) -> int:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_run", BENCH_DIR / "run.py")
    run = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = run
    spec.loader.exec_module(run)
    parser = argparse.ArgumentParser(description="Measure the speed levers; print Markdown.")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / ".work")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args(argv)
    print("\n".join(run.levers_section(args.work, args.seeds, args.timeout)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
