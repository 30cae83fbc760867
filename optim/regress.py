"""Regression harness: solve fixture folders and compare with their `expected.json`.

A fixture folder holds `scenario.toml`, its Parquet series and `expected.json` with the
optimal `status`, `npv_usd` (and optionally `npv_hourly_usd`, `lines_usd`), the complete
list of `decisions` (investment rows), a `tolerance` and the `derivation` that proves
the optimum. The NPV tolerance is max(abs_usd, rel * |NPV|, the solve's MIP gap * |NPV|).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from optim.engine import Result, solve
from optim.errors import InfeasibleError, InputError, OptimError
from optim.results import write_json_atomic

DECISION_KEYS = ["site", "kind", "name", "month"]
QUANTITY_TOL = 1e-6


@dataclass
class FixtureOutcome:
    name: str
    passed: bool
    status: str
    npv_usd: float | None
    expected_npv_usd: float | None
    differences: list[str] = field(default_factory=list)
    result: Result | None = None


def find_fixtures(root: Path) -> list[Path]:
    """Every folder under `root` holding both scenario.toml and expected.json."""
    root = Path(root)
    return sorted(p.parent for p in root.rglob("expected.json")
                  if (p.parent / "scenario.toml").exists())


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def expected_problems(expected: object) -> list[str]:
    """What is wrong with a parsed expected.json (empty when it can be used)."""
    if not isinstance(expected, dict):
        return [f"must be a JSON object, not {type(expected).__name__}"]
    out = []
    if not isinstance(expected.get("status", "optimal"), str):
        out.append("status: must be a string such as \"optimal\" or \"infeasible\"")
    for key in ("npv_usd", "npv_hourly_usd"):
        if expected.get(key) is not None and not _number(expected[key]):
            out.append(f"{key}: must be a number or null, got {expected[key]!r}")
    tol = expected.get("tolerance", {})
    if not isinstance(tol, dict):
        out.append("tolerance: must be an object {\"abs_usd\": ..., \"rel\": ...}")
    else:
        out += [f"tolerance.{k}: must be a number >= 0, got {v!r}" for k, v in tol.items()
                if k in ("abs_usd", "rel") and not (_number(v) and v >= 0)]
    lines = expected.get("lines_usd")
    if lines is not None and not (isinstance(lines, dict)
                                  and all(_number(v) for v in lines.values())):
        out.append("lines_usd: must be an object of numbers")
    decisions = expected.get("decisions", [])
    if not isinstance(decisions, list):
        out.append("decisions: must be a list of investment rows")
    else:
        for i, row in enumerate(decisions):
            missing = [k for k in (*DECISION_KEYS, "quantity") if k != "name"
                       and not (isinstance(row, dict) and k in row)]
            if missing:
                out.append(f"decisions[{i}]: missing {', '.join(missing)}")
            elif not _number(row["quantity"]):
                out.append(f"decisions[{i}].quantity: must be a number, got "
                           f"{row['quantity']!r}")
    history = expected.get("history", [])
    if not isinstance(history, list):
        out.append("history: must be a list")
    return out


def load_expected(folder: Path) -> dict:
    """The fixture's expected.json, checked; InputError (exit 2) naming the fixture and
    every problem otherwise."""
    path = Path(folder) / "expected.json"
    source = f"fixture {Path(folder).name} ({path})"
    try:
        expected = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                         source) from None
    problems = expected_problems(expected)
    if problems:
        raise InputError(problems, source)
    return expected


def check_fixtures(folders: list[Path], update: bool = False) -> None:
    """Before solving anything: every expected.json is usable, and with `update` writable
    (InputError / OutputError, exit 2, naming the fixture)."""
    from optim.outdir import OutputError, _writable

    problems: list[InputError] = []
    for folder in folders:
        try:
            load_expected(folder)
        except InputError as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise InputError([f"{exc.source}: {q}" for exc in problems for q in exc.problems],
                         f"{len(problems)} fixtures with a malformed expected.json")
    if update:
        for folder in folders:
            path = Path(folder) / "expected.json"
            if path.is_symlink() or not path.is_file() or not _writable(path.parent) or \
                    not os.access(path, os.W_OK):
                raise OutputError(f"fixture {Path(folder).name}: cannot rewrite {path} (not a "
                                  "writable regular file in a writable folder)")


def _tolerance(expected: dict, value: float, gap: float | None) -> float:
    tol = expected.get("tolerance", {})
    return max(tol.get("abs_usd", 0.01), tol.get("rel", 1e-6) * abs(value),
               (gap or 0.0) * abs(value))


def _decision_rows(frame: pd.DataFrame) -> dict[tuple, float]:
    return {tuple(str(r[k]) for k in DECISION_KEYS): float(r["quantity"])
            for r in frame.to_dict("records")}


def compare_decisions(expected: list[dict], investments: pd.DataFrame) -> list[str]:
    """Differences between the expected and the returned investment rows."""
    frame = pd.DataFrame(expected, columns=[*DECISION_KEYS, "quantity"])
    frame["name"] = [n if isinstance(n, str) and n else k
                     for n, k in zip(frame["name"], frame["kind"], strict=True)]
    want = _decision_rows(frame)
    got = _decision_rows(investments)
    out = []
    for key in sorted(set(want) | set(got)):
        a, b = want.get(key, 0.0), got.get(key, 0.0)
        if abs(a - b) > QUANTITY_TOL * max(1.0, abs(a)):
            out.append(f"decision {'/'.join(key)}: expected {a:g}, got {b:g}")
    return out


def run_fixture(folder: Path) -> FixtureOutcome:
    """Solve one fixture and compare status, NPV, lines and decisions."""
    folder = Path(folder)
    expected = load_expected(folder)
    want_status = expected.get("status", "optimal")
    try:
        result = solve(folder / "scenario.toml")
    except InfeasibleError as exc:
        passed = want_status == "infeasible"
        diffs = [] if passed else [f"status: expected {want_status}, got infeasible ({exc})"]
        return FixtureOutcome(folder.name, passed, "infeasible", None, None, diffs)
    except OptimError as exc:
        return FixtureOutcome(folder.name, False, f"error {exc.exit_code}", None,
                              expected.get("npv_usd"), [str(exc)])
    s = result.summary
    diffs: list[str] = []
    if s["status"] != want_status:
        diffs.append(f"status: expected {want_status}, got {s['status']}")
    else:
        for key in ("npv_usd", "npv_hourly_usd"):
            if expected.get(key) is None:
                continue
            got, want = s.get(key), expected[key]
            tol = _tolerance(expected, want, s["mip_gap"])
            if got is None or abs(got - want) > tol:
                diffs.append(f"{key}: expected {want:,.2f}, got {got:,.2f} "
                             f"(difference {got - want:,.2f}, tolerance {tol:,.2f})")
        lines = s.get("npv_lines_usd", {})
        for line, want in (expected.get("lines_usd") or {}).items():
            got = lines.get(line, 0.0)
            tol = _tolerance(expected, expected.get("npv_usd") or want, s["mip_gap"])
            if abs(got - want) > tol:
                diffs.append(f"{line}: expected {want:,.2f}, got {got:,.2f}")
        if "decisions" in expected:
            diffs += compare_decisions(expected["decisions"], result.investments)
        if s.get("verified") is False:
            diffs.append(f"independent check failed: {s.get('max_violation')}")
    return FixtureOutcome(folder.name, not diffs, s["status"], s["npv_usd"],
                          expected.get("npv_usd"), diffs, result)


def update_fixture(folder: Path, outcome: FixtureOutcome, reason: str,
                   today: dt.date | None = None) -> None:
    """Rewrite the NPV and decisions of expected.json; keep the derivation; log the reason."""
    path = Path(folder) / "expected.json"
    expected = load_expected(folder)
    old = {k: expected.get(k) for k in ("status", "npv_usd", "npv_hourly_usd")}
    expected["status"] = outcome.status
    if outcome.result is not None:
        s = outcome.result.summary
        expected["npv_usd"] = s["npv_usd"]
        if "npv_hourly_usd" in expected or s.get("npv_hourly_usd") is not None:
            expected["npv_hourly_usd"] = s.get("npv_hourly_usd")
        expected["decisions"] = [
            {k: r[k] for k in DECISION_KEYS} | {"quantity": r["quantity"]}
            for r in outcome.result.investments.to_dict("records")]
        if "lines_usd" in expected:
            expected["lines_usd"] = dict(s["npv_lines_usd"])
    expected.setdefault("history", []).append({
        "date": (today or dt.date.today()).isoformat(), "reason": reason, "previous": old})
    write_json_atomic(path, expected)  # temp file beside it, then os.replace: nothing else
