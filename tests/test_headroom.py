"""Tests of `optim headroom` (issue 6): method, report reproduction, events, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from optim import headroom as hr
from optim.headroom_cli import headroom

RAW_FILE = hr.default_demand_path()
needs_raw = pytest.mark.skipif(
    not RAW_FILE.is_file(),
    reason=f"raw EIA-930 file not found at {RAW_FILE} (set OPTIM_RAW_DIR to its folder)",
)

app = typer.Typer()


@app.callback()
def _main() -> None:
    """Test app: `headroom` registered as in the real CLI."""


app.command()(headroom)
runner = CliRunner()


def _frame(demand_mw: pd.Series, ba: str = "TEST") -> pd.DataFrame:
    return pd.DataFrame(
        {"timestamp_utc": demand_mw.index, "ba": ba, "demand_mw": demand_mw.to_numpy()}
    )


def _flat(first_year: int, last_year: int, level_mw: float = 900.0) -> pd.Series:
    grid = hr.hourly_grid(first_year, last_year)
    return pd.Series(level_mw, index=grid, dtype=float)


def _hours(day: str, first_hour: int, n_hours: int) -> pd.DatetimeIndex:
    start = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=first_hour)
    return pd.date_range(start, periods=n_hours, freq="h", unit="us")


def _peaky_two_years() -> pd.Series:
    """900 MW flat in 2018-2019 with 1,000 MW peak hours: 20 in 2018, 200 in 2019.

    Peaks sit in July and January (10 h a day, 12-21Z), so both seasonal ceilings are
    1,000 MW and the slack is 100 MW in every flat hour and 0 in every peak hour. The step
    is 11 % of 900, inside the 15 % cleaning tolerance, so cleaning changes nothing.
    """
    demand = _flat(2018, 2019)
    peaks = [_hours("2018-07-15", 12, 10), _hours("2018-01-15", 12, 10)]
    for day in range(1, 11):
        peaks += [_hours(f"2019-07-{day:02d}", 12, 10), _hours(f"2019-01-{day:02d}", 12, 10)]
    for hours in peaks:
        demand[hours] = 1000.0
    return demand


def _invoke(*args: str | Path) -> object:
    return runner.invoke(app, ["headroom", *map(str, args)])


def _flat_text(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ hand-checked case


@pytest.mark.parametrize(
    ("limit_pct", "every_year", "expected_mw"),
    [(2.0, False, 100), (1.0, False, 0), (2.0, True, 0), (3.0, True, 100)],
)
def test_hand_checked_headroom(limit_pct: float, every_year: bool, expected_mw: int) -> None:
    """Headroom of `_peaky_two_years`, derived by hand.

    For L <= 100 MW only the peak hours curtail, each by L, so the yearly rates are
    20/8,760 = 0.228 % (2018) and 200/8,760 = 2.283 % (2019), mean 1.256 %, whatever L.
    At L = 101 every flat hour curtails 1 MW too: 2018 curtails 20*101 + 8,740 = 10,760 MWh
    and 2019 200*101 + 8,560 = 28,760 MWh.
    * 2 %, average: 1.256 % <= 2 % up to 100 MW; at 101 MW the mean 19,760 MWh exceeds
      2 % x 101 x 8,760 = 17,695.2 MWh -> 100 MW.
    * 1 %, average: 1.256 % > 1 % already, and more load only adds curtailment -> 0.
    * 2 %, every year: 2019 alone is 2.283 % > 2 % -> 0.
    * 3 %, every year: both years within 3 % up to 100 MW; at 101 MW 2019's 28,760 MWh
      exceeds 3 % x 101 x 8,760 = 26,542.8 MWh -> 100 MW.
    """
    profile = hr.prepare_ba(_frame(_peaky_two_years()), "TEST", (2018, 2019))
    assert profile.summer_peak_mw == profile.winter_peak_mw == 1000.0
    assert profile.cleaning.filled_hours == 0
    assert hr.headroom_mw(profile, limit_pct, every_year) == expected_mw


def test_hand_checked_summary_statistics() -> None:
    """At 100 MW the 220 peak hours (110 a year) are curtailed fully: none half served."""
    profile = hr.prepare_ba(_frame(_peaky_two_years()), "TEST", (2018, 2019))
    summary = hr.headroom_summary({"TEST": profile}, [2.0])
    row = summary.iloc[0]
    assert row["headroom_mw"] == 100
    assert row["curtailed_hours_per_year"] == pytest.approx(110.0)
    assert row["half_served_share"] == 0.0
    assert row["curtailment_pct_mean"] == pytest.approx(100 * 110 / 8760)
    assert row["curtailment_pct_max_year"] == pytest.approx(100 * 200 / 8760)


@pytest.mark.parametrize("every_year", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_root_finder_matches_brute_force(seed: int, every_year: bool) -> None:
    """The search returns the largest whole MW meeting the limit, as a scan over L finds.

    The random demand has an April bump above the summer peak, so even a tiny load is
    curtailed there and the rate first falls with L (the non-monotone, convex case).
    """
    rng = np.random.default_rng(seed)
    grid = hr.hourly_grid(2018, 2019)
    hours = np.arange(len(grid))
    seasonal = 100 * np.cos(2 * np.pi * (hours % 8760) / 8760) ** 2  # peaks Jan and Jul
    daily = 60 * np.sin(2 * np.pi * hours / 24)
    demand = 900 + seasonal + daily + rng.normal(0, 5, len(grid))
    demand[(grid.month == 4) & (grid.day == 20)] += 150  # above the summer peak, in April
    profile = hr.prepare_ba(_frame(pd.Series(demand, index=grid)), "TEST", (2018, 2019))
    assert (profile.slack_mw < 0).any()
    loads = np.arange(1, 1500)
    rates = np.array([hr.yearly_curtailment_pct(profile, float(x)) for x in loads])
    for limit_pct in (0.5, 2.0, 10.0):
        ok = (rates.max(axis=1) if every_year else rates.mean(axis=1)) <= limit_pct
        expected = int(loads[ok].max()) if ok.any() else 0
        assert expected < loads.max()
        assert hr.headroom_mw(profile, limit_pct, every_year) == expected


# ---------------------------------------------------------------------- cleaning


def test_cleaning_rule_on_synthetic_spikes() -> None:
    """Spikes (one 2.1e9 MW hour, a run of three), <= 0 values and a gap are all replaced
    by linear interpolation of the ramp they sit on, and each is counted once."""
    grid = pd.date_range("2021-10-19", periods=48, freq="h", tz="UTC", unit="us")
    truth = pd.Series(1000.0 + 10.0 * np.arange(48), index=grid)
    raw = truth.copy()
    raw.iloc[10] = 2.1e9
    raw.iloc[20:23] = 5e5
    raw.iloc[30] = -5.0
    raw.iloc[40] = 0.0
    raw.iloc[35] = np.nan
    clean, kept, counts = hr.clean_demand(raw)
    assert counts == hr.CleaningCounts(
        hours=48, missing_hours=1, nonpositive_hours=2, outlier_hours=4
    )
    assert counts.filled_hours == 7
    assert int((~kept).sum()) == 7
    np.testing.assert_allclose(clean.to_numpy(), truth.to_numpy())


def test_cleaning_keeps_moderate_swings() -> None:
    """A 14 % step is within the 15 % tolerance and is kept; a 30 % one-hour dip is not."""
    grid = pd.date_range("2020-01-01", periods=24, freq="h", tz="UTC", unit="us")
    raw = pd.Series(1000.0, index=grid)
    raw.iloc[5] = 1140.0
    raw.iloc[15] = 700.0
    clean, _, counts = hr.clean_demand(raw)
    assert counts.outlier_hours == 1
    assert clean.iloc[5] == 1140.0
    assert clean.iloc[15] == 1000.0


# ------------------------------------------------------------------------ events


def test_events_replay_onto_horizon(tmp_path: Path) -> None:
    """Curtailed hours of leap year 2020 replayed on 2027-2028 by (month, day, hour) UTC.

    Ceilings are 1,000 MW (Jan 15 and Jul 15 12Z); Feb 29 and Mar 1 12Z are at 960 MW. A
    50 MW flexible load is curtailed where demand > 950 MW: those four hours. 2027 has no
    Feb 29, so it gets three; 2028 (leap) gets all four.
    """
    demand = _flat(2020, 2020)
    for stamp, mw in [
        ("2020-01-15 12:00", 1000.0),
        ("2020-07-15 12:00", 1000.0),
        ("2020-02-29 12:00", 960.0),
        ("2020-03-01 12:00", 960.0),
    ]:
        demand[pd.Timestamp(stamp, tz="UTC")] = mw
    src = tmp_path / "demand.parquet"
    _frame(demand).to_parquet(src)
    events_file = tmp_path / "sub" / "events.parquet"
    result = _invoke(
        src, "--ba", "TEST", "--years", "2020", "--limit", "1", "--out", tmp_path / "out",
        "--events-out", events_file, "--node", "HB_NORTH", "--flex-mw", "50",
        "--events-year", "2020", "--events-start", "2027-01", "--events-months", "24",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = pd.read_parquet(events_file)
    assert list(events.columns) == ["timestamp", "node", "stress"]
    assert isinstance(events["timestamp"].dtype, pd.DatetimeTZDtype)
    assert str(events["timestamp"].dt.tz) == "UTC"
    assert events["stress"].dtype == bool and events["stress"].all()
    assert (events["node"] == "HB_NORTH").all()
    expected = pd.DatetimeIndex(
        ["2027-01-15 12:00", "2027-03-01 12:00", "2027-07-15 12:00", "2028-01-15 12:00",
         "2028-02-29 12:00", "2028-03-01 12:00", "2028-07-15 12:00"],
        tz="UTC",
    )  # fmt: skip
    assert pd.DatetimeIndex(events["timestamp"]).equals(expected.as_unit("us"))


def test_events_use_headroom_at_limit(tmp_path: Path) -> None:
    """Without --flex-mw the load is the headroom (100 MW at 2 %): with slack 100 MW in
    flat hours (not curtailed: 900 + 100 is not > 1,000), exactly 2019's 200 peak hours."""
    src = tmp_path / "demand.parquet"
    _frame(_peaky_two_years()).to_parquet(src)
    events_file = tmp_path / "events.parquet"
    result = _invoke(
        src, "--ba", "TEST", "--years", "2018-2019", "--limit", "2", "--out", tmp_path / "out",
        "--events-out", events_file, "--node", "N1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = pd.read_parquet(events_file)
    assert len(events) == 200
    assert (events["timestamp"].dt.year == 2019).all()
    assert set(events["timestamp"].dt.hour) == set(range(12, 22))


def test_cli_writes_summary_and_plot(tmp_path: Path) -> None:
    src = tmp_path / "demand.parquet"
    _frame(_peaky_two_years()).to_parquet(src)
    result = _invoke(
        src, "--years", "2018-2019", "--limit", "2", "--limit", "3", "--out", tmp_path / "out",
        "--plot", "--every-year",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    summary = pd.read_parquet(out / "headroom.parquet")
    assert list(summary["headroom_mw"]) == [0, 100]
    assert summary["every_year"].all()
    assert (out / "headroom.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demand.parquet", "out"]  # no temps
    assert "TEST" in result.stdout and "headroom MW" in result.stdout


# --------------------------------------------------------------------- bad input


@pytest.fixture
def synthetic_file(tmp_path: Path) -> Path:
    src = tmp_path / "demand.parquet"
    _frame(_peaky_two_years()).to_parquet(src)
    return src


def _assert_bad(result: object, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    text = _flat_text(result.stderr)
    for fragment in fragments:
        assert fragment in text, text


def test_unknown_ba(synthetic_file: Path, tmp_path: Path) -> None:
    result = _invoke(synthetic_file, "--ba", "NOPE", "--years", "2018-2019", "--out", tmp_path)
    _assert_bad(result, "unknown BA 'NOPE'", "the demand file has TEST")


@pytest.mark.parametrize("limit", ["0", "100", "-1", "150", "nan"])
def test_limit_outside_range(synthetic_file: Path, tmp_path: Path, limit: str) -> None:
    result = _invoke(synthetic_file, "--limit", limit, "--years", "2018-2019", "--out", tmp_path)
    _assert_bad(result, "is outside (0, 100) %")


def test_year_without_data(synthetic_file: Path, tmp_path: Path) -> None:
    result = _invoke(synthetic_file, "--years", "2018-2020", "--out", tmp_path)
    _assert_bad(result, "BA TEST year 2020 has too few hours", "0 of 8,784 hours")


def test_partial_year(tmp_path: Path) -> None:
    """A year with only its first quarter of data is refused, not filled by interpolation."""
    demand = _peaky_two_years()
    src = tmp_path / "partial.parquet"
    _frame(demand[demand.index < pd.Timestamp("2019-04-01", tz="UTC")]).to_parquet(src)
    result = _invoke(src, "--years", "2018-2019", "--out", tmp_path)
    _assert_bad(result, "BA TEST year 2019 has too few hours", "2,160 of 8,760")


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--years", "2019-2018"], "the last year is before the first"),
        (["--years", "20x9"], "expected YYYY or YYYY-YYYY"),
        (["--widen", "TEST:Jul"], "expected BA:MON"),
        (["--events-out", "e.parquet"], "needs --node"),
        (["--events-out", "e.parquet", "--node", "N", "--limit", "1", "--limit", "2"],
         "exactly one --limit"),
        (["--events-out", "e.parquet", "--node", "N", "--flex-mw", "-5"], "must be > 0 MW"),
        (["--events-out", "e.parquet", "--node", "N", "--limit", "1", "--events-start",
          "2027-13"], "expected YYYY-MM"),
        (["--events-out", "e.parquet", "--node", "N", "--limit", "1", "--events-year",
          "2017"], "events year 2017 is outside the years used"),
    ],
)  # fmt: skip
def test_other_bad_options(
    synthetic_file: Path, tmp_path: Path, extra: list[str], fragment: str
) -> None:
    args = [str(tmp_path / a) if a == "e.parquet" else a for a in extra]
    years = [] if "--years" in extra else ["--years", "2018-2019"]
    result = _invoke(synthetic_file, "--ba", "TEST", "--out", tmp_path, *years, *args)
    _assert_bad(result, fragment)
    assert not (tmp_path / "headroom.parquet").exists()


def test_missing_demand_file(tmp_path: Path) -> None:
    result = _invoke(tmp_path / "absent.parquet", "--out", tmp_path)
    _assert_bad(result, "demand file not found")


def test_input_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="limit 0 % is outside"):
        hr.check_limits_pct([0.0])


