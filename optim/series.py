"""Read and check the Parquet time series of MODEL.md §6 into plain hourly/daily arrays.

Every file is checked whole and all its problems are reported together. Rows outside
the horizon are ignored; inside it, every hour (or date) must be present exactly once.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from optim.errors import InputError
from optim.scenario import Scenario, _suggest

MAX_LISTED = 5


@dataclass(frozen=True)
class Horizon:
    """The hours and dates of the horizon: `months` calendar months (UTC) from `start`."""

    start: pd.Timestamp
    months: int
    hours_utc: np.ndarray  # datetime64[h], (T,)
    month_of_hour: np.ndarray  # int, (T,)
    day_of_hour: np.ndarray  # int, (T,)
    dates: np.ndarray  # datetime64[D], (D,)
    month_labels: list[str]
    month_year: np.ndarray  # calendar year of each month, (N,)

    @classmethod
    def of(cls, start: str, months: int) -> Horizon:
        first = np.datetime64(start, "M")
        month_starts = first + np.arange(months + 1)
        t0 = month_starts[0].astype("datetime64[h]")
        t1 = month_starts[-1].astype("datetime64[h]")
        hours = np.arange(t0, t1, dtype="datetime64[h]")
        month_of_hour = (hours.astype("datetime64[M]") - first).astype(int)
        dates = np.arange(t0.astype("datetime64[D]"), t1.astype("datetime64[D]"))
        day_of_hour = (hours.astype("datetime64[D]") - dates[0]).astype(int)
        labels = [str(m) for m in month_starts[:-1]]
        years = month_starts[:-1].astype("datetime64[Y]").astype(int) + 1970
        return cls(pd.Timestamp(start + "-01", tz="UTC"), months, hours, month_of_hour,
                   day_of_hour, dates, labels, years)

    @property
    def n_hours(self) -> int:
        return len(self.hours_utc)


@dataclass(frozen=True)
class Series:
    """The horizon's inputs as arrays keyed by node, hub and profile name."""

    horizon: Horizon
    price_usd_per_mwh: dict[str, np.ndarray]  # node -> (T,)
    hashprice_usd_per_ph_day: np.ndarray  # (D,)
    fuel_usd_per_mmbtu: dict[str, np.ndarray] = field(default_factory=dict)  # hub -> (D,)
    stress: dict[str, np.ndarray] = field(default_factory=dict)  # node -> bool (T,)
    peak: dict[str, np.ndarray] = field(default_factory=dict)  # node -> bool (T,)
    capacity_factor: dict[str, np.ndarray] = field(default_factory=dict)  # profile -> (T,)
    extra: dict[str, Any] = field(default_factory=dict)  # option name -> its own inputs

    def scaled(self, hashprice: float = 1.0, prices: float = 1.0,
               price_shift_usd_per_mwh: float = 0.0, fuel: float = 1.0,
               extra: dict[str, float] | None = None) -> Series:
        """A copy with scalar sensitivities applied (for sweeps; no file is re-read); `extra`
        scales options' own series through their `scale` hook."""
        own = dict(self.extra)
        for option in _registry():
            if option.name in (extra or {}) and option.name in own:
                own[option.name] = option.scale(own[option.name], extra[option.name])
        return replace(
            self,
            price_usd_per_mwh={n: p * prices + price_shift_usd_per_mwh
                               for n, p in self.price_usd_per_mwh.items()},
            hashprice_usd_per_ph_day=self.hashprice_usd_per_ph_day * hashprice,
            fuel_usd_per_mmbtu={h: f * fuel for h, f in self.fuel_usd_per_mmbtu.items()},
            extra=own)


