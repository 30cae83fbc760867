"""The plain, typed in-memory problem: everything the model needs, as numpy arrays.

Built from a validated scenario and its series at one time resolution. A *step* is an
hour (`hourly`) or a group of hours of one (site, month) (`blocks:K`, MODEL.md §4); every
hourly quantity of a step is the mean over its hours and `weight_h` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optim.scenario import Scenario, resolution_blocks
from optim.series import Horizon, Series


@dataclass(frozen=True)
class AsicSpec:
    name: str
    efficiency_j_per_th: float
    block_capex_usd: float  # cash capex of one block of block_mw
    life_months: int
    uptime: float
    delivery_months: int


@dataclass(frozen=True)
class GeneratorSpec:
    name: str
    unit_mw: float
    unit_capex_usd: float
    life_months: int
    heat_rate_mmbtu_per_mwh: float
    vom_usd_per_mwh: float
    fom_usd_per_mw_month: float
    lead_time_months: int
    availability: float


@dataclass(frozen=True)
class HostingSpec:
    max_mw: float
    rate_usd_per_mwh: float
    contract_months: int
    max_curtail_share: float


@dataclass(frozen=True)
class AiSpec:
    hall_it_mw: float
    max_new_halls: int  # max_halls minus halls under construction
    hall_capex_usd: float
    lease_usd_per_kw_month: float
    life_months: int
    lead_time_months: int
    pue: float
    power_pass_through: bool
    opex_usd_per_mw_it_month: float
    displaces_mining_mw_per_hall: float
    committed_online_halls: np.ndarray  # (N,) halls under construction online by month k
    signed_halls: np.ndarray  # (E,)
    signed_due_month: np.ndarray  # (E,) month index of the ready-for-service date
    signed_ld_usd_per_mw_month: np.ndarray  # (E,)


@dataclass(frozen=True)
class SiteGenSpec:
    tech: int  # index into Problem.generators
    max_new_units: int
    existing_units: int


@dataclass(frozen=True)
class Steps:
    """One site's time steps."""

    month: np.ndarray  # (J,) month index
    weight_h: np.ndarray  # (J,) hours in the step
    price_usd_per_mwh: np.ndarray  # (J,)
    hashprice_usd_per_ph_day: np.ndarray  # (J,)
    stress: np.ndarray  # (J,) bool
    peak: np.ndarray  # (J,) bool (only where the site pays a coincident-peak charge)
    fuel_usd_per_mmbtu: np.ndarray  # (J, G) per generator technology
    capacity_factor: np.ndarray  # (J, G)
    step_of_hour: np.ndarray  # (T,) step index of every horizon hour

    @property
    def n(self) -> int:
        return len(self.month)


@dataclass(frozen=True)
class SiteSpec:
    name: str
    node: str | None
    firm_import_mw: float
    flex_import_mw: float
    export_mw: float
    energy_adder_usd_per_mwh: float
    ppa_mw: float
    ppa_price_usd_per_mwh: float
    mining_infra_mw: float
    max_new_asic_blocks: int
    existing_fleet_mw: np.ndarray  # (A,)
    cp_charge_usd_per_mw_year: float
    hosting: HostingSpec | None
    ai: AiSpec | None
    generation: tuple[SiteGenSpec, ...]
    steps: Steps


@dataclass(frozen=True)
class Problem:
    name: str
    resolution: str
    horizon: Horizon
    discount_factor: np.ndarray  # (N,)
    invest_month: np.ndarray  # (N,) bool
    monthly_rate: float
    pool_fee: float
    block_mw: float
    capex_budget_usd: tuple[float, ...]
    asics: tuple[AsicSpec, ...]
    generators: tuple[GeneratorSpec, ...]
    sites: tuple[SiteSpec, ...]

    @property
    def n_months(self) -> int:
        return self.horizon.months

    def crf(self, life_months: int) -> float:
        """Monthly capital recovery factor of MODEL.md §2."""
        i = self.monthly_rate
        return 1.0 / life_months if i == 0 else i / (1.0 - (1.0 + i) ** (-life_months))

    def subset(self, site_names: list[str]) -> Problem:
        """The same problem restricted to some sites (for diagnosis and decomposition)."""
        sites = tuple(s for s in self.sites if s.name in site_names)
        return Problem(self.name, self.resolution, self.horizon, self.discount_factor,
                       self.invest_month, self.monthly_rate, self.pool_fee, self.block_mw,
                       self.capex_budget_usd, self.asics, self.generators, sites)


