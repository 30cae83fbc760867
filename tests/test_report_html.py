"""`optim report`: the HTML report of a results or sweep folder, read as a user sees it.

Content: the headline numbers are summary.json's, the cash-flow table is cashflow.annual's,
every chart names and draws a title, axis labels with units and a legend; the futures, the
sweep and the hourly variants; bad input exits 2 leaving nothing written. The browser
test loads the sample's report in headless Chromium with the network off (the recipe of
docs/make_report_png.py): no console error, every chart area drawn.
"""

from __future__ import annotations

import html
import importlib.util
import io
import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from helpers import SITE, write_case
from typer.testing import CliRunner

from optim import cashflow, cli, sample
from optim import sweep as sweeps
from optim.report_cli import report
from optim.report_html import render, write_report
from optim.results_folder import load

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
RAW = sample.default_raw_dir()
RAW_PRESENT = all((RAW / name).is_file() for name in sample.RAW_FILES.values())
MAX_REPORT_BYTES = 2_000_000
MIN_INK_SHARE = 0.01  # a drawn chart: at least 1 % of its pixels are not white

_spec = importlib.util.spec_from_file_location("make_report_png",
                                               REPO / "docs" / "make_report_png.py")
recipe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe)

SWEEP = """
[sweep]
name = "report"
base = "{base}"
timeout_s = 120

[[axis]]
path = "series.hashprice.scale"
values = [0.9, 1.1]

[[axis]]
path = "scenario.discount_rate"
values = [0.0, 0.1]
"""


def _app() -> typer.Typer:
    """`optim report` as the CLI registers it (`app.command()(report)`)."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.command()(report)
    return app


def run_report(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(_app(), ["report", *args])
    return result.exit_code, " ".join(result.output.split())


def solve(scenario: Path, out: Path, *extra: str) -> Path:
    result = CliRunner().invoke(cli.app, ["solve", str(scenario), "--out", str(out), "-q",
                                          *extra])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def sample_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample built from the raw data into a temporary folder and solved once (without
    its baseline, which doubles the solve time; `payback_results` has one)."""
    if not RAW_PRESENT:
        pytest.skip(f"raw data not found in {RAW} (set OPTIM_RAW_DIR to the raw-data folder)")
    work = tmp_path_factory.mktemp("report-sample")
    shutil.copy(REPO / "data" / "sample" / "scenario.toml", work / "scenario.toml")
    sample.build_sample(RAW, work / "generated")
    return solve(work / "scenario.toml", work / "results", "--no-baseline")


@pytest.fixture(scope="module")
def payback_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan with its baseline: an incremental NPV, an IRR and a payback month."""
    out = tmp_path_factory.mktemp("report-payback") / "results"
    return solve(FIXTURES / "cash_flow_payback" / "scenario.toml", out)


@pytest.fixture(scope="module")
def sample_page(sample_results: Path) -> Path:
    return write_report(sample_results)


@pytest.fixture(scope="module")
def futures_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report-futures") / "results"
    return solve(FIXTURES / "futures_adapt" / "scenario.toml", out)


@pytest.fixture(scope="module")
def hourly_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One site whose mining stops in the dear hours (150 USD/MWh against ~100 earned),
    with hourly.parquet written."""
    work = tmp_path_factory.mktemp("report-hourly")
    price = np.where(np.arange(744) % 4 == 0, 150.0, 30.0)
    scenario = write_case(work, SITE, price=price)
    return solve(scenario, work / "results", "--write-hourly", "--no-baseline")


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("report-sweep")
    path = work / "sweep.toml"
    path.write_text(SWEEP.format(base=FIXTURES / "asic_buy_now" / "scenario.toml"))
    outcome = sweeps.run_sweep(sweeps.load_sweep(path), work / "sweeps", workers=2)
    assert outcome.failed == 0
    return outcome.path.parent


# ----------------------------------------------------------------------------- reading


def millions(usd: float) -> str:
    """The report's million-USD cells: two decimals, no "-0.00"."""
    return f"{round(usd / 1e6, 2) + 0.0:,.2f}"


def cards(page: str) -> dict[str, str]:
    """The headline cards: key -> value text."""
    found = re.findall(r'<div class="k">(.*?)</div><div class="v[^"]*">(.*?)</div>', page)
    return {html.unescape(k): html.unescape(v) for k, v in found}


def charts(page: str) -> list[dict[str, str]]:
    """Every chart: its id, the labels it names (data-*) and its SVG."""
    out = []
    for attrs, svg in re.findall(r'<figure class="chart" ([^>]*)>(.*?)</figure>', page, re.S):
        named = {k: html.unescape(v) for k, v in re.findall(r'([\w-]+)="([^"]*)"', attrs)}
        out.append({**named, "svg": svg})
    return out


