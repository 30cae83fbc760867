"""Independent check of hosting (MODEL.md §3 "Hosting").

MW contracted per contract block (decision kind `hosting`, no capex), the hosted draw
within it, the per-block curtailment budget and `max_mw`; revenue at the hosting rate. The
draw counts against the site's `mining_infra` row.
"""

from __future__ import annotations

import numpy as np

from optim.checks.base import DRAW, NO_CAPEX, Capex, Context, Decision, SiteContext

NAME = "hosting"
KINDS = {"hosting": False}
FLOWS = {"hosting_mw": DRAW}
LINES = {"hosting_usd": 2}
INFRA_ROW = "mining_infra"


def _n_blocks(n_months: int, contract_months: int) -> int:
    return -(-n_months // contract_months)


def read(ctx: Context, row: Decision) -> Capex | None:
    """MW contracted for the block that starts in the row's month."""
    h = row.site.hosting
    if h is None:
        return None
    cm = h.contract_months
    if row.month % cm != 0:
        ctx.violation("hosting_block", row.site.name, row.label, abs(row.quantity), 0.0,
                      tol=0.0, rel=1.0)
    hosted = ctx.state.setdefault(row.site.name,
                                  np.zeros(_n_blocks(ctx.time.n_months, cm)))
    hosted[row.month // cm] += row.quantity
    return NO_CAPEX


def check_site(ctx: SiteContext) -> None:
    """Contract caps and curtailment budgets per block, draw within the contracted MW."""
    site, time = ctx.site, ctx.time
    host = ctx.flow("hosting_mw")
    hosted_h = np.zeros(time.n_hours)
    h = site.hosting
    if h is not None:
        cm = h.contract_months
        n_blocks = _n_blocks(time.n_months, cm)
        hosted = ctx.state.get(site.name, np.zeros(n_blocks))
        block_of_hour = time.month_of_hour // cm
        hosted_h = hosted[block_of_hour]
        for b in range(n_blocks):
            when = time.month_labels[b * cm]
            ctx.add("hosting_max", when, hosted[b] - h.max_mw, h.max_mw)
            ctx.add("nonnegative", when, -hosted[b], 0.0)
        hours_b = np.bincount(block_of_hour, minlength=n_blocks).astype(float)
        drawn_b = np.bincount(block_of_hour, weights=host, minlength=n_blocks)
        curtailed = hours_b * hosted - drawn_b
        allowed = h.max_curtail_share * hours_b * hosted
        for b in range(n_blocks):
            ctx.add("curtail_budget", time.month_labels[b * cm], curtailed[b] - allowed[b],
                    hours_b[b] * hosted[b])
        ctx.cash("hosting_usd", time.by_month(h.rate_usd_per_mwh * host))
    ctx.hourly("host_cap", host - hosted_h, hosted_h)
    ctx.add_to_row(INFRA_ROW, host)
