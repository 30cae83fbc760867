"""Ctrl-C, SIGTERM and closed pipes stop a run within seconds, cleanly; long runs report
their progress (issue 11, items 2 and 8).

The runs are real `optim` processes, each in a session of its own, so that a signal to
its process group is what a terminal's Ctrl-C sends, and no worker can hide outside it.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from helpers import hours, write_case

from optim.engine import solve
from optim.solver import MipProgress
from optim.tuning import Tuning

REPO = Path(__file__).resolve().parents[1]
GENERATOR = """
[[generator]]
name = "gas"
unit_mw = 2.0
capex_usd_per_mw = 800000.0
heat_rate_mmbtu_per_mwh = 9.0
vom_usd_per_mwh = 5.0
fom_usd_per_mw_month = 1000.0
life_months = 240
fuel_usd_per_mmbtu = 3.0
"""
SITE = """
[[site]]
name = "s{i}"
node = "N{i}"
firm_import_mw = 20.0
flex_import_mw = 10.0
export_mw = 5.0
mining_infra_mw = 30.0
max_new_asic_mw = 20.0
existing_fleet = [{{ asic = "S21", mw = 10.0 }}]
generation = [{{ technology = "gas", max_units = 4 }}]
ai = {{ hall_it_mw = 2.0, max_halls = 3, capex_usd_per_mw_it = 1e6, \
lease_usd_per_kw_month = 120.0, life_months = 120, lead_time_months = 1, pue = 1.2, \
displaces_mining_mw_per_hall = 2.0 }}
"""


def portfolio(folder: Path, sites: int, months: int, resolution: str, extra: str = "") -> Path:
    """A portfolio with integer decisions at every site (ASIC blocks, gas units, AI halls)
    and a different random price series at each node, so no hours merge."""
    path = write_case(folder, GENERATOR + "".join(SITE.format(i=i) for i in range(sites)),
                      months=months, resolution=resolution,
                      nodes=tuple(f"N{i}" for i in range(sites)),
                      scenario_extra="block_mw = 1.0\ninvest_every_months = 1\n" + extra)
    rng = np.random.default_rng(0)
    ts = hours(months=months)
    pd.concat([pd.DataFrame({"timestamp": ts, "node": f"N{i}", "price_usd_per_mwh": np.round(
        rng.choice([-10.0, 25.0, 40.0, 60.0, 180.0], size=len(ts), p=[.1, .3, .3, .2, .1])
        + rng.normal(0, 3, len(ts)), 2)}) for i in range(sites)]).to_parquet(
        folder / "prices.parquet", index=False)
    return path


class Collector:
    """A progress callback that keeps everything it is told."""

    def __init__(self) -> None:
        self.phases: list[str] = []
        self.mips: list[tuple[str, MipProgress]] = []
        self.site_counts: list[tuple[str, int, int]] = []

    def __call__(self, phase: str) -> None:
        self.phases.append(phase)

    def mip(self, update: MipProgress) -> None:
        self.mips.append((self.phases[-1], update))

    def sites(self, done: int, total: int) -> None:
        self.site_counts.append((self.phases[-1], done, total))


# ---------------------------------------------------------------------------- progress


def test_a_mip_reports_incumbent_bound_and_gap(tmp_path: Path) -> None:
    path = portfolio(tmp_path, sites=2, months=2, resolution="hourly")
    seen = Collector()
    result = solve(path, progress=seen, tuning=Tuning(decompose="never", warm_start=False))
    solves = [u for phase, u in seen.mips if phase == "solve"]
    assert solves, seen.mips
    assert all(u.elapsed_s >= 0 for u in solves)
    final = solves[-1]
    assert final.objective_usd is not None and final.bound_usd is not None
    assert final.gap is not None and final.gap >= 0
    assert final.objective_usd == pytest.approx(result.npv_usd, rel=1e-6)  # in USD, scaled
    assert result.summary["integers"] > 0
    assert "solve" in seen.phases
    quiet = solve(path, tuning=Tuning(decompose="never", warm_start=False))
    assert set(result.summary) == set(quiet.summary)  # nothing of it is recorded


@pytest.mark.parametrize("workers", [1, 2])
def test_the_hourly_resolve_reports_sites_done(tmp_path: Path, workers: int) -> None:
    path = portfolio(tmp_path, sites=3, months=1, resolution="blocks:4")
    seen = Collector()
    plain: list[str] = []
    solve(path, progress=seen, tuning=Tuning(resolve_workers=workers))
    solve(path, progress=plain.append, tuning=Tuning(resolve_workers=workers))  # as before
    assert plain == seen.phases
    counts = [(done, total) for phase, done, total in seen.site_counts if phase == "re-solve"]
    assert counts == [(n, 3) for n in range(4)]


# ------------------------------------------------------------------ stopping a solve

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")
STARTED: list[Run] = []


@pytest.fixture(autouse=True)
def _nothing_left_running() -> Iterator[None]:
    """A failing test does not leave its run, or that run's workers, behind."""
    yield
    while STARTED:
        STARTED.pop().close()