def svg_texts(svg: str) -> set[str]:
    return {html.unescape(t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)}


def tables(page: str) -> list[pd.DataFrame]:
    """Every table of the page as strings (pandas' reader needs lxml; this does not)."""
    out = []
    for head, body in re.findall(r"<thead>(.*?)</thead><tbody>(.*?)</tbody>", page, re.S):
        cols = [html.unescape(c) for c in re.findall(r"<th[^>]*>(.*?)</th>", head)]
        rows = [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]
        out.append(pd.DataFrame(rows, columns=cols))
    return out


def table_after(page: str, heading: str) -> pd.DataFrame:
    rest = page[page.index(heading):]
    return tables(rest)[0]


def check_charts(page: str, expected: int) -> list[dict[str, str]]:
    """Every chart draws its title, axis labels (one of them with a unit in parentheses)
    and a legend; returns them."""
    found = charts(page)
    assert len(found) == expected, [c["id"] for c in found]
    for chart in found:
        texts = svg_texts(chart["svg"])
        assert chart["data-title"] in texts, chart["id"]
        labels = [*chart["data-xlabel"].split(" | "), *chart["data-ylabel"].split(" | ")]
        assert all(labels) and len(labels) >= 2, (chart["id"], labels)
        assert all(label in texts for label in labels), (chart["id"], labels)
        assert any(re.search(r"\((?:[^)]*\b(?:USD|MW|%|MWh|multiplier)[^)]*)\)", label)
                   for label in labels), (chart["id"], labels)
        legend = chart["data-legend"].split(" | ")
        assert all(legend) and all(entry in texts for entry in legend), chart["id"]
        assert f'id="{chart["id"]}-legend_1"' in chart["svg"], chart["id"]
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "element ids repeat across charts"
    return found


def self_contained(page: str) -> None:
    """Nothing in the page is fetched: no script, link, import, or external source."""
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r'(?:src|href)="(?!#)', page)
    assert not re.search(r"url\((?!#)", page)


# ----------------------------------------------------------------------------- content


def test_sample_report_headline_and_charts(sample_results: Path, sample_page: Path) -> None:
    page = sample_page.read_text()
    assert sample_page == sample_results / "report.html"
    assert sample_page.stat().st_size < MAX_REPORT_BYTES
    self_contained(page)
    s = json.loads((sample_results / "summary.json").read_text())
    shown = cards(page)
    assert shown[f"NPV, {s['resolution']} solve"] == f"{s['npv_usd']:,.0f} USD"
    assert shown["NPV, hourly re-solve"] == f"{s['npv_hourly_usd']:,.0f} USD"
    assert shown["status"] == s["status"] == "optimal"
    assert shown["MIP gap"] == f"{s['mip_gap']:.3%}"
    assert shown["verified"] == "yes" and s["verified"] is True
    assert shown["plan NPV (from cash flows)"] == f"{s['cash_flow']['plan_npv_usd']:,.0f} USD"
    assert "the baseline was not solved (optim solve --no-baseline)" in page
    sites = pd.read_parquet(sample_results / "monthly.parquet")["site"].unique()
    found = check_charts(page, expected=len(charts(page)))
    ids = [c["id"] for c in found]
    assert {"chart-waterfall", "chart-timeline", "chart-cash"} <= set(ids)
    assert sum(i.startswith("chart-mw-") for i in ids) == len(sites) - 1  # abilene_gf: idle
    assert "No power flows in any month at: abilene_gf" in page
    curtail = [c for c in found if c["id"].startswith("chart-curtail-")]
    assert curtail and all("ASIC fleet not mining by month" in c["data-title"] for c in curtail)
    waterfall = found[ids.index("chart-waterfall")]
    assert f"{s['npv_hourly_usd'] / 1e6:+,.1f}" in svg_texts(waterfall["svg"])
    lines = s["npv_lines_hourly_usd"]
    assert abs(sum(lines.values()) - s["npv_hourly_usd"]) < 1e-6 * abs(s["npv_hourly_usd"])
    timeline = svg_texts(found[ids.index("chart-timeline")]["svg"])
    assert {"corsicana · AI halls started", "corsicana · AI halls online"} <= timeline
    marker = json.loads((sample_results / ".optim-results").read_text())
    assert "report.html" in marker["files"]


