"""Curtailment-enabled headroom of a balancing authority (issue 6, `optim headroom`).

Method of Norris et al., "Rethinking Load Growth" (Duke Nicholas Institute, Feb 2025):
a constant new load of L MW is added to the hourly demand of a balancing authority (BA);
in every hour it is curtailed by what the total exceeds the BA's seasonal peak ceiling,
``max(0, demand_mw + L - ceiling_mw)``. The headroom is the largest whole-MW L whose
curtailed energy stays within ``limit_pct`` of its potential energy (``L * 8,760`` MWh a
year), averaged over the years used (or in every year with ``every_year=True``).

Everything here is vectorised over hours (numpy/pandas); the only Python loops run over
BAs, limits and the ~60 steps of the integer root search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optim import paths

RAW_FILE_NAME = "eia930_demand_hourly_22ba_2016_2024.parquet"
DEMAND_COLUMNS = ("timestamp_utc", "ba", "demand_mw")
DEFAULT_LIMITS_PCT: tuple[float, ...] = (0.25, 0.5, 1.0)
DEFAULT_YEARS: tuple[int, int] = (2016, 2024)
#: The issue's denominator of a yearly rate: L x 8,760 MWh, also in leap years (8,784 h).
RATE_BASIS_HOURS_PER_YEAR = 8760
CLEAN_WINDOW_H = 7
CLEAN_TOLERANCE_SHARE = 0.15
#: A year needs at least this share of its hours with a usable raw value (before filling).
DEFAULT_MIN_COVERAGE_PCT = 70.0
SUMMER_PEAK_MONTHS: tuple[int, ...] = (6, 7, 8)
WINTER_PEAK_MONTHS: tuple[int, ...] = (12, 1, 2)
#: Months where the summer ceiling applies; the winter ceiling applies to the others (Nov-Mar).
SUMMER_APPLY_MONTHS: tuple[int, ...] = (4, 5, 6, 7, 8, 9, 10)
#: Months by which `--widen` may extend a season's peak window (one month either side).
WIDEN_MONTHS: dict[int, str] = {5: "summer", 9: "summer", 11: "winter", 3: "winter"}
#: `--widen report`: the widenings of the report's footnote 20 that change a peak on this
#: data (CAISO summer and winter, FPL winter; AZPS's winter peak is in Dec-Feb here).
REPORT_WIDEN: tuple[str, ...] = ("CISO:Sep", "CISO:Nov", "FPL:Nov")
_MONTH_NAMES = {
    m: i
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
        start=1,
    )
}


class HeadroomInputError(ValueError):
    """Bad input to the headroom computation; the message names the BA, limit or year."""

    exit_code = 2


# --------------------------------------------------------------------------- inputs


def default_demand_path() -> Path:
    """The bundled EIA-930 file: `$OPTIM_RAW_DIR` if set, else `<repo>/../shared/data/raw`."""
    return paths.default_raw_dir() / RAW_FILE_NAME


def read_demand(path: Path | str) -> pd.DataFrame:
    """Read a long hourly demand Parquet (`timestamp_utc`, `ba`, `demand_mw`) and check it."""
    path = Path(path)
    if not path.is_file():
        raise HeadroomInputError(f"demand file not found: {path}")
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a non-Parquet file
        raise HeadroomInputError(f"{path}: cannot read as Parquet ({exc})") from exc
    missing = [c for c in DEMAND_COLUMNS if c not in frame.columns]
    if missing:
        raise HeadroomInputError(
            f"{path}: missing column(s) {', '.join(missing)}; need {', '.join(DEMAND_COLUMNS)}"
        )
    return check_demand_frame(frame[list(DEMAND_COLUMNS)], source=str(path))


def check_demand_frame(frame: pd.DataFrame, source: str = "demand") -> pd.DataFrame:
    """Normalise types (UTC timestamps, string BA, float MW) and reject duplicate hours."""
    ts = frame["timestamp_utc"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise HeadroomInputError(f"{source}: timestamp_utc must be tz-aware UTC, got {ts.dtype}")
    out = pd.DataFrame(
        {
            "timestamp_utc": ts.dt.tz_convert("UTC").dt.as_unit("us"),
            "ba": frame["ba"].astype(str),
            "demand_mw": pd.to_numeric(frame["demand_mw"], errors="coerce").astype(float),
        }
    )
    dup = out.duplicated(["ba", "timestamp_utc"])
    if dup.any():
        first = out.loc[dup].iloc[0]
        raise HeadroomInputError(
            f"{source}: {int(dup.sum())} duplicate (ba, hour) rows, first {first['ba']} "
            f"{first['timestamp_utc']:%Y-%m-%d %H:%MZ}"
        )
    return out


def parse_years(text: str) -> tuple[int, int]:
    """Parse `2016-2024` or `2020` into an inclusive (first, last) pair of UTC years."""
    m = re.fullmatch(r"\s*(\d{4})\s*(?:-\s*(\d{4})\s*)?", text)
    if not m:
        raise HeadroomInputError(f"years {text!r}: expected YYYY or YYYY-YYYY")
    first = int(m.group(1))
    last = int(m.group(2) or m.group(1))
    if last < first:
        raise HeadroomInputError(f"years {text!r}: the last year is before the first")
    return first, last


def check_limits_pct(limits_pct: Iterable[float]) -> tuple[float, ...]:
    """Each curtailment limit must lie strictly inside (0, 100) percent."""
    limits = tuple(float(x) for x in limits_pct)
    if not limits:
        raise HeadroomInputError("no curtailment limit given")
    bad = [x for x in limits if not (0.0 < x < 100.0)]  # also rejects NaN
    if bad:
        shown = ", ".join(f"{x:g} %" for x in bad)
        raise HeadroomInputError(
            f"limit {shown} is outside (0, 100) %: give the curtailment share in percent, "
            "e.g. --limit 0.5 for 0.5 %"
        )
    return limits


def parse_widen(items: Iterable[str]) -> dict[str, dict[str, tuple[int, ...]]]:
    """Parse `BA:MON` items (e.g. `CISO:Sep`) into widened peak windows per BA and season.

    May or Sep widen the summer window (Jun-Aug), Nov or Mar the winter one (Dec-Feb):
    the report widens a season by a month for a few BAs. Application months do not change.
    The item `report` stands for `REPORT_WIDEN`.
    """
    out: dict[str, dict[str, tuple[int, ...]]] = {}
    expanded = [x for item in items for x in (REPORT_WIDEN if item == "report" else [item])]
    for item in expanded:
        ba, sep, mon = item.partition(":")
        key = mon.strip().lower()[:3]
        month = int(key) if key.isdigit() else _MONTH_NAMES.get(key)
        if not sep or not ba.strip() or month not in WIDEN_MONTHS:
            raise HeadroomInputError(
                f"widen {item!r}: expected BA:MON with MON one of May, Sep (summer) "
                "or Nov, Mar (winter), e.g. CISO:Sep"
            )
        season = WIDEN_MONTHS[month]
        per_ba = out.setdefault(ba.strip(), {})
        base = per_ba.get(season, SUMMER_PEAK_MONTHS if season == "summer" else WINTER_PEAK_MONTHS)
        per_ba[season] = tuple(sorted({*base, month}))
    return out


def parse_month(text: str, what: str = "events-start") -> pd.Timestamp:
    """Parse `YYYY-MM` into the first hour of that UTC month."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text.strip()):
        raise HeadroomInputError(f"{what} {text!r}: expected YYYY-MM, e.g. 2027-01")
    return pd.Timestamp(f"{text.strip()}-01", tz="UTC")


