"""``uw_unwrap_from_grid``: transfer the unwrapped node phase back to the PS (spec C.6.7, J.19)."""
from __future__ import annotations

import numpy as np

from .f32 import angle, cmul, expi


def node_of_ps(grid_ij: np.ndarray, nzix: np.ndarray) -> np.ndarray:
    """0-based node index of each PS's cell, -1 where the cell has no node. (n,) int64.

    ``grid_ij``: (n, 2) 1-based (row, column); nodes are numbered in column-major order.
    """
    n_i, n_j = nzix.shape
    gridix = np.full(n_i * n_j, -1, dtype=np.int64)
    cells = np.flatnonzero(nzix.ravel(order="F"))
    gridix[cells] = np.arange(cells.size)
    gi = np.asarray(grid_ij[:, 0], dtype=np.int64) - 1
    gj = np.asarray(grid_ij[:, 1], dtype=np.int64) - 1
    return gridix[gj * n_i + gi]


def uw_unwrap_from_grid(ph_in: np.ndarray, grid_ij: np.ndarray, nzix: np.ndarray,
                        node_uw: np.ndarray) -> np.ndarray:
    """ph_uw = Phi_node + angle(w * exp(-i Phi_node)) per PS and ifg, float32 (n, M_U).

    ``ph_in``: (n, M_U) complex64 wrapped PS phasors; ``node_uw``: (n_nodes, M_U) float32
    unwrapped node phase. PS in a cell without a node get NaN.
    """
    node = node_of_ps(grid_ij, nzix)
    have = node >= 0
    phi = np.full(ph_in.shape, np.nan, dtype=np.float32)
    phi[have] = np.asarray(node_uw, dtype=np.float32)[node[have]]
    out = (phi + angle(cmul(ph_in, expi(-phi)))).astype(np.float32)
    out[~have] = np.nan
    return out
