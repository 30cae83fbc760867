"""Hosting: MW contracted per contract block, the hourly hosted draw and the curtailment
budget of each block (MODEL.md §3 "Hosting").

Per site: `hosted[b]` MW in [0, max_mw]; `host[j]` MW in [0, hosted[b(m(j))]];
sum_j w_j (hosted[b] - host[j]) <= max_curtail_share * hours(b) * hosted[b]. Hosted
machines sit on the shared mining-infrastructure row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from optim.checks import hosting as checker
from optim.core import Core
from optim.option import Option, SpecContext
from optim.scenario import NonNeg, Site, Strict

NAME = "hosting"
INFRA_ROW = "mining_infra"


class Hosting(Strict):
    rate_usd_per_mwh: float
    max_mw: NonNeg = 0.0
    contract_months: int = Field(1, ge=1)
    max_curtail_share: float = Field(0.0, ge=0, le=1)


@dataclass(frozen=True)
class HostingSpec:
    max_mw: float
    rate_usd_per_mwh: float
    contract_months: int
    max_curtail_share: float


def site_spec(ctx: SpecContext, site: Site) -> HostingSpec | None:
    h = site.hosting
    return None if h is None else HostingSpec(h.max_mw, h.rate_usd_per_mwh, h.contract_months,
                                              h.max_curtail_share)


def build(core: Core) -> None:
    p = core.problem
    b = core.block(NAME)
    for s, site in enumerate(p.sites):
        h: HostingSpec | None = site.spec(NAME)
        if h is None or h.max_mw <= 0:
            continue
        st = site.steps
        months = np.arange(p.n_months)
        block_of_month = months // h.contract_months
        blocks = np.arange(block_of_month.max() + 1)
        hosted_vars = core.decision(b, f"hosted_{s}", "hosting", "hosting", s,
                                    blocks * h.contract_months, h.max_mw, False, 1.0, 0.0, None)
        hosted = core.settled(hosted_vars)
        step_block = block_of_month[st.month]
        host = core.capped(b, f"host_{s}", st.n, hosted, step_block)
        hours = np.bincount(step_block, weights=st.weight_h, minlength=len(blocks))
        must_host = (1.0 - h.max_curtail_share) * hours
        row, col, coef = step_block, core.cols(host), -st.weight_h
        contracted, must = core.per(hosted, blocks, must_host)
        if contracted is None:
            rhs = -must
        else:
            row = np.concatenate([blocks, row])
            col = np.concatenate([core.cols(contracted), col])
            coef = np.concatenate([must, coef])
            rhs = np.zeros(len(blocks))
        core.sparse_rows(b, f"curtail_budget_{s}", row, col, coef, len(blocks), "<=", rhs)
        core.draw(s, "hosting_mw", host)
        core.add_to_row(INFRA_ROW, s, host, 1.0)
        core.add_cash("hosting_usd", s, st.month, h.rate_usd_per_mwh * st.weight_h, host)
        core.add_state("hosted_mw", s, months, *core.per(hosted, block_of_month))


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    site_fields={"hosting": (Hosting | None, None)},
    site_spec=site_spec,
    lines={"hosting_usd": ("Hosting revenue", 2)},
    flows={"hosting_mw": ("hosting", 2)},
    states={"hosted_mw": "hosted (MW contracted)"},
    kinds={"hosting": "hosting contracts"},
)
