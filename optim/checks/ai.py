"""Independent check of AI colocation (MODEL.md §3 "AI colocation").

Hall starts online after the lead time (plus halls under construction), the hall cap, the
firm draw `pue * hall_it_mw * online`, lease, pass-through, opex and liquidated damages of
signed leases. Online halls reduce the site's `mining_infra` row by
`displaces_mining_mw_per_hall` each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optim.checks.base import DRAW, Capex, Context, Decision, SiteContext, Time, delivered

NAME = "ai"
KINDS = {"ai_hall": True}
FLOWS = {"ai_mw": DRAW}
LINES = {"lease_usd": 3, "pass_through_usd": 4, "ai_opex_usd": 8,
         "liquidated_damages_usd": 10}
INFRA_ROW = "mining_infra"


def read(ctx: Context, row: Decision) -> Capex | None:
    """`quantity` halls whose retrofit starts in the row's month."""
    ai = row.site.ai
    if ai is None:
        return None
    starts = ctx.state.setdefault(row.site.name, np.zeros(ctx.time.n_months))
    starts[row.month] += row.quantity
    return Capex(ai.capex_usd_per_mw_it * ai.hall_it_mw, ai.life_months)


def check_site(ctx: SiteContext) -> None:
    """Hall cap, the firm draw every hour, the monthly cash, the infrastructure offset."""
    site, time = ctx.site, ctx.time
    n, m = time.n_months, time.month_of_hour
    ai = ctx.flow("ai_mw")
    opt = site.ai
    if opt is None:
        ctx.hourly("ai_draw", np.abs(ai), 0.0)
        return
    online = np.zeros(n)
    for u in opt.under_construction:
        k_on = max(time.month_index(u.online_month), 0)
        online[k_on:] += u.halls
    starts = ctx.state.get(site.name, np.zeros(n))
    online += delivered(starts, opt.lead_time_months)
    halls = sum(u.halls for u in opt.under_construction) + float(starts.sum())
    ctx.add("halls_cap", None, halls - opt.max_halls, opt.max_halls)
    mw_it = opt.hall_it_mw
    need = opt.pue * mw_it * online[m]
    ctx.hourly("ai_draw", np.abs(ai - need), need)
    ctx.cash("lease_usd", online * mw_it * 1000.0 * opt.lease_usd_per_kw_month)
    ctx.cash("ai_opex_usd", -(opt.opex_usd_per_mw_it_month * mw_it * online))
    if opt.power_pass_through:
        ctx.cash("pass_through_usd",
                 time.by_month(ai * (ctx.price + site.energy_adder_usd_per_mwh)))
    ctx.cash("liquidated_damages_usd", -damages(opt, online, time))
    ctx.add_to_rhs(INFRA_ROW, -(opt.displaces_mining_mw_per_hall * online[m]))


def damages(ai: Any, online: np.ndarray, time: Time) -> np.ndarray:
    """Liquidated damages per month: the shortfall goes to the cheapest contracts first."""
    n = len(online)
    cost = np.zeros(n)
    if not ai.signed:
        return cost
    contracts = sorted(ai.signed, key=lambda e: e.ld_usd_per_mw_month)  # stable: file order
    due_month = [time.month_index(e.rfs_month) for e in contracts]
    for k in range(n):
        due = [(e, d) for e, d in zip(contracts, due_month, strict=True) if d <= k]
        short = max(0.0, sum(e.halls for e, _ in due) - online[k])
        for e, _ in due:
            take = min(short, e.halls)
            cost[k] += e.ld_usd_per_mw_month * ai.hall_it_mw * take
            short -= take
            if short <= 0:
                break
    return cost