def test_plan_against_its_baseline(payback_results: Path, tmp_path: Path) -> None:
    """The cash-flow headline is summary.json's and the annual tables are
    cashflow.annual's (plan, baseline and their difference)."""
    page = write_report(payback_results, tmp_path / "p.html").read_text()
    cash = json.loads((payback_results / "summary.json").read_text())["cash_flow"]
    shown = cards(page)
    assert shown["baseline NPV (no new investment)"] == f"{cash['baseline_npv_usd']:,.0f} USD"
    assert shown["incremental NPV"] == f"{cash['incremental_npv_usd']:,.0f} USD"
    assert shown["incremental capex"] == f"{cash['incremental_capex_usd']:,.0f} USD"
    assert shown["IRR (incremental, annual)"] == f"{cash['irr']:.1%}"
    assert shown["payback month"] == cash["payback_month"] == "2027-12"
    annual = cashflow.annual(pd.read_parquet(payback_results / "cashflow.parquet"))
    port = annual[annual["site"] == cashflow.PORTFOLIO]
    plan = port[port["case"] == cashflow.PLAN].reset_index(drop=True)
    base = port[port["case"] == cashflow.BASELINE].reset_index(drop=True)
    assert plan["year"].tolist() == [2027, 2028]

    def row(frame: pd.DataFrame, col: str) -> list[str]:
        return [millions(v) for v in [*frame[col], frame[col].sum()]]

    money = [c for c in plan.columns if c.endswith("_usd")]
    increment = plan[money] - base[money]
    for heading, frame in (("Portfolio: the plan", plan), ("Portfolio: the baseline", base),
                           ("Incremental: plan − baseline", increment)):
        table = table_after(page, heading).set_index("million USD")
        assert list(table.columns) == ["2027", "2028", "total"], heading
        for name, col in (("free cash flow", "free_cash_flow_usd"), ("EBITDA", "ebitda_usd"),
                          ("cash capex (outflow)", "capex_usd"),
                          ("terminal value (horizon end)", "terminal_value_usd")):
            assert table.loc[name].tolist() == row(frame, col), (heading, name)
    assert table_after(page, "Portfolio: the plan").set_index("million USD").loc[
        "terminal value (horizon end)", "total"] == millions(cash["terminal_value_usd"])
    found = {c["id"]: c for c in check_charts(page, expected=len(charts(page)))}
    assert "baseline (no new investment): free cash flow" in found["chart-cash"]["data-legend"]


def test_futures_report(futures_results: Path, tmp_path: Path) -> None:
    page = write_report(futures_results, tmp_path / "f.html").read_text()
    self_contained(page)
    s = json.loads((futures_results / "summary.json").read_text())
    shown = cards(page)
    assert shown["expected NPV"] == f"{s['expected_npv_usd']:,.0f} USD"
    assert shown[f"CVaR {s['risk_alpha']:g}"] == f"{s['cvar_npv_usd']:,.0f} USD"
    assert "a futures run is not compared with a baseline" in page
    found = {c["id"]: c for c in check_charts(page, expected=len(charts(page)))}
    assert "NPV over 2 futures" in found["chart-futures"]["data-title"]
    npvs = table_after(page, "Futures: the NPV distribution")
    assert npvs["future"].tolist() == ["bear", "bull"]
    assert npvs["NPV (USD)"].tolist() == ["0", "575,200"]
    assert "No decision is shared by every future." in page
    later = table_after(page, "Later decisions, by future")
    assert later.iloc[0][["future", "site", "decision month"]].tolist() == ["bull", "a",
                                                                            "2027-02"]
    folder = load(futures_results)
    assert render(folder) == render(folder)  # deterministic


def test_hourly_folder_draws_a_price_duration_curve(hourly_results: Path, tmp_path: Path) -> None:
    page = write_report(hourly_results, tmp_path / "h.html").read_text()
    found = {c["id"]: c for c in check_charts(page, expected=len(charts(page)))}
    curve = found["chart-curtail-0"]
    assert "price-duration curve (744 hours ranked by price" in curve["data-title"]
    assert "the baseline was not solved (optim solve --no-baseline)" in page
    hourly = pd.read_parquet(hourly_results / "hourly.parquet")
    dear = hourly["price_usd_per_mwh"] > 100
    assert (hourly.loc[dear, "mining_mw"] < 1e-6).all()  # the chart has something to show


def test_sweep_report(sweep_folder: Path) -> None:
    code, output = run_report(str(sweep_folder))
    assert code == 0, output
    page = (sweep_folder / "report.html").read_text()
    self_contained(page)
    summary = pd.read_parquet(sweep_folder / "summary.parquet")
    ranked = table_after(page, "Cases ranked by NPV")
    best = summary.sort_values("npv_usd", ascending=False)
    assert ranked["case"].tolist() == best["case"].tolist()
    assert ranked["NPV (USD)"].tolist() == [f"{v:,.0f}" for v in best["npv_usd"]]
    found = {c["id"]: c for c in check_charts(page, expected=3)}
    assert set(found) == {"chart-tornado", "chart-axis-0", "chart-axis-1"}
    spans = sweeps.tornado(summary, ["series.hashprice.scale", "scenario.discount_rate"])
    table = table_after(page, "What moves the NPV")
    assert table["axis"].tolist() == spans["axis"].tolist()
    assert table["range (USD)"].tolist() == [f"{v:,.0f}" for v in spans["range_usd"]]
    assert "multiplier of the series" in found["chart-axis-0"]["data-xlabel"]