# ----------------------------------------------------------------- real EIA data


@pytest.fixture(scope="module")
def eia() -> pd.DataFrame:
    frame = pd.read_parquet(RAW_FILE, filters=[("ba", "in", ["ERCO", "PJM", "CISO"])])
    return hr.check_demand_frame(frame[list(hr.DEMAND_COLUMNS)])


@needs_raw
def test_reproduces_report_ercot(eia: pd.DataFrame) -> None:
    """Duke report, ERCOT: 6.5 / 10.0 / 14.7 GW at 0.25 / 0.5 / 1 % (within 0.1 GW)."""
    profile = hr.prepare_ba(eia, "ERCO")
    assert profile.cleaning.filled_hours == 242  # ERCO has gaps but no spikes
    for limit_pct, report_gw in [(0.25, 6.5), (0.5, 10.0), (1.0, 14.7)]:
        load_mw = hr.headroom_mw(profile, limit_pct)
        assert abs(load_mw / 1000 - report_gw) <= 0.1
        # exact to 1 MW: L meets the limit on average, L + 1 does not
        assert hr.yearly_curtailment_pct(profile, load_mw).mean() <= limit_pct
        assert hr.yearly_curtailment_pct(profile, load_mw + 1).mean() > limit_pct


@needs_raw
def test_reproduces_report_pjm_caiso_at_half_percent(eia: pd.DataFrame) -> None:
    """Report Fig. 8 at 0.5 %: PJM 17.8 GW (its 2.1e9 MW spike cleaned away) and CAISO
    5.0 GW with its peak windows widened to Sep and Nov (report footnote 20)."""
    pjm = hr.prepare_ba(eia, "PJM")
    assert pjm.summer_peak_mw < 160_000 and pjm.cleaning.outlier_hours > 0
    assert abs(hr.headroom_mw(pjm, 0.5) / 1000 - 17.8) <= 0.1
    widen = hr.parse_widen(["report"])["CISO"]
    caiso = hr.prepare_ba(eia, "CISO", widen=widen)
    assert abs(hr.headroom_mw(caiso, 0.5) / 1000 - 5.0) <= 0.1


@needs_raw
def test_cli_on_bundled_data(tmp_path: Path) -> None:
    """The issue's command line on the default (bundled) demand file."""
    result = _invoke(
        "--ba", "ERCO", "--limit", "0.25", "--limit", "0.5", "--limit", "1", "--limit", "5",
        "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = pd.read_parquet(tmp_path / "headroom.parquet")
    assert list(summary["limit_pct"]) == [0.25, 0.5, 1.0, 5.0]
    assert list((summary["headroom_mw"] / 1000).round(1))[:3] == [6.5, 10.0, 14.7]
    assert "6,468" in result.stdout