class FileCheck:
    """Collects the problems of one file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def add(self, message: str) -> None:
        self.problems.append(message)

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputError(self.problems, str(self.path))


def _read(path: Path, required: list[str], check: FileCheck) -> pd.DataFrame | None:
    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        check.add("file not found")
        return None
    except (pa.ArrowInvalid, OSError) as exc:
        check.add(f"not a readable Parquet file ({exc})")
        return None
    missing = [c for c in required if c not in table.column_names]
    for col in missing:
        hint = _suggest(col, table.column_names)
        check.add(f"column {col!r} is missing{hint}")
    return None if missing else table.to_pandas()


def _listing(values: np.ndarray) -> str:
    shown = ", ".join(str(v) for v in values[:MAX_LISTED])
    return shown + (f" (+{len(values) - MAX_LISTED} more)" if len(values) > MAX_LISTED else "")


def _hour_positions(df: pd.DataFrame, col: str, horizon: Horizon,
                    check: FileCheck) -> np.ndarray | None:
    """Hour index of each row (-1 outside the horizon), or None if timestamps are unusable."""
    ts = df[col]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        kind = "naive (no time zone)" if pd.api.types.is_datetime64_dtype(ts) else str(ts.dtype)
        check.add(f"column {col!r}: timestamps must be timezone-aware, got {kind}")
        return None
    utc = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[s]")
    if np.isnat(utc).any():
        check.add(f"column {col!r}: {int(np.isnat(utc).sum())} missing timestamps")
        return None
    t0 = horizon.hours_utc[0].astype("datetime64[s]")
    offset_s = (utc - t0).astype(np.int64)
    inside = (offset_s >= 0) & (offset_s < horizon.n_hours * 3600)
    off_grid = inside & (offset_s % 3600 != 0)
    if off_grid.any():
        check.add(f"column {col!r}: timestamps not on the hour: {_listing(utc[off_grid])}")
    return np.where(inside, offset_s // 3600, -1)


def _date_positions(df: pd.DataFrame, col: str, horizon: Horizon,
                    check: FileCheck) -> np.ndarray | None:
    """Date index of each row (-1 outside the horizon), or None if the column is unusable.

    A `date` column holds calendar dates (dates, or timestamps naive or in any zone). A
    zone-aware timestamp must be a midnight in its own zone, and it names that day: a
    Tokyo midnight is the date it reads, not the day before on which it falls in UTC.
    """
    try:
        with warnings.catch_warnings():  # pandas' parsing advice is not for the user
            warnings.simplefilter("ignore")
            stamps = pd.Series(pd.to_datetime(df[col]))
    except (ValueError, TypeError, OverflowError) as exc:
        check.add(f"column {col!r}: not dates ({str(exc).splitlines()[0]})")
        return None
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        local = stamps.dt.tz_localize(None)  # the wall clock of the zone
        off = local.notna() & (local != local.dt.normalize())
        if off.any():
            shown = _listing(stamps[off].astype(str).to_numpy())
            check.add(f"column {col!r}: timestamps in zone {stamps.dt.tz} must be midnights "
                      f"there to name a date; not at: {shown}")
            return None
        stamps = local
    dates = stamps.to_numpy().astype("datetime64[D]")
    if np.isnat(dates).any():
        check.add(f"column {col!r}: {int(np.isnat(dates).sum())} missing dates")
        return None
    pos = (dates - horizon.dates[0]).astype(int)
    return np.where((pos >= 0) & (pos < len(horizon.dates)), pos, -1)


def _grid(pos: np.ndarray, values: np.ndarray, n: int, what: str, labels: np.ndarray,
          check: FileCheck) -> np.ndarray:
    """Place values on a complete grid of n slots; report missing, duplicated and NaN slots."""
    keep = pos >= 0
    pos, values = pos[keep], values[keep]
    counts = np.bincount(pos, minlength=n)
    if (counts == 0).any():
        check.add(f"{what}: {int((counts == 0).sum())} missing: {_listing(labels[counts == 0])}")
    if (counts > 1).any():
        check.add(f"{what}: {int((counts > 1).sum())} duplicated: {_listing(labels[counts > 1])}")
    nan = ~np.isfinite(values)
    if nan.any():
        check.add(f"{what}: {int(nan.sum())} NaN or infinite values at: "
                  f"{_listing(labels[np.unique(pos[nan])])}")
    grid = np.full(n, np.nan)
    grid[pos] = values
    return grid


def _keyed_grids(df: pd.DataFrame, key: str, value: str, pos: np.ndarray, wanted: list[str],
                 n: int, labels: np.ndarray, check: FileCheck) -> dict[str, np.ndarray]:
    present = set(df[key].astype(str).unique())
    out: dict[str, np.ndarray] = {}
    keys = df[key].astype(str).to_numpy()
    values = pd.to_numeric(df[value], errors="coerce").to_numpy(dtype=float)
    for name in wanted:
        if name not in present:
            check.add(f"{key} {name!r} is not in the file{_suggest(name, present)}")
            continue
        rows = keys == name
        out[name] = _grid(pos[rows], values[rows], n, f"{key} {name!r}", labels, check)
    return out


def _read_keyed(path: Path, key: str, value: str, wanted: list[str], horizon: Horizon,
                hourly: bool, check: FileCheck) -> dict[str, np.ndarray]:
    """Long (time, key, value) file -> one complete hourly or daily array per wanted key."""
    time_col = "timestamp" if hourly else "date"
    df = _read(path, [time_col, key, value], check)
    if df is None:
        return {}
    locate = _hour_positions if hourly else _date_positions
    pos = locate(df, time_col, horizon, check)
    if pos is None:
        return {}
    labels = horizon.hours_utc if hourly else horizon.dates
    return _keyed_grids(df, key, value, pos, wanted, len(labels), labels, check)


def read_hourly_columns(path: Path, key: str, required: list[str], optional: list[str],
                        wanted: list[str], horizon: Horizon,
                        ) -> tuple[dict[str, dict[str, np.ndarray]], FileCheck]:
    """A long hourly file (`timestamp`, `key`, value columns) -> per value column (the
    required ones, and the optional ones the file has), one complete array per wanted key.
    Missing, duplicated and NaN hours are recorded in the returned check, which the
    caller may extend and must raise (`raise_if_any`)."""
    check = FileCheck(path)
    df = _read(path, ["timestamp", key, *required], check)
    out: dict[str, dict[str, np.ndarray]] = {}
    if df is None:
        return out, check
    pos = _hour_positions(df, "timestamp", horizon, check)
    if pos is None:
        return out, check
    for col in [*required, *[c for c in optional if c in df.columns]]:
        found = FileCheck(path)
        out[col] = _keyed_grids(df, key, col, pos, wanted, horizon.n_hours, horizon.hours_utc,
                                found)
        for problem in found.problems:
            if problem not in check.problems:
                check.add(problem if col == required[0] or "not in the file" in problem
                          else f"{col}: {problem}")
    return out, check


def listing(values: np.ndarray) -> str:
    """A short listing of values for a message (the first few, then how many more)."""
    return _listing(values)


def read_prices(path: Path, nodes: list[str], horizon: Horizon) -> dict[str, np.ndarray]:
    check = FileCheck(path)
    out = _read_keyed(path, "node", "price_usd_per_mwh", nodes, horizon, True, check)
    check.raise_if_any()
    return out


def read_hashprice(path: Path, horizon: Horizon) -> np.ndarray:
    return read_daily(path, "hashprice_usd_per_ph_day", horizon, "hashprice dates")


def read_daily(path: Path, column: str, horizon: Horizon, what: str = "dates") -> np.ndarray:
    """A daily file (`date`, `column` > 0) on every date of the horizon."""
    check = FileCheck(path)
    df = _read(path, ["date", column], check)
    out = np.array([])
    if df is not None:
        pos = _date_positions(df, "date", horizon, check)
        if pos is not None:
            values = pd.to_numeric(df[column], errors="coerce").to_numpy(float)
            out = _grid(pos, values, len(horizon.dates), what, horizon.dates, check)
            bad = np.isfinite(out) & (out <= 0)
            if bad.any():
                check.add(f"{column} must be > 0; not at: {_listing(horizon.dates[bad])}")
    check.raise_if_any()
    return out


def read_fuel(path: Path, hubs: list[str], horizon: Horizon) -> dict[str, np.ndarray]:
    check = FileCheck(path)
    out = _read_keyed(path, "hub", "price_usd_per_mmbtu", hubs, horizon, False, check)
    check.raise_if_any()
    return out


def read_profiles(path: Path, profiles: list[str], horizon: Horizon) -> dict[str, np.ndarray]:
    check = FileCheck(path)
    out = _read_keyed(path, "profile", "capacity_factor", profiles, horizon, True, check)
    for name, cf in out.items():
        bad = np.isfinite(cf) & ((cf < 0) | (cf > 1))
        if bad.any():
            check.add(f"profile {name!r}: capacity_factor outside 0..1 at: "
                      f"{_listing(horizon.hours_utc[bad])}")
    check.raise_if_any()
    return out


def read_events(path: Path, nodes: list[str], known_nodes: set[str] | None,
                horizon: Horizon) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Stress and peak flags per node; absent hours, columns and false flags are unflagged.
    The nodes are checked against `known_nodes` (those of the prices file), unless it is
    None: a prices file that could not be read names no nodes to check against."""
    check = FileCheck(path)
    df = _read(path, ["timestamp", "node"], check)
    stress = {n: np.zeros(horizon.n_hours, bool) for n in nodes}
    peak = {n: np.zeros(horizon.n_hours, bool) for n in nodes}
    if df is not None:
        flags = [c for c in ("stress", "peak") if c in df.columns]
        if not flags:
            check.add("needs a 'stress' or a 'peak' column (bool)")
        for col in flags:
            if not pd.api.types.is_bool_dtype(df[col]):
                check.add(f"column {col!r} must be bool, got {df[col].dtype}")
        unknown = [] if known_nodes is None else \
            sorted(set(df["node"].astype(str)) - known_nodes)
        for name in unknown:
            check.add(f"node {name!r} is not in the prices file{_suggest(name, known_nodes)}")
        pos = _hour_positions(df, "timestamp", horizon, check)
        if pos is not None and not check.problems:
            keys = df["node"].astype(str).to_numpy()
            inside = pos >= 0
            pairs = pd.DataFrame({"node": keys[inside], "pos": pos[inside]})
            dup = pairs.duplicated(keep=False).to_numpy()
            if dup.any():
                where = horizon.hours_utc[pairs["pos"].to_numpy()[dup]]
                check.add(f"{int(dup.sum())} duplicated (timestamp, node) rows: "
                          f"{_listing(np.unique(where))}")
            for name in nodes:
                rows = inside & (keys == name)
                for col, target in (("stress", stress), ("peak", peak)):
                    if col in flags:
                        set_rows = rows & df[col].fillna(False).to_numpy(dtype=bool)
                        target[name][pos[set_rows]] = True
    check.raise_if_any()
    return stress, peak


