"""``stage3_patch_phase``: the step-3 patch-phase re-estimation of ps_select (python backend).

Signature::

    patch_phase(ph_grid, cells, win, osf, alpha, beta, low_pass) -> (P2, fits)

``ph_grid`` (n_i, n_j, M) complex64 step-2 cell sums (pm1.ph_grid), ``cells`` (n_c, 2)
unique 1-based grid cells, ``win`` = ``clap_win``, ``osf`` = ``slc_osf`` (rounded),
``alpha``/``beta`` the CLAP parameters, ``low_pass`` (win, win) the Butterworth
low-pass (DC at [0, 0]).  Per cell: the ``win`` x ``win`` window around it with the cell
zeroed in every ifg (and its +-(osf-1) neighbourhood in the first ifg only, as StaMPS),
CLAP-filtered in single precision (:func:`pystamps_batch.filters.clap.clap_filt_patch`);
P2 is the filtered value at the cell.  Returns ``P2`` (n_c, M) complex64 and ``fits``
(n_c,) bool, False where the window does not fit the grid (those rows of P2 are 0).

The numpy implementation is :func:`pystamps_batch.stages.select.reestimated_patch_phase`;
the native backend filters each window once and evaluates only the one inverse-DFT value
that is kept.
"""
from __future__ import annotations

import numpy as np


def patch_phase(ph_grid: np.ndarray, cells: np.ndarray, win: int, osf: int, alpha: float, beta: float,
                low_pass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P2 (n_c, M) complex64, fits (n_c,) bool); see the module docstring."""
    from ..filters.clap import clap_filt_patch
    from ..stages.select import reestimated_patch_phase

    g = np.asarray(ph_grid)
    if g.ndim == 2:
        g = g[:, :, None]
    return reestimated_patch_phase(g, cells, int(win), int(osf), float(alpha), float(beta),
                                   np.asarray(low_pass), clap_filt_patch)
