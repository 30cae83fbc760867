"""One sweep case in its own process: `python -m optim.sweep_worker TASK.json`.

Exit codes are those of `optim solve`; the case's results folder holds its `optim.log`.
SIGTERM (how the sweep stops its cases) or Ctrl-C stops the case cleanly: no folder, no
temporary log, exit 128 + the signal. `optim.sweep.WORKER_COMMAND` names this module:
another worker (the sweep tests' own, which injects faults) may wrap `main`.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optim.log import RunLog


class Stopped(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that the case stops the same way."""

    signum = signal.SIGTERM


def _raise_stopped(_signum: int, _frame: FrameType | None) -> None:
    raise Stopped()


def _exit_with_parent(parent: int) -> None:
    """Stop this case (SIGTERM to its process group when it leads one: its solver workers
    too) once the sweep that started it is gone, even killed by SIGKILL."""
    while os.getppid() == parent:
        time.sleep(0.5)
    if os.getpgid(0) == os.getpid():
        os.killpg(os.getpid(), signal.SIGTERM)
    else:
        os.kill(os.getpid(), signal.SIGTERM)


def main(task_file: str) -> int:
    """Solve the case of `task_file`, write its results folder, return the exit code."""
    signal.signal(signal.SIGTERM, _raise_stopped)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="parent-watch").start()
    log = None
    try:
        from optim.log import RunLog

        task = json.loads(Path(task_file).read_text())
        log = RunLog("sweep case", case=task["name"], case_id=task["case_id"],
                     overrides=task["overrides"], options=task["options"])
        return _run_case(task, log)
    except KeyboardInterrupt as exc:
        code = 128 + int(getattr(exc, "signum", signal.SIGINT))
        if log is not None and log.exit_code is None:
            log.finish(code, keep=False)
        print(f"case stopped by signal {code - 128}", file=sys.stderr)
        return code


def _run_case(task: dict, log: RunLog) -> int:
    from optim.engine import solve
    from optim.errors import OptimError, VerificationError
    from optim.scenario import parse_scenario

    with log:
        phase = {"name": None, "t0": time.perf_counter()}

        def progress(name: str | None) -> None:
            if phase["name"] is not None:
                log.phase(phase["name"], time.perf_counter() - phase["t0"])
            phase.update(name=name, t0=time.perf_counter())

        with open(task["series_file"], "rb") as fh:
            series = pickle.load(fh)
        try:
            sc = parse_scenario(task["raw"], Path(task["base_dir"]), f"case {task['name']}")
            result = solve(sc, series=series.scaled(**task["scales"]), progress=progress,
                           **task["options"])
        except VerificationError as exc:
            progress("write")
            log.error(exc, exc.exit_code, traceback=False)
            exc.result.summary.update(case_id=task["case_id"], overrides=task["overrides"])
            written = exc.result.write(Path(task["out"]), extra_files=log.files())
            progress(None)
            log.finish(exc.exit_code, written)
            print(str(exc).splitlines()[0], file=sys.stderr)
            return exc.exit_code
        except OptimError as exc:
            log.finish(exc.exit_code, keep=False)  # no folder: the sweep's log has the error
            print(" ".join(str(exc).split()), file=sys.stderr)
            return exc.exit_code
        progress("write")
        log.info(f"outcome: status {result.status}, NPV {result.npv_usd:,.0f} USD")
        result.summary.update(case_id=task["case_id"], overrides=task["overrides"])
        written = result.write(Path(task["out"]), extra_files=log.files())
        progress(None)
        log.finish(0, written)
    return 0


def exit_fast(code: int) -> None:
    """End the worker process with `code`: the case is written, so skip freeing its model
    object by object."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_fast(main(sys.argv[1]))
