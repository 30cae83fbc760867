"""The Excel workbook of a results folder (issue 13, item 2), read back with openpyxl and
pandas rather than the writer (xlsxwriter): sheets, headers with units, number formats,
frozen headers, widths, and totals against the results folder it was written from."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from helpers import hours, write_case
from typer.testing import CliRunner

from optim import cli, workbook
from optim import sweep as sweeps
from optim.errors import InputError
from optim.results_folder import SweepFolder, load
from optim.workbook import write_workbook

FIXTURES = Path(__file__).parent / "fixtures"
SOLVE_SHEETS = ["summary", "investments", "monthly", "annual cash flow"]
TWO_SITES = """
[[site]]
name = "alpha"
node = "N1"
firm_import_mw = 10.0
mining_infra_mw = 10.0
max_new_asic_mw = 5.0
existing_fleet = [{ asic = "S21", mw = 5.0 }]

[[site]]
name = "beta"
node = "N2"
firm_import_mw = 8.0
mining_infra_mw = 8.0
max_new_asic_mw = 8.0
"""
SWEEP = """
[sweep]
name = "wb"
base = "{base}"
timeout_s = 120

[[axis]]
path = "series.hashprice.scale"
values = [0.8, 1.2]

[[axis]]
path = "scenario.discount_rate"
values = [0.1]
"""


def invoke(*args: str | Path) -> None:
    result = CliRunner().invoke(cli.app, [*map(str, args)])
    assert result.exit_code == 0, result.output


def sheets(path: Path) -> dict[str, pd.DataFrame]:
    return pd.read_excel(path, sheet_name=None, engine="openpyxl")


def items(frame: pd.DataFrame) -> dict[str, object]:
    """The summary sheet's (item, value) rows as a dict."""
    return dict(zip(frame["item"], frame["value"], strict=True))


def column(ws: openpyxl.worksheet.worksheet.Worksheet, head: str) -> int:
    return [c.value for c in ws[1]].index(head) + 1


