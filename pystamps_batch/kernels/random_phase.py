"""``stage2_random_phase_coh``: topofit coherence of simulated random-phase pixels (python backend).

Signature::

    random_phase_coh(bperp, n_trial_wraps, n_rand, seed) -> coh (n_rand,) float64

``bperp`` (M,) mean perpendicular baselines (m, master removed), ``n_rand`` simulated
pixels, ``seed`` the ``rand('state', seed)`` seed (StaMPS: 2005).  The phases are
``exp(2 pi i U)`` with ``U`` the Octave/NumPy legacy Mersenne-Twister draws filled
column-major (:func:`pystamps_batch.stages.gamma_weights.random_draws`); each row is
fitted by the double-precision coherence-only topofit
(:func:`pystamps_batch.kernels.topofit.topofit_coh_row_invariant`).  This is the
random-phase reference of spec C.2.1; the native backend generates the same draws
and fits them in one pass without materialising the phasors.
"""
from __future__ import annotations

import numpy as np

from .topofit import topofit_coh_row_invariant

#: Simulations per block (bounds the temporaries of the vectorised fit).
_CHUNK = 50000


def random_phase_coh(bperp: np.ndarray, n_trial_wraps: float, n_rand: int, seed: int) -> np.ndarray:
    """Coherence (n_rand,) float64 of the simulated random-phase pixels; see the module docstring."""
    from ..stages.gamma_weights import random_draws

    bperp = np.asarray(bperp, dtype=np.float64).ravel()
    draws = random_draws(int(n_rand), bperp.size, int(seed))
    coh = np.empty(draws.shape[0])
    for s in range(0, draws.shape[0], _CHUNK):
        z = np.exp(1j * (2.0 * np.pi) * draws[s:s + _CHUNK])
        coh[s:s + _CHUNK] = topofit_coh_row_invariant(z, bperp, n_trial_wraps)
    return coh
