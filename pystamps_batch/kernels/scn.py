"""Python backend of kernel ``stage8_edge_noise``: arc differences and their temporal
Gaussian high-pass (``ps_scn_filt``, spec C.8 steps 4-5).

``edge_highpass(ph, edges, day, time_win, master_pos) -> hp``

* ``ph`` (n, N_U) float32 -- phase of the used images (rad), corrected and NaN-free;
* ``edges`` (E, 2) int -- arcs (a, b), 0-based pixel indices;
* ``day`` (N_U,) float64 -- dates of the used images (days);
* ``time_win`` float -- Gaussian sigma (days), ``scn_time_win``;
* ``master_pos`` int or None -- position in the U-indexed weight vector whose weight is
  zeroed (StaMPS zeroes position ``master_ix``; see :mod:`pystamps_batch.stages.scn`).

Returns ``hp`` (E, N_U) float32: ``d = ph[b] - ph[a]``; for every k,
``w_j = exp(-(t_k - t_j)^2 / (2 time_win^2))`` with ``w[master_pos] = 0``, normalised to
sum 1 (double); ``lp_k = sum_j w_j d_j`` accumulated in single precision in j order;
``hp = d - lp``.  Vectorised over arcs; the loop is over image pairs.
"""
from __future__ import annotations

import numpy as np

_CHUNK = 1 << 18  # arcs per block (bounds the E x N_U temporaries)


def temporal_weights(day: np.ndarray, time_win: float, master_pos: int | None) -> np.ndarray:
    """(N_U, N_U) float64: row k = normalised Gaussian weights for output image k."""
    t = np.asarray(day, dtype=np.float64).ravel()
    w = np.exp(-((t[:, None] - t[None, :]) ** 2) / 2 / float(time_win) ** 2)
    if master_pos is not None:
        w[:, master_pos] = 0.0
    return w / w.sum(axis=1, keepdims=True)


def edge_highpass(ph: np.ndarray, edges: np.ndarray, day: np.ndarray, time_win: float,
                  master_pos: int | None) -> np.ndarray:
    """Temporally high-passed arc phase differences, (E, N_U) float32."""
    ph = np.asarray(ph, dtype=np.float32)
    edges = np.asarray(edges, dtype=np.int64)
    W = temporal_weights(day, time_win, master_pos).astype(np.float32)
    nu = ph.shape[1]
    E = edges.shape[0]
    out = np.empty((E, nu), dtype=np.float32)
    for s in range(0, E, _CHUNK):
        e = edges[s:s + _CHUNK]
        d = ph[e[:, 1]] - ph[e[:, 0]]                      # (e, N_U) float32
        dT = np.ascontiguousarray(d.T)                      # rows = images
        for k in range(nu):
            acc = np.zeros(e.shape[0], dtype=np.float32)
            wk = W[k]
            for j in range(nu):
                if wk[j] != 0:
                    acc += dT[j] * wk[j]
            out[s:s + e.shape[0], k] = dT[k] - acc
    return out
