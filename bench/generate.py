"""Generate a realistic benchmark portfolio: N sites x M months from 2027-01.

``generate(n_sites, months, out_dir, raw_dir)`` writes ``scenario.toml`` (MODEL.md §6) and
its Parquet series (prices, hashprice, fuel, events) into ``out_dir`` and returns the
scenario's path. The same arguments give byte-identical files. Every rule is below.

Prices (11 real nodes)
    ERCOT real-time hub LMPs of local year 2023 (7 hubs), CAISO zone LMPs of local year
    2021 (3 zones; its single missing hour, 2021-12-02 18:00Z, is interpolated linearly)
    and PJM RTO of local year 2024. Each local year is a gap-free run of hours starting
    at ``t0`` (e.g. 2023-01-01 06:00Z for ERCOT); it becomes a *complete UTC calendar year*
    by wrapping: UTC hour ``h`` of year ``Y = t0.year`` takes row ``(h - offset) mod N``,
    so the first hours of 1 January (before the local year starts) take the same UTC hours
    of 1 January ``Y+1``, the end of the local year. A leap source year (PJM 2024) drops
    29 February. The result is a 365-day template indexed by (month, day, UTC hour).
    Replay: every horizon hour takes the template value of its UTC month, day and hour;
    29 February repeats 28 February. Calendar days line up, weekdays do not (the UTC
    hour of day is kept, so the local hour of day is kept except across the few days
    where DST dates differ between the source and the target year).
Hashprice
    The sample's projection (optim/sample.py, data/README.md): a flat BTC price at the
    post-2024-halving level, the real 2023-24 fees and price noise replayed on a 364-day
    cycle, a hashrate growing at 25 %/year decaying with a 1.5-year time constant, and the
    halving on 2028-04-15. Yearly means: 2027 41.5, 2028 28.5, 2029 23.3, 2030-31 ~23
    USD/PH/day.
Fuel
    Henry Hub spot of calendar 2023 (weekends and holidays forward-filled) replayed by
    calendar day; 29 February repeats 28 February. One hub, ``henry_hub``.
Events (every node used)
    ``stress``: the 40 highest-price hours of each UTC calendar year of the node's replayed
    series within the horizon (ties: the earlier hour; a partial year still gets 40).
    ``peak`` (4CP style): in each horizon year, the hour of highest replayed system
    demand in each local calendar month June-September, with the demand of the node's
    balancing authority (EIA-930 ERCO 2023, CISO 2021, PJM 2024, UTC calendar years,
    cleaned with the SOURCES.md rule, replayed with the same calendar rule as the prices).
    All nodes of one ISO share their peak hours. Peak flags only cost money at sites with
    a cp charge (the ERCOT sites).
Sites (deterministic from ``seed``; site ``i`` draws from its own generator, so the first
    sites of a bigger portfolio are those of a smaller one)
    * Fixed-price (asset-light) sites are those with ``i % 20 == 1`` (one site up to 21
      sites, two up to 41); the others take the 11 nodes round-robin in the order of
      NODE_ORDER, which alternates ISOs.
    * Among the node sites (``j`` their index): hosting at ``j % 3 == 0``, AI halls at
      ``j % 3 == 1``, gas generation at ``j % 4 == 2`` (with export), a power hedge at
      ``j % 5 == 3``, a 4CP charge at every ERCOT site. A portfolio too small to reach an
      option by this pattern gets it at node site 0, so every option is present at some
      site (a one-site portfolio has no fixed-price site).
    * Ranges: size 30-300 MW (fixed-price sites 30-120), firm import 30-60 % of it (at AI
      sites at least the halls' full draw), an existing fleet of 40-75 % of the size
      (mostly S19XP), new ASICs up to 20-40 % of the size in 5 MW blocks; hosting 15-30 %
      of the size at $65-75/MWh; AI halls of 10 or 20 MW IT, 2-4 halls, $8.0-10.5M per MW
      IT, lead 12-24 months, leases $120-160/kW-month, PUE 1.3, pass-through; half have
      a hall under construction (online after 4-12 months); a signed lease (that hall
      plus 1-2 more, ready 0-6 months after the lead time, LDs $100-150k/MW-month) is
      drawn at half of the sites and given to every site without a hall under
      construction; gas 2-8 recip units of 10 MW (half with 0-2 existing), export 10-25 %
      of the size; hedges of 20-40 % of the size near the
      node's mean price; 4CP $55-70k/MW-year.
Scenario
    Two ASIC models (S21XP new, S19XP secondary market) and one gas recip technology as in
    the sample; discount 10 %, pool fee 2 %, 5 MW blocks, ``mip_gap = 0.005``,
    ``time_limit_s = 300``, ``stress_hours_per_year = 0`` (the events carry the stress).
Capex budget
    One entry per horizon year: 65 % of the portfolio's *potential* cash capex in year
    one, 25 % later. Potential: every new ASIC as S21XP, every new gas unit and, with a
    horizon of 48 months or more, the halls the signed leases need. Unconstrained, the
    first year buys about that (new ASICs pay only before the 2028 halving; halls only
    with enough leased months after their lead time), so the first-year budget binds
    moderately (first-year spend unconstrained -> with the budget, measured with seed 0:
    5x12 283 -> 215 M$, 10x36 478 -> 433 M$, 10x60 925 -> 792 M$); later years rarely
    bind.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from optim import sample  # noqa: E402

START = pd.Timestamp("2027-01-01", tz="UTC")
START_MONTH = "2027-01"

# --- price sources ----------------------------------------------------------------------
# iso -> (raw file, local zone, local source year, {node: column}, demand BA)
ISOS = {
    "ERCOT": ("ercot_rt_lmp_hubs_hourly_2020_2024.parquet", "America/Chicago", 2023,
              {"HB_BUSAVG": "hb_busavg_lmp", "HB_HOUSTON": "hb_houston_lmp",
               "HB_HUBAVG": "hb_hubavg_lmp", "HB_NORTH": "hb_north_lmp",
               "HB_PAN": "hb_pan_lmp", "HB_SOUTH": "hb_south_lmp", "HB_WEST": "hb_west_lmp"},
              "ERCO"),
    "CAISO": ("caiso_rt_lmp_zones_hourly_2020_2024.parquet", "America/Los_Angeles", 2021,
              {"NP15": "np15_lmp", "SP15": "sp15_lmp", "ZP26": "zp26_lmp"}, "CISO"),
    "PJM": ("pjm_rto_rt_lmp_hourly_2024.parquet", "America/New_York", 2024,
            {"PJM_RTO": "total_lmp_rt"}, "PJM"),
}
NODE_ISO = {node: iso for iso, spec in ISOS.items() for node in spec[3]}
# round-robin order: alternates ISOs, so small portfolios span all three markets
NODE_ORDER = ["HB_NORTH", "NP15", "HB_WEST", "PJM_RTO", "HB_PAN", "SP15", "HB_SOUTH",
              "HB_HOUSTON", "ZP26", "HB_HUBAVG", "HB_BUSAVG"]
RAW_FILES = sorted({spec[0] for spec in ISOS.values()} | set(sample.RAW_FILES.values()))

STRESS_HOURS_PER_YEAR = 40
CP_MONTHS = (6, 7, 8, 9)
MONTH_START_DOY = np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])  # non-leap
FIXED_PRICE_EVERY, FIXED_PRICE_AT = 20, 1

BLOCK_MW = 5.0
ASICS = [
    {"name": "S21XP", "efficiency_j_per_th": 13.5, "price_usd_per_th": 15.0,
     "life_months": 48, "uptime": 0.97, "delivery_months": 2},
    {"name": "S19XP", "efficiency_j_per_th": 21.5, "price_usd_per_th": 6.0,
     "life_months": 36, "uptime": 0.95, "delivery_months": 1},
]
GAS = {"name": "gas_recip", "unit_mw": 10.0, "capex_usd_per_mw": 1_300_000,
       "heat_rate_mmbtu_per_mwh": 8.8, "vom_usd_per_mwh": 7.0, "fom_usd_per_mw_month": 1_500,
       "lead_time_months": 12, "life_months": 240, "fuel_hub": sample.GAS_HUB,
       "availability": 0.95}
BUDGET_SHARE_FIRST, BUDGET_SHARE_LATER = 0.65, 0.25
HALLS_FROM_MONTHS = 48


class RawDataMissingError(FileNotFoundError):
    """A raw file the generator needs is absent."""


def check_raw(raw_dir: Path) -> None:
    """Raise RawDataMissingError naming the first absent raw file."""
    for name in RAW_FILES:
        if not (Path(raw_dir) / name).is_file():
            raise RawDataMissingError(f"raw file {name!r} not found in {raw_dir}")


# -----------------------------------------------------------------------------------------
# Calendar replay
# -----------------------------------------------------------------------------------------


def horizon_hours(months: int) -> pd.DatetimeIndex:
    end = START + pd.DateOffset(months=months)
    return pd.date_range(START, end, freq="h", inclusive="left", unit="us")


def horizon_dates(months: int) -> pd.DatetimeIndex:
    end = (START + pd.DateOffset(months=months)).tz_localize(None)
    return pd.date_range(START.tz_localize(None), end, freq="D", inclusive="left", unit="s")


def template_index(hours: pd.DatetimeIndex) -> np.ndarray:
    """Row of the 8,760-hour template for each hour: (non-leap day of year) * 24 + UTC hour;
    29 February maps to 28 February."""
    month, day = hours.month.to_numpy(), hours.day.to_numpy()
    day = np.where((month == 2) & (day == 29), 28, day)
    return (MONTH_START_DOY[month - 1] + day - 1) * 24 + hours.hour.to_numpy()


def _utc_year_template(values: np.ndarray, t0: pd.Timestamp) -> np.ndarray:
    """A gap-free run of hours from ``t0`` (one local year) -> a 365-day UTC year template.

    UTC hour ``h`` of year ``t0.year`` takes row ``(h - offset) mod N``; a leap year drops
    29 February.
    """
    year = t0.year
    utc = pd.date_range(pd.Timestamp(f"{year}-01-01", tz="UTC"),
                        pd.Timestamp(f"{year + 1}-01-01", tz="UTC"), freq="h", inclusive="left")
    if len(utc) != len(values):
        raise ValueError(f"source year {year}: {len(values)} hours, expected {len(utc)}")
    offset = int((t0 - utc[0]) / pd.Timedelta(hours=1))
    full = values[np.mod(np.arange(len(utc)) - offset, len(values))]
    keep = ~((utc.month == 2) & (utc.day == 29))
    return full[keep]


def price_templates(raw_dir: Path) -> dict[str, np.ndarray]:
    """node -> 8,760 hourly prices (USD/MWh) of its source year as a UTC template."""
    out: dict[str, np.ndarray] = {}
    for file, tz, year, columns, _ba in ISOS.values():
        df = pd.read_parquet(Path(raw_dir) / file, columns=["timestamp_utc", "timestamp_local",
                                                            *columns.values()])
        df = df[df["timestamp_local"].dt.year == year].sort_values("timestamp_utc")
        df = df.set_index("timestamp_utc")[list(columns.values())]
        if df.index.has_duplicates:
            raise ValueError(f"{file}: duplicated hours in {year}")
        t0 = pd.Timestamp(f"{year}-01-01", tz=tz).tz_convert("UTC")
        t1 = pd.Timestamp(f"{year + 1}-01-01", tz=tz).tz_convert("UTC")
        full = pd.date_range(t0, t1, freq="h", inclusive="left", unit="us")
        df = df.reindex(full)
        missing = int(df.isna().any(axis=1).sum())
        if missing > 3:  # CAISO 2021 lacks one hour; anything more is not the expected data
            raise ValueError(f"{file}: {missing} hours missing in local year {year}")
        df = df.interpolate(method="linear", limit_direction="both")
        for node, col in columns.items():
            out[node] = _utc_year_template(df[col].to_numpy(np.float64), t0)
    return out


def demand_templates(raw_dir: Path) -> dict[str, np.ndarray]:
    """iso -> 8,760 hourly demand (MW) of its BA in the price source's UTC year."""
    bas = {spec[4]: (iso, spec[2]) for iso, spec in ISOS.items()}
    dem = pd.read_parquet(Path(raw_dir) / sample.RAW_FILES["demand"],
                          filters=[("ba", "in", sorted(bas))])
    out: dict[str, np.ndarray] = {}
    for ba, (iso, year) in bas.items():
        series = dem[dem["ba"] == ba].set_index("timestamp_utc")["demand_mw"].sort_index()
        series = sample.clean_demand(series)
        hours = pd.date_range(pd.Timestamp(f"{year}-01-01", tz="UTC"),
                              pd.Timestamp(f"{year + 1}-01-01", tz="UTC"), freq="h",
                              inclusive="left", unit="us")
        values = series.reindex(hours).to_numpy(np.float64)
        if np.isnan(values).any():
            raise ValueError(f"EIA-930 {ba} {year}: demand missing")
        out[iso] = _utc_year_template(values, hours[0])
    return out


