"""Batch scenario sweeps: a base scenario, axes and explicit cases -> one row per case.

Every case runs in its own process with a wall-clock timeout, so a crashed, raising or
hanging case becomes a row with its status and the others finish. Series are read once
per horizon and handed to the case processes as a pickle (no Parquet re-read per case);
series sensitivities (`series.*.scale`, `series.prices.shift_usd_per_mwh`) are applied in
memory. The case id is a stable hash of its overrides: a re-run skips every case whose
results folder exists and validates, so a killed sweep resumes where it stopped.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel, Field, ValidationError, model_validator

from optim.errors import InputError
from optim.outdir import check_folder, check_folder_name, claim_folder
from optim.results import line_labels, write_json_atomic, write_table_atomic
from optim.scenario import (
    ScenarioSection,
    Strict,
    _model_classes,
    parse_scenario,
    scenario_model,
)
from optim.series import read_series, series_needs

SERIES_PATHS = {"series.hashprice.scale": "hashprice", "series.prices.scale": "prices",
                "series.prices.shift_usd_per_mwh": "price_shift_usd_per_mwh",
                "series.fuel.scale": "fuel"}


def option_series_paths() -> dict[str, str]:
    """`series.<option>.scale` for every option whose own series can be scaled."""
    from optim.models import registry

    return {f"series.{o.name}.scale": o.name for o in registry() if o.scale is not None}
SOLVED = ("optimal", "time_limit_feasible")
EXIT_STATUS = {2: "bad_input", 3: "infeasible", 4: "no_solution", 5: "check_failed"}
FUTURES_KEYS = ("expected_npv_usd", "cvar_npv_usd", "expected_npv_hourly_usd",
                "cvar_npv_hourly_usd", "vss_usd", "evpi_usd")
Value = float | int | str | bool | list[float]  # a list: capex_budget_usd


class Axis(Strict):
    path: str
    values: list[Value] | None = None
    start: int | float | None = None  # integers stay integers (an int field accepts them)
    stop: int | float | None = None
    step: int | float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> Axis:
        ranged = (self.start, self.stop, self.step)
        if (self.values is None) == all(v is None for v in ranged) or \
                (self.values is None and any(v is None for v in ranged)):
            raise ValueError("give either values = [...] or start, stop and step")
        return self

    def points(self) -> list[Value]:
        if self.values is not None:
            return list(self.values)
        n = int(np.floor((self.stop - self.start) / self.step + 1e-9)) + 1
        if isinstance(self.start, int) and isinstance(self.step, int):
            return [self.start + i * self.step for i in range(n)]
        return [round(self.start + i * self.step, 12) for i in range(n)]


class SweepSection(Strict):
    name: str = Field(min_length=1)
    base: str
    timeout_s: float = Field(1800.0, gt=0)
    resolution: str | None = None
    mip_gap: float | None = Field(None, ge=0, lt=1)
    time_limit_s: float | None = Field(None, gt=0)
    value: bool = False  # futures cases: also VSS and EVPI (optim solve --value)


class SweepFile(Strict):
    sweep: SweepSection
    axis: list[Axis] = []
    case: list[dict[str, Value]] = []


@dataclass(frozen=True)
class Case:
    case_id: str
    name: str
    overrides: dict[str, Value]


@dataclass
class Sweep:
    """A validated sweep: the base scenario, its cases, where results go."""

    name: str
    base_raw: dict
    base_dir: Path
    cases: list[Case]
    axes: list[str]
    timeout_s: float
    solve_options: dict[str, Any] = field(default_factory=dict)


def valid_paths(raw: dict) -> list[str]:
    """Every dotted path a sweep may set, given the base scenario's names: the scalar
    fields of [scenario], of every named entry of a top-level table ([[asic]], ...) and of
    every site, and of each site's option tables (`site.NAME.hosting.rate_usd_per_mwh`)."""
    model = scenario_model()

    def scalars(cls: type[BaseModel], skip: tuple[str, ...] = ()) -> list[str]:
        return [f for f, info in cls.model_fields.items() if f not in skip
                and "list" not in str(info.annotation) and not _model_classes(info.annotation)]

    out = [f"scenario.{f}" for f in scalars(ScenarioSection)] + list(SERIES_PATHS)
    out += list(option_series_paths())
    out.append("scenario.capex_budget_usd")
    out += [f"futures.{f}" for f in ("file", "commit_months", "risk_alpha", "risk_weight")]
    data_model = _model_classes(model.model_fields["data"].annotation)[0]
    out += [f"data.{f}" for f in data_model.model_fields]
    site_model = _model_classes(model.model_fields["site"].annotation)[0]
    for table, info in model.model_fields.items():
        inner = _model_classes(info.annotation)
        if table in ("scenario", "data", "site") or not inner or "name" not in \
                inner[0].model_fields:
            continue
        for item in raw.get(table, []):
            out += [f"{table}.{item.get('name')}.{f}" for f in scalars(inner[0], ("name",))]
    nested = {f: _model_classes(info.annotation)[0] for f, info in site_model.model_fields.items()
              if _model_classes(info.annotation) and "list" not in str(info.annotation)}
    for s in raw.get("site", []):
        base = f"site.{s.get('name')}"
        out += [f"{base}.{f}" for f in scalars(site_model, ("name",))]
        for f, cls in nested.items():
            out += [f"{base}.{f}.{g}" for g in scalars(cls)]
    return out


