"""Turn a solved `Core` into the result tables of MODEL.md §6 and write them atomically."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from optim import outdir
from optim.core import CORE_LINES, Core
from optim.option import Option, labels
from optim.outdir import RESULTS_FILES

if TYPE_CHECKING:
    from optim.engine import Result

RESULTS_VERSION = 2  # summary.json's `results_version`: 2 added cash flows (cashflow.parquet)
INVESTMENT_COLUMNS = ["site", "month", "kind", "name", "quantity", "mw", "capex_usd"]


def line_labels() -> dict[str, str]:
    """Every cash line of the registered options and the core, in NPV-table order."""
    from optim.models import registry

    return labels((*registry(), Option("core", lambda _core: None, lines=CORE_LINES)), "lines")


def flow_labels() -> dict[str, str]:
    from optim.models import registry

    return labels(registry(), "flows")


def state_labels() -> dict[str, str]:
    from optim.models import registry

    return labels(registry(), "states")


def _ordered(names: np.ndarray, canonical: dict[str, str]) -> list[str]:
    extra = sorted(set(names.tolist()) - set(canonical))
    return [*canonical, *extra]


def npv_lines(core: Core, x: np.ndarray, future: int | None = None) -> dict[str, float]:
    """Discounted, signed NPV contribution of every line, probability-weighted over the
    futures; they add up to the objective (the expected NPV). With `future`, that future's
    own lines, adding up to its own NPV."""
    names = core.cash.arrays()[0]
    value = core.cash.values(x) * core.cash_weights(weighted=future is None)
    if future is not None:
        mine = core.cash.futures() == future
        names, value = names[mine], value[mine]
    frame = pd.Series(value).groupby(names).sum() if len(value) else pd.Series(dtype=float)
    return {line: float(frame.get(line, 0.0)) for line in _ordered(names, line_labels())}


def investments_frame(core: Core, x: np.ndarray) -> pd.DataFrame:
    """One row per decision taken (quantity > 0); with several futures a `future` column
    ("" for a decision shared by every future, listed once)."""
    rows, seen = [], set()
    for inv in core.investments:
        quantity = x[inv.col]
        for key, q in zip(inv.keys, quantity, strict=True):
            if q > 1e-6 and key not in seen:
                seen.add(key)
                rows.append((key.site, core.problem.horizon.month_labels[key.month], inv.kind,
                             inv.name, float(q), float(q * inv.mw_per_unit),
                             float(q * inv.capex_usd_per_unit), key.future))
    frame = pd.DataFrame(rows, columns=[*INVESTMENT_COLUMNS, "future"])
    if core.n_futures == 1:
        frame = frame.drop(columns="future")
    return frame.astype({"quantity": float, "mw": float, "capex_usd": float})


def dispatch_by_hour(core: Core, x: np.ndarray,
                     future: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Per site, every flow per detail (`mining_mw:S21XP`, `import_mw`) on every hour of
    one future.

    A blocks plan is expanded: each hour takes its group's value. This is what the
    independent checker reads.
    """
    sites = core.problems[future].sites
    width = max((spec.steps.n for spec in sites), default=0)
    totals = core.flows.totals(x, future, width, detailed=True)
    out: dict[str, dict[str, np.ndarray]] = {spec.name: {} for spec in sites}
    for (s, key), per_step in sorted(totals.items(), key=lambda item: item[0][1]):
        st = sites[s].steps
        out[sites[s].name][key] = per_step[:st.n][st.step_of_hour]
    return out


def _step_flows(core: Core, x: np.ndarray, future: int) -> dict[tuple[int, str], np.ndarray]:
    """Per (site, flow), in report order, the flow's MW at every step of one future."""
    sites = core.problems[future].sites
    width = max((spec.steps.n for spec in sites), default=0)
    totals = core.flows.totals(x, future, width)
    ordered = _ordered(np.array(core.flows.name, dtype=object), flow_labels())
    return {(s, flow): totals.get((s, flow), np.zeros(width))[:spec.steps.n]
            for s, spec in enumerate(sites) for flow in ordered}


def monthly_frame(core: Core, x: np.ndarray) -> pd.DataFrame:
    """Site x month: average MW of each use, monthly states, every cash line, margins
    (with several futures, one block of rows per future and a `future` column)."""
    frames = [_monthly_frame(core, x, f) for f in range(core.n_futures)]
    if core.n_futures == 1:
        return frames[0]
    for f, frame in enumerate(frames):
        frame.insert(0, "future", core.problems[f].future)
    return pd.concat(frames, ignore_index=True)


