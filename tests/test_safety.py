"""Issue 11, items 1, 7 and 9: a result never deletes what it did not write (nor takes a
user's `summary.json` for old results), optim works outside the checkout, a malformed or
missing expected.json is bad input (exit 2), and errors read alike in every command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from helpers import write_case
from typer.testing import CliRunner

from optim import cli, outdir, paths, results
from optim import sample as sample_data
from optim.errors import InputError
from optim.headroom_cli import HEADROOM_FILES
from optim.sweep import SWEEP_FILES

REPO = Path(__file__).resolve().parents[1]
RAW = paths.default_raw_dir()
RAW_PRESENT = all((RAW / name).is_file() for name in sample_data.RAW_FILES.values())
needs_raw = pytest.mark.skipif(not RAW_PRESENT, reason=f"raw data not found in {RAW}")
FIXTURE = REPO / "tests" / "fixtures" / "asic_buy_now"
runner = CliRunner()


def _invoke(*args: str | Path) -> object:
    return runner.invoke(cli.app, [str(a) for a in args])


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under `folder` (relative) and its bytes (None for a folder)."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes()
            for p in sorted(folder.rglob("*"))}


def _hidden_siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir()
                  if p.name.startswith(f".{folder.name}."))


def _user_folder(folder: Path) -> Path:
    """A folder a user cares about: a scenario, its generated/ inputs and notes."""
    path = write_case(folder)
    (folder / "generated").mkdir()
    (folder / "generated" / "input.parquet").write_bytes(b"user data")
    (folder / "notes.txt").write_text("my notes")
    return path


# ------------------------------------------------------------------ item 1: solve


def test_a_folder_optim_did_not_write_is_refused_before_solving(tmp_path: Path) -> None:
    scenario = _user_folder(tmp_path / "work")
    before = _snapshot(tmp_path / "work")
    result = _invoke("solve", scenario, "--out", tmp_path / "work")
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "was not written by optim" in text and "--force" in text
    assert "notes.txt" in text and "generated/" in text
    assert "✓ solve" not in result.output  # refused before solving
    assert _snapshot(tmp_path / "work") == before
    assert _hidden_siblings(tmp_path / "work") == []


def test_force_writes_into_it_and_deletes_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    scenario = _user_folder(work)
    before = _snapshot(work)
    result = _invoke("solve", scenario, "--out", work, "--force", "-q")
    assert result.exit_code == 0, result.output
    after = _snapshot(work)
    assert {k: after[k] for k in before} == before  # every file of the user, unchanged
    assert set(after) - set(before) == {"summary.json", "investments.parquet",
                                        "monthly.parquet", "cashflow.parquet", "optim.log",
                                        outdir.MARKER}
    marker = json.loads((work / outdir.MARKER).read_text())
    assert marker["tool"] == "optim" and marker["kind"] == "results"
    assert marker["files"] == ["cashflow.parquet", "investments.parquet", "monthly.parquet",
                               "optim.log", "summary.json"]
    # now optim's folder: solving again needs no --force and still keeps the user's files
    again = _invoke("solve", scenario, "--out", work, "-q")
    assert again.exit_code == 0, again.output
    assert {k: _snapshot(work)[k] for k in before} == before
    assert _hidden_siblings(work) == []


def test_force_never_overwrites_a_file_optim_did_not_write(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case")
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"mine": true}')
    (out / "other.txt").write_text("x")
    result = _invoke("solve", scenario, "--out", out, "--force")
    assert result.exit_code == 2, result.output
    assert "summary.json would be overwritten" in " ".join(result.output.split())
    assert (out / "summary.json").read_text() == '{"mine": true}'


@pytest.mark.parametrize("name", ["../victim", ".", "..", "a/b", ".hidden", "a\\b"])
def test_scenario_name_must_be_a_folder_name(tmp_path: Path, name: str,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = write_case(tmp_path / "case")
    scenario.write_text(scenario.read_text().replace('name = "case"',
                                                     f"name = {json.dumps(name)}"))
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep")
    earlier = tmp_path / "results" / "earlier"
    earlier.mkdir(parents=True)
    (earlier / "summary.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)
    result = _invoke("solve", scenario)
    assert result.exit_code == 2, result.output
    assert "scenario.name" in result.output and "--out" in result.output
    assert _snapshot(tmp_path) == before
    # the same name is fine with an explicit --out
    assert _invoke("solve", scenario, "--out", tmp_path / "named", "-q").exit_code == 0


def test_folder_name_rule() -> None:
    for bad in ("", " ", ".", "..", "../x", "a/b", ".x", " x", "a\nb"):
        assert outdir.name_problem(bad) is not None, bad
    for good in ("sample", "runs [v2]", "lease vs hashprice", "a.b", "Ünïcode"):
        assert outdir.name_problem(good) is None, good
    with pytest.raises(InputError, match=r"scenario\.name: '\.\./x' contains a path sep"):
        outdir.check_folder_name("../x", "scenario.name", "s.toml")


def test_a_regular_file_at_out_is_refused_and_untouched(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case")
    target = tmp_path / "target"
    target.write_text("a file")
    result = _invoke("solve", scenario, "--out", target)
    assert result.exit_code == 2, result.output
    assert "is a file, not a folder" in " ".join(result.output.split())
    assert target.read_text() == "a file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "target"]


def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case")
    out = tmp_path / "out"
    assert _invoke("solve", scenario, "--out", out, "-q").exit_code == 0
    before = _snapshot(out)
    out.chmod(0o555)
    parent = tmp_path / "locked"
    parent.mkdir(mode=0o555)
    try:
        result = _invoke("solve", scenario, "--out", out)
        assert result.exit_code == 2, result.output
        assert "not writable" in result.output
        assert _snapshot(out) == before
        inside = _invoke("solve", scenario, "--out", parent / "new")
        assert inside.exit_code == 2, inside.output
        assert "not writable" in inside.output and not (parent / "new").exists()
    finally:
        out.chmod(0o755)
        parent.chmod(0o755)


def test_repeated_solves_replace_only_optims_own_files(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case")
    out = tmp_path / "out"
    assert _invoke("solve", scenario, "--out", out, "--write-hourly", "-q").exit_code == 0
    assert (out / "hourly.parquet").is_file()
    (out / "notes.txt").write_text("mine")
    for _ in range(2):
        result = _invoke("solve", scenario, "--out", out, "-q")
        assert result.exit_code == 0, result.output
    # the old hourly.parquet (optim's) is gone, the notes stay
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [outdir.MARKER, "cashflow.parquet", "investments.parquet", "monthly.parquet",
         "notes.txt", "optim.log", "summary.json"])
    assert _hidden_siblings(out) == []
    assert "exit code 0" in (out / "optim.log").read_text()


def test_a_failed_write_leaves_the_earlier_results(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = write_case(tmp_path / "case")
    out = tmp_path / "out"
    assert _invoke("solve", scenario, "--out", out, "-q").exit_code == 0
    before = _snapshot(out)
    calls = []

    def failing(frame: pd.DataFrame, path: Path) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        results.pq.write_table(results.pa.Table.from_pandas(frame), path)

    monkeypatch.setattr(results, "_write_parquet", failing)
    result = _invoke("solve", scenario, "--out", out)
    assert result.exit_code == 1
    assert _snapshot(out) == before
    assert _hidden_siblings(out) == []


def _killed_run_stage(target: Path) -> Path:
    """What a run killed while writing leaves: its marked stage folder (a real process
    that dies without cleaning up)."""
    code = ("import os, sys\nfrom pathlib import Path\nfrom optim import outdir\n"
            "c = outdir.check_folder(Path(sys.argv[1]), 'results', outdir.RESULTS_FILES)\n"
            "s = outdir._stage(c)\n(s / 'summary.json').write_text('{}')\nprint(s)\n"
            "os._exit(9)\n")
    run = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         text=True, cwd=REPO, timeout=60)
    assert run.returncode == 9, run.stderr
    return Path(run.stdout.strip())


def test_leftovers_of_killed_runs_are_cleaned_only_when_optims(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case")
    out = tmp_path / "out"
    assert _invoke("solve", scenario, "--out", out, "-q").exit_code == 0
    killed = _killed_run_stage(out)
    assert killed.name.startswith(".out.tmp-") and (killed / outdir.MARKER).is_file()
    old = tmp_path / ".out.old-0123abcd"  # a swap interrupted before the old folder went
    shutil.copytree(out, old)
    live = tmp_path / ".out.tmp-89abcdef"  # a run still writing (this process)
    live.mkdir()
    outdir.write_marker(live, "results", [], stage=True)
    foreign = [tmp_path / ".out.tmp-fedcba98", tmp_path / ".out.old-not-hex", tmp_path / ".other"]
    for folder in foreign:  # no marker, or not optim's name pattern: not recognisably ours
        folder.mkdir()
        (folder / "keep.txt").write_text("keep")
    assert _invoke("solve", scenario, "--out", out, "-q").exit_code == 0
    assert not killed.exists() and not old.exists()
    assert live.is_dir() and all((f / "keep.txt").is_file() for f in foreign)


@pytest.mark.parametrize(("name", "text"), [("summary.json", '{"mine":1}\n'),
                                           ("summary.json", "not json"),
                                           ("optim.log", "my own log\n")])
def test_a_lone_file_named_like_optims_is_not_taken_for_old_results(
        tmp_path: Path, name: str, text: str) -> None:
    """Without a marker, a folder counts as optim's (written before the marker existed)
    only if its summary.json is optim's: a user's summary.json or optim.log is kept."""
    scenario = write_case(tmp_path / "case")
    user = tmp_path / "u3"
    user.mkdir()
    (user / name).write_text(text)
    for extra in ([], ["--force"]):
        result = _invoke("solve", scenario, "--out", user, "-q", *extra)
        assert result.exit_code == 2, result.output
        assert name in result.output and "✓ solve" not in result.output
        assert sorted(p.name for p in user.iterdir()) == [name]
        assert (user / name).read_text() == text
    assert _hidden_siblings(user) == []


def test_results_written_before_the_marker_are_still_replaced(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case")
    out = tmp_path / "out"
    assert _invoke("solve", scenario, "--out", out, "-q").exit_code == 0
    (out / outdir.MARKER).unlink()  # as an optim from before the marker left it
    again = _invoke("solve", scenario, "--out", out, "-q")
    assert again.exit_code == 0, again.output
    assert outdir.read_marker(out)["kind"] == "results"


@pytest.mark.parametrize(("kind", "own"), [
    ("results", outdir.RESULTS_FILES), ("sample", sample_data.SAMPLE_FILES),
    ("sweep", SWEEP_FILES), ("headroom", HEADROOM_FILES)])
def test_legacy_rule_for_every_kind(tmp_path: Path, kind: str, own: frozenset[str]) -> None:
    """A pre-marker folder is optim's only with its kind's signature file carrying optim's
    keys or columns; the same file names with other content are refused."""
    name, keys = outdir.LEGACY_SIGNATURES[kind]
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    for folder in (theirs, ours):
        folder.mkdir()
    if name.endswith(".json"):
        (theirs / name).write_text('{"mine": 1}')
        (ours / name).write_text(json.dumps(dict.fromkeys(keys, 1)))
    else:
        pd.DataFrame({"mine": [1]}).to_parquet(theirs / name)
        pd.DataFrame({k: [1] for k in sorted(keys)}).to_parquet(ours / name)
    with pytest.raises(outdir.OutputError, match="named like optim's files"):
        outdir.check_folder(theirs, kind, own)
    with pytest.raises(outdir.OutputError, match="would be overwritten"):
        outdir.check_folder(theirs, kind, own, force=True)
    assert outdir.check_folder(ours, kind, own).previous == {name}
    (theirs / name).unlink()
    (theirs / "optim.log").write_text("mine")  # a lone log is never optim's output
    with pytest.raises(outdir.OutputError, match="was not written by optim"):
        outdir.check_folder(theirs, kind, {*own, "optim.log"})
    assert outdir.check_folder(tmp_path / "new", kind, own).exists is False


# ------------------------------------------------------------- item 1: other commands


def _sweep_file(tmp_path: Path, name: str = "t") -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(f'[sweep]\nname = {json.dumps(name)}\nbase = "{FIXTURE / "scenario.toml"}"\n'
                    '\n[[axis]]\npath = "scenario.discount_rate"\nvalues = [0.0]\n')
    return path


@pytest.mark.parametrize("name", ["../victim", ".", "a/b"])
def test_sweep_name_must_be_a_folder_name(tmp_path: Path, name: str) -> None:
    result = _invoke("sweep", _sweep_file(tmp_path, name), "--out", tmp_path / "sw")
    assert result.exit_code == 2, result.output
    assert "sweep.name" in result.output
    assert not (tmp_path / "sw").exists()


def test_sweep_folder_rule(tmp_path: Path) -> None:
    path = _sweep_file(tmp_path)
    root = tmp_path / "sw" / "t"
    root.mkdir(parents=True)
    (root / "notes.txt").write_text("mine")
    refused = _invoke("sweep", path, "--out", tmp_path / "sw")
    assert refused.exit_code == 2, refused.output
    assert "was not written by optim" in " ".join(refused.output.split())
    assert "0/1" not in refused.output and "running" not in refused.output  # no progress bar
    assert refused.output.startswith("error (exit 2): ")
    assert sorted(p.name for p in root.iterdir()) == ["notes.txt"]
    (root / "notes.txt").unlink()
    first = _invoke("sweep", path, "--out", tmp_path / "sw", "--workers", "1")
    assert first.exit_code == 0, first.output
    assert json.loads((root / outdir.MARKER).read_text())["kind"] == "sweep"
    (root / "notes.txt").write_text("mine")
    (root / "cases" / "notes.txt").write_text("mine too")
    again = _invoke("sweep", path, "--out", tmp_path / "sw", "--workers", "1", "--force")
    assert again.exit_code == 0, again.output
    assert (root / "notes.txt").read_text() == "mine"
    assert (root / "cases" / "notes.txt").read_text() == "mine too"
    (case,) = [p for p in (root / "cases").iterdir() if p.is_dir()]
    assert outdir.read_marker(case)["kind"] == "results"


def test_sample_folder_rule(tmp_path: Path) -> None:
    """`optim sample --out` refuses a folder it did not write (before reading any raw
    file) and never writes the sample into a folder of another kind."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    with pytest.raises(outdir.OutputError, match="was not written by optim"):
        outdir.check_folder(out, "sample", sample_data.SAMPLE_FILES)
    results_dir = tmp_path / "res"
    results_dir.mkdir()
    outdir.write_marker(results_dir, "results", ["summary.json"])
    with pytest.raises(outdir.OutputError, match="holds optim results output"):
        outdir.check_folder(results_dir, "sample", sample_data.SAMPLE_FILES)