# ------------------------------------------------------------------------ cleaning


@dataclass(frozen=True)
class CleaningCounts:
    """What the cleaning rule did to one BA's hours (over the years used)."""

    hours: int
    missing_hours: int  # no value in the source (NaN or absent row)
    nonpositive_hours: int  # value <= 0, dropped
    outlier_hours: int  # more than the tolerance off the centred rolling median, dropped

    @property
    def filled_hours(self) -> int:
        """Hours whose value comes from linear interpolation."""
        return self.missing_hours + self.nonpositive_hours + self.outlier_hours


def clean_demand(
    demand_mw: pd.Series,
    window_h: int = CLEAN_WINDOW_H,
    tolerance_share: float = CLEAN_TOLERANCE_SHARE,
) -> tuple[pd.Series, pd.Series, CleaningCounts]:
    """Clean a regular hourly series: drop values <= 0 or more than `tolerance_share` off
    a centred `window_h`-hour rolling median, then interpolate linearly.

    The median is taken over the values left after dropping NaN and <= 0, so a run of up to
    `window_h // 2` consecutive spikes (PJM 2021-10-19 02-04Z) is still caught. Leading and
    trailing gaps take the nearest value. Returns (clean series, kept-value mask, counts).
    """
    missing = demand_mw.isna()
    nonpositive = demand_mw <= 0
    candidate = demand_mw.where(~nonpositive)
    median_mw = candidate.rolling(window_h, center=True, min_periods=1).median()
    outlier = (candidate - median_mw).abs() > tolerance_share * median_mw
    kept = ~(missing | nonpositive | outlier)
    clean = candidate.where(kept).interpolate(method="linear", limit_direction="both")
    counts = CleaningCounts(
        hours=int(len(demand_mw)),
        missing_hours=int(missing.sum()),
        nonpositive_hours=int(nonpositive.sum()),
        outlier_hours=int(outlier.sum()),
    )
    return clean, kept, counts