def read_series(scenario: Scenario) -> Series:
    """Read every series the scenario needs; all files are checked before any error is raised."""
    horizon = Horizon.of(scenario.scenario.start, scenario.scenario.months)
    nodes = sorted({s.node for s in scenario.site if s.node is not None})
    needs = series_needs(scenario)
    hubs, profiles = sorted(needs.get("fuel", ())), sorted(needs.get("profiles", ()))
    errors: list[InputError] = []

    def attempt(fn, *args, default=None):  # noqa: ANN001, ANN202
        try:
            return fn(*args)
        except InputError as exc:
            errors.append(exc)
            return default

    prices_path = scenario.path("prices")
    prices = attempt(read_prices, prices_path, nodes, horizon, default={})
    hashprice = attempt(read_hashprice, scenario.path("hashprice"), horizon, default=None) \
        if scenario.data.hashprice is not None else np.full(len(horizon.dates), np.nan)
    fuel = attempt(read_fuel, scenario.path("fuel"), hubs, horizon, default={}) if hubs else {}
    cf = attempt(read_profiles, scenario.path("profiles"), profiles, horizon,
                 default={}) if profiles else {}
    stress = {n: np.zeros(horizon.n_hours, bool) for n in nodes}
    peak = {n: np.zeros(horizon.n_hours, bool) for n in nodes}
    if scenario.data.events is not None:
        known = _nodes_in(prices_path)  # None if unreadable: no cascade of false errors
        flags = attempt(read_events, scenario.path("events"), nodes, known, horizon)
        if flags is not None:
            stress, peak = flags
    extra = {o.name: attempt(o.read, scenario, horizon) for o in _registry() if o.read}
    if errors:
        raise InputError([f"{e.source}: {p}" for e in errors for p in e.problems],
                         "input series")
    return Series(horizon, prices, hashprice, fuel, stress, peak, cf, extra)


def _registry() -> tuple:
    from optim.models import registry

    return registry()


def series_needs(scenario: Scenario) -> dict[str, set[str]]:
    """The fuel hubs and profiles the options of `scenario` read from the shared files."""
    needs: dict[str, set[str]] = {}
    for option in _registry():
        if option.series_needs is not None:
            for key, names in option.series_needs(scenario).items():
                needs.setdefault(key, set()).update(names)
    return needs


def _nodes_in(path: Path | None) -> set[str] | None:
    """The nodes of a prices file, or None when it cannot be read (then nothing is checked
    against it)."""
    try:
        column = pq.read_table(path, columns=["node"]).column("node")
    except (FileNotFoundError, pa.ArrowInvalid, OSError, KeyError, TypeError):
        return None
    return {str(v) for v in pc.unique(column).to_pylist()}