@needs_raw
def test_sample_refuses_a_user_folder(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep")
    result = _invoke("sample", "--raw", RAW, "--out", out)
    assert result.exit_code == 2, result.output
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine"]


def _demand(path: Path) -> Path:
    stamps = pd.date_range("2019-01-01", "2020-01-01", freq="h", inclusive="left", tz="UTC")
    demand = pd.Series(900.0, index=stamps)
    demand[(stamps.month == 7) & (stamps.hour == 12)] = 1000.0
    demand[(stamps.month == 1) & (stamps.hour == 12)] = 1000.0
    frame = pd.DataFrame({"timestamp_utc": stamps, "ba": "TEST", "demand_mw": demand.values})
    frame.to_parquet(path)
    return path


def test_headroom_output_rule(tmp_path: Path) -> None:
    src = _demand(tmp_path / "demand.parquet")
    args = ["headroom", src, "--years", "2019", "--limit", "1"]
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    refused = _invoke(*args, "--out", user)
    assert refused.exit_code == 2, refused.output
    assert sorted(p.name for p in user.iterdir()) == ["notes.txt"]
    _assert_failed_like_fail(refused.output, "was not written by optim")
    forced = _invoke(*args, "--out", user, "--force")
    assert forced.exit_code == 0, forced.output
    assert (user / "notes.txt").read_text() == "keep" and (user / "headroom.parquet").is_file()
    assert "exit code 0" in (user / "optim.log").read_text()  # the run's log, as for solve
    events = tmp_path / "events.parquet"
    events.write_bytes(b"not optim's")
    ev = ["--ba", "TEST", "--node", "N1", "--flex-mw", "50", "--events-out", events]
    taken = _invoke(*args, "--out", tmp_path / "h", *ev)
    assert taken.exit_code == 2, taken.output
    _assert_failed_like_fail(taken.output, "exists and was not written by optim")
    assert events.read_bytes() == b"not optim's" and not (tmp_path / "h").exists()
    events.unlink()
    saved = os.umask(0o022)
    try:
        for _ in range(2):  # optim's own events file is replaced
            done = _invoke(*args, "--out", tmp_path / "h", *ev, "--plot")
            assert done.exit_code == 0, done.output
    finally:
        os.umask(saved)
    assert pd.read_parquet(events)["stress"].all()
    for path in (events, tmp_path / "h" / "headroom.png", tmp_path / "h" / "headroom.parquet"):
        assert path.stat().st_mode & 0o777 == 0o644, path  # not mkstemp's 0600
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def _assert_failed_like_fail(output: str, fragment: str) -> None:
    """An error reported as `cli._fail` reports it: `error (exit 2): ...`, then `log: ...`
    naming a log that records the failure."""
    flat = " ".join(output.split())
    assert flat.startswith("error (exit 2): ") and fragment in flat, flat
    log = Path(output.strip().splitlines()[-1].removeprefix("log: "))
    assert output.strip().splitlines()[-1].startswith("log: ")
    assert "failed (exit 2)" in log.read_text() and "exit code 2" in log.read_text()


def test_headroom_bad_input_is_reported_like_every_command(tmp_path: Path) -> None:
    src = _demand(tmp_path / "demand.parquet")
    bad = _invoke("headroom", src, "--years", "2019", "--limit", "150", "--out", tmp_path / "h")
    assert bad.exit_code == 2, bad.output
    _assert_failed_like_fail(bad.output, "is outside (0, 100) %")
    assert not (tmp_path / "h").exists()


def test_regress_update_rewrites_only_expected_json(tmp_path: Path) -> None:
    fixture = tmp_path / "fx" / FIXTURE.name
    shutil.copytree(FIXTURE, fixture)
    expected = json.loads((fixture / "expected.json").read_text())
    right = expected["npv_usd"]
    expected["npv_usd"] = right + 1000.0
    (fixture / "expected.json").write_text(json.dumps(expected))
    (fixture / "notes.txt").write_text("keep")
    before = _snapshot(tmp_path / "fx")
    result = _invoke("regress", tmp_path / "fx", "--update", "--reason", "test")
    assert result.exit_code == 0, result.output
    after = _snapshot(tmp_path / "fx")
    assert set(after) == set(before)  # no temp file left, nothing added
    assert {k: v for k, v in after.items() if not k.endswith("expected.json")} == \
        {k: v for k, v in before.items() if not k.endswith("expected.json")}
    rewritten = json.loads((fixture / "expected.json").read_text())
    assert rewritten["npv_usd"] == pytest.approx(right)
    assert rewritten["history"][-1]["reason"] == "test"
    assert rewritten["derivation"] == expected["derivation"]


def test_regress_update_refuses_a_read_only_fixture(tmp_path: Path) -> None:
    fixture = tmp_path / "fx" / FIXTURE.name
    shutil.copytree(FIXTURE, fixture)
    fixture.chmod(0o555)
    try:
        result = _invoke("regress", tmp_path / "fx", "--update", "--reason", "test")
        assert result.exit_code == 2, result.output
        assert "cannot rewrite" in result.output and FIXTURE.name in result.output
    finally:
        fixture.chmod(0o755)


# -------------------------------------------------------------------- item 9: regress


_VALID = json.loads((FIXTURE / "expected.json").read_text())


def _edited(**changes: object) -> str:
    """The valid expected.json of FIXTURE with keys changed (None: the key removed)."""
    data = {k: v for k, v in {**_VALID, **changes}.items() if changes.get(k, 0) is not None}
    return json.dumps(data)


@pytest.mark.parametrize(("text", "fragment"), [
    ("{", "not valid JSON"),
    ("[1, 2]", "must be a JSON object, not list"),
    (b"\xff\xfe", "not UTF-8"),
    ("{}", "status: required field is missing"),
    ("{}", "derivation: required field is missing"),
    ('{"status": "optimal", "npv_usd": NaN, "decisions": [], "derivation": "x"}',
     "npv_usd: Input should be a finite number (got nan)"),
    ('{"status": "optimal", "npv_uds": 1, "tolerence": {"rel": 0}, "derivation": "x"}',
     "npv_uds: unknown key; did you mean 'npv_usd'?"),
    ('{"status": "optimal", "npv_uds": 1, "tolerence": {"rel": 0}, "derivation": "x"}',
     "tolerence: unknown key; did you mean 'tolerance'?"),
    ('{"status": "optimal", "status": "infeasible", "derivation": "x"}',
     "repeated key 'status'"),
    (_edited(status="solved"), "status: Input should be 'optimal' or 'infeasible'"),
    (_edited(npv_usd=None), "npv_usd: an optimal fixture needs its optimal NPV"),
    (_edited(decisions=None), "decisions: an optimal fixture needs the complete list"),
    (_edited(npv_usd="lots"), "npv_usd: Input should be a valid number (got 'lots')"),
    (_edited(npv_usd=True), "npv_usd: Input should be a valid number (got True)"),
    (_edited(npv_hourly_usd="Infinity"), "npv_hourly_usd: Input should be a valid number"),
    (_edited(derivation=3), "derivation: Input should be a valid string"),
    (_edited(decisions=[{"site": "a"}]), "decisions[0].kind: required field is missing"),
    (_edited(decisions=[{"site": "a", "kind": "asic", "month": "2027-13", "quantity": 1}]),
     "decisions[0].month: must be a month YYYY-MM (got '2027-13')"),
    (_edited(decisions=[{"site": "a", "kind": "asic", "month": "2027-01", "quantty": 1}]),
     "decisions[0].quantty: unknown key; did you mean 'quantity'?"),
    (_edited(tolerance={"rel": -1, "abs_usd": 0.01}),
     "tolerance.rel: Input should be greater than or equal to 0"),
    (_edited(tolerance={"rel": 1e-6}), "tolerance.abs_usd: required field is missing"),
    (_edited(lines_usd={"mining_usd": "x"}), "lines_usd.mining_usd: Input should be a valid"),
    (_edited(history={}), "history: Input should be a valid list"),
    (_edited(history=[{"date": "2026-13-01x", "reason": "r", "previous": {}}]),
     "history[0].date: must be a date YYYY-MM-DD"),
    (_edited(status="infeasible"), "npv_usd: must be null for an infeasible fixture"),
])
def test_regress_names_the_fixture_of_a_malformed_expected_json(
        tmp_path: Path, text: str | bytes, fragment: str) -> None:
    good = tmp_path / "fx" / "good"
    bad = tmp_path / "fx" / "broken_one"
    shutil.copytree(FIXTURE, good)
    shutil.copytree(FIXTURE, bad)
    if isinstance(text, bytes):
        (bad / "expected.json").write_bytes(text)
    else:
        (bad / "expected.json").write_text(text)
    result = _invoke("regress", tmp_path / "fx")
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "error (exit 2): fixture broken_one" in flat and fragment in flat, flat
    assert "Traceback" not in result.output and "pass" not in result.output  # nothing solved


def test_every_stored_and_updated_expected_json_is_valid() -> None:
    from optim import regress

    fixtures = regress.find_fixtures(FIXTURE.parent)
    assert len(fixtures) == len(list(FIXTURE.parent.glob("*/expected.json"))) > 20
    for folder in fixtures:
        regress.load_expected(folder)
    updated = {**_VALID, "decisions": [{"site": "a", "kind": "hosting", "name": "hosting",
                                        "month": "2027-03", "quantity": 10.0}],
               "history": [{"date": "2026-12-01", "reason": "r", "previous": {
                   "status": "optimal", "npv_usd": 1.0, "npv_hourly_usd": None}}]}
    assert regress.expected_problems(updated) == []  # the form `--update` writes


def test_update_writes_a_valid_baseline_and_never_an_error_status(tmp_path: Path) -> None:
    from optim import regress

    fixture = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, fixture)
    errored = regress.FixtureOutcome(FIXTURE.name, False, "error 2", None, None, ["bad"])
    before = (fixture / "expected.json").read_bytes()
    regress.update_fixture(fixture, errored, "r")
    assert (fixture / "expected.json").read_bytes() == before
    assert "not updated" in errored.differences[-1]
    infeasible = regress.FixtureOutcome(FIXTURE.name, False, "infeasible", None, None)
    regress.update_fixture(fixture, infeasible, "now infeasible")
    rewritten = regress.load_expected(fixture)  # still valid
    assert rewritten["status"] == "infeasible" and rewritten["npv_usd"] is None
    assert rewritten["decisions"] == [] and rewritten["lines_usd"] == {}
    assert rewritten["history"][-1]["previous"]["npv_usd"] == _VALID["npv_usd"]


