"""The plan as cash flows: EBITDA, cash capex, free cash flow, a terminal value, and the
incremental NPV, IRR and payback of the plan against its no-investment baseline.

MODEL.md §2 charges capital as an annuity to the horizon end; a lender reads cash capex in
the decision month instead. The two agree through the terminal value: the capital not yet
recovered at the horizon end, i.e. every cash capex compounded at the discount rate to the
horizon end less the capital charges paid, compounded alike. With it, discounting the
monthly free cash flows plus the terminal value gives back the NPV exactly. With a zero
discount rate it is exactly the capital charges still owed after the horizon; with a positive
rate it differs from their present value only by the annuity's one-month timing (charges
are booked at the start of each month).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

PLAN, BASELINE = "plan", "baseline"
PORTFOLIO = "portfolio"
CHARGES = "capital_charges_usd"
IRR_LOW, IRR_HIGH = -0.99, 100.0  # annual rates searched for the IRR


def _by(frame: pd.DataFrame) -> list[str]:
    """The columns that tell plans apart: the case, and the future in a futures run."""
    return ["case", "future"] if "future" in frame else ["case"]


def ledger_lines(monthly: pd.DataFrame) -> list[str]:
    """The NPV lines of monthly.parquet that are cash (every line but capital charges)."""
    skip = {CHARGES, "margin_usd", "discounted_margin_usd"}
    return [c for c in monthly.columns if c.endswith("_usd") and c not in skip]


def monthly_cash_flows(monthly: pd.DataFrame, investments: pd.DataFrame,
                       discount_rate: float, case: str = PLAN) -> pd.DataFrame:
    """Per site and month: every cash line, EBITDA, cash capex (positive, in the decision
    month, undiscounted), free cash flow, and in each site's last month the terminal value
    at the horizon end (see the module's docstring)."""
    lines = ledger_lines(monthly)
    ids = ["future"] if "future" in monthly else []
    frame = monthly[[*ids, "site", "month", *lines, CHARGES, "discount_factor"]].copy()
    frame.insert(0, "case", case)
    plan = [*ids, "site"]
    frame["ebitda_usd"] = frame[lines].sum(axis=1)
    if ids and len(investments):
        own = investments.groupby(["future", "site", "month"])["capex_usd"].sum()
        shared = own.xs("", level="future") if "" in own.index.get_level_values(0) \
            else pd.Series(dtype=float)
        own_capex = own.reindex(pd.MultiIndex.from_frame(frame[plan + ["month"]]))
        shared_capex = shared.reindex(pd.MultiIndex.from_frame(frame[["site", "month"]]))
        frame["capex_usd"] = own_capex.fillna(0.0).to_numpy() + \
            shared_capex.fillna(0.0).to_numpy()
    else:
        capex = investments.groupby(["site", "month"])["capex_usd"].sum() \
            if len(investments) else pd.Series(dtype=float)
        keys = pd.MultiIndex.from_frame(frame[["site", "month"]])
        frame["capex_usd"] = capex.reindex(keys).fillna(0.0).to_numpy()
    frame["free_cash_flow_usd"] = frame["ebitda_usd"] - frame["capex_usd"]
    groups = frame.groupby(plan, sort=False)
    n_months = groups["month"].transform("size").to_numpy()
    df_end = (1.0 + discount_rate) ** (-n_months / 12.0)
    owed = (frame["discount_factor"] * (frame["capex_usd"] + frame[CHARGES]))
    owed_by_site = owed.groupby([frame[c] for c in plan], sort=False).transform("sum")
    owed_by_site = owed_by_site.to_numpy()
    last = (groups.cumcount() == n_months - 1).to_numpy()
    frame["terminal_value_usd"] = np.where(last, owed_by_site / df_end, 0.0)
    frame["terminal_discount_factor"] = np.where(last, df_end, 0.0)
    frame["year"] = frame["month"].str[:4].astype(int)
    return frame


def npv_of(frame: pd.DataFrame) -> float:
    """Discounted free cash flows plus the discounted terminal value (equals the NPV)."""
    return float((frame["discount_factor"] * frame["free_cash_flow_usd"]).sum()
                 + (frame["terminal_discount_factor"] * frame["terminal_value_usd"]).sum())


def portfolio(frame: pd.DataFrame) -> pd.DataFrame:
    """The sites' monthly cash flows summed per (case, month)."""
    numeric = [c for c in frame.columns if c.endswith("_usd")]
    groups = frame.groupby([*_by(frame), "month"], sort=True)
    out = groups[numeric].sum().reset_index()
    firsts = groups[["discount_factor", "year"]].first()
    out["discount_factor"] = firsts["discount_factor"].to_numpy()
    out["year"] = firsts["year"].to_numpy()
    out["terminal_discount_factor"] = groups["terminal_discount_factor"].max().to_numpy()
    out.insert(len(_by(frame)), "site", PORTFOLIO)
    return out


def annual(frame: pd.DataFrame) -> pd.DataFrame:
    """Per case, site (and the portfolio) and calendar year: every cash line, EBITDA, cash
    capex, free cash flow, the cumulative free cash flow, and the terminal value in the
    horizon's last year."""
    both = pd.concat([frame, portfolio(frame)], ignore_index=True)
    money = [c for c in both.columns if c.endswith("_usd") and c != CHARGES]
    out = both.groupby([*_by(frame), "site", "year"], sort=False)[money].sum().reset_index()
    out["cumulative_free_cash_flow_usd"] = out.groupby([*_by(frame), "site"], sort=False)[
        "free_cash_flow_usd"].cumsum()
    return out


def _npv_at(rate_annual: float, flows: np.ndarray, terminal: float) -> float:
    monthly = (1.0 + rate_annual) ** (1.0 / 12.0)
    k = np.arange(len(flows))
    return float((flows * monthly ** (-k)).sum() + terminal * monthly ** (-len(flows)))


def irr(flows: np.ndarray, terminal: float) -> float | None:
    """The annual rate at which the monthly `flows` plus `terminal` (one month after the
    last) have zero present value (Brent's method); None when their present value does not
    change sign between -99 % and +10,000 % a year (e.g. no outlay, or no recovery)."""
    f_lo, f_hi = _npv_at(IRR_LOW, flows, terminal), _npv_at(IRR_HIGH, flows, terminal)
    if not (np.isfinite(f_lo) and np.isfinite(f_hi)) or f_lo * f_hi >= 0:
        return None
    from scipy.optimize import brentq  # 0.2 s to import: only where an IRR is asked

    return float(brentq(_npv_at, IRR_LOW, IRR_HIGH, args=(flows, terminal), xtol=1e-12,
                        maxiter=500))


def payback_month(months: list[str], flows: np.ndarray) -> str | None:
    """The first month from which the cumulative undiscounted `flows` stay >= 0 to the
    horizon end, after having been negative; None if they never recover (or never dip)."""
    cumulative = np.cumsum(flows)
    negative = np.flatnonzero(cumulative < -1e-6)
    if len(negative) == 0 or negative[-1] == len(flows) - 1:
        return None
    return months[negative[-1] + 1]


def incremental(plan: pd.DataFrame, baseline: pd.DataFrame,
                discount_rate: float) -> dict[str, object]:
    """The plan against its baseline, portfolio-wide: NPVs (from the cash flows), the
    incremental NPV, the IRR of the incremental monthly free cash flows with the
    incremental terminal value, and the payback month of the incremental cash."""
    a, b = portfolio(plan), portfolio(baseline)
    months = a["month"].tolist()
    flows = a["free_cash_flow_usd"].to_numpy() - b["free_cash_flow_usd"].to_numpy()
    terminal = float(a["terminal_value_usd"].sum() - b["terminal_value_usd"].sum())
    rate = irr(flows, terminal)
    return {
        "plan_npv_usd": npv_of(plan),
        "baseline_npv_usd": npv_of(baseline),
        "incremental_npv_usd": npv_of(plan) - npv_of(baseline),
        "incremental_capex_usd": float(a["capex_usd"].sum() - b["capex_usd"].sum()),
        "incremental_terminal_value_usd": terminal,
        "irr": rate,
        "payback_month": payback_month(months, flows),
        "discount_rate": discount_rate,
    }
