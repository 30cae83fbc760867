"""The bundled sample data: complete, well-typed, plausible and byte-reproducible."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from optim import sample  # noqa: E402

RAW_DIR = sample.default_raw_dir()
RESERVE_FILES = ["reserve_prices.parquet", "reserve_prices_2023.parquet",
                 "reserve_prices_2024.parquet"]
FILES = ["prices.parquet", "hashprice.parquet", "fuel.parquet", "events.parquet", *RESERVE_FILES,
         "compute.parquet", "profiles.parquet"]
HOURS = pd.date_range("2027-01-01", "2030-01-01", freq="h", inclusive="left", tz="UTC")
DATES = pd.date_range("2027-01-01", "2029-12-31", freq="D")
# Mean hashprice of the 90 days from the halving over the 90 days before it.
# (S/2 + F) / (S + F) with S = 450 BTC/day of subsidy and the replayed fees F: 0.58 at
# the source year's mean fees (84 BTC/day); the replayed fee pattern puts 102 BTC/day
# after the halving and 53 before, giving 0.65. Band: 0.50-0.70 (see data/README.md).
HALVING_RATIO_BAND = (0.50, 0.70)

RAW_PRESENT = all((RAW_DIR / name).is_file() for name in sample.RAW_FILES.values())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the sample once into a temporary folder (skip without the raw data)."""
    if not RAW_PRESENT:
        pytest.skip(f"raw data not found in {RAW_DIR} (set OPTIM_RAW_DIR to the raw-data folder)")
    out = tmp_path_factory.mktemp("sample")
    written = sample.build_sample(RAW_DIR, out)
    assert [p.name for p in written] == FILES
    return out


def _read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(out / name)


def test_schemas(built: Path) -> None:
    for name in FILES:
        schema = pq.read_schema(built / name)
        assert schema.remove_metadata().equals(sample.SCHEMAS[name]), name
    for name in ("prices.parquet", "events.parquet", *RESERVE_FILES):
        assert pq.read_schema(built / name).field("timestamp").type == pa.timestamp("us", "UTC")
    for name in ("hashprice.parquet", "fuel.parquet"):
        assert pq.read_schema(built / name).field("date").type == pa.date32()


def test_prices_cover_every_hour_once(built: Path) -> None:
    df = _read(built, "prices.parquet")
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert set(df["node"]) == set(sample.NODES) and len(sample.NODES) >= 3
    assert not df.isna().any().any()
    assert not df.duplicated(["timestamp", "node"]).any()
    for _, g in df.groupby("node"):
        assert pd.DatetimeIndex(g["timestamp"]).equals(HOURS)
    # rows sorted by (timestamp, node)
    assert df.equals(df.sort_values(["timestamp", "node"], kind="stable").reset_index(drop=True))


def test_price_replay_uses_each_source_hour_once_per_common_year(built: Path) -> None:
    src = sample._source_year_prices(RAW_DIR)
    idx = sample.source_hour_index(HOURS, src["timestamp_utc"].iloc[0], len(src))
    years = HOURS.year
    for year in (2027, 2029):
        assert sorted(idx[years == year]) == list(range(8760))
    assert len(set(idx[years == 2028])) == 8760  # leap year: 24 source hours used twice
    # whole-week shift: the local hour of day always matches, weekdays nearly always
    local = HOURS.tz_convert(sample.LOCAL_TZ)
    src_local = pd.DatetimeIndex(src["timestamp_local"]).tz_convert(sample.LOCAL_TZ)
    assert (src_local.hour[idx] == local.hour).all()
    assert (src_local.day_of_week[idx] == local.day_of_week).mean() > 0.99


def test_hashprice(built: Path) -> None:
    df = _read(built, "hashprice.parquet")
    dates = pd.to_datetime(df["date"])
    assert pd.DatetimeIndex(dates).equals(DATES)
    hp = df["hashprice_usd_per_ph_day"]
    assert hp.notna().all() and (hp > 0).all()
    by_year = hp.groupby(dates.dt.year).mean()
    assert 35.0 <= by_year[2027] <= 60.0
    assert by_year[2029] < by_year[2027]
    h = sample.HALVING_2028
    after = hp[(dates >= h) & (dates < h + pd.Timedelta(days=90))].mean()
    before = hp[(dates < h) & (dates >= h - pd.Timedelta(days=90))].mean()
    lo, hi = HALVING_RATIO_BAND
    assert lo <= after / before <= hi