# ------------------------------------------------------------------- BA preparation


@dataclass(frozen=True)
class BalancingAuthorityDemand:
    """One BA's cleaned hourly demand over the years used, with its hourly ceiling."""

    ba: str
    timestamps: pd.DatetimeIndex
    demand_mw: np.ndarray
    ceiling_mw: np.ndarray
    year: np.ndarray
    first_year: int
    last_year: int
    summer_peak_mw: float
    winter_peak_mw: float
    summer_peak_months: tuple[int, ...]
    winter_peak_months: tuple[int, ...]
    cleaning: CleaningCounts

    @property
    def n_years(self) -> int:
        return self.last_year - self.first_year + 1

    @property
    def year_index(self) -> np.ndarray:
        return self.year - self.first_year

    @property
    def slack_mw(self) -> np.ndarray:
        """Ceiling minus demand: a load above this is curtailed in that hour (may be < 0)."""
        return self.ceiling_mw - self.demand_mw


def hourly_grid(first_year: int, last_year: int) -> pd.DatetimeIndex:
    """Every UTC hour from 1 Jan `first_year` to 31 Dec `last_year` 23:00."""
    return pd.date_range(
        pd.Timestamp(f"{first_year}-01-01", tz="UTC"),
        pd.Timestamp(f"{last_year + 1}-01-01", tz="UTC"),
        freq="h",
        inclusive="left",
        unit="us",
    )


def seasonal_ceilings(
    demand_mw: pd.Series,
    summer_peak_months: Sequence[int] = SUMMER_PEAK_MONTHS,
    winter_peak_months: Sequence[int] = WINTER_PEAK_MONTHS,
) -> tuple[np.ndarray, float, float]:
    """Hourly ceiling: highest summer peak (Jun-Aug) in Apr-Oct, winter peak (Dec-Feb) else.

    The peaks are maxima over all years in the series, so the ceiling is the BA's highest
    seasonal peak over the years used. Returns (ceiling per hour, summer MW, winter MW).
    """
    month = demand_mw.index.month
    summer_mw = float(demand_mw[month.isin(summer_peak_months)].max())
    winter_mw = float(demand_mw[month.isin(winter_peak_months)].max())
    ceiling_mw = np.where(month.isin(SUMMER_APPLY_MONTHS), summer_mw, winter_mw)
    return ceiling_mw, summer_mw, winter_mw


