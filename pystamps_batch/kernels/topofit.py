"""ps_topofit: look-angle (DEM) error by periodogram search plus linear refinement.

Python backend of the ``stage2_topofit*`` kernels (spec C.2.3, appendix K.1).

For each pixel with complex interferometric values z_k (unit phasors or 0) and
perpendicular baselines b_k (m):

1. drop entries with z_k == 0; R = max(b) - min(b) over the rest;
2. trial K_t = t*pi/(4R) for integers t in [-ceil(8 ntw), ceil(8 ntw)];
   gamma_t = |sum_k z_k exp(-i K_t b_k)| / sum_k |z_k|; t* = first argmax;
3. refine: q = z exp(-i K_t* b), e = angle(q conj(sum q)), weights w = |z|,
   dK = sum(w b w e) / sum((w b)^2) (least squares through the origin);
4. K = K_t* + dK; residual r = z exp(-i K b); C = angle(sum r);
   gamma = |sum r| / sum |r|.

Degenerate rows (StaMPS divides by zero there; it never calls topofit on them in
the default flow): no non-zero entry -> K = C = NaN, gamma = 0; a zero baseline
range (one entry, or equal baselines) -> no look-angle information, K = 0.

Precision follows StaMPS (J.27): with float32 inputs the trial search, gamma, C
and the residuals are float32, dK is solved in float64 and K is rounded to
float32.  The coherence-only variant runs in float64 (the random-phase reference).
"""
from __future__ import annotations

import math

import numpy as np

_CHUNK = 4096  # pixels per vectorised block (bounds the n x M x T temporaries)


def n_trials_half(n_trial_wraps: float) -> int:
    """ceil(8 * n_trial_wraps): the half-width of the trial grid."""
    return int(math.ceil(8.0 * float(n_trial_wraps)))


def _fit_block(z: np.ndarray, b: np.ndarray, ntw: float, real_t, cplx_t, want_res: bool):
    """Vectorised topofit for rows without zeros. z (n, M), b (n, M) or (M,)."""
    h = n_trials_half(ntw)
    t = np.arange(-h, h + 1, dtype=np.float64).astype(real_t)
    if b.ndim == 1:
        rng = real_t(b.max() - b.min())
        with np.errstate(divide="ignore"):
            kstep = real_t(real_t(np.pi / 4) / rng) if real_t is np.float32 else np.pi / 4 / rng
        if not np.isfinite(kstep):
            kstep = real_t(0)
        kt = (kstep * t).astype(real_t)                       # (T,)
        basis = np.exp(-1j * np.multiply.outer(b, kt).astype(real_t)).astype(cplx_t)  # (M, T)
        S = z @ basis                                           # (n, T)
        bb = np.broadcast_to(b, z.shape)
        rngs = np.full(z.shape[0], rng, dtype=real_t)
    else:
        rngs = (b.max(axis=1) - b.min(axis=1)).astype(real_t)  # (n,)
        with np.errstate(divide="ignore"):
            kstep = (real_t(np.pi / 4) / rngs).astype(real_t) if real_t is np.float32 else np.pi / 4 / rngs
        kstep = np.where(np.isfinite(kstep), kstep, real_t(0)).astype(real_t)
        kt = (kstep[:, None] * t[None, :]).astype(real_t)     # (n, T)
        ph = (b[:, :, None] * kt[:, None, :]).astype(real_t)   # (n, M, T)
        S = np.einsum("nm,nmt->nt", z, np.exp(-1j * ph).astype(cplx_t))
        bb = b
    absz = np.abs(z).astype(real_t)
    sabs = absz.sum(axis=1)
    coh_t = (np.abs(S).astype(real_t) / sabs[:, None]).astype(real_t)
    imax = np.argmax(coh_t, axis=1)                             # first maximum
    if b.ndim == 1:
        k0 = kt[imax]
    else:
        k0 = kt[np.arange(z.shape[0]), imax]
    q = (z * np.exp(-1j * (k0[:, None] * bb).astype(real_t)).astype(cplx_t)).astype(cplx_t)
    qs = q.sum(axis=1)
    e = np.angle(q * np.conj(qs)[:, None]).astype(real_t)
    wb = (absz * bb).astype(np.float64)
    we = (absz * e).astype(np.float64)
    den = (wb * wb).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dk = np.where(den > 0, (wb * we).sum(axis=1) / den, 0.0)
    K = (k0.astype(np.float64) + dk).astype(real_t)
    r = (z * np.exp(-1j * (K[:, None] * bb).astype(real_t)).astype(cplx_t)).astype(cplx_t)
    rs = r.sum(axis=1)
    C = np.angle(rs).astype(real_t)
    coh = (np.abs(rs).astype(real_t) / np.abs(r).astype(real_t).sum(axis=1)).astype(real_t)
    res = np.angle(r).astype(np.float32) if want_res else None
    return K.astype(np.float64), C.astype(np.float64), coh.astype(np.float64), res


def _fit(z, b, ntw, real_t, cplx_t, want_res):
    z = np.asarray(z)
    n, m = z.shape
    K = np.zeros(n)
    C = np.zeros(n)
    coh = np.zeros(n)
    res = np.zeros((n, m), dtype=np.float32) if want_res else None
    if n == 0 or m == 0:
        return K, C, coh, res
    z = z.astype(cplx_t, copy=False)
    b = np.asarray(b).astype(real_t, copy=False)
    nz = z != 0
    full = nz.all(axis=1)
    for s in range(0, n, _CHUNK):
        sl = slice(s, min(n, s + _CHUNK))
        rows = np.flatnonzero(full[sl]) + s
        if rows.size:
            bb = b if b.ndim == 1 else b[rows]
            k, c, g, r = _fit_block(z[rows], bb, ntw, real_t, cplx_t, want_res)
            K[rows], C[rows], coh[rows] = k, c, g
            if want_res:
                res[rows] = r
    for p in np.flatnonzero(~full):           # rows with zeros: drop those entries
        keep = nz[p]
        if keep.sum() == 0:
            K[p] = C[p] = np.nan
            coh[p] = 0.0
            continue
        bp = b[keep] if b.ndim == 1 else b[p, keep]
        k, c, g, r = _fit_block(z[p, keep][None, :], bp if b.ndim == 1 else bp[None, :],
                                ntw, real_t, cplx_t, want_res)
        K[p], C[p], coh[p] = k[0], c[0], g[0]
        if want_res:
            res[p, keep] = r[0]
    return K, C, coh, res


def topofit(ph: np.ndarray, bperp: np.ndarray, n_trial_wraps: float):
    """Per-pixel baselines. ph (n, M) complex, bperp (n, M) -> K, C, coh (n,) f64; ph_res (n, M) f32."""
    return _fit(ph, bperp, n_trial_wraps, np.float32, np.complex64, True)


def topofit_row_invariant(ph: np.ndarray, bperp: np.ndarray, n_trial_wraps: float):
    """One baseline row bperp (M,) shared by all pixels; same outputs as :func:`topofit`."""
    return _fit(ph, np.asarray(bperp).ravel(), n_trial_wraps, np.float32, np.complex64, True)


def topofit_coh_row_invariant(ph: np.ndarray, bperp: np.ndarray, n_trial_wraps: float) -> np.ndarray:
    """Coherence only, float64 throughout (random-phase reference, spec C.2.1). Returns (n,)."""
    return _fit(ph, np.asarray(bperp, dtype=np.float64).ravel(), n_trial_wraps,
                np.float64, np.complex128, False)[2]
