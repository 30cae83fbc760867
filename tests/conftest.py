"""Test setup: `helpers` importable, and the Hypothesis profiles.

The default profile is deterministic whatever the environment: every run draws the same
12 examples per property (derandomized, no example database). `HYPOTHESIS_PROFILE=random`
opts in to fresh random examples (still 12 per property, no deadline).

Runs that write no results folder keep their `optim.log` in the session's temporary folder.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

_COMMON = {"deadline": None, "max_examples": 12,
           "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("deterministic", derandomize=True, database=None, **_COMMON)
settings.register_profile("random", derandomize=False, **_COMMON)
settings.register_profile("ci", settings.get_profile("deterministic"))  # former name, kept
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def _run_logs_in_session_tmp(tmp_path_factory: pytest.TempPathFactory,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTIM_LOG_DIR", str(tmp_path_factory.getbasetemp() / "run-logs"))