def prepare_ba(
    demand: pd.DataFrame,
    ba: str,
    years: tuple[int, int] = DEFAULT_YEARS,
    widen: dict[str, tuple[int, ...]] | None = None,
    min_coverage_pct: float = DEFAULT_MIN_COVERAGE_PCT,
) -> BalancingAuthorityDemand:
    """Select, clean and check one BA over `years`, and compute its hourly ceiling."""
    first_year, last_year = years
    rows = demand[demand["ba"] == ba]
    if rows.empty:
        known = ", ".join(sorted(demand["ba"].unique()))
        raise HeadroomInputError(f"unknown BA {ba!r}: the demand file has {known}")
    grid = hourly_grid(first_year, last_year)
    raw_mw = rows.set_index("timestamp_utc")["demand_mw"].reindex(grid)
    clean_mw, kept, counts = clean_demand(raw_mw)
    year = grid.year.to_numpy()
    # Coverage check per year, before any filling: a year too empty cannot be interpolated.
    hours_per_year = pd.Series(1, index=grid).groupby(year).sum()
    kept_per_year = kept.groupby(year).sum()
    coverage_pct = 100.0 * kept_per_year / hours_per_year
    short = coverage_pct[coverage_pct < min_coverage_pct]
    if not short.empty:
        y = int(short.index[0])
        raise HeadroomInputError(
            f"BA {ba} year {y} has too few hours: {int(kept_per_year[y]):,} of "
            f"{int(hours_per_year[y]):,} hours with usable demand ({coverage_pct[y]:.1f} %, "
            f"need {min_coverage_pct:g} %); choose other --years"
        )
    widen = widen or {}
    summer_months = widen.get("summer", SUMMER_PEAK_MONTHS)
    winter_months = widen.get("winter", WINTER_PEAK_MONTHS)
    ceiling_mw, summer_mw, winter_mw = seasonal_ceilings(clean_mw, summer_months, winter_months)
    return BalancingAuthorityDemand(
        ba=ba,
        timestamps=grid,
        demand_mw=clean_mw.to_numpy(dtype=float),
        ceiling_mw=ceiling_mw,
        year=year,
        first_year=first_year,
        last_year=last_year,
        summer_peak_mw=summer_mw,
        winter_peak_mw=winter_mw,
        summer_peak_months=tuple(summer_months),
        winter_peak_months=tuple(winter_months),
        cleaning=counts,
    )


def prepare_bas(
    demand: pd.DataFrame,
    bas: Sequence[str] | None = None,
    years: tuple[int, int] = DEFAULT_YEARS,
    widen: dict[str, dict[str, tuple[int, ...]]] | None = None,
    min_coverage_pct: float = DEFAULT_MIN_COVERAGE_PCT,
) -> dict[str, BalancingAuthorityDemand]:
    """Prepare each BA (all BAs of the file when `bas` is empty), in the order given.

    A widening for a BA absent from the file is an error, except for the `report` preset's
    BAs (CISO, FPL), so `--widen report` also works on a file without them.
    """
    known = set(demand["ba"].unique())
    chosen = list(dict.fromkeys(bas)) if bas else sorted(known)
    widen = widen or {}
    preset = {item.partition(":")[0] for item in REPORT_WIDEN}
    widen = {b: w for b, w in widen.items() if b in known or b not in preset}
    unknown = [b for b in [*chosen, *widen] if b not in known]
    if unknown:
        raise HeadroomInputError(
            f"unknown BA {', '.join(repr(b) for b in unknown)}: "
            f"the demand file has {', '.join(sorted(known))}"
        )
    return {ba: prepare_ba(demand, ba, years, widen.get(ba), min_coverage_pct) for ba in chosen}


# ---------------------------------------------------------------- curtailment & solve


