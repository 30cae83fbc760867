"""Hashprice futures generated from real history (`optim futures`; docs/futures.md).

A future is one daily path of the hashprice (USD per PH/s per day), and optionally of the
GPU-hour price, over a planning horizon. The paths are a model of uncertainty built from
real 2013-2024 data, not forecasts:

* BTC price: a stationary block bootstrap of the real daily log-returns 2013-2023,
  de-meaned to a stated drift (default 0: the median price stays at the start price),
  started at the sample's P0 on the first day of the horizon (flat before it, as in
  the sample);
* network hashrate: grows with the miners' lagged profitability,
  ``g = a + b * log(hp_sub[t-L] / hp_ref(t-L))``, with ``b``, ``L`` and the falling
  reference ``hp_ref`` fitted on the real monthly difficulty and price 2016-2023,
  started at the sample's H0 on 2024-04-24;
* subsidy from the schedule (the 2028-04-15 halving), fees a constant share of the
  block reward (the 2023-24 mean);
* ``hashprice = price * (144 * subsidy + fees) / H``, as in `optim.sample`;
* optional GPU-hour price: a lognormal random walk with a stated drift and volatility;
* optional reduction to K representative futures (k-medoids) with probabilities.

Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed gives the same
file, byte for byte. This module is numpy/pandas/pyarrow only; the command is
`optim.futures_cli`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from optim import sample
from optim.errors import OptimError

__all__ = [
    "Calibration",
    "Futures",
    "FuturesInputError",
    "calibrate",
    "generate",
    "horizon_dates",
    "kmedoids",
    "parse_start",
    "stationary_bootstrap",
]

# --- raw inputs ---------------------------------------------------------------------------
NETWORK_FILE = "btc_network_daily_2013_2023.csv"  # price, difficulty 2013-2023
RAW_KEYS = ("miner", "subsidy")  # sample.RAW_FILES used besides NETWORK_FILE

# --- calibration ----------------------------------------------------------------------------
CALIBRATION_START = "2016-01"  # first growth month fitted (after the 2013-15 ASIC ramp-up)
MAX_LAG_MONTHS = 12  # lags 1 .. 12 months are tried; the least-squares one is kept
DAYS_PER_MONTH = 365.25 / 12.0
DAYS_PER_YEAR = 365.25
SIGNAL_DAYS = 30  # the profitability signal: mean hashprice of 30 days (a month)

# --- price bootstrap --------------------------------------------------------------------------
MEAN_BLOCK_DAYS = 30.0  # stationary bootstrap: mean block length (geometric)
BTC_DRIFT_PER_YEAR = 0.0  # default log drift: the median price stays at the start price

# --- GPU-hour price ---------------------------------------------------------------------------
GPU_DRIFT_PER_YEAR = sample.GPU_PRICE_DRIFT_PER_YEAR  # -15 %/year, the sample's assumption
GPU_VOL_PER_YEAR = 0.25  # lognormal volatility (per sqrt(year)), an assumption

# --- horizon ------------------------------------------------------------------------------------
FIRST_START = pd.Timestamp("2024-05-01")  # the simulation starts on sample.BASE_DATE
LAST_END = pd.Timestamp("2032-04-01")  # the schedule has no date for the 2032 halving

# --- output -------------------------------------------------------------------------------------
HASHPRICE = "hashprice_usd_per_ph_day"
GPU_PRICE = "price_usd_per_gpu_hour"
SCHEMA = pa.schema([("future", pa.string()), ("date", pa.date32()), (HASHPRICE, pa.float64())])
SCHEMA_GPU = SCHEMA.append(pa.field(GPU_PRICE, pa.float64()))
DECIMALS = 4  # values are rounded as in the sample's series
PERCENTILES = (5, 25, 50, 75, 95)
RISK_ALPHA = 0.9
RISK_WEIGHT = 0.0


class FuturesInputError(OptimError, ValueError):
    """Bad input to `optim futures` (an option or a raw file); exit 2, one line."""

    exit_code = 2


# ------------------------------------------------------------------------------------------
# Raw data
# ------------------------------------------------------------------------------------------


def raw_paths(raw_dir: Path) -> dict[str, Path]:
    """The raw files used, checked present (FuturesInputError naming the missing one)."""
    raw_dir = Path(raw_dir)
    names = {"network": NETWORK_FILE, **{k: sample.RAW_FILES[k] for k in RAW_KEYS}}
    found = {}
    for key, name in names.items():
        path = raw_dir / name
        if not path.is_file():
            raise FuturesInputError(
                f"raw file {name!r} not found in {raw_dir} (set OPTIM_RAW_DIR or pass --raw "
                "to point at the raw-data folder)")
        found[key] = path
    return found


def hashrate_from_difficulty(difficulty: np.ndarray | pd.Series) -> np.ndarray:
    """Network hashrate (PH/s) implied by the difficulty: ``D * 2**32 / 600 / 1e15``."""
    return np.asarray(difficulty, dtype=np.float64) * sample.HASHES_PER_DIFFICULTY / 600.0 / 1e15


def _network(raw_dir: Path) -> pd.DataFrame:
    """The 2013-2023 daily file: date, price, difficulty (NaN where absent)."""
    df = pd.read_csv(raw_paths(raw_dir)["network"], parse_dates=["date"])
    df = df.sort_values("date").reset_index(drop=True)
    if (df["date"].diff().dropna() != pd.Timedelta(days=1)).any():
        raise ValueError(f"{NETWORK_FILE}: dates are not consecutive")
    if df["price_usd_blockchain"].isna().any() or (df["price_usd_blockchain"] <= 0).any():
        raise ValueError(f"{NETWORK_FILE}: missing or non-positive prices")
    return df


def log_returns(raw_dir: Path) -> np.ndarray:
    """Daily log-returns of the real BTC price, 2013-01-02 .. 2023-06-30 (3,832 values)."""
    price = _network(raw_dir)["price_usd_blockchain"].to_numpy(np.float64)
    return np.diff(np.log(price))


def base_state(raw_dir: Path) -> tuple[float, float]:
    """``(P0, H0)``: the sample's BTC price (USD) and hashrate (PH/s) over its base week."""
    econ = sample._miner_economics(raw_dir)
    base = econ[(econ["date"] >= sample.BASE_WINDOW[0]) & (econ["date"] <= sample.BASE_WINDOW[1])]
    p0 = float(base["price_usd"].mean())
    h0 = float(hashrate_from_difficulty(base["difficulty"]).mean())
    return p0, h0


