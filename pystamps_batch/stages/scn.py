"""Step 8: spatially-correlated nuisance (slave APS) estimate, ``ps_scn_filt`` (spec C.8, J.22),
plus the mean-velocity fit ``mean_v`` that StaMPS' ``ps_plot('v-...')`` saves (spec G).

1. ``U = setdiff(1..N, drop_ifg_index)`` (master included); ``Psi = ph_uw[:, U]`` minus,
   when ``scla2`` is given, ``ph_scla[:, U]``, ``C_ps_uw`` and ``ph_ramp[:, U]`` (if
   non-empty), in float32; NaN -> 0.  Like StaMPS, the **unsmoothed** scla2 is used
   and a row-count mismatch is an error (StaMPS would fail or silently use it).
2. Delaunay arcs of ``ps.xy`` (:func:`pystamps_batch.stages.scla.delaunay_edges`).
3. Images in ``scn_deramp_ifg`` ('all' = every one) intersected with U: a plane
   ``c0 + c1 x + c2 y`` (x, y in m) is fitted and removed; the ramps go to ``ph_ramp``.
4-5. Kernel ``stage8_edge_noise`` (:mod:`pystamps_batch.kernels.scn`): arc differences,
   temporal Gaussian high-pass (sigma ``scn_time_win``).
6. Integration of the arcs to pixels per image: least squares ``A x = hp`` with the
   arc-node incidence matrix and pixel 1 fixed at 0, solved through the normal
   equations (sparse graph Laplacian, one LU for all images, double precision) ->
   ``ph_hpt`` (n x N_U float32); the deramp ramps are added back.
7. Spatial Gaussian low-pass (sigma ``scn_wavelength``, neighbours with
   ``d^2 < (4 scn_wavelength)^2``, the pixel itself included; KD-tree search).
8. Re-reference to pixel 1; ``ph_scn_slave`` = zeros(n, N) with columns U filled and
   the master column 0 (float64).

Choices (documented deviations):

* Triangulation by scipy/Qhull instead of the external ``triangle`` program; the
  arcs can differ for co-circular points, which changes the least-squares
  integration slightly (quantified against the goldens in the tests).
* Pixels in a connected component of the arc graph that does not contain pixel 1
  (duplicate xy points have no arcs, Qhull leaves them out) have no defined
  solution: StaMPS returns whatever its rank-deficient sparse solve gives; we fix the
  first pixel of every such component at 0 (an isolated pixel gets ph_hpt = 0).
* The master weight of the temporal filter: StaMPS zeroes position ``master_ix`` of the
  U-indexed weights (wrong when an image before the master is dropped; an error
  when ``master_ix > #U``).  We reproduce that position when it exists and otherwise
  zero the master's true position in U instead of failing.
* Re-run semantics (F.3): ``scn2`` and ``mean_v`` are written afresh (as StaMPS does).

``mean_v``: the golden root ``mean_v.mat`` is from StaMPS' last ``ps_plot`` call,
``'v-dso'``, i.e. the fit after subtracting scla2 (d), scn2 (s) and per-image ramps
(o), with ifgstd2's covariance (hence ``ifgstd2`` in OPTIONAL); without scla2 we fit
``'v-so'``.  :func:`pystamps_batch.products.velocity_fit` computes it from this step's
output.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.sparse.linalg import splu

from ..errors import StageError
from .correct import master_index
from .reference import used_ifgs
from .scla import delaunay_edges

READS = ("ps2", "phuw2")
OPTIONAL = ("scla2", "ifgstd2")
WRITES = ("scn2", "mean_v", "ps_plot_v-d", "ps_plot_v-do", "ps_plot_v-dso")


def corrected_phase(phuw: Mapping, scla: Mapping | None, U: np.ndarray) -> np.ndarray:
    """Step 1: ``ph_uw[:, U]`` minus the scla2 terms (float32), NaN -> 0."""
    ph = np.asarray(phuw["ph_uw"], dtype=np.float32)[:, U]
    if scla is not None:
        n = ph.shape[0]
        if np.asarray(scla["ph_scla"]).shape[0] != n:
            raise StageError(f"step 8: scla2 has {np.asarray(scla['ph_scla']).shape[0]} rows, phuw2 has {n} "
                             "(stale scla2.mat: re-run step 7)")
        ph = ph - np.asarray(scla["ph_scla"], dtype=np.float32)[:, U]
        ph = ph - np.asarray(scla["C_ps_uw"], dtype=np.float32).reshape(-1, 1)
        ramp = np.asarray(scla.get("ph_ramp", np.zeros((0, 0))))
        if ramp.size:
            ph = ph - ramp.astype(np.float32)[:, U]
    return np.nan_to_num(ph.astype(np.float32), nan=0.0, posinf=np.inf, neginf=-np.inf)


def deramp_plane(xy: np.ndarray, ph: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Fit and remove ``c0 + c1 x + c2 y`` (x, y in m) from columns ``cols`` of ``ph`` in place.

    Returns the ramps (n, len(cols)) float64.
    """
    A = np.column_stack([np.ones(xy.shape[0]), np.asarray(xy, dtype=np.float64)[:, 1:3]])
    if cols.size == 0:
        return np.zeros((xy.shape[0], 0))
    coef = np.linalg.lstsq(A, ph[:, cols].astype(np.float64), rcond=None)[0]
    ramps = A @ coef
    ph[:, cols] = (ph[:, cols] - ramps).astype(ph.dtype)
    return ramps