def _named(items: list[dict], name: str) -> dict:
    return next(item for item in items if item.get("name") == name)


def apply_overrides(raw: dict, overrides: dict[str, Value]) -> dict:
    """A copy of the scenario mapping with the non-series overrides set."""
    out = copy.deepcopy(raw)
    for path, value in overrides.items():
        if path in SERIES_PATHS or path in option_series_paths():
            continue
        parts = path.split(".")
        if parts[0] in ("scenario", "data", "futures"):
            target = out.setdefault(parts[0], {})
            rest = parts[1:]
        else:
            target = _named(out[parts[0]], parts[1])
            rest = parts[2:]
        for key in rest[:-1]:
            target = target.setdefault(key, {})
        target[rest[-1]] = value
    return out


def series_scales(overrides: dict[str, Value]) -> dict[str, Any]:
    """The `Series.scaled` arguments of a case's `series.*` overrides."""
    scales: dict[str, Any] = {SERIES_PATHS[p]: float(v) for p, v in overrides.items()
                              if p in SERIES_PATHS}
    options = option_series_paths()
    extra = {options[p]: float(v) for p, v in overrides.items() if p in options}
    if extra:
        scales["extra"] = extra
    return scales


def case_id(overrides: dict[str, Value]) -> str:
    """Stable id: a hash of the sorted overrides."""
    text = json.dumps(sorted(overrides.items()), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def load_sweep(path: Path) -> Sweep:
    """Read a sweep file and validate every case before anything runs."""
    path = Path(path)
    try:
        spec = SweepFile.model_validate(tomllib.loads(path.read_text()))
    except FileNotFoundError:
        raise InputError("file not found", str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", str(path)) from None
    except ValidationError as exc:
        raise InputError([f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()],
                         str(path)) from None
    check_folder_name(spec.sweep.name, "sweep.name", str(path))
    base_path = (path.parent / spec.sweep.base).resolve()
    try:
        base_raw = tomllib.loads(base_path.read_text())
    except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"sweep.base: cannot read {base_path}: {exc}", str(path)) from None
    valid = set(valid_paths(base_raw))
    problems = []
    used_paths = [a.path for a in spec.axis] + [k for c in spec.case for k in c if k != "name"]
    for p in dict.fromkeys(used_paths):
        if p not in valid:
            close = difflib.get_close_matches(p, sorted(valid), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"path {p!r} is not a scenario or series field{hint}")
    if problems:
        raise InputError(problems, str(path))
    cases = list(_expand(spec))
    for case in cases:
        try:
            parse_scenario(apply_overrides(base_raw, case.overrides), base_path.parent,
                           f"case {case.name}")
        except InputError as exc:
            problems += [f"case {case.name!r}: {p}" for p in exc.problems]
    if problems:
        raise InputError(problems, str(path))
    options = {k: v for k, v in (("resolution", spec.sweep.resolution),
                                 ("mip_gap", spec.sweep.mip_gap),
                                 ("time_limit_s", spec.sweep.time_limit_s),
                                 ("value", spec.sweep.value or None)) if v is not None}
    return Sweep(spec.sweep.name, base_raw, base_path.parent, cases,
                 [a.path for a in spec.axis], spec.sweep.timeout_s, options)


def case_label(overrides: dict[str, Value]) -> str:
    """A case's label from its overrides: each path without its first part, so the site,
    ASIC, generator or series it sets stays in it (`site.corsicana.ai.lease_usd_per_kw_month`
    -> `corsicana.ai.lease_usd_per_kw_month=140`, `series.fuel.scale` -> `fuel.scale=2.0`)."""
    return ", ".join(f"{k.split('.', 1)[-1]}={v}" for k, v in overrides.items()) or "base"


def _expand(spec: SweepFile) -> Iterator[Case]:
    """The cases: the axes' Cartesian product, then the explicit cases (named by their
    `name`, else labelled by their overrides); a case met twice runs once."""
    seen: set[str] = set()
    grids = [[(a.path, v) for v in a.points()] for a in spec.axis]
    combos = [dict(c) for c in itertools.product(*grids)] if grids else []
    explicit = [{k: v for k, v in c.items() if k != "name"} for c in spec.case]
    for i, overrides in enumerate(combos + explicit):
        cid = case_id(overrides)
        if cid in seen:
            continue
        seen.add(cid)
        j = i - len(combos)
        name = spec.case[j].get("name") if j >= 0 else None
        yield Case(cid, case_label(overrides) if name is None else str(name), overrides)


# ------------------------------------------------------------------------ running a case


def case_valid(folder: Path, cid: str) -> bool:
    """A finished case: summary.json parses, names this case, and every table reads."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
        if summary.get("case_id") != cid:
            return False
        for name in ("investments", "monthly"):
            pq.read_table(folder / f"{name}.parquet")
    except (OSError, ValueError, KeyError):
        return False
    return True


# The case process's command after the interpreter; it gets the task file as its last
# argument. An extension point: tests swap in their own worker that wraps this one.
WORKER_COMMAND: tuple[str, ...] = ("-m", "optim.sweep_worker")


STOP_GRACE_S = 3.0  # a stopped case's time to clean up after SIGTERM, before SIGKILL


class _CaseProcesses:
    """The case processes one sweep run has started in this process (the sweep's own, or
    a Dask worker's), so that a stop reaches every one and no further case starts."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, subprocess.Popen] = {}
        self.stopped = False


_RUNS: dict[str, _CaseProcesses] = {}  # by the run id of `_execute`
_RUNS_LOCK = threading.Lock()


def _case_processes(run_id: str) -> _CaseProcesses:
    with _RUNS_LOCK:
        return _RUNS.setdefault(run_id, _CaseProcesses())


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def stop_cases(run_id: str, grace_s: float = STOP_GRACE_S) -> int:
    """Stop the case processes of run `run_id` started here, and start no more: SIGTERM to
    each case's process group (the case cleans up: no half-written folder, no temporary
    log), SIGKILL to the group after `grace_s`. Returns how many were running."""
    cases = _case_processes(run_id)
    with cases.lock:
        cases.stopped = True
        procs = list(cases.running.values())
    for proc in procs:
        _signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(p.poll() is None for p in procs):
        time.sleep(0.05)
    for proc in procs:
        _signal_group(proc.pid, signal.SIGKILL)  # what is left of the group, its workers too
    return len(procs)


def run_case_subprocess(task: dict) -> dict:
    """Run one case in a fresh Python process (a session and process group of its own)
    with a wall-clock timeout; never raises. A case of a stopped run (`stop_cases`) does
    not start."""
    t0 = time.perf_counter()
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cases = _case_processes(task.get("run_id", ""))
    with cases.lock:
        if cases.stopped:
            return {"case_id": task["case_id"], "status": "not_run",
                    "error": "the sweep was stopped", "wall_s": 0.0}
        proc = subprocess.Popen([sys.executable, *WORKER_COMMAND, task["task_file"]],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, start_new_session=True)
        cases.running[proc.pid] = proc
    try:
        _, stderr = proc.communicate(timeout=task["timeout_s"])
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)  # the case and its solver worker processes
        proc.communicate()
        return {"case_id": task["case_id"], "status": "timeout",
                "error": f"no result within {task['timeout_s']:g} s (killed)",
                "wall_s": time.perf_counter() - t0}
    finally:
        with cases.lock:
            cases.running.pop(proc.pid, None)
    row: dict[str, Any] = {"case_id": task["case_id"], "wall_s": time.perf_counter() - t0}
    if proc.returncode == 0:
        row["status"] = "solved"
    elif proc.returncode < 0:
        row["status"] = "crashed"
        row["error"] = f"worker killed by signal {-proc.returncode}"
    else:
        row["status"] = EXIT_STATUS.get(proc.returncode, "error")
        row["error"] = (stderr.strip().splitlines() or ["(no message)"])[-1][:500]
    return row


def _prepare_tasks(sweep: Sweep, root: Path, cases: list[Case]) -> list[dict]:
    """Read the series once per horizon, pickle them, and write one task file per case."""
    work = root / ".tasks"
    work.mkdir(parents=True, exist_ok=True)
    series_files: dict[tuple, Path] = {}
    tasks = []
    for case in cases:
        raw = apply_overrides(sweep.base_raw, case.overrides)
        sc = parse_scenario(raw, sweep.base_dir, f"case {case.name}")
        key = (sc.scenario.start, sc.scenario.months,
               tuple(sorted(sc.data.model_dump().items())),
               tuple(sorted({s.node for s in sc.site if s.node})),
               tuple(sorted((k, tuple(sorted(v))) for k, v in series_needs(sc).items())))
        if key not in series_files:
            target = work / f"series-{hashlib.sha256(repr(key).encode()).hexdigest()[:12]}.pkl"
            with open(target, "wb") as fh:
                pickle.dump(read_series(sc), fh, protocol=pickle.HIGHEST_PROTOCOL)
            series_files[key] = target
        task = {"case_id": case.case_id, "name": case.name, "overrides": case.overrides,
                "raw": raw, "base_dir": str(sweep.base_dir), "series_file": str(series_files[key]),
                "scales": series_scales(case.overrides), "options": sweep.solve_options,
                "out": str(root / "cases" / case.case_id), "timeout_s": sweep.timeout_s}
        task_file = work / f"{case.case_id}.json"
        write_json_atomic(task_file, task)
        tasks.append({**task, "task_file": str(task_file)})
    return tasks


# ----------------------------------------------------------------------------- the sweep


@dataclass
class SweepOutcome:
    summary: pd.DataFrame
    path: Path
    failed: int
    skipped: int


SWEEP_FILES = frozenset({"summary.parquet", "optim.log", "cases", ".tasks"})


def sweep_root(sweep: Sweep, out_root: Path, force: bool = False) -> Path:
    """Check the sweep's name and its folder `out_root/<name>`, create and mark it."""
    check_folder_name(sweep.name, "sweep.name", "sweep file")
    return claim_folder(Path(out_root) / sweep.name, "sweep", SWEEP_FILES, force)


def check_sweep_root(sweep: Sweep, out_root: Path, force: bool = False) -> Path:
    """Before anything runs or is drawn: may the sweep folder `out_root/<name>` be used?
    OutputError (exit 2) if not (the rule of `sweep_root`); writes nothing."""
    check_folder_name(sweep.name, "sweep.name", "sweep file")
    return check_folder(Path(out_root) / sweep.name, "sweep", SWEEP_FILES, force).target


def run_sweep(sweep: Sweep, out_root: Path, workers: int | None = None,
              scheduler: str | None = None, force: bool = False,
              on_case: Callable[[dict], None] | None = None,
              on_start: Callable[[int], None] | None = None) -> SweepOutcome:
    """Run every case not already done; write and return the summary table.

    The sweep folder `out_root/<name>` must be new or optim's own sweep folder (else
    OutputError, exit 2; `force` also writes into another folder, deleting nothing)."""
    root = sweep_root(sweep, out_root, force)
    rows, skipped = run_cases(sweep, root, sweep.cases, workers, scheduler, force, on_case,
                              on_start)
    summary = summary_table(sweep, root, rows)
    path = write_table_atomic(summary, root / "summary.parquet")
    failed = int((~summary["status"].isin(SOLVED)).sum())
    return SweepOutcome(summary, path, failed, skipped)


def run_cases(sweep: Sweep, root: Path, cases: list[Case], workers: int | None = None,
              scheduler: str | None = None, force: bool = False,
              on_case: Callable[[dict], None] | None = None,
              on_start: Callable[[int], None] | None = None) -> tuple[dict[str, dict], int]:
    """Run those of `cases` (of `sweep`'s base) not already done in the claimed folder
    `root` (`root/cases/<case_id>`; `force`: run them all). Returns each case's row by case
    id (a resumed one: status solved, skipped) and how many were resumed. The driver of
    `run_sweep`, and of any search that generates its cases as it goes (`optim breakeven`)."""
    (root / "cases").mkdir(parents=True, exist_ok=True)
    done = [] if force else [c for c in cases
                             if case_valid(root / "cases" / c.case_id, c.case_id)]
    done_ids = {c.case_id for c in done}
    todo = [c for c in cases if c.case_id not in done_ids]
    rows: dict[str, dict] = {c.case_id: {"case_id": c.case_id, "status": "solved",
                                         "skipped": True} for c in done}
    tasks = _prepare_tasks(sweep, root, todo)
    if on_start is not None:
        on_start(len(tasks))
    with closing(_execute(tasks, workers, scheduler)) as finished:
        for row in finished:
            rows[row["case_id"]] = row
            if on_case is not None:
                on_case(row)
    return rows, len(done)


@contextmanager
def _shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM are ignored within the block (when run in the main thread), so
    that a second one does not cut a cleanup short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in saved:
        signal.signal(s, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


def _execute(tasks: list[dict], workers: int | None, scheduler: str | None) -> Iterator[dict]:
    """Run the cases; yield each one's row as it finishes. If the iteration ends early (a
    KeyboardInterrupt, SIGTERM turned into one, an error, `close()`), every case process
    still running is stopped (`stop_cases`) before this returns, and none starts after."""
    if not tasks:
        return
    run_id = uuid.uuid4().hex
    tasks = [{**t, "run_id": run_id} for t in tasks]
    complete = False
    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler) as client:
            futures = [client.submit(run_case_subprocess, t, pure=False, key=f"case-{t['case_id']}")
                       for t in tasks]
            try:
                for future in dask_completed(futures):
                    yield future.result()
                complete = True
            finally:
                if not complete:
                    with _shielded():
                        client.cancel(futures)
                        client.run(stop_cases, run_id)
        return
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    try:
        futures = [pool.submit(run_case_subprocess, t) for t in tasks]
        for future in as_completed(futures):
            yield future.result()
        complete = True
    finally:
        with _shielded():
            if not complete:
                stop_cases(run_id)
            pool.shutdown(wait=True, cancel_futures=True)
            with _RUNS_LOCK:
                _RUNS.pop(run_id, None)


def _headline(investments: pd.DataFrame, sites: list[str]) -> dict[str, float]:
    """Every option's headline totals per site, as columns `<key>__<site>` (of a futures
    run: its here-and-now decisions, shared by every future)."""
    from optim.report import headline_totals

    if "future" in investments:
        investments = investments[investments["future"] == ""]
    totals = headline_totals(investments, sites).set_index("site")
    return {f"{key}__{site}": float(totals.at[site, key]) for site in sites
            for key in totals.columns}


def summary_paths(summary: pd.DataFrame) -> list[str]:
    """The sweep paths of a summary table (`summary_table`): its columns between `case` and
    `status`."""
    columns = list(summary.columns)
    if "case" not in columns or "status" not in columns:
        return []
    return columns[columns.index("case") + 1:columns.index("status")]


def summary_table(sweep: Sweep, root: Path, rows: dict[str, dict]) -> pd.DataFrame:
    """One row per case: overrides, status, NPVs, lines, headline decisions, gap, timings."""
    sites = [s["name"] for s in sweep.base_raw.get("site", [])]
    paths = list(dict.fromkeys(p for c in sweep.cases for p in c.overrides))
    records = []
    for case in sweep.cases:
        row = rows.get(case.case_id, {"status": "not_run"})
        record: dict[str, Any] = {"case_id": case.case_id, "case": case.name}
        record.update({p: case.overrides.get(p) for p in paths})
        record["status"] = row["status"]
        record["error"] = row.get("error", "")
        folder = root / "cases" / case.case_id
        if row["status"] in ("solved", "check_failed") and (folder / "summary.json").exists():
            s = json.loads((folder / "summary.json").read_text())
            record["status"] = s["status"] if row["status"] == "solved" else "check_failed"
            record["npv_usd"] = s["npv_usd"]
            record["npv_hourly_usd"] = s.get("npv_hourly_usd")
            for key in FUTURES_KEYS:  # a futures run (MODEL.md §9): its risk frontier
                if key in s:
                    record[key] = s[key]
            lines = s.get("npv_lines_hourly_usd") or s["npv_lines_usd"]
            record.update({line: lines.get(line, 0.0) for line in line_labels()})
            record.update(_headline(pd.read_parquet(folder / "investments.parquet"), sites))
            record["mip_gap"] = s.get("mip_gap")
            record["solve_s"] = s.get("solve_s")
            record["total_s"] = s.get("total_s")
        record["wall_s"] = row.get("wall_s")
        record["resumed"] = bool(row.get("skipped", False))
        records.append(record)
    frame = pd.DataFrame(records)
    for col in ("npv_usd", "npv_hourly_usd", *FUTURES_KEYS, *line_labels(), "mip_gap",
                "solve_s", "total_s", "wall_s"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def tornado(summary: pd.DataFrame, axes: list[str]) -> pd.DataFrame:
    """Per axis: the NPV range spanned by its values (mean NPV over the other axes)."""
    solved = summary[summary["npv_usd"].notna()] if "npv_usd" in summary else summary.iloc[:0]
    rows = []
    for axis in axes:
        if axis not in solved or solved.empty:
            continue
        means = solved.groupby(axis)["npv_usd"].mean()
        rows.append((axis, means.idxmin(), means.min(), means.idxmax(), means.max(),
                     means.max() - means.min()))
    return pd.DataFrame(rows, columns=["axis", "value_low", "npv_low_usd", "value_high",
                                       "npv_high_usd", "range_usd"]).sort_values(
        "range_usd", ascending=False, ignore_index=True)