def curtailment_mw(demand_mw: np.ndarray, ceiling_mw: np.ndarray, load_mw: float) -> np.ndarray:
    """Hourly curtailment of a constant load: max(0, demand + load - ceiling)."""
    return np.maximum(0.0, demand_mw + load_mw - ceiling_mw)


def yearly_curtailment_pct(profile: BalancingAuthorityDemand, load_mw: float) -> np.ndarray:
    """Curtailed MWh of each year / (load x 8,760 h), in percent (leap years too)."""
    curtailed = curtailment_mw(profile.demand_mw, profile.ceiling_mw, load_mw)
    mwh = np.bincount(profile.year_index, weights=curtailed, minlength=profile.n_years)
    return 100.0 * mwh / (load_mw * RATE_BASIS_HOURS_PER_YEAR)


def _excess_mwh(
    slack_mw: np.ndarray,
    year_index: np.ndarray,
    n_years: int,
    load_mw: float,
    limit_pct: float,
    every_year: bool,
) -> float:
    """Curtailed MWh (year mean, or worst year) minus the allowed MWh: <= 0 meets the limit.

    Convex in `load_mw` (a mean or max of sums of hinge functions minus a linear term), so
    the loads meeting the limit form one interval, and its right end is the headroom.
    """
    curtailed = np.maximum(0.0, load_mw - slack_mw)
    mwh = np.bincount(year_index, weights=curtailed, minlength=n_years)
    allowed_mwh = limit_pct / 100.0 * RATE_BASIS_HOURS_PER_YEAR * load_mw
    return float(mwh.max() if every_year else mwh.mean()) - allowed_mwh


def headroom_mw(
    profile: BalancingAuthorityDemand, limit_pct: float, every_year: bool = False
) -> int:
    """Largest whole-MW constant load whose curtailment rate stays within `limit_pct`.

    Average mode: the mean over years of the yearly rates must be <= the limit; every-year
    mode: each yearly rate must be. Integer search on the convex excess function: find an
    upper bound by doubling, the minimum by ternary search (a feasible point, if any), then
    bisect between them. Returns 0 when no positive load meets the limit.
    """
    (limit,) = check_limits_pct([limit_pct])
    slack, year_index, n_years = profile.slack_mw, profile.year_index, profile.n_years

    def excess(load: int) -> float:
        return _excess_mwh(slack, year_index, n_years, float(load), limit, every_year)

    upper = max(1, int(np.ceil(np.max(slack))) + 1)
    while excess(upper) <= 0:  # each year has >= 8,760 h > limit x 8,760 h, so this ends
        upper *= 2
    lo, hi = 0, upper
    while hi - lo > 2:  # ternary search: a minimiser of a convex function stays in [lo, hi]
        m1, m2 = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        if excess(m1) <= excess(m2):
            hi = m2
        else:
            lo = m1
    feasible = min(range(max(lo, 1), hi + 1), key=excess)
    if excess(feasible) > 0:
        return 0  # even the least-curtailed load exceeds the limit
    infeasible = upper
    while infeasible - feasible > 1:  # bisection on the increasing branch
        mid = (feasible + infeasible) // 2
        if excess(mid) <= 0:
            feasible = mid
        else:
            infeasible = mid
    return int(feasible)


# ------------------------------------------------------------------------- summary


def curtailment_stats(profile: BalancingAuthorityDemand, load_mw: float) -> dict[str, float]:
    """Yearly rates, curtailed hours and the half-served share for a constant load."""
    if load_mw <= 0:
        return {
            "curtailment_pct_mean": 0.0,
            "curtailment_pct_max_year": 0.0,
            "curtailed_hours_per_year": 0.0,
            "half_served_share": float("nan"),
        }
    curtailed = curtailment_mw(profile.demand_mw, profile.ceiling_mw, load_mw)
    rates_pct = yearly_curtailment_pct(profile, load_mw)
    n_curtailed = int(np.count_nonzero(curtailed > 0))
    n_half_served = int(np.count_nonzero((curtailed > 0) & (curtailed <= 0.5 * load_mw)))
    return {
        "curtailment_pct_mean": float(rates_pct.mean()),
        "curtailment_pct_max_year": float(rates_pct.max()),
        "curtailed_hours_per_year": n_curtailed / profile.n_years,
        "half_served_share": n_half_served / n_curtailed if n_curtailed else float("nan"),
    }


