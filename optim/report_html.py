"""The report of a results folder: one self-contained HTML page a strategist can take to a
board (`optim report`, `optim solve --report`; docs/report.md).

Pure rendering: `render` reads only the folder optim wrote (`optim.results_folder`) and
returns the page; `write_report` writes it atomically. Charts are inline SVG drawn by
matplotlib (Agg, text kept as text), so the page opens offline in any browser and fetches
nothing: no scripts, no web fonts, no external links. Labels of lines, flows, states and
investment kinds come from the option registry.
"""

from __future__ import annotations

import html
import io
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optim import cashflow
from optim.outdir import RESULTS_FILES, OutputError, read_marker, write_marker
from optim.results import flow_labels, line_labels, state_labels
from optim.results_folder import SolveFolder, SweepFolder, load

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

REPORT_NAME = "report.html"
GENERATOR = "optim report"  # <meta name="generator">: marks a page optim wrote
# MODEL.md §6: each use is drawn against import, generation and export. The registry gives
# flows labels but not their role in the power balance, so the lines (sources, and the MW
# a deployment takes off the load) and the MW reported but not drawn are named here.
LINE_FLOWS = ("import_mw", "generation_mw", "export_mw", "reserve_deployed_mw")
NOT_DRAWN = frozenset({"ai_unused_mw"})
HOURS_PER_DAY = 24
PRICE_BINS = 100  # an hourly price-duration curve is drawn in this many bins of hours
MUSD = 1e6

GREEN, RED, BLUE, GREY = "#2e8b57", "#c0392b", "#1f4e79", "#7f7f7f"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f", "#d62728")
LINE_STYLES = {"import_mw": ("#000000", "-"), "generation_mw": ("#2ca02c", "--"),
               "export_mw": ("#d62728", ":"), "reserve_deployed_mw": ("#9467bd", "-.")}
RC = {"svg.fonttype": "none", "text.parse_math": False, "font.size": 9,
      "font.family": "sans-serif", "font.sans-serif": ["DejaVu Sans"],
      "axes.spines.top": False, "axes.spines.right": False, "axes.titlesize": 10,
      "axes.titleweight": "bold", "legend.fontsize": 8, "legend.frameon": False}
_FONT_STYLE = re.compile(r"font-family: [^;\"]+;? ?")

CSS = """
body{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif;color:#1b1b1b;margin:0;
background:#f5f6f8;line-height:1.4}
main{max-width:1180px;margin:0 auto;padding:18px 24px 40px;background:#fff}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:2px solid #1f4e79;padding-bottom:3px}h3{font-size:14px;margin:18px 0 6px}
p.note{color:#555;font-size:12.5px;margin:4px 0 8px}.sub{color:#555;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(205px,1fr));gap:8px;
margin:10px 0}.card{border:1px solid #d5dae1;border-radius:6px;padding:7px 10px;
background:#fafbfc}.card .k{font-size:11.5px;color:#555}.card .v{font-size:16px;
font-weight:bold;font-variant-numeric:tabular-nums}.card .d{font-size:11px;color:#666}
.good{color:#2e7d32}.bad{color:#b71c1c}
figure.chart{margin:10px 0 16px;padding:0}figure.chart svg{max-width:100%;height:auto;
display:block}svg text{font-family:"DejaVu Sans",Arial,Helvetica,sans-serif}
table{border-collapse:collapse;font-size:12px;margin:6px 0 14px;
font-variant-numeric:tabular-nums}th,td{border-bottom:1px solid #e1e4e8;padding:3px 8px}
th{background:#eef1f5;text-align:left;position:sticky;top:0}td.n,th.n{text-align:right}
tr.strong td{font-weight:bold;border-top:1px solid #9aa4b1}.scroll{overflow-x:auto}
footer{margin-top:30px;color:#777;font-size:11.5px}
"""


