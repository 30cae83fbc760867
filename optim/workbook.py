"""The Excel workbook of a results folder (issue 13, item 2): the numbers a strategist hands
to finance, with units in the headers, number formats, frozen headers and fitted widths.

A solve's workbook has the sheets summary, investments, monthly, annual cash flow (and
futures with a futures run); a sweep's has summary, cases (ranked by NPV) and tornado.
Headers and formats follow the column names: `_usd` is USD (#,##0), `_mw` is MW (0.00),
rates are percentages, months stay text (YYYY-MM).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format

from optim import cashflow
from optim.errors import InputError
from optim.models import registry
from optim.option import Headline, headlines
from optim.outdir import _writable
from optim.results import flow_labels, line_labels, state_labels
from optim.results_folder import SolveFolder, SweepFolder, load
from optim.sweep import summary_paths, tornado

SOURCE = "workbook"
SUFFIX = ".xlsx"
MAX_SHEET_NAME = 31  # Excel's limit
INVALID_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})
MAX_WIDTH = 60
SHARED = "shared"  # investments.parquet's empty `future`: a decision shared by every future
UNITS = {"usd": "USD", "mw": "MW", "mwh": "MWh", "s": "s"}
RATES = frozenset({"irr", "discount_rate", "probability", "risk_alpha"})
ACRONYMS = {"npv": "NPV", "irr": "IRR", "ai": "AI", "asic": "ASIC", "mip": "MIP",
            "ebitda": "EBITDA", "cvar": "CVaR", "vss": "VSS", "evpi": "EVPI", "id": "ID",
            "gpu": "GPU", "fom": "FOM", "vom": "VOM"}
NUMBER_FORMATS = {"usd": "#,##0", "mw": "0.00", "rate": "0.0%", "gap": "0.00%",
                  "factor": "0.0000", "int": "0", "s": "0.0"}
SHOWN: dict[str, Callable[[float], str]] = {
    "usd": "{:,.0f}".format, "mw": "{:.2f}".format, "rate": "{:.1%}".format,
    "gap": "{:.2%}".format, "factor": "{:.4f}".format, "int": "{:.0f}".format,
    "s": "{:.1f}".format, "general": "{:.10g}".format}
OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False,
           "strings_to_numbers": False, "nan_inf_to_errors": True}


# ------------------------------------------------------------------- headers and formats


@cache
def _labels() -> dict[str, str]:
    return {**line_labels(), **flow_labels(), **state_labels()}


@cache
def _headlines() -> dict[str, Headline]:
    return headlines(registry())


def _words(text: str) -> str:
    return " ".join(ACRONYMS.get(w.lower(), w) for w in text.replace("_", " ").split())


def _unit(key: str) -> tuple[str, str | None]:
    """A column name's stem and unit code by its suffix: `capex_usd` -> ("capex", "usd"),
    `mw` -> ("", "mw")."""
    stem, _, last = key.rpartition("_")
    return (stem, last) if last in UNITS else (key, None)


def header(column: str) -> str:
    """A column's header text with its unit: `capex_usd` -> "capex (USD)", `mining_mw` ->
    "mining (MW)", `asic_mw__pecos` -> "pecos: ASIC MW bought (MW)"; a sweep path stays as
    the sweep file wrote it."""
    if "." in column:
        return column
    key, _, site = column.partition("__")
    found = _headlines()
    if site and key in found:
        h = found[key]
        unit = "MW" if h.column == "mw" else "count"
        label = h.label if f"({unit})" in h.label else f"{h.label} ({unit})"
        return f"{site}: {label}"
    stem, code = _unit(key)
    text = _words(_labels().get(key, stem))
    if code is not None and f"({UNITS[code]}" not in text:
        text = f"{text} ({UNITS[code]})" if text else UNITS[code]
    return f"{site}: {text}" if site else text


def column_kind(column: str, values: pd.Series) -> str:
    """How a column is formatted: a unit code, a rate, or by its type."""
    key = column.partition("__")[0]
    if pd.api.types.is_bool_dtype(values):
        return "bool"
    if not pd.api.types.is_numeric_dtype(values):
        return "text" if pd.api.types.is_string_dtype(values) else "general"
    if key in RATES:
        return "rate"
    if key == "mip_gap":
        return "gap"
    if key.endswith("factor"):
        return "factor"
    found = _headlines()
    if "." in column:
        code = None
    elif key in found:
        code = "mw" if found[key].column == "mw" else None
    else:
        code = _unit(key)[1]
    if code in NUMBER_FORMATS:
        return code
    return "int" if pd.api.types.is_integer_dtype(values) else "general"


def _shown(values: pd.Series, kind: str) -> pd.Series:
    """The text Excel shows for each value that is not blank (to size the column)."""
    if kind in SHOWN and pd.api.types.is_numeric_dtype(values):
        return values.dropna().map(SHOWN[kind]).astype(str)
    text = values.dropna().astype(str)
    return text.str.upper() if kind == "bool" else text


def sheet_name(name: str) -> str:
    """A valid Excel sheet name: no []:*?/\\ and at most 31 characters."""
    return name.translate(INVALID_SHEET_CHARS)[:MAX_SHEET_NAME]


# ------------------------------------------------------------------------------ writing


@dataclass
class _Styles:
    header: Format
    section: Format
    numbers: dict[str, Format]

    @classmethod
    def of(cls, book: xlsxwriter.Workbook) -> _Styles:
        return cls(book.add_format({"bold": True, "bottom": 1, "bg_color": "#E7ECF2"}),
                   book.add_format({"bold": True}),
                   {k: book.add_format({"num_format": f}) for k, f in NUMBER_FORMATS.items()})


def _width(head: str, shown: pd.Series) -> float:
    data = int(shown.str.len().max()) if len(shown) else 0
    return min(max(len(head) + 3, data + 2), MAX_WIDTH)  # +3: the autofilter's button


def _cells(values: pd.Series) -> list:
    return values.astype(object).where(values.notna(), None).tolist()


def _table(book: xlsxwriter.Workbook, styles: _Styles, name: str, frame: pd.DataFrame,
           frozen_columns: int = 0) -> None:
    """One sheet holding `frame`: headers with units, formats, fitted widths, a frozen
    header row (and `frozen_columns` key columns) and an autofilter."""
    sheet = book.add_worksheet(sheet_name(name))
    for j, column in enumerate(frame.columns):
        values = frame[column]
        kind = column_kind(str(column), values)
        head = header(str(column))
        sheet.write_string(0, j, head, styles.header)
        sheet.write_column(1, j, _cells(values), styles.numbers.get(kind))
        sheet.set_column(j, j, _width(head, _shown(values, kind)))
    sheet.freeze_panes(1, frozen_columns)
    sheet.autofilter(0, 0, max(len(frame), 1), max(len(frame.columns) - 1, 0))


def _key_value(book: xlsxwriter.Workbook, styles: _Styles, name: str,
               rows: list[tuple[str, object, str]]) -> None:
    """A two-column sheet of (item, value) rows, each value in its own format; kind
    "section" makes a bold heading row."""
    sheet = book.add_worksheet(sheet_name(name))
    sheet.write_row(0, 0, ["item", "value"], styles.header)
    shown = []
    for i, (item, value, kind) in enumerate(rows, start=1):
        if kind == "section":
            sheet.write_string(i, 0, item, styles.section)
            continue
        sheet.write_string(i, 0, item)
        sheet.write(i, 1, value, styles.numbers.get(kind))
        shown.append("".join(_shown(pd.Series([value]), kind)))
    items = [item for item, _, kind in rows if kind != "section"]
    sheet.set_column(0, 0, min(max(map(len, ["item", *items])) + 2, MAX_WIDTH))
    sheet.set_column(1, 1, _width("value", pd.Series(shown, dtype=object).astype(str)))
    sheet.freeze_panes(1, 0)


# ------------------------------------------------------------------------ a solve's sheets


def _plan_lines(summary: dict) -> tuple[str, dict[str, float], float]:
    """The NPV lines of the plan that is run (the hourly re-solve after blocks), what that
    plan is, and the total the lines add up to (the expected NPV of a futures run)."""
    hourly = bool(summary.get("npv_lines_hourly_usd"))
    lines = summary["npv_lines_hourly_usd"] if hourly else summary["npv_lines_usd"]
    key = "npv_hourly_usd" if hourly else "npv_usd"
    total = summary.get(f"expected_{key}", summary[key])
    plan = (f"hourly re-solve of the {summary['resolution']} investments, the plan that is run"
            if hourly else f"{summary['resolution']} solve")
    if "futures" in summary:
        plan += f", probability-weighted over {summary['futures']} futures"
    return plan, lines, float(total)


def _solve_summary(summary: dict) -> list[tuple[str, object, str]]:
    hourly = summary.get("npv_hourly_usd")
    rows: list[tuple[str, object, str]] = [
        ("scenario", summary.get("scenario", ""), "text"),
        ("status", summary.get("status", ""), "text"),
        ("resolution", summary.get("resolution", ""), "text"),
        ("NPV (USD)", summary["npv_usd"], "usd"),
        ("hourly NPV (USD)", hourly if hourly is not None else "n/a (hourly solve)",
         "usd" if hourly is not None else "text")]
    futures = [("expected_npv_usd", "expected NPV (USD)", "usd"),
               ("cvar_npv_usd", "CVaR NPV (USD)", "usd"),
               ("expected_npv_hourly_usd", "expected hourly NPV (USD)", "usd"),
               ("cvar_npv_hourly_usd", "CVaR hourly NPV (USD)", "usd"),
               ("risk_alpha", "risk alpha", "rate"), ("risk_weight", "risk weight", "general"),
               ("futures", "futures (count)", "int"),
               ("commit_months", "commit months (count)", "int"),
               ("vss_usd", "value of the stochastic solution (USD)", "usd"),
               ("evpi_usd", "expected value of perfect information (USD)", "usd")]
    rows += [(label, summary[key], kind) for key, label, kind in futures
             if summary.get(key) is not None]
    rows += [("MIP gap", summary.get("mip_gap"), "gap"),
             ("verified", summary.get("verified"), "bool")]
    plan, lines, total = _plan_lines(summary)
    rows += [("", None, "section"), (f"NPV by line (USD): {plan}", None, "section")]
    rows += [(header(k), v, "usd") for k, v in lines.items()]
    rows.append(("total (USD)", total, "usd"))
    rows += [("", None, "section"),
             ("cash flow against the no-investment baseline", None, "section")]
    cash = summary.get("cash_flow")
    if cash is None:
        return [*rows, ("baseline", "not computed for this run", "text")]
    rows += [("plan NPV (USD)", cash["plan_npv_usd"], "usd"),
             ("terminal value (USD)", cash["terminal_value_usd"], "usd")]
    if "baseline_error" in cash:
        return [*rows, ("baseline", str(cash["baseline_error"]), "text")]
    irr, payback = cash.get("irr"), cash.get("payback_month")
    return [*rows,
            ("baseline NPV (USD)", cash["baseline_npv_usd"], "usd"),
            ("incremental NPV (USD)", cash["incremental_npv_usd"], "usd"),
            ("incremental capex (USD)", cash["incremental_capex_usd"], "usd"),
            ("IRR of the incremental cash flows", irr if irr is not None else
             "none (no sign change)", "rate" if irr is not None else "text"),
            ("payback month", payback if payback is not None else "never", "text"),
            ("discount rate", cash.get("discount_rate"), "rate")]


def _sorted(frame: pd.DataFrame, orders: dict[str, list]) -> pd.DataFrame:
    """`frame` sorted stably by each column of `orders` in that column's given order."""
    keys = [c for c in orders if c in frame]
    rank = {c: {v: i for i, v in enumerate(orders[c])} for c in keys}
    return frame.sort_values(keys, key=lambda col: col.map(rank[col.name]), kind="stable",
                             ignore_index=True)


