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
        hosted_vars = core.var(b, f"hosted_{s}", list(blocks), 0.0, h.max_mw)
        core.add_investment("hosting", "hosting", s, blocks * h.contract_months, hosted_vars,
                            1.0, 0.0, None)
        hosted = core.settled(hosted_vars)
        step_block = block_of_month[st.month]
        host = core.capped(b, f"host_{s}", st.n, hosted, step_block)
        hours = np.bincount(step_block, weights=st.weight_h, minlength=len(blocks))
        must_host = (1.0 - h.max_curtail_share) * hours
        budget_rows, budget_rhs = [], []
        for blk in blocks:
            members = np.flatnonzero(step_block == blk)
            terms = [host[j] for j in members], (-st.weight_h[members]).tolist()
            contracted, coef = core.per(hosted, np.array([blk]), must_host[blk])
            if contracted is None:
                budget_rhs.append(-float(coef[0]))
            else:
                terms = [contracted[0], *terms[0]], [float(coef[0]), *terms[1]]
                budget_rhs.append(0.0)
            budget_rows.append(terms)
        core.rows(b, f"curtail_budget_{s}", budget_rows, "<=", np.array(budget_rhs))
        core.draw(s, "hosting_mw", host)
        core.add_to_row("mining_infra", s, host, 1.0)
        core.add_cash("hosting_usd", s, st.month, h.rate_usd_per_mwh * st.weight_h, host)
        core.add_state("hosted_mw", s, months, *core.per(hosted, block_of_month))
