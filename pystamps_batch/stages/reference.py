"""Referencing helpers shared by steps 7, 8 and the velocity product
(the local-coordinate geometry is :mod:`pystamps_batch.geo`).

* :func:`setref` -- ``ps_setref`` (C.7.4): the reference pixel set.  An empty set
  raises :class:`StageError` (StaMPS silently produces all-NaN results instead).
* :func:`deramp` -- ``ps_deramp`` (C.7.3): per-ifg polynomial ramps in x, y (km).
* :func:`used_ifgs`, :func:`reference_phase` -- the image set U and the nanmean
  re-referencing shared by steps 7, 8 and the velocity.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import StageError
from ..geo import llh2local
from ..matlab import sum_single

def _fmt(v) -> str:
    return "[" + ", ".join(f"{float(x):g}" for x in np.asarray(v).ravel()) + "]"


def setref(ps: Mapping[str, np.ndarray], params: Mapping[str, Any]) -> np.ndarray:
    """``ps_setref``: 0-based indices of the reference pixels (spec C.7.4).

    With a ``ref_x`` parameter (and ``ref_y``): ``ref_x[0] < x < ref_x[1]`` and
    ``ref_y[0] < y < ref_y[1]`` on ``ps['xy']``.  Otherwise the strict lon/lat
    window ``ref_lon``/``ref_lat``; then, if ``ref_radius < Inf``, only pixels within
    ``ref_radius`` m (``<=``) of ``ref_centre_lonlat`` measured in llh2local
    coordinates about ``ps['ll0']``.

    Raises :class:`StageError` when the set is empty or ``ref_radius = -Inf``
    (StaMPS silently yields all-NaN phases/velocities there).
    """
    lonlat = np.asarray(ps["lonlat"], dtype=np.float64)
    if params.get("ref_x") is not None and params.get("ref_y") is not None:
        rx = np.asarray(params["ref_x"], dtype=np.float64).ravel()
        ry = np.asarray(params["ref_y"], dtype=np.float64).ravel()
        xy = np.asarray(ps["xy"], dtype=np.float64)
        sel = (xy[:, 1] > rx[0]) & (xy[:, 1] < rx[1]) & (xy[:, 2] > ry[0]) & (xy[:, 2] < ry[1])
        ix = np.flatnonzero(sel)
        if ix.size == 0:
            raise StageError(f"reference set is empty: no PS inside ref_x={_fmt(rx)} ref_y={_fmt(ry)} "
                             f"(of {len(xy)} PS)")
        return ix
    rlon = np.asarray(params.get("ref_lon", [-np.inf, np.inf]), dtype=np.float64).ravel()
    rlat = np.asarray(params.get("ref_lat", [-np.inf, np.inf]), dtype=np.float64).ravel()
    radius = float(params.get("ref_radius", np.inf))
    if radius == -np.inf:
        raise StageError("ref_radius = -Inf means 'no reference' in StaMPS; steps 7 and the 'v' products need one")
    sel = (lonlat[:, 0] > rlon[0]) & (lonlat[:, 0] < rlon[1]) & (lonlat[:, 1] > rlat[0]) & (lonlat[:, 1] < rlat[1])
    ix = np.flatnonzero(sel)
    window = f"ref_lon={_fmt(rlon)} ref_lat={_fmt(rlat)}"
    if radius < np.inf and ix.size:
        centre = np.asarray(params.get("ref_centre_lonlat", [0.0, 0.0]), dtype=np.float64).ravel()
        ll0 = np.asarray(ps["ll0"], dtype=np.float64).ravel()
        c = llh2local(centre[None, :], ll0)[0]
        p = llh2local(lonlat[ix], ll0)
        d2 = (p[:, 0] - c[0]) ** 2 + (p[:, 1] - c[1]) ** 2
        ix = ix[d2 <= radius ** 2]
        window += f" ref_centre_lonlat={_fmt(centre)} ref_radius={radius:g} m"
    if ix.size == 0:
        raise StageError(f"reference set is empty: no PS inside {window} (of {len(lonlat)} PS)")
    return ix


def _ramp_design(xy_km: np.ndarray, degree: float) -> np.ndarray:
    x, y = xy_km[:, 0], xy_km[:, 1]
    one = np.ones_like(x)
    if degree == 1:
        cols = [x, y, one]
    elif degree == 1.5:
        cols = [x, y, x * y, one]
    elif degree == 2:
        cols = [x ** 2, y ** 2, x * y, one]
    elif degree == 3:
        cols = [x ** 3, y ** 3, x ** 2 * y, y ** 2 * x, x ** 2, y ** 2, x * y, one]
    else:
        raise StageError(f"ps_deramp: unsupported degree {degree!r} (1, 1.5, 2 or 3)")
    return np.column_stack(cols)


def deramp(xy: np.ndarray, ph: np.ndarray, degree: float = 1) -> tuple[np.ndarray, np.ndarray]:
    """``ps_deramp`` (spec C.7.3): remove a polynomial ramp from each ifg column.

    ``xy`` (n, 3) ``[id, x, y]`` in metres (ps.xy); ``ph`` (n, K) phases (rad).
    Each column is fitted by least squares (float64) over its non-NaN pixels when
    more than 5 are valid.  Returns ``(ph - ramp, ramp)`` in ``ph``'s dtype; columns
    not fitted are returned unchanged with a NaN ramp.
    """
    A = _ramp_design(np.asarray(xy, dtype=np.float64)[:, 1:3] / 1000.0, degree)
    ph = np.asarray(ph)
    out = ph.copy()
    ramp = np.full(ph.shape, np.nan, dtype=ph.dtype)
    valid = ~np.isnan(ph)
    full = valid.all(axis=0) & (ph.shape[0] > 5)
    if full.any():  # common case: one solve with many right-hand sides
        coef = np.linalg.lstsq(A, ph[:, full].astype(np.float64), rcond=None)[0]
        ramp[:, full] = (A @ coef).astype(ph.dtype)
    for k in np.flatnonzero(~full & (valid.sum(axis=0) > 5)):
        v = valid[:, k]
        coef = np.linalg.lstsq(A[v], ph[v, k].astype(np.float64), rcond=None)[0]
        ramp[:, k] = (A @ coef).astype(ph.dtype)
    fitted = ~np.isnan(ramp).all(axis=0)
    out[:, fitted] = (ph[:, fitted] - ramp[:, fitted]).astype(ph.dtype)
    return out, ramp


def used_ifgs(N: int, params: Mapping, extra_drop: str | None = None) -> np.ndarray:
    """0-based ``setdiff(1..N, drop_ifg_index [, extra_drop])`` (indices are 1-based in params)."""
    drop = set(params.index_list("drop_ifg_index")) if hasattr(params, "index_list") else set()
    if extra_drop and hasattr(params, "index_list"):
        drop |= set(params.index_list(extra_drop))
    return np.array([k for k in range(N) if (k + 1) not in drop], dtype=np.int64)


def reference_phase(ph: np.ndarray, ref_ix: np.ndarray) -> np.ndarray:
    """Subtract from each column the nanmean over the reference rows, in float32."""
    sub = ph[ref_ix]
    valid = ~np.isnan(sub)
    s = sum_single(np.where(valid, sub, np.float32(0)), 0)
    cnt = valid.sum(axis=0).astype(np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = (s / cnt).astype(np.float32)
    return (ph - mu).astype(np.float32)