# -----------------------------------------------------------------------------------------
# Series
# -----------------------------------------------------------------------------------------


def build_prices(templates: dict[str, np.ndarray], nodes: list[str],
                 hours: pd.DatetimeIndex) -> pa.Table:
    idx = template_index(hours)
    values = np.column_stack([templates[n][idx] for n in nodes])
    n_h, n_n = values.shape
    return pa.table({"timestamp": np.repeat(sample._utc_values(hours), n_n),
                     "node": np.tile(np.array(nodes, dtype=object), n_h),
                     "price_usd_per_mwh": np.round(values.reshape(-1), 6)},
                    schema=sample.SCHEMAS["prices.parquet"])


def hashprice_path(dates: pd.DatetimeIndex, raw_dir: Path) -> np.ndarray:
    """The sample's hashprice projection (optim/sample.py build_hashprice) on any dates."""
    econ = sample._miner_economics(raw_dir)
    base = econ[(econ["date"] >= sample.BASE_WINDOW[0]) & (econ["date"] <= sample.BASE_WINDOW[1])]
    p0 = float(base["price_usd"].mean())
    h0 = float((base["difficulty"] * sample.HASHES_PER_DIFFICULTY / 600.0 / 1e15).mean())
    price = econ["price_usd"].astype(np.float64)
    trend = price.rolling(sample.PRICE_NOISE_WINDOW_DAYS, center=True, min_periods=1).mean()
    noise = (price / trend).to_numpy()
    fees = econ["fees_btc"].to_numpy(np.float64)
    src = ((dates - econ["date"].iloc[0]) // pd.Timedelta(days=1)).to_numpy()
    src = src % sample.NOISE_CYCLE_DAYS
    btc_per_day = sample.BLOCKS_PER_DAY * sample.subsidy_btc(dates, raw_dir) + fees[src]
    hp = p0 * noise[src] * btc_per_day / sample.hashrate_phs(dates, h0)
    if not (np.isfinite(hp).all() and (hp > 0).all()):
        raise ValueError("hashprice projection produced a non-positive or NaN value")
    return np.round(hp, 4)


def build_hashprice(dates: pd.DatetimeIndex, raw_dir: Path) -> pa.Table:
    values = hashprice_path(dates, raw_dir)
    return pa.table({"date": dates.date, "hashprice_usd_per_ph_day": values},
                    schema=sample.SCHEMAS["hashprice.parquet"])


def build_fuel(dates: pd.DatetimeIndex, raw_dir: Path) -> pa.Table:
    """Henry Hub 2023 by calendar day (weekends/holidays forward-filled; Feb 29 -> Feb 28)."""
    gas = pd.read_csv(Path(raw_dir) / sample.RAW_FILES["gas"], parse_dates=["date"])
    gas = gas.set_index("date")["henry_hub_spot_usd_per_mmbtu"].sort_index()
    year = sample.GAS_SOURCE_YEAR
    days = pd.date_range(gas.index.min(), f"{year}-12-31", freq="D")
    filled = gas.reindex(days).ffill()
    filled = filled[filled.index.year == year].to_numpy(np.float64)
    if len(filled) != 365 or np.isnan(filled).any():
        raise ValueError(f"Henry Hub {year}: cannot fill every day")
    month, day = dates.month.to_numpy(), dates.day.to_numpy()
    day = np.where((month == 2) & (day == 29), 28, day)
    values = filled[MONTH_START_DOY[month - 1] + day - 1]
    return pa.table({"date": dates.date, "hub": np.full(len(dates), sample.GAS_HUB, dtype=object),
                     "price_usd_per_mmbtu": values}, schema=sample.SCHEMAS["fuel.parquet"])


def build_events(prices: dict[str, np.ndarray], demand: dict[str, np.ndarray],
                 nodes: list[str], hours: pd.DatetimeIndex) -> pa.Table:
    """Stress (top-40 price hours per UTC year and node) and 4CP peak flags per node."""
    idx = template_index(hours)
    year = hours.year.to_numpy()
    n = len(hours)
    peaks: dict[str, np.ndarray] = {}
    for iso in sorted({NODE_ISO[node] for node in nodes}):
        local = hours.tz_convert(ISOS[iso][1])
        frame = pd.DataFrame({"pos": np.arange(n), "value": demand[iso][idx],
                              "year": local.year, "month": local.month})
        frame = frame[frame["month"].isin(CP_MONTHS)]
        ranked = frame.sort_values("value", ascending=False, kind="stable")
        flag = np.zeros(n, bool)
        flag[ranked.groupby(["year", "month"], sort=True).head(1)["pos"].to_numpy()] = True
        peaks[iso] = flag
    parts = []
    for node in nodes:
        frame = pd.DataFrame({"pos": np.arange(n), "value": prices[node][idx], "year": year})
        ranked = frame.sort_values("value", ascending=False, kind="stable")
        stress = np.zeros(n, bool)
        stress[ranked.groupby("year", sort=True).head(STRESS_HOURS_PER_YEAR)["pos"].to_numpy()] \
            = True
        peak = peaks[NODE_ISO[node]]
        rows = np.flatnonzero(stress | peak)
        parts.append(pd.DataFrame({"pos": rows, "node": node, "stress": stress[rows],
                                   "peak": peak[rows]}))
    flags = pd.concat(parts, ignore_index=True).sort_values(["pos", "node"], kind="stable")
    return pa.table({"timestamp": sample._utc_values(hours[flags["pos"].to_numpy()]),
                     "node": flags["node"].to_numpy(object),
                     "stress": flags["stress"].to_numpy(), "peak": flags["peak"].to_numpy()},
                    schema=sample.SCHEMAS["events.parquet"])


# -----------------------------------------------------------------------------------------
# Sites
# -----------------------------------------------------------------------------------------


def _r5(x: float) -> float:
    return float(5 * round(x / 5))


def _month_after(months: int) -> str:
    return (START + pd.DateOffset(months=int(months))).strftime("%Y-%m")


def _draw_site(seed: int, i: int) -> dict:
    """Every parameter of site ``i`` (options included or not): a fixed sequence of draws."""
    rng = np.random.default_rng([seed, i])
    u = rng.uniform
    d: dict = {}
    d["size"] = _r5(u(30, 300))
    d["size_fixed"] = _r5(u(30, 120))
    d["firm_share"] = u(0.3, 0.6)
    d["fleet_share"] = u(0.4, 0.75)
    d["s19_share"] = u(0.5, 1.0)
    d["new_share"] = u(0.2, 0.4)
    d["adder"] = round(u(3, 6) * 2) / 2
    d["cp"] = round(u(55_000, 70_000), -3)
    d["fixed_price"] = round(u(55, 75) * 2) / 2
    d["host_share"] = u(0.15, 0.3)
    d["host_rate"] = round(u(65, 75) * 2) / 2
    d["host_curtail"] = round(u(0.05, 0.10), 2)
    d["ai_max_halls"] = int(rng.integers(2, 5))
    d["ai_capex"] = round(u(8.0, 10.5), 1) * 1e6
    d["ai_lead"] = int(rng.integers(12, 25))
    d["ai_lease"] = float(round(u(120, 160)))
    d["ai_uc"] = bool(u() < 0.5)
    d["ai_uc_month"] = int(rng.integers(4, 13))
    d["ai_signed"] = bool(u() < 0.5)
    d["ai_signed_halls"] = int(rng.integers(1, 3))
    d["ai_signed_slack"] = int(rng.integers(0, 7))
    d["ai_ld"] = round(u(100_000, 150_000), -4)
    d["gas_max"] = int(rng.integers(2, 9))
    d["gas_existing"] = int(rng.integers(0, 3)) if u() < 0.5 else 0
    d["export_share"] = u(0.10, 0.25)
    d["ppa_share"] = u(0.2, 0.4)
    d["ppa_offset"] = u(-5, 5)
    return d


def _options(n_sites: int) -> list[dict]:
    """Which sites are fixed-price, their nodes, and which options each node site has."""
    plan = []
    j = 0
    for i in range(n_sites):
        if n_sites > 1 and i % FIXED_PRICE_EVERY == FIXED_PRICE_AT:
            plan.append({"fixed": True})
            continue
        plan.append({"fixed": False, "node": NODE_ORDER[j % len(NODE_ORDER)],
                     "hosting": j % 3 == 0, "ai": j % 3 == 1, "gas": j % 4 == 2,
                     "hedge": j % 5 == 3})
        j += 1
    node_sites = [p for p in plan if not p["fixed"]]
    for option in ("hosting", "ai", "gas", "hedge"):
        if not any(p[option] for p in node_sites):
            node_sites[0][option] = True
    return plan


def build_sites(n_sites: int, seed: int, mean_price: dict[str, float]) -> list[dict]:
    """The [[site]] tables (plain dicts in TOML key order)."""
    sites = []
    for i, opt in enumerate(_options(n_sites)):
        d = _draw_site(seed, i)
        site: dict = {"name": f"site_{i:03d}"}
        size = d["size_fixed"] if opt["fixed"] else d["size"]
        fleet = _r5(size * d["fleet_share"])
        s19 = _r5(fleet * d["s19_share"])
        existing = [{"asic": "S19XP", "mw": s19}]
        if fleet - s19 > 0:
            existing.append({"asic": "S21XP", "mw": fleet - s19})
        new_mw = max(BLOCK_MW, _r5(size * d["new_share"]))
        if opt["fixed"]:
            site.update(fixed_price_usd_per_mwh=d["fixed_price"], firm_import_mw=size,
                        mining_infra_mw=size, max_new_asic_mw=new_mw, existing_fleet=existing)
            sites.append(site)
            continue
        node = opt["node"]
        ercot = NODE_ISO[node] == "ERCOT"
        firm = _r5(size * d["firm_share"])
        hall_mw = 10.0 if size < 120 else 20.0
        pue = 1.3
        max_halls = max(1, min(d["ai_max_halls"], int(size // (pue * hall_mw))))
        if opt["ai"]:
            firm = max(firm, 5.0 * math.ceil(pue * hall_mw * max_halls / 5))
        site.update(node=node, firm_import_mw=firm, flex_import_mw=max(0.0, size - firm))
        if opt["gas"]:
            site["export_mw"] = _r5(size * d["export_share"])
        site["energy_adder_usd_per_mwh"] = 4.0 if ercot else d["adder"]
        if opt["hedge"]:
            site["ppa_mw"] = _r5(size * d["ppa_share"])
            site["ppa_price_usd_per_mwh"] = round((mean_price[node] + d["ppa_offset"]) * 2) / 2
        site.update(mining_infra_mw=size, max_new_asic_mw=new_mw, existing_fleet=existing)
        if opt["hosting"]:
            site["hosting"] = {"max_mw": _r5(size * d["host_share"]),
                               "rate_usd_per_mwh": d["host_rate"], "contract_months": 12,
                               "max_curtail_share": d["host_curtail"]}
        if ercot:
            site["cp_charge_usd_per_mw_year"] = d["cp"]
        if opt["gas"]:
            site["generation"] = [{"technology": GAS["name"], "max_units": d["gas_max"],
                                   "existing_units": min(d["gas_existing"], d["gas_max"])}]
        if opt["ai"]:
            ai = {"hall_it_mw": hall_mw, "max_halls": max_halls,
                  "capex_usd_per_mw_it": d["ai_capex"], "lead_time_months": d["ai_lead"],
                  "pue": pue, "lease_usd_per_kw_month": d["ai_lease"],
                  "power_pass_through": True, "opex_usd_per_mw_it_month": 8_000,
                  "life_months": 180, "displaces_mining_mw_per_hall": pue * hall_mw}
            uc = 1 if d["ai_uc"] else 0
            if uc:
                ai["under_construction"] = [{"halls": 1, "online_month":
                                             _month_after(d["ai_uc_month"])}]
            if d["ai_signed"] or not uc:
                halls = min(d["ai_signed_halls"] + uc, max_halls)
                rfs = d["ai_lead"] + d["ai_signed_slack"]
                ai["signed"] = [{"halls": halls, "rfs_month": _month_after(rfs),
                                 "ld_usd_per_mw_month": d["ai_ld"]}]
            site["ai"] = ai
        sites.append(site)
    return sites


def potential_capex(sites: list[dict], months: int) -> float:
    """Cash capex of the options a plan typically takes in full: every new ASIC as S21XP,
    every new gas unit and, from HALLS_FROM_MONTHS on (shorter horizons do not start
    halls: too few leased months after the lead time), the halls that signed leases need
    beyond those under construction."""
    s21 = ASICS[0]
    per_mw = 1e6 / s21["efficiency_j_per_th"] * s21["price_usd_per_th"]
    total = 0.0
    for site in sites:
        total += site["max_new_asic_mw"] * per_mw
        ai = site.get("ai")
        if ai and months >= HALLS_FROM_MONTHS:
            uc = sum(u["halls"] for u in ai.get("under_construction", []))
            signed = sum(e["halls"] for e in ai.get("signed", []))
            total += max(0, signed - uc) * ai["hall_it_mw"] * ai["capex_usd_per_mw_it"]
        for g in site.get("generation", []):
            total += (g["max_units"] - g["existing_units"]) * GAS["unit_mw"] * \
                GAS["capex_usd_per_mw"]
    return total


# -----------------------------------------------------------------------------------------
# TOML
# -----------------------------------------------------------------------------------------


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) + ".0" if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _table(header: str, items: dict) -> list[str]:
    return [header, *(f"{k} = {_toml(v)}" for k, v in items.items())]


def scenario_text(n_sites: int, months: int, seed: int, resolution: str,
                  invest_every_months: int, sites: list[dict]) -> str:
    years = math.ceil(months / 12)
    potential = potential_capex(sites, months)
    budget = [float(round(potential * (BUDGET_SHARE_FIRST if y == 0 else BUDGET_SHARE_LATER),
                          -6)) for y in range(years)]
    lines = [f"# Benchmark portfolio: {n_sites} sites x {months} months, seed {seed}.",
             "# Written by bench/generate.py; its docstring documents every rule.", ""]
    lines += _table("[scenario]", {
        "name": f"bench_{n_sites}x{months}", "start": START_MONTH, "months": months,
        "discount_rate": 0.10, "pool_fee": 0.02, "block_mw": BLOCK_MW,
        "invest_every_months": invest_every_months, "resolution": resolution,
        "mip_gap": 0.005, "time_limit_s": 300.0, "stress_hours_per_year": 0,
        "capex_budget_usd": budget})
    lines += [""] + _table("[data]", {"prices": "prices.parquet",
                                      "hashprice": "hashprice.parquet",
                                      "fuel": "fuel.parquet", "events": "events.parquet"})
    for asic in ASICS:
        lines += [""] + _table("[[asic]]", asic)
    lines += [""] + _table("[[generator]]", GAS)
    for site in sites:
        ai = site.get("ai")
        plain = {k: v for k, v in site.items() if k != "ai"}
        lines += [""] + _table("[[site]]", plain)
        if ai:
            lines += _table("[site.ai]", ai)
    return "\n".join(lines) + "\n"


# -----------------------------------------------------------------------------------------
# Entry point
# -----------------------------------------------------------------------------------------


def generate(n_sites: int, months: int, out_dir: Path, raw_dir: Path, seed: int = 0,
             resolution: str = "blocks:12", invest_every_months: int = 3) -> Path:
    """Write scenario.toml and its Parquet series for n_sites x months into out_dir."""
    if n_sites < 1 or months < 1:
        raise ValueError("n_sites and months must be at least 1")
    raw_dir, out_dir = Path(raw_dir), Path(out_dir)
    check_raw(raw_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    prices = price_templates(raw_dir)
    mean_price = {node: float(v.mean()) for node, v in prices.items()}
    sites = build_sites(n_sites, seed, mean_price)
    nodes = sorted({s["node"] for s in sites if "node" in s})
    hours, dates = horizon_hours(months), horizon_dates(months)

    tables = {"prices.parquet": build_prices(prices, nodes, hours),
              "hashprice.parquet": build_hashprice(dates, raw_dir),
              "fuel.parquet": build_fuel(dates, raw_dir),
              "events.parquet": build_events(prices, demand_templates(raw_dir), nodes, hours)}
    for name, table in tables.items():
        sample.write_parquet_atomic(table, out_dir / name)
    path = out_dir / "scenario.toml"
    tmp = path.with_name(".scenario.toml.tmp")
    tmp.write_text(scenario_text(n_sites, months, seed, resolution, invest_every_months, sites))
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sites", type=int)
    parser.add_argument("months", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--raw", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resolution", default="blocks:12")
    parser.add_argument("--invest-every-months", type=int, default=3)
    args = parser.parse_args(argv)
    print(generate(args.sites, args.months, args.out, args.raw or sample.default_raw_dir(),
                   args.seed, args.resolution, args.invest_every_months))


if __name__ == "__main__":
    main()
