"""Every class of bad input is rejected with a message naming the file, field or row (exit 2),
before any solve, and nothing is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SITE, hours, write_case
from typer.testing import CliRunner

import optim
from optim import cli
from optim.errors import InputError
from optim.tuning import Tuning

runner = CliRunner()


def _cli_fails(path: Path, out: Path) -> str:
    result = runner.invoke(cli.app, ["solve", str(path), "--out", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    return result.output


def _problems(path: Path) -> str:
    with pytest.raises(InputError) as info:
        optim.solve(path)
    return info.value.message


@pytest.mark.parametrize(("body_edit", "expected"), [
    (("firm_import_mw", "firm_import_mv"), "site[0] (alpha).firm_import_mv: unknown key; "
                                           "did you mean 'firm_import_mw'?"),
    (('node = "N1"', 'node = "N1"\nfixed_price_usd_per_mwh = 50.0'),
     "site[0] (alpha): give either node or fixed_price_usd_per_mwh, not both"),
    (('node = "N1"', ""), "site[0] (alpha): needs a node or a fixed_price_usd_per_mwh"),
    (('asic = "S21"', 'asic = "S12"'),
     "site[0] (alpha).existing_fleet[0].asic: 'S12' is not an [[asic]] entry; did you mean"),
    (("firm_import_mw = 10.0", "firm_import_mw = -1.0"),
     "site[0] (alpha).firm_import_mw: Input should be greater than or equal to 0"),
    (("existing_fleet", "hosting = { max_mw = 5.0 }\nexisting_fleet"),
     "site[0] (alpha).hosting.rate_usd_per_mwh: required field is missing"),
    (("existing_fleet", 'generation = [{ technology = "gas", max_units = 1 }]\nexisting_fleet'),
     "site[0] (alpha).generation[0].technology: 'gas' is not a [[generator]] entry"),
])
def test_scenario_field_errors(tmp_path: Path, body_edit: tuple[str, str], expected: str) -> None:
    path = write_case(tmp_path / "case", SITE.replace(*body_edit))
    assert expected in _problems(path)
    _cli_fails(path, tmp_path / "out")


def test_scenario_section_errors_are_reported_together(tmp_path: Path) -> None:
    path = write_case(tmp_path, scenario_extra='resolutio = "blocks:4"\ninvest_every_months = 0')
    text = path.read_text().replace('start = "2027-01"', 'start = "2027-13"')
    path.write_text(text)
    with pytest.raises(InputError) as info:
        optim.solve(path)
    assert info.value.message.startswith(f"{path}: 3 problems\n  ")
    assert sorted(info.value.problems) == [
        "scenario.invest_every_months: Input should be greater than or equal to 1 (got 0)",
        "scenario.resolutio: unknown key; did you mean 'resolution'?",
        "scenario.start: must be a month 'YYYY-MM', got '2027-13'",
    ]


GENERATOR = """
[[generator]]
name = "{name}"
unit_mw = 5.0
capex_usd_per_mw = 1.0
life_months = 12
{extra}
"""


def test_generator_fuel_conflicts(tmp_path: Path) -> None:
    gen = GENERATOR.format(name="gas", extra='fuel_hub = "henry_hub"\nfuel_usd_per_mmbtu = 3.0\n'
                                             'profile = "solar"')
    message = _problems(write_case(tmp_path, gen + SITE))
    assert "generator[0] (gas): give either fuel_hub or fuel_usd_per_mmbtu, not both" in message
    message = _problems(write_case(tmp_path, gen.replace("fuel_usd_per_mmbtu = 3.0\n", "") + SITE))
    assert "generator 'gas': fuel_hub 'henry_hub' needs [data].fuel" in message
    assert "generator 'gas': profile 'solar' needs [data].profiles" in message


def test_missing_price_of_a_thing_is_bad_input(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    path.write_text(path.read_text().replace("price_usd_per_th = 10.0\n", ""))
    assert "asic[0] (S21).price_usd_per_th: required field is missing" in _problems(path)


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    path.write_text(path.read_text() + "\n[[site]\n")
    assert "not valid TOML" in _problems(path)
    missing = tmp_path / "nope.toml"
    assert "file not found" in _cli_fails(missing, tmp_path / "out")


def test_unknown_solver_option_is_rejected(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    path.write_text(path.read_text() + "\n[solver]\nmip_gap = 0.01\nrandom_seed = 3\n")
    message = _problems(path)
    assert "mip_gap = 0.01: not a valid HiGHS option or value" in message
    assert "random_seed" not in message


def _prices(folder: Path) -> Path:
    return folder / "prices.parquet"


def test_price_file_problems_are_reported_together(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    df = pd.read_parquet(_prices(tmp_path))
    df = df.drop(index=[10])
    df = pd.concat([df, df.iloc[[20]]])
    df.loc[df.index == 30, "price_usd_per_mwh"] = np.nan
    df.loc[df.index == 40, "price_usd_per_mwh"] = -80.0
    df.to_parquet(_prices(tmp_path), index=False)
    with pytest.raises(InputError) as info:
        optim.solve(path)
    # rows 10 (dropped), 21 (repeated) and 30 (NaN) of a series that starts at 2027-01-01T00;
    # the negative price of row 40 is valid and not reported
    file = _prices(tmp_path)
    assert info.value.problems == [
        f"{file}: node 'N1': 1 missing: 2027-01-01T10",
        f"{file}: node 'N1': 1 duplicated: 2027-01-01T21",
        f"{file}: node 'N1': 1 NaN or infinite values at: 2027-01-02T06",
    ]
    assert info.value.message.startswith("input series: 3 problems\n  ")
    _cli_fails(path, tmp_path / "out")


def test_negative_prices_are_valid(tmp_path: Path) -> None:
    price = np.where(np.arange(744) % 2 == 0, -50.0, 30.0)
    result = optim.solve(write_case(tmp_path, price=price))
    assert result.status == "optimal"


def test_naive_timestamps_are_rejected(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    df = pd.read_parquet(_prices(tmp_path))
    df["timestamp"] = df["timestamp"].dt.tz_localize(None)
    df.to_parquet(_prices(tmp_path), index=False)
    assert "timestamps must be timezone-aware, got naive" in _problems(path)


def test_unknown_node_gets_a_suggestion(tmp_path: Path) -> None:
    path = write_case(tmp_path, nodes=("N2",))
    assert "node 'N1' is not in the file; did you mean 'N2'?" in _problems(path)


def test_missing_column_and_unreadable_file(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    pd.read_parquet(_prices(tmp_path)).rename(columns={"price_usd_per_mwh": "price"}).to_parquet(
        _prices(tmp_path), index=False)
    data = (tmp_path / "hashprice.parquet").read_bytes()
    (tmp_path / "hashprice.parquet").write_bytes(data[: len(data) // 2])
    message = _problems(path)
    assert "prices.parquet: column 'price_usd_per_mwh' is missing" in message
    assert "hashprice.parquet: not a readable Parquet file" in message


def test_hashprice_must_be_positive_and_complete(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    hp = pd.read_parquet(tmp_path / "hashprice.parquet")
    hp.loc[3, "hashprice_usd_per_ph_day"] = 0.0
    hp.drop(index=[7]).to_parquet(tmp_path / "hashprice.parquet", index=False)
    message = _problems(path)
    assert "hashprice_usd_per_ph_day must be > 0; not at: 2027-01-04" in message
    assert "hashprice dates: 1 missing: 2027-01-08" in message


def test_fuel_hub_and_profile_checks(tmp_path: Path) -> None:
    gen = (GENERATOR.format(name="gas", extra='fuel_hub = "henry_hub"')
           + GENERATOR.format(name="pv", extra='profile = "solar"'))
    body = gen + SITE + 'generation = [{ technology = "gas", max_units = 1 }]\n'
    path = write_case(tmp_path, body,
                      data_extra='fuel = "fuel.parquet"\nprofiles = "profiles.parquet"')
    dates = pd.date_range("2027-01-01", "2027-01-31", freq="D").date
    pd.DataFrame({"date": dates, "hub": "henry", "price_usd_per_mmbtu": 3.0}).to_parquet(
        tmp_path / "fuel.parquet", index=False)
    ts = hours()
    pd.DataFrame({"timestamp": ts, "profile": "solar", "capacity_factor": 1.5}).to_parquet(
        tmp_path / "profiles.parquet", index=False)
    message = _problems(path)
    assert "fuel.parquet: hub 'henry_hub' is not in the file; did you mean 'henry'?" in message
    assert "profiles.parquet: profile 'solar': capacity_factor outside 0..1" in message


def test_events_duplicates_unknown_nodes_and_types(tmp_path: Path) -> None:
    path = write_case(tmp_path, data_extra='events = "events.parquet"')
    ts = hours()[:3]
    pd.DataFrame({"timestamp": [ts[0], ts[0], ts[1]], "node": ["N1", "N1", "N9"],
                  "stress": [True, False, True]}).to_parquet(tmp_path / "events.parquet",
                                                              index=False)
    message = _problems(path)
    assert "events.parquet: node 'N9' is not in the prices file" in message
    pd.DataFrame({"timestamp": [ts[0], ts[0]], "node": ["N1", "N1"],
                  "stress": [True, False]}).to_parquet(tmp_path / "events.parquet", index=False)
    assert "2 duplicated (timestamp, node) rows: 2027-01-01T00" in _problems(path)
    pd.DataFrame({"timestamp": [ts[0]], "node": ["N1"], "stress": [1.0]}).to_parquet(
        tmp_path / "events.parquet", index=False)
    assert "column 'stress' must be bool" in _problems(path)


def test_events_may_omit_hours_and_rows_outside_horizon_are_ignored(tmp_path: Path) -> None:
    """One peak hour (2027-01-01T00) in an events file that omits every other hour, at a site
    paying a coincident-peak charge of 1,000 USD per MW-year; rows a year later (NaN prices,
    a peak flag) lie outside the one-month horizon and are ignored.

    Mining 10 MW at 20 J/TH earns 48 * (1000 / 20) / 24 = 100 USD/MWh against a 30 USD/MWh
    import. The charge is 1,000 * (import in the only peak hour) in January, so mining in
    that hour would cost 30 + 1,000 per MWh: the plan curtails it and mines the other 743
    hours. NPV = 743 * 10 * 70 = 520,100 (all 744 hours, without the flag: 520,800)."""
    cp_site = SITE.replace("mining_infra_mw", "cp_charge_usd_per_mw_year = 1000.0\nmining_infra_mw")
    path = write_case(tmp_path, cp_site, data_extra='events = "events.parquet"')
    df = pd.read_parquet(_prices(tmp_path))
    late = df.iloc[:5].assign(timestamp=df["timestamp"].iloc[:5] + pd.DateOffset(years=1),
                              price_usd_per_mwh=np.nan)
    pd.concat([df, late]).to_parquet(_prices(tmp_path), index=False)
    pd.DataFrame({"timestamp": [hours()[0], hours("2028-01")[0]], "node": ["N1", "N1"],
                  "peak": [True, True]}).to_parquet(tmp_path / "events.parquet", index=False)
    result = optim.solve(path, hourly=True)
    assert result.status == "optimal"
    assert result.npv_usd == pytest.approx(743 * 10 * 70, abs=1e-3)
    assert result.summary["npv_lines_usd"]["coincident_peak_usd"] == pytest.approx(0, abs=1e-6)
    mining = result.hourly.set_index("timestamp")["mining_mw"]
    assert mining.iloc[0] == pytest.approx(0, abs=1e-6)
    assert mining.iloc[1:].to_numpy() == pytest.approx(np.full(743, 10.0))


def test_cli_resolution_flag_is_checked(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    result = runner.invoke(cli.app, ["solve", str(path), "--resolution", "blocks:x",
                                     "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--resolution: must be 'hourly' or 'blocks:K'" in result.output


def test_tuning_from_environment_names_every_bad_entry() -> None:
    assert Tuning.from_env("merge_hours=false, resolve_workers=2") == \
        Tuning(merge_hours=False, resolve_workers=2)
    assert Tuning.from_env("") == Tuning()
    with pytest.raises(InputError) as err:
        Tuning.from_env("merge_hour=1,resolve_workers=0,warm_start=maybe,decompose=yes,"
                        "resolve_presolve=true")
    text = str(err.value)
    assert text.startswith("OPTIM_TUNING: 5 problems")
    assert "decompose = 'yes': expected one of hourly, always, never" in text
    assert "resolve_presolve = 'true': expected one of off, on, probe" in text
    assert "'merge_hour=1'" in text and "resolve_workers = '0'" in text
    assert "warm_start = 'maybe'" in text
