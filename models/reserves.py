"""Reserves: capacity products sold by flexible self-mining load (MODEL.md §7).

Per site s, product r, ASIC model a: `offer[r,a,j] >= 0` MW in every step (hourly
products) or `offer[r,a,k]` per month, the same MW in every step of the month (monthly
products). Only the self-mining draw backs an offer and a MW backs one product:
sum_r offer[r,a,j] <= mine[a,j]; sum_a offer[r,a,j] <= max_mw[r]. When deployed
(`deployed_share`), the offered MW stop drawing: the balance sees the draw reduced by
share * offer (flow `reserve_deployed_mw`) and the mining line loses the hashprice on it.
The capacity payment price * offer is the `reserves` line. Offers are dispatch: the hourly
re-solve re-optimises them (monthly ones per month).

In a step where no hourly product of the site is deployed (every share 0), which ASIC
model backs an hourly offer changes no number: the offer is then one variable per product
("pooled", reported without an ASIC model) and the offers are backed by the whole draw,
sum of offers <= sum_a mine[a] (a split per model exists). An hourly product is not
offered in an hour where it pays nothing (an offer there could only lose hashprice), nor in
a blocks step where it pays nothing and is not deployed; a deployed blocks step keeps its
offers, since the group mean of rate * share can make even an unpaid offer pay there.
Both reductions are exact and remove most offer variables and rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from optim.checks import reserves as checker
from optim.core import Core
from optim.option import Option, SpecContext
from optim.scenario import NonNeg, Scenario, Site, Strict, site_references
from optim.series import Horizon, listing, read_hourly_columns

NAME = "reserves"
DRAW = "mining_draw_mw"  # consumed: the mining draw per ASIC model (published by mining)
YIELD = "mining_usd_per_mwh_per_hashprice"  # consumed: revenue per MWh per USD/PH/day
PRICE, SHARE = "price_usd_per_mw_h", "deployed_share"


class Product(Strict):
    name: str = Field(min_length=1)
    commitment: Literal["hourly", "monthly"] = "hourly"


class SiteReserve(Strict):
    product: str
    max_mw: NonNeg = 0.0


@dataclass(frozen=True)
class ReservesSiteSpec:
    products: tuple[str, ...]
    monthly: tuple[bool, ...]
    max_mw: np.ndarray  # (R,)


def validate(scenario: Scenario) -> list[str]:
    problems = site_references(scenario, "reserve", "reserves", "product")
    if any(site.reserves for site in scenario.site) and scenario.data.reserve_prices is None:
        problems.append("[data].reserve_prices is needed: a site offers reserves")
    return problems


def read(scenario: Scenario, horizon: Horizon) -> dict[str, dict[str, np.ndarray]]:
    """The hourly price and deployed share of every product a site offers."""
    wanted = sorted({r.product for site in scenario.site for r in site.reserves})
    if not wanted:
        return {}
    columns, check = read_hourly_columns(scenario.path("reserve_prices"), "product", [PRICE],
                                         [SHARE], wanted, horizon)
    hours = horizon.hours_utc
    for product, price in columns.get(PRICE, {}).items():
        bad = np.isfinite(price) & (price < 0)
        if bad.any():
            check.add(f"product {product!r}: {PRICE} must be >= 0; not at: "
                      f"{listing(hours[bad])}")
    for product, share in columns.get(SHARE, {}).items():
        bad = np.isfinite(share) & ((share < 0) | (share > 1))
        if bad.any():
            check.add(f"product {product!r}: {SHARE} outside [0, 1] at: {listing(hours[bad])}")
    check.raise_if_any()
    none = np.zeros(horizon.n_hours)
    return {p: {PRICE: columns[PRICE][p], SHARE: columns.get(SHARE, {}).get(p, none)}
            for p in wanted}


def scale(data: dict[str, dict[str, np.ndarray]], factor: float) -> dict:
    """Every product's capacity price times `factor` (deployment unchanged)."""
    return {p: {**d, PRICE: d[PRICE] * factor} for p, d in data.items()}


def hourly(ctx: SpecContext, site: Site) -> dict[str, np.ndarray]:
    """Per product of the site: price, deployed share, and hashprice * share (the mean of
    rate * share over a step is the lost mining revenue of a deployed MW)."""
    if not site.reserves:
        return {}
    data = ctx.series.extra[NAME]
    price = np.column_stack([data[r.product][PRICE] for r in site.reserves])
    share = np.column_stack([data[r.product][SHARE] for r in site.reserves])
    hashprice = ctx.series.hashprice_usd_per_ph_day[ctx.horizon.day_of_hour]
    return {PRICE: price, SHARE: share, "hashprice_x_share": hashprice[:, None] * share}


def site_spec(ctx: SpecContext, site: Site) -> ReservesSiteSpec | None:
    if not site.reserves:
        return None
    monthly = {r.name: r.commitment == "monthly" for r in ctx.scenario.reserve}
    return ReservesSiteSpec(tuple(r.product for r in site.reserves),
                            tuple(monthly[r.product] for r in site.reserves),
                            np.array([r.max_mw for r in site.reserves], float))