# --------------------------------------------------------------------------- charts


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _svg(fig: Figure, chart_id: str, title: str) -> str:
    """The figure as inline SVG whose ids are unique in the page (prefixed by the chart's
    id, hashed with it as the salt), text kept as text, no metadata."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r'\bid="', f'id="{chart_id}-', text)
    text = re.sub(r'(url\(#|href="#)', rf"\1{chart_id}-", text)
    text = _FONT_STYLE.sub("", text)
    label = html.escape(title, quote=True)
    return text.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1)


def _chart(chart_id: str, title: str, draw: Callable[[Figure], None],
           size_in: tuple[float, float]) -> str:
    """A <figure> holding one chart: `draw(fig)` draws it. Every chart has a title, axis
    labels with units and a legend; the figure element names them (data-title,
    data-xlabel, data-ylabel, data-legend) so a test can check they are drawn."""
    with _style():
        fig = _figure(*size_in)
        draw(fig)
        svg = _svg(fig, chart_id, title)
        axes = fig.get_axes()
        xlabels = [a.get_xlabel() for a in axes if a.get_xlabel()]
        ylabels = [a.get_ylabel() for a in axes if a.get_ylabel()]
        legends = [t.get_text() for g in [*fig.legends, *(a.get_legend() for a in axes)]
                   if g is not None for t in g.get_texts()]
    attrs = {"title": title, "xlabel": " | ".join(xlabels), "ylabel": " | ".join(ylabels),
             "legend": " | ".join(legends)}
    data = " ".join(f'data-{k}="{_e(v)}"' for k, v in attrs.items())
    return f'<figure class="chart" id="{chart_id}" {data}>{svg}</figure>'


def _legend(ax: Axes, handles: list | None = None, names: list[str] | None = None,
            title: str | None = None) -> None:
    """The chart's legend under its axes, in as many columns as fit (so every chart's plot
    area spans the same width)."""
    if handles is None:
        handles, names = ax.get_legend_handles_labels()
    width = max((len(n) for n in names or [""]), default=10)
    ncols = max(1, min(len(handles), 110 // max(width + 6, 1)))
    ax.figure.legend(handles, names, loc="outside lower center", ncols=ncols, title=title)


def _month_ticks(ax: Axes, months: list[str]) -> None:
    """Month labels under positions 0..n-1, at most about a dozen of them."""
    step = max(1, int(np.ceil(len(months) / 12)))
    ticks = list(range(0, len(months), step))
    ax.set_xticks(ticks, [months[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlim(-0.6, len(months) - 0.4)


def _waterfall(lines: dict[str, float], total: float, total_label: str, title: str,
               chart_id: str = "chart-waterfall") -> str:
    """Horizontal waterfall: each NPV line floats from the running sum; the last bar is
    the NPV the lines add up to."""
    labels = line_labels()
    items = [(labels.get(k, k), v / MUSD) for k, v in lines.items() if abs(v) >= 0.5]
    names = [n for n, _ in items] + [total_label]
    values = np.array([v for _, v in items], dtype=float)
    starts = np.concatenate([[0.0], np.cumsum(values)[:-1]]) if len(values) else values

    def draw(fig: Figure) -> None:
        from matplotlib.patches import Patch

        ax = fig.add_subplot()
        y = np.arange(len(names))
        ax.barh(y[:-1], values, left=starts, color=np.where(values >= 0, GREEN, RED),
                height=0.62)
        ax.barh(y[-1], total / MUSD, color=BLUE, height=0.62)
        span = max(float(np.abs(np.concatenate([starts + values, [total / MUSD]])).max()),
                   1e-9)
        for yi, left, v in zip(y, [*starts, 0.0], [*values, total / MUSD], strict=True):
            end = left + v
            ax.text(end + (0.01 if v >= 0 else -0.01) * span, yi, f"{v:+,.1f}",
                    va="center", ha="left" if v >= 0 else "right", fontsize=7.5)
        ax.axvline(0.0, color="0.3", lw=0.8)
        ax.set_yticks(y, names)
        ax.invert_yaxis()
        low = min(0.0, float((starts + values).min(initial=0.0)), total / MUSD)
        high = max(0.0, float((starts + values).max(initial=0.0)), total / MUSD)
        ax.set_xlim(low - (0.12 if low < 0 else 0.02) * span, high + 0.12 * span)
        ax.set_title(title, loc="left")
        ax.set_xlabel("discounted NPV contribution (million USD)")
        ax.set_ylabel("NPV line")
        ax.grid(axis="x", alpha=0.3)
        _legend(ax, [Patch(color=GREEN), Patch(color=RED), Patch(color=BLUE)],
                ["adds value", "costs value", f"{total_label} (sum of the lines)"])

    return _chart(chart_id, title, draw, (11.0, 0.3 * len(names) + 1.4))


def _site_mw(site: str, frame: pd.DataFrame, note: str, chart_id: str) -> str | None:
    """Stacked average MW of each use per month, against import, generation and export
    (and the MW reserve deployments take off the load) as lines; None if all are zero."""
    labels = flow_labels()
    months = frame["month"].tolist()
    x = np.arange(len(months))
    uses = [f for f in labels if f not in LINE_FLOWS and f in frame
            and frame[f].abs().max() > 1e-6]
    lines = [f for f in LINE_FLOWS if f in frame and frame[f].abs().max() > 1e-6]
    if not uses and not lines:
        return None
    title = f"{site}: average MW by use per month{note}"

    colour = {f: PALETTE[i % len(PALETTE)] for i, f in
              enumerate(f for f in labels if f not in LINE_FLOWS)}

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        bottom = np.zeros(len(x))
        handles = []
        for flow in uses:
            mw = frame[flow].to_numpy(float)
            hatch = flow in NOT_DRAWN
            label = labels[flow] + (" (reserved, not drawn)" if hatch else "")
            handles.append(ax.bar(x, mw, bottom=bottom, width=0.9, label=label,
                                  color="none" if hatch else colour[flow],
                                  edgecolor=colour[flow] if hatch else "none",
                                  hatch="////" if hatch else None, linewidth=0.6))
            bottom += mw
        for flow in lines:
            color, style = LINE_STYLES[flow]
            handles.append(ax.stairs(frame[flow].to_numpy(float), np.arange(len(x) + 1) - 0.5,
                                     baseline=None, color=color, ls=style, lw=1.6,
                                     label=labels.get(flow, flow)))
        _month_ticks(ax, months)
        ax.set_ylim(bottom=0)
        ax.set_title(title, loc="left")
        ax.set_xlabel("month")
        ax.set_ylabel("average power (MW)")
        ax.grid(axis="y", alpha=0.3)
        _legend(ax, handles, [h.get_label() for h in handles],
                title="uses (stacked bars) and sources (lines)")

    return _chart(chart_id, title, draw, (11.0, 3.5))


def _hours(months: pd.Series) -> np.ndarray:
    """Hours in each calendar month (UTC horizon: days x 24)."""
    return pd.PeriodIndex(months, freq="M").days_in_month.to_numpy() * HOURS_PER_DAY


def _idle_share(mining_mw: np.ndarray, fleet_mw: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(fleet_mw > 1e-9, np.clip(1.0 - mining_mw / fleet_mw, 0.0, 1.0),
                        np.nan)


def _per_mwh(usd: np.ndarray, mw: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """USD per MWh of a month's average MW (NaN where nothing flowed)."""
    energy_mwh = mw * hours
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(energy_mwh > 1e-6, usd / energy_mwh, np.nan)


def _curtailment_monthly(site: str, frame: pd.DataFrame, note: str,
                         chart_id: str) -> str | None:
    """Months ranked by the average import cost paid (import cost / MWh imported: what
    monthly.parquet allows, it has no market prices), each with the share of the ASIC
    fleet's MW not mining and the mining revenue earned per MWh mined; None without a
    fleet."""
    fleet = frame["asic_fleet_mw"].to_numpy(float)
    if not (fleet > 1e-9).any():
        return None
    hours = _hours(frame["month"])
    idle = _idle_share(frame["mining_mw"].to_numpy(float), fleet)
    cost = _per_mwh(-frame["import_usd"].to_numpy(float), frame["import_mw"].to_numpy(float),
                    hours)
    revenue = _per_mwh(frame["mining_usd"].to_numpy(float) if "mining_usd" in frame
                       else np.zeros(len(frame)), frame["mining_mw"].to_numpy(float), hours)
    priced = np.isfinite(cost)
    flat = priced.any() and np.nanmax(cost) - np.nanmin(cost) < 0.01
    ranked = priced.any() and not flat
    order = np.lexsort((np.arange(len(cost)), -np.nan_to_num(cost, nan=-np.inf))) if ranked \
        else np.arange(len(cost))
    how = "months ranked by average import cost paid, highest first" if ranked else \
        "calendar order (" + ("one import cost" if flat else "no import") + ")"
    title = f"{site}: ASIC fleet not mining by month, {how}{note}"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        x = np.arange(len(order))
        ax.bar(x, np.nan_to_num(idle[order]) * 100.0, width=0.85, color="#e67e22",
               label="ASIC fleet MW not mining (curtailed or down), % (left axis)")
        ax.set_ylim(0, 105)
        ax.set_ylabel("ASIC fleet not mining (% of fleet MW)")
        ax.set_xlabel("month, ranked by import cost paid" if ranked else "month")
        _month_ticks(ax, [str(m) for m in frame["month"].to_numpy()[order]])
        twin = ax.twinx()
        if priced.any():
            twin.plot(x, cost[order], color=BLUE, marker="o", ms=3, lw=1.3,
                      label="import cost paid per MWh imported, USD/MWh (right axis)")
        if np.isfinite(revenue).any():
            twin.plot(x, revenue[order], color=GREEN, marker="s", ms=3, lw=1.0, ls="--",
                      label="mining revenue per MWh mined, USD/MWh (right axis)")
        twin.set_ylabel("USD/MWh")
        twin.set_ylim(bottom=min(0.0, float(np.nanmin(np.concatenate([cost, revenue, [0.0]])))))
        twin.spines["right"].set_visible(True)
        _finish_twin(ax, twin, title)

    return _chart(chart_id, title, draw, (11.0, 3.9))


