"""Break-even values of one scenario parameter: where in [low, high] the plan changes.

`optim breakeven` answers "at what lease rate does converting Pecos pay?". It solves a grid
of values across the range, compares the plans of neighbouring values, and narrows every
pair whose plans differ by bisection (multisection when there are more workers than open
brackets) until the pair is at most `tol` apart. Every solve is a sweep case
(`optim.sweep.run_cases`): its own process, a wall-clock timeout, and resume. A re-run
with the same folder reuses every case solved there before for the same scenario.

A plan is the set of investment decisions (site, kind, name, month, quantity) of
investments.parquet; of a futures run, the decisions shared by every future. A threshold
is reported with the two values actually solved on either side of it, never extrapolated.
Method limit: a change that reverts between two solved values (plan A, then B, then A
again) is not seen, since both values show the same plan.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import os
import tomllib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from optim import sweep as sweeps
from optim.errors import InputError
from optim.log import LOG_NAME
from optim.outdir import check_folder, claim_folder, name_problem
from optim.results import write_json_atomic, write_table_atomic
from optim.scenario import Scenario, _model_classes, parse_scenario, with_overrides

DEFAULT_POINTS = 5
DEFAULT_REL_TOL = 0.01  # of high - low
DEFAULT_SPAN = (0.5, 1.5)  # x the scenario's current value
DEFAULT_MAX_SOLVES = 60
DEFAULT_TIMEOUT_S = 1800.0
DEFAULT_ROOT = Path("breakevens")
KIND = "breakeven"
BREAKEVEN_FILES = frozenset({"breakeven.json", "thresholds.parquet", "cases.parquet", LOG_NAME,
                             "cases", ".tasks"})
OUTCOMES = (*sweeps.SOLVED, "infeasible")  # a value whose plan (or infeasibility) is known
PLAN_KEY = ["site", "kind", "name", "month"]
THRESHOLD_COLUMNS = {"param": str, "value_below": float, "value_above": float,
                     "width": float, "npv_below_usd": float, "npv_above_usd": float,
                     "npv_hourly_below_usd": float, "npv_hourly_above_usd": float,
                     "status_below": str, "status_above": str, "case_below": str,
                     "case_above": str, "changes": str, "converged": bool, "note": str}
HIDDEN_CHANGES = ("a change that reverts between two solved values with the same plan "
                  "(A -> B -> A) is not seen")
_FINGERPRINT_KEY = "breakeven.base"  # hashed into case ids only, never a scenario override
_SIGNIFICANT = 12  # digits a generated value keeps: stable case ids and labels


# ------------------------------------------------------------------------------ the request


@dataclass(frozen=True)
class Request:
    """A checked break-even search: the parameter, its range and the sweep base to solve."""

    scenario: Path
    param: str
    low: float
    high: float
    tol: float
    integer: bool
    current: float | None
    points: int
    max_solves: int
    sweep: sweeps.Sweep
    fingerprint: str
    sites: tuple[str, ...]

    def case(self, value: float) -> sweeps.Case:
        """The sweep case solving the base scenario with the parameter at `value`; its id
        also hashes the base scenario, so a changed scenario never resumes a stale case."""
        overrides: dict[str, sweeps.Value] = {self.param: value}
        cid = sweeps.case_id({**overrides, _FINGERPRINT_KEY: self.fingerprint})
        return sweeps.Case(cid, sweeps.case_label(overrides), overrides)

    def default_out(self) -> Path:
        """`breakevens/<scenario name>-<param>`."""
        name = f"{self.sweep.base_raw['scenario']['name']}-{self.param}"
        problem = name_problem(name)
        if problem is not None:
            raise InputError(f"the default output folder name {problem}: give --out",
                             str(self.scenario))
        return DEFAULT_ROOT / name


def _numeric_type(annotation: object) -> type | None:
    """int or float when the field holds a number (Optional allowed), else None."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    members = typing.get_args(annotation) if union else (annotation,)
    args = {typing.get_args(a)[0] if typing.get_origin(a) is Annotated else a
            for a in members} - {type(None)}
    if args == {int}:
        return int
    if args and args <= {int, float}:
        return float
    return None