def test_a_fixture_folder_without_expected_json_is_reported(tmp_path: Path) -> None:
    shutil.copytree(FIXTURE, tmp_path / "fx" / "good")
    lone = tmp_path / "fx" / "no_baseline"
    shutil.copytree(FIXTURE, lone)
    (lone / "expected.json").unlink()
    for skipped in (tmp_path / "fx" / ".hidden" / "x", tmp_path / "fx" / "sample_out"):
        shutil.copytree(FIXTURE, skipped)  # clearly not fixtures: hidden, optim's output
        (skipped / "expected.json").unlink()
    outdir.write_marker(tmp_path / "fx" / "sample_out", "sample", ["scenario.toml"])
    result = _invoke("regress", tmp_path / "fx")
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "fixture no_baseline" in flat and "no expected.json beside its scenario.toml" in flat
    assert "sample_out" not in flat and ".hidden" not in flat and "pass" not in flat
    from optim import regress

    assert [p.name for p in regress.find_fixtures(tmp_path / "fx")] == ["good", "no_baseline"]


def test_an_expected_line_the_run_lacks_is_a_difference(tmp_path: Path) -> None:
    from optim import regress

    fixture = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, fixture)
    (fixture / "expected.json").write_text(_edited(lines_usd={"minning_usd": 0.0}))
    outcome = regress.run_fixture(fixture)
    assert not outcome.passed
    assert any("lines_usd.minning_usd: not an NPV line" in d for d in outcome.differences)


