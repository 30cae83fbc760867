"""Build the bundled sample portfolio's time series from the real raw data.

The sample scenario (``data/sample/scenario.toml``) plans 36 months from 2027-01.
No real data exists for those months, so every series here is a documented,
deterministic *replay* of real history (``data/README.md`` explains each rule):

* prices: ERCOT real-time hub LMPs of local year 2023, shifted by whole weeks
  so that weekdays line up, wrapped around the source year;
* hashprice: the post-2024-halving miner economics projected with a flat BTC
  price, a decaying hashrate growth, the real year's fee and price noise and
  the ~2028-04-15 halving;
* fuel: Henry Hub spot of calendar 2023 (the same year as the power prices),
  same calendar day, weekends and holidays forward-filled;
* events: ERCOT 4CP hours (``peak``) and the top demand hours (``stress``) of
  the replayed EIA-930 ERCO demand;
* reserve_prices: ERCOT day-ahead capacity prices (RRS, ECRS, NSPIN) of local
  year 2023 (or 2024) replayed by the same hour rule as the LMPs, the ERS
  capacity payment (a documented assumption), and ``deployed_share`` = 1 in
  the stress hours of the events;
* compute: a GPU-hour price path (a documented ASSUMPTION, not market data): a
  start level and a constant yearly drift;
* profiles: the load profile of Corsicana's AI tenant (a documented ASSUMPTION):
  a training tenant ramping up over its first year.

Output is byte-reproducible: fixed schemas, sorted rows, pyarrow writer with
fixed settings, no pandas metadata.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from optim import outdir, paths

__all__ = [
    "HALVING_2028",
    "NODES",
    "RAW_FILES",
    "RESERVE_YEARS",
    "RawDataMissingError",
    "build_sample",
    "default_raw_dir",
]

# --- horizon -----------------------------------------------------------------
HORIZON_START = pd.Timestamp("2027-01-01", tz="UTC")
HORIZON_END = pd.Timestamp("2030-01-01", tz="UTC")  # exclusive
LOCAL_TZ = "America/Chicago"  # ERCOT's prevailing time

# --- raw inputs ----------------------------------------------------------------
RAW_FILES = {
    "ercot": "ercot_rt_lmp_hubs_hourly_2020_2024.parquet",
    "demand": "eia930_demand_hourly_22ba_2016_2024.parquet",
    "miner": "btc_miner_economics_daily_2023_2024.csv",
    "subsidy": "btc_block_subsidy_schedule.csv",
    "gas": "henry_hub_spot_daily_2015_2025.csv",
    "reserves": "ercot_dam_as_mcpc_2022_2024.parquet",
}

# --- prices --------------------------------------------------------------------
NODES = {  # node name in the sample -> column of the ERCOT file
    "HB_NORTH": "hb_north_lmp",
    "HB_PAN": "hb_pan_lmp",
    "HB_SOUTH": "hb_south_lmp",
    "HB_WEST": "hb_west_lmp",
}
PRICE_SOURCE_YEAR = 2023  # the only complete local year (8,760 hours, all 4 intervals)

# --- hashprice -------------------------------------------------------------------
BLOCKS_PER_DAY = 144.0  # protocol target: one block per 600 s
HASHES_PER_DIFFICULTY = 2.0**32  # expected hashes per block = difficulty * 2**32
BASE_WINDOW = ("2024-04-21", "2024-04-27")  # 7 complete days after the 2024 halving
BASE_DATE = pd.Timestamp("2024-04-24")  # centre of BASE_WINDOW: t = 0 of the projection
HASHRATE_GROWTH_0 = float(np.log(1.25))  # instantaneous growth at BASE_DATE: +25 %/year
HASHRATE_GROWTH_DECAY_YEARS = 1.5  # e-folding time of the growth rate (years)
PRICE_NOISE_WINDOW_DAYS = 29  # centred window of the BTC price trend removed from noise
HALVING_2028 = pd.Timestamp("2028-04-15")  # estimated date of block 1,050,000 (epoch 5)
NOISE_CYCLE_DAYS = 364  # 52 weeks: the real year is replayed weekday-aligned

# --- fuel ------------------------------------------------------------------------
GAS_SOURCE_YEAR = 2023  # same market year as the power prices and demand
GAS_HUB = "henry_hub"

# --- events ----------------------------------------------------------------------
DEMAND_BA = "ERCO"
CP_MONTHS = (6, 7, 8, 9)  # ERCOT 4CP months, by local (Central) calendar month
STRESS_HOURS_PER_YEAR = 40  # highest-demand hours of each UTC horizon year
DEMAND_MAX_DEVIATION = 0.15  # cleaning: drop values > 15 % off the 7-hour median
DEMAND_MEDIAN_HOURS = 7

# --- reserves ----------------------------------------------------------------------
RESERVE_PRODUCTS = ("ECRS", "NSPIN", "RRS")  # ERCOT AS a curtailable load can sell (not Reg)
RESERVE_YEARS = (2023, 2024)  # 2023: scarcity regime; 2024: battery-era regime
RESERVE_YEAR_DEFAULT = 2023
# ERCOT Emergency Response Service: a documented ASSUMPTION, not market data (data/README.md):
# $7.50/MW-h = $65,700/MW-year, within the quoted ~$60-70k/MW-year ERS average and close to
# the $75M/year budget (16 TAC 25.507, 2022) spread over ~1.1 GW; obligated in every hour.
ERS_PRODUCT = "ERS"
ERS_PRICE_USD_PER_MW_H = 7.50
DEPLOYED_PRODUCTS = ("ECRS", "NSPIN", "RRS", "ERS")  # deployed_share = 1 in stress hours

# --- AI deals: documented ASSUMPTIONS, not market data (data/README.md) -----------------
# H100-class on-demand GPU-hour price: fell from ~$8 (2023) to ~$1.70 and rebounded to
# ~$2.35 (2025 rental-price trackers); assumed to start 2027 at $2.35 and to fall 15 % a
# year as newer GPUs arrive.
GPU_PRICE_START_USD_PER_HOUR = 2.35
GPU_PRICE_DRIFT_PER_YEAR = -0.15
# Corsicana's tenant trains models: it draws 30 % of its halls when its first hall comes
# online (2027-07) and ramps linearly to 90 % over its first year, then stays there.
TENANT_PROFILE = "corsicana_training"
TENANT_RAMP = (pd.Timestamp("2027-07-01", tz="UTC"), pd.Timestamp("2028-07-01", tz="UTC"))
TENANT_LOAD = (0.30, 0.90)

# --- output ----------------------------------------------------------------------
TS_TYPE = pa.timestamp("us", tz="UTC")
RESERVE_SCHEMA = pa.schema(
    [
        ("timestamp", TS_TYPE),
        ("product", pa.string()),
        ("price_usd_per_mw_h", pa.float64()),
        ("deployed_share", pa.float64()),
    ]
)
SCHEMAS = {
    "prices.parquet": pa.schema(
        [("timestamp", TS_TYPE), ("node", pa.string()), ("price_usd_per_mwh", pa.float64())]
    ),
    "hashprice.parquet": pa.schema(
        [("date", pa.date32()), ("hashprice_usd_per_ph_day", pa.float64())]
    ),
    "fuel.parquet": pa.schema(
        [("date", pa.date32()), ("hub", pa.string()), ("price_usd_per_mmbtu", pa.float64())]
    ),
    "events.parquet": pa.schema(
        [
            ("timestamp", TS_TYPE),
            ("node", pa.string()),
            ("stress", pa.bool_()),
            ("peak", pa.bool_()),
        ]
    ),
    "reserve_prices.parquet": RESERVE_SCHEMA,
    **{f"reserve_prices_{y}.parquet": RESERVE_SCHEMA for y in RESERVE_YEARS},
    "compute.parquet": pa.schema(
        [("date", pa.date32()), ("price_usd_per_gpu_hour", pa.float64())]
    ),
    "profiles.parquet": pa.schema(
        [("timestamp", TS_TYPE), ("profile", pa.string()), ("capacity_factor", pa.float64())]
    ),
}
PARQUET_OPTIONS = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
}


class RawDataMissingError(FileNotFoundError):
    """A raw input file of the sample build is absent."""


def default_raw_dir() -> Path:
    """Raw-data folder: ``$OPTIM_RAW_DIR`` or ``<repo>/../shared/data/raw``."""
    return paths.default_raw_dir()


def default_out_dir() -> Path:
    """``data/sample/generated`` of the checkout, else ``./optim-sample``."""
    return paths.default_sample_dir()


def _raw_path(raw_dir: Path, key: str) -> Path:
    """Path of one raw file, or a clear error naming it."""
    path = raw_dir / RAW_FILES[key]
    if not path.is_file():
        raise RawDataMissingError(
            f"raw file {RAW_FILES[key]!r} not found in {raw_dir} "
            "(set OPTIM_RAW_DIR or pass --raw to point at the raw-data folder)"
        )
    return path


# ---------------------------------------------------------------------------------
# Hour mapping shared by prices and events
# ---------------------------------------------------------------------------------


def horizon_hours() -> pd.DatetimeIndex:
    """Every UTC hour of the sample horizon, in order."""
    return pd.date_range(HORIZON_START, HORIZON_END, freq="h", inclusive="left", unit="us")


def _utc_values(ts: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """tz-aware timestamps as naive-UTC datetime64[us] (what pyarrow reads as UTC)."""
    index = pd.DatetimeIndex(ts).tz_convert("UTC").tz_localize(None)
    return index.to_numpy().astype("datetime64[us]")


def source_hour_index(
    hours: pd.DatetimeIndex,
    source_start: pd.Timestamp,
    n_source: int,
    source_year: int = PRICE_SOURCE_YEAR,
) -> np.ndarray:
    """Row of the source year replayed at each target hour.

    Each UTC target year ``Y`` is shifted back by the whole number of weeks
    closest to ``Y-01-01 - <source_year>-01-01`` (so weekdays and DST weekends
    line up) and wrapped modulo the source length. With a 365-day source, a
    365-day target year uses every source hour exactly once; 2028 (leap) uses
    the 24 source hours around the wrap point twice.
    """
    years = hours.year.to_numpy()
    first_days = pd.to_datetime({"year": years, "month": 1, "day": 1}).to_numpy()
    days = (first_days - np.datetime64(f"{source_year}-01-01")) // np.timedelta64(1, "D")
    shift_hours = (7 * np.rint(days / 7.0).astype(np.int64)) * 24
    src_start = np.datetime64(source_start.tz_convert("UTC").tz_localize(None), "us")
    rel = (_utc_values(hours) - src_start) // np.timedelta64(1, "h") - shift_hours
    return np.mod(rel, n_source).astype(np.int64)


def _source_year_prices(raw_dir: Path) -> pd.DataFrame:
    """ERCOT hub LMPs of local year 2023, one row per hour in UTC order."""
    cols = ["timestamp_utc", "timestamp_local", *NODES.values()]
    df = pd.read_parquet(_raw_path(raw_dir, "ercot"), columns=cols)
    df = df[df["timestamp_local"].dt.year == PRICE_SOURCE_YEAR]
    df = df.sort_values("timestamp_utc", kind="stable").reset_index(drop=True)
    step = df["timestamp_utc"].diff().dropna().unique()
    if len(df) != 8760 or len(step) != 1 or step[0] != pd.Timedelta(hours=1):
        raise ValueError(f"ERCOT {PRICE_SOURCE_YEAR} is not a gap-free 8,760-hour year")
    if df[list(NODES.values())].isna().any().any():
        raise ValueError(f"ERCOT {PRICE_SOURCE_YEAR} has missing hub prices")
    return df


def build_prices(raw_dir: Path) -> pa.Table:
    """Hourly prices of every node over the horizon (see source_hour_index)."""
    src = _source_year_prices(raw_dir)
    hours = horizon_hours()
    idx = source_hour_index(hours, src["timestamp_utc"].iloc[0], len(src))
    nodes = sorted(NODES)
    values = np.column_stack([src[NODES[n]].to_numpy(np.float64)[idx] for n in nodes])
    n_h, n_n = values.shape
    return pa.table(
        {
            "timestamp": np.repeat(_utc_values(hours), n_n),
            "node": np.tile(np.array(nodes, dtype=object), n_h),
            "price_usd_per_mwh": values.reshape(-1),
        },
        schema=SCHEMAS["prices.parquet"],
    )


# ---------------------------------------------------------------------------------
# Hashprice
# ---------------------------------------------------------------------------------


def horizon_dates() -> pd.DatetimeIndex:
    """Every UTC date of the horizon (naive, midnight)."""
    return pd.date_range(
        HORIZON_START.tz_localize(None),
        HORIZON_END.tz_localize(None),
        freq="D",
        inclusive="left",
        unit="s",
    )


def _miner_economics(raw_dir: Path) -> pd.DataFrame:
    """The 364 complete daily rows of the miner-economics file, checked gap-free."""
    df = pd.read_csv(_raw_path(raw_dir, "miner"), parse_dates=["date"])
    df = df.dropna(subset=["price_usd", "difficulty", "fees_btc"]).sort_values("date")
    df = df.reset_index(drop=True)
    if len(df) != NOISE_CYCLE_DAYS or (df["date"].diff().dropna() != pd.Timedelta(days=1)).any():
        raise ValueError("miner economics: expected 364 consecutive complete days")
    return df


def subsidy_btc(dates: pd.DatetimeIndex, raw_dir: Path) -> np.ndarray:
    """Block subsidy in force on each date, from the schedule file plus HALVING_2028."""
    sched = pd.read_csv(_raw_path(raw_dir, "subsidy"))
    starts = pd.to_datetime(sched["first_block_date_utc"]).to_numpy(copy=True)
    missing = np.isnat(starts)
    if missing.sum() > 1 or (missing.any() and not missing[-1]):
        raise ValueError("subsidy schedule: only the last epoch may lack a date")
    starts[missing] = HALVING_2028.to_datetime64()
    pos = np.searchsorted(starts, dates.to_numpy(), side="right") - 1
    if (pos < 0).any():
        raise ValueError("subsidy schedule does not cover the requested dates")
    return sched["block_subsidy_btc"].to_numpy(np.float64)[pos]


def hashrate_phs(dates: pd.DatetimeIndex, h0_phs: float) -> np.ndarray:
    """Projected network hashrate (PH/s): growth rate g0*exp(-t/T), t years from BASE_DATE."""
    t = (dates - BASE_DATE) / pd.Timedelta(days=365.25)
    g0, tau = HASHRATE_GROWTH_0, HASHRATE_GROWTH_DECAY_YEARS
    return h0_phs * np.exp(g0 * tau * (1.0 - np.exp(-np.asarray(t, dtype=np.float64) / tau)))


def build_hashprice(raw_dir: Path) -> pa.Table:
    """Daily hashprice (USD per PH/s per day) over the horizon.

    ``hp(d) = P0 * n(d') * (144 * subsidy(d) + fees_btc(d')) / H(d)`` with
    ``d'`` the real day replayed (weekday-aligned 364-day cycle), ``P0`` and
    ``H0`` the 7-day post-halving means, ``n`` the real BTC price's daily
    deviation from its centred 29-day mean and ``H`` the projected hashrate.
    """
    econ = _miner_economics(raw_dir)
    base = econ[(econ["date"] >= BASE_WINDOW[0]) & (econ["date"] <= BASE_WINDOW[1])]
    p0 = float(base["price_usd"].mean())
    h0 = float((base["difficulty"] * HASHES_PER_DIFFICULTY / 600.0 / 1e15).mean())
    price = econ["price_usd"].astype(np.float64)
    trend = price.rolling(PRICE_NOISE_WINDOW_DAYS, center=True, min_periods=1).mean()
    noise = (price / trend).to_numpy()
    fees = econ["fees_btc"].to_numpy(np.float64)

    dates = horizon_dates()
    src = ((dates - econ["date"].iloc[0]) // pd.Timedelta(days=1)).to_numpy() % NOISE_CYCLE_DAYS
    btc_per_day = BLOCKS_PER_DAY * subsidy_btc(dates, raw_dir) + fees[src]
    hp = p0 * noise[src] * btc_per_day / hashrate_phs(dates, h0)
    if not (np.isfinite(hp).all() and (hp > 0).all()):
        raise ValueError("hashprice projection produced a non-positive or NaN value")
    return pa.table(
        {"date": dates.date, "hashprice_usd_per_ph_day": np.round(hp, 4)},
        schema=SCHEMAS["hashprice.parquet"],
    )


def build_compute() -> pa.Table:
    """Daily GPU-hour price: start * (1 + drift) ** (years since the horizon start)."""
    dates = horizon_dates()
    years = ((dates - dates[0]) / pd.Timedelta(days=365.25)).to_numpy(np.float64)
    price = GPU_PRICE_START_USD_PER_HOUR * (1.0 + GPU_PRICE_DRIFT_PER_YEAR) ** years
    return pa.table({"date": dates.date, "price_usd_per_gpu_hour": np.round(price, 4)},
                    schema=SCHEMAS["compute.parquet"])


def build_profiles() -> pa.Table:
    """Corsicana's tenant load: TENANT_LOAD[0] until the ramp starts, linear to
    TENANT_LOAD[1] over the ramp, flat after."""
    hours = horizon_hours()
    start, end = TENANT_RAMP
    share = ((hours - start) / (end - start)).to_numpy(np.float64).clip(0.0, 1.0)
    load = TENANT_LOAD[0] + (TENANT_LOAD[1] - TENANT_LOAD[0]) * share
    return pa.table({"timestamp": _utc_values(hours), "profile": [TENANT_PROFILE] * len(hours),
                     "capacity_factor": np.round(load, 6)}, schema=SCHEMAS["profiles.parquet"])


# ---------------------------------------------------------------------------------
# Fuel
# ---------------------------------------------------------------------------------


def build_fuel(raw_dir: Path) -> pa.Table:
    """Daily Henry Hub price: calendar 2023 replayed by calendar day (Feb 29 -> Feb 28)."""
    gas = pd.read_csv(_raw_path(raw_dir, "gas"), parse_dates=["date"])
    gas = gas.set_index("date")["henry_hub_spot_usd_per_mmbtu"].sort_index()
    days = pd.date_range(gas.index.min(), f"{GAS_SOURCE_YEAR}-12-31", freq="D")
    filled = gas.reindex(days).ffill()
    year = filled[filled.index.year == GAS_SOURCE_YEAR]
    if len(year) != 365 or year.isna().any():
        raise ValueError(f"Henry Hub {GAS_SOURCE_YEAR}: cannot fill every day")

    dates = horizon_dates()
    month, day = dates.month.to_numpy(), dates.day.to_numpy()
    day = np.where((month == 2) & (day == 29), 28, day)
    src = pd.to_datetime({"year": np.full(len(dates), GAS_SOURCE_YEAR), "month": month, "day": day})
    values = year.reindex(src.to_numpy()).to_numpy(np.float64)
    return pa.table(
        {
            "date": dates.date,
            "hub": np.full(len(dates), GAS_HUB, dtype=object),
            "price_usd_per_mmbtu": values,
        },
        schema=SCHEMAS["fuel.parquet"],
    )


# ---------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------


def clean_demand(series: pd.Series) -> pd.Series:
    """SOURCES.md rule: drop <= 0 or > 15 % off the centred 7-hour median, interpolate."""
    med = series.rolling(DEMAND_MEDIAN_HOURS, center=True, min_periods=1).median()
    bad = (series <= 0) | ((series - med).abs() > DEMAND_MAX_DEVIATION * med)
    return series.mask(bad).interpolate(method="linear", limit_direction="both")


def event_flags(raw_dir: Path, price_source_start: pd.Timestamp) -> pd.DataFrame:
    """Every horizon hour with its ``stress`` and ``peak`` flags (replayed ERCO demand)."""
    dem = pd.read_parquet(_raw_path(raw_dir, "demand"), filters=[("ba", "==", DEMAND_BA)])
    series = clean_demand(dem.set_index("timestamp_utc")["demand_mw"].sort_index())
    window = pd.date_range(price_source_start, periods=8760, freq="h", unit="us")
    src = series.reindex(window).to_numpy(np.float64)
    if np.isnan(src).any():
        raise ValueError(f"ERCO demand missing in the {PRICE_SOURCE_YEAR} source window")

    hours = horizon_hours()
    frame = pd.DataFrame(
        {
            "timestamp": hours,
            "demand": src[source_hour_index(hours, price_source_start, len(src))],
            "year": hours.year,
            "local_year": hours.tz_convert(LOCAL_TZ).year,
            "local_month": hours.tz_convert(LOCAL_TZ).month,
        }
    )
    # sort once: highest demand first, ties by earlier hour (frame is in time order)
    ranked = frame.sort_values("demand", ascending=False, kind="stable")
    summer = ranked[ranked["local_month"].isin(CP_MONTHS)]
    peak_ts = summer.groupby(["local_year", "local_month"], sort=True).head(1)["timestamp"]
    stress_ts = ranked.groupby("year", sort=True).head(STRESS_HOURS_PER_YEAR)["timestamp"]

    flags = pd.DataFrame({"timestamp": hours})
    flags["stress"] = flags["timestamp"].isin(stress_ts)
    flags["peak"] = flags["timestamp"].isin(peak_ts)
    return flags


def build_events(raw_dir: Path, price_source_start: pd.Timestamp) -> pa.Table:
    """4CP ``peak`` and top-demand ``stress`` hours of the replayed ERCO demand."""
    flags = event_flags(raw_dir, price_source_start)
    flags = flags[flags["stress"] | flags["peak"]]
    nodes = sorted(NODES)
    n_f = len(flags)
    return pa.table(
        {
            "timestamp": np.repeat(_utc_values(flags["timestamp"]), len(nodes)),
            "node": np.tile(np.array(nodes, dtype=object), n_f),
            "stress": np.repeat(flags["stress"].to_numpy(), len(nodes)),
            "peak": np.repeat(flags["peak"].to_numpy(), len(nodes)),
        },
        schema=SCHEMAS["events.parquet"],
    )


# ---------------------------------------------------------------------------------
# Reserve prices
# ---------------------------------------------------------------------------------


def reserve_source_window(year: int) -> pd.DatetimeIndex:
    """UTC hour starts of ERCOT operating (local Central) year ``year``."""
    start = pd.Timestamp(f"{year}-01-01", tz=LOCAL_TZ).tz_convert("UTC")
    end = pd.Timestamp(f"{year + 1}-01-01", tz=LOCAL_TZ).tz_convert("UTC")
    return pd.date_range(start, end, freq="h", inclusive="left", unit="us")


def source_reserve_prices(raw_dir: Path, year: int) -> pd.DataFrame:
    """ERCOT DAM capacity prices of local year ``year``: hours x RESERVE_PRODUCTS.

    A product that did not clear in an hour (ECRS before its launch on
    2023-06-10) is NaN here; other gaps are an error.
    """
    if year not in RESERVE_YEARS:
        raise ValueError(f"reserve year must be one of {RESERVE_YEARS}, not {year}")
    raw = pd.read_parquet(
        _raw_path(raw_dir, "reserves"), filters=[("product", "in", list(RESERVE_PRODUCTS))]
    )
    wide = raw.pivot(index="timestamp_utc", columns="product", values="price_usd_per_mw_h")
    window = reserve_source_window(year)
    wide.index = pd.DatetimeIndex(wide.index).as_unit("us")
    wide = wide.reindex(index=window, columns=list(RESERVE_PRODUCTS))
    present = wide.notna()
    # a product may start late (launch) but never have holes once it has started
    started = present.cummax()
    if (started & ~present).any().any() or not present.iloc[-1].all():
        raise ValueError(f"ERCOT AS prices {year}: hours missing after a product's start")
    return wide


def build_reserve_prices(
    raw_dir: Path, stress: pd.Series, year: int = RESERVE_YEAR_DEFAULT
) -> pa.Table:
    """Hourly reserve prices and deployed shares over the horizon.

    RESERVE_PRODUCTS replay ERCOT local year ``year`` by ``source_hour_index``
    (a product absent in the source hour, i.e. ECRS before 2023-06-10, is 0:
    nothing could be sold); ERS is the constant ERS_PRICE_USD_PER_MW_H.
    ``deployed_share`` is 1 for DEPLOYED_PRODUCTS in the ``stress`` hours
    (a bool per horizon hour), else 0.
    """
    src = source_reserve_prices(raw_dir, year)
    hours = horizon_hours()
    if len(stress) != len(hours):
        raise ValueError("stress flags must cover every horizon hour")
    idx = source_hour_index(hours, src.index[0], len(src), source_year=year)
    products = sorted((*RESERVE_PRODUCTS, ERS_PRODUCT))
    replayed = src.to_numpy(np.float64)[idx]
    prices = np.column_stack(
        [
            np.full(len(hours), ERS_PRICE_USD_PER_MW_H)
            if p == ERS_PRODUCT
            else np.nan_to_num(replayed[:, RESERVE_PRODUCTS.index(p)], nan=0.0)
            for p in products
        ]
    )
    deployed = np.isin(products, DEPLOYED_PRODUCTS)
    shares = np.outer(np.asarray(stress, dtype=bool), deployed).astype(np.float64)
    n_h, n_p = prices.shape
    return pa.table(
        {
            "timestamp": np.repeat(_utc_values(hours), n_p),
            "product": np.tile(np.array(products, dtype=object), n_h),
            "price_usd_per_mw_h": prices.reshape(-1),
            "deployed_share": shares.reshape(-1),
        },
        schema=RESERVE_SCHEMA,
    )


# ---------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------


def write_parquet_atomic(table: pa.Table, path: Path) -> Path:
    """Write ``table`` to a temp file beside ``path``, then os.replace it into place."""
    expected = SCHEMAS[path.name]
    if not table.schema.equals(expected):
        raise ValueError(f"{path.name}: schema {table.schema} != {expected}")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table.replace_schema_metadata(None), tmp, **PARQUET_OPTIONS)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


SAMPLE_FILES = frozenset({"prices.parquet", "hashprice.parquet", "fuel.parquet",
                          "events.parquet", "reserve_prices.parquet", "compute.parquet",
                          "profiles.parquet",
                          *(f"reserve_prices_{y}.parquet" for y in RESERVE_YEARS),
                          "scenario.toml"})


def output_names() -> list[str]:
    """The files `build_sample` writes (what `optim sample --if-missing` looks for)."""
    return ["prices.parquet", "hashprice.parquet", "fuel.parquet", "events.parquet",
            "reserve_prices.parquet", *[f"reserve_prices_{y}.parquet" for y in RESERVE_YEARS],
            "compute.parquet", "profiles.parquet"]


def sample_scenario(series_beside: bool = True) -> str:
    """The bundled sample scenario; with `series_beside` its [data] paths name files in
    its own folder (`prices.parquet`), as `optim sample --out DIR` writes them."""
    text = paths.sample_scenario_text()
    if not series_beside:
        return text
    text = re.sub(r'^(\w+\s*=\s*")generated/', r"\1", text, flags=re.MULTILINE)
    text = text.replace("# Build the time series first:  python data/build_sample.py   "
                        "(writes ./generated/)",
                        "# Written by `optim sample`, with its series beside it; copy and edit.")
    return text.replace("# relative to this file; built by data/build_sample.py",
                        "# relative to this file; built by optim sample")


def build_sample(
    raw_dir: Path, out_dir: Path, reserve_year: int = RESERVE_YEAR_DEFAULT,
    force: bool = False, scenario: bool = False,
) -> list[Path]:
    """Read the raw files in ``raw_dir`` and write the sample's Parquet inputs to ``out_dir``.

    Returns the written paths: prices, hashprice, fuel, events, reserve_prices
    (replaying ``reserve_year``), then reserve_prices_<year> for every year of
    RESERVE_YEARS, compute and profiles (assumptions), then (with ``scenario``)
    scenario.toml, the sample scenario reading them (an existing one, maybe edited, is
    kept). Every raw file is checked first, so a missing one fails before anything is
    written. ``out_dir`` follows the output rule of `optim.outdir` (new or optim's own
    sample folder, else OutputError unless ``force``);
    the files are staged and moved into place together.
    """
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    if reserve_year not in RESERVE_YEARS:
        raise ValueError(f"reserve year must be one of {RESERVE_YEARS}, not {reserve_year}")
    for key in RAW_FILES:
        _raw_path(raw_dir, key)
    names = [*output_names(), *(["scenario.toml"] if scenario else [])]
    with outdir.writing(out_dir, "sample", SAMPLE_FILES, force) as stage:
        src_start = _source_year_prices(raw_dir)["timestamp_utc"].iloc[0]
        stress = event_flags(raw_dir, src_start)["stress"]
        reserves = {y: build_reserve_prices(raw_dir, stress, y) for y in RESERVE_YEARS}
        builders: dict[str, Callable[[], pa.Table]] = {
            "prices.parquet": lambda: build_prices(raw_dir),
            "hashprice.parquet": lambda: build_hashprice(raw_dir),
            "fuel.parquet": lambda: build_fuel(raw_dir),
            "events.parquet": lambda: build_events(raw_dir, src_start),
            "reserve_prices.parquet": lambda: reserves[reserve_year],
            **{f"reserve_prices_{y}.parquet": (lambda y=y: reserves[y]) for y in RESERVE_YEARS},
            "compute.parquet": build_compute,
            "profiles.parquet": build_profiles,
        }
        for name, build in builders.items():
            write_parquet_atomic(build(), stage / name)
        if scenario:
            kept = out_dir / "scenario.toml"
            if kept.is_file():
                shutil.copy2(kept, stage / "scenario.toml")
            else:
                (stage / "scenario.toml").write_text(sample_scenario(), encoding="utf-8")
    return [out_dir / name for name in names]