def _finish_twin(ax: Axes, twin: Axes, title: str) -> None:
    """Title, grid and one legend for a chart with a left and a right axis."""
    ax.set_title(title, loc="left")
    ax.grid(axis="y", alpha=0.3)
    handles, names = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    _legend(ax, handles + more[0], names + more[1])


def _curtailment_hourly(site: str, hours: pd.DataFrame, fleet_by_month: pd.Series,
                        chart_id: str) -> str | None:
    """A price-duration curve from hourly.parquet: hours ranked by price (highest first)
    in bins, each bin's mean price and mean share of the ASIC fleet not mining."""
    month = hours["timestamp"].dt.strftime("%Y-%m")
    fleet = month.map(fleet_by_month).to_numpy(float)
    if not (np.nan_to_num(fleet) > 1e-9).any():
        return None
    price = hours["price_usd_per_mwh"].to_numpy(float)
    idle = _idle_share(hours["mining_mw"].to_numpy(float), np.nan_to_num(fleet))
    order = np.argsort(-price, kind="stable")
    n = len(order)
    bins = np.minimum(np.arange(n) * PRICE_BINS // max(n, 1), PRICE_BINS - 1)
    by_bin = pd.DataFrame({"bin": bins, "price": price[order], "idle": idle[order]}) \
        .groupby("bin").mean()
    share = (by_bin.index.to_numpy() + 0.5) * 100.0 / PRICE_BINS
    title = (f"{site}: price-duration curve ({n:,} hours ranked by price, highest first, "
             f"in {len(by_bin)} bins) with the ASIC fleet not mining")

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.bar(share, by_bin["idle"].fillna(0.0) * 100.0, width=100.0 / PRICE_BINS,
               color="#e67e22",
               label="ASIC fleet MW not mining, mean share in the bin, % (left axis)")
        ax.set_ylim(0, 105)
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of hours, ranked by price (%)")
        ax.set_ylabel("ASIC fleet not mining (% of fleet MW)")
        twin = ax.twinx()
        twin.plot(share, by_bin["price"], color=BLUE, lw=1.5,
                  label="price, mean in the bin, USD/MWh (right axis)")
        twin.set_ylabel("price (USD/MWh)")
        twin.spines["right"].set_visible(True)
        _finish_twin(ax, twin, title)

    return _chart(chart_id, title, draw, (11.0, 3.6))


def _timeline(investments: pd.DataFrame, monthly: pd.DataFrame, months: list[str],
              title: str, chart_id: str = "chart-timeline",
              online_rows: bool = True) -> str | None:
    """Each decision at its decision month, one row per site and kind (marker area by MW);
    where monthly.parquet has a `<kind>s_online` state (halls online), a row below marks
    the months its count rises."""
    if investments.empty:
        return None
    kinds = _kind_labels()
    sites = list(dict.fromkeys(monthly["site"]))
    sites += [s for s in dict.fromkeys(investments["site"]) if s not in sites]
    rank = {k: i for i, k in enumerate(kinds)}
    position = {m: i for i, m in enumerate(months)}
    named = investments["name"] != investments["kind"]
    text = investments["mw"].map(lambda mw: f"{mw:,.0f} MW")
    text = text.where(~named, investments["name"] + " " + text)
    groups = investments.assign(pos=investments["month"].map(position), text=text).groupby(
        ["site", "kind", "pos"], sort=False)
    decided = groups.agg(mw=("mw", "sum"), text=("text", "\n".join)).reset_index()
    online = _online_rises(monthly if online_rows else monthly.iloc[:0],
                           decided[["site", "kind"]].drop_duplicates())
    keys = {(r.site, r.kind, False) for r in decided.itertuples()} | \
        {(r.site, r.kind, True) for r in online.itertuples()}
    rows = sorted(keys, key=lambda k: (sites.index(k[0]), rank.get(k[1], len(rank)), k[1],
                                       k[2]))
    row_of = {k: i for i, k in enumerate(rows)}
    top_mw = max(float(decided["mw"].max()), 1e-9)

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        for j, kind in enumerate(dict.fromkeys(decided["kind"])):
            mine = decided[decided["kind"] == kind]
            y = [row_of[(s, kind, False)] for s in mine["site"]]
            size = 30.0 + 220.0 * np.sqrt(mine["mw"].to_numpy(float) / top_mw)
            ax.scatter(mine["pos"], y, s=size, color=PALETTE[j % len(PALETTE)], alpha=0.85,
                       edgecolor="black", linewidth=0.5, zorder=3,
                       label=f"{kinds.get(kind, kind)} (decision month)")
            for xi, yi, label in zip(mine["pos"], y, mine["text"], strict=True):
                ax.annotate(label, (xi, yi), xytext=(9, 0), textcoords="offset points",
                            fontsize=7, va="center", linespacing=1.0)
        if len(online):
            ax.scatter(online["pos"], [row_of[(s, k, True)] for s, k in
                                       zip(online["site"], online["kind"], strict=True)],
                       marker="D", s=36, facecolor="white", edgecolor="black", zorder=4,
                       label="count online rises (incl. halls committed before the horizon)")
            for r in online.itertuples():
                ax.annotate(f"+{r.rise:g}", (r.pos, row_of[(r.site, r.kind, True)]),
                            xytext=(7, 0), textcoords="offset points", fontsize=7,
                            va="center")
        states = state_labels()
        names = [f"{s} · {states.get(f'{k}s_online', 'online')}" if up else
                 f"{s} · {kinds.get(k, k)}" for s, k, up in rows]
        ax.set_yticks(range(len(rows)), names)
        ax.set_ylim(len(rows) - 0.4, -0.6)
        _month_ticks(ax, months)
        ax.set_title(title, loc="left")
        ax.set_xlabel("decision month")
        ax.set_ylabel("site · decision (marker area: MW)")
        ax.grid(axis="x", alpha=0.3)
        _legend(ax)

    return _chart(chart_id, title, draw, (11.0, 0.42 * len(rows) + 2.0))


def _online_rises(monthly: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """Per (site, kind) with a `<kind>s_online` state in monthly.parquet: the months its
    count rises, and by how much."""
    out = []
    for site, kind in rows.itertuples(index=False):
        state = f"{kind}s_online"
        if state not in monthly:
            continue
        count = monthly.loc[monthly["site"] == site, state].fillna(0.0).to_numpy(float)
        rise = np.diff(count, prepend=count[:1])
        out += [(site, kind, int(p), float(rise[p])) for p in np.flatnonzero(rise > 1e-6)]
    return pd.DataFrame(out, columns=["site", "kind", "pos", "rise"])


def _cash_chart(annual: pd.DataFrame, baseline: bool, note: str,
                chart_id: str = "chart-cash") -> str:
    """The portfolio's annual free cash flow (plan, and baseline when solved) as bars and
    the cumulative free cash flow as lines, undiscounted."""
    plan = annual[annual["case"] == cashflow.PLAN]
    base = annual[annual["case"] == cashflow.BASELINE] if baseline else plan.iloc[:0]
    years = plan["year"].astype(str).tolist()
    title = f"Portfolio free cash flow per year{note}"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        x = np.arange(len(years))
        width = 0.38 if len(base) else 0.6
        shift = width / 2 if len(base) else 0.0
        ax.bar(x - shift, plan["free_cash_flow_usd"] / MUSD, width, color=BLUE,
               label="plan: free cash flow")
        ax.plot(x, plan["cumulative_free_cash_flow_usd"] / MUSD, color=BLUE, marker="o",
                label="plan: cumulative free cash flow")
        if len(base):
            ax.bar(x + shift, base["free_cash_flow_usd"] / MUSD, width, color="#9db4cc",
                   label="baseline (no new investment): free cash flow")
            ax.plot(x, base["cumulative_free_cash_flow_usd"] / MUSD, color=GREY,
                    marker="s", ls="--", label="baseline: cumulative free cash flow")
        ax.axhline(0.0, color="0.3", lw=0.8)
        ax.set_xticks(x, years)
        ax.set_title(title, loc="left")
        ax.set_xlabel("calendar year")
        ax.set_ylabel("free cash flow (million USD, undiscounted)")
        ax.grid(axis="y", alpha=0.3)
        _legend(ax)

    return _chart(chart_id, title, draw, (11.0, 3.3))


def _npv_distribution(futures: pd.DataFrame, key: str, summary: dict,
                      chart_id: str = "chart-futures") -> str:
    """The probability-weighted distribution of the futures' NPVs (a step CDF), with the
    expected NPV and the CVaR marked."""
    hourly = "_hourly" if key == "npv_hourly_usd" else ""
    order = np.argsort(futures[key].to_numpy(float), kind="stable")
    npv = futures[key].to_numpy(float)[order] / MUSD
    p = futures["probability"].to_numpy(float)[order]
    expected = summary.get(f"expected_npv{hourly}_usd")
    cvar = summary.get(f"cvar_npv{hourly}_usd")
    title = f"NPV over {len(npv)} futures (probability-weighted distribution)"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.step(np.concatenate([[npv[0]], npv]), np.concatenate([[0.0], np.cumsum(p)]) * 100,
                where="post", color=BLUE, lw=1.8, label="cumulative probability")
        ax.scatter(npv, np.cumsum(p) * 100, color=BLUE, s=14, zorder=3,
                   label="a future's NPV")
        if expected is not None:
            ax.axvline(expected / MUSD, color=GREEN, ls="--", label="expected NPV")
        if cvar is not None:
            ax.axvline(cvar / MUSD, color=RED, ls=":",
                       label=f"CVaR {summary.get('risk_alpha', 0.9):g} (mean of the worst "
                             f"{1 - summary.get('risk_alpha', 0.9):.0%})")
        ax.set_ylim(0, 105)
        ax.set_title(title, loc="left")
        ax.set_xlabel("NPV of the plan that is run (million USD)")
        ax.set_ylabel("cumulative probability (%)")
        ax.grid(alpha=0.3)
        _legend(ax)

    return _chart(chart_id, title, draw, (11.0, 3.3))


def _tornado_chart(spans: pd.DataFrame, base_usd: float,
                   chart_id: str = "chart-tornado") -> str:
    """One bar per sweep axis from its lowest to its highest mean NPV, widest on top."""
    title = "Tornado: NPV range of each sweep axis (mean NPV over the other axes)"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        y = np.arange(len(spans))
        low, high = spans["npv_low_usd"] / MUSD, spans["npv_high_usd"] / MUSD
        ax.barh(y, high - low, left=low, color=BLUE, height=0.55,
                label="NPV range over the axis' values")
        for yi, lo, hi, vlo, vhi in zip(y, low, high, spans["value_low"], spans["value_high"],
                                        strict=True):
            ax.text(lo, yi + 0.4, f"{vlo}", ha="center", fontsize=7.5)
            ax.text(hi, yi + 0.4, f"{vhi}", ha="center", fontsize=7.5)
        ax.axvline(base_usd / MUSD, color=RED, ls="--", label="mean NPV of the solved cases")
        ax.set_yticks(y, spans["axis"].tolist())
        ax.set_ylim(len(spans) - 0.3, -0.7)
        lo, hi = float(low.min()), float(high.max())
        pad = 0.06 * (hi - lo) or 0.05 * max(abs(hi), 1e-6)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_title(title, loc="left")
        ax.set_xlabel("NPV (million USD); axis values at the bar ends")
        ax.set_ylabel("sweep axis")
        ax.grid(axis="x", alpha=0.3)
        _legend(ax)

    return _chart(chart_id, title, draw, (11.0, 0.55 * len(spans) + 1.6))


def _axis_chart(summary: pd.DataFrame, axis: str, chart_id: str) -> str | None:
    """NPV of every solved case against one sweep axis, and the mean at each value."""
    solved = summary[summary["npv_usd"].notna() & summary[axis].notna()]
    if solved.empty:
        return None
    values = pd.to_numeric(solved[axis], errors="coerce")
    numeric = values.notna().all() and not pd.api.types.is_bool_dtype(solved[axis])
    if numeric:
        x = values.to_numpy(float)
        ticks = None
    else:
        labels = [str(v) for v in solved[axis]]
        ticks = list(dict.fromkeys(labels))
        x = np.array([ticks.index(v) for v in labels], dtype=float)
    npv = solved["npv_usd"].to_numpy(float) / MUSD
    means = pd.Series(npv).groupby(x).mean()
    title = f"NPV against {axis}"

    def draw(fig: Figure) -> None:
        ax = fig.add_subplot()
        ax.scatter(x, npv, color=GREY, s=22, zorder=3, label="a case")
        ax.plot(means.index, means.to_numpy(), color=BLUE, marker="o", lw=1.6,
                label="mean NPV at this value (over the other axes)")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks, rotation=20, ha="right")
        ax.set_title(title, loc="left")
        ax.set_xlabel(f"{axis} ({_unit(axis)})")
        ax.set_ylabel("NPV (million USD)")
        ax.grid(alpha=0.3)
        _legend(ax)

    return _chart(chart_id, title, draw, (9.0, 3.0))


def _unit(path: str) -> str:
    """The unit a sweep path's name carries (`..._usd_per_kw_month` -> "USD per kW month",
    `series.X.scale` -> "multiplier")."""
    field = path.rsplit(".", 1)[-1]
    if field == "scale":
        return "multiplier of the series"
    words = field.split("_")
    units = {"usd": "USD", "mw": "MW", "mwh": "MWh", "kw": "kW", "kwh": "kWh", "th": "TH",
             "ph": "PH", "j": "J", "pct": "%", "months": "months", "month": "month",
             "s": "s", "h": "h", "mmbtu": "MMBtu", "years": "years"}
    for i, w in enumerate(words):
        if w in units and i > 0:
            return " ".join(units.get(v, v) for v in words[i:])
    return "value as in the scenario"


# --------------------------------------------------------------------------- html


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _usd(value: object) -> str:
    return "–" if value is None or (isinstance(value, float) and not np.isfinite(value)) \
        else f"{float(value):,.0f} USD"


def _card(key: str, value: str, detail: str = "", cls: str = "") -> str:
    extra = f'<div class="d">{_e(detail)}</div>' if detail else ""
    return (f'<div class="card"><div class="k">{_e(key)}</div>'
            f'<div class="v {cls}">{_e(value)}</div>{extra}</div>')


def _table(frame: pd.DataFrame, numeric: dict[str, Callable[[object], str]] | None = None,
           strong: set[int] | None = None) -> str:
    """An HTML table; `numeric` columns are formatted and right-aligned, `strong` row
    positions bold (totals)."""
    numeric = numeric or {}
    head = "".join(f'<th class="{"n" if c in numeric else ""}">{_e(c)}</th>'
                   for c in frame.columns)
    rows = []
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = "".join(
            f'<td class="n">{_e(numeric[c](v))}</td>' if c in numeric else
            f"<td>{_e('' if v is None or (isinstance(v, float) and np.isnan(v)) else v)}</td>"
            for c, v in zip(frame.columns, row, strict=True))
        rows.append(f'<tr class="strong">{cells}</tr>' if strong and i in strong
                    else f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def _millions(value: object) -> str:
    """Million USD to the cent of a million, never "-0.00"."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{round(float(value) / MUSD, 2) + 0.0:,.2f}"


def _page(title: str, subtitle: str, body: list[str]) -> str:
    from optim.outdir import _version

    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="generator" content="{GENERATOR} {_e(_version())}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{_e(title)}</h1><p class=\"sub\">{subtitle}</p>"
            + "\n".join(body)
            + f"<footer>Written by optim {_e(_version())} from the results folder alone "
              "(summary.json and its Parquet tables); self-contained, nothing is fetched."
              "</footer></main></body></html>\n")


# --------------------------------------------------------------------------- a solve


def _kind_labels() -> dict[str, str]:
    from optim.models import registry
    from optim.option import labels

    return labels(registry(), "kinds")


def _probabilities(folder: SolveFolder) -> dict[str, float] | None:
    if folder.futures is None:
        return None
    return dict(zip(folder.futures["future"], folder.futures["probability"].astype(float),
                    strict=True))


def _expected(frame: pd.DataFrame, probability: dict[str, float] | None,
              keys: list[str]) -> pd.DataFrame:
    """A futures table reduced to its probability-weighted mean per `keys` (numeric
    columns); a table without futures unchanged. Missing numbers count as 0."""
    if probability is None or "future" not in frame:
        return frame
    numeric = [c for c in frame.select_dtypes("number").columns if c not in keys]
    weight = frame["future"].map(probability).fillna(0.0).to_numpy()
    weighted = frame[numeric].fillna(0.0).mul(weight, axis=0)
    weighted[keys] = frame[keys]
    return weighted.groupby(keys, sort=False)[numeric].sum().reset_index()


def _headline(folder: SolveFolder) -> str:
    s = folder.summary
    cards = [_card(f"NPV, {s.get('resolution', '')} solve", _usd(s["npv_usd"]),
                   "the objective" if s.get("futures") else "")]
    if s.get("npv_hourly_usd") is not None:
        cards.append(_card("NPV, hourly re-solve", _usd(s["npv_hourly_usd"]),
                           "the plan that is run"))
    gap = s.get("mip_gap")
    cards += [_card("status", str(s.get("status", "–")),
                    cls="good" if s.get("status") == "optimal" else ""),
              _card("MIP gap", "–" if gap is None else f"{gap:.3%}",
                    f"bound {_usd(s.get('bound_usd'))}" if s.get("bound_usd") else "")]
    verified = s.get("verified")
    cards.append(_card("verified", {True: "yes", False: "NO"}.get(verified, "not checked"),
                       "independent check of constraints and NPV",
                       {True: "good", False: "bad"}.get(verified, "")))
    if s.get("futures"):
        hourly = "_hourly" if s.get("expected_npv_hourly_usd") is not None else ""
        alpha = s.get("risk_alpha", 0.9)
        cards += [_card("expected NPV", _usd(s.get(f"expected_npv{hourly}_usd")),
                        f"over {s['futures']} futures"),
                  _card(f"CVaR {alpha:g}", _usd(s.get(f"cvar_npv{hourly}_usd")),
                        f"mean NPV of the worst {1 - alpha:.0%}"),
                  _card("commit months", str(s.get("commit_months")),
                        f"risk weight λ {s.get('risk_weight', 0):g}")]
        for key, name in (("vss_usd", "value of the stochastic solution"),
                          ("evpi_usd", "value of perfect information")):
            if s.get(key) is not None:
                cards.append(_card(name, _usd(s[key])))
    out = [f'<section id="headline"><h2>Headline</h2><div class="cards">{"".join(cards)}'
           "</div>", _cash_headline(s), "</section>"]
    return "".join(out)


def _cash_headline(s: dict) -> str:
    cash = s.get("cash_flow") or {}
    cards = [_card("plan NPV (from cash flows)", _usd(cash.get("plan_npv_usd")),
                   f"incl. terminal value {_usd(cash.get('terminal_value_usd'))}")] \
        if cash else []
    if "baseline_error" in cash:
        cards.append(_card("baseline", "not solved", str(cash["baseline_error"]), "bad"))
    elif "baseline_npv_usd" in cash:
        irr = cash.get("irr")
        payback = cash.get("payback_month")
        cards += [
            _card("baseline NPV (no new investment)", _usd(cash.get("baseline_npv_usd"))),
            _card("incremental NPV", _usd(cash.get("incremental_npv_usd")),
                  "plan − baseline",
                  "good" if (cash.get("incremental_npv_usd") or 0) >= 0 else "bad"),
            _card("incremental capex", _usd(cash.get("incremental_capex_usd")),
                  "cash, undiscounted"),
            _card("IRR (incremental, annual)", "none" if irr is None else f"{irr:.1%}",
                  "no sign change of the incremental cash flows" if irr is None else
                  f"discount rate {cash.get('discount_rate', 0):.1%}"),
            _card("payback month", payback or "not within the horizon",
                  "cumulative incremental cash stays ≥ 0 from then on")]
    else:
        why = "a futures run is not compared with a baseline" if s.get("futures") else \
            "the baseline was not solved (optim solve --no-baseline)"
        return (f'<div class="cards">{"".join(cards)}</div>' if cards else "") + \
            f'<p class="note">No baseline comparison: {_e(why)}.</p>'
    return ('<h3>Cash flows: the plan against its baseline</h3>'
            f'<div class="cards">{"".join(cards)}</div>')


def _npv_section(folder: SolveFolder) -> str:
    s = folder.summary
    hourly = bool(s.get("npv_lines_hourly_usd"))
    lines = s.get("npv_lines_hourly_usd") or s["npv_lines_usd"]
    if s.get("futures"):
        key = "expected_npv_hourly_usd" if hourly else "expected_npv_usd"
        total, total_label = s.get(key, sum(lines.values())), "expected NPV"
        what = "probability-weighted over the futures"
    elif hourly:
        total, total_label = s["npv_hourly_usd"], "NPV"
        what = f"hourly re-solve of the {s.get('resolution')} investments, the plan that is run"
    else:
        total, total_label = s["npv_usd"], "NPV"
        what = f"{s.get('resolution')} solve"
    title = f"NPV by line ({what})"
    chart = _waterfall(lines, float(total), total_label, title)
    return f'<section id="npv"><h2>Where the value comes from</h2>{chart}</section>'


def _sites_section(folder: SolveFolder, monthly: pd.DataFrame, note: str) -> str:
    parts, idle = [], []
    for i, (site, frame) in enumerate(monthly.groupby("site", sort=False)):
        chart = _site_mw(str(site), frame.fillna(0.0), note, f"chart-mw-{i}")
        if chart is None:
            idle.append(str(site))
        else:
            parts.append(chart)
    empty = f'<p class="note">No power flows in any month at: {_e(", ".join(idle))}.</p>' \
        if idle else ""
    return ('<section id="sites"><h2>What runs where, month by month</h2>'
            '<p class="note">Bars: the average MW of each use in the month, stacked; lines: '
            "where the power comes from (import, on-site generation) and goes out (export), "
            "and the MW taken off the load when reserves are deployed.</p>"
            + "".join(parts) + empty + "</section>")


def _investments_section(folder: SolveFolder, monthly: pd.DataFrame) -> str:
    inv = folder.investments
    months = list(dict.fromkeys(monthly["month"]))
    kinds = _kind_labels()
    futures = "future" in inv
    shown = inv[inv["future"] == ""] if futures else inv
    title = "Shared plan: decisions taken in every future, by decision month" if futures \
        else "Investment timeline: decisions by decision month"
    chart = _timeline(shown, monthly, months, title, online_rows=not futures)
    online = not futures and any(f"{k}s_online" in monthly for k in shown["kind"].unique())
    head = "<h2>Investments</h2>"
    note = ('<p class="note">Markers sit at the decision month (purchase, hall start, '
            "build, contract start); lead times are in the scenario, not the results folder"
            + (". Diamonds mark the months the count of halls online rises (this includes "
               "halls committed before the horizon)" if online else "") + ".</p>")
    table = _investment_table(shown, kinds)
    body = chart or ('<p class="note">No decision is shared by every future.</p>' if futures
                     else '<p class="note">No investment decisions in this plan.</p>')
    later = ""
    if futures:
        commit = folder.summary.get("commit_months")
        head = ("<h2>Investments: the shared plan</h2>"
                f'<p class="note">Decisions of the months before commit month {_e(commit)} '
                "are the same in every future (non-anticipativity); later ones adapt.</p>")
        rest = inv[inv["future"] != ""]
        later = ("<h3>Later decisions, by future</h3>" + (
            _investment_table(rest, kinds, with_future=True) if len(rest) else
            '<p class="note">No decision after the commit month in any future.</p>'))
    return (f'<section id="investments">{head}{body}{note if chart else ""}'
            f"{table}{later}</section>")


def _investment_table(inv: pd.DataFrame, kinds: dict[str, str],
                      with_future: bool = False) -> str:
    if inv.empty:
        return ""
    frame = pd.DataFrame({
        **({"future": inv["future"]} if with_future else {}),
        "site": inv["site"], "decision month": inv["month"],
        "kind": inv["kind"].map(lambda k: kinds.get(k, k)), "name": inv["name"],
        "quantity": inv["quantity"], "MW": inv["mw"], "cash capex (USD)": inv["capex_usd"]})
    total = {c: "" for c in frame.columns}
    total.update({frame.columns[0]: "total", "MW": float(inv["mw"].sum()),
                  "cash capex (USD)": float(inv["capex_usd"].sum()), "quantity": np.nan})
    frame = pd.concat([frame, pd.DataFrame([total])], ignore_index=True)
    fmt = {"quantity": lambda v: "" if pd.isna(v) else f"{float(v):,.4g}",
           "MW": lambda v: f"{float(v):,.1f}",
           "cash capex (USD)": lambda v: f"{float(v):,.0f}"}
    return _table(frame, fmt, {len(frame) - 1})


CASH_ROWS = (("ebitda_usd", "EBITDA"), ("capex_usd", "cash capex (outflow)"),
             ("free_cash_flow_usd", "free cash flow"),
             ("terminal_value_usd", "terminal value (horizon end)"),
             ("cumulative_free_cash_flow_usd", "cumulative free cash flow"))


def _annual_table(rows: pd.DataFrame, lines: bool = True) -> str:
    """Years as columns; every cash line (non-zero), EBITDA, capex, free cash flow,
    terminal value and the cumulative free cash flow as rows (million USD)."""
    labels = line_labels()
    years = [str(y) for y in rows["year"]]
    keys = [k for k in labels if lines and k in rows and k != cashflow.CHARGES
            and rows[k].abs().max() > 0.5]
    names = [labels[k] for k in keys] + [name for _, name in CASH_ROWS]
    data = [rows[k].to_numpy(float) for k in keys] + \
        [rows[k].to_numpy(float) for k, _ in CASH_ROWS]
    frame = pd.DataFrame(data, columns=years)
    frame.insert(0, "million USD", names)
    total = [float(v.sum()) if name != "cumulative free cash flow" else float(v[-1])
             for name, v in zip(names, data, strict=True)]
    frame["total"] = total
    strong = {len(keys) + i for i, (k, _) in enumerate(CASH_ROWS)
              if k in ("ebitda_usd", "free_cash_flow_usd")}
    return _table(frame, {c: _millions for c in [*years, "total"]}, strong)


def _cash_section(folder: SolveFolder, probability: dict[str, float] | None) -> str:
    frame = cashflow.annual(folder.cashflow)
    note = ""
    if probability is not None:
        frame = _expected(frame, probability, ["case", "site", "year"])
        note = ", expected over the futures (probability-weighted)"
    port = frame[frame["site"] == cashflow.PORTFOLIO]
    plan = port[port["case"] == cashflow.PLAN].reset_index(drop=True)
    base = port[port["case"] == cashflow.BASELINE].reset_index(drop=True)
    parts = ['<section id="cashflow"><h2>Annual cash flows</h2>',
             '<p class="note">Undiscounted, million USD. Revenues positive, costs negative; '
             "cash capex in its decision month (outflow). The terminal value is the capital "
             "not yet recovered at the horizon end: discounting the monthly free cash flows "
             "plus it gives back the NPV.</p>",
             _cash_chart(port, len(base) > 0, note),
             f"<h3>Portfolio: the plan{_e(note)}</h3>", _annual_table(plan)]
    if len(base):
        inc = plan.copy()
        money = [c for c in plan.columns if c.endswith("_usd")]
        inc[money] = plan[money].to_numpy() - base[money].to_numpy()
        parts += ["<h3>Portfolio: the baseline (no new investment)</h3>", _annual_table(base),
                  "<h3>Incremental: plan − baseline</h3>", _annual_table(inc, lines=False)]
    by_site = frame[(frame["case"] == cashflow.PLAN) & (frame["site"] != cashflow.PORTFOLIO)]
    pivot = by_site.pivot_table(index="site", columns="year", values="free_cash_flow_usd",
                                aggfunc="sum", sort=False)
    pivot.columns = [str(c) for c in pivot.columns]
    pivot["total"] = pivot.sum(axis=1)
    pivot = pivot.reset_index()
    parts += [f"<h3>Free cash flow per site (plan{_e(note)})</h3>",
              _table(pivot, {c: _millions for c in pivot.columns if c != "site"})]
    if probability is not None and "future" in folder.cashflow:
        parts.append(_futures_cash_table(folder))
    return "".join(parts) + "</section>"


def _futures_cash_table(folder: SolveFolder) -> str:
    frame = cashflow.annual(folder.cashflow)
    port = frame[(frame["site"] == cashflow.PORTFOLIO) & (frame["case"] == cashflow.PLAN)]
    pivot = port.pivot_table(index="future", columns="year", values="free_cash_flow_usd",
                             aggfunc="sum", sort=False)
    pivot.columns = [str(c) for c in pivot.columns]
    pivot["terminal value"] = port.groupby("future", sort=False)["terminal_value_usd"].sum()
    pivot = pivot.reset_index()
    return ("<h3>Portfolio free cash flow per future (million USD)</h3>"
            + _table(pivot, {c: _millions for c in pivot.columns if c != "future"}))


HOURLY_COLUMNS = ["site", "timestamp", "mining_mw", "price_usd_per_mwh"]


def _hourly_prices(path: Path) -> pd.DataFrame | None:
    """The hourly mining MW and prices of hourly.parquet when the folder has one (and the
    plan has mining); InputError (exit 2) for a file that cannot be read."""
    if not path.exists():
        return None
    import pyarrow.parquet as pq

    from optim.errors import InputError

    try:
        if not set(HOURLY_COLUMNS) <= set(pq.read_schema(path).names):
            return None
        return pd.read_parquet(path, columns=HOURLY_COLUMNS)
    except Exception as exc:  # noqa: BLE001 (pyarrow raises several kinds on a bad file)
        raise InputError(f"{path}: cannot be read as Parquet ({exc})", "results folder") \
            from None


def _curtailment_section(folder: SolveFolder, monthly: pd.DataFrame, note: str) -> str:
    hourly = _hourly_prices(folder.path / "hourly.parquet")
    parts, none = [], []
    for i, (site, frame) in enumerate(monthly.groupby("site", sort=False)):
        frame = frame.fillna(0.0)
        chart = None
        if "asic_fleet_mw" not in frame or "mining_mw" not in frame:
            pass
        elif hourly is not None:
            fleet = frame.set_index("month")["asic_fleet_mw"]
            chart = _curtailment_hourly(str(site), hourly[hourly["site"] == site], fleet,
                                        f"chart-curtail-{i}")
        elif {"import_mw", "import_usd"} <= set(frame.columns):
            chart = _curtailment_monthly(str(site), frame, note, f"chart-curtail-{i}")
        if chart is None:
            none.append(str(site))
        else:
            parts.append(chart)
    if hourly is not None:
        intro = ("Hours ranked by the site's price (hourly.parquet, the plan that is run"
                 + (", first future" if folder.futures is not None else "")
                 + "); bars: the share of the ASIC fleet's MW not mining in those hours "
                   "(curtailed, offered as reserves and deployed, or down for uptime).")
    else:
        intro = ("The results folder holds no hourly prices (solve with --write-hourly for "
                 "an hourly price-duration curve), so this view is monthly: each month's "
                 "share of the ASIC fleet's MW not mining (curtailed, or down for uptime: "
                 "uptime is not in the folder), months ranked by the average import cost "
                 "paid (import cost / MWh imported, the LMP plus adders weighted by the "
                 "hours imported).")
    empty = f'<p class="note">No ASIC fleet at: {_e(", ".join(none))}.</p>' if none else ""
    return ('<section id="curtailment"><h2>Where mining is curtailed</h2>'
            f'<p class="note">{_e(intro)}</p>' + "".join(parts) + empty + "</section>")


def _futures_section(folder: SolveFolder) -> str:
    table = folder.futures
    key = "npv_hourly_usd" if "npv_hourly_usd" in table and table["npv_hourly_usd"].notna() \
        .all() else "npv_usd"
    chart = _npv_distribution(table, key, folder.summary)
    ranked = table.sort_values(key, kind="stable")[["future", "probability", key]]
    ranked = ranked.rename(columns={key: "NPV (USD)"})
    return ('<section id="futures"><h2>Futures: the NPV distribution</h2>' + chart
            + _table(ranked, {"probability": lambda v: f"{float(v):.3f}",
                              "NPV (USD)": lambda v: f"{float(v):,.0f}"}) + "</section>")


def render_solve(folder: SolveFolder) -> str:
    s = folder.summary
    probability = _probabilities(folder)
    monthly = _expected(folder.monthly, probability, ["site", "month"])
    note = f", expected over {len(probability)} futures" if probability else ""
    body = [_headline(folder), _npv_section(folder)]
    if folder.futures is not None:
        body.append(_futures_section(folder))
    body += [_sites_section(folder, monthly, note),
             _investments_section(folder, monthly),
             _cash_section(folder, probability),
             _curtailment_section(folder, monthly, note)]
    sub = (f"Plan report of scenario <b>{_e(s.get('scenario', '?'))}</b>, results folder "
           f"<code>{_e(folder.path.name)}</code>; resolution {_e(s.get('resolution', '?'))}"
           + (f", {s['futures']} futures" if s.get("futures") else "") + ".")
    return _page(f"optim plan: {s.get('scenario', folder.path.name)}", sub, body)


# --------------------------------------------------------------------------- a sweep


def sweep_axes(summary: pd.DataFrame) -> list[str]:
    """The sweep paths that take at least two values among the cases."""
    from optim.sweep import summary_paths

    return [p for p in summary_paths(summary)
            if summary[p].dropna().astype(str).nunique() >= 2]


TORNADO_COLUMNS = {"axis": "axis", "value_low": "value, low end",
                   "npv_low_usd": "mean NPV, low end (USD)", "value_high": "value, high end",
                   "npv_high_usd": "mean NPV, high end (USD)", "range_usd": "range (USD)"}


def render_sweep(folder: SweepFolder) -> str:
    from optim import sweep as sweeps

    summary = folder.summary.copy()
    for col in ("npv_usd", "status"):
        if col not in summary:
            summary[col] = np.nan if col == "npv_usd" else "unknown"
    paths = sweeps.summary_paths(summary)
    for p in paths:
        if summary[p].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            summary[p] = summary[p].map(lambda v: None if v is None else str(list(v)))
    solved = summary["status"].isin(sweeps.SOLVED) & summary["npv_usd"].notna()
    ranked = summary.sort_values("npv_usd", ascending=False, na_position="last",
                                 kind="stable").reset_index(drop=True)
    cols = {"case": "case", **{p: p for p in paths}, "status": "status",
            "npv_usd": "NPV (USD)"}
    if "npv_hourly_usd" in ranked and ranked["npv_hourly_usd"].notna().any():
        cols["npv_hourly_usd"] = "NPV, hourly re-solve (USD)"
    if "mip_gap" in ranked:
        cols["mip_gap"] = "MIP gap"
    if "error" in ranked and (ranked["error"].fillna("") != "").any():
        cols["error"] = "error"
    table = ranked[list(cols)].rename(columns=cols)
    table.insert(0, "rank", [str(i + 1) if ok else "–" for i, ok in
                             enumerate(ranked["status"].isin(sweeps.SOLVED)
                                       & ranked["npv_usd"].notna())])
    money = lambda v: "–" if pd.isna(v) else f"{float(v):,.0f}"  # noqa: E731
    fmt = {"NPV (USD)": money, "NPV, hourly re-solve (USD)": money,
           "MIP gap": lambda v: "–" if pd.isna(v) else f"{float(v):.3%}"}
    failed = int((~solved).sum())
    body = ['<section id="headline"><h2>Headline</h2><div class="cards">'
            + _card("cases", str(len(summary)))
            + _card("solved", str(int(solved.sum())), cls="good" if not failed else "")
            + _card("failed", str(failed), cls="bad" if failed else "")
            + (_card("best NPV", _usd(ranked["npv_usd"].iloc[0]), str(ranked["case"].iloc[0]))
               if solved.any() else "") + "</div></section>",
            '<section id="cases"><h2>Cases ranked by NPV</h2>'
            + _table(table, fmt) + "</section>"]
    axes = sweep_axes(summary)
    spans = sweeps.tornado(summary[solved], axes) if solved.any() else pd.DataFrame()
    if len(spans):
        mean = float(summary.loc[solved, "npv_usd"].mean())
        body.append('<section id="tornado"><h2>What moves the NPV</h2>'
                    + _tornado_chart(spans, mean)
                    + _table(spans.rename(columns=TORNADO_COLUMNS),
                             {c: money for c in TORNADO_COLUMNS.values() if "USD" in c})
                    + "</section>")
    charts = [c for i, axis in enumerate(axes)
              if (c := _axis_chart(summary, axis, f"chart-axis-{i}")) is not None]
    if charts:
        body.append('<section id="axes"><h2>NPV against each axis</h2>' + "".join(charts)
                    + "</section>")
    if not axes:
        body.append('<p class="note">No sweep path takes two values or more: no tornado.</p>')
    sub = (f"Sweep <b>{_e(folder.path.name)}</b>: {len(summary)} cases over "
           f"{len(paths)} sweep path{'s' if len(paths) != 1 else ''}.")
    return _page(f"optim sweep: {folder.path.name}", sub, body)


def render(folder: SolveFolder | SweepFolder) -> str:
    """The whole report page of a solve's results folder or a sweep's folder."""
    if isinstance(folder, SweepFolder):
        return render_sweep(folder)
    return render_solve(folder)


# --------------------------------------------------------------------------- writing


def is_report(path: Path) -> bool:
    """`path` is a page this module wrote (its generator meta tag)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}' in head


def check_report_path(path: Path, label: str = "--out") -> Path:
    """May the report be written at `path`? An .html file, new or a report optim wrote,
    in a writable folder; OutputError (exit 2) otherwise. Writes nothing."""
    from optim.outdir import _writable

    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"{label} {path}: give a file name ending in .html")
    if path.is_dir():
        raise OutputError(f"{label} {path} is a folder: give an .html file path")
    if path.exists() and not is_report(path):
        raise OutputError(f"{label} {path} exists and was not written by optim: choose "
                          "another path, or move the file away")
    ancestor = path.parent.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not _writable(ancestor):
        raise OutputError(f"{label} {path}: {ancestor} is not a writable folder")
    return path


def stage_html(text: str, path: Path) -> Path:
    """Write `text` to a hidden temporary file beside `path` (mode 0666 less the umask);
    the caller moves it into place with `os.replace` or removes it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def place(tmp: Path, path: Path) -> Path:
    """Move a staged report into place; in a results folder, list it in the folder's
    marker as optim's own file (so a later solve there replaces it)."""
    os.replace(tmp, path)
    marker = read_marker(path.parent)
    if marker is not None and marker.get("kind") == "results" and path.name in RESULTS_FILES \
            and path.name not in marker["files"]:
        write_marker(path.parent, "results", [*marker["files"], path.name],
                     marker.get("created"))
    return path


def write_report(folder_path: Path, out: Path | None = None) -> Path:
    """Render the report of the results (or sweep) folder `folder_path` and write it to
    `out` (default: `report.html` in that folder) atomically; returns the path written.
    InputError (exit 2) for a folder optim cannot read, OutputError (exit 2) for a refused
    `out`; on any failure nothing is written."""
    folder = load(Path(folder_path))
    path = check_report_path(Path(out) if out is not None else folder.path / REPORT_NAME)
    text = render(folder)
    tmp = stage_html(text, path)
    try:
        return place(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
