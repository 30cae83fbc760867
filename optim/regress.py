"""Regression harness: solve fixture folders and compare with their `expected.json`.

A fixture folder holds `scenario.toml`, its Parquet series and `expected.json` with the
optimal `status`, `npv_usd` (and optionally `npv_hourly_usd`, `lines_usd`), the complete
list of `decisions` (investment rows), a `tolerance` and the `derivation` that proves
the optimum. The NPV tolerance is max(abs_usd, rel * |NPV|, the solve's MIP gap * |NPV|).

expected.json is checked against a strict schema (`Expected`) before anything is solved:
an unknown or misspelled key, a missing `status`/`derivation`, a NaN or infinite number,
an optimal fixture without `npv_usd` or `decisions`, an infeasible one with an NPV, or a
repeated key is bad input (exit 2 naming the fixture and the field), never a silent pass.

Which folders are fixtures: every folder under the root that holds `scenario.toml`. One
without `expected.json` is reported (exit 2), not skipped, unless it is clearly not a
fixture: it lies inside a hidden folder (`.git`, `.venv`, a `.NAME.tmp-*` stage, ...)
relative to the root, or it carries optim's output marker (`.optim-results`: a sample
or sweep-case folder optim wrote). A folder with `expected.json` but no `scenario.toml`
is not a fixture (nothing to solve) and is ignored.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from optim.cashflow import npv_of
from optim.engine import Result, solve
from optim.errors import InfeasibleError, InputError, OptimError
from optim.results import write_json_atomic

DECISION_KEYS = ["site", "kind", "name", "month"]
QUANTITY_TOL = 1e-6
STATUSES = ("optimal", "infeasible")


@dataclass
class FixtureOutcome:
    name: str
    passed: bool
    status: str
    npv_usd: float | None
    expected_npv_usd: float | None
    differences: list[str] = field(default_factory=list)
    result: Result | None = None


def _not_a_fixture(folder: Path, root: Path) -> bool:
    """`folder` (under `root`) is clearly not a fixture: inside a hidden folder, or an
    output folder optim wrote (its marker)."""
    from optim.outdir import MARKER

    hidden = any(part.startswith(".") for part in folder.relative_to(root).parts)
    return hidden or (folder / MARKER).exists()


def find_fixtures(root: Path) -> list[Path]:
    """Every fixture folder under `root` (itself included): each folder holding
    scenario.toml, except those clearly not fixtures (see the module). A folder returned
    may lack expected.json: `check_fixtures` reports it (exit 2)."""
    root = Path(root)
    return sorted(p.parent for p in root.rglob("scenario.toml")
                  if p.is_file() and not _not_a_fixture(p.parent, root))


# ----------------------------------------------------------------- the expected.json schema

_Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]
_NonNegative = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]
_Text = Annotated[str, Field(strict=True, min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Tolerance(_Strict):
    rel: _NonNegative
    abs_usd: _NonNegative


class Decision(_Strict):
    """One investment row; `name` only for asic (model), generator (technology) and
    interconnection (upgrade) rows (an `--update` writes the kind as the name of the
    others)."""

    site: _Text
    kind: _Text
    name: _Text | None = None
    month: Annotated[str, Field(strict=True, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
    future: str = ""  # with [futures]: the future of a later decision ("" if shared)
    quantity: _Finite


class Previous(_Strict):
    status: str | None = None
    npv_usd: _Finite | None = None
    npv_hourly_usd: _Finite | None = None


class HistoryEntry(_Strict):
    """What `--update` appends: the date, the reason and the values it replaced."""

    date: Annotated[str, Field(strict=True, pattern=r"^\d{4}-\d{2}-\d{2}$")]
    reason: str
    previous: Previous


class CashFlow(_Strict):
    """A fixture's derived cash view against its no-investment baseline (optim.cashflow)."""

    baseline_npv_usd: _Finite
    incremental_npv_usd: _Finite
    terminal_value_usd: _Finite
    irr: _Finite | None
    payback_month: str | None


