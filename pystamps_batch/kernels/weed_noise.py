"""``stage4_edge_stats``: arc (edge) noise of ps_weed (spec C.4 step 4, appendix K.6), python backend.

Signature::

    edge_stats(ph_unit, edges, day, bperp, time_win) -> (edge_std, edge_max)

``ph_unit``  (n, U) complex64: the pixel phasors over the U used acquisitions (master
             included), with the look-angle term removed using the *mean* baselines,
             normalised to unit magnitude, and the master column set to exp(i C).
``edges``    (E, 2) int64, 0-based pixel indices (a, b); the arc phase is
             ``ph_unit[b] * conj(ph_unit[a])`` (the statistics do not depend on the
             orientation of an arc).
``day``      (U,) float64 acquisition dates (days; only differences matter).
``bperp``    (U,) float64 mean perpendicular baselines (m), 0 at the master.
``time_win`` float, sigma of the Gaussian time window (days), ``weed_time_win``.

Returns ``edge_std`` (E,) float32 (sample std over the U used ifgs of the arc noise,
ddof = 1, rad) and ``edge_max`` (E,) float32 (max abs arc noise, rad).

Algorithm per arc e (all arcs at once), for each used acquisition j:
``w_k = exp(-(t_j - t_k)^2 / (2 time_win^2))`` normalised to sum 1;
``mu = sum_k w_k s_k``; ``e_k = angle(s_k conj(mu))``; weighted LS line
``e ~ m0 + m1 (t_j - t_k)``; ``e2 = wrap(e - line)``; a second weighted line on e2
gives ``m0'``; the smoothed arc is ``mu exp(i (m0 + m0'))``; the leave-one-out mean
``sum_{k != j} w_k s_k`` (not renormalised).  Then the noise
``n = angle(s conj(smoothed))``, the leave-one-out noise ``n2``, ``var_k`` = variance
of n2 over the arcs (ddof = 1), a per-arc weighted LS ``n_e ~ K_e B`` with weights
1 / var_k, and ``n_e -= K_e B`` (not re-wrapped).

Precision as StaMPS (J.27): arc phases, means, noise, variance, std and max are
float32; the line fits and K_e are solved in float64.
"""
from __future__ import annotations

import numpy as np


def _wls_lines(dt: np.ndarray, w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Weighted LS of ``y[e, k] ~ m0[e] + m1[e] dt[k]`` for every row e (float64).

    ``dt`` (U,), ``w`` (U,) weights (MATLAB ``lscov`` with a weight vector),
    ``y`` (E, U).  Returns (2, E): intercepts and slopes.
    """
    G = np.stack([np.ones_like(dt), dt], axis=1)          # (U, 2)
    Gw = G * w[:, None]
    A = G.T @ Gw                                           # (2, 2)
    B = Gw.T @ y.astype(np.float64).T                      # (2, E)
    return np.linalg.solve(A, B)


def edge_stats(ph_unit: np.ndarray, edges: np.ndarray, day: np.ndarray, bperp: np.ndarray,
               time_win: float) -> tuple[np.ndarray, np.ndarray]:
    """Arc noise std and max per edge; see the module docstring for shapes and units."""
    ph_unit = np.asarray(ph_unit).astype(np.complex64, copy=False)
    edges = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    day = np.asarray(day, dtype=np.float64).ravel()
    bperp = np.asarray(bperp, dtype=np.float64).ravel()
    n_e = edges.shape[0]
    n_use = day.size
    if n_e == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    s = (ph_unit[edges[:, 1]] * np.conj(ph_unit[edges[:, 0]])).astype(np.complex64)  # (E, U)

    sm = np.empty((n_e, n_use), dtype=np.complex64)     # time-smoothed arc phase
    sm2 = np.empty((n_e, n_use), dtype=np.complex64)    # leave-one-out mean
    for j in range(n_use):
        dt = day[j] - day
        w = np.exp(-(dt ** 2) / (2.0 * float(time_win) ** 2))
        w = w / w.sum()
        w32 = w.astype(np.float32)
        mu = (s @ w32).astype(np.complex64)                                    # (E,)
        e = np.angle(s * np.conj(mu)[:, None]).astype(np.float32)              # (E, U)
        m = _wls_lines(dt, w, e)                                               # (2, E)
        fit = (m[0][:, None] + m[1][:, None] * dt[None, :]).astype(np.float32)
        e2 = np.angle(np.exp(1j * (e - fit)).astype(np.complex64)).astype(np.float32)
        m2 = _wls_lines(dt, w, e2)
        sm[:, j] = mu * np.exp(1j * (m[0] + m2[0])).astype(np.complex64)
        w32[j] = 0.0
        sm2[:, j] = s @ w32

    noise = np.angle(s * np.conj(sm)).astype(np.float32)
    noise2 = np.angle(s * np.conj(sm2)).astype(np.float32)
    var = noise2.var(axis=0, ddof=1, dtype=np.float32) if n_e > 1 else \
        np.full(n_use, np.nan, dtype=np.float32)
    wk = 1.0 / var.astype(np.float64)                                           # (U,)
    with np.errstate(invalid="ignore", divide="ignore"):
        k_e = (noise.astype(np.float64) @ (wk * bperp)) / np.sum(wk * bperp * bperp)  # (E,)
    noise = (noise - np.multiply.outer(k_e, bperp).astype(np.float32)).astype(np.float32)
    edge_std = noise.std(axis=1, ddof=1, dtype=np.float32).astype(np.float32)
    edge_max = np.abs(noise).max(axis=1).astype(np.float32)
    return edge_std, edge_max
