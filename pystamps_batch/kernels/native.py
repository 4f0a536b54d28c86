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


def grid_accumulate(values: np.ndarray, cell: np.ndarray, n_cells: int, *, threads: int = 0) -> np.ndarray:
    v = np.asarray(values, dtype=np.complex64)
    c = np.ascontiguousarray(np.asarray(cell, dtype=np.int64).ravel())
    return _native.grid_accumulate(v, c, int(n_cells), resolve_workers(threads))


def clap_filt_stack(grid: np.ndarray, alpha: float, beta: float, n_win: int, n_pad: int,
                    low_pass: np.ndarray, *, dtype=None, threads: int = 0) -> np.ndarray:
    g = np.asarray(grid)
    if g.ndim == 2:
        g = g[:, :, None]
    single = np.dtype(dtype or np.complex128) == np.complex64
    fn, cdt, rdt = ((_native.clap_filt_stack_f32, np.complex64, np.float32) if single
                    else (_native.clap_filt_stack_f64, np.complex128, np.float64))
    try:
        return fn(g.astype(cdt, copy=False), float(alpha), float(beta), int(n_win), int(n_pad),
                  np.asarray(low_pass, dtype=rdt), resolve_workers(threads))
    except ValueError as exc:       # same message and type as the python backend
        raise ValueError(str(exc)) from None


def clap_filt_patch(blocks: np.ndarray, alpha: float, beta: float, low_pass: np.ndarray, *,
                    threads: int = 0) -> np.ndarray:
    b = np.asarray(blocks)
    single = b.dtype in (np.complex64, np.float32)
    fn, cdt, rdt = ((_native.clap_filt_patch_f32, np.complex64, np.float32) if single
                    else (_native.clap_filt_patch_f64, np.complex128, np.float64))
    lead, p = b.shape[:-2], b.shape[-2:]
    flat = b.astype(cdt, copy=False).reshape((-1,) + p)
    out = fn(flat, float(alpha), float(beta), np.asarray(low_pass, dtype=rdt), resolve_workers(threads))
    return out.reshape(lead + p)