def fee_share(raw_dir: Path) -> float:
    """Mean daily share of fees in the miners' BTC income over the 2023-24 file:
    ``mean_d fees_btc / (144 * subsidy + fees_btc)``."""
    econ = sample._miner_economics(raw_dir)
    subsidy = sample.subsidy_btc(pd.DatetimeIndex(econ["date"]), raw_dir)
    fees = econ["fees_btc"].to_numpy(np.float64)
    return float(np.mean(fees / (sample.BLOCKS_PER_DAY * subsidy + fees)))


def history_hashprice(raw_dir: Path) -> tuple[pd.Timestamp, np.ndarray]:
    """Real daily subsidy-only hashprice ``P * 144 * subsidy / H`` (USD per PH/s per day)
    from the 2023-24 file, up to the day before sample.BASE_DATE: the profitability the
    hashrate responds to in its first months. Returns (first date, values)."""
    econ = sample._miner_economics(raw_dir)
    econ = econ[econ["date"] < sample.BASE_DATE]
    dates = pd.DatetimeIndex(econ["date"])
    hp = (econ["price_usd"].to_numpy(np.float64) * sample.BLOCKS_PER_DAY
          * sample.subsidy_btc(dates, raw_dir) / hashrate_from_difficulty(econ["difficulty"]))
    return dates[0], hp


# ------------------------------------------------------------------------------------------
# Calibration of the hashrate response
# ------------------------------------------------------------------------------------------


