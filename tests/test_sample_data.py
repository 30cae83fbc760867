"""The bundled sample data: complete, well-typed, plausible and byte-reproducible."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from optim import sample  # noqa: E402

RAW_DIR = sample.default_raw_dir()
FILES = ["prices.parquet", "hashprice.parquet", "fuel.parquet", "events.parquet"]
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
    for name in ("prices.parquet", "events.parquet"):
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
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)  # no temp files left


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
    assert set(raw["data"]) == {"prices", "hashprice", "fuel", "events"}
    for rel in raw["data"].values():
        assert rel.startswith("generated/") and Path(rel).name in FILES
    nodes = {s["node"] for s in raw["site"] if "node" in s}
    assert nodes <= set(sample.NODES)
    assert raw["scenario"]["start"] == "2027-01" and raw["scenario"]["months"] == 36
