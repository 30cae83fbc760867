"""BYO generation: integer unit builds with a lead time, existing units, availability and
profiles, fuel and VOM per MWh, FOM per unit-month (MODEL.md §3 "BYO generation").

Per site s and technology g: `build[k]` integer units in investment months, `units[k]`,
`gen[j]` MW in [0, cf_j * availability * unit_mw * units[m(j)]].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydantic import Field, model_validator

from optim.checks import generation as checker
from optim.core import Core
from optim.option import Headline, Option, SpecContext
from optim.problem import Problem, SiteSpec
from optim.scenario import NonNeg, Pos, Scenario, Share, Site, Strict, site_references

NAME = "generation"


class Generator(Strict):
    name: str = Field(min_length=1)
    unit_mw: Pos
    capex_usd_per_mw: NonNeg
    life_months: int = Field(gt=0)
    heat_rate_mmbtu_per_mwh: NonNeg = 0.0
    vom_usd_per_mwh: NonNeg = 0.0
    fom_usd_per_mw_month: NonNeg = 0.0
    lead_time_months: int = Field(0, ge=0)
    fuel_hub: str | None = None
    fuel_usd_per_mmbtu: NonNeg | None = None
    availability: Share = 1.0
    profile: str = ""

    @model_validator(mode="after")
    def _one_fuel(self) -> Generator:
        if self.fuel_hub is not None and self.fuel_usd_per_mmbtu is not None:
            raise ValueError("give either fuel_hub or fuel_usd_per_mmbtu, not both")
        return self


class SiteGeneration(Strict):
    technology: str
    max_units: int = Field(ge=0)
    existing_units: int = Field(0, ge=0)


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
class SiteGenSpec:
    tech: int  # index into the scenario's generators
    max_new_units: int
    existing_units: int


def validate(scenario: Scenario) -> list[str]:
    problems = site_references(scenario, "generator", "generation", "technology")
    for g in scenario.generator:
        if g.fuel_hub is not None and scenario.data.fuel is None:
            problems.append(f"generator {g.name!r}: fuel_hub {g.fuel_hub!r} needs [data].fuel")
        if g.profile and scenario.data.profiles is None:
            problems.append(f"generator {g.name!r}: profile {g.profile!r} needs "
                            "[data].profiles")
    return problems


def series_needs(scenario: Scenario) -> dict[str, set[str]]:
    return {"fuel": {g.fuel_hub for g in scenario.generator if g.fuel_hub is not None},
            "profiles": {g.profile for g in scenario.generator if g.profile}}


def spec(ctx: SpecContext) -> tuple[GeneratorSpec, ...]:
    return tuple(GeneratorSpec(g.name, g.unit_mw, g.capex_usd_per_mw * g.unit_mw, g.life_months,
                               g.heat_rate_mmbtu_per_mwh, g.vom_usd_per_mwh,
                               g.fom_usd_per_mw_month, g.lead_time_months, g.availability)
                 for g in ctx.scenario.generator)


def hourly(ctx: SpecContext, site: Site) -> dict[str, np.ndarray]:
    """Fuel price and capacity factor of every technology, (T, G)."""
    horizon, series = ctx.horizon, ctx.series
    gens = ctx.scenario.generator
    fuel = np.zeros((horizon.n_hours, len(gens)))
    cf = np.ones((horizon.n_hours, len(gens)))
    for i, g in enumerate(gens):
        if g.fuel_hub is not None:
            fuel[:, i] = series.fuel_usd_per_mmbtu[g.fuel_hub][horizon.day_of_hour]
        elif g.fuel_usd_per_mmbtu is not None:
            fuel[:, i] = g.fuel_usd_per_mmbtu
        if g.profile:
            cf[:, i] = series.capacity_factor[g.profile]
    return {"fuel_usd_per_mmbtu": fuel, "capacity_factor": cf}


def site_spec(ctx: SpecContext, site: Site) -> tuple[SiteGenSpec, ...]:
    index = {g.name: i for i, g in enumerate(ctx.scenario.generator)}
    return tuple(SiteGenSpec(index[g.technology], g.max_units - g.existing_units,
                             g.existing_units) for g in site.generation)


def conflicts(problem: Problem, site: SiteSpec) -> list[str]:
    gens: tuple[GeneratorSpec, ...] = problem.spec(NAME)
    return [f"site {site.name!r}: generation {gens[sg.tech].name!r} has existing_units above "
            f"max_units by {-sg.max_new_units}"
            for sg in site.spec(NAME) or () if sg.max_new_units < 0]


def build(core: Core) -> None:
    p = core.problem
    gens: tuple[GeneratorSpec, ...] = p.spec(NAME)
    b = core.block(NAME)
    months = np.arange(p.n_months)
    invest = np.flatnonzero(p.invest_month)
    for s, site in enumerate(p.sites):
        st = site.steps
        fuel_price = st.input(NAME, "fuel_usd_per_mmbtu")
        capacity_factor = st.input(NAME, "capacity_factor")
        for sg in site.spec(NAME) or ():
            g = gens[sg.tech]
            tag = f"{s}_{sg.tech}"
            new: list = []
            if sg.max_new_units > 0 and len(invest):
                new = core.decision(b, f"build_{tag}", "generator", g.name, s, invest,
                                    sg.max_new_units, True, g.unit_mw, g.unit_capex_usd,
                                    g.life_months)
                core.total_cap(b, f"units_cap_{tag}", new, sg.max_new_units)
            units = core.stock(b, f"units_{tag}", new, invest[:len(new)], g.lead_time_months,
                               float(sg.existing_units))
            unit_cap = capacity_factor[:, sg.tech] * g.availability * g.unit_mw
            gen = core.capped(b, f"gen_{tag}", st.n, units, st.month, unit_cap)
            fom_vars, fom = core.per(units, months, -g.fom_usd_per_mw_month * g.unit_mw)
            core.add_cash("generation_fom_usd", s, months, fom, fom_vars)
            core.add_state("generator_units", s, months, *core.per(units, months))
            core.supply(s, "generation_mw", gen, detail=g.name)
            cost = g.heat_rate_mmbtu_per_mwh * fuel_price[:, sg.tech] + g.vom_usd_per_mwh
            core.add_cash("fuel_usd", s, st.month, -cost * st.weight_h, gen)


OPTION = Option(
    name=NAME,
    build=build,
    check=checker,
    scenario_fields={"generator": (list[Generator], [])},
    site_fields={"generation": (list[SiteGeneration], [])},
    validate=validate,
    series_needs=series_needs,
    spec=spec,
    hourly=hourly,
    site_spec=site_spec,
    conflicts=conflicts,
    lines={"fuel_usd": ("Fuel and VOM", 7), "generation_fom_usd": ("Generation FOM", 9)},
    flows={"generation_mw": ("generation", 4)},
    states={"generator_units": "generator units"},
    kinds={"generator": "generator units"},
    headline={"generator_mw": Headline("generator MW built", "generator", "mw", 3)},
)
