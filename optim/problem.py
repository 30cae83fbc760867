"""The plain, typed in-memory problem: everything the model needs, as numpy arrays.

Built from a validated scenario and its series at one time resolution. A *step* is an
hour (`hourly`) or a group of hours of one (site, month) (`blocks:K`, MODEL.md §4); every
hourly quantity of a step is the mean over its hours and `weight_h` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from optim.option import Option, SpecContext
from optim.scenario import Scenario, Site, resolution_blocks
from optim.series import Horizon, Series


@dataclass(frozen=True)
class Steps:
    """One site's time steps: the core's fields (month, weight, price, stress) and the
    per-step means of the hourly inputs and group flags the options asked for."""

    month: np.ndarray  # (J,) month index
    weight_h: np.ndarray  # (J,) hours in the step
    price_usd_per_mwh: np.ndarray  # (J,)
    stress: np.ndarray  # (J,) bool
    flags: dict[str, np.ndarray]  # option flags that split blocks groups, e.g. peak, (J,) bool
    inputs: dict[tuple[str, str], np.ndarray]  # (option, name) -> (J,) or (J, n) means
    step_of_hour: np.ndarray  # (T,) step index of every horizon hour

    @property
    def n(self) -> int:
        return len(self.month)

    def input(self, option: str, name: str) -> np.ndarray:
        """The per-step mean of an hourly input an option declared."""
        return self.inputs[(option, name)]

    def flag(self, name: str) -> np.ndarray:
        """A group flag per step (all False when no option set it)."""
        return self.flags.get(name, np.zeros(self.n, bool))


@dataclass(frozen=True)
class SiteSpec:
    """A site: its name, node and steps, and each present option's plain spec."""

    name: str
    node: str | None
    steps: Steps
    options: dict[str, Any]  # option name -> its site spec (absent: option not at the site)

    def spec(self, option: str) -> Any:
        return self.options.get(option)


