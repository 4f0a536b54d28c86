"""Derived products: the mean LOS velocity of StaMPS' ``ps_plot('v...')`` (spec G, K.10).

``velocity(ps2, phuw2, scla2, scn2, ifgstd2, params, kind="v-do") -> v`` (n,) float32 mm/yr
reproduces ``ps_plot_<kind>.mat``'s ``ph_disp`` (display-referenced);
``velocity_fit(...)`` returns the ``mean_v.mat`` variable ``m`` (2 x n float32:
intercept in rad, rate in rad/day).

Kinds: ``'v'`` plus any of the letters after ``-``: ``d`` subtract ``scla2.ph_scla`` (and,
for exactly ``'v-d'``, ``C_ps_uw``: this only changes the intercept; the golden
``mean_v.mat`` of the last call ``'v-dso'`` confirms C is not removed there), ``s`` subtract
``scn2.ph_scn_slave``, ``o`` remove a planar ramp per image (``ps_deramp``, degree 1)
after the other terms.  ``a`` (TRAIN) and the Envisat oscillator drift are not
supported (``platform`` parameter ENVISAT/ASAR -> ValueError).

Fit: ``U = setdiff(1..N, drop_ifg_index)`` minus the master; subtract per image the
nanmean of the phase over the ``ps_setref`` pixels; generalised least squares
``phi_pk = a_p + r_p (t_k - t_master)`` with covariance ``diag((ifg_std_k*pi/181)^2)``
(StaMPS' 181 typo kept; identity without ifgstd2), evaluated like Octave's ``lscov``
with single data.  ``v = -r * 365.25 / (4 pi) * lambda * 1000`` (positive = towards the
satellite); the display value subtracts the mean of v over the (non-NaN)
reference pixels.
"""
from __future__ import annotations

import numpy as np

from .errors import StageError
from .stages.correct import master_index
from .stages.reference import deramp, reference_phase, setref, used_ifgs


def _parse_kind(kind: str) -> set[str]:
    k = kind.strip().lower()
    if not k.startswith("v") or (len(k) > 1 and not k.startswith("v-")):
        raise ValueError(f"velocity kind must be 'v' or 'v-<letters>' (d, s, o), got {kind!r}")
    letters = set(k[2:]) if len(k) > 1 else set()
    bad = letters - set("dso")
    if bad:
        raise ValueError(f"velocity kind {kind!r}: unsupported term(s) {''.join(sorted(bad))} (d, s, o)")
    return letters


def velocity_phase(ps2, phuw2, scla2, scn2, kind: str) -> np.ndarray:
    """The phase the 'v' fit uses: ph_uw minus the requested terms (n x N float32)."""
    letters = _parse_kind(kind)
    ph = np.asarray(phuw2["ph_uw"], dtype=np.float32)
    if "d" in letters:
        if scla2 is None:
            raise StageError(f"velocity {kind}: needs scla2 (run step 7)")
        ph = ph - np.asarray(scla2["ph_scla"], dtype=np.float32)
        if kind.strip().lower() == "v-d":   # spec G: only 'v-d' also removes C_ps_uw
            ph = ph - np.asarray(scla2["C_ps_uw"], dtype=np.float32).reshape(-1, 1)
    if "s" in letters:
        if scn2 is None:
            raise StageError(f"velocity {kind}: needs scn2 (run step 8)")
        ph = ph - np.asarray(scn2["ph_scn_slave"]).astype(np.float32)
    if "o" in letters:
        ph, _ = deramp(ps2["xy"], ph.astype(np.float32), 1)
    return ph.astype(np.float32)


def velocity_fit(ps2, phuw2, scla2, scn2, ifgstd2, params, kind: str = "v-do") -> np.ndarray:
    """``mean_v.m``: 2 x n float32, rows [intercept (rad); rate (rad/day)]."""
    plat = str(params.get("platform", "")).upper() if hasattr(params, "get") else ""
    if plat in ("ENVISAT", "ASAR"):
        raise ValueError("velocity: the Envisat oscillator-drift correction is not implemented")
    ph = velocity_phase(ps2, phuw2, scla2, scn2, kind)
    n, N = ph.shape
    m = master_index(ps2)
    U = np.array([k for k in used_ifgs(N, params) if k != m], dtype=np.int64)
    if U.size < 2:
        raise StageError(f"velocity: {U.size} interferogram(s) left after drop_ifg_index, need >= 2")
    ref = setref(ps2, params)
    phu = reference_phase(ph[:, U], ref)
    day = np.asarray(ps2["day"], dtype=np.float64).ravel()
    A = np.column_stack([np.ones(U.size), day[U] - day[m]])
    if ifgstd2 is not None and "ifg_std" in ifgstd2:
        s = (np.asarray(ifgstd2["ifg_std"], dtype=np.float32).ravel()[U] * np.float32(np.pi)) / np.float32(181)
        sig = s.astype(np.float64)
    else:
        sig = np.ones(U.size)
    Aw = A / sig[:, None]
    yw = (phu.T / sig.astype(np.float32)[:, None]).astype(np.float32)
    return (np.linalg.pinv(Aw).astype(np.float32) @ yw).astype(np.float32)


def velocity(ps2, phuw2, scla2, scn2, ifgstd2, params, kind: str = "v-do") -> np.ndarray:
    """Mean LOS velocity (n,) float32 mm/yr as ``ps_plot_<kind>.ph_disp`` (display-referenced)."""
    mfit = velocity_fit(ps2, phuw2, scla2, scn2, ifgstd2, params, kind)
    lam = float(params["lambda"])
    if not np.isfinite(lam):
        raise StageError("velocity: parameter lambda is not set")
    v = (-mfit[1].astype(np.float64) * 365.25 / (4 * np.pi) * lam * 1000).astype(np.float32)
    ref = setref(ps2, params)
    vr = v[ref]
    vr = vr[~np.isnan(vr)]
    if vr.size:
        v = (v - np.float32(vr.astype(np.float64).mean())).astype(np.float32)
    return v
