"""Honest messages (issue 11, items 3-6): text is never markup, one error does not
cascade, the command line is checked like the file, time-limit stops and hourly runs
say what they are, and the terminal tells one story."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import SITE, write_case

from optim.errors import InputError
from optim.scenario import load_scenario
from optim.series import Horizon, read_hashprice, read_series

REPO = Path(__file__).resolve().parents[1]
AI = ('ai = { hall_it_mw = 5.0, max_halls = 1, capex_usd_per_mw_it = 1.0, '
      'lease_usd_per_kw_month = 100.0, life_months = 12, '
      'under_construction = [{ halls = 2, online_month = "2027-01" }] }\n')


def optim(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "TERM": "dumb"}
    return subprocess.run([sys.executable, str(REPO / "cli.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def problems(path: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        sc = load_scenario(path)
        read_series(sc)
    return caught.value.problems


# ------------------------------------------------------------- 3: text, never markup


def test_names_and_paths_are_printed_as_text_not_markup(tmp_path: Path) -> None:
    """A site named `[[asic]] [/]` at node `N[/]1`, results in `runs [v2]`: all shown as
    written, exit 0 (rich markup would drop `[v2]`, or raise a MarkupError at `[/]`)."""
    body = SITE.replace('name = "alpha"', 'name = "[[asic]] [/]"').replace(
        'node = "N1"', 'node = "N[/]1"')
    path = write_case(tmp_path, body, nodes=("N[/]1",))
    run = optim("solve", str(path), "--out", str(tmp_path / "runs [v2]"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "[[asic]] [/]" in run.stdout
    assert f"results: {tmp_path / 'runs [v2]'}" in run.stdout
    quiet = optim("solve", str(path), "-q", "--out", str(tmp_path / "runs [v2]"), cwd=tmp_path)
    assert quiet.stdout.strip() == str(tmp_path / "runs [v2]" / "summary.json"), quiet.stderr


def test_markup_in_a_bad_node_gives_the_normal_exit_2(tmp_path: Path) -> None:
    body = SITE.replace('node = "N1"', 'node = "[/]"')
    path = write_case(tmp_path, body)
    run = optim("validate", str(path), cwd=tmp_path)
    assert run.returncode == 2
    assert "node '[/]' is not in the file" in run.stderr
    assert "Traceback" not in run.stderr and "MarkupError" not in run.stderr
    bad_key = write_case(tmp_path / "key", SITE + '"x[/]" = 1\n')
    run = optim("validate", str(bad_key), cwd=tmp_path)
    assert run.returncode == 2 and "x[/]: unknown key" in run.stderr, run.stderr


def test_a_table_name_in_brackets_is_shown(tmp_path: Path) -> None:
    path = write_case(tmp_path, SITE.replace('asic = "S21"', 'asic = "S99"'))
    run = optim("validate", str(path), cwd=tmp_path)
    assert run.returncode == 2
    assert "'S99' is not an [[asic]] entry" in run.stderr


def test_an_unreadable_prices_file_does_not_make_events_errors(tmp_path: Path) -> None:
    path = write_case(tmp_path, data_extra='events = "events.parquet"')
    pd.DataFrame({"timestamp": pd.date_range("2027-01-01", periods=2, freq="h", tz="UTC"),
                  "node": "N1", "stress": True}).to_parquet(tmp_path / "events.parquet")
    (tmp_path / "prices.parquet").write_bytes(b"not parquet")
    found = problems(path)
    assert len(found) == 1 and "not a readable Parquet file" in found[0], found


def test_a_duplicated_name_is_one_problem(tmp_path: Path) -> None:
    """The duplicate is the error; references to that name are not 'not an entry'."""
    asic = ('\n[[asic]]\nname = "S21"\nefficiency_j_per_th = 20.0\nprice_usd_per_th = 10.0\n'
            'life_months = 36\n')
    assert problems(write_case(tmp_path / "asic", SITE + asic)) == [
        "asic: name 'S21' is used more than once"]
    gens = ''.join('\n[[generator]]\nname = "g"\nunit_mw = 1.0\ncapex_usd_per_mw = 1.0\n'
                   'life_months = 12\n' for _ in range(2))
    site = SITE + ('generation = [{ technology = "g", max_units = 1 }, '
                   '{ technology = "g", max_units = 1 }, { technology = "g", max_units = 1 }]\n')
    assert problems(write_case(tmp_path / "gen", site + gens)) == [
        "generator: name 'g' is used more than once",
        "site[0] (alpha).generation[1]: technology 'g' is listed more than once"]


# -------------------------------------------------------- 4: the same checks everywhere


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--mip-gap", "-1", "--mip-gap: Input should be greater than or equal to 0"),
    ("--time-limit", "-5", "--time-limit: Input should be greater than 0"),
    ("--resolution", "blocks:0", "--resolution: must be 'hourly' or 'blocks:K'")])
def test_command_line_values_are_checked_like_the_file(tmp_path: Path, flag: str, value: str,
                                                       words: str) -> None:
    path = write_case(tmp_path)
    run = optim("solve", str(path), flag, value, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert words in run.stderr
    assert not (tmp_path / "out").exists()


def test_validate_reports_data_conflicts_with_exit_3(tmp_path: Path) -> None:
    path = write_case(tmp_path, SITE + AI)
    run = optim("validate", str(path), cwd=tmp_path)
    assert run.returncode == 3, run.stdout + run.stderr
    assert "halls under construction exceed ai.max_halls by 1" in run.stderr


def test_strings_are_not_coerced_to_numbers_or_booleans(tmp_path: Path) -> None:
    path = write_case(tmp_path, SITE + AI.replace("max_halls = 1", "max_halls = 2")
                      .replace("life_months = 12,", 'life_months = 12, power_pass_through = '
                                                    '"yes",'))
    text = path.read_text().replace("months = 1\n", 'months = "1"\n', 1)
    path.write_text(text)
    found = problems(path)
    assert any(p.startswith("scenario.months: Input should be a valid integer (got '1')")
               for p in found), found
    assert any("ai.power_pass_through: Input should be a valid boolean (got 'yes')" in p
               for p in found), found
    ints = write_case(tmp_path / "ints", SITE.replace("firm_import_mw = 10.0",
                                                      "firm_import_mw = 10"))
    assert load_scenario(ints).site[0].firm_import_mw == 10.0  # an int is a valid float


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo", "America/Chicago"])
def test_zoned_dates_name_their_day_without_warnings(tmp_path: Path, zone: str) -> None:
    """Midnights in any zone name their date (Tokyo's is not the UTC day before)."""
    horizon = Horizon.of("2027-01", 1)
    days = pd.date_range("2027-01-01", periods=31, freq="D", tz=zone)
    pd.DataFrame({"date": days, "hashprice_usd_per_ph_day": np.arange(1.0, 32.0)}).to_parquet(
        tmp_path / "h.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = read_hashprice(tmp_path / "h.parquet", horizon)
    assert values.tolist() == list(np.arange(1.0, 32.0))


def test_zoned_timestamps_that_are_not_midnights_are_rejected(tmp_path: Path) -> None:
    horizon = Horizon.of("2027-01", 1)
    days = pd.date_range("2027-01-01 06:00", periods=31, freq="D", tz="Asia/Tokyo")
    pd.DataFrame({"date": days, "hashprice_usd_per_ph_day": 1.0}).to_parquet(
        tmp_path / "h.parquet")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="must be midnights there to name a date"):
            read_hashprice(tmp_path / "h.parquet", horizon)


# ------------------------------------------------------ 5: time limits say what they are


def test_a_time_limit_stop_says_how_far_from_proven_the_plan_is() -> None:
    from optim import cli

    summary = {"npv_usd": 673_282_065.0, "bound_usd": 1_800_070_742.0,
               "mip_gap": 1.6735759602040634, "mip_gap_requested": 0.005}
    text = cli._time_limit_warning(summary, 120.0)
    assert "(120 s)" in text and "gap 167.4%" in text and "requested 0.5000%" in text
    assert "up to 1,126,788,677 USD better" in text and "far from the best" in text
    assert "1.6735" not in text
    assert "--resolution blocks:K" in text


# ------------------------------------------------- 6: the terminal tells one story


BUYS = SITE.replace("firm_import_mw = 10.0", "firm_import_mw = 15.0").replace(
    "mining_infra_mw = 10.0", "mining_infra_mw = 15.0") + "max_new_asic_mw = 5.0\n"


def _words(stdout: str) -> str:
    """The text of the tables, whatever the wrapping: borders and line breaks as spaces."""
    return " ".join(re.sub(r"[│┃┏┓┗┛┡┩└┘├┤┼╇╋━─┳┻┬┴]", " ", stdout).split())


def test_npv_lines_name_their_plan_and_total_the_headline(tmp_path: Path) -> None:
    path = write_case(tmp_path, SITE, resolution="blocks:2")
    run = optim("solve", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "NPV lines of the hourly re-solve of the blocks:2 investments" in _words(run.stdout)
    headline = re.search(r"NPV, hourly re-solve \(USD\)\s+([\d,-]+)", run.stdout)
    total = re.search(r"│ total\s+│\s+([\d,-]+) │", run.stdout)
    assert headline and total and headline.group(1) == total.group(1), run.stdout
    hourly = write_case(tmp_path / "h", SITE)
    run = optim("solve", str(hourly), "--out", str(tmp_path / "h" / "out"), cwd=tmp_path)
    headline = re.search(r"NPV, hourly solve \(USD\)\s+([\d,-]+)", run.stdout)
    total = re.search(r"│ total\s+│\s+([\d,-]+) │", run.stdout)
    assert "NPV lines of the hourly solve" in _words(run.stdout)
    assert headline and total and headline.group(1) == total.group(1), run.stdout


def test_write_hourly_and_its_deprecated_alias(tmp_path: Path) -> None:
    path = write_case(tmp_path)
    new = optim("solve", str(path), "--write-hourly", "-q", "--out", str(tmp_path / "new"),
                cwd=tmp_path)
    assert new.returncode == 0 and new.stderr == "", new.stderr
    assert (tmp_path / "new" / "hourly.parquet").is_file()
    old = optim("solve", str(path), "--hourly", "-q", "--out", str(tmp_path / "old"),
                cwd=tmp_path)
    assert old.returncode == 0, old.stderr
    assert "--hourly is deprecated" in old.stderr and "--write-hourly" in old.stderr
    assert (tmp_path / "old" / "hourly.parquet").is_file()
    helped = optim("solve", "--help", cwd=tmp_path, columns=200)
    assert "--write-hourly" in helped.stdout and "--hourly " not in helped.stdout


def test_tables_fit_80_columns_without_cutting(tmp_path: Path) -> None:
    """Long names fold onto more lines; no cell is cut (no ellipsis), no line is wider."""
    long = "a_site_with_a_rather_long_name_for_a_terminal_table"
    path = write_case(tmp_path, BUYS.replace('name = "alpha"', f'name = "{long}"'), months=2,
                      hashprice=80.0)
    run = optim("solve", str(path), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= 80, run.stdout
    assert "…" not in run.stdout
    first_cells = [line.split("│")[1].strip() for line in run.stdout.splitlines()
                   if line.startswith("│")]
    assert long in "".join(first_cells), run.stdout  # folded, read down its column
    words = _words(run.stdout)
    assert "(MW)" in words and "(count)" in words  # headers wrap, units kept
    assert "Investments" in words and "capex_usd" in words


def test_sweep_case_labels_keep_the_site() -> None:
    from optim.sweep import Axis, case_label

    assert case_label({"site.corsicana.ai.lease_usd_per_kw_month": 140}) == \
        "corsicana.ai.lease_usd_per_kw_month=140"
    assert case_label({"series.fuel.scale": 2.0, "scenario.discount_rate": 0.1}) == \
        "fuel.scale=2.0, discount_rate=0.1"
    assert case_label({}) == "base"
    points = Axis(path="site.a.ai.max_halls", start=1, stop=3, step=1).points()
    assert points == [1, 2, 3] and all(isinstance(p, int) for p in points)


def test_built_per_site_columns_say_what_they_count(tmp_path: Path) -> None:
    from optim import report, solve

    result = solve(write_case(tmp_path, BUYS, hashprice=80.0))
    builds = report.site_builds(result)
    for column in builds.columns[1:]:
        assert column.endswith(("(MW)", "(count)")), column
    assert builds.at[0, "ASIC MW bought (MW)"] == pytest.approx(5.0)
    assert builds["AI halls started (count)"].dtype.kind == "i"


@pytest.mark.parametrize("edit", ["block_mw = inf", "block_mw = nan"])
def test_non_finite_numbers_are_bad_input(tmp_path: Path, edit: str) -> None:
    """`inf` and `nan` are valid TOML floats but no valid size or price: exit 2, the field
    named (before, block_mw = inf passed validate and crashed solve with exit 1)."""
    path = write_case(tmp_path, scenario_extra=edit)
    with pytest.raises(InputError, match="scenario.block_mw: Input should be a finite number"):
        load_scenario(path)


def test_a_closed_stdout_after_the_results_are_written_is_not_an_error(tmp_path: Path) -> None:
    """`optim solve ... | head -1`: the results are written, the tables go nowhere, exit 0
    (the run's log says the same); a full disk for stdout is one line, exit 1."""
    path = write_case(tmp_path)
    cli_py = str(REPO / "cli.py")
    piped = subprocess.run(f"'{sys.executable}' '{cli_py}' solve '{path}' --out "
                           f"'{tmp_path / 'out'}' 2>/dev/null | head -1; "
                           "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert (tmp_path / "out" / "summary.json").is_file()
    assert "exit code 0" in (tmp_path / "out" / "optim.log").read_text()
    with open("/dev/full", "w") as full:
        failed = subprocess.run([sys.executable, cli_py, "solve", str(path), "--out",
                                 str(tmp_path / "out2")], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert failed.returncode == 1
    assert "cannot write the output" in failed.stderr and "Traceback" not in failed.stderr
