"""The bundle of one option (grid, mining, hosting, AI, generation, ...).

An option is one module in `models/` that defines `OPTION = Option(...)`, and one line in
the registry (`models/__init__.py`). The bundle holds everything the package needs to
know about the option: its scenario schema, how its plain spec is built, how it adds
itself to the model, the labels of its lines, flows, states and decision kinds, its
published and consumed quantities, how it explains data conflicts, and its independent
checker (a module in `optim/checks/`). The package iterates the registry and names no
option.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from optim.core import Core
    from optim.problem import Problem, SiteSpec
    from optim.scenario import Scenario, Site
    from optim.series import Horizon, Series

Field = tuple[Any, Any]  # (annotation, default) as pydantic.create_model takes it
Label = str | tuple[str, float]  # a label, or (label, rank) to order a table across options


@dataclass(frozen=True)
class Headline:
    """A per-site total of the investments table a strategist scans first (sweep columns
    `<key>__<site>`, the terminal's "built per site")."""

    label: str
    kind: str
    column: str  # "quantity" or "mw"
    rank: float = float("inf")


@dataclass(frozen=True)
class RowPart:
    """A monthly part of a shared `<=` row known from the data alone: its owner's
    capacity (the right-hand side) or a use no decision can remove (e.g. the MW displaced
    by halls under construction). Contradictions among them are data conflicts."""

    row: str
    monthly_mw: np.ndarray  # (N,)
    words: str  # e.g. "mining_infra_mw 10"
    capacity: bool = False


@dataclass(frozen=True)
class SpecContext:
    """What an option's spec builder may read: the validated scenario, the series, the
    horizon, and the spec of its own scenario-wide part (from `Option.spec`)."""

    scenario: Scenario
    series: Series
    horizon: Horizon
    own: Any = None


@dataclass(frozen=True)
class Option:
    """One option's bundle; every hook is optional but `name` and `build`.

    * `scenario_fields`, `site_fields`, `data_fields`: pydantic fields the option adds to
      the top level, to each `[[site]]` and to `[data]` (name -> (annotation, default)).
    * `validate(scenario)`: cross-reference problems of the whole file (one string each).
    * `spec(ctx)`: the option's scenario-wide plain spec (e.g. the ASIC models).
    * `hourly(ctx, site)`: the site's hourly inputs the option needs in the model, as
      (T,) or (T, n) arrays; steps average them and identical hours merge on them.
    * `flags(ctx, site)`: hourly boolean flags whose hours form blocks groups of their
      own (like stress hours), e.g. coincident-peak intervals.
    * `site_spec(ctx, site)`: the option's plain per-site spec, or None when absent.
    * `build(core)`: adds variables, rows and terms to a future's view of the core.
    * `conflicts(problem, site)`: contradictions visible in the data alone.
    * `row_parts(problem, site)`: its capacities of, and committed uses of, shared rows
      (`RowPart`); a row whose committed uses exceed its capacity is a data conflict.
    * `lines`, `flows`, `states`, `kinds`: report labels of its cash lines (USD), power
      flows (MW), monthly states and investment kinds; a label may carry a rank that
      orders the table across options (revenues before costs), else registry order.
    * `series_needs(scenario)`: names the shared series reader must load for it
      ({"fuel": hubs, "profiles": profile names}).
    * `read(scenario, horizon)`: reads the option's own input files (its `data_fields`)
      into `Series.extra[name]`, raising InputError naming file and row; `scale(data, c)`
      scales its prices by c (the sweep path `series.<name>.scale`).
    * `future_columns`: columns of a futures file (MODEL.md §9) that replace entries of
      its `read` result in each future (column -> key).
    * `headline`: per-site totals of its decisions (key -> Headline).
    * `provides`, `needs`: names of quantities published with `Core.publish` and read
      with `Core.published`; the registry builds providers first.
    * `check`: the independent checker module (see `optim.checks`).
    """

    name: str
    build: Callable[[Core], None]
    check: ModuleType | None = None
    scenario_fields: dict[str, Field] = field(default_factory=dict)
    site_fields: dict[str, Field] = field(default_factory=dict)
    data_fields: dict[str, Field] = field(default_factory=dict)
    validate: Callable[[Scenario], list[str]] | None = None
    spec: Callable[[SpecContext], Any] | None = None
    hourly: Callable[[SpecContext, Site], dict[str, np.ndarray]] | None = None
    flags: Callable[[SpecContext, Site], dict[str, np.ndarray]] | None = None
    site_spec: Callable[[SpecContext, Site], Any] | None = None
    series_needs: Callable[[Scenario], dict[str, set[str]]] | None = None
    read: Callable[[Scenario, Horizon], Any] | None = None
    scale: Callable[[Any, float], Any] | None = None
    future_columns: dict[str, str] = field(default_factory=dict)
    conflicts: Callable[[Problem, SiteSpec], list[str]] | None = None
    row_parts: Callable[[Problem, SiteSpec], list[RowPart]] | None = None
    lines: dict[str, Label] = field(default_factory=dict)
    flows: dict[str, Label] = field(default_factory=dict)
    states: dict[str, Label] = field(default_factory=dict)
    kinds: dict[str, Label] = field(default_factory=dict)
    headline: dict[str, Headline] = field(default_factory=dict)
    provides: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()


def build_order(options: tuple[Option, ...]) -> tuple[Option, ...]:
    """The options with every provider of a quantity before its consumers (stable)."""
    provider = {q: o.name for o in options for q in o.provides}
    missing = [(o.name, q) for o in options for q in o.needs if q not in provider]
    if missing:
        raise ValueError("options need quantities nobody provides: " +
                         ", ".join(f"{n} needs {q!r}" for n, q in missing))
    done: list[Option] = []
    pending = list(options)
    while pending:
        ready = [o for o in pending if all(provider[q] in {d.name for d in done}
                                           for q in o.needs)]
        if not ready:
            raise ValueError("options depend on each other in a cycle: " +
                             ", ".join(o.name for o in pending))
        done.append(ready[0])
        pending.remove(ready[0])
    return tuple(done)


def headlines(options: tuple[Option, ...]) -> dict[str, Headline]:
    """Every option's headline totals, by rank, then registry order."""
    found = [(h.rank, i, key, h) for i, o in enumerate(options) for key, h in o.headline.items()]
    return {key: h for _, _, key, h in sorted(found, key=lambda t: t[:2])}


def labels(options: tuple[Option, ...], attribute: str) -> dict[str, str]:
    """Every option's `lines`, `flows`, `states` or `kinds` labels, ordered by rank (an
    unranked label after the ranked ones, in registry order)."""
    ranked = []
    for i, option in enumerate(options):
        for j, (key, label) in enumerate(getattr(option, attribute).items()):
            text, rank = (label, float("inf")) if isinstance(label, str) else label
            ranked.append((rank, i, j, key, text))
    return {key: text for *_, key, text in sorted(ranked)}