class Expected(_Strict):
    """The schema of expected.json (tests/fixtures/README.md)."""

    status: Literal["optimal", "infeasible"]
    npv_usd: _Finite | None = None
    npv_hourly_usd: _Finite | None = None
    tolerance: Tolerance | None = None
    decisions: list[Decision] | None = None
    lines_usd: dict[str, _Finite] | None = None
    cash_flow: CashFlow | None = None
    derivation: Annotated[str, Field(strict=True)]
    history: list[HistoryEntry] = []

    @model_validator(mode="after")
    def _by_status(self) -> Expected:
        problems = []
        if self.status == "optimal":
            if self.npv_usd is None:
                problems.append("npv_usd: an optimal fixture needs its optimal NPV (a number)")
            if self.decisions is None:
                problems.append("decisions: an optimal fixture needs the complete list of "
                                "investment rows ([] for none)")
        else:
            problems += [f"{key}: must be null for an infeasible fixture"
                         for key in ("npv_usd", "npv_hourly_usd")
                         if getattr(self, key) is not None]
            problems += [f"{key}: must be empty for an infeasible fixture"
                         for key in ("decisions", "lines_usd") if getattr(self, key)]
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _describe(error: dict) -> list[str]:
    """One pydantic error as `field: problem` lines."""
    loc = error["loc"]
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    kind = error["type"]
    if kind == "extra_forbidden":
        parent: type[BaseModel] | None = {(): Expected, ("tolerance",): Tolerance}.get(
            tuple(loc[:-1]), Decision if loc[:1] == ("decisions",) else None)
        close = difflib.get_close_matches(str(loc[-1]), list(parent.model_fields), n=1,
                                          cutoff=0.6) if parent else []
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return [f"{where}: unknown key{hint}"]
    if kind == "missing":
        return [f"{where}: required field is missing"]
    message = error["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        message = "must be a date YYYY-MM-DD" if loc[-1] == "date" else \
            "must be a month YYYY-MM"
    if kind == "value_error":
        return [f"{where}: {m}" if where else m for m in message.split("\n")]
    return [f"{where}: {message} (got {error.get('input')!r})"]


def expected_problems(expected: object) -> list[str]:
    """What is wrong with a parsed expected.json (empty when it can be used)."""
    if not isinstance(expected, dict):
        return [f"must be a JSON object, not {type(expected).__name__}"]
    try:
        Expected.model_validate(expected)
    except ValidationError as exc:
        return list(dict.fromkeys(line for e in exc.errors() for line in _describe(e)))
    return []


def _no_repeated_keys(pairs: list[tuple[str, object]]) -> dict:
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"repeated key {', '.join(map(repr, repeated))}")
    return dict(pairs)


def load_expected(folder: Path) -> dict:
    """The fixture's expected.json, checked; InputError (exit 2) naming the fixture and
    every problem otherwise."""
    path = Path(folder) / "expected.json"
    source = f"fixture {Path(folder).name} ({path})"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("no expected.json beside its scenario.toml: a fixture needs both "
                         "(write expected.json, or move the folder out of the one given to "
                         "regress)", source) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", source) from None
    try:
        expected = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                         source) from None
    except ValueError as exc:
        raise InputError(f"not valid JSON: {exc}", source) from None
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
                         f"{len(problems)} fixtures with a missing or malformed expected.json")
    if update:
        for folder in folders:
            path = Path(folder) / "expected.json"
            if path.is_symlink() or not path.is_file() or not _writable(path.parent) or \
                    not os.access(path, os.W_OK):
                raise OutputError(f"fixture {Path(folder).name}: cannot rewrite {path} (not a "
                                  "writable regular file in a writable folder)")


def _tolerance(expected: dict, value: float, gap: float | None) -> float:
    tol = expected.get("tolerance") or {}
    return max(tol.get("abs_usd", 0.01), tol.get("rel", 1e-6) * abs(value),
               (gap or 0.0) * abs(value))


def _decision_rows(frame: pd.DataFrame) -> dict[tuple, float]:
    return {(*(str(r[k]) for k in DECISION_KEYS), str(r.get("future") or "")):
            float(r["quantity"]) for r in frame.to_dict("records")}


def compare_decisions(expected: list[dict], investments: pd.DataFrame) -> list[str]:
    """Differences between the expected and the returned investment rows (a `future`
    of a futures run: "" for a decision shared by every future)."""
    frame = pd.DataFrame(expected, columns=[*DECISION_KEYS, "future", "quantity"])
    frame["future"] = frame["future"].astype(object).fillna("")
    frame["name"] = [n if isinstance(n, str) and n else k
                     for n, k in zip(frame["name"], frame["kind"], strict=True)]
    want = _decision_rows(frame)
    got = _decision_rows(investments)
    out = []
    for key in sorted(set(want) | set(got)):
        a, b = want.get(key, 0.0), got.get(key, 0.0)
        if abs(a - b) > QUANTITY_TOL * max(1.0, abs(a)):
            out.append(f"decision {'/'.join(k for k in key if k)}: expected {a:g}, got {b:g}")
    return out


