"""CLAP adaptive phase filter (Combined Low-pass and Adaptive Phase), spec C.2.4 / K.2 and C.3.

The filter works on complex grids of cell sums (grid cells of ``filter_grid_size`` m).
For every window the 2-D spectrum Phi is multiplied by

    G = beta * max((S(|Phi|) / median(S(|Phi|)))**alpha - 1, 0) + LP

where S is a 7x7 Gaussian smoothing (``gausswin(7) gausswin(7)^T``, 'same' correlation
with zero padding, applied to the fft-shifted magnitude) and LP the Butterworth
low-pass of :func:`low_pass_filter` (DC at ``[0, 0]``).

* Step 2 (:func:`clap_filt`, :func:`clap_filt_stack`): overlapping ``n_win`` x ``n_win``
  windows (step ``n_win // 4``), zero-padded to ``n_win + n_pad``, pyramid taper, overlap-add.
* Step 3 (:func:`clap_filt_patch`): one ``clap_win`` x ``clap_win`` block per pixel, no
  padding, no taper.

All functions are vectorised over windows and interferograms (batched FFTs); the only
Python loop is the overlap-add over windows.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft

from ..matlab import gausswin

#: Max number of 32x32 complex windows transformed in one batch (bounds temporaries, ~100 MB).
_BATCH_WINDOWS = 4096


def low_pass_filter(grid_size: float, n_win: int = 32, wavelength: float = 800.0) -> np.ndarray:
    """Butterworth (order 5) low-pass of spec C.2.1, shape ``(n_win, n_win)`` float64, DC at ``[0, 0]``.

    ``grid_size``: cell size (m); ``n_win``: ``clap_win`` (cells); ``wavelength``:
    ``clap_low_pass_wavelength`` (m). Frequencies ``f_j = j / (grid_size * n_win)`` cycles/m for
    ``j = -n_win/2 .. n_win/2 - 1``; ``b_j = 1 / (1 + (f_j * wavelength)**10)``; ``LP = b b^T``,
    fft-shifted.
    """
    n_win = int(n_win)
    j = np.arange(-(n_win // 2), n_win - n_win // 2, dtype=np.float64)
    f = j / float(grid_size) / n_win
    b = 1.0 / (1.0 + (f * float(wavelength)) ** 10)
    return np.fft.ifftshift(np.outer(b, b))


def clap_taper(n_win: int) -> np.ndarray:
    """Pyramid taper ``T(a, b) = t_a + t_b + 1e-6`` with ``t = [0..n_win/2-1, n_win/2-1..0]``, (n_win, n_win) float64."""
    x = np.arange(n_win // 2, dtype=np.float64)
    t = np.concatenate([x, x[::-1]])
    return t[:, None] + t[None, :] + 1e-6


_SMOOTH_CACHE: dict[int, np.ndarray] = {}


def _smoothing_matrix(n: int) -> np.ndarray:
    """(n, n) matrix A with ``A @ h == ifftshift(correlate_same_zero(fftshift(h), gausswin(7)))`` along axis 0.

    The 7-tap 'same' correlation with zero boundary on the fft-shifted axis, written as a
    matrix so that the 2-D smoothing of many windows is two batched matrix products.
    """
    a = _SMOOTH_CACHE.get(n)
    if a is None:
        g = gausswin(7)
        c = np.zeros((n, n))
        for k in range(-3, 4):                       # banded correlation, zero outside [0, n)
            c += np.eye(n, k=k) * g[k + 3]
        perm = np.fft.fftshift(np.arange(n))         # shifted[i] = h[perm[i]]
        a = np.empty_like(c)
        a[np.ix_(perm, perm)] = c                    # unshift rows, shift columns
        _SMOOTH_CACHE[n] = a
    return a


def _smooth_shifted(h: np.ndarray) -> np.ndarray:
    """``ifftshift(filter2(B, fftshift(h)))`` over the last two axes, B = gausswin(7) gausswin(7)^T.

    2-D 'same' correlation with zero boundary on the fft-shifted array (spec C.2.4), done
    separably (B is an outer product) as ``A h A^T``.
    """
    a = _smoothing_matrix(h.shape[-1]).astype(h.dtype, copy=False)
    b = _smoothing_matrix(h.shape[-2]).astype(h.dtype, copy=False)
    return np.matmul(b, h @ a.T)


def _response(spec: np.ndarray, alpha: float, beta: float, low_pass: np.ndarray) -> np.ndarray:
    """The CLAP spectral gain G for spectra ``spec`` (..., P, P); real, dtype of ``spec``'s real part."""
    rdt = spec.real.dtype
    h = _smooth_shifted(np.abs(spec)).astype(rdt, copy=False)
    lead = h.shape[:-2]
    med = np.median(h.reshape(lead + (-1,)), axis=-1).astype(rdt)[..., None, None]
    safe = np.where(med != 0, med, rdt.type(1))
    h = h / safe
    h = np.power(h, rdt.type(alpha)) - rdt.type(1)
    np.maximum(h, 0, out=h)
    return h * rdt.type(beta) + np.asarray(low_pass).astype(rdt)


