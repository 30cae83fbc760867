"""Self-mining: ASIC purchases in integer blocks with a delivery lag, the fleet, and the
hourly draw that earns the hashprice (MODEL.md §3 "Self-mining"); it owns the
mining-infrastructure row that hosting and AI halls share.

Per site s and ASIC model a: `buy[k]` integer blocks in investment months, `fleet[k]` MW,
`mine[j]` MW in [0, uptime * fleet[m(j)]]. Publishes, per ASIC model, its draw
`mining_draw_mw` and its revenue per MWh per unit of hashprice (what a reserve offer
backed by that draw gives up when deployed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field

from optim.checks import mining as checker
from optim.core import Core
from optim.option import Headline, Option, RowPart, SpecContext
from optim.problem import Problem, SiteSpec
from optim.scenario import (
    NonNeg,
    Pos,
    Scenario,
    Share,
    Site,
    Strict,
    _suggest,
    duplicate_names,
)

NAME = "mining"
INFRA_ROW = "mining_infra"  # sum of miners' draw <= mining_infra_mw (others add to it)
DRAW = "mining_draw_mw"  # published: the scheduled draw per ASIC model
YIELD = "mining_usd_per_mwh_per_hashprice"  # published: revenue per MWh per USD/PH/day


class Asic(Strict):
    name: str = Field(min_length=1)
    efficiency_j_per_th: Pos
    price_usd_per_th: NonNeg
    life_months: int = Field(gt=0)
    uptime: Share = 1.0
    delivery_months: int = Field(0, ge=0)


class FleetEntry(Strict):
    asic: str
    mw: NonNeg


@dataclass(frozen=True)
class AsicSpec:
    name: str
    efficiency_j_per_th: float
    block_capex_usd: float  # cash capex of one block of block_mw
    life_months: int
    uptime: float
    delivery_months: int


@dataclass(frozen=True)
class MiningSpec:
    pool_fee: float
    block_mw: float
    asics: tuple[AsicSpec, ...]


@dataclass(frozen=True)
class MiningSiteSpec:
    mining_infra_mw: float
    max_new_asic_blocks: int
    existing_fleet_mw: np.ndarray  # (A,)


def revenue_usd_per_mwh(hashprice_usd_per_ph_day: np.ndarray, efficiency_j_per_th: float,
                        pool_fee: float) -> np.ndarray:
    """Mining revenue per MWh drawn: 1 MW at e J/TH is 1000/e PH/s."""
    return hashprice_usd_per_ph_day * (1000.0 / efficiency_j_per_th) / 24.0 * (1.0 - pool_fee)


def validate(scenario: Scenario) -> list[str]:
    names = [a.name for a in scenario.asic]
    problems = duplicate_names("asic", names)
    for i, site in enumerate(scenario.site):
        for j, entry in enumerate(site.existing_fleet):
            if entry.asic not in names:
                problems.append(f"site[{i}] ({site.name}).existing_fleet[{j}].asic: "
                                f"{entry.asic!r} is not an [[asic]] entry"
                                f"{_suggest(entry.asic, names)}")
    return problems


def spec(ctx: SpecContext) -> MiningSpec:
    sc = ctx.scenario.scenario
    return MiningSpec(sc.pool_fee, sc.block_mw, tuple(
        AsicSpec(a.name, a.efficiency_j_per_th,
                 sc.block_mw * 1e6 / a.efficiency_j_per_th * a.price_usd_per_th,
                 a.life_months, a.uptime, a.delivery_months) for a in ctx.scenario.asic))


def hourly(ctx: SpecContext, site: Site) -> dict[str, np.ndarray]:
    return {"hashprice_usd_per_ph_day":
            ctx.series.hashprice_usd_per_ph_day[ctx.horizon.day_of_hour]}


def site_spec(ctx: SpecContext, site: Site) -> MiningSiteSpec:
    own: MiningSpec = ctx.own
    fleet = np.zeros(len(own.asics))
    index = {a.name: i for i, a in enumerate(own.asics)}
    for entry in site.existing_fleet:
        fleet[index[entry.asic]] += entry.mw
    return MiningSiteSpec(site.mining_infra_mw,
                          int(np.floor(site.max_new_asic_mw / own.block_mw + 1e-9)), fleet)


def row_parts(problem: Problem, site: SiteSpec) -> list[RowPart]:
    """The mining infrastructure is the capacity of its row."""
    ms: MiningSiteSpec = site.spec(NAME)
    return [RowPart(INFRA_ROW, np.full(problem.n_months, ms.mining_infra_mw),
                    f"mining_infra_mw {ms.mining_infra_mw:g}", capacity=True)]


def build(core: Core) -> None:
    p = core.problem
    own: MiningSpec = p.spec(NAME)
    b = core.block(NAME)
    months = np.arange(p.n_months)
    invest = np.flatnonzero(p.invest_month)
    for s, site in enumerate(p.sites):
        ms: MiningSiteSpec = site.spec(NAME)
        st = site.steps
        core.declare_row(INFRA_ROW, s, "<=", ms.mining_infra_mw, "mining infrastructure",
                         lambda _short, ms=ms: f"mining_infra_mw {ms.mining_infra_mw:g}")
        can_buy = ms.max_new_asic_blocks > 0 and len(invest) > 0
        all_buys: list = []
        for a, asic in enumerate(own.asics):
            existing_mw = ms.existing_fleet_mw[a]
            if existing_mw <= 0 and not can_buy:
                continue
            buy: list = []
            if can_buy:
                buy = core.decision(b, f"buy_{s}_{a}", "asic", asic.name, s, invest,
                                    ms.max_new_asic_blocks, True, own.block_mw,
                                    asic.block_capex_usd, asic.life_months)
                all_buys += buy
            fleet = core.stock(b, f"fleet_{s}_{a}", buy, invest[:len(buy)],
                               asic.delivery_months, existing_mw, own.block_mw)
            mine = core.capped(b, f"mine_{s}_{a}", st.n, fleet, st.month, asic.uptime)
            core.add_state("asic_fleet_mw", s, months, *core.per(fleet, months))
            core.draw(s, "mining_mw", mine, detail=asic.name)
            core.add_to_row(INFRA_ROW, s, mine, 1.0)
            core.publish(DRAW, s, mine, 1.0, detail=asic.name)
            core.publish(YIELD, s, None,
                         revenue_usd_per_mwh(1.0, asic.efficiency_j_per_th, own.pool_fee),
                         detail=asic.name)
            rate = revenue_usd_per_mwh(st.input(NAME, "hashprice_usd_per_ph_day"),
                                       asic.efficiency_j_per_th, own.pool_fee)
            core.add_cash("mining_usd", s, st.month, rate * st.weight_h, mine)
        core.total_cap(b, f"buy_cap_{s}", all_buys, ms.max_new_asic_blocks)


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    scenario_fields={"asic": (list[Asic], [])},
    site_fields={"mining_infra_mw": (float, 0.0), "max_new_asic_mw": (NonNeg, 0.0),
                 "existing_fleet": (list[FleetEntry], [])},
    validate=validate,
    spec=spec,
    hourly=hourly,
    site_spec=site_spec,
    row_parts=row_parts,
    lines={"mining_usd": ("Self-mining revenue", 1)},
    flows={"mining_mw": ("mining", 1)},
    states={"asic_fleet_mw": "ASIC fleet (MW)"},
    kinds={"asic": "ASIC blocks"},
    headline={"asic_mw": Headline("ASIC MW bought", "asic", "mw", 2)},
    provides=(DRAW, YIELD),
)
