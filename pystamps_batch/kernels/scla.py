"""Python backend of kernel ``stage7_scla``: the per-pixel least squares of ``ps_calc_scla``
(spec C.7.1 steps 5-8, appendix K.9), vectorised over pixels.

``scla_fit(ph_uw, bperp, day, master_pos, ifg_std=None, method="L2", master_day=None)
-> (K_ps_uw, C_ps_uw)``

Inputs (U = the images used, in date order, master included; n pixels):

* ``ph_uw`` (n, N_U) float32 -- unwrapped phase (rad), already referenced (the
  nanmean over the reference pixels subtracted per column);
* ``bperp`` (n, N_U) float32 -- per-pixel perpendicular baselines (m), 0 at the master;
* ``day`` (N_U,) float64 -- acquisition dates (days, datenum);
* ``master_pos`` int -- position of the master within U (0-based); its column is left
  out of the C fit.  ``None`` when the master is not in U (all columns are then
  used for C, with t - ``master_day``);
* ``ifg_std`` (N_U,) float or None -- ifg noise in degrees (ifgstd2); None = identity
  covariance;
* ``method`` "L2" or "L1" (L1 refines each pixel with Nelder-Mead on sum |residual|,
  like ``fminsearch``; a slow per-pixel path);
* ``master_day`` float, optional -- the master date, used when ``master_pos`` is None
  (default ``day[0]``).

Algorithm: sequential differences ``dPhi = diff(ph_uw)``, ``dB = diff(bperp)``,
``dt = diff(day)``; one design matrix ``A = [1, mean_p dB, dt]`` (the dt column only
when N_U >= 4) shared by every pixel; ``[a0, K, v] = A \\ dPhi`` (ordinary least
squares, double precision, one QR for all right-hand sides).  Then with
``ph_scla = float32(K) * bperp`` the master AOE ``C`` is the intercept of the
generalised least-squares line ``ph_uw - ph_scla ~ c + r (t - t_master)`` over the
non-master columns with covariance ``diag((ifg_std*pi/180)^2)``.

Outputs: ``K_ps_uw`` (n,) float64 rad/m, ``C_ps_uw`` (n,) float32 rad.  A pixel with a
NaN phase gets NaN (other pixels are unaffected).  The column mean of dB and the
data are accumulated in float32, as StaMPS does; K then agrees with the golden
``scla2.K_ps_uw`` to ~1e-13 relative.  C follows Octave's ``lscov`` (whitening, then
the double pseudo-inverse applied in single precision): within 2 ulp of the golden
float32 ``C_ps_uw``, about 60 % bit-identical.
"""
from __future__ import annotations

import numpy as np

from ..matlab import sum_single


def _solve_many(A: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Least-squares solution of ``A X = Y`` for many right-hand sides (columns of Y).

    QR of the small design matrix once (MATLAB ``\\`` for an overdetermined full-rank A);
    NaN in a column of Y stays in that column.  A rank-deficient A falls back to the
    pseudo-inverse (minimum-norm solution).
    """
    q, r = np.linalg.qr(A)
    d = np.abs(np.diag(r))
    if d.size and d.min() > d.max() * A.shape[0] * np.finfo(float).eps:
        return np.linalg.solve(r, q.T @ Y)
    return np.linalg.pinv(A) @ Y


def _l1_refine(A: np.ndarray, Y: np.ndarray, X0: np.ndarray) -> np.ndarray:
    """Per-column Nelder-Mead minimisation of sum|A x - y| from X0 (``fminsearch`` defaults)."""
    from scipy.optimize import fmin

    X = X0.copy()
    for j in range(Y.shape[1]):
        y = Y[:, j]
        if not np.all(np.isfinite(y)):
            continue
        X[:, j] = fmin(lambda x: np.abs(A @ x - y).sum(), X0[:, j], xtol=1e-4, ftol=1e-4, disp=False)
    return X


def ifg_variance(ifg_std: np.ndarray) -> np.ndarray:
    """``(ifg_std*pi/180)^2`` evaluated in single precision like StaMPS (rad^2, float32)."""
    v = (np.asarray(ifg_std, dtype=np.float32).ravel() * np.float32(np.pi)) / np.float32(180)
    return (v * v).astype(np.float32)


def scla_fit(ph_uw: np.ndarray, bperp: np.ndarray, day: np.ndarray, master_pos: int | None,
             ifg_std: np.ndarray | None = None, method: str = "L2",
             master_day: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """K_ps_uw (n,) float64 and C_ps_uw (n,) float32; see the module docstring."""
    ph = np.asarray(ph_uw, dtype=np.float32)
    B = np.asarray(bperp, dtype=np.float32)
    t = np.asarray(day, dtype=np.float64).ravel()
    n, nu = ph.shape
    if nu < 2:
        raise ValueError(f"stage7_scla needs at least 2 images, got {nu}")
    dph = np.diff(ph, axis=1)                                   # float32, n x (N_U-1)
    dB = np.diff(B, axis=1)
    mean_dB = (sum_single(dB, 0) / np.float32(n)).astype(np.float64)
    dt = np.diff(t)
    cols = [np.ones(nu - 1), mean_dB] + ([dt] if nu >= 4 else [])
    A = np.column_stack(cols)
    Y = dph.T.astype(np.float64)
    X = _solve_many(A, Y)
    if method.upper() == "L1":
        X = _l1_refine(A, Y, X)
    K = X[1].copy()

    ph_scla = (K.astype(np.float32)[:, None] * B).astype(np.float32)
    if master_pos is None:
        keep = np.arange(nu)
        t0 = float(master_day) if master_day is not None else float(t[0])
    else:
        keep = np.array([k for k in range(nu) if k != master_pos], dtype=np.int64)
        t0 = t[master_pos]
    res = (ph[:, keep] - ph_scla[:, keep]).T                     # float32, as StaMPS
    A2 = np.column_stack([np.ones(keep.size), t[keep] - t0])
    sig = np.sqrt(ifg_variance(ifg_std)[keep].astype(np.float64)) if ifg_std is not None \
        else np.ones(keep.size)
    # lscov(A, y, V) as Octave evaluates it with single data: whiten, then pinv(A_w)
    # (double) applied to the single whitened data in single precision
    Aw = A2 / sig[:, None]
    yw = (res / sig.astype(np.float32)[:, None]).astype(np.float32)
    C = (np.linalg.pinv(Aw).astype(np.float32) @ yw)[0].astype(np.float32)
    return K, C
