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


def edge_stats(ph_unit: np.ndarray, edges: np.ndarray, day: np.ndarray, bperp: np.ndarray,
               time_win: float, *, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``stage4_edge_stats`` (see :mod:`pystamps_batch.kernels.weed_noise`): (edge_std, edge_max) f32."""
    z = np.asarray(ph_unit).astype(np.complex64, copy=False)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    d = np.asarray(day, dtype=np.float64).ravel()
    b = np.asarray(bperp, dtype=np.float64).ravel()
    if z.ndim != 2:
        z = z.reshape(-1, d.size)
    return _native.edge_stats(z, e, d, b, float(time_win), resolve_workers(threads))


def scla_fit(ph_uw: np.ndarray, bperp: np.ndarray, day: np.ndarray, master_pos: int | None,
             ifg_std: np.ndarray | None = None, method: str = "L2", master_day: float | None = None,
             *, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``stage7_scla`` (see :mod:`pystamps_batch.kernels.scla`): K (n,) f64, C (n,) f32."""
    ph = np.asarray(ph_uw, dtype=np.float32)
    B = np.asarray(bperp, dtype=np.float32)
    t = np.asarray(day, dtype=np.float64).ravel()
    m = method.upper()
    if m not in ("L1", "L2"):
        raise ValueError(f"scla_method {method!r} is not L1 or L2")
    std = None if ifg_std is None else np.asarray(ifg_std, dtype=np.float64).ravel()
    t0 = float(master_day) if master_day is not None else (float(t[0]) if t.size else 0.0)
    return _native.scla_fit(ph, B, t, None if master_pos is None else int(master_pos), std, m == "L1",
                            t0, resolve_workers(threads))


def edge_highpass(ph: np.ndarray, edges: np.ndarray, day: np.ndarray, time_win: float,
                  master_pos: int | None, *, threads: int = 0) -> np.ndarray:
    """``stage8_edge_noise`` (see :mod:`pystamps_batch.kernels.scn`): (E, N_U) f32."""
    p = np.asarray(ph, dtype=np.float32)
    e = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    d = np.asarray(day, dtype=np.float64).ravel()
    return _native.edge_highpass(p, e, d, float(time_win), None if master_pos is None else int(master_pos),
                                 resolve_workers(threads))


def random_phase_coh(bperp: np.ndarray, n_trial_wraps: float, n_rand: int, seed: int, *,
                     threads: int = 0) -> np.ndarray:
    """``stage2_random_phase_coh`` (see :mod:`pystamps_batch.kernels.random_phase`): (n_rand,) f64."""
    b = np.ascontiguousarray(np.asarray(bperp, dtype=np.float64).ravel())
    return _native.random_phase_coh(b, float(n_trial_wraps), int(n_rand), int(seed), resolve_workers(threads))


def patch_phase(ph_grid: np.ndarray, cells: np.ndarray, win: int, osf: int, alpha: float, beta: float,
                low_pass: np.ndarray, *, threads: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``stage3_patch_phase`` (see :mod:`pystamps_batch.kernels.patch_phase`): (P2 (n_c, M) c64, fits (n_c,) bool)."""
    g = np.asarray(ph_grid)
    if g.ndim == 2:
        g = g[:, :, None]
    c = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    lp = np.asarray(low_pass, dtype=np.float32)
    try:
        return _native.patch_phase(g.astype(np.complex64, copy=False), c, int(win), int(osf), float(alpha),
                                   float(beta), lp, resolve_workers(threads))
    except ValueError as exc:
        raise ValueError(str(exc)) from None