def _years_2013(dates: pd.DatetimeIndex | pd.Timestamp) -> np.ndarray | float:
    """Years (365.25 days) since 2013-01-01."""
    delta = (dates - pd.Timestamp("2013-01-01")) / pd.Timedelta(days=DAYS_PER_YEAR)
    return delta if isinstance(delta, float) else np.asarray(delta, dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """The fitted hashrate response and the other calibrated numbers (docs/futures.md).

    Monthly: ``g_m = a + b * log(hp_{m-L} / hp_ref(t_{m-L}))`` with
    ``hp_ref(t) = hp_ref_base * exp(-kappa * (t - base))`` and ``a = kappa / 12``;
    equivalently the regression ``g_m = alpha + b * (log hp_{m-L} + kappa * t_{m-L})``.
    """

    lag_months: int  # L
    b_per_month: float  # elasticity of monthly log-growth to log profitability
    kappa_per_year: float  # decline of the reference (cost of hashing), log per year
    alpha: float  # regression intercept (t in years since 2013-01-01)
    hp_ref_base: float  # reference subsidy-only hashprice on BASE_DATE, USD/PH/day
    r2: float
    resid_sd: float  # monthly log-growth residual standard deviation
    n_months: int
    sse_by_lag: tuple[float, ...]  # lags 1 .. MAX_LAG_MONTHS
    fee_share: float  # fees / (subsidy + fees), 2023-24 mean
    p0: float  # USD per BTC
    h0: float  # PH/s
    return_mean_per_year: float  # of the real log-returns, before de-meaning
    return_vol_per_year: float
    n_returns: int
    window: tuple[str, str]  # first and last growth month fitted

    @property
    def a_per_month(self) -> float:
        """Monthly log-growth at the reference profitability: the cost decline."""
        return self.kappa_per_year / 12.0

    def hp_ref(self, dates: pd.DatetimeIndex | pd.Timestamp) -> np.ndarray | float:
        """Reference subsidy-only hashprice (USD/PH/day) at ``dates``."""
        years = (dates - sample.BASE_DATE) / pd.Timedelta(days=DAYS_PER_YEAR)
        years = years if isinstance(years, float) else np.asarray(years, dtype=np.float64)
        return self.hp_ref_base * np.exp(-self.kappa_per_year * years)

    def growth_per_month(self, hp_sub: float, date: pd.Timestamp) -> float:
        """Monthly log-growth of the hashrate for a subsidy-only signal ``hp_sub`` whose
        window is centred on ``date``."""
        return self.a_per_month + self.b_per_month * math.log(hp_sub / self.hp_ref(date))


def monthly_history(raw_dir: Path) -> pd.DataFrame:
    """Monthly means of the real network 2013-2023 over the days with a difficulty:
    hashrate ``H`` (PH/s), subsidy-only hashprice ``hp`` (USD/PH/day), subsidy ``S``
    (BTC/block) and ``t`` (years since 2013-01-01 at the middle of the month)."""
    df = _network(raw_dir).dropna(subset=["difficulty"])
    dates = pd.DatetimeIndex(df["date"])
    h = hashrate_from_difficulty(df["difficulty"])
    subsidy = sample.subsidy_btc(dates, raw_dir)
    hp = df["price_usd_blockchain"].to_numpy(np.float64) * sample.BLOCKS_PER_DAY * subsidy / h
    daily = pd.DataFrame({"H": h, "hp": hp, "S": subsidy}, index=dates)
    monthly = daily.resample("MS").mean()
    mid = monthly.index + pd.to_timedelta(monthly.index.days_in_month / 2.0, unit="D")
    monthly["t"] = _years_2013(pd.DatetimeIndex(mid))
    return monthly


def calibrate(raw_dir: Path, start: str = CALIBRATION_START) -> Calibration:
    """Fit the hashrate response on the real monthly network data (docs/futures.md §2).

    1. ``kappa``: minus the least-squares slope of ``log(hp_m / S_m)`` on ``t_m`` over the
       window (the hashprice's decline per year, net of the halvings).
    2. For each lag ``L`` in 1..MAX_LAG_MONTHS, least squares of
       ``g_m = log H_{m+1} - log H_m`` on ``[1, log hp_{m-L} + kappa * t_{m-L}]`` over the
       same growth months; the ``L`` with the least sum of squares is kept (ties: the
       shorter lag).
    """
    monthly = monthly_history(raw_dir)
    n = len(monthly)
    growth = np.log(monthly["H"].to_numpy())
    growth = np.append(np.diff(growth), np.nan)  # g_m = log H_{m+1} - log H_m
    t = monthly["t"].to_numpy()
    log_hp = np.log(monthly["hp"].to_numpy())
    first = int(np.searchsorted(monthly.index, pd.Timestamp(start)))
    if first < MAX_LAG_MONTHS or first >= n - 2:
        raise ValueError(f"calibration window {start} leaves no room for the lags")
    window = slice(first, n)
    slope = np.polyfit(t[window], log_hp[window] - np.log(monthly["S"].to_numpy()[window]), 1)[0]
    kappa = -float(slope)
    x = log_hp + kappa * t
    months = np.arange(first, n - 1)  # growth months (the last month has no successor)
    y = growth[months]
    fits = []
    for lag in range(1, MAX_LAG_MONTHS + 1):
        design = np.column_stack([np.ones(len(months)), x[months - lag]])
        beta = np.linalg.lstsq(design, y, rcond=None)[0]
        resid = y - design @ beta
        fits.append((float(resid @ resid), lag, beta, resid))
    sse_by_lag = tuple(f[0] for f in fits)
    sse, lag, beta, resid = min(fits, key=lambda f: (f[0], f[1]))
    alpha, b = float(beta[0]), float(beta[1])
    tss = float(((y - y.mean()) ** 2).sum())
    # reference: the profitability at which the hashrate grows at kappa (the cost decline)
    log_ref_base = (kappa / 12.0 - alpha) / b - kappa * _years_2013(sample.BASE_DATE)
    returns = log_returns(raw_dir)
    p0, h0 = base_state(raw_dir)
    return Calibration(
        lag_months=lag, b_per_month=b, kappa_per_year=kappa, alpha=alpha,
        hp_ref_base=float(np.exp(log_ref_base)), r2=1.0 - sse / tss,
        resid_sd=float(np.sqrt(sse / (len(y) - 2))), n_months=len(y), sse_by_lag=sse_by_lag,
        fee_share=fee_share(raw_dir), p0=p0, h0=h0,
        return_mean_per_year=float(returns.mean() * DAYS_PER_YEAR),
        return_vol_per_year=float(returns.std(ddof=1) * np.sqrt(DAYS_PER_YEAR)),
        n_returns=len(returns),
        window=(f"{monthly.index[months[0]]:%Y-%m}", f"{monthly.index[months[-1]]:%Y-%m}"),
    )


# ------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------


def parse_start(text: str) -> pd.Timestamp:
    """``YYYY-MM`` -> the first day of that month (FuturesInputError naming --start)."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise FuturesInputError(f"--start {text!r} is not a month YYYY-MM (e.g. 2027-01)")
    return pd.Timestamp(year=int(match.group(1)), month=int(match.group(2)), day=1)


def horizon_dates(start: pd.Timestamp, months: int) -> pd.DatetimeIndex:
    """Every date of ``months`` calendar months from ``start`` (naive, midnight)."""
    end = start + pd.DateOffset(months=months)
    return pd.date_range(start, end, freq="D", inclusive="left", unit="s")


def stationary_bootstrap(rng: np.random.Generator, n_source: int, length: int,
                         mean_block: float = MEAN_BLOCK_DAYS) -> np.ndarray:
    """Indices into a source series of ``n_source`` values, ``length`` long (Politis and
    Romano's stationary bootstrap): a block starts at a uniform index and goes on, wrapping
    around the end, until a new block starts, which happens each step with probability
    ``1 / mean_block`` (so block lengths are geometric with mean ``mean_block``)."""
    if length <= 0:
        return np.zeros(0, dtype=np.int64)
    new_block = rng.random(length) < 1.0 / mean_block
    new_block[0] = True
    starts = rng.integers(0, n_source, size=length)
    steps = np.arange(length)
    block_first = np.maximum.accumulate(np.where(new_block, steps, 0))
    return (starts[block_first] + steps - block_first) % n_source


def kmedoids(features: np.ndarray, k: int, rng: np.random.Generator,
             max_sweeps: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """K-medoids of the rows of ``features`` (Euclidean): k-means++ seeding with ``rng``,
    then PAM swaps (the best improving swap of a medoid and a non-medoid, until none
    improves the total distance by more than 1e-12 of it). Returns the medoids' row
    indices (ascending) and each row's cluster, an index into them (nearest medoid; a tie
    goes to the lower row index)."""
    x = np.asarray(features, dtype=np.float64)
    n = len(x)
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must be in 1..{n}")
    dist = np.empty((n, n))
    for i in range(n):  # row by row, no BLAS: exact, symmetric and the same on any machine
        dist[i] = np.sqrt(((x - x[i]) ** 2).sum(axis=1))
    medoids = [int(rng.integers(n))]
    nearest = dist[medoids[0]].copy()
    while len(medoids) < k:
        weight = nearest ** 2
        total = weight.sum()
        if total <= 0.0:  # every row coincides with a medoid: take the first free row
            pick = int(np.flatnonzero(~np.isin(np.arange(n), medoids))[0])
        else:
            pick = int(np.searchsorted(np.cumsum(weight), rng.random() * total, side="right"))
            pick = min(pick, n - 1)
            if pick in medoids:
                pick = int(np.flatnonzero(~np.isin(np.arange(n), medoids))[0])
        medoids.append(pick)
        nearest = np.minimum(nearest, dist[pick])
    med = np.array(sorted(medoids), dtype=np.int64)

    def cost(m: np.ndarray) -> float:
        return float(dist[:, m].min(axis=1).sum())

    current = cost(med)
    for _ in range(max_sweeps):
        best = (current, -1, -1)
        for j in range(k):
            others = np.delete(med, j)
            base = dist[:, others].min(axis=1) if len(others) else np.full(n, np.inf)
            trial = np.minimum(base[:, None], dist).sum(axis=0)  # cost with med[j] -> o
            trial[med] = np.inf
            o = int(np.argmin(trial))
            if trial[o] < best[0]:
                best = (float(trial[o]), j, o)
        if best[1] < 0 or current - best[0] <= 1e-12 * max(current, 1.0):
            break
        med[best[1]] = best[2]
        med.sort()
        current = cost(med)
    labels = np.argmin(dist[:, med], axis=1)  # argmin: the first (lowest-index) medoid on ties
    labels[med] = np.arange(k)  # a medoid is in its own cluster (even if duplicated)
    return med, labels


def future_names(n: int) -> list[str]:
    """``f01`` .. ``fNN`` (at least two digits)."""
    width = max(2, len(str(n)))
    return [f"f{i + 1:0{width}d}" for i in range(n)]


def commit_months(start: pd.Timestamp, months: int,
                  halving: pd.Timestamp = sample.HALVING_2028) -> int:
    """Months from the horizon start to the halving's month, clamped to 1..months."""
    to_halving = (halving.year - start.year) * 12 + halving.month - start.month
    return int(min(max(to_halving, 1), months))


# ------------------------------------------------------------------------------------------
# Generation
# ------------------------------------------------------------------------------------------


@dataclass
class Futures:
    """Generated futures: every path, the reduced set and what the files need."""

    dates: pd.DatetimeIndex  # the horizon
    hashprice: np.ndarray  # (n_paths, n_dates), USD per PH/s per day, every generated path
    gpu_price: np.ndarray | None  # (n_paths, n_dates), USD per GPU-hour, or None
    btc_price: np.ndarray  # (n_paths, n_dates), USD per BTC
    hashrate: np.ndarray  # (n_paths, n_dates), PH/s
    names: list[str]  # every generated path's name
    kept: np.ndarray  # indices of the futures written (all, or the medoids)
    probability: np.ndarray  # of each kept future (adds up to 1)
    labels: np.ndarray  # each path's kept future (an index into `kept`)
    commit_months: int
    calibration: Calibration
    settings: dict = field(default_factory=dict)

    @property
    def kept_names(self) -> list[str]:
        return [self.names[i] for i in self.kept]

    def table(self) -> pa.Table:
        """The futures Parquet table: rows by future (in `kept` order) then date."""
        n_d = len(self.dates)
        cols = {
            "future": np.repeat(np.array(self.kept_names, dtype=object), n_d),
            "date": np.tile(self.dates.date, len(self.kept)),
            HASHPRICE: np.round(self.hashprice[self.kept], DECIMALS).reshape(-1),
        }
        if self.gpu_price is not None:
            cols[GPU_PRICE] = np.round(self.gpu_price[self.kept], DECIMALS).reshape(-1)
        table = pa.table(cols, schema=SCHEMA_GPU if self.gpu_price is not None else SCHEMA)
        for name in cols:
            if name in (HASHPRICE, GPU_PRICE):
                values = table[name].to_numpy()
                if not (np.isfinite(values).all() and (values > 0).all()):
                    raise ValueError(f"{name}: a generated value is not positive and finite")
        return table

    def toml(self, file_name: str) -> str:
        """The `[futures]` snippet of a scenario (MODEL.md §9)."""
        probs = ", ".join(f"{name} = {float(p)!r}"
                          for name, p in zip(self.kept_names, self.probability, strict=True))
        halving = f"{sample.HALVING_2028:%Y-%m}"
        return "\n".join([
            f"# Written by `optim futures` (seed {self.settings.get('seed')}, "
            f"{len(self.names)} paths{self._reduced()}); see docs/futures.md.",
            "# Paste into a scenario; `file` is relative to the scenario file.",
            "[futures]",
            f"file = {_toml_string(file_name)}",
            f"commit_months = {self.commit_months}  # a suggestion: decide until the "
            f"{halving} halving month, then adapt",
            f"risk_alpha = {RISK_ALPHA}",
            f"risk_weight = {RISK_WEIGHT}",
            f"probability = {{ {probs} }}",
            "",
        ])

    def _reduced(self) -> str:
        return f", reduced to {len(self.kept)} by k-medoids" if len(self.kept) < len(
            self.names) else ""

    def fan(self) -> pd.DataFrame:
        """Percentiles (PERCENTILES) over every generated path of its quarterly mean
        hashprice: one row per calendar quarter of the horizon."""
        quarter = self.dates.to_period("Q")
        rows = []
        for q in quarter.unique():
            means = self.hashprice[:, np.asarray(quarter == q)].mean(axis=1)
            rows.append([str(q), *np.percentile(means, PERCENTILES)])
        return pd.DataFrame(rows, columns=["quarter", *[f"p{p}" for p in PERCENTILES]])

    def daily_percentiles(self) -> np.ndarray:
        """(len(PERCENTILES), n_dates): percentiles of the daily hashprice over the paths."""
        return np.percentile(self.hashprice, PERCENTILES, axis=0)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_request(n: int, start: str | pd.Timestamp, months: int, reduce: int | None = None,
                  gpu_price: float | None = None, btc_price: float | None = None,
                  btc_vol: float | None = None, gpu_vol: float = GPU_VOL_PER_YEAR,
                  gpu_drift: float = GPU_DRIFT_PER_YEAR,
                  btc_drift: float = BTC_DRIFT_PER_YEAR, seed: int = 0) -> pd.Timestamp:
    """Every option checked (FuturesInputError naming it); returns the horizon start."""
    if seed < 0:
        raise FuturesInputError(f"--seed must be >= 0 (got {seed})")
    if n < 1:
        raise FuturesInputError(f"--futures must be at least 1 (got {n})")
    if reduce is not None and not 1 <= reduce <= n:
        raise FuturesInputError(f"--reduce must be in 1..{n} (the --futures count), "
                                f"got {reduce}")
    first = parse_start(start) if isinstance(start, str) else pd.Timestamp(start)
    if months < 1:
        raise FuturesInputError(f"--months must be at least 1 (got {months})")
    if first < FIRST_START:
        raise FuturesInputError(f"--start {first:%Y-%m} is before {FIRST_START:%Y-%m}: the model "
                                f"starts from the {sample.BASE_DATE:%Y-%m-%d} base state")
    if first + pd.DateOffset(months=months) > LAST_END:
        raise FuturesInputError(
            f"--start {first:%Y-%m} with --months {months} ends after {LAST_END:%Y-%m-%d}: the "
            "subsidy schedule has no date for the 2032 halving")
    for name, value in (("--gpu-price", gpu_price), ("--btc-price", btc_price),
                        ("--btc-vol", btc_vol)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise FuturesInputError(f"{name} must be a positive number (got {value})")
    if not (math.isfinite(gpu_vol) and gpu_vol >= 0):
        raise FuturesInputError(f"--gpu-vol must be >= 0 (got {gpu_vol})")
    if not (math.isfinite(gpu_drift) and gpu_drift > -1):
        raise FuturesInputError(f"--gpu-drift must be > -1 (got {gpu_drift})")
    if not math.isfinite(btc_drift):
        raise FuturesInputError(f"--btc-drift must be a finite number (got {btc_drift})")
    return first


def simulate_hashrate(cal: Calibration, price: np.ndarray, subsidy: np.ndarray,
                      day0: pd.Timestamp, history: tuple[pd.Timestamp, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Daily hashrate (PH/s) and subsidy-only hashprice of every path.

    ``price`` (paths x days) and ``subsidy`` (days) start on ``day0`` (= BASE_DATE, where
    the hashrate is H0). Day ``d``'s growth to ``d + 1`` is
    ``(a + b * log(hpbar_d / hp_ref(c_d))) / DAYS_PER_MONTH`` with ``hpbar_d`` the mean
    subsidy-only hashprice of the SIGNAL_DAYS days ending ``L`` months (``round(L *
    DAYS_PER_MONTH)`` days) before ``d``, centred on ``c_d``; days before ``day0`` take the
    real history (its first value before it starts).
    """
    n_paths, n_days = price.shape
    hist_first, hist = history
    n_hist = int((day0 - hist_first) / pd.Timedelta(days=1))
    if n_hist != len(hist):
        raise ValueError("history must end the day before the simulation starts")
    lag_days = int(round(cal.lag_months * DAYS_PER_MONTH))
    reach = lag_days + SIGNAL_DAYS  # how far back a signal window starts
    pad = max(0, reach - n_hist)
    hist = np.concatenate([np.full(pad, hist[0]), hist])
    off = len(hist)  # column of day0 in the hp arrays
    hp = np.empty((n_paths, off + n_days))
    hp[:, :off] = hist
    csum = np.zeros((n_paths, off + n_days + 1))
    csum[:, 1:off + 1] = np.cumsum(hist)
    h = np.empty((n_paths, n_days))
    h[:, 0] = cal.h0
    log_ref = np.log(cal.hp_ref_base) - cal.kappa_per_year * (
        (np.arange(n_days) - lag_days - SIGNAL_DAYS / 2.0) / DAYS_PER_YEAR)
    scale = sample.BLOCKS_PER_DAY * subsidy
    for d in range(n_days):
        if d > 0:
            hi, lo = off + d - lag_days, off + d - lag_days - SIGNAL_DAYS
            signal = (csum[:, hi] - csum[:, lo]) / SIGNAL_DAYS
            g = cal.a_per_month + cal.b_per_month * (np.log(signal) - log_ref[d - 1])
            h[:, d] = h[:, d - 1] * np.exp(g / DAYS_PER_MONTH)
        hp[:, off + d] = price[:, d] * scale[d] / h[:, d]
        csum[:, off + d + 1] = csum[:, off + d] + hp[:, off + d]
    return h, hp[:, off:]


def generate(raw_dir: Path, n: int = 20, seed: int = 0, start: str | pd.Timestamp = "2027-01",
             months: int = 36, gpu_price: float | None = None, reduce: int | None = None,
             btc_price: float | None = None, btc_drift: float = BTC_DRIFT_PER_YEAR,
             btc_vol: float | None = None, gpu_drift: float = GPU_DRIFT_PER_YEAR,
             gpu_vol: float = GPU_VOL_PER_YEAR,
             calibration: Calibration | None = None) -> Futures:
    """Generate ``n`` futures over ``months`` months from ``start`` (docs/futures.md).

    Random draws, all from ``default_rng(seed)``: ``n`` child generators for the price
    paths (path ``i`` depends only on the seed, ``i`` and the horizon, not on ``n``),
    then ``n`` children for the GPU-hour paths, then the k-medoids seeding.
    """
    first = check_request(n, start, months, reduce, gpu_price, btc_price, btc_vol, gpu_vol,
                          gpu_drift, btc_drift, seed)
    raw_dir = Path(raw_dir)
    raw_paths(raw_dir)
    cal = calibration or calibrate(raw_dir)
    dates = horizon_dates(first, months)
    day0 = sample.BASE_DATE
    all_days = pd.date_range(day0, dates[-1], freq="D", unit="s")
    subsidy = sample.subsidy_btc(all_days, raw_dir)
    n_pre = len(all_days) - len(dates)  # days held at the start price

    returns = log_returns(raw_dir)
    vol = btc_vol if btc_vol is not None else cal.return_vol_per_year
    scaled = (returns - returns.mean()) * (vol / cal.return_vol_per_year)
    daily = scaled + btc_drift / DAYS_PER_YEAR
    p_start = btc_price if btc_price is not None else cal.p0

    rng = np.random.default_rng(seed)
    price_rngs = rng.spawn(n)
    steps = np.zeros((n, len(dates)))
    for i, child in enumerate(price_rngs):
        steps[i, 1:] = daily[stationary_bootstrap(child, len(daily), len(dates) - 1)]
    horizon_price = p_start * np.exp(np.cumsum(steps, axis=1))
    price = np.concatenate([np.full((n, n_pre), p_start), horizon_price], axis=1)

    h, _ = simulate_hashrate(cal, price, subsidy, day0, history_hashprice(raw_dir))
    btc_per_day = sample.BLOCKS_PER_DAY * subsidy / (1.0 - cal.fee_share)  # subsidy + fees
    hp = price * btc_per_day / h

    gpu = None
    if gpu_price is not None:
        years = np.arange(len(dates)) / DAYS_PER_YEAR
        noise = np.zeros((n, len(dates)))
        for i, child in enumerate(rng.spawn(n)):
            noise[i, 1:] = np.cumsum(child.standard_normal(len(dates) - 1))
        gpu = gpu_price * np.exp(math.log1p(gpu_drift) * years
                                 + gpu_vol * np.sqrt(1.0 / DAYS_PER_YEAR) * noise)

    horizon = slice(n_pre, None)
    hp, h, price = hp[:, horizon], h[:, horizon], price[:, horizon]
    if reduce is not None and reduce < n:
        kept, labels = kmedoids(reduction_features(dates, hp, gpu), reduce, rng)
    else:
        kept, labels = np.arange(n), np.arange(n)
    counts = np.bincount(labels, minlength=len(kept))
    settings = {"seed": seed, "start": f"{first:%Y-%m}", "months": months, "futures": n,
                "reduce": reduce, "gpu_price": gpu_price, "btc_price": p_start,
                "btc_drift": btc_drift, "btc_vol": vol, "gpu_drift": gpu_drift,
                "gpu_vol": gpu_vol}
    return Futures(dates=dates, hashprice=hp, gpu_price=gpu, btc_price=price, hashrate=h,
                   names=future_names(n), kept=kept, probability=counts / n, labels=labels,
                   commit_months=commit_months(first, months), calibration=cal,
                   settings=settings)


def reduction_features(dates: pd.DatetimeIndex, hashprice: np.ndarray,
                       gpu: np.ndarray | None) -> np.ndarray:
    """What k-medoids compares: each path's log monthly-mean hashprice (and log
    monthly-mean GPU-hour price when there is one), one column per month."""
    month = np.asarray(dates.year * 12 + dates.month)
    cols = []
    for series in (hashprice, gpu):
        if series is None:
            continue
        for m in np.unique(month):
            cols.append(np.log(series[:, month == m].mean(axis=1)))
    return np.column_stack(cols)