def annual_table(cash: pd.DataFrame) -> pd.DataFrame:
    """The annual cash flows of `optim.cashflow.annual`: the plan then the baseline, each
    the portfolio then the sites, by year (the terminal value in the last year)."""
    table = cashflow.annual(cash)
    cases = [cashflow.PLAN, cashflow.BASELINE]
    orders = {"case": [*cases, *sorted(set(table["case"]) - set(cases))],
              "site": [cashflow.PORTFOLIO, *pd.unique(cash["site"])],
              "year": sorted(pd.unique(table["year"]))}
    if "future" in table:
        orders = {"case": orders["case"], "future": list(pd.unique(cash["future"])),
                  "site": orders["site"], "year": orders["year"]}
    return _sorted(table, orders)


def _solve_sheets(book: xlsxwriter.Workbook, styles: _Styles, folder: SolveFolder) -> None:
    _key_value(book, styles, "summary", _solve_summary(folder.summary))
    investments = folder.investments
    if "future" in investments:
        investments = investments.assign(future=investments["future"].replace("", SHARED))
    _table(book, styles, "investments", investments)
    monthly, annual = folder.monthly, annual_table(folder.cashflow)
    _table(book, styles, "monthly", monthly,
           sum(k in monthly for k in ("future", "site", "month")))
    _table(book, styles, "annual cash flow", annual,
           sum(k in annual for k in ("case", "future", "site", "year")))
    if folder.futures is not None:
        _table(book, styles, "futures", folder.futures, 1)