def integrate_arcs(edges: np.ndarray, hp: np.ndarray, n: int) -> np.ndarray:
    """Least-squares pixel values from arc differences, pixel 0 fixed at 0.

    ``edges`` (E, 2) 0-based (a, b) with ``hp[e] ~ x[b] - x[a]``; ``hp`` (E, K).
    Solves the normal equations ``L x = A' hp`` (L = A'A, the graph Laplacian) with one
    sparse LU; every connected component not containing pixel 0 has its first pixel
    fixed at 0.  Returns (n, K) float64.
    """
    E = edges.shape[0]
    K = hp.shape[1]
    rows = np.repeat(np.arange(E), 2)
    cols = edges[:, [0, 1]].ravel()
    vals = np.tile([-1.0, 1.0], E)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(E, n))
    ncomp, label = connected_components(A.T @ A, directed=False)
    fixed = np.zeros(n, dtype=bool)
    fixed[0] = True
    if ncomp > 1:
        _, first = np.unique(label, return_index=True)
        fixed[first] = True
    free = np.flatnonzero(~fixed)
    x = np.zeros((n, K), dtype=np.float64)
    if free.size:
        Af = A[:, free].tocsc()
        L = (Af.T @ Af).tocsc()
        rhs = Af.T @ hp.astype(np.float64)
        # L is symmetric positive definite: symmetric mode with a minimum-degree ordering
        # of L (much less fill than the default COLAMD on these planar graphs)
        lu = splu(L, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        x[free] = lu.solve(np.asarray(rhs))
    return x


def spatial_lowpass(xy: np.ndarray, ph: np.ndarray, wavelength: float, chunk: int = 20000) -> np.ndarray:
    """Gaussian-weighted mean over neighbours with ``d^2 < (4 wavelength)^2`` (pixel included).

    ``xy`` (n, 3) float32 ``[id, x, y]`` m; ``ph`` (n, K) float32.  Distances squared and
    weights are float32 as in StaMPS; returns (n, K) float32.
    """
    from scipy.spatial import cKDTree

    pts32 = np.asarray(xy, dtype=np.float32)[:, 1:3]
    pts = pts32.astype(np.float64)
    tree = cKDTree(pts)
    r = 4.0 * float(wavelength)
    r2 = np.float32(r * r)
    two_s2 = np.float32(2 * float(wavelength) ** 2)
    n = pts.shape[0]
    out = np.empty((n, ph.shape[1]), dtype=np.float32)
    for s in range(0, n, chunk):
        q = np.arange(s, min(n, s + chunk))
        pairs = cKDTree(pts[q]).sparse_distance_matrix(tree, r * (1 + 1e-6), output_type="ndarray")
        i = pairs["i"].astype(np.int64)
        j = pairs["j"].astype(np.int64)
        d = pts32[q][i] - pts32[j]
        d2 = (d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]).astype(np.float32)
        keep = d2 < r2
        i, j, d2 = i[keep], j[keep], d2[keep]
        w = np.exp(-d2 / two_s2).astype(np.float32)
        wsum = np.bincount(i, weights=w, minlength=q.size)
        W = sp.csr_matrix(((w / wsum[i]).astype(np.float64), (i, j)), shape=(q.size, n))
        out[q] = (W @ ph.astype(np.float64)).astype(np.float32)
    return out