def run_fixture(folder: Path) -> FixtureOutcome:
    """Solve one fixture and compare status, NPV, lines and decisions."""
    folder = Path(folder)
    expected = load_expected(folder)
    want_status = expected.get("status", "optimal")
    try:
        result = solve(folder / "scenario.toml", baseline="cash_flow" in expected)
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
            if line not in lines:
                diffs.append(f"lines_usd.{line}: not an NPV line of this run (its lines: "
                             f"{', '.join(sorted(lines))})")
                continue
            got = lines[line]
            tol = _tolerance(expected, expected.get("npv_usd") or want, s["mip_gap"])
            if abs(got - want) > tol:
                diffs.append(f"{line}: expected {want:,.2f}, got {got:,.2f}")
        if "decisions" in expected:
            diffs += compare_decisions(expected["decisions"], result.investments)
        diffs += _cash_flow_differences(expected, result)
        if s.get("verified") is False:
            diffs.append(f"independent check failed: {s.get('max_violation')}")
    return FixtureOutcome(folder.name, not diffs, s["status"], s["npv_usd"],
                          expected.get("npv_usd"), diffs, result)


def _cash_flow_differences(expected: dict, result: Result) -> list[str]:
    """The cash view must give back the plan's NPV (discounted free cash flows plus the
    terminal value), and match the fixture's derived `cash_flow` where it has one."""
    s, diffs = result.summary, []
    flows = result.tables["cashflow"]
    plan = flows[flows["case"] == "plan"]
    if "future" in plan:
        table = result.tables["futures"].set_index("future")
        column = "npv_hourly_usd" if "npv_hourly_usd" in table else "npv_usd"
        pairs = [(f"future {name}", npv_of(group), float(table.at[name, column]))
                 for name, group in plan.groupby("future")]
    else:
        hourly = s.get("npv_hourly_usd")
        pairs = [("the plan", npv_of(plan), s["npv_usd"] if hourly is None else hourly)]
    for what, got, want_npv in pairs:
        if abs(got - want_npv) > 1e-6 * max(1.0, abs(want_npv)):
            diffs.append(f"cash flows of {what}: discounted free cash flows plus terminal "
                         f"value give {got:,.2f}, not its NPV {want_npv:,.2f}")
    want = expected.get("cash_flow")
    if want is None:
        return diffs
    have = s["cash_flow"]
    tol = _tolerance(expected, expected.get("npv_usd") or 1.0, s["mip_gap"])
    for key in ("baseline_npv_usd", "incremental_npv_usd", "terminal_value_usd"):
        if have.get(key) is None or abs(have[key] - want[key]) > tol:
            diffs.append(f"cash_flow.{key}: expected {want[key]:,.2f}, got {have.get(key)}")
    if (want["irr"] is None) != (have.get("irr") is None) or (
            want["irr"] is not None and abs(have["irr"] - want["irr"]) > 1e-6):
        diffs.append(f"cash_flow.irr: expected {want['irr']}, got {have.get('irr')}")
    if want["payback_month"] != have.get("payback_month"):
        diffs.append(f"cash_flow.payback_month: expected {want['payback_month']}, got "
                     f"{have.get('payback_month')}")
    return diffs


def update_fixture(folder: Path, outcome: FixtureOutcome, reason: str,
                   today: dt.date | None = None) -> None:
    """Rewrite the NPV and decisions of expected.json; keep the derivation; log the reason."""
    path = Path(folder) / "expected.json"
    expected = load_expected(folder)
    if outcome.status not in STATUSES:  # the solve failed (an error, a time limit): no baseline
        outcome.differences.append(f"not updated: the status {outcome.status!r} is not a "
                                   f"baseline ({' or '.join(STATUSES)})")
        return
    old = {k: expected.get(k) for k in ("status", "npv_usd", "npv_hourly_usd")}
    expected["status"] = outcome.status
    if outcome.status == "infeasible":
        expected["npv_usd"] = None
        if "npv_hourly_usd" in expected:
            expected["npv_hourly_usd"] = None
        expected["decisions"] = []
        if "lines_usd" in expected:
            expected["lines_usd"] = {}
    elif outcome.result is not None:
        s = outcome.result.summary
        expected["npv_usd"] = s["npv_usd"]
        if "npv_hourly_usd" in expected or s.get("npv_hourly_usd") is not None:
            expected["npv_hourly_usd"] = s.get("npv_hourly_usd")
        expected["decisions"] = [
            {k: r[k] for k in DECISION_KEYS} | ({"future": r["future"]} if r.get("future")
                                                else {}) | {"quantity": r["quantity"]}
            for r in outcome.result.investments.to_dict("records")]
        if "lines_usd" in expected:
            expected["lines_usd"] = dict(s["npv_lines_usd"])
        if "cash_flow" in expected:
            expected["cash_flow"] = {k: s["cash_flow"].get(k) for k in CashFlow.model_fields}
    expected.setdefault("history", []).append({
        "date": (today or dt.date.today()).isoformat(), "reason": reason, "previous": old})
    write_json_atomic(path, expected)  # temp file beside it, then os.replace: nothing else