@dataclass(frozen=True)
class Problem:
    """One future's problem (a deterministic run is the case of one future)."""

    name: str
    resolution: str
    horizon: Horizon
    discount_factor: np.ndarray  # (N,)
    invest_month: np.ndarray  # (N,) bool
    monthly_rate: float
    capex_budget_usd: tuple[float, ...]
    specs: dict[str, Any]  # option name -> its scenario-wide spec
    sites: tuple[SiteSpec, ...]
    future: str = ""
    probability: float = 1.0

    @property
    def n_months(self) -> int:
        return self.horizon.months

    def spec(self, option: str) -> Any:
        return self.specs.get(option)

    def crf(self, life_months: int) -> float:
        """Monthly capital recovery factor of MODEL.md §2."""
        i = self.monthly_rate
        return 1.0 / life_months if i == 0 else i / (1.0 - (1.0 + i) ** (-life_months))

    def subset(self, site_names: list[str]) -> Problem:
        """The same problem restricted to some sites (for diagnosis and decomposition)."""
        return replace(self, sites=tuple(s for s in self.sites if s.name in site_names))


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
    Rows are numbered column by column with pandas' hash-based factorize (first
    occurrence order), 15x faster than numpy's sort-based unique over rows.
    """
    step = np.zeros(len(data), np.int64)
    for column in data.T:
        code, uniques = pd.factorize(column, use_na_sentinel=False)
        step, _ = pd.factorize(step * len(uniques) + code)
    return step


def group_hours(month: np.ndarray, price: np.ndarray, flags: list[np.ndarray],
                blocks: int | None) -> np.ndarray:
    """Step index of every hour (MODEL.md §4), numbered by month, then group.

    Flagged hours are grouped by their combination of flags, the first flag the most
    significant (stress and peak, stress only, peak only)."""
    n = len(month)
    if blocks is None:
        return np.arange(n)
    combos = (1 << len(flags)) - 1
    value = np.zeros(n, int)
    for flag in flags:
        value = value * 2 + flag.astype(int)
    flag_code = np.where(value > 0, combos + 1 - value, 0)
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
    key[plain_hours] = month[plain_hours] * (blocks + combos) + group
    flagged = ~plain
    key[flagged] = month[flagged] * (blocks + combos) + blocks + flag_code[flagged] - 1
    _, step = np.unique(key, return_inverse=True)
    return step


def _mean_by(step: np.ndarray, values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    if values.ndim == 1:
        return np.bincount(step, weights=values, minlength=len(weight)) / weight
    return np.stack([_mean_by(step, values[:, g], weight) for g in range(values.shape[1])],
                    axis=1) if values.shape[1] else np.zeros((len(weight), 0))


def _columns(values: np.ndarray) -> np.ndarray:
    return values.reshape(len(values), -1)


def _site_steps(price: np.ndarray, stress: np.ndarray, flags: dict[str, np.ndarray],
                inputs: dict[tuple[str, str], np.ndarray], horizon: Horizon,
                blocks: int | None, merge_hours: bool) -> Steps:
    if blocks is None and merge_hours:
        step = merge_identical_hours(np.column_stack(
            [horizon.month_of_hour, price, stress, *flags.values(),
             *[_columns(v) for v in inputs.values()]]))
    else:
        step = group_hours(horizon.month_of_hour, price, [stress, *flags.values()], blocks)
    weight = np.bincount(step).astype(float)
    month = np.zeros(len(weight), int)
    month[step] = horizon.month_of_hour
    first_hour = np.full(len(weight), len(step))
    np.minimum.at(first_hour, step, np.arange(len(step)))
    return Steps(month, weight, _mean_by(step, price, weight), stress[first_hour],
                 {k: v[first_hour] for k, v in flags.items()},
                 {k: _mean_by(step, v, weight) for k, v in inputs.items()}, step)


def site_price_and_stress(scenario: Scenario, site: Site, series: Series,
                          ) -> tuple[np.ndarray, np.ndarray]:
    """lmp[t] of the site (its node's price, or the fixed price) and its stress hours."""
    horizon = series.horizon
    if site.node is None:
        n = horizon.n_hours
        return np.full(n, float(site.fixed_price_usd_per_mwh)), np.zeros(n, bool)
    price = series.price_usd_per_mwh[site.node]
    stress = series.stress.get(site.node, np.zeros(horizon.n_hours, bool)) | top_hours_per_year(
        price, horizon, scenario.scenario.stress_hours_per_year)
    return price, stress


def build_problem(scenario: Scenario, series: Series, resolution: str | None = None,
                  merge_hours: bool = False, options: tuple[Option, ...] | None = None,
                  future: str = "", probability: float = 1.0) -> Problem:
    """Assemble the problem at `resolution` (default: the scenario's): each option builds
    its own specs and hourly inputs. With `merge_hours`, an hourly problem gives identical
    hours of a (site, month) one step (exact)."""
    from optim.models import registry

    options = registry() if options is None else options
    sc = scenario.scenario
    resolution = resolution or sc.resolution
    blocks = resolution_blocks(resolution)
    horizon = series.horizon
    base = SpecContext(scenario, series, horizon)
    specs = {o.name: o.spec(base) for o in options if o.spec is not None}
    sites = []
    for site in scenario.site:
        price, stress = site_price_and_stress(scenario, site, series)
        flags: dict[str, np.ndarray] = {}
        inputs: dict[tuple[str, str], np.ndarray] = {}
        site_specs: dict[str, Any] = {}
        for o in options:
            ctx = replace(base, own=specs.get(o.name))
            if o.flags is not None:
                flags.update(o.flags(ctx, site))
            if o.hourly is not None:
                inputs.update({(o.name, k): v for k, v in o.hourly(ctx, site).items()})
            if o.site_spec is not None:
                spec = o.site_spec(ctx, site)
                if spec is not None:
                    site_specs[o.name] = spec
        sites.append(SiteSpec(site.name, site.node,
                              _site_steps(price, stress, flags, inputs, horizon, blocks,
                                          merge_hours), site_specs))
    r = sc.discount_rate
    k = np.arange(horizon.months)
    return Problem(sc.name, resolution, horizon, (1.0 + r) ** (-k / 12.0),
                   k % sc.invest_every_months == 0, (1.0 + r) ** (1.0 / 12.0) - 1.0,
                   tuple(sc.capex_budget_usd), specs, tuple(sites), future, probability)
