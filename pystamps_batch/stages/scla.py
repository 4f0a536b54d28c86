"""Step 7: spatially-correlated look-angle error and master AOE
(``ps_calc_scla(0, 1)`` then ``ps_smooth_scla``; spec C.7.1-C.7.4, J.20, J.21).

``ps_calc_scla``:

1. ``Phi = phuw2.ph_uw`` (n x N float32); with ``scla_deramp = 'y'`` the ramps of
   :func:`~pystamps_batch.stages.reference.deramp` (degree from the parameter
   ``deramp_degree`` if the runner supplies StaMPS' ``deramp_degree.mat``, else 1) are
   removed first and returned as ``ph_ramp`` (else ``ph_ramp = []``);
2. ``U = setdiff(1..N, drop_ifg_index)`` minus ``scla_drop_index`` (master kept);
3. per column, subtract the nanmean of Phi over the ``ps_setref`` pixels (float32
   accumulation; an empty reference set is a :class:`StageError`);
4. kernel ``stage7_scla`` (:mod:`pystamps_batch.kernels.scla`): K by ordinary LS on the
   sequential differences, C by GLS with ``diag((ifg_std*pi/180)^2)`` (identity
   without ``ifgstd2``);
5. ``ph_scla = K * B~`` (all N columns, per-pixel baselines, float32);
   ``ifg_vcm`` = the N x N diagonal covariance (identity without ifgstd2).

``ps_smooth_scla``: Delaunay edges of ``ps.xy`` (:func:`delaunay_edges`); each pixel's
K and C are clamped to the float32 [min, max] over its neighbours (itself excluded);
``ph_scla = K_smooth * B~``.

Choices (documented deviations):

* **Pixels without edges** (duplicate xy dropped by the triangulation, or fewer than
  3 non-collinear pixels): StaMPS sets them to +Inf (the clamp tests evaluate
  ``K > -Inf`` and ``K < +Inf`` in sequence).  We keep their unsmoothed K and C.
* The triangulation is scipy's Qhull Delaunay, StaMPS used the external ``triangle``
  program; they can differ on co-circular point sets (different, equally Delaunay,
  diagonals), which changes the neighbour bounds of the pixels involved.
* Octave quirk F.2 does not apply to the golden run (its ``ifgstd2.mat`` existed,
  ``scla2.ifg_vcm`` holds ``(ifg_std*pi/180)^2``): we use the covariance when
  ``ifgstd2`` is present, as StaMPS under MATLAB does.
* ``subtr_tropo = 'y'`` (TRAIN corrections) and legacy ``aps2.mat`` are not supported
  (StageError for subtr_tropo).
* Re-run semantics (F.3): ``scla2`` and ``scla_smooth2`` are written afresh; StaMPS
  renames an existing ``scla2.mat`` to ``tmp_scla2_<timestamp>.mat`` first, which we
  do not (the runner may keep a backup), and appends to ``scla_smooth2``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..errors import StageError
from ..kernels.scla import ifg_variance
from .correct import expand_bperp, master_index
from .reference import deramp, reference_phase, setref, used_ifgs

READS = ("ps2", "bp2", "phuw2")
OPTIONAL = ("ifgstd2",)
WRITES = ("scla2", "scla_smooth2")


def delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """Unique undirected Delaunay edges (E, 2) int64 (0-based, a < b) of points xy (n, 2).

    Duplicate points are left out by Qhull (they get no edge), as ``triangle`` does.
    Fewer than 3 points, or all collinear: no triangulation; 2 distinct points give one
    edge, otherwise none.
    """
    from scipy.spatial import Delaunay
    from scipy.spatial import QhullError

    pts = np.asarray(xy, dtype=np.float64)
    n = pts.shape[0]
    if n < 3:
        return np.array([[0, 1]], dtype=np.int64) if n == 2 and not np.array_equal(pts[0], pts[1]) \
            else np.zeros((0, 2), dtype=np.int64)
    try:
        tri = Delaunay(pts)
    except QhullError:
        return np.zeros((0, 2), dtype=np.int64)
    s = tri.simplices.astype(np.int64)
    a = np.concatenate([s[:, 0], s[:, 1], s[:, 0]])
    b = np.concatenate([s[:, 1], s[:, 2], s[:, 2]])
    key = np.unique(np.minimum(a, b) * n + np.maximum(a, b))
    return np.column_stack([key // n, key % n])


def neighbour_bounds(values: np.ndarray, edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel (min, max) of ``values`` over edge neighbours (float32; +Inf/-Inf without edges)."""
    v = np.asarray(values, dtype=np.float32).ravel()
    lo = np.full(n, np.inf, dtype=np.float32)
    hi = np.full(n, -np.inf, dtype=np.float32)
    a, b = edges[:, 0], edges[:, 1]
    np.minimum.at(lo, a, v[b])
    np.minimum.at(lo, b, v[a])
    np.maximum.at(hi, a, v[b])
    np.maximum.at(hi, b, v[a])
    return lo, hi