# ------------------------------------------------------ item 7: outside the checkout


def _module_cli(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "optim.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


@needs_raw
def test_sample_then_solve_outside_the_checkout(tmp_path: Path) -> None:
    """From a folder outside the checkout: `optim sample --out DIR` writes the series and
    the sample scenario beside them; `optim solve DIR/scenario.toml` runs on them."""
    env = {**os.environ, "OPTIM_RAW_DIR": str(RAW),
           "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    package_before = sorted(p.name for p in (REPO / "optim").iterdir())
    made = _module_cli("sample", "--out", "mysample", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    folder = tmp_path / "mysample"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*sample_data.output_names(), "scenario.toml", outdir.MARKER])
    data = tomllib.loads((folder / "scenario.toml").read_text())["data"]
    assert all((folder / value).is_file() for value in data.values()), data
    solved = _module_cli("solve", "mysample/scenario.toml", "--out", "res", "--resolution",
                         "blocks:2", "--time-limit", "60", "--mip-gap", "0.05", "-q",
                         cwd=tmp_path, env=env)
    assert solved.returncode == 0, solved.stderr
    assert json.loads((tmp_path / "res" / "summary.json").read_text())["npv_usd"] > 0
    again = _module_cli("sample", "--out", "mysample", "--if-missing", cwd=tmp_path, env=env)
    assert again.returncode == 0 and "present" in again.stdout
    assert sorted(p.name for p in (REPO / "optim").iterdir()) == package_before


def test_defaults_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package used from a folder that is not a checkout: the sample goes to
    ./optim-sample, never into the package; the raw data is looked for via OPTIM_RAW_DIR."""
    site = tmp_path / "site-packages" / "optim"
    site.mkdir(parents=True)
    monkeypatch.setattr(paths, "PACKAGE_DIR", site)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert paths.checkout_root() is None
    assert paths.default_sample_dir() == work / "optim-sample"
    assert paths.checkout_sample_dir() is None
    monkeypatch.setenv("OPTIM_RAW_DIR", str(tmp_path / "nowhere"))
    result = _invoke("headroom", "--ba", "ERCO", "--out", tmp_path / "h")
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())
    assert "raw data not found" in flat and "OPTIM_RAW_DIR" in flat
    missing = _invoke("sample", "--out", tmp_path / "s")
    assert missing.exit_code == 2, missing.output
    assert "OPTIM_RAW_DIR" in " ".join(missing.output.split())
    assert not (tmp_path / "s").exists() and not (tmp_path / "h").exists()


def test_the_packaged_sample_scenario_is_the_checkouts() -> None:
    """One copy: the package data optim/sample_scenario.toml is data/sample/scenario.toml
    (a link, shipped as a file by `pip install .`), and its `optim sample` form reads the
    series beside it."""
    checkout = (REPO / "data" / "sample" / "scenario.toml").read_text(encoding="utf-8")
    assert paths.sample_scenario_text() == checkout
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert paths.PACKAGED_SCENARIO in pyproject["tool"]["setuptools"]["package-data"]["optim"]
    beside = tomllib.loads(sample_data.sample_scenario())
    original = tomllib.loads(checkout)
    assert beside["data"] == {k: v.removeprefix("generated/")
                              for k, v in original["data"].items()}
    assert {k: v for k, v in beside.items() if k != "data"} == \
        {k: v for k, v in original.items() if k != "data"}
