"""Hosting: MW contracted per contract block, the hourly hosted draw and the curtailment
budget of each block (MODEL.md §3 "Hosting").

Per site: `hosted[b]` MW in [0, max_mw]; `host[j]` MW in [0, hosted[b(m(j))]];
sum_j w_j (hosted[b] - host[j]) <= max_curtail_share * hours(b) * hosted[b].
"""

from __future__ import annotations

import numpy as np

from optim.core import Core


def build(core: Core) -> None:
    p = core.problem
    b = core.block("hosting")
    for s, site in enumerate(p.sites):
        h = site.hosting
        if h is None or h.max_mw <= 0:
            continue
        st = site.steps
        months = np.arange(p.n_months)
        block_of_month = months // h.contract_months
        blocks = np.arange(block_of_month.max() + 1)
        hosted = core.var(b, f"hosted_{s}", list(blocks), 0.0, h.max_mw)
        steps = list(range(st.n))
        host = core.var(b, f"host_{s}", steps, 0.0, h.max_mw)
        step_block = block_of_month[st.month]
        core.rows(b, f"host_cap_{s}", [([host[j], hosted[step_block[j]]], [1.0, -1.0])
                                       for j in steps], "<=", 0.0)
        hours = np.bincount(step_block, weights=st.weight_h, minlength=len(blocks))
        budget_rows = []
        for blk in blocks:
            members = np.flatnonzero(step_block == blk)
            budget_rows.append(([hosted[blk], *[host[j] for j in members]],
                                [(1.0 - h.max_curtail_share) * hours[blk],
                                 *(-st.weight_h[members]).tolist()]))
        core.rows(b, f"curtail_budget_{s}", budget_rows, "<=", 0.0)
        core.draw(s, "hosting_mw", host)
        core.add_to_row("mining_infra", s, host, 1.0)
        core.add_cash("hosting_usd", s, st.month, h.rate_usd_per_mwh * st.weight_h, host)
        core.add_investment("hosting", "hosting", s, blocks * h.contract_months, hosted, 1.0,
                            0.0, None)
        core.add_state("hosted_mw", s, months, [hosted[blk] for blk in block_of_month])
