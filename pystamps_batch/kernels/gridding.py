"""``stage2_grid_accumulate``: sum pixel rows into grid cells (python backend)."""
from __future__ import annotations

import numpy as np


def grid_accumulate(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """Sum rows of ``values`` (n, M) complex into ``n_cells`` cells.

    ``cell`` (n,) holds 0-based linear cell indices. A NaN anywhere in a row makes
    its cell NaN in that column (as MATLAB's summation does). Returns
    (n_cells, M) complex64.
    """
    values = np.asarray(values)
    cell = np.asarray(cell, dtype=np.int64).ravel()
    n, m = values.shape
    out = np.zeros((n_cells, m), dtype=np.complex64)
    if n == 0:
        return out
    v = values.astype(np.complex64, copy=False)
    for k in range(m):  # bincount per column: real and imaginary parts
        re = np.bincount(cell, weights=v[:, k].real, minlength=n_cells)
        im = np.bincount(cell, weights=v[:, k].imag, minlength=n_cells)
        out[:, k] = (re + 1j * im).astype(np.complex64)
    return out