def param_field(sc: Scenario, path: str) -> tuple[type | None, float | None, str]:
    """For a valid sweep path: its numeric type (int, float, or None for any other field),
    its current value in the scenario (None when unset) and the field's type as text."""
    if path in sweeps.SERIES_PATHS or path in sweeps.option_series_paths():
        return float, (0.0 if path.endswith("shift_usd_per_mwh") else 1.0), "float"
    parts = path.split(".")
    if parts[0] in ("scenario", "data", "futures"):
        cls: type[BaseModel] = _model_classes(type(sc).model_fields[parts[0]].annotation)[0]
        obj: Any = getattr(sc, parts[0])
        rest = parts[1:]
    else:
        obj = next(item for item in getattr(sc, parts[0]) if item.name == parts[1])
        cls, rest = type(obj), parts[2:]
    for key in rest[:-1]:
        cls = _model_classes(cls.model_fields[key].annotation)[0]
        obj = None if obj is None else getattr(obj, key)
    annotation = cls.model_fields[rest[-1]].annotation
    current = None if obj is None else getattr(obj, rest[-1])
    kind = _numeric_type(annotation)
    text = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
    if kind is None or not isinstance(current, int | float) or isinstance(current, bool):
        current = None
    return kind, (None if current is None else float(current)), text