def widths(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[int, float]:
    """Column number -> width (a run of equal widths is stored once, as a range)."""
    return {j: d.width for d in ws.column_dimensions.values() for j in range(d.min, d.max + 1)}


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if ".tmp-" in p.name]


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sites over 13 months (two calendar years), blocks then the hourly re-solve, a
    positive discount rate, ASICs bought, and the no-investment baseline."""
    folder = tmp_path_factory.mktemp("workbook_solve")
    n = len(hours(months=13))
    price = np.where(np.arange(n) % 24 >= 17, 150.0, 30.0) - (np.arange(n) % 24 == 3) * 40.0
    scenario = write_case(folder / "in", TWO_SITES, months=13, resolution="blocks:4",
                          scenario_extra="discount_rate = 0.08", nodes=("N1", "N2"),
                          price=price)
    invoke("solve", scenario, "--out", folder / "out", "-q")
    return folder / "out"


@pytest.fixture(scope="module")
def solved_book(solved: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workbook(load(solved), tmp_path_factory.mktemp("book") / "plan.xlsx")


def test_solve_workbook_sheets_headers_formats_and_widths(solved_book: Path) -> None:
    book = openpyxl.load_workbook(solved_book)
    assert book.sheetnames == SOLVE_SHEETS
    assert all(len(name) <= 31 for name in book.sheetnames)
    for ws in book.worksheets:
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2"), ws.title
    assert book["monthly"].freeze_panes == "C2"
    assert book["annual cash flow"].freeze_panes == "D2"
    inv = book["investments"]
    assert [c.value for c in inv[1]] == ["site", "month", "kind", "name", "quantity", "MW",
                                         "capex (USD)"]
    capex, mw = column(inv, "capex (USD)"), column(inv, "MW")
    assert inv.cell(2, capex).number_format == "#,##0"
    assert inv.cell(2, mw).number_format == "0.00"
    widest = max(f"{c.value:,.0f}" for (c,) in inv.iter_rows(min_row=2, min_col=capex,
                                                            max_col=capex))
    assert widths(inv)[capex] >= len(widest)
    monthly = book["monthly"]
    heads = [c.value for c in monthly[1]]
    assert {"site", "month", "mining (MW)", "import (MW)", "Self-mining revenue (USD)",
            "Grid import cost (USD)", "Capital charges (USD)", "discount factor"} <= set(heads)
    assert not [h for h in heads if h.endswith(("_usd", "_mw"))]
    month = monthly.cell(2, column(monthly, "month"))
    assert month.data_type == "s" and month.value == "2027-01"
    assert monthly.cell(2, column(monthly, "mining (MW)")).number_format == "0.00"
    assert monthly.cell(2, column(monthly, "import (MW)")).number_format == "0.00"
    annual = book["annual cash flow"]
    heads = [c.value for c in annual[1]]
    assert heads[:3] == ["case", "site", "year"]
    assert {"EBITDA (USD)", "capex (USD)", "free cash flow (USD)", "terminal value (USD)",
            "cumulative free cash flow (USD)"} <= set(heads)
    assert annual.cell(2, column(annual, "free cash flow (USD)")).number_format == "#,##0"
    assert annual.cell(2, column(annual, "year")).value == 2027
    for ws in book.worksheets:
        fitted = widths(ws)
        for j, cell in enumerate(ws[1], start=1):
            assert fitted[j] >= len(cell.value), (ws.title, cell.value)


def test_solve_workbook_totals_match_the_results_folder(solved: Path,
                                                        solved_book: Path) -> None:
    folder = load(solved)
    book = sheets(solved_book)
    summary = items(book["summary"])
    s = folder.summary
    assert s["npv_lines_hourly_usd"] and s["cash_flow"]["irr"] is not None
    assert close(summary["NPV (USD)"], s["npv_usd"])
    assert close(summary["hourly NPV (USD)"], s["npv_hourly_usd"])
    assert summary["status"] == s["status"] and summary["verified"] == s["verified"]
    assert close(summary["Self-mining revenue (USD)"], s["npv_lines_hourly_usd"]["mining_usd"])
    assert close(summary["total (USD)"], s["npv_hourly_usd"])
    assert close(summary["total (USD)"], sum(s["npv_lines_hourly_usd"].values()))
    cash = s["cash_flow"]
    assert close(summary["baseline NPV (USD)"], cash["baseline_npv_usd"])
    assert close(summary["incremental NPV (USD)"], cash["incremental_npv_usd"])
    assert close(summary["IRR of the incremental cash flows"], cash["irr"])
    assert summary["payback month"] == (cash["payback_month"] or "never")
    ws = openpyxl.load_workbook(solved_book)["summary"]
    irr_row = [c.value for c in ws["A"]].index("IRR of the incremental cash flows") + 1
    assert ws.cell(irr_row, 2).number_format == "0.0%"

    investments = book["investments"]
    assert len(investments) == len(folder.investments) > 0
    assert close(investments["capex (USD)"].sum(), folder.investments["capex_usd"].sum())
    assert close(investments["MW"].sum(), folder.investments["mw"].sum())
    monthly = book["monthly"]
    assert len(monthly) == len(folder.monthly)
    assert monthly["month"].tolist() == folder.monthly["month"].tolist()
    for key, head in (("import_usd", "Grid import cost (USD)"), ("mining_mw", "mining (MW)"),
                      ("discounted_margin_usd", "discounted margin (USD)")):
        assert close(monthly[head].sum(), folder.monthly[key].sum()), key

    annual = book["annual cash flow"]
    cf = folder.cashflow
    assert list(annual["case"].unique()) == ["plan", "baseline"]
    assert annual.iloc[0][["case", "site", "year"]].tolist() == ["plan", "portfolio", 2027]
    assert list(annual["site"].unique()) == ["portfolio", "alpha", "beta"]
    assert sorted(annual["year"].unique()) == [2027, 2028]
    for case in ("plan", "baseline"):
        rows, flows = annual[annual["case"] == case], cf[cf["case"] == case]
        sites = rows[rows["site"] != "portfolio"]
        portfolio = rows[rows["site"] == "portfolio"]
        fcf = flows["free_cash_flow_usd"].sum()
        assert close(portfolio["free cash flow (USD)"].sum(), fcf)
        assert close(sites["free cash flow (USD)"].sum(), fcf)
        assert close(portfolio["capex (USD)"].sum(), flows["capex_usd"].sum())
        assert close(portfolio["cumulative free cash flow (USD)"].iloc[-1], fcf)
    plan = annual[(annual["case"] == "plan") & (annual["site"] == "portfolio")]
    assert close(plan["terminal value (USD)"].sum(), cash["terminal_value_usd"])
    assert close(plan["capex (USD)"].sum(), folder.investments["capex_usd"].sum())


def test_no_investment_shows_no_irr_and_an_empty_investments_sheet(tmp_path: Path) -> None:
    invoke("solve", FIXTURES / "blocks_vs_hourly" / "scenario.toml", "--out", tmp_path / "r",
           "-q")
    book = sheets(write_workbook(tmp_path / "r", tmp_path / "none.xlsx"))
    assert book["investments"].empty
    assert list(book["investments"].columns)[-1] == "capex (USD)"
    summary = items(book["summary"])
    assert summary["IRR of the incremental cash flows"] == "none (no sign change)"
    assert summary["payback month"] == "never"


def test_futures_workbook(tmp_path: Path) -> None:
    invoke("solve", FIXTURES / "futures_static" / "scenario.toml", "--out", tmp_path / "r",
           "-q")
    folder = load(tmp_path / "r")
    path = write_workbook(folder, tmp_path / "futures.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [*SOLVE_SHEETS, "futures"]
    ws = book["futures"]
    assert [c.value for c in ws[1]][:3] == ["future", "probability", "NPV (USD)"]
    assert ws.cell(2, 2).number_format == "0.0%" and ws.cell(2, 3).number_format == "#,##0"
    assert ws.freeze_panes == "B2"
    frames = sheets(path)
    futures = frames["futures"]
    assert futures["future"].tolist() == folder.futures["future"].tolist()
    assert np.allclose(futures["NPV (USD)"], folder.futures["npv_usd"])
    assert np.allclose(futures["probability"], folder.futures["probability"])
    assert frames["investments"]["future"].tolist() == ["shared"]
    annual = frames["annual cash flow"]
    assert list(annual.columns[:4]) == ["case", "future", "site", "year"]
    assert close(annual.loc[annual["site"] == "portfolio", "free cash flow (USD)"].sum(),
                 folder.cashflow["free_cash_flow_usd"].sum())
    summary = items(frames["summary"])
    assert close(summary["expected NPV (USD)"], folder.summary["expected_npv_usd"])
    assert close(summary["total (USD)"], sum(folder.summary["npv_lines_usd"].values()))
    assert summary["futures (count)"] == folder.summary["futures"]


def test_sweep_workbook(tmp_path: Path) -> None:
    spec = tmp_path / "sweep.toml"
    spec.write_text(SWEEP.format(base=FIXTURES / "asic_buy_now" / "scenario.toml"))
    invoke("sweep", spec, "--out", tmp_path / "sw", "--workers", "2")
    folder = load(tmp_path / "sw" / "wb")
    assert isinstance(folder, SweepFolder)
    path = write_workbook(folder, tmp_path / "sweep.xlsx")
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["summary", "cases", "tornado"]
    cases_ws = book["cases"]
    heads = [c.value for c in cases_ws[1]]
    assert heads[:6] == ["rank", "case ID", "case", "series.hashprice.scale",
                         "scenario.discount_rate", "status"]
    assert "NPV (USD)" in heads and "a: ASIC MW bought (MW)" in heads
    assert cases_ws.cell(2, column(cases_ws, "NPV (USD)")).number_format == "#,##0"
    assert cases_ws.cell(2, column(cases_ws, "a: ASIC MW bought (MW)")).number_format == "0.00"
    assert cases_ws.freeze_panes == "D2" and book["tornado"].freeze_panes == "B2"
    frames = sheets(path)
    cases = frames["cases"]
    expected = folder.summary.sort_values("npv_usd", ascending=False)
    assert cases["rank"].tolist() == [1, 2]
    assert cases["case ID"].tolist() == expected["case_id"].tolist()
    assert np.allclose(cases["NPV (USD)"], expected["npv_usd"])
    axes = ["series.hashprice.scale", "scenario.discount_rate"]
    spans = sweeps.tornado(folder.summary, axes)
    tornado = frames["tornado"]
    assert list(tornado.columns) == ["axis", "value low", "NPV low (USD)", "value high",
                                     "NPV high (USD)", "range (USD)"]
    assert tornado["axis"].tolist() == spans["axis"].tolist() == axes
    assert np.allclose(tornado["range (USD)"], spans["range_usd"])
    summary = items(frames["summary"])
    assert summary["cases (count)"] == 2 and summary["not solved (count)"] == 0
    assert close(summary["best NPV (USD)"], expected["npv_usd"].iloc[0])

    failed = folder.summary.iloc[:1].assign(case_id="f", case="broken", status="error",
                                            npv_usd=np.nan, npv_hourly_usd=np.nan)
    with_failure = SweepFolder(folder.path, pd.concat([failed, folder.summary]))
    frames = sheets(write_workbook(with_failure, tmp_path / "failed.xlsx"))
    assert frames["cases"]["case"].iloc[-1] == "broken"
    assert frames["cases"]["NPV (USD)"].isna().tolist() == [False, False, True]
    assert items(frames["summary"])["not solved (count)"] == 1


def test_bad_targets_are_refused_and_nothing_is_written(solved: Path, tmp_path: Path) -> None:
    folder = load(solved)
    for target, words in ((tmp_path / "missing" / "x.xlsx", "does not exist"),
                          (tmp_path / "x.csv", "must end in .xlsx"),
                          (tmp_path / "dir.xlsx", "is a folder")):
        if target.name == "dir.xlsx":
            target.mkdir()
        with pytest.raises(InputError) as info:
            write_workbook(folder, target)
        assert info.value.exit_code == 2
        assert str(target) in info.value.message and words in info.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.xlsx"]
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(InputError, match="not writable") as info:
            write_workbook(folder, locked / "x.xlsx")
        assert info.value.exit_code == 2 and str(locked / "x.xlsx") in info.value.message
        assert not list(locked.iterdir())
    finally:
        locked.chmod(0o755)


def test_a_results_folder_missing_a_file_is_refused(solved: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(solved, broken)
    (broken / "monthly.parquet").unlink()
    target = tmp_path / "out" / "x.xlsx"
    target.parent.mkdir()
    with pytest.raises(InputError, match="monthly.parquet is missing") as info:
        write_workbook(broken, target)
    assert info.value.exit_code == 2
    assert not list(target.parent.iterdir())
    (broken / "summary.json").write_text(json.dumps({"npv_usd": 1.0, "results_version": 1}))
    with pytest.raises(InputError, match="incompatible optim version"):
        write_workbook(broken, target)
    assert not list(target.parent.iterdir())


def test_a_failure_while_writing_leaves_the_earlier_workbook(solved: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    target = write_workbook(load(solved), tmp_path / "plan.xlsx")
    before = target.read_bytes()

    def boom(_cash: pd.DataFrame) -> pd.DataFrame:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(workbook, "annual_table", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_workbook(load(solved), target)
    assert target.read_bytes() == before
    assert no_temp_files(tmp_path) and sorted(os.listdir(tmp_path)) == ["plan.xlsx"]


def test_headers_take_their_unit_from_the_suffix_and_sheet_names_fit() -> None:
    assert workbook.header("capex_usd") == "capex (USD)"
    assert workbook.header("npv_hourly_usd") == "NPV hourly (USD)"
    assert workbook.header("some_new_flow_mw") == "some new flow (MW)"
    assert workbook.header("mw") == "MW" and workbook.header("solve_s") == "solve (s)"
    assert workbook.header("site.pecos.ai.lease_usd_per_kw_month") == \
        "site.pecos.ai.lease_usd_per_kw_month"
    assert workbook.column_kind("some_new_line_usd", pd.Series([1.0])) == "usd"
    assert workbook.column_kind("irr", pd.Series([0.1])) == "rate"
    assert workbook.sheet_name("annual cash flow: a [very] long/odd name?") == \
        "annual cash flow_ a _very_ long"
    assert len(workbook.sheet_name("x" * 40)) == 31