class Run:
    """`optim ARGS` in a session of its own, its stderr a terminal (so the status line is
    drawn as a user sees it) read as plain text."""

    def __init__(self, args: list[str], cwd: Path, **env: str) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, str(REPO / "cli.py"), *args], cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=slave, start_new_session=True,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "200", **env})
        os.close(slave)
        self.text = ""
        self.closed = False
        STARTED.append(self)

    def close(self) -> None:
        """Kill what is left of the run's process group; close the terminal."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        if not self.closed:
            os.close(self.master)
            self.closed = True

    def _read(self, timeout_s: float) -> bool:
        """Read what is there within `timeout_s`; False at the end of the output."""
        ready, _, _ = select.select([self.master], [], [], timeout_s)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the terminal's other side is closed
            return False
        self.text += ANSI.sub("\n", data.decode(errors="replace"))
        return bool(data)

    def wait_for(self, pattern: str, timeout_s: float = 60) -> re.Match:
        """The first match of `pattern` in the output (the run still going)."""
        deadline = time.monotonic() + timeout_s
        while not (found := re.search(pattern, self.text)):
            assert time.monotonic() < deadline and self.proc.poll() is None, \
                f"no {pattern!r} in:\n{self.text}"
            self._read(0.1)
        return found

    def stop(self, signum: int, whole_group: bool = True) -> float:
        """Send `signum` (to the process group, as a terminal's Ctrl-C does); the seconds
        the process took to exit. The rest of its output is read."""
        t0 = time.monotonic()
        (os.killpg if whole_group else os.kill)(self.proc.pid, signum)
        self.proc.wait(timeout=30)
        seconds = time.monotonic() - t0
        while self._read(1.0):
            pass
        os.close(self.master)
        self.closed = True
        return seconds

    def last_line(self, *words: str) -> str:
        """The last line, checked to hold `words`; no traceback anywhere."""
        assert "Traceback" not in self.text and "Error" not in self.text, self.text
        last = [line for line in self.text.splitlines() if line.strip()][-1]
        for word in words:
            assert word in last, self.text
        return last


def group(pgid: int) -> list[psutil.Process]:
    """The live (not zombie) processes of process group `pgid`."""
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return out


@pytest.mark.parametrize("certify", ["true", "false"])
def test_ctrl_c_during_the_mip_stops_it(tmp_path: Path, certify: str) -> None:
    """Once the MIP solve runs (its incumbent, the completed start, is on the status line),
    Ctrl-C stops the run within seconds, in the LP relaxation that may prove the start or
    (certify_start=false) in HiGHS's branch and bound: one line says what was interrupted,
    exit 130, nothing written."""
    path = portfolio(tmp_path / "case", sites=4, months=24, resolution="hourly")
    out = tmp_path / "results"
    run = Run(["solve", str(path), "--out", str(out)], tmp_path,
              OPTIM_TUNING=f"decompose=never,certify_start={certify}")
    run.wait_for(r"(?<!re-)solve \.\.\. \d+ s  incumbent NPV [\d,]+ USD")
    seconds = run.stop(signal.SIGINT)
    assert run.proc.returncode == 130, run.text
    assert seconds < 5, seconds
    run.last_line("interrupted during the MIP solve", "incumbent NPV", "nothing written")
    assert not out.exists()
    assert not group(run.proc.pid)


@pytest.mark.parametrize(("signum", "whole_group", "code"),
                         [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143)])
def test_a_stop_during_the_hourly_resolve_ends_its_workers(tmp_path: Path, signum: int,
                                                           whole_group: bool, code: int) -> None:
    """The status line counts the sites re-solved, the plan's and its baseline's (4 each:
    the plan builds at every site; 120 months, so that the re-solve outlasts the stop: at
    60 months it had ended within 2 s, before the stop, once the re-solve got faster).
    Ctrl-C reaches the workers too, SIGTERM only the parent: either way the run stops
    within seconds and no worker survives."""
    path = portfolio(tmp_path / "case", sites=4, months=120, resolution="blocks:4")
    out = tmp_path / "results"
    run = Run(["solve", str(path), "--out", str(out)], tmp_path,
              OPTIM_TUNING="resolve_workers=3")
    run.wait_for(r"re-solve \+ baseline \.\.\. \d+ s  0 of 8 sites done")
    deadline = time.monotonic() + 10
    while len(psutil.Process(run.proc.pid).children()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = psutil.Process(run.proc.pid).children()
    assert len(workers) == 3
    seconds = run.stop(signum, whole_group)
    assert run.proc.returncode == code, run.text
    assert seconds < 5, seconds
    run.last_line("during the hourly re-solve of the plan and its baseline", "of 8 sites done",
                  "nothing written")
    assert not out.exists()
    assert not group(run.proc.pid)
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]


def case_workers(marker: str) -> list[psutil.Process]:
    """The live processes whose command line names `marker` (a sweep's task folder)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(marker in part for part in p.info["cmdline"] or []) and \
                    p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_a_stopped_sweep_leaves_no_case_running(tmp_path: Path, signum: int,
                                                code: int) -> None:
    """Ctrl-C: the sweep stops its cases (each in a session of its own, so the terminal's
    signal does not reach them) and exits 130. SIGKILL: the orphaned cases notice and stop
    themselves. The cases are hourly MIPs, far from done when the sweep is stopped (at
    blocks:4 they finished within the 3 s once the re-solve got faster)."""
    portfolio(tmp_path / "case", sites=4, months=24, resolution="hourly")
    (tmp_path / "sweep.toml").write_text(
        '[sweep]\nname = "stopme"\nbase = "case/scenario.toml"\n\n[[axis]]\n'
        'path = "scenario.discount_rate"\nvalues = [0.05, 0.1]\n')
    logs = tmp_path / "logs"
    run = Run(["sweep", "sweep.toml", "--out", "sweeps", "--workers", "2"], tmp_path,
              OPTIM_TUNING="resolve_workers=2", OPTIM_LOG_DIR=str(logs))
    marker = str(tmp_path / "sweeps" / "stopme" / ".tasks")
    try:
        stop_the_sweep(run, marker, signum, code, logs)
    finally:
        for worker in case_workers(marker):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(os.getpgid(worker.pid), signal.SIGKILL)


def stop_the_sweep(run: Run, marker: str, signum: int, code: int, logs: Path) -> None:
    deadline = time.monotonic() + 30
    while len(case_workers(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(case_workers(marker)) >= 2
    time.sleep(3.0)  # the cases are solving
    seconds = run.stop(signum, whole_group=signum != signal.SIGKILL)
    assert run.proc.returncode == code, run.text
    deadline = time.monotonic() + 5
    while case_workers(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not case_workers(marker)
    assert not list((Path(marker).parent / "cases").iterdir())
    assert not list(logs.glob("optim-sweep-case-*"))  # the stopped cases' logs are gone
    if signum == signal.SIGINT:
        assert seconds < 6, seconds
        run.last_line("interrupted during the sweep", "0 of 2 cases done")


# ------------------------------------------------------------------- closed pipes


def test_a_closed_pipe_leaves_no_traceback(tmp_path: Path) -> None:
    """`optim solve ... | head -1`: the results are written and nothing is said about the
    pipe. With stderr closed as well (`2>&1 | head -1`) the run stops: exit 141, nothing
    written, the log kept."""
    path = write_case(tmp_path / "case")
    read, write = os.pipe()
    os.close(read)
    with open(tmp_path / "stderr.txt", "w") as err:
        run = subprocess.run([sys.executable, str(REPO / "cli.py"), "solve", str(path), "--out",
                              str(tmp_path / "out")], stdout=write, stderr=err, timeout=120)
    text = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in text and "Exception" not in text and "Error" not in text, text
    assert (tmp_path / "out" / "summary.json").is_file()
    assert run.returncode in (0, 1)
    logs = tmp_path / "logs"
    run = subprocess.run([sys.executable, str(REPO / "cli.py"), "solve", str(path), "--out",
                          str(tmp_path / "out2")], stdout=write, stderr=write, timeout=120,
                         env={**os.environ, "OPTIM_LOG_DIR": str(logs)})
    os.close(write)
    assert run.returncode == 141
    assert not (tmp_path / "out2").exists()
    (log,) = logs.glob("optim-solve-*.log")
    assert "output closed" in log.read_text()


def test_a_solve_stuck_past_its_deadline_is_abandoned() -> None:
    """HiGHS does not look at its time limit or interrupt callbacks inside a large root
    LP. A solve that may be abandoned (the CLI's investment MIP, which exits 4 next) is
    left behind STOP_WAIT_S after its deadline instead of running on."""
    import threading
    import time as clock

    from optim import solver

    release = threading.Event()

    class Callback:
        def subscribe(self, _function: object) -> None:
            pass

    class StuckHighs:
        cbSimplexInterrupt = cbIpmInterrupt = cbMipInterrupt = cbMipImprovingSolution = \
            Callback()

        def run(self) -> None:
            release.wait(30)

    t0 = clock.perf_counter()
    with pytest.raises(solver.Abandoned):
        solver._run(StuckHighs(), 1.0, None, deadline=t0 + 0.2, abandon=True)
    assert clock.perf_counter() - t0 < 0.2 + solver.STOP_WAIT_S + 1.0
    release.set()