def test_fuel(built: Path) -> None:
    df = _read(built, "fuel.parquet")
    assert pd.DatetimeIndex(pd.to_datetime(df["date"])).equals(DATES)
    assert (df["hub"] == "henry_hub").all()
    assert df["price_usd_per_mmbtu"].notna().all() and (df["price_usd_per_mmbtu"] > 0).all()
    feb = df.set_index(pd.to_datetime(df["date"]))["price_usd_per_mmbtu"]
    assert feb[pd.Timestamp("2028-02-29")] == feb[pd.Timestamp("2028-02-28")]


def test_events(built: Path) -> None:
    df = _read(built, "events.parquet")
    assert str(df["timestamp"].dt.tz) == "UTC"
    assert not df.duplicated(["timestamp", "node"]).any()
    assert (df["stress"] | df["peak"]).all()  # only flagged rows
    assert df["timestamp"].isin(HOURS).all()
    assert set(df["node"]) == set(sample.NODES)
    year = df["timestamp"].dt.year
    peaks = df[df["peak"]]
    counts = peaks.groupby([year[df["peak"]], "node"]).size()
    assert len(counts) == 3 * len(sample.NODES) and (counts == 4).all()
    assert peaks["timestamp"].dt.month.isin([6, 7, 8, 9]).all()
    # one peak per summer month per year
    months = peaks.groupby([year[df["peak"]], "node"])["timestamp"].apply(
        lambda s: sorted(s.dt.month)
    )
    assert all(m == [6, 7, 8, 9] for m in months)
    stress = df[df["stress"]].groupby([year[df["stress"]], "node"]).size()
    assert (stress == sample.STRESS_HOURS_PER_YEAR).all() and 20 <= stress.min() <= 60


