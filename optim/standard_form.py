"""The model's rows as arrays, recorded while the Core builds its Pyomo constraints, so that
the hand-off to HiGHS needs no walk over Pyomo expressions (the `direct_handoff` lever).

Every constraint the Core creates is recorded here as (row, column, coefficient) entries
with row bounds; the Pyomo model stays the model of record, and a test checks that this
form and Pyomo's own standard form (`optim.solver.compile_model`) give the same LP.
Fixed columns (a re-solve's decisions) are moved into the row bounds and the objective's
constant, and columns no row or cost uses are left out, as Pyomo's compiler does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

INF = np.inf


@dataclass
class RowStore:
    """Rows in the order they are created: entries and bounds, appended in blocks."""

    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    coefs: list[np.ndarray] = field(default_factory=list)
    lower: list[np.ndarray] = field(default_factory=list)
    upper: list[np.ndarray] = field(default_factory=list)
    n_rows: int = 0

    def add(self, row: np.ndarray, col: np.ndarray, coef: np.ndarray, n: int, sense: str,
            rhs: np.ndarray | float) -> None:
        """`n` new rows; entry i is coef[i] * x[col[i]] in new row row[i] (0..n-1)."""
        rhs = np.broadcast_to(np.asarray(rhs, float), (n,))
        keep = (col >= 0) & (coef != 0)
        self.rows.append(np.asarray(row, np.int64)[keep] + self.n_rows)
        self.cols.append(np.asarray(col, np.int64)[keep])
        self.coefs.append(np.asarray(coef, float)[keep])
        self.lower.append(rhs if sense in ("==", ">=") else np.full(n, -INF))
        self.upper.append(rhs if sense in ("==", "<=") else np.full(n, INF))
        self.n_rows += n


class Block(NamedTuple):
    """A group of independent components of an LP: its columns' and rows' positions and
    the matrix entries of its largest component."""

    cols: np.ndarray
    rows: np.ndarray
    largest_entries: int


@dataclass
class StandardForm:
    """lower <= A x <= upper, col_lower <= x <= col_upper, maximise cost x + offset."""

    columns: np.ndarray  # the Core's column numbers kept, in order
    a: sp.csc_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    integer: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    cost: np.ndarray
    offset: float

    def part(self, cols: np.ndarray, rows: np.ndarray) -> StandardForm:
        """The LP over some of its columns and rows (offset 0): one independent block.
        Columns are gathered and rows renumbered in the column-wise matrix (scipy's row
        indexing of it costs several times as much)."""
        a = self.a.tocsc()[:, cols]
        position = np.full(a.shape[0], -1, np.int64)
        position[rows] = np.arange(len(rows))
        index = position[a.indices]
        keep = index >= 0
        kept = np.concatenate([[0], np.cumsum(keep)])
        a = sp.csc_matrix((a.data[keep], index[keep], kept[a.indptr]),
                          shape=(len(rows), len(cols)))
        a.sort_indices()
        return StandardForm(self.columns[cols], a,
                            self.col_lower[cols], self.col_upper[cols], self.integer[cols],
                            self.row_lower[rows], self.row_upper[rows], self.cost[cols], 0.0)

    def parts(self, blocks: list[Block]) -> Iterator[StandardForm]:
        """`part` of every block, in order, from one permutation of the LP that puts each
        block's columns and rows together: each is then a slice of the permuted matrix
        (no row of a block holds another block's columns), not a fancy index of the whole
        (which cost 0.8 ms per block at 35 x 60)."""
        if not blocks:
            return
        whole = self.part(np.concatenate([b.cols for b in blocks]),
                          np.concatenate([b.rows for b in blocks]))
        a = whole.a
        c0 = r0 = 0
        for block in blocks:
            c1, r1 = c0 + len(block.cols), r0 + len(block.rows)
            lo, hi = a.indptr[c0], a.indptr[c1]
            yield StandardForm(
                whole.columns[c0:c1],
                sp.csc_matrix((a.data[lo:hi], a.indices[lo:hi] - r0, a.indptr[c0:c1 + 1] - lo),
                              shape=(r1 - r0, c1 - c0)),
                whole.col_lower[c0:c1], whole.col_upper[c0:c1], whole.integer[c0:c1],
                whole.row_lower[r0:r1], whole.row_upper[r0:r1], whole.cost[c0:c1], 0.0)
            c0, r0 = c1, r1

    def blocks(self, min_entries: int) -> list[Block]:
        """The LP's independent blocks: the connected components of its rows and columns
        (no row holds columns of two of them, and the objective is a sum over columns, so
        the LP is solved exactly block by block; in a re-solve with the decisions fixed they
        are the windows of hours that nothing couples: an hour, a month with a monthly
        commitment, a hosting contract block). Consecutive components (ordered by their
        first column) are grouped until a group holds `min_entries` matrix entries, so that
        tiny blocks do not each cost a solve."""
        a = self.a.tocsc()
        n_rows, n_cols = a.shape
        graph = sp.csr_matrix(  # column c -> row r for every entry (undirected below)
            (np.ones(a.nnz, np.int8), a.indices + n_cols,
             np.concatenate([a.indptr, np.full(n_rows, a.indptr[-1])])),
            shape=(n_cols + n_rows, n_cols + n_rows))
        n, label = connected_components(graph, directed=False)
        col_label, row_label = label[:n_cols], label[n_cols:]
        first = np.full(n, n_cols, np.int64)
        np.minimum.at(first, col_label, np.arange(n_cols))
        order = np.argsort(first, kind="stable")
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        entries = np.bincount(col_label, weights=np.diff(a.indptr), minlength=n)[order]
        filled = np.cumsum(entries) // max(min_entries, 1)
        group_of_rank = np.zeros(n, np.int64)
        group_of_rank[1:] = np.cumsum(filled[:-1] != filled[1:])
        col_group, row_group = group_of_rank[rank[col_label]], group_of_rank[rank[row_label]]
        cols_by = np.argsort(col_group, kind="stable")
        rows_by = np.argsort(row_group, kind="stable")
        n_groups = int(group_of_rank[-1]) + 1 if n else 0
        col_split = np.searchsorted(col_group[cols_by], np.arange(1, n_groups))
        row_split = np.searchsorted(row_group[rows_by], np.arange(1, n_groups))
        largest = np.zeros(n_groups, np.int64)
        np.maximum.at(largest, group_of_rank, entries.astype(np.int64))
        return [Block(c, r, int(e)) for c, r, e in zip(
            np.split(cols_by, col_split), np.split(rows_by, row_split), largest, strict=True)]


def standard_form(store: RowStore, n_cols: int, col_lower: np.ndarray, col_upper: np.ndarray,
                  integer: np.ndarray, fixed: dict[int, float], cost: np.ndarray,
                  offset: float) -> StandardForm:
    """The recorded rows over `n_cols` columns, fixed columns substituted, unused columns
    and rows left without entries (holding at the fixed values) dropped."""
    a = sp.csr_matrix((_cat(store.coefs, float), (_cat(store.rows, np.int64),
                                                  _cat(store.cols, np.int64))),
                      shape=(store.n_rows, n_cols))
    a.sum_duplicates()
    lower, upper = _cat(store.lower, float), _cat(store.upper, float)
    value = np.zeros(n_cols)
    is_fixed = np.zeros(n_cols, bool)
    if fixed:
        where = np.fromiter(fixed, np.int64, len(fixed))
        value[where] = np.fromiter(fixed.values(), float, len(fixed))
        is_fixed[where] = True
        shift = a @ value
        lower, upper = lower - shift, upper - shift
        offset += float(cost @ value)
    a = a.tocsc()
    used = (np.diff(a.indptr) > 0) | (cost != 0)
    keep = np.flatnonzero(used & ~is_fixed)
    a = a[:, keep].tocsr()
    entries = np.diff(a.indptr) > 0
    holds = (lower <= 1e-9) & (upper >= -1e-9)
    rows = np.flatnonzero(entries | ~holds)
    return StandardForm(keep, a[rows].tocsc(), col_lower[keep], col_upper[keep], integer[keep],
                        lower[rows], upper[rows], cost[keep], offset)


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