# ------------------------------------------------------------------------ a sweep's sheets


def ranked(summary: pd.DataFrame) -> pd.DataFrame:
    """The cases by NPV, best first (unsolved ones last), numbered from 1 in `rank`."""
    out = summary.sort_values("npv_usd", ascending=False, na_position="last", kind="stable",
                              ignore_index=True) if "npv_usd" in summary else summary
    return out.assign(rank=range(1, len(out) + 1))[["rank", *out.columns]]


def _sweep_summary(folder: SweepFolder, cases: pd.DataFrame,
                   axes: list[str]) -> list[tuple[str, object, str]]:
    solved = cases[cases["npv_usd"].notna()] if "npv_usd" in cases else cases.iloc[:0]
    rows: list[tuple[str, object, str]] = [
        ("sweep", folder.path.name, "text"),
        ("cases (count)", len(cases), "int"),
        ("solved (count)", len(solved), "int"),
        ("not solved (count)", len(cases) - len(solved), "int"),
        ("sweep paths", ", ".join(axes) or "none", "text")]
    if len(solved):
        best, worst = solved.iloc[0], solved.iloc[-1]
        rows += [("best case", str(best["case"]), "text"),
                 ("best NPV (USD)", float(best["npv_usd"]), "usd"),
                 ("worst case", str(worst["case"]), "text"),
                 ("worst NPV (USD)", float(worst["npv_usd"]), "usd")]
    return rows


