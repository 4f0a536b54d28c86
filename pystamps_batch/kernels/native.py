"""Native (Rust) backends: adapters from the kernel contracts to ``pystamps_batch._native``.

They only coerce dtypes and memory layout to what the compiled functions take
(the conversion itself is zero-copy when the input already matches) and pass
``threads`` (0 = the process's CPU budget).
"""
from __future__ import annotations

import numpy as np

from .. import _native
from ..matlab import COH_BINS
from ..resources import resolve_workers


def histogram(values: np.ndarray, centres: np.ndarray = COH_BINS, *, threads: int = 0) -> np.ndarray:
    v = np.ascontiguousarray(np.asarray(values, dtype=np.float64).ravel())
    c = np.ascontiguousarray(np.asarray(centres, dtype=np.float64).ravel())
    return _native.hist_centres(v, c, resolve_workers(threads))


def topofit(ph: np.ndarray, bperp: np.ndarray, n_trial_wraps: float, *, threads: int = 0):
    z = np.asarray(ph, dtype=np.complex64)
    b = np.asarray(bperp, dtype=np.float32)
    return _native.topofit_f32(z, b, float(n_trial_wraps), resolve_workers(threads))


def topofit_row_invariant(ph: np.ndarray, bperp: np.ndarray, n_trial_wraps: float, *, threads: int = 0):
    z = np.asarray(ph, dtype=np.complex64)
    b = np.ascontiguousarray(np.asarray(bperp, dtype=np.float32).ravel())
    return _native.topofit_row_f32(z, b, float(n_trial_wraps), resolve_workers(threads))


def topofit_coh_row_invariant(ph: np.ndarray, bperp: np.ndarray, n_trial_wraps: float, *,
                              threads: int = 0) -> np.ndarray:
    z = np.asarray(ph, dtype=np.complex128)
    b = np.ascontiguousarray(np.asarray(bperp, dtype=np.float64).ravel())
    return _native.topofit_coh_f64(z, b, float(n_trial_wraps), resolve_workers(threads))
