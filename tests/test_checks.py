"""Tests of the checker protocol of `optim.checks` (hand-made plans, no solver).

The plan and scenario are those of `test_verify.py` (see `test_correct_plan_is_verified`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_verify import JAN, NPV_HAND, PEAK, SPIKE, STRESS, T, _case, _label, _plan

import optim.checks
from optim.checks import DRAW, SiteContext
from optim.verify import default_checkers, verify

PROBE_USD_PER_MWH = 10.0


class Probe:
    """A test-only option: a 1 MW-capped draw `probe_mw` at alpha earning 10 $/MWh."""

    NAME = "probe"
    FLOWS = {"probe_mw": DRAW}
    LINES = {"probe_usd": 50}

    @staticmethod
    def check_site(ctx: SiteContext) -> None:
        probe = ctx.flow("probe_mw")
        ctx.hourly("probe_cap", probe - 1.0, 1.0)
        ctx.cash("probe_usd", ctx.time.by_month(PROBE_USD_PER_MWH * probe))


class Reserve:
    """A test-only option with no flow: 7 MW held back on the mining infrastructure."""

    NAME = "reserve"

    @staticmethod
    def check_site(ctx: SiteContext) -> None:
        if ctx.site.name == "alpha":
            ctx.add_to_row("mining_infra", 7.0)
        ctx.add_to_row("nobody_declares_this", 1e9)


def _probe_plan() -> tuple:
    """The hand plan plus 1 MW of probe in January at alpha, imported."""
    investments, dispatch = _plan()
    probe = np.where(np.arange(T) < JAN, 1.0, 0.0)
    dispatch["alpha"]["probe_mw"] = probe
    dispatch["alpha"]["import_mw"] = dispatch["alpha"]["import_mw"] + probe
    # import (30 + 2) $/MWh, 130 + 2 in the spike hour; the Jan peak hour imports 1 MW more
    extra_import = -(32.0 * (JAN - 1) + 132.0)
    extra_cp = -1200.0 * 1.0
    assert SPIKE < JAN and PEAK < JAN and STRESS >= JAN
    probe_usd = PROBE_USD_PER_MWH * JAN
    return investments, dispatch, probe_usd, NPV_HAND + probe_usd + extra_import + extra_cp


def test_default_is_the_registry_order() -> None:
    from optim.models import registry

    assert [optim.checks.base.checker_name(c) for c in default_checkers()] == \
        [o.name for o in registry()]


def test_extra_checker_is_picked_up(tmp_path: Path) -> None:
    sc, series = _case(tmp_path)
    investments, dispatch, probe_usd, npv = _probe_plan()
    checkers = [*default_checkers(), Probe]
    v = verify(sc, series, investments, dispatch, npv, checkers=checkers)
    assert v.verified, v.describe()
    assert v.lines_usd["probe_usd"] == pytest.approx(probe_usd)
    assert list(v.lines_usd)[-2:] == ["probe_usd", "capital_charges_usd"]

    # its draw is in the balance: without the extra import the site is short by 1 MW
    dispatch["alpha"]["import_mw"][3] -= 1.0
    v = verify(sc, series, investments, dispatch, npv, checkers=checkers)
    assert (v.max_violation.constraint, v.max_violation.when) == ("power_balance", _label(3))
    # its own constraint
    dispatch["alpha"]["import_mw"][3] += 1.5
    dispatch["alpha"]["probe_mw"][3] = 1.5
    v = verify(sc, series, investments, dispatch, npv + 5.0, checkers=checkers)
    assert [(x.constraint, x.amount) for x in v.violations] == [("probe_cap", 0.5)]

    # without the probe's checker its flow is unknown
    v = verify(sc, series, investments, dispatch, npv)
    assert "unknown_flow" in {x.constraint for x in v.violations}


def test_checker_adds_to_a_shared_row(tmp_path: Path) -> None:
    """Jan: 10 + 4 + 7 = 21 > 20; Feb: 11 + 4 + 7 = 22 > 20 - 3 (one hall online) by 5.
    A row nobody declares is not checked."""
    sc, series = _case(tmp_path)
    investments, dispatch = _plan()
    v = verify(sc, series, investments, dispatch, NPV_HAND,
               checkers=[*default_checkers(), Reserve])
    assert {x.constraint for x in v.violations} == {"mining_infra"}
    assert (v.max_violation.site, v.max_violation.when) == ("alpha", _label(JAN))
    assert v.max_violation.amount == pytest.approx(5.0)


def test_order_of_checkers_does_not_matter(tmp_path: Path) -> None:
    """A plan with ties and many violations of several checkers: same result reversed."""
    sc, series = _case(tmp_path, infra=16.0, budget=2_900_000.0)
    investments, dispatch, _, npv = _probe_plan()
    rng = np.random.default_rng(1)
    for flows in dispatch.values():
        for key in flows:
            flows[key] = flows[key] + np.where(rng.random(T) < 0.05, 1.0, 0.0)
    investments.loc[investments["kind"].eq("ai_hall"), "quantity"] = 1.5
    checkers = [*default_checkers(), Probe, Reserve]
    forward = verify(sc, series, investments, dispatch, npv, checkers=checkers)
    backward = verify(sc, series, investments, dispatch, npv, checkers=checkers[::-1])
    assert len({x.constraint for x in forward.violations}) >= 3
    assert forward == backward
    assert list(forward.lines_usd) == list(backward.lines_usd)


def test_two_owners_of_a_flow_is_an_error(tmp_path: Path) -> None:
    sc, series = _case(tmp_path)
    investments, dispatch = _plan()

    class Twin(Probe):
        NAME = "twin"
        LINES = {}

    with pytest.raises(ValueError, match="probe_mw"):
        verify(sc, series, investments, dispatch, NPV_HAND,
               checkers=[*default_checkers(), Probe, Twin])