def suggest_param(path: str, valid: list[str]) -> str:
    """The unknown-parameter message, with the closest valid path when there is one."""
    close = difflib.get_close_matches(path, valid, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else \
        " (a sweep path such as series.hashprice.scale or site.NAME.ai.lease_usd_per_kw_month)"
    return f"unknown parameter {path!r}{hint}"


def default_range(current: float | None, path: str, integer: bool) -> tuple[float, float]:
    """0.5 x and 1.5 x the current value (rounded outwards to whole numbers for an integer
    field); InputError when there is no non-zero current value to scale."""
    if current is None or current == 0:
        what = "is not set in the scenario" if current is None else "is 0"
        raise InputError(f"{path} {what}: give the range with --low and --high",
                         "command line")
    ends = sorted((current * DEFAULT_SPAN[0], current * DEFAULT_SPAN[1]))
    if integer:
        return float(math.floor(ends[0])), float(math.ceil(ends[1]))
    return _round(ends[0]), _round(ends[1])


def _fingerprint(raw: dict, sc: Scenario, options: dict[str, Any]) -> str:
    """A hash of the base scenario, the solve options and the size and time of every data
    file: what a resumed case must have been solved with."""
    files = [sc.path(key) for key in sc.data.model_dump()]
    if sc.futures is not None:
        files.append((sc.base_dir / sc.futures.file).resolve())
    stats = {str(p): [p.stat().st_size, p.stat().st_mtime_ns] if p.is_file() else None
             for p in files if p is not None}
    text = json.dumps({"raw": raw, "options": options, "files": stats}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_request(scenario: Path, param: str, low: float | None = None,
                 high: float | None = None, tol: float | None = None,
                 points: int = DEFAULT_POINTS, max_solves: int = DEFAULT_MAX_SOLVES,
                 timeout_s: float = DEFAULT_TIMEOUT_S, resolution: str | None = None,
                 mip_gap: float | None = None, time_limit_s: float | None = None) -> Request:
    """Check everything before anything runs: the scenario, the parameter (a numeric sweep
    path), the range, the tolerance and the solve options. Raises InputError (exit 2)."""
    scenario = Path(scenario)
    try:
        raw = tomllib.loads(scenario.read_text())
    except FileNotFoundError:
        raise InputError(f"file not found: {scenario}", str(scenario)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the scenario: {exc}", str(scenario)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", str(scenario)) from None
    base_dir = scenario.resolve().parent
    sc = parse_scenario(raw, base_dir, str(scenario))
    valid = sweeps.valid_paths(raw)
    if param not in valid:
        raise InputError(suggest_param(param, valid), "--param")
    kind, current, type_text = param_field(sc, param)
    if kind is None:
        raise InputError(f"{param} is not a numeric field ({type_text}): a break-even needs a "
                         f"number to vary", "--param")
    integer = kind is int
    problems = [f"--{name} must be a finite number (got {value})"
                for name, value in (("low", low), ("high", high), ("tol", tol))
                if value is not None and not math.isfinite(value)]
    if tol is not None and math.isfinite(tol) and tol <= 0:
        problems.append(f"--tol must be above 0 (got {tol:g})")
    if points < 2:
        problems.append(f"--points must be at least 2, the two ends (got {points})")
    if max_solves < points:
        problems.append(f"--max-solves ({max_solves}) must be at least --points ({points})")
    if not timeout_s > 0:
        problems.append(f"--timeout must be above 0 s (got {timeout_s:g})")
    if problems:
        raise InputError(problems, "command line")
    if low is None or high is None:
        default_low, default_high = default_range(current, param, integer)
        low = default_low if low is None else low
        high = default_high if high is None else high
    if integer and not (float(low).is_integer() and float(high).is_integer()):
        raise InputError(f"{param} is a whole number: --low and --high must be whole "
                         f"(got {low:g} and {high:g})", "command line")
    if not low < high:
        raise InputError(f"--low ({low:g}) must be below --high ({high:g})", "command line")
    if param.endswith(".scale") and low < 0:
        raise InputError(f"{param} scales a series: --low must be at least 0 (got {low:g})",
                         "command line")
    options = {k: v for k, v in (("resolution", resolution), ("mip_gap", mip_gap),
                                 ("time_limit_s", time_limit_s)) if v is not None}
    with_overrides(sc, {"resolution": "--resolution", "mip_gap": "--mip-gap",
                        "time_limit_s": "--time-limit"}, **options)
    for name, value in (("low", low), ("high", high)):
        try:
            parse_scenario(sweeps.apply_overrides(raw, {param: _typed(value, integer)}),
                           base_dir, "command line")
        except InputError as exc:
            raise InputError([f"at --{name} {value:g}: {p}" for p in exc.problems],
                             exc.source) from None
    tol = max(tol if tol is not None else DEFAULT_REL_TOL * (high - low), 1.0 if integer
              else 0.0)
    name = f"{sc.scenario.name}-{param}"
    sweep = sweeps.Sweep(name, raw, base_dir, [], [param], timeout_s, options)
    return Request(scenario, param, float(low), float(high), float(tol), integer, current,
                   points, max_solves, sweep, _fingerprint(raw, sc, options),
                   tuple(s.name for s in sc.site))


def check_out(out: Path, force: bool = False) -> Path:
    """May the break-even folder `out` be used (new, or optim's own break-even folder)?
    OutputError (exit 2) if not; writes nothing."""
    return check_folder(Path(out), KIND, BREAKEVEN_FILES, force).target


# --------------------------------------------------------------------------- the search


def _round(value: float) -> float:
    return float(f"{value:.{_SIGNIFICANT}g}")


def _typed(value: float, integer: bool) -> float | int:
    return int(round(value)) if integer else float(value)


def grid(low: float, high: float, points: int, integer: bool) -> list[float]:
    """`points` evenly spaced values from low to high (distinct whole numbers for an
    integer field)."""
    values = np.linspace(low, high, points)
    if integer:
        return [float(v) for v in sorted(set(np.rint(values).tolist()))]
    return list(dict.fromkeys(_round(v) for v in values))


def interior(low: float, high: float, count: int, integer: bool) -> list[float]:
    """`count` values evenly spaced strictly inside (low, high): the next solves of a
    bracket (one: its midpoint)."""
    steps = np.arange(1, count + 1) / (count + 1)
    values = low + (high - low) * steps
    if integer:
        inside = np.arange(math.floor(low) + 1, math.ceil(high))
        picked = inside if len(inside) <= count else np.unique(np.rint(values))
        return [float(v) for v in picked if low < v < high]
    return [v for v in dict.fromkeys(_round(v) for v in values) if low < v < high]


@dataclass(frozen=True)
class Point:
    """One solved value: its status, NPV and plan (decision -> quantity)."""

    value: float
    case_id: str
    status: str
    error: str = ""
    npv_usd: float | None = None
    npv_hourly_usd: float | None = None
    plan: pd.Series | None = field(default=None, compare=False)
    mip_gap: float | None = None  # the relative gap the solve stopped at
    resumed: bool = False

    @property
    def known(self) -> bool:
        """The value's outcome is known: a plan, or no feasible plan."""
        return self.status in OUTCOMES

    def signature(self) -> tuple:
        if self.status == "infeasible" or self.plan is None:
            return ("infeasible",)
        return ("plan", tuple(self.plan.items()))


@dataclass(frozen=True)
class Bracket:
    """Two neighbouring known values whose plans differ, and what lies between them."""

    below: Point
    above: Point
    failed: tuple[Point, ...]  # values between the two whose solve failed

    @property
    def width(self) -> float:
        return self.above.value - self.below.value

    def converged(self, tol: float, integer: bool) -> bool:
        return self.width <= tol * (1 + 1e-9) or (integer and self.width <= 1)


def brackets(points: list[Point]) -> list[Bracket]:
    """Every pair of neighbouring known values (failed values skipped) whose plans differ."""
    ordered = sorted(points, key=lambda p: p.value)
    known = [p for p in ordered if p.known]
    out = []
    for below, above in itertools.pairwise(known):
        if below.signature() != above.signature():
            failed = tuple(p for p in ordered if below.value < p.value < above.value)
            out.append(Bracket(below, above, failed))
    return out


@dataclass
class Search:
    """What a search solved: every point, the rounds run, the new solves, and whether the
    solve budget stopped it."""

    points: list[Point]
    rounds: int = 0
    solved: int = 0
    budget_hit: bool = False


def search(request: Request, run: Callable[[list[float]], list[Point]], slots: int,
           known: list[Point] | None = None, on_round: Callable[[int, int], None] | None = None
           ) -> Search:
    """The grid, then rounds that split every open bracket (plans differ, wider than the
    tolerance, no failed value inside) into `slots // open brackets` (at least 1) more
    solves each, until none is open, no new value fits, or `max_solves` new solves ran.
    `run(values)` solves the values (in parallel) and returns their points; `known` are
    points solved before (a resumed folder)."""
    points = {p.value: p for p in known or () if request.low <= p.value <= request.high}
    state = Search([])

    def narrowing() -> list[float]:
        open_ = [b for b in brackets(list(points.values()))
                 if not b.failed and not b.converged(request.tol, request.integer)]
        each = max(1, slots // max(1, len(open_)))
        return [v for b in open_ for v in interior(b.below.value, b.above.value, each,
                                                   request.integer) if v not in points]

    pending = [v for v in grid(request.low, request.high, request.points, request.integer)
               if v not in points] or narrowing()
    while pending:
        room = request.max_solves - state.solved
        if len(pending) > room:
            state.budget_hit = True
            pending = pending[:room]
            if not pending:
                break
        state.rounds += 1
        if on_round is not None:
            on_round(state.rounds, len(pending))
        points.update((p.value, p) for p in run(pending))
        state.solved += len(pending)
        pending = narrowing()
    state.points = sorted(points.values(), key=lambda p: p.value)
    return state


# ------------------------------------------------------------------------- plans, changes


def read_plan(folder: Path) -> pd.Series:
    """The plan of a solved case folder (`plan_of` its investments.parquet)."""
    return plan_of(pd.read_parquet(folder / "investments.parquet"))


def plan_of(inv: pd.DataFrame) -> pd.Series:
    """A plan: quantity by (site, kind, name, month) of an investments table, rounded to
    1e-6; of a futures run, the decisions shared by every future."""
    if "future" in inv:
        inv = inv[inv["future"] == ""]
    plan = inv.groupby(PLAN_KEY, sort=True)["quantity"].sum().round(6)
    return plan[plan != 0]


def _quantity(q: float) -> str:
    return f"{q:,.6g}"


def plan_changes(below: Point, above: Point, sites: tuple[str, ...] = ()) -> list[str]:
    """What differs from the plan below to the plan above, one line per decision, e.g.
    "pecos ai_hall 2027-01: 0 -> 1" (sites in scenario order, then month)."""
    if below.signature() == above.signature():
        return []
    if below.plan is None or above.plan is None or "infeasible" in (below.status,
                                                                    above.status):
        count = {p.value: f"a plan of {len(p.plan)} decision{'' if len(p.plan) == 1 else 's'}"
                 for p in (below, above) if p.status != "infeasible" and p.plan is not None}
        return [f"{count.get(below.value, 'no feasible plan')} -> "
                f"{count.get(above.value, 'no feasible plan')}"]
    both = pd.concat({"below": below.plan, "above": above.plan}, axis=1).fillna(0.0)
    diff = both[both["below"] != both["above"]].reset_index()
    order = {s: i for i, s in enumerate(sites)}
    diff["order"] = diff["site"].map(order).fillna(len(order))
    diff = diff.sort_values(["order", "month", "kind", "name"])
    label = diff["site"] + " " + diff["kind"] + np.where(
        diff["name"].isin(["", None]) | (diff["name"] == diff["kind"]), "", " " + diff["name"])
    return (label + " " + diff["month"] + ": " + diff["below"].map(_quantity) + " -> "
            + diff["above"].map(_quantity)).tolist()


def _note(bracket: Bracket, request: Request) -> str:
    notes = []
    if bracket.failed:
        notes.append("not narrowed: the solve at " + ", ".join(
            f"{p.value:g} ({p.status})" for p in bracket.failed) + " failed")
    elif not bracket.converged(request.tol, request.integer):
        notes.append("not narrowed to the tolerance (solve budget or number precision)")
    limited = [side for side, p in (("below", bracket.below), ("above", bracket.above))
               if p.status == "time_limit_feasible"]
    if limited:
        notes.append(f"the plan {' and '.join(limited)} stopped at the time limit (not "
                     f"proven optimal)")
    return "; ".join(notes)


def thresholds_frame(request: Request, found: list[Bracket]) -> pd.DataFrame:
    """One row per threshold: the bracketing values actually solved, both plans' NPVs and
    statuses, what changes, and whether the bracket is within the tolerance."""
    rows = [{"param": request.param, "value_below": b.below.value,
             "value_above": b.above.value, "width": b.width,
             "npv_below_usd": b.below.npv_usd, "npv_above_usd": b.above.npv_usd,
             "npv_hourly_below_usd": b.below.npv_hourly_usd,
             "npv_hourly_above_usd": b.above.npv_hourly_usd,
             "status_below": b.below.status, "status_above": b.above.status,
             "case_below": b.below.case_id, "case_above": b.above.case_id,
             "changes": "\n".join(plan_changes(b.below, b.above, request.sites)),
             "converged": b.converged(request.tol, request.integer) and not b.failed,
             "note": _note(b, request)} for b in found]
    frame = pd.DataFrame(rows, columns=list(THRESHOLD_COLUMNS))
    return frame.astype({k: v for k, v in THRESHOLD_COLUMNS.items() if v is not float}
                        ).astype({k: "float64" for k, v in THRESHOLD_COLUMNS.items()
                                  if v is float})


# --------------------------------------------------------------------------- the run


@dataclass
class Outcome:
    """A finished search: its points, thresholds and the files written."""

    request: Request
    folder: Path
    points: list[Point]
    thresholds: pd.DataFrame
    cases: pd.DataFrame
    rounds: int
    solved: int  # new solves of this run
    resumed: int  # values reused from the folder
    budget_hit: bool

    @property
    def failed(self) -> list[Point]:
        return [p for p in self.points if not p.known]

    @property
    def compared(self) -> int:
        return sum(p.known for p in self.points)

    @property
    def max_mip_gap(self) -> float:
        """The widest relative MIP gap a solve stopped at (0: every plan proven optimal)."""
        return max((p.mip_gap or 0.0 for p in self.points if p.known), default=0.0)


def _points(request: Request, root: Path, cases: list[sweeps.Case],
            rows: dict[str, dict]) -> tuple[list[Point], pd.DataFrame]:
    """The points of solved or failed cases, and their rows of the sweep summary table."""
    frame = sweeps.summary_table(replace(request.sweep, cases=cases), root, rows)
    points = []
    for case, rec in zip(cases, frame.to_dict("records"), strict=True):
        folder = root / "cases" / case.case_id
        status, plan = rec["status"], None
        if status in sweeps.SOLVED:
            summary = json.loads((folder / "summary.json").read_text())
            if summary.get("verified") is False:
                status = "check_failed"
            else:
                plan = read_plan(folder)
        npv, hourly, gap = (_number(rec.get(k)) for k in ("npv_usd", "npv_hourly_usd",
                                                          "mip_gap"))
        points.append(Point(float(case.overrides[request.param]), case.case_id, status,
                            str(rec.get("error") or ""), npv, hourly, plan, mip_gap=gap,
                            resumed=bool(rec["resumed"])))
    frame["status"] = [p.status for p in points]
    return points, frame


def _number(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _resumable(request: Request, root: Path) -> list[sweeps.Case]:
    """Cases of the folder solved before for this scenario and parameter within the range."""
    found = []
    for path in sorted((root / "cases").glob("*/summary.json")):
        try:
            overrides = json.loads(path.read_text()).get("overrides")
        except (OSError, ValueError, AttributeError):
            continue
        if not isinstance(overrides, dict) or set(overrides) != {request.param}:
            continue
        value = overrides[request.param]
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not request.low <= value <= request.high:
            continue
        case = request.case(_typed(value, request.integer))
        if case.case_id == path.parent.name and sweeps.case_valid(path.parent, case.case_id):
            found.append(case)
    return found


def run_breakeven(request: Request, out: Path, workers: int | None = None,
                  scheduler: str | None = None, force: bool = False,
                  on_case: Callable[[dict], None] | None = None,
                  on_round: Callable[[int, int], None] | None = None) -> Outcome:
    """Claim the folder `out`, search, and write cases.parquet, thresholds.parquet and
    breakeven.json (each atomically, the JSON last). `force`: solve every value anew (and
    write into a folder optim did not write, deleting nothing)."""
    root = claim_folder(Path(out), KIND, BREAKEVEN_FILES, force)
    frames: list[pd.DataFrame] = []
    old = [] if force else _resumable(request, root)
    known, frame = _points(request, root, old, {c.case_id: {"case_id": c.case_id,
                                                            "status": "solved",
                                                            "skipped": True} for c in old})
    frames.append(frame)

    def run(values: list[float]) -> list[Point]:
        cases = [request.case(_typed(v, request.integer)) for v in values]
        rows, _ = sweeps.run_cases(request.sweep, root, cases, workers, scheduler, force,
                                   on_case)
        points, frame = _points(request, root, cases, rows)
        frames.append(frame)
        return points

    slots = workers or os.cpu_count() or 1
    found = search(request, run, slots, known, on_round)
    cases = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
    if len(cases):
        cases = cases.drop_duplicates("case_id", keep="last").sort_values(
            request.param, ignore_index=True)
    thresholds = thresholds_frame(request, brackets(found.points))
    outcome = Outcome(request, root, found.points, thresholds, cases, found.rounds,
                      found.solved, sum(p.resumed for p in found.points), found.budget_hit)
    write_table_atomic(cases, root / "cases.parquet")
    write_table_atomic(thresholds, root / "thresholds.parquet")
    write_json_atomic(root / "breakeven.json", summary(outcome))
    return outcome


def summary(outcome: Outcome) -> dict:
    """breakeven.json: the request, the counts, every threshold and every failed value."""
    r = outcome.request
    records = outcome.thresholds.astype(object).where(outcome.thresholds.notna(), None)
    return {"scenario": str(r.scenario.resolve()), "scenario_name": r.sweep.base_raw[
                "scenario"]["name"], "param": r.param, "low": r.low, "high": r.high,
            "current": r.current, "integer": r.integer, "tol": r.tol, "points": r.points,
            "max_solves": r.max_solves, "timeout_s": r.sweep.timeout_s,
            "solve_options": r.sweep.solve_options, "fingerprint": r.fingerprint,
            "values_solved": len(outcome.points), "values_compared": outcome.compared,
            "solved_now": outcome.solved, "resumed": outcome.resumed,
            "rounds": outcome.rounds, "budget_hit": outcome.budget_hit,
            "max_mip_gap": outcome.max_mip_gap,
            "converged": bool(outcome.thresholds["converged"].all()),
            "thresholds": records.to_dict("records"),
            "failed": [{"value": p.value, "case_id": p.case_id, "status": p.status,
                        "error": p.error} for p in outcome.failed],
            "method_limit": HIDDEN_CHANGES}
