"""Futures (MODEL.md §9): the `[futures]` table, the futures file, each future's series,
and the risk measures of a set of future NPVs.

A scenario with `[futures]` is a two-stage stochastic program: every future has its own
series (hashprice and/or the GPU-hour price from the futures file, everything else as
usual), decisions of months before `commit_months` are shared (the Core's futures axis)
and the objective is `(1 - λ) E[NPV] + λ CVaR_α` (Rockafellar-Uryasev).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optim.scenario import FuturesSection, Scenario
from optim.series import FileCheck, Horizon, Series, _date_positions, _grid, _listing, _read

HASHPRICE = "hashprice_usd_per_ph_day"
PROBABILITY_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Futures:
    """The futures of a run, in file order: names, probabilities and their own series
    (column -> (F, D) array) that replace the scenario's."""

    names: tuple[str, ...]
    probability: np.ndarray  # (F,)
    columns: dict[str, np.ndarray]  # futures-file column -> (F, D) daily values
    commit_months: int
    risk_alpha: float
    risk_weight: float

    def __len__(self) -> int:
        return len(self.names)


def future_columns() -> dict[str, tuple[str, str]]:
    """Futures-file columns an option's series take (column -> (option, key))."""
    from optim.models import registry

    return {column: (o.name, key) for o in registry() for column, key in o.future_columns.items()}


def read_futures(scenario: Scenario, horizon: Horizon) -> Futures:
    """Read and check the futures file; every problem is reported together."""
    section = scenario.futures
    path = (scenario.base_dir / section.file).resolve()
    check = FileCheck(path)
    wanted = [HASHPRICE, *future_columns()]
    df = _read(path, ["future", "date"], check)
    names: list[str] = []
    columns: dict[str, np.ndarray] = {}
    probability = np.zeros(0)
    if df is not None:
        given = [c for c in wanted if c in df.columns]
        if not given:
            check.add(f"no series column: give {' and/or '.join(wanted)}")
        names = list(dict.fromkeys(df["future"].astype(str)))
        if not names:
            check.add("no futures in the file")
        pos = _date_positions(df, "date", horizon, check)
        if pos is not None and names and given:
            key = df["future"].astype(str).to_numpy()
            for column in given:
                values = pd.to_numeric(df[column], errors="coerce").to_numpy(float)
                grids = []
                for name in names:
                    mine = key == name
                    grid = _grid(pos[mine], values[mine], len(horizon.dates),
                                 f"future {name!r}, {column}", horizon.dates, check)
                    bad = np.isfinite(grid) & (grid <= 0)
                    if bad.any():
                        check.add(f"future {name!r}: {column} must be > 0; not at: "
                                  f"{_listing(horizon.dates[bad])}")
                    grids.append(grid)
                columns[column] = np.vstack(grids)
        probability = _probabilities(section, names, check)
    check.raise_if_any()
    _needs(scenario, columns, check)
    check.raise_if_any()
    return Futures(tuple(names), probability, columns, section.commit_months,
                   section.risk_alpha, section.risk_weight)


def _probabilities(section: FuturesSection, names: list[str], check: FileCheck) -> np.ndarray:
    """Equal by default; given ones must cover every future, be > 0 and add up to 1."""
    if section.probability is None:
        return np.full(len(names), 1.0 / max(len(names), 1))
    given = section.probability
    missing = [n for n in names if n not in given]
    unknown = [n for n in given if n not in names]
    if missing:
        check.add(f"futures.probability: no probability for {_listing(np.array(missing))}")
    if unknown:
        check.add(f"futures.probability: {_listing(np.array(unknown))} not in the file")
    bad = [n for n, p in given.items() if not p > 0]
    if bad:
        check.add(f"futures.probability: must be > 0 for {_listing(np.array(bad))}")
    total = float(sum(given.values()))
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        check.add(f"futures.probability: adds up to {total:.12g}, not 1")
    return np.array([given.get(n, 0.0) for n in names], float)


def _needs(scenario: Scenario, columns: dict[str, np.ndarray], check: FileCheck) -> None:
    """A series left out of [data] must come from every future."""
    if scenario.data.hashprice is None and HASHPRICE not in columns:
        check.add(f"[data].hashprice is not given, so the futures file needs {HASHPRICE}")


def series_of(series: Series, futures: Futures, f: int) -> Series:
    """Future f's series: the futures file's columns replace the scenario's."""
    options = future_columns()
    extra = dict(series.extra)
    hashprice = series.hashprice_usd_per_ph_day
    for column, values in futures.columns.items():
        if column == HASHPRICE:
            hashprice = values[f]
        else:
            option, key = options[column]
            extra[option] = {**extra.get(option, {}), key: values[f]}
    return replace(series, hashprice_usd_per_ph_day=hashprice, extra=extra)


def mean_series(series: Series, futures: Futures) -> Series:
    """The probability-weighted mean of every future's series (the mean-value problem)."""
    mean = replace(futures, names=("mean",), probability=np.ones(1),
                   columns={c: (futures.probability @ v)[None, :]
                            for c, v in futures.columns.items()})
    return series_of(series, mean, 0)


def cvar(npv: np.ndarray, probability: np.ndarray, alpha: float) -> float:
    """Mean NPV of the worst 1 - alpha probability mass (a boundary future in part),
    computed by sorting, not from a model's η."""
    order = np.argsort(npv, kind="stable")
    tail = 1.0 - alpha
    left, total = tail, 0.0
    for i in order:
        take = min(probability[i], left)
        total += take * npv[i]
        left -= take
        if left <= 1e-15:
            break
    return total / tail


def objective(npv: np.ndarray, probability: np.ndarray, alpha: float, weight: float) -> float:
    """(1 - λ) E[NPV] + λ CVaR_α."""
    expected = float(probability @ npv)
    return (1.0 - weight) * expected + weight * cvar(npv, probability, alpha)


def percentiles(npv: np.ndarray, probability: np.ndarray,
                levels: tuple[int, ...] = (5, 25, 50, 75, 95)) -> dict[int, float]:
    """Probability-weighted percentiles of the futures' NPVs (the smallest NPV whose
    cumulative probability reaches the level)."""
    order = np.argsort(npv, kind="stable")
    cumulative = np.cumsum(probability[order])
    return {q: float(npv[order][min(np.searchsorted(cumulative, q / 100 - 1e-12),
                                    len(order) - 1)]) for q in levels}