def _monthly_frame(core: Core, x: np.ndarray, future: int) -> pd.DataFrame:
    p = core.problems[future]
    n = p.n_months
    hours = np.bincount(p.horizon.month_of_hour, minlength=n).astype(float)
    flows = _step_flows(core, x, future)
    states = core.states.totals(x, future, n)
    cash = core.cash.totals(x, future, n)
    lines = _ordered(np.array(core.cash.name, dtype=object), line_labels())
    state_names = _ordered(np.array(core.states.name, dtype=object), state_labels())
    frames = []
    for s, spec in enumerate(p.sites):
        st = spec.steps
        data: dict[str, object] = {"site": spec.name, "month": p.horizon.month_labels}
        for (fs, flow), per_step in flows.items():
            if fs == s:
                energy = np.bincount(st.month, weights=st.weight_h * per_step, minlength=n)
                data[flow] = energy / hours
        for state in state_names:
            data[state] = states.get((s, state), np.zeros(n))
        margin = np.zeros(n)
        for line in lines:
            data[line] = cash.get((s, line), np.zeros(n))
            margin += data[line]
        data["margin_usd"] = margin
        data["discount_factor"] = p.discount_factor
        data["discounted_margin_usd"] = margin * p.discount_factor
        frames.append(pd.DataFrame(data))
    return pd.concat(frames, ignore_index=True)


def hourly_frame(core: Core, x: np.ndarray, future: int = 0) -> pd.DataFrame:
    """Site x hour dispatch of one future (only for an hourly-resolution model)."""
    p = core.problems[future]
    flows = _step_flows(core, x, future)
    stamps = pd.DatetimeIndex(p.horizon.hours_utc.astype("datetime64[us]")).tz_localize("UTC")
    frames = []
    for s, spec in enumerate(p.sites):
        st = spec.steps
        data: dict[str, object] = {"site": spec.name, "timestamp": stamps}
        for (fs, flow), values in flows.items():
            if fs == s:
                data[flow] = values[st.step_of_hour]
        data["price_usd_per_mwh"] = st.price_usd_per_mwh[st.step_of_hour]
        data["stress"] = st.stress[st.step_of_hour]
        frames.append(pd.DataFrame(data))
    return pd.concat(frames, ignore_index=True)


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd")


def write_results(out: Path, summary: dict, tables: dict[str, pd.DataFrame],
                  extra_files: dict[str, bytes] | None = None, force: bool = False) -> Path:
    """Write summary.json, the Parquet tables and `extra_files` (name -> bytes, e.g. the
    run's log) into the results folder `out` by the rule of `optim.outdir`: only a new
    folder or optim's own (else OutputError, exit 2, unless `force`), only optim's files
    replaced, staged and moved into place so a failure leaves the earlier results intact.
    The summary records the seconds spent writing the tables as `write_s`."""
    own = {*RESULTS_FILES, *(f"{name}.parquet" for name in tables), *(extra_files or {})}
    with outdir.writing(Path(out), "results", own, force) as stage:
        t0 = time.perf_counter()
        for name, frame in tables.items():
            _write_parquet(frame, stage / f"{name}.parquet")
        summary["write_s"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(stage / "summary.json", summary)
        for name, payload in (extra_files or {}).items():
            (stage / name).write_bytes(payload)
    return Path(out)


def write_result(result: Result, out: Path, extra_files: dict[str, bytes] | None = None,
                 force: bool = False) -> Path:
    """`Result.write` with `force` (write into an existing folder optim did not write)."""
    return write_results(out, result.summary, result.all_tables(), extra_files, force)


def check_results_folder(out: Path, force: bool = False) -> Path:
    """Before solving: may a results folder be written at `out`? OutputError (exit 2) if
    not; writes nothing."""
    return outdir.check_folder(Path(out), "results", RESULTS_FILES, force).target


def write_table_atomic(frame: pd.DataFrame, path: Path) -> Path:
    """Write one Parquet file via a temp file in the same folder and a rename."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        _write_parquet(frame, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: Path, payload: dict) -> None:
    """Write JSON to a temp file in the same folder, then rename over `path`."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=2, allow_nan=False, default=_json_default)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