SUMMARY_COLUMNS = (
    "ba",
    "limit_pct",
    "every_year",
    "first_year",
    "last_year",
    "headroom_mw",
    "curtailment_pct_mean",
    "curtailment_pct_max_year",
    "curtailed_hours_per_year",
    "half_served_share",
    "summer_peak_mw",
    "winter_peak_mw",
    "summer_peak_months",
    "winter_peak_months",
    "hours",
    "missing_hours",
    "nonpositive_hours",
    "outlier_hours",
    "filled_hours",
)


def headroom_summary(
    profiles: dict[str, BalancingAuthorityDemand],
    limits_pct: Sequence[float] = DEFAULT_LIMITS_PCT,
    every_year: bool = False,
) -> pd.DataFrame:
    """One row per BA and limit: headroom MW, what it is curtailed, ceilings, cleaning counts.

    `half_served_share` is the share of curtailed hours in which at least 50 % of the load
    is still served (curtailment <= load / 2); NaN when no hour is curtailed.
    """
    limits = check_limits_pct(limits_pct)
    rows = []
    for ba, profile in profiles.items():
        counts = profile.cleaning
        for limit in limits:
            load_mw = headroom_mw(profile, limit, every_year)
            rows.append(
                {
                    "ba": ba,
                    "limit_pct": limit,
                    "every_year": every_year,
                    "first_year": profile.first_year,
                    "last_year": profile.last_year,
                    "headroom_mw": load_mw,
                    **curtailment_stats(profile, load_mw),
                    "summer_peak_mw": profile.summer_peak_mw,
                    "winter_peak_mw": profile.winter_peak_mw,
                    "summer_peak_months": ",".join(map(str, profile.summer_peak_months)),
                    "winter_peak_months": ",".join(map(str, profile.winter_peak_months)),
                    "hours": counts.hours,
                    "missing_hours": counts.missing_hours,
                    "nonpositive_hours": counts.nonpositive_hours,
                    "outlier_hours": counts.outlier_hours,
                    "filled_hours": counts.filled_hours,
                }
            )
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return frame.astype(
        {
            "ba": "string",
            "limit_pct": float,
            "every_year": bool,
            "headroom_mw": "int64",
            "hours": "int64",
            "missing_hours": "int64",
            "nonpositive_hours": "int64",
            "outlier_hours": "int64",
            "filled_hours": "int64",
        }
    )


def headroom_curve(
    profiles: dict[str, BalancingAuthorityDemand],
    limits_pct: Sequence[float],
    every_year: bool = False,
    points: int = 25,
) -> pd.DataFrame:
    """Headroom MW on a log-spaced grid of limits spanning `limits_pct` (for a plot)."""
    limits = check_limits_pct(limits_pct)
    lo, hi = min(limits), max(limits)
    grid = np.unique(np.concatenate([np.geomspace(lo, hi, points if hi > lo else 1), limits]))
    rows = [
        {"ba": ba, "limit_pct": float(x), "headroom_mw": headroom_mw(p, float(x), every_year)}
        for ba, p in profiles.items()
        for x in grid
    ]
    return pd.DataFrame(rows, columns=["ba", "limit_pct", "headroom_mw"])


# -------------------------------------------------------------------------- events


