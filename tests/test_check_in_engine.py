"""The independent check runs after every solve and catches a wrong model (exit 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

import optim
import optim.models.mining
from optim import cli

FIXTURE = Path(__file__).parent / "fixtures" / "mining_curtail" / "scenario.toml"


def test_summary_records_the_check() -> None:
    s = optim.solve(FIXTURE).summary
    assert s["verified"] is True
    assert s["max_violation"] is None
    assert abs(s["npv_recomputed_usd"] - s["npv_usd"]) <= 1e-6 * abs(s["npv_usd"])


def test_a_wrong_revenue_rate_in_the_model_fails_the_check(tmp_path: Path,
                                                           monkeypatch) -> None:  # noqa: ANN001
    real = optim.models.mining.revenue_usd_per_mwh

    def inflated(*args: object) -> np.ndarray:
        return real(*args) * 1.01

    monkeypatch.setattr(optim.models.mining, "revenue_usd_per_mwh", inflated)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.app, ["solve", str(FIXTURE), "--out", str(out)])
    assert result.exit_code == 5, result.output
    assert "failed the independent check" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verified"] is False
    skipped = CliRunner().invoke(cli.app, ["solve", str(FIXTURE), "--out", str(out),
                                           "--no-verify", "-q"])
    assert skipped.exit_code == 0
    assert "verified" not in json.loads((out / "summary.json").read_text())