def month_index(label: str, horizon: Horizon) -> int:
    """Month index of 'YYYY-MM' relative to the horizon start (may be <0 or >=N)."""
    return int((np.datetime64(label, "M") - np.datetime64(horizon.month_labels[0], "M"))
               .astype(int))


def top_hours_per_year(price: np.ndarray, horizon: Horizon, hours_per_year: int) -> np.ndarray:
    """The H highest-price hours of each UTC calendar year (ties: earlier hour first)."""
    flags = np.zeros(len(price), bool)
    if hours_per_year <= 0:
        return flags
    year = horizon.hours_utc.astype("datetime64[Y]").astype(int)
    order = np.lexsort((np.arange(len(price)), -price, year))
    sorted_year = year[order]
    first_of_year = np.searchsorted(sorted_year, sorted_year, side="left")
    rank = np.arange(len(order)) - first_of_year
    flags[order[rank < hours_per_year]] = True
    return flags


def merge_identical_hours(data: np.ndarray) -> np.ndarray:
    """Step index of every hour when hours with identical rows of `data` share one step,
    numbered by first occurrence (so without duplicates step j is hour j).

    Exact for the hourly LP/MIP: the rows carry everything an hour's constraints and
    margins depend on (month, price, hashprice, fuel, capacity factors, flags), so a
    merged step of weight w stands for w identical hours with the same optimal dispatch.
    """
    _, first, inverse = np.unique(data, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), int)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def group_hours(month: np.ndarray, price: np.ndarray, stress: np.ndarray, peak: np.ndarray,
                blocks: int | None) -> np.ndarray:
    """Step index of every hour (MODEL.md §4), numbered by month, then group."""
    n = len(month)
    if blocks is None:
        return np.arange(n)
    flag_code = np.where(stress & peak, 1, np.where(stress, 2, np.where(peak, 3, 0)))
    hours = np.arange(n)
    plain = flag_code == 0
    order = np.lexsort((hours[plain], price[plain], month[plain]))
    plain_hours = hours[plain][order]
    plain_month = month[plain_hours]
    first = np.searchsorted(plain_month, plain_month, side="left")
    pos = np.arange(len(plain_hours)) - first
    count = np.bincount(plain_month, minlength=month.max() + 1)[plain_month]
    q, r = np.divmod(count, blocks)
    big = r * (q + 1)
    group = np.where(pos < big, pos // np.maximum(q + 1, 1),
                     r + (pos - big) // np.maximum(q, 1))
    key = np.empty(n, np.int64)
    key[plain_hours] = month[plain_hours] * (blocks + 3) + group
    flagged = ~plain
    key[flagged] = month[flagged] * (blocks + 3) + blocks + flag_code[flagged] - 1
    _, step = np.unique(key, return_inverse=True)
    return step


def _mean_by(step: np.ndarray, values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    if values.ndim == 1:
        return np.bincount(step, weights=values, minlength=len(weight)) / weight
    return np.stack([_mean_by(step, values[:, g], weight) for g in range(values.shape[1])],
                    axis=1) if values.shape[1] else np.zeros((len(weight), 0))


def _site_steps(price: np.ndarray, stress: np.ndarray, peak: np.ndarray, hashprice_h: np.ndarray,
                fuel_h: np.ndarray, cf_h: np.ndarray, horizon: Horizon,
                blocks: int | None, merge_hours: bool) -> Steps:
    if blocks is None and merge_hours:
        step = merge_identical_hours(np.column_stack(
            [horizon.month_of_hour, price, hashprice_h, fuel_h, cf_h, stress, peak]))
    else:
        step = group_hours(horizon.month_of_hour, price, stress, peak, blocks)
    weight = np.bincount(step).astype(float)
    month = np.zeros(len(weight), int)
    month[step] = horizon.month_of_hour
    first_hour = np.full(len(weight), len(step))
    np.minimum.at(first_hour, step, np.arange(len(step)))
    return Steps(month, weight, _mean_by(step, price, weight), _mean_by(step, hashprice_h, weight),
                 stress[first_hour], peak[first_hour], _mean_by(step, fuel_h, weight),
                 _mean_by(step, cf_h, weight), step)


def build_problem(scenario: Scenario, series: Series, resolution: str | None = None,
                  merge_hours: bool = False) -> Problem:
    """Assemble the problem at `resolution` (default: the scenario's). With `merge_hours`,
    an hourly problem gives identical hours of a (site, month) one step (exact)."""
    sc = scenario.scenario
    resolution = resolution or sc.resolution
    blocks = resolution_blocks(resolution)
    horizon = series.horizon
    n_months, n_hours = horizon.months, horizon.n_hours
    k = np.arange(n_months)
    asics = tuple(AsicSpec(a.name, a.efficiency_j_per_th,
                           sc.block_mw * 1e6 / a.efficiency_j_per_th * a.price_usd_per_th,
                           a.life_months, a.uptime, a.delivery_months) for a in scenario.asic)
    gens = tuple(GeneratorSpec(g.name, g.unit_mw, g.capex_usd_per_mw * g.unit_mw, g.life_months,
                               g.heat_rate_mmbtu_per_mwh, g.vom_usd_per_mwh,
                               g.fom_usd_per_mw_month, g.lead_time_months, g.availability)
                 for g in scenario.generator)
    hashprice_h = series.hashprice_usd_per_ph_day[horizon.day_of_hour]
    fuel_h = np.zeros((n_hours, len(gens)))
    cf_h = np.ones((n_hours, len(gens)))
    for gi, g in enumerate(scenario.generator):
        if g.fuel_hub is not None:
            fuel_h[:, gi] = series.fuel_usd_per_mmbtu[g.fuel_hub][horizon.day_of_hour]
        elif g.fuel_usd_per_mmbtu is not None:
            fuel_h[:, gi] = g.fuel_usd_per_mmbtu
        if g.profile:
            cf_h[:, gi] = series.capacity_factor[g.profile]
    asic_index = {a.name: i for i, a in enumerate(scenario.asic)}
    gen_index = {g.name: i for i, g in enumerate(scenario.generator)}
    no_flags = np.zeros(n_hours, bool)
    sites = []
    for site in scenario.site:
        if site.node is not None:
            price = series.price_usd_per_mwh[site.node]
            stress = series.stress.get(site.node, no_flags) | top_hours_per_year(
                price, horizon, sc.stress_hours_per_year)
            peak = series.peak.get(site.node, no_flags) if site.cp_charge_usd_per_mw_year > 0 \
                else no_flags
        else:
            price = np.full(n_hours, float(site.fixed_price_usd_per_mwh))
            stress = peak = no_flags
        fleet = np.zeros(len(asics))
        for entry in site.existing_fleet:
            fleet[asic_index[entry.asic]] += entry.mw
        hosting = None if site.hosting is None else HostingSpec(
            site.hosting.max_mw, site.hosting.rate_usd_per_mwh, site.hosting.contract_months,
            site.hosting.max_curtail_share)
        ai = None
        if site.ai is not None:
            a = site.ai
            committed = np.zeros(n_months, int)
            for u in a.under_construction:
                committed += u.halls * (k >= month_index(u.online_month, horizon))
            ai = AiSpec(a.hall_it_mw, a.max_halls - sum(u.halls for u in a.under_construction),
                        a.capex_usd_per_mw_it * a.hall_it_mw, a.lease_usd_per_kw_month,
                        a.life_months, a.lead_time_months, a.pue, a.power_pass_through,
                        a.opex_usd_per_mw_it_month, a.displaces_mining_mw_per_hall, committed,
                        np.array([e.halls for e in a.signed], int),
                        np.array([month_index(e.rfs_month, horizon) for e in a.signed], int),
                        np.array([e.ld_usd_per_mw_month for e in a.signed], float))
        generation = tuple(SiteGenSpec(gen_index[g.technology], g.max_units - g.existing_units,
                                       g.existing_units) for g in site.generation)
        sites.append(SiteSpec(
            site.name, site.node, site.firm_import_mw, site.flex_import_mw, site.export_mw,
            site.energy_adder_usd_per_mwh, site.ppa_mw, site.ppa_price_usd_per_mwh,
            site.mining_infra_mw, int(np.floor(site.max_new_asic_mw / sc.block_mw + 1e-9)),
            fleet, site.cp_charge_usd_per_mw_year, hosting, ai, generation,
            _site_steps(price, stress, peak, hashprice_h, fuel_h, cf_h, horizon, blocks,
                        merge_hours)))
    r = sc.discount_rate
    return Problem(sc.name, resolution, horizon, (1.0 + r) ** (-k / 12.0),
                   k % sc.invest_every_months == 0, (1.0 + r) ** (1.0 / 12.0) - 1.0,
                   sc.pool_fee, sc.block_mw, tuple(sc.capex_budget_usd), asics, gens, tuple(sites))
