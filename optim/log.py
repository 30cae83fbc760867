"""The log of one run, `optim.log`: what was run, on what, its phases, warnings, the outcome.

A `RunLog` attaches a `logging` file handler to the `optim` logger (so any
`logging.getLogger(__name__)` inside the package, and Python warnings, land in it) and
writes to a temporary file while the run has no folder yet. The results folder is written
atomically, so the log is handed to that write (`files()`: a snapshot, as bytes), and
`finish()` then atomically replaces the snapshot with the complete log (outcome, exit
code). A run that writes no folder (bad input, infeasible, ...) keeps its log in
`$OPTIM_LOG_DIR` (default: the temporary directory); `finish()` returns its path so the
command can show it.

    with RunLog("solve", scenario=path) as log:
        log.phase("read", 0.12)
        written = result.write(out, extra_files=log.files())
        log.finish(0, written)
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import TracebackType

LOG_NAME = "optim.log"
LOG_DIR_ENV = "OPTIM_LOG_DIR"  # where a run without a results folder keeps its log
LOGGER = "optim"
_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(message)s"
_DATE = "%Y-%m-%dT%H:%M:%S"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("optim")
    except Exception:  # noqa: BLE001 (not installed: run from a checkout)
        return "unknown"


class RunLog:
    """One command's log, from its start to its exit code. Use as a context manager (or
    call `close()`): the handler is removed from the `optim` logger either way."""

    def __init__(self, command: str, **context: object) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        folder = os.environ.get(LOG_DIR_ENV) or None
        if folder is not None:
            Path(folder).mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"optim-{command.replace(' ', '-')}-{stamp}-",
                                    suffix=".log", dir=folder)
        os.close(fd)
        self.path = Path(name)
        self.command = command
        self.exit_code: int | None = None
        self.t0 = time.perf_counter()
        self.handler = logging.FileHandler(self.path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter(_FORMAT, _DATE))
        self.logger = logging.getLogger(LOGGER)
        self._level = self.logger.level
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        self._warnings = logging.getLogger("py.warnings")
        self._warnings.addHandler(self.handler)
        logging.captureWarnings(True)
        self.info(f"optim {_version()} {command} (python {platform.python_version()}, "
                  f"pid {os.getpid()}, cwd {Path.cwd()})")
        self.info(f"argv: {' '.join(sys.argv)}")
        for key, value in context.items():
            self.info(f"{key}: {value}")
        tuning = os.environ.get("OPTIM_TUNING")
        if tuning:
            self.info(f"OPTIM_TUNING: {tuning}")

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc is not None and self.exit_code is None:
            self.logger.error("interrupted by %s", kind.__name__ if kind else "an error",
                              exc_info=(kind, exc, tb) if kind else None)
        self.close()

    def info(self, message: str) -> None:
        """A line of the log."""
        self.logger.info(message)

    def warning(self, message: str) -> None:
        """A warning the run also shows the user."""
        self.logger.warning(message)

    def phase(self, name: str, seconds: float) -> None:
        """A finished phase and its duration."""
        self.logger.info("phase %s: %.3f s", name, seconds)

    def error(self, exc: BaseException, exit_code: int, traceback: bool) -> None:
        """The failure that ends the run; with `traceback`, its full stack."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        self.logger.error("failed (exit %d): %s: %s", exit_code, type(exc).__name__, text,
                          exc_info=exc if traceback else None)

    def text(self) -> bytes:
        """The log so far."""
        self.handler.flush()
        return self.path.read_bytes()

    def files(self) -> dict[str, bytes]:
        """The log so far, as the extra file of an atomic results-folder write."""
        return {LOG_NAME: self.text()}

    def finish(self, exit_code: int, folder: Path | None = None, append: bool = False,
               keep: bool = True) -> Path | None:
        """Record the exit code and place the log: into `folder` (replacing the snapshot
        there atomically, or appended to an earlier run's log with `append`), else left in
        the temporary directory (`keep`) or deleted. Returns where the log is."""
        self.exit_code = exit_code
        self.logger.info("exit code %d after %.3f s", exit_code, time.perf_counter() - self.t0)
        self.close()
        if folder is None:
            if keep:
                return self.path
            self.path.unlink(missing_ok=True)
            return None
        target = Path(folder) / LOG_NAME
        if append and target.exists():
            with open(target, "ab") as fh:
                fh.write(b"\n" + self.path.read_bytes())
        else:
            tmp = target.parent / f".{LOG_NAME}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                shutil.copyfile(self.path, tmp)
                os.replace(tmp, target)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        self.path.unlink(missing_ok=True)
        return target

    def close(self) -> None:
        """Detach from the loggers (idempotent)."""
        if self.handler not in self.logger.handlers:
            return
        self.logger.removeHandler(self.handler)
        self._warnings.removeHandler(self.handler)
        self.logger.setLevel(self._level)
        logging.captureWarnings(False)
        self.handler.close()