def curtailed_hours(
    profile: BalancingAuthorityDemand, load_mw: float, year: int
) -> pd.DatetimeIndex:
    """UTC hours of `year` in which a constant `load_mw` is curtailed (demand + L > ceiling)."""
    if not profile.first_year <= year <= profile.last_year:
        raise HeadroomInputError(
            f"events year {year} is outside the years used for BA {profile.ba} "
            f"({profile.first_year}-{profile.last_year})"
        )
    if not load_mw > 0:
        raise HeadroomInputError(f"flexible load {load_mw:g} MW for BA {profile.ba}: must be > 0")
    mask = (profile.year == year) & (profile.demand_mw + load_mw > profile.ceiling_mw)
    return profile.timestamps[mask]


def _month_day_hour_key(ts: pd.DatetimeIndex) -> np.ndarray:
    return ts.month.to_numpy() * 10_000 + ts.day.to_numpy() * 100 + ts.hour.to_numpy()


def replay_hours(
    hours: pd.DatetimeIndex, start: pd.Timestamp | str, months: int
) -> pd.DatetimeIndex:
    """Map source-year UTC hours onto every hour of a horizon by (month, day, hour).

    The horizon is `months` whole UTC months from `start` (`YYYY-MM`). A source Feb 29 hour
    flags nothing in a non-leap horizon year; a leap horizon year's Feb 29 gets no flags
    unless the source year is a leap year.
    """
    if isinstance(start, str):
        start = parse_month(start)
    if months < 1:
        raise HeadroomInputError(f"events-months {months}: must be >= 1")
    end = start + pd.DateOffset(months=months)
    horizon = pd.date_range(start, end, freq="h", inclusive="left", unit="us")
    flagged = np.isin(_month_day_hour_key(horizon), _month_day_hour_key(hours))
    return horizon[flagged]


def stress_events(
    profile: BalancingAuthorityDemand,
    load_mw: float,
    node: str,
    source_year: int,
    start: pd.Timestamp | str | None = None,
    months: int = 12,
) -> pd.DataFrame:
    """Events frame (MODEL.md §6): the hours the flexible load is curtailed, as `stress`.

    Columns `timestamp` (UTC), `node` (string), `stress` (bool, all true): only flagged hours
    are written, since an absent hour means not flagged. `start` defaults to January of the
    source year, i.e. the real hours without remapping.
    """
    if not node or not node.strip():
        raise HeadroomInputError("events need a node name (--node)")
    hours = curtailed_hours(profile, load_mw, source_year)
    horizon_start = f"{source_year}-01" if start is None else start
    stamps = replay_hours(hours, horizon_start, months)
    return pd.DataFrame(
        {
            "timestamp": stamps,
            "node": pd.Series([node] * len(stamps), dtype="string"),
            "stress": np.ones(len(stamps), dtype=bool),
        }
    )


def check_events_request(
    bas: Sequence[str] | None,
    limits_pct: Sequence[float] | None,
    flex_mw: float | None,
    node: str | None,
    events_start: str | None,
    events_months: int,
    years: tuple[int, int] = DEFAULT_YEARS,
    events_year: int | None = None,
) -> None:
    """Check the options of `--events-out` before any computation."""
    if not node or not node.strip():
        raise HeadroomInputError("--events-out needs --node NAME (the node of the scenario)")
    if not bas or len(set(bas)) != 1:
        raise HeadroomInputError("--events-out needs exactly one --ba")
    if flex_mw is not None and not flex_mw > 0:
        raise HeadroomInputError(f"--flex-mw {flex_mw:g}: the flexible load must be > 0 MW")
    if flex_mw is None and (not limits_pct or len(set(limits_pct)) != 1):
        raise HeadroomInputError(
            "--events-out needs exactly one --limit (the headroom at that limit is the "
            "flexible load) or --flex-mw"
        )
    if events_start is not None:
        parse_month(events_start)
    if events_months < 1:
        raise HeadroomInputError(f"--events-months {events_months}: must be >= 1")
    if events_year is not None and not years[0] <= events_year <= years[1]:
        raise HeadroomInputError(
            f"events year {events_year} is outside the years used ({years[0]}-{years[1]})"
        )
