"""Independent check of AI halls (MODEL.md §3 "AI colocation", §8 cloud halls, tenant
load and lease escalators).

Lease and cloud hall starts online after the lead time (lease halls plus those under
construction), both kinds within `max_halls`; the draw `pue * hall_it_mw * (u * lease
halls + cloud halls)` (u the tenant's load profile as the plan saw it); the lease per
vintage `(1 + g) ** floor(months online / 12)`, pass-through on the lease halls' draw,
facility and cloud opex, the GPU-hour revenue (line `compute`), the GPUs' capital charge
over their own life, and liquidated damages of signed leases. Online halls of both kinds
reduce the site's `mining_infra` row by `displaces_mining_mw_per_hall` each.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from optim.checks.base import DRAW, REPORT, Capex, Context, Decision, SiteContext, Time, delivered

NAME = "ai"
KINDS = {"ai_hall": True, "ai_cloud_hall": True}
FLOWS = {"ai_mw": DRAW, "ai_unused_mw": REPORT}
LINES = {"lease_usd": 3, "compute_usd": 3.5, "pass_through_usd": 4, "ai_opex_usd": 8,
         "liquidated_damages_usd": 10}
INFRA_ROW = "mining_infra"


def read(ctx: Context, row: Decision) -> Capex | None:
    """`quantity` lease or cloud halls whose retrofit starts in the row's month; a cloud
    hall's GPUs are charged over their own life."""
    ai = row.site.ai
    if ai is None or (row.kind == "ai_cloud_hall" and ai.cloud is None):
        return None
    starts = ctx.state.setdefault((row.site.name, row.kind), np.zeros(ctx.time.n_months))
    starts[row.month] += row.quantity
    hall_usd = ai.capex_usd_per_mw_it * ai.hall_it_mw
    if row.kind == "ai_hall":
        return Capex(hall_usd, ai.life_months)
    gpu_usd = ai.cloud.gpu_capex_usd_per_mw_it * ai.hall_it_mw
    return Capex(hall_usd + gpu_usd, ai.life_months,
                 ((hall_usd, ai.life_months), (gpu_usd, ai.cloud.gpu_life_months)))


def check_site(ctx: SiteContext) -> None:
    """Hall cap, the draw every hour, the monthly cash, the infrastructure offset."""
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
    starts = ctx.state.get((site.name, "ai_hall"), np.zeros(n))
    cloud_starts = ctx.state.get((site.name, "ai_cloud_hall"), np.zeros(n))
    online += delivered(starts, opt.lead_time_months)
    cloud = delivered(cloud_starts, opt.lead_time_months)
    halls = sum(u.halls for u in opt.under_construction) + float(starts.sum()) + \
        float(cloud_starts.sum())
    ctx.add("halls_cap", None, halls - opt.max_halls, opt.max_halls)
    mw_it = opt.hall_it_mw
    load = np.ones(time.n_hours)
    if opt.load_profile:
        load = ctx.as_planned(np.asarray(ctx.series.capacity_factor[opt.load_profile], float))
    lease_draw = opt.pue * mw_it * online[m] * load
    unused = opt.pue * mw_it * online[m] * (1.0 - load)
    ctx.hourly("ai_unused", np.abs(ctx.flow("ai_unused_mw") - unused), unused)
    need = lease_draw + opt.pue * mw_it * cloud[m]
    ctx.hourly("ai_draw", np.abs(ai - need), need)
    ctx.cash("lease_usd", mw_it * 1000.0 * opt.lease_usd_per_kw_month *
             escalated_halls(opt, starts, time))
    ctx.cash("ai_opex_usd", -(opt.opex_usd_per_mw_it_month * mw_it * (online + cloud)))
    if opt.cloud is not None:
        c = opt.cloud
        price = np.asarray(ctx.series.extra["ai"]["price_usd_per_gpu_hour"], float)
        ctx.cash("compute_usd", time.by_month(price[time.day_of_hour] * c.gpus_per_mw_it *
                                              mw_it * c.utilization * cloud[m]))
        ctx.cash("ai_opex_usd", -(c.opex_usd_per_mw_it_month * mw_it * cloud))
    if opt.power_pass_through:
        ctx.cash("pass_through_usd",
                 time.by_month(lease_draw * (ctx.price + site.energy_adder_usd_per_mwh)))
    ctx.cash("liquidated_damages_usd", -damages(opt, online, time))
    ctx.add_to_rhs(INFRA_ROW, -(opt.displaces_mining_mw_per_hall * (online + cloud)[m]))


def escalated_halls(ai: Any, starts: np.ndarray, time: Time) -> np.ndarray:
    """Lease halls per month, each weighted by its vintage's escalation
    (1 + g) ** floor((k - k_r) / 12) since its online month k_r."""
    n = time.n_months
    k = np.arange(n)
    vintages = [(u.halls, time.month_index(u.online_month)) for u in ai.under_construction]
    vintages += [(q, j + ai.lead_time_months) for j, q in enumerate(starts) if q]
    out = np.zeros(n)
    for halls, k_r in vintages:
        since = k - k_r
        out += np.where(since >= 0, halls * (1.0 + ai.lease_escalator_per_year) **
                        np.floor_divide(np.maximum(since, 0), 12), 0.0)
    return out


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
