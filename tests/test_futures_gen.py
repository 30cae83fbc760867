"""`optim futures`: hashprice futures from real history (docs/futures.md).

Deterministic and fast: small path counts, short horizons, one calibration per module.
Skipped cleanly without the public raw data (set OPTIM_RAW_DIR).
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from optim import futures_cli, sample
from optim import futures_gen as fg
from optim.cli import app

RAW_DIR = sample.default_raw_dir()
RAW_PRESENT = all((RAW_DIR / name).is_file()
                  for name in (fg.NETWORK_FILE, *(sample.RAW_FILES[k] for k in fg.RAW_KEYS)))
needs_raw = pytest.mark.skipif(
    not RAW_PRESENT, reason=f"raw data not found in {RAW_DIR} (set OPTIM_RAW_DIR)")

# Median hashprice of the 60 days from the 2028-04-15 halving over the 60 days before it,
# pooled over 50 paths: the subsidy part halves at once, the hashrate keeps growing on the
# lagged signal and the price moves. Over seeds 0..199 the ratio lies in 0.40-0.57 (median
# 0.49); documented band 0.35-0.65 (docs/futures.md).
HALVING_RATIO_BAND = (0.35, 0.65)

runner = CliRunner()


@pytest.fixture(scope="module")
def cal() -> fg.Calibration:
    if not RAW_PRESENT:
        pytest.skip(f"raw data not found in {RAW_DIR} (set OPTIM_RAW_DIR)")
    return fg.calibrate(RAW_DIR)


def _run(*args: str) -> object:
    return runner.invoke(app, ["futures", "--raw", str(RAW_DIR), *args])


# ----------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------


@needs_raw
def test_calibration_is_finite_with_the_expected_sign(cal: fg.Calibration) -> None:
    assert 1 <= cal.lag_months <= fg.MAX_LAG_MONTHS
    assert len(cal.sse_by_lag) == fg.MAX_LAG_MONTHS
    assert cal.sse_by_lag[cal.lag_months - 1] == min(cal.sse_by_lag)
    for value in (cal.b_per_month, cal.a_per_month, cal.kappa_per_year, cal.alpha,
                  cal.hp_ref_base, cal.r2, cal.resid_sd):
        assert math.isfinite(value)
    assert cal.b_per_month > 0  # more profitable -> faster hashrate growth
    assert cal.kappa_per_year > 0  # the cost of hashing falls
    when = pd.Timestamp("2027-01-01")
    slow, fast = (cal.growth_per_month(hp, when) for hp in (10.0, 40.0))
    assert fast > slow
    assert cal.growth_per_month(float(cal.hp_ref(when)), when) == pytest.approx(
        cal.a_per_month)
    assert 0.0 < cal.fee_share < 0.5
    assert cal.n_returns == 3832
    # the sample's base state (data/README.md): P0 = $65,101.48, H0 = 624,472 PH/s
    assert cal.p0 == pytest.approx(65101.48, abs=0.01)
    assert cal.h0 == pytest.approx(624472, rel=1e-5)


@needs_raw
def test_paths_are_positive_and_start_at_the_base_state(cal: fg.Calibration) -> None:
    result = fg.generate(RAW_DIR, n=5, seed=3, start="2027-01", months=6, calibration=cal)
    assert result.hashprice.shape == (5, 181)
    assert np.isfinite(result.hashprice).all() and (result.hashprice > 0).all()
    assert np.allclose(result.btc_price[:, 0], cal.p0)  # every path starts at P0
    assert np.allclose(result.hashrate[:, 0], result.hashrate[0, 0])  # flat price before
    assert result.gpu_price is None
    # hashprice = P * 144 * subsidy / ((1 - fee share) * H)
    subsidy = sample.subsidy_btc(result.dates, RAW_DIR)
    expected = (result.btc_price * 144 * subsidy / (1 - cal.fee_share) / result.hashrate)
    assert np.allclose(result.hashprice, expected, rtol=1e-12)


@needs_raw
def test_path_depends_on_seed_and_index_not_on_the_count(cal: fg.Calibration) -> None:
    few = fg.generate(RAW_DIR, n=3, seed=7, start="2027-01", months=4, calibration=cal)
    many = fg.generate(RAW_DIR, n=8, seed=7, start="2027-01", months=4, calibration=cal)
    assert np.array_equal(few.hashprice, many.hashprice[:3])


@needs_raw
def test_the_halving_halves_the_subsidy_part(cal: fg.Calibration) -> None:
    result = fg.generate(RAW_DIR, n=50, seed=0, start="2027-07", months=18, calibration=cal)
    dates, halving = result.dates, sample.HALVING_2028
    before = (dates >= halving - pd.Timedelta(days=60)) & (dates < halving)
    after = (dates >= halving) & (dates < halving + pd.Timedelta(days=60))
    ratio = np.median(result.hashprice[:, after]) / np.median(result.hashprice[:, before])
    assert HALVING_RATIO_BAND[0] <= ratio <= HALVING_RATIO_BAND[1], ratio
    # the BTC earned per unit of hashrate and price halves exactly on the halving day
    per_unit = result.hashprice * result.hashrate / result.btc_price
    day = int(np.flatnonzero(dates == halving)[0])
    assert np.allclose(per_unit[:, day] / per_unit[:, day - 1], 0.5, rtol=1e-12)


@needs_raw
def test_gpu_price_paths(cal: fg.Calibration) -> None:
    result = fg.generate(RAW_DIR, n=200, seed=1, start="2027-01", months=24, gpu_price=2.35,
                         calibration=cal)
    gpu = result.gpu_price
    assert gpu is not None and gpu.shape == result.hashprice.shape
    assert np.isfinite(gpu).all() and (gpu > 0).all()
    assert np.allclose(gpu[:, 0], 2.35)
    # median follows the -15 %/year drift (lognormal noise of 0.25/sqrt(year))
    years = (len(result.dates) - 1) / fg.DAYS_PER_YEAR
    median = np.median(gpu[:, -1])
    assert median == pytest.approx(2.35 * 0.85**years, rel=0.1)
    spread = np.std(np.log(gpu[:, -1]))
    assert spread == pytest.approx(0.25 * math.sqrt(years), rel=0.2)


def test_stationary_bootstrap_blocks() -> None:
    rng = np.random.default_rng(0)
    idx = fg.stationary_bootstrap(rng, 100, 200_000, mean_block=30.0)
    assert idx.min() >= 0 and idx.max() < 100
    breaks = np.count_nonzero(np.diff(idx) % 100 != 1)
    assert 200_000 / breaks == pytest.approx(30.0, rel=0.05)
    again = fg.stationary_bootstrap(np.random.default_rng(0), 100, 200_000, mean_block=30.0)
    assert np.array_equal(idx, again)


def test_kmedoids_finds_separated_clusters() -> None:
    rng = np.random.default_rng(5)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    points = np.concatenate([c + rng.normal(scale=0.5, size=(n, 2))
                             for c, n in zip(centres, (6, 9, 5), strict=True)])
    med, labels = fg.kmedoids(points, 3, np.random.default_rng(0))
    assert len(med) == 3 and list(med) == sorted(med)
    assert sorted(np.bincount(labels)) == [5, 6, 9]
    for cluster in range(3):  # each cluster is one of the true groups, with its medoid
        members = np.flatnonzero(labels == cluster)
        assert med[cluster] in members
        assert len({int(np.argmin(((points[i] - centres) ** 2).sum(1))) for i in members}) == 1
    again = fg.kmedoids(points, 3, np.random.default_rng(0))
    assert np.array_equal(med, again[0]) and np.array_equal(labels, again[1])
    assert np.array_equal(fg.kmedoids(points, 20, np.random.default_rng(1))[0], np.arange(20))


def test_commit_months_and_names() -> None:
    assert fg.commit_months(pd.Timestamp("2027-01-01"), 36) == 15
    assert fg.commit_months(pd.Timestamp("2027-01-01"), 12) == 12
    assert fg.commit_months(pd.Timestamp("2028-06-01"), 12) == 1
    assert fg.future_names(3) == ["f01", "f02", "f03"]
    assert fg.future_names(120)[-1] == "f120"


# ----------------------------------------------------------------------------------------
# The command and its files
# ----------------------------------------------------------------------------------------


@needs_raw
def test_cli_writes_the_three_files_and_prints_the_fan(tmp_path: Path) -> None:
    out = tmp_path / "gen" / "futures.parquet"
    run = _run("--futures", "5", "--months", "14", "--out", str(out), "--verbose")
    assert run.exit_code == 0, run.output
    for quarter in ("2027Q1", "2028Q1"):
        assert quarter in run.stdout
    for col in ("p5", "p25", "p50", "p75", "p95", "hashrate response", "elasticity b"):
        assert col in run.stdout
    assert out.is_file() and out.with_suffix(".toml").is_file()
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.parent.iterdir()) == [
        "futures.parquet", "futures.png", "futures.toml"]  # no temporary left

    schema = pq.read_schema(out)
    assert schema.metadata is None  # no pandas metadata
    assert schema.equals(pa.schema([("future", pa.string()), ("date", pa.date32()),
                                    ("hashprice_usd_per_ph_day", pa.float64())]))
    frame = pd.read_parquet(out)
    dates = pd.date_range("2027-01-01", "2028-02-29", freq="D")
    assert list(frame["future"].unique()) == ["f01", "f02", "f03", "f04", "f05"]
    assert len(frame) == 5 * len(dates)
    assert not frame.duplicated(["future", "date"]).any()
    for _, rows in frame.groupby("future", sort=False):
        assert list(pd.to_datetime(rows["date"])) == list(dates)  # ordered by date
    values = frame["hashprice_usd_per_ph_day"].to_numpy()
    assert np.isfinite(values).all() and (values > 0).all()

    snippet = tomllib.loads(out.with_suffix(".toml").read_text())["futures"]
    assert snippet["file"] == "futures.parquet"
    assert snippet["commit_months"] == 14  # the 2028-04 halving is past the horizon
    assert snippet["risk_alpha"] == 0.9 and snippet["risk_weight"] == 0.0
    assert list(snippet["probability"]) == ["f01", "f02", "f03", "f04", "f05"]
    assert sum(snippet["probability"].values()) == pytest.approx(1.0, abs=1e-12)


@needs_raw
def test_same_seed_same_bytes_other_seed_other_file(tmp_path: Path) -> None:
    files = {}
    for name, seed in (("a", "4"), ("b", "4"), ("c", "5")):
        out = tmp_path / f"{name}.parquet"
        run = _run("--futures", "4", "--months", "6", "--seed", seed, "--gpu-price", "2.35",
                   "--out", str(out))
        assert run.exit_code == 0, run.output
        files[name] = out.read_bytes()
    assert files["a"] == files["b"]
    assert files["a"] != files["c"]
    snippets = [(tmp_path / f"{name}.toml").read_text() for name in "ab"]
    assert snippets[0].replace('"a.parquet"', '"b.parquet"') == snippets[1]


@needs_raw
def test_gpu_price_adds_a_positive_column(tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    run = _run("--futures", "3", "--months", "3", "--gpu-price", "2.35", "--out", str(out))
    assert run.exit_code == 0, run.output
    schema = pq.read_schema(out)
    assert schema.names == ["future", "date", "hashprice_usd_per_ph_day",
                            "price_usd_per_gpu_hour"]
    assert schema.field("price_usd_per_gpu_hour").type == pa.float64()
    gpu = pd.read_parquet(out)["price_usd_per_gpu_hour"].to_numpy()
    assert np.isfinite(gpu).all() and (gpu > 0).all()


@needs_raw
def test_reduce_keeps_medoids_with_probabilities(tmp_path: Path) -> None:
    full, reduced = tmp_path / "full.parquet", tmp_path / "reduced.parquet"
    assert _run("--futures", "12", "--months", "18", "--out", str(full)).exit_code == 0
    run = _run("--futures", "12", "--months", "18", "--reduce", "4", "--out", str(reduced))
    assert run.exit_code == 0, run.output
    assert "futures kept by k-medoids" in run.stdout
    every = pd.read_parquet(full)
    kept = pd.read_parquet(reduced)
    names = list(kept["future"].unique())
    assert len(names) == 4 and names == sorted(names)
    for name in names:  # each medoid is one of the 12 original paths, unchanged
        assert name in set(every["future"])
        a = kept.loc[kept["future"] == name].reset_index(drop=True)
        b = every.loc[every["future"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)
    probability = tomllib.loads(reduced.with_suffix(".toml").read_text())["futures"][
        "probability"]
    assert list(probability) == names
    assert abs(sum(probability.values()) - 1.0) <= 1e-12
    assert all(p > 0 and (p * 12) == pytest.approx(round(p * 12)) for p in probability.values())


@needs_raw
def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = tmp_path / "f.parquet"
    assert _run("--futures", "2", "--months", "2", "--out", str(out)).exit_code == 0
    before = out.read_bytes()
    out.with_suffix(".png").unlink()
    run = _run("--futures", "2", "--months", "2", "--seed", "9", "--out", str(out))
    assert run.exit_code == 2
    assert "error (exit 2)" in run.output and str(out) in run.output and "--force" in run.output
    assert out.read_bytes() == before and not out.with_suffix(".png").exists()
    run = _run("--futures", "2", "--months", "2", "--seed", "9", "--out", str(out), "--force")
    assert run.exit_code == 0, run.output
    assert out.read_bytes() != before and out.with_suffix(".png").is_file()


@needs_raw
def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(result: fg.Futures, path: Path) -> None:
        path.write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(futures_cli, "_save_plot", broken)
    run = _run("--futures", "2", "--months", "2", "--out", str(tmp_path / "f.parquet"))
    assert run.exit_code == 1
    assert "disk full" in run.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--futures", "0"], "--futures"),
        (["--futures", "3", "--reduce", "4"], "--reduce"),
        (["--reduce", "0"], "--reduce"),
        (["--start", "2027-13"], "--start"),
        (["--start", "2027/01"], "--start"),
        (["--start", "2020-01"], "--start"),
        (["--months", "0"], "--months"),
        (["--gpu-price", "0"], "--gpu-price"),
        (["--gpu-price", "-2"], "--gpu-price"),
        (["--btc-price", "0"], "--btc-price"),
        (["--out", "futures.csv"], "--out"),
        (["--seed", "-1"], "--seed"),
        (["--gpu-price", "2", "--gpu-drift", "-1"], "--gpu-drift"),
    ],
)
def test_bad_input_exits_2_naming_the_option(args: list[str], named: str,
                                             tmp_path: Path) -> None:
    run = runner.invoke(app, ["futures", "--out", str(tmp_path / "f.parquet"), *args])
    assert run.exit_code == 2, run.output
    assert "error (exit 2)" in run.output and named in run.output
    assert list(tmp_path.iterdir()) == []


def test_missing_raw_file_exits_2_naming_it(tmp_path: Path) -> None:
    run = runner.invoke(app, ["futures", "--raw", str(tmp_path), "--out",
                              str(tmp_path / "f.parquet")])
    assert run.exit_code == 2
    assert fg.NETWORK_FILE in run.output
    assert list(tmp_path.iterdir()) == []