def test_byte_identical_rebuild(built: Path, tmp_path: Path) -> None:
    sample.build_sample(RAW_DIR, tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (built / name).read_bytes(), name
    left = sorted(p.name for p in tmp_path.iterdir() if p.name != ".optim-results")
    assert left == sorted(FILES)  # no temp files left (the marker says optim wrote them)


def test_missing_raw_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="ercot_rt_lmp_hubs"):
        sample.build_sample(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_default_raw_dir_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPTIM_RAW_DIR", str(tmp_path))
    assert sample.default_raw_dir() == tmp_path.resolve()
    monkeypatch.delenv("OPTIM_RAW_DIR")
    assert sample.default_raw_dir() == (REPO_ROOT.parent / "shared" / "data" / "raw").resolve()


def test_sample_scenario_points_at_built_files() -> None:
    path = REPO_ROOT / "data" / "sample" / "scenario.toml"
    raw = tomllib.loads(path.read_text())
    assert set(raw["data"]) == {"prices", "hashprice", "fuel", "events", "reserve_prices",
                                "compute", "profiles"}
    for rel in raw["data"].values():
        assert rel.startswith("generated/") and Path(rel).name in FILES
    nodes = {s["node"] for s in raw["site"] if "node" in s}
    assert nodes <= set(sample.NODES)
    assert raw["scenario"]["start"] == "2027-01" and raw["scenario"]["months"] == 36


# ---------------------------------------------------------------------------------
# Reserve prices (MODEL.md section 7; data/README.md "reserve_prices.parquet")
# ---------------------------------------------------------------------------------
PRODUCTS = {"ECRS", "ERS", "NSPIN", "RRS"}
# Week shifts of the replay rule in data/README.md: the whole number of weeks closest to
# Y-01-01 - <source year>-01-01 (2023: 209/261/313 weeks; 2024: 157 weeks for 2027).
SHIFT_2023 = {2027: pd.Timedelta(weeks=209), 2029: pd.Timedelta(weeks=313)}
SHIFT_2024_FOR_2027 = pd.Timedelta(weeks=157)
ECRS_LAUNCH = pd.Timestamp("2023-06-10 05:00", tz="UTC")  # operating day 2023-06-10, HE01 CDT
ERS_USD_PER_MW_H = 7.50  # data/README.md: the ERS assumption, $65,700 per MW-year
ERS_MW_YEAR_BAND = (60_000.0, 70_000.0)  # the quoted ERS average, USD per MW-year


def _reserves(out: Path, name: str = "reserve_prices.parquet") -> pd.DataFrame:
    return pd.read_parquet(out / name).set_index(["product", "timestamp"]).sort_index()


@pytest.fixture(scope="module")
def raw_as() -> pd.Series:
    """The raw ERCOT AS price file, indexed by (product, UTC hour start)."""
    df = pd.read_parquet(RAW_DIR / sample.RAW_FILES["reserves"])
    return df.set_index(["product", "timestamp_utc"])["price_usd_per_mw_h"].sort_index()


def test_reserve_prices_cover_every_hour_once(built: Path) -> None:
    for name in RESERVE_FILES:
        df = _read(built, name)
        assert set(df["product"]) == PRODUCTS, name
        assert not df.isna().any().any()
        assert not df.duplicated(["timestamp", "product"]).any()
        for _, g in df.groupby("product"):
            assert pd.DatetimeIndex(g["timestamp"]).equals(HOURS)
        assert (df["price_usd_per_mw_h"] >= 0).all()
        assert df["deployed_share"].between(0.0, 1.0).all()
        assert df.equals(
            df.sort_values(["timestamp", "product"], kind="stable").reset_index(drop=True)
        )


def test_reserve_prices_replay_the_raw_hours(built: Path, raw_as: pd.Series) -> None:
    """A few horizon hours checked by hand against the raw file via the week shifts."""
    res = _reserves(built)["price_usd_per_mw_h"]
    checks = [  # (horizon hour, source hour if wrapped) for the 2023 replay
        (pd.Timestamp("2027-08-12 22:00", tz="UTC"), None),  # the Aug 2023 heat wave
        (pd.Timestamp("2027-09-08 00:00", tz="UTC"), None),
        (pd.Timestamp("2029-08-09 21:00", tz="UTC"), None),
        # 2027-01-01 00Z - 209 weeks = 2022-12-30 00Z, 54 h before the source start
        # (2023-01-01 06Z): it wraps 8,760 h forward, one weekday off
        (pd.Timestamp("2027-01-01 00:00", tz="UTC"), pd.Timestamp("2023-12-30 00:00", tz="UTC")),
    ]
    for hour, src in checks:
        if src is None:  # inside the source year: the weekday matches
            src = hour - SHIFT_2023[hour.year]
            assert src.day_of_week == hour.day_of_week
        for product in ("ECRS", "NSPIN", "RRS"):
            assert res[(product, hour)] == raw_as[(product, src)], (product, hour)
    # the shift lands 2027-08-12 on Thursday 2023-08-10, a scarcity day: prices well above 0
    assert res[("RRS", pd.Timestamp("2027-08-12 22:00", tz="UTC"))] > 100.0
    # 2027 uses every 2023 hour exactly once: the year's mean is the source year's mean
    window = sample.reserve_source_window(2023)
    rrs_2023 = raw_as["RRS"].reindex(window)
    assert res["RRS"][res["RRS"].index.year == 2027].mean() == pytest.approx(rrs_2023.mean())
    assert rrs_2023.mean() == pytest.approx(21.26, abs=0.01)  # SOURCES.md section 10


def test_ecrs_before_its_launch_is_zero(built: Path, raw_as: pd.Series) -> None:
    """2023 hours before ECRS existed replay as price 0 (nothing could be sold), never filled."""
    res = _reserves(built)["price_usd_per_mw_h"]["ECRS"]
    hours = res.index[res.index.year == 2027]
    src = hours - SHIFT_2023[2027]
    in_window = src >= pd.Timestamp("2023-01-01 06:00", tz="UTC")  # the wrapped days aside
    before = in_window & (src < ECRS_LAUNCH)
    assert before.sum() > 3000
    assert (res[hours[before]] == 0.0).all()
    assert not raw_as["ECRS"].index.isin(src[before]).any()
    after = in_window & (src >= ECRS_LAUNCH)
    assert (res[hours[after]].to_numpy() == raw_as["ECRS"].reindex(src[after]).to_numpy()).all()


def test_deployed_share_is_one_in_the_stress_hours(built: Path) -> None:
    events = _read(built, "events.parquet")
    stress = pd.DatetimeIndex(events.loc[events["stress"], "timestamp"].unique())
    for name in RESERVE_FILES:
        share = _reserves(built, name)["deployed_share"]
        for product in PRODUCTS:
            s = share[product]
            assert set(s.unique()) == {0.0, 1.0}
            assert s.index[s == 1.0].equals(stress.sort_values()), (name, product)
            per_year = s.groupby(s.index.year).sum()
            assert (per_year == sample.STRESS_HOURS_PER_YEAR).all()


def test_reserve_year_selects_the_regime(built: Path, tmp_path: Path, raw_as: pd.Series) -> None:
    default = (built / "reserve_prices.parquet").read_bytes()
    assert default == (built / "reserve_prices_2023.parquet").read_bytes()
    assert default != (built / "reserve_prices_2024.parquet").read_bytes()
    r23 = _reserves(built, "reserve_prices_2023.parquet")["price_usd_per_mw_h"]
    r24 = _reserves(built, "reserve_prices_2024.parquet")["price_usd_per_mw_h"]
    for product in ("ECRS", "NSPIN", "RRS"):
        assert r24[product].mean() < 0.5 * r23[product].mean()  # battery-era prices
    assert (r24["ECRS"] > 0).mean() > 0.99  # ECRS traded through all of 2024
    hour = pd.Timestamp("2027-08-12 22:00", tz="UTC")
    src = hour - SHIFT_2024_FOR_2027  # Thursday 2024-08-08
    assert src.day_of_week == hour.day_of_week
    for product in ("ECRS", "NSPIN", "RRS"):
        assert r24[(product, hour)] == raw_as[(product, src)]
    sample.build_sample(RAW_DIR, tmp_path, reserve_year=2024)
    assert (tmp_path / "reserve_prices.parquet").read_bytes() == \
        (built / "reserve_prices_2024.parquet").read_bytes()
    with pytest.raises(ValueError, match="reserve year"):
        sample.build_sample(RAW_DIR, tmp_path, reserve_year=2022)


def test_ers_assumption_matches_the_documented_figures(built: Path) -> None:
    assert sample.ERS_PRICE_USD_PER_MW_H == ERS_USD_PER_MW_H
    lo, hi = ERS_MW_YEAR_BAND
    assert lo <= ERS_USD_PER_MW_H * 8760 <= hi
    readme = (REPO_ROOT / "data" / "README.md").read_text()
    assert "$7.50/MW-h" in readme and "$65,700" in readme
    for name in RESERVE_FILES:
        ers = _reserves(built, name)["price_usd_per_mw_h"]["ERS"]
        assert (ers == ERS_USD_PER_MW_H).all() and len(ers) == len(HOURS)


def test_sample_scenario_reserves() -> None:
    raw = tomllib.loads((REPO_ROOT / "data" / "sample" / "scenario.toml").read_text())
    products = {r["name"]: r.get("commitment", "hourly") for r in raw["reserve"]}
    assert products == {"ECRS": "hourly", "RRS": "hourly", "NSPIN": "hourly", "ERS": "monthly"}
    hourly_sites, monthly_sites = set(), set()
    for site in raw["site"]:
        offers = site.get("reserves", [])
        names = [o["product"] for o in offers]
        assert len(names) == len(set(names)) and set(names) <= set(products)
        if not offers:
            continue
        fleet = sum(f["mw"] for f in site["existing_fleet"])  # only self-mining backs offers
        assert all(0 < o["max_mw"] <= fleet for o in offers)
        if {"ECRS", "RRS", "NSPIN"} <= set(names):
            hourly_sites.add(site["name"])
            assert all(o["max_mw"] == pytest.approx(0.2 * fleet) for o in offers)
        if "ERS" in names:
            monthly_sites.add(site["name"])
    assert len(hourly_sites) >= 2 and len(monthly_sites) >= 1


def test_gpu_price_path_is_the_documented_assumption(built: Path) -> None:
    """data/README.md: 2.35 USD/GPU-hour on 2027-01-01, -15 % a year, every date once."""
    frame = _read(built, "compute.parquet")
    assert list(pd.to_datetime(frame["date"])) == list(DATES)
    price = frame["price_usd_per_gpu_hour"].to_numpy()
    assert price[0] == 2.35
    one_year = DATES.get_loc(pd.Timestamp("2028-01-01"))
    assert price[one_year] == pytest.approx(2.35 * 0.85 ** (365 / 365.25), abs=1e-4)
    assert (np.diff(price) <= 0).all()


def test_tenant_profile_ramps_over_the_first_year(built: Path) -> None:
    """data/README.md: 0.30 until 2027-07-01, linear to 0.90 on 2028-07-01, then flat."""
    frame = _read(built, "profiles.parquet")
    assert set(frame["profile"]) == {"corsicana_training"}
    load = frame.set_index("timestamp")["capacity_factor"]
    assert list(load.index) == list(HOURS)
    assert load[load.index < pd.Timestamp("2027-07-01", tz="UTC")].eq(0.30).all()
    assert load[load.index >= pd.Timestamp("2028-07-01", tz="UTC")].eq(0.90).all()
    assert load[pd.Timestamp("2028-01-01", tz="UTC")] == pytest.approx(0.30 + 0.60 * 184 / 366,
                                                                       abs=1e-6)
    assert (np.diff(load.to_numpy()) >= 0).all()