def clamp_to_neighbours(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``ps_smooth_scla`` clamp: values above the neighbour max take it, below the min take it.

    The bounds are float32 (a clamped value is the single-rounded neighbour value);
    pixels without edges keep their value (StaMPS: +Inf, see the module docstring).
    Returns an array of ``values``' dtype.
    """
    vals = np.asarray(values)
    flat = vals.ravel()
    lo, hi = neighbour_bounds(flat, edges, flat.size)
    out = flat.copy()
    has = lo <= hi                       # pixels with at least one edge
    up = has & (flat > hi)
    dn = has & (flat < lo)
    out[up] = hi[up]
    out[dn] = lo[dn]
    return out.reshape(vals.shape)


def calc_scla(ps, bp, phuw, ifgstd, params, kernels) -> dict[str, np.ndarray]:
    """``ps_calc_scla(0, 1)``: the ``scla2`` variables."""
    if hasattr(params, "flag") and params.flag("subtr_tropo"):
        raise StageError("step 7: subtr_tropo = 'y' (TRAIN tropospheric correction) is not supported")
    m = master_index(ps)
    ph = np.asarray(phuw["ph_uw"], dtype=np.float32)
    n, N = ph.shape
    B = expand_bperp(bp["bperp_mat"], m)
    if B.shape != (n, N):
        raise StageError(f"step 7: bperp_mat {bp['bperp_mat'].shape} does not match ph_uw {ph.shape}")
    day = np.asarray(ps["day"], dtype=np.float64).ravel()
    if hasattr(params, "flag") and params.flag("scla_deramp"):
        ph, ph_ramp = deramp(ps["xy"], ph, float(params.get("deramp_degree", 1) or 1))
    else:
        ph_ramp = np.zeros((0, 0))
    U = used_ifgs(N, params, "scla_drop_index")
    if U.size < 2:
        raise StageError(f"step 7: {U.size} image(s) left after drop_ifg_index/scla_drop_index, need >= 2")
    ref_ix = setref(ps, params)
    ph = reference_phase(ph, ref_ix)
    std = None
    if ifgstd is not None and "ifg_std" in ifgstd:
        std = np.asarray(ifgstd["ifg_std"], dtype=np.float64).ravel()
        if std.size != N:
            raise StageError(f"step 7: ifgstd2 has {std.size} entries, expected {N}")
    mpos = int(np.flatnonzero(U == m)[0]) if m in U else None
    K, C = kernels.call("stage7_scla", ph[:, U], B[:, U], day[U], mpos,
                        None if std is None else std[U], str(params.get("scla_method", "L2")),
                        master_day=float(np.asarray(ps["master_day"]).ravel()[0]))
    ph_scla = (np.asarray(K, dtype=np.float32)[:, None] * B).astype(np.float32)
    vcm = np.diag(ifg_variance(std).astype(np.float64)) if std is not None else np.eye(N)
    return {"ph_scla": ph_scla, "K_ps_uw": np.asarray(K, dtype=np.float64).reshape(-1, 1),
            "C_ps_uw": np.asarray(C, dtype=np.float32).reshape(-1, 1), "ph_ramp": ph_ramp,
            "ifg_vcm": vcm}


def smooth_scla(ps, bp, scla: Mapping[str, np.ndarray], edges: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``ps_smooth_scla``: clamp K and C to their Delaunay neighbours' range."""
    m = master_index(ps)
    B = expand_bperp(bp["bperp_mat"], m)
    if edges is None:
        edges = delaunay_edges(np.asarray(ps["xy"])[:, 1:3])
    K = clamp_to_neighbours(np.asarray(scla["K_ps_uw"], dtype=np.float64), edges)
    C = clamp_to_neighbours(np.asarray(scla["C_ps_uw"]), edges)
    ph_scla = (K.astype(np.float32).reshape(-1, 1) * B).astype(np.float32)
    return {"K_ps_uw": K.reshape(-1, 1), "C_ps_uw": C.reshape(-1, 1), "ph_scla": ph_scla,
            "ph_ramp": scla["ph_ramp"]}


def run(inputs: Mapping[str, Mapping[str, np.ndarray]], params, kernels, *,
        log: Callable[[str], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Step 7 on the merged root: ``{'scla2': ..., 'scla_smooth2': ...}``."""
    ps, bp, phuw = inputs["ps2"], inputs["bp2"], inputs["phuw2"]
    scla2 = calc_scla(ps, bp, phuw, inputs.get("ifgstd2"), params, kernels)
    smooth = smooth_scla(ps, bp, scla2)
    if log:
        n_cl = int((smooth["K_ps_uw"] != scla2["K_ps_uw"]).sum())
        log(f"ps_calc_scla: {scla2['K_ps_uw'].shape[0]} PS; ps_smooth_scla clamped K of {n_cl}")
    return {"scla2": scla2, "scla_smooth2": smooth}
