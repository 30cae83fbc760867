"""Read back a folder optim wrote (a solve's results or a sweep), refusing anything else
with a message that says what the folder is and what to do (exit 2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from optim.errors import InputError
from optim.results import RESULTS_VERSION

SOURCE = "results folder"


@dataclass
class SolveFolder:
    """A solve's results: summary.json and its tables (MODEL.md §6, plus cash flows)."""

    path: Path
    summary: dict
    investments: pd.DataFrame
    monthly: pd.DataFrame
    cashflow: pd.DataFrame
    futures: pd.DataFrame | None = None


@dataclass
class SweepFolder:
    """A sweep's folder: its summary table (one row per case) and its case folders."""

    path: Path
    summary: pd.DataFrame

    def case(self, case_id: str) -> SolveFolder:
        return load_solve(self.path / "cases" / case_id)


def _table(folder: Path, name: str) -> pd.DataFrame:
    path = folder / f"{name}.parquet"
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise InputError(f"{folder}: not a complete results folder: {name}.parquet is "
                         "missing (solve again into it)", SOURCE) from None
    except Exception as exc:  # noqa: BLE001 (pyarrow raises several kinds on a bad file)
        raise InputError(f"{path}: cannot be read as Parquet ({exc})", SOURCE) from None


def load_solve(folder: Path) -> SolveFolder:
    """The results of `optim solve` in `folder`."""
    folder = Path(folder)
    path = folder / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"{folder}: not a results folder: it has no summary.json (write "
                         "one with `optim solve SCENARIO --out FOLDER`)", SOURCE) from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot be read as JSON ({exc})", SOURCE) from None
    if not isinstance(summary, dict) or "npv_usd" not in summary:
        raise InputError(f"{path}: not an optim summary (no npv_usd)", SOURCE)
    version = summary.get("results_version", 1)
    if version != RESULTS_VERSION:
        raise InputError(f"{folder}: written by an incompatible optim version (results "
                         f"version {version}; this optim reads version {RESULTS_VERSION}): "
                         "solve the scenario again to refresh it", SOURCE)
    futures = _table(folder, "futures") if (folder / "futures.parquet").exists() else None
    return SolveFolder(folder, summary, _table(folder, "investments"),
                       _table(folder, "monthly"), _table(folder, "cashflow"), futures)


def load(folder: Path) -> SolveFolder | SweepFolder:
    """A solve's results folder or a sweep's folder, whichever `folder` is."""
    folder = Path(folder)
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is a file, not a folder"
        raise InputError(f"{folder}: {what}: give a results folder written by `optim solve` "
                         "or a sweep folder written by `optim sweep`", SOURCE)
    if (folder / "summary.parquet").exists() and not (folder / "summary.json").exists():
        return SweepFolder(folder, _table(folder, "summary"))
    return load_solve(folder)