def clap_filt_patch(blocks: np.ndarray, alpha: float, beta: float, low_pass: np.ndarray) -> np.ndarray:
    """Step-3 CLAP (spec C.3 step 6): filter square blocks ``(..., P, P)`` complex, P = ``clap_win``.

    No padding and no taper: ``ifft2(fft2(blk) * G)`` with G from :func:`_response`. Batched over
    the leading axes; returns the same shape, complex64 for complex64 input (else complex128).
    """
    blocks = np.asarray(blocks)
    cdt = np.complex64 if blocks.dtype in (np.complex64, np.float32) else np.complex128
    blocks = np.nan_to_num(blocks.astype(cdt, copy=False))
    if blocks.shape[-2:] != np.shape(low_pass):
        raise ValueError(f"block shape {blocks.shape[-2:]} does not match low_pass {np.shape(low_pass)}")
    lead = blocks.shape[:-2]
    flat = blocks.reshape((-1,) + blocks.shape[-2:])
    out = np.empty_like(flat)
    for s in range(0, flat.shape[0], _BATCH_WINDOWS):
        spec = sfft.fft2(flat[s:s + _BATCH_WINDOWS], axes=(-2, -1))
        out[s:s + _BATCH_WINDOWS] = sfft.ifft2(spec * _response(spec, alpha, beta, low_pass), axes=(-2, -1))
    return out.reshape(lead + blocks.shape[-2:])


def _window_starts(n: int, n_win: int, n_inc: int) -> tuple[np.ndarray, np.ndarray]:
    """0-based window starts along one axis and the shift applied to the last window(s).

    ``ceil(n / n_inc) - 3`` windows at ``k * n_inc``; a window running past ``n`` is moved to end
    at ``n`` (its taper is shifted by the same amount). Raises ValueError when a moved window
    would start before 0 (StaMPS errors there, ``n_win - 5 <= n < n_win``).
    """
    n_w = max(int(math.ceil(n / n_inc)) - 3, 0)
    starts = np.arange(n_w, dtype=np.int64) * n_inc
    shift = np.maximum(starts + n_win - n, 0)
    starts = starts - shift
    if n_w and starts.min() < 0:
        raise ValueError(f"CLAP grid dimension {n} is smaller than the window ({n_win} cells)")
    return starts, shift


def _shifted_taper(taper: np.ndarray, si: int, sj: int) -> np.ndarray:
    """Taper moved down by ``si`` rows and right by ``sj`` columns, zero-filled."""
    n = taper.shape[0]
    out = np.zeros_like(taper)
    out[si:, sj:] = taper[:n - si, :n - sj]
    return out


def clap_filt_stack(grid: np.ndarray, alpha: float, beta: float, n_win: int, n_pad: int,
                    low_pass: np.ndarray, *, dtype=None) -> np.ndarray:
    """Step-2 CLAP on every interferogram of a grid stack (spec C.2.4 / K.2).

    ``grid``: (n_i, n_j, M) complex cell sums (NaN treated as 0). ``n_win`` (24) data cells per
    window, ``n_pad`` (8) zero padding, ``low_pass`` (n_win+n_pad)^2 with DC at [0, 0].
    Returns (n_i, n_j, M) complex. ``dtype``: computation/output complex dtype (default:
    complex128, as StaMPS' window buffer is double). A grid dimension <= n_win - 6 yields all
    zeros; ``n_win - 5 .. n_win - 1`` raises ValueError (StaMPS errors there).
    """
    grid = np.asarray(grid)
    if grid.ndim == 2:
        grid = grid[:, :, None]
    cdt = np.dtype(dtype or np.complex128)
    rdt = np.float32 if cdt == np.complex64 else np.float64
    n_i, n_j, m = grid.shape
    n_win, n_pad = int(n_win), int(n_pad)
    n_fft = n_win + n_pad
    if np.shape(low_pass) != (n_fft, n_fft):
        raise ValueError(f"low_pass shape {np.shape(low_pass)} != ({n_fft}, {n_fft})")
    n_inc = n_win // 4
    si0, shi = _window_starts(n_i, n_win, n_inc)
    sj0, shj = _window_starts(n_j, n_win, n_inc)
    out = np.zeros((m, n_i, n_j), dtype=cdt)
    if si0.size == 0 or sj0.size == 0 or m == 0:
        return np.moveaxis(out, 0, -1)
    g = np.nan_to_num(np.moveaxis(grid, -1, 0).astype(cdt, copy=False))   # (M, n_i, n_j)
    taper = clap_taper(n_win).astype(rdt)
    ar = np.arange(n_win)
    rows = (si0[:, None] + ar)[:, None, :, None]                      # (n_wi, 1, n_win, 1)
    cols = (sj0[:, None] + ar)[None, :, None, :]                      # (1, n_wj, 1, n_win)
    n_wi, n_wj = si0.size, sj0.size
    tapers = {}
    per_ifg = n_wi * n_wj
    chunk = max(1, _BATCH_WINDOWS // per_ifg)
    for c0 in range(0, m, chunk):
        blk = g[c0:c0 + chunk][:, rows, cols]                          # (m_c, n_wi, n_wj, n_win, n_win)
        spec = sfft.fft2(blk, s=(n_fft, n_fft), axes=(-2, -1))
        filt = sfft.ifft2(spec * _response(spec, alpha, beta, low_pass), axes=(-2, -1))[..., :n_win, :n_win]
        dst = out[c0:c0 + chunk]
        for I in range(n_wi):
            i1 = si0[I]
            for J in range(n_wj):
                key = (int(shi[I]), int(shj[J]))
                tp = tapers.get(key)
                if tp is None:
                    tp = tapers[key] = _shifted_taper(taper, *key)
                j1 = sj0[J]
                dst[:, i1:i1 + n_win, j1:j1 + n_win] += filt[:, I, J] * tp
    return np.moveaxis(out, 0, -1)


def clap_filt(grid: np.ndarray, alpha: float, beta: float, n_win: int, n_pad: int,
              low_pass: np.ndarray, *, dtype=None) -> np.ndarray:
    """Step-2 CLAP on one (n_i, n_j) complex grid; see :func:`clap_filt_stack`. Returns (n_i, n_j)."""
    return clap_filt_stack(np.asarray(grid)[:, :, None], alpha, beta, n_win, n_pad, low_pass,
                           dtype=dtype)[:, :, 0]
