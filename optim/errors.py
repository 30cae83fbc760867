"""Typed failures of a run, each carrying the CLI exit code of MODEL.md §6."""

from __future__ import annotations


class OptimError(Exception):
    """Base class: a failure a user must see, with its exit code."""

    exit_code = 1


class InputError(OptimError):
    """Bad input: every problem found in one source, reported together (exit 2)."""

    exit_code = 2

    def __init__(self, problems: list[str] | str, source: str = "input") -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        super().__init__(self.message)

    @property
    def message(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        shown = self.problems[:50]
        more = [f"... and {n - 50} more"] if n > 50 else []
        return "\n  ".join([head, *shown, *more])


class InfeasibleError(OptimError):
    """The scenario has no feasible plan; the message names sites and requirements (exit 3)."""

    exit_code = 3


class NoSolutionError(OptimError):
    """The solver stopped at its limit without any feasible plan (exit 4)."""

    exit_code = 4


class VerificationError(OptimError):
    """The returned plan failed the independent check (exit 5)."""

    exit_code = 5


class SolverError(OptimError):
    """HiGHS failed for a reason other than infeasibility or a limit (exit 1)."""

    exit_code = 1
