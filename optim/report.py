"""Tables a strategist reads in the terminal, computed from a Result (the CLI only renders).

Labels come from the option registry: every option names its own lines, uses and
headline decisions.
"""

from __future__ import annotations

import pandas as pd

from optim.engine import Result
from optim.models import registry
from optim.option import Headline, headlines
from optim.results import flow_labels, line_labels

TOTAL = "total"


def npv_plan(result: Result) -> tuple[str, float | None]:
    """Which plan the NPV lines describe, and its NPV (the headline the lines add up to):
    the hourly re-solve after a `blocks:K` solve (the plan that is run), else the solve."""
    s = result.summary
    if s.get("npv_lines_hourly_usd"):
        return (f"hourly re-solve of the {s['resolution']} investments, the plan that is run",
                s.get("npv_hourly_usd"))
    return f"{s['resolution']} solve", s["npv_usd"]


def npv_lines(result: Result, total: bool = False) -> pd.DataFrame:
    """NPV lines of the plan that is run (the hourly re-solve when blocks were used); with
    `total`, a last row `total` holding that plan's NPV (the lines add up to it)."""
    lines = result.summary.get("npv_lines_hourly_usd") or result.summary["npv_lines_usd"]
    labels = line_labels()
    rows = [(labels.get(k, k), v) for k, v in lines.items()]
    if total:
        rows.append((TOTAL, npv_plan(result)[1]))
    return pd.DataFrame(rows, columns=["line", "npv_usd"])


def flows_reported(result: Result) -> dict[str, str]:
    """Every flow of the plan with its label: the options' named flows in order, then the
    ones named from the scenario (e.g. `reserve_ECRS_mw`, the MW offered per product)."""
    labels = flow_labels()
    found = {key.partition(":")[0] for flows in result.dispatch.values() for key in flows}
    extra = {f: f.removesuffix("_mw").replace("_", " ") for f in sorted(found - set(labels))}
    return {**labels, **extra}


def site_uses(result: Result) -> pd.DataFrame:
    """Per site and flow: average MW in the first, middle and last month (non-zero ones)."""
    monthly = result.monthly
    start, mid, end = month_picks(result)
    rows = []
    for site, frame in monthly.groupby("site", sort=False):
        by_month = frame.set_index("month")
        for use, label in flows_reported(result).items():
            if use not in by_month:
                continue
            values = [float(by_month.at[m, use]) for m in (start, mid, end)]
            if by_month[use].abs().max() > 1e-6:
                rows.append((site, label, *values))
    return pd.DataFrame(rows, columns=["site", "use", f"{start} MW", f"{mid} MW", f"{end} MW"])


def site_builds(result: Result) -> pd.DataFrame:
    """Per site: the headline totals of every option's decisions over the whole horizon,
    each column's header saying what it counts and in which unit (halls, MW, ...)."""
    return headline_totals(result.investments, result.monthly["site"].unique().tolist(),
                           labelled=True)


def headline_totals(investments: pd.DataFrame, sites: list[str],
                    labelled: bool = False) -> pd.DataFrame:
    """Site x headline total of the investments (columns: keys, or labels if `labelled`:
    the option's label with its unit, e.g. "AI halls started (count)", "ASIC MW bought
    (MW)"). Counts are integers."""
    found = headlines(registry())
    rows = []
    for site in sites:
        mine = investments[investments["site"] == site]
        rows.append([site, *[float(mine.loc[mine["kind"] == h.kind, h.column].sum())
                             for h in found.values()]])
    names = [_headline_label(h) if labelled else key for key, h in found.items()]
    frame = pd.DataFrame(rows, columns=["site", *names])
    if labelled:
        for name, h in zip(names, found.values(), strict=True):
            if h.column == "quantity" and (frame[name] % 1 == 0).all():
                frame[name] = frame[name].astype(int)
    return frame


def _headline_label(h: Headline) -> str:
    """A headline's label with its unit: MW totals say MW, quantities are counts."""
    unit = "MW" if h.column == "mw" else "count"
    return h.label if f"({unit})" in h.label else f"{h.label} ({unit})"


def month_picks(result: Result) -> list[str]:
    """The first, middle and last month of the horizon."""
    months = result.monthly["month"].drop_duplicates().tolist()
    return [months[0], months[len(months) // 2], months[-1]]


# ----------------------------------------------------------------------------- futures

PERCENTILES = (5, 25, 50, 75, 95)


def futures_npvs(result: Result) -> pd.DataFrame:
    """A futures run's NPV distribution (of the plan that is run): expected, CVaR, the
    probability-weighted percentiles and the worst future."""
    from optim import futures

    s = result.summary
    table = result.tables["futures"]
    key = "npv_hourly_usd" if "npv_hourly_usd" in table else "npv_usd"
    npv, p = table[key].to_numpy(float), table["probability"].to_numpy(float)
    hourly = "_hourly" if key == "npv_hourly_usd" else ""
    worst = int(npv.argmin())
    rows = [("expected NPV", s[f"expected_npv{hourly}_usd"]),
            (f"CVaR {s['risk_alpha']:g} (mean of the worst {1 - s['risk_alpha']:.0%})",
             s[f"cvar_npv{hourly}_usd"])]
    rows += [(f"P{q}", v) for q, v in futures.percentiles(npv, p, PERCENTILES).items()]
    rows.append((f"worst future ({table['future'].iloc[worst]})", float(npv[worst])))
    return pd.DataFrame(rows, columns=["measure", "npv_usd"])


def here_and_now(result: Result) -> pd.DataFrame:
    """The decisions shared by every future: what to commit before `commit_months`."""
    inv = result.investments
    return inv[inv["future"] == ""].drop(columns="future").reset_index(drop=True)


def later_spread(result: Result) -> pd.DataFrame:
    """How the later decisions spread across futures: per site and kind, the share of
    futures (by probability) that decide each total quantity after `commit_months`."""
    inv = result.investments
    table = result.tables["futures"]
    probability = dict(zip(table["future"], table["probability"], strict=True))
    later = inv[inv["future"] != ""]
    rows = []
    for (site, kind), frame in later.groupby(["site", "kind"], sort=False):
        totals = frame.groupby("future")["quantity"].sum()
        shares: dict[float, float] = {}
        for name, p in probability.items():
            q = round(float(totals.get(name, 0.0)), 6)
            shares[q] = shares.get(q, 0.0) + p
        spread = ", ".join(f"{q:g} in {share:.0%}" for q, share in sorted(shares.items()))
        rows.append((site, kind, spread))
    return pd.DataFrame(rows, columns=["site", "kind", "quantity after commit: share of futures"])