def scn_filter(ps: Mapping, phuw: Mapping, scla: Mapping | None, params, kernels,
               edges: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``ps_scn_filt``: the ``scn2`` variables."""
    ph_uw = np.asarray(phuw["ph_uw"])
    n, N = ph_uw.shape
    m = master_index(ps)
    U = used_ifgs(N, params)
    day = np.asarray(ps["day"], dtype=np.float64).ravel()
    xy = np.asarray(ps["xy"])
    psi = corrected_phase(phuw, scla, U)
    if edges is None:
        edges = delaunay_edges(xy[:, 1:3])
    # 3. optional planar deramp of selected images
    dr = params.get("scn_deramp_ifg", [])
    if isinstance(dr, str) and dr.strip().lower() == "all":
        dcols = np.arange(U.size)
    else:
        want = set(params.index_list("scn_deramp_ifg")) if hasattr(params, "index_list") else set()
        dcols = np.array([p for p, k in enumerate(U) if (k + 1) in want], dtype=np.int64)
    ramps = deramp_plane(xy, psi, dcols)
    # 4-5. arc high-pass (StaMPS zeroes weight position master_ix of the U vector)
    mpos = m if m < U.size else (int(np.flatnonzero(U == m)[0]) if m in U else None)
    hp = kernels.call("stage8_edge_noise", psi, edges, day[U], float(params["scn_time_win"]), mpos)
    # 6. integrate
    ph_hpt = integrate_arcs(edges, np.asarray(hp), n).astype(np.float32)
    if dcols.size:
        ph_hpt[:, dcols] = (ph_hpt[:, dcols] + ramps).astype(np.float32)
    # 7. spatial low-pass, 8. re-reference to pixel 1
    ph_scn = spatial_lowpass(xy, ph_hpt, float(params["scn_wavelength"]))
    ph_scn = (ph_scn - ph_scn[0:1]).astype(np.float32)
    slave = np.zeros((n, N), dtype=np.float64)
    slave[:, U] = ph_scn
    slave[:, m] = 0.0
    return {"ph_scn_slave": slave, "ph_hpt": ph_hpt, "ph_ramp": ramps.reshape(n, -1)}


def run(inputs: Mapping[str, Mapping[str, np.ndarray]], params, kernels, *,
        log: Callable[[str], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Step 8 on the merged root: ``{'scn2': ..., 'mean_v': {'m': 2 x n float32}}``."""
    from ..products import velocity, velocity_fit

    ps, phuw, scla = inputs["ps2"], inputs["phuw2"], inputs.get("scla2")
    ifgstd = inputs.get("ifgstd2")
    scn2 = scn_filter(ps, phuw, scla, params, kernels)
    kind = "v-dso" if scla is not None else "v-so"
    m = velocity_fit(ps, phuw, scla, scn2, ifgstd, params, kind=kind)
    out = {"scn2": scn2, "mean_v": {"m": m}}
    # the velocity maps users look at, as ps_plot(kind, -1) saves them (mm/yr, display-referenced);
    # without scla2 the 'd' term is simply absent
    for kind in ("v-d", "v-do", "v-dso"):
        v = velocity(ps, phuw, scla, scn2, ifgstd, params, kind=kind)
        out[f"ps_plot_{kind}"] = {"ph_disp": v.reshape(-1, 1).astype(np.float32), "ifg_list": np.array([[1.0]])}
    if log:
        log(f"ps_scn_filt: {scn2['ph_hpt'].shape[0]} PS, {scn2['ph_hpt'].shape[1]} images")
    return out