# --------------------------------------------------------------------------- the command


def test_command_writes_the_page_and_the_workbook(futures_results: Path,
                                                  tmp_path: Path) -> None:
    out, xlsx = tmp_path / "out" / "r.html", tmp_path / "r.xlsx"
    code, output = run_report(str(futures_results), "--out", str(out), "--xlsx", str(xlsx))
    assert code == 0, output
    assert f"wrote {out}" in output and f"wrote {xlsx}" in output
    assert out.read_text().startswith("<!DOCTYPE html>") and xlsx.stat().st_size > 0
    code, output = run_report(str(futures_results), "--out", str(out))  # its own: replaced
    assert code == 0, output


def _assert_refused(code: int, output: str, *words: str) -> None:
    assert code == 2, output
    assert output.startswith("error (exit 2):"), output
    for word in words:
        assert word in output, (word, output)


def test_not_a_results_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    _assert_refused(*run_report(str(tmp_path)), "not a results folder", "no summary.json")
    _assert_refused(*run_report(str(tmp_path / "missing")), "does not exist")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_incompatible_version_and_missing_file(futures_results: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(futures_results, old)
    summary = json.loads((old / "summary.json").read_text())
    (old / "summary.json").write_text(json.dumps({**summary, "results_version": 1}))
    _assert_refused(*run_report(str(old)), "incompatible optim version", "solve the scenario "
                    "again")
    partial = tmp_path / "partial"
    shutil.copytree(futures_results, partial)
    (partial / "monthly.parquet").unlink()
    _assert_refused(*run_report(str(partial)), "monthly.parquet is missing")
    for folder in (old, partial):
        assert not [p for p in folder.iterdir() if p.name.startswith((".report", "report"))]


def test_refused_outputs_leave_nothing(futures_results: Path, tmp_path: Path) -> None:
    foreign = tmp_path / "mine.html"
    foreign.write_text("<html>my own page</html>")
    _assert_refused(*run_report(str(futures_results), "--out", str(foreign)),
                    "not written by optim")
    assert foreign.read_text() == "<html>my own page</html>"
    _assert_refused(*run_report(str(futures_results), "--out", str(tmp_path / "r.txt")),
                    "ending in .html")
    page = tmp_path / "r.html"
    (tmp_path / "book.xlsx").mkdir()
    code, output = run_report(str(futures_results), "--out", str(page), "--xlsx",
                              str(tmp_path / "book.xlsx"))
    assert code == 2, output
    assert not page.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx", "mine.html"]


# --------------------------------------------------------------------------- the browser


def _browser_or_skip() -> None:
    """Skip without Chromium, unless in CI (CI set): there a missing browser fails."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing = "selenium is not installed"
    else:
        missing = "" if recipe.have_browser() else \
            f"{recipe.CHROMIUM} or {recipe.CHROMEDRIVER} is missing (apt-get install " \
            "chromium chromium-driver)"
    if missing and os.environ.get("CI"):
        pytest.fail(f"{missing}: the browser test must run in CI")
    if missing:
        pytest.skip(missing)


def test_sample_report_in_an_offline_browser(sample_page: Path, tmp_path: Path) -> None:
    _browser_or_skip()
    from PIL import Image
    from selenium.webdriver.common.by import By

    page = sample_page.read_text()
    with recipe.offline_browser() as driver:
        driver.get(sample_page.resolve().as_uri())
        assert driver.title == "optim plan: sample"
        assert driver.execute_script("return document.readyState") == "complete"
        elements = driver.find_elements(By.CSS_SELECTOR, "figure.chart")
        assert len(elements) == len(charts(page)) >= 10
        for element in elements:
            assert element.size["width"] > 300 and element.size["height"] > 150
            image = Image.open(io.BytesIO(element.screenshot_as_png)).convert("L")
            ink = np.asarray(image) < 235
            assert ink.mean() > MIN_INK_SHARE, element.get_attribute("id")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    png = recipe.shoot(sample_page, tmp_path / "report.png")
    shot = Image.open(png)
    assert shot.size[0] == recipe.WIDTH_PX and png.stat().st_size < 300_000