def build(core: Core) -> None:
    p = core.problem
    b = core.block(NAME)
    for s, site in enumerate(p.sites):
        spec: ReservesSiteSpec | None = site.spec(NAME)
        draws = core.published(DRAW, s)
        if spec is None or not draws:
            continue
        yields = {asic: coef for asic, _, coef in core.published(YIELD, s)}
        st = site.steps
        price, share = st.input(NAME, PRICE), st.input(NAME, SHARE)
        lost = st.input(NAME, "hashprice_x_share")
        hourly = [r for r, monthly in enumerate(spec.monthly) if not monthly]
        pooled = (share[:, hourly] == 0).all(axis=1) if hourly else np.zeros(st.n, bool)
        paid = price > 0 if p.resolution == "hourly" else (price > 0) | (share > 0)
        backing: dict[str, list[list]] = {asic: [] for asic, _, _ in draws}
        pool: list[list] = []
        for r, product in enumerate(spec.products):
            by_asic = {}
            for asic, _, _ in draws:
                offer = _offer(core, b, f"offer_{s}_{r}_{asic}", st.month, p.n_months,
                               spec.monthly[r], spec.max_mw[r],
                               None if spec.monthly[r] else ~pooled & paid[:, r])
                by_asic[asic] = offer
                backing[asic].append(offer)
                core.add_flow(f"reserve_{product}_mw", s, offer, 1.0, detail=asic)
                core.supply(s, "reserve_deployed_mw", offer, share[:, r], detail=product)
                core.add_cash("reserves_usd", s, st.month, price[:, r] * st.weight_h, offer)
                core.add_cash("mining_usd", s, st.month,
                              -yields[asic] * lost[:, r] * st.weight_h, offer)
            if len(draws) > 1:
                _product_cap(core, b, s, f"cap_{s}_{r}", product, list(by_asic.values()),
                             st.month, spec.monthly[r], spec.max_mw[r])
            if not spec.monthly[r] and (pooled & paid[:, r]).any():
                offer = _offer(core, b, f"pooled_{s}_{r}", st.month, p.n_months, False,
                               spec.max_mw[r], pooled & paid[:, r])
                pool.append(offer)
                core.add_flow(f"reserve_{product}_mw", s, offer, 1.0)
                core.add_cash("reserves_usd", s, st.month, price[:, r] * st.weight_h, offer)
        for asic, mine, coef in draws:
            _backed(core, s, f"reserve_backed_{asic}", backing[asic], [(mine, coef)])
        if pool:
            offers = pool + [o for asic in backing for o in backing[asic]]
            _backed(core, s, "reserve_pooled_backed", offers, [(m, c) for _, m, c in draws],
                    pooled)


def _offer(core: Core, b: object, name: str, month: np.ndarray, n_months: int, monthly: bool,
           max_mw: float, steps: np.ndarray | None = None) -> list:
    """Offer variables per step (None where `steps` is False), or one per month repeated
    over its steps."""
    if monthly:
        return core.pick(core.var(b, name, range(n_months), 0.0, max_mw), month)
    if steps is None:
        return core.var(b, name, range(len(month)), 0.0, max_mw)
    at = np.flatnonzero(steps)
    position = np.full(len(month), -1)
    position[at] = np.arange(len(at))
    return core.pick(core.var(b, name, at.tolist(), 0.0, max_mw), position)


def _backed(core: Core, s: int, row: str, offers: list[list],
            draws: list[tuple[list, np.ndarray]], steps: np.ndarray | None = None) -> None:
    """Offers within the mining draw that backs them, in every step (or only where
    `steps` is True): sum of offers <= sum of draws. A step where nothing is offered has
    no row (it could not bind)."""
    core.declare_row(row, s, "<=", 0.0, "reserve offers within the mining draw")
    for offer in offers:
        if steps is not None:
            offer = core.pick(offer, np.where(steps, np.arange(len(steps)), -1))
        core.add_to_row(row, s, offer, 1.0)
    for mine, coef in draws:
        core.add_to_row(row, s, mine, -coef)


def _product_cap(core: Core, b: object, s: int, name: str, product: str, offers: list[list],
                 month: np.ndarray, monthly: bool, max_mw: float) -> None:
    """sum over ASIC models of a product's offers <= max_mw, per step or per month."""
    if monthly:
        steps = np.unique(month, return_index=True)[1]
        col = np.stack([core.cols(o)[steps] for o in offers], axis=1)  # (month, offer)
        core.sparse_rows(b, name, np.repeat(np.arange(len(steps)), len(offers)), col.ravel(),
                         np.ones(col.size), len(steps), "<=", max_mw)
        return
    row = f"reserve_cap_{product}"
    core.declare_row(row, s, "<=", max_mw, f"{product} offers within max_mw")
    for offer in offers:
        core.add_to_row(row, s, offer, 1.0)


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    scenario_fields={"reserve": (list[Product], [])},
    site_fields={"reserves": (list[SiteReserve], [])},
    data_fields={"reserve_prices": (str | None, None)},
    validate=validate,
    read=read,
    scale=scale,
    hourly=hourly,
    site_spec=site_spec,
    lines={"reserves_usd": ("Reserves (capacity payments)", 1.5)},
    flows={"reserve_deployed_mw": ("reserves deployed", 4.5)},
    needs=(DRAW, YIELD),
)