def _sweep_sheets(book: xlsxwriter.Workbook, styles: _Styles, folder: SweepFolder) -> None:
    summary = folder.summary
    if not {"case", "status"} <= set(summary.columns):
        raise InputError(f"{folder.path}: summary.parquet is not a sweep summary (no case "
                         "or status column): run the sweep again", SOURCE)
    axes = summary_paths(summary)
    cases = ranked(summary)
    _key_value(book, styles, "summary", _sweep_summary(folder, cases, axes))
    _table(book, styles, "cases", cases, list(cases.columns).index("case") + 1)
    _table(book, styles, "tornado", tornado(summary, axes), 1)


# -------------------------------------------------------------------------------- entry


def check_target(path: Path) -> None:
    """Refuse (exit 2) a target that cannot become a workbook, before anything is written."""
    folder = path.parent
    if path.suffix.lower() != SUFFIX:
        raise InputError(f"{path}: a workbook's name must end in {SUFFIX}", SOURCE)
    if not folder.is_dir():
        raise InputError(f"{path}: its folder {folder} does not exist (create it first)",
                         SOURCE)
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name such as "
                         f"{path / ('report' + SUFFIX)}", SOURCE)
    if not _writable(folder):
        raise InputError(f"{path}: its folder {folder} is not writable", SOURCE)


def write_workbook(folder: SolveFolder | SweepFolder | Path, path: Path) -> Path:
    """Write the workbook of a solve's or a sweep's results folder (a loaded one, or its
    path) to `path`: via a temporary file beside it and a rename, so a failure leaves
    neither a half-written workbook nor the temporary file. InputError (exit 2) for a
    target that cannot be written or a folder that is not a results folder."""
    path = Path(path)
    check_target(path)
    if not isinstance(folder, SolveFolder | SweepFolder):
        folder = load(Path(folder))
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with xlsxwriter.Workbook(str(tmp), OPTIONS) as book:
            book.set_properties({"title": f"optim results: {folder.path.name}",
                                 "author": "optim"})
            styles = _Styles.of(book)
            if isinstance(folder, SweepFolder):
                _sweep_sheets(book, styles, folder)
            else:
                _solve_sheets(book, styles, folder)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
