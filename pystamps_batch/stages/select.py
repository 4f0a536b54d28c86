"""Step 3: ``ps_select`` (spec C.3, J.7, J.8, K.5), single master.

1. ``ifg_index``: setdiff(1..N, drop_ifg_index) minus the master, in the master-removed
   (M-column) numbering.
2. D_A bins: with D_A and n >= 10000 candidates, bins of 2000 (10000 when n >= 50000)
   sorted D_A values; otherwise one bin (0, 1] and D_A := 1.
3. Allowed random count per bin: DENSITY ``density_rand * area / n_bins`` with the area
   (km^2) of the rotated-xy bounding box, in float32 as StaMPS (xy is single);
   PERCENT ``percent_rand``.
4. Threshold per bin (:func:`bin_min_coh`, K.5), then one constant, or a line in D_A
   when the fitted slope is positive (:func:`gamma_threshold`).
5. Initial selection ``coh_ps > thr`` (strict).
6. Re-estimation (reest_flag 0): for each selected pixel, a ``clap_win`` x ``clap_win``
   window of the step-2 cell sums (pm1.ph_grid) with the pixel's own cell zeroed is
   CLAP-filtered (:func:`pystamps_batch.filters.clap.clap_filt_patch`); the value at the
   own cell is the new patch phase P2.  Window and zeroing depend only on the cell, so
   P2 is computed once per unique cell (batched FFTs).  A window that cannot fit the
   grid (start < 1) gives P2 = 0, and the pixel is rejected (γ2 = NaN).  Then
   ps_topofit (kernel ``stage2_topofit``) on ``ph conj(P2)`` normalised, over ifg_index.
7. Threshold recomputed over all candidates with γ2 in place of γ for the selected ones
   (same bins, same pm1.Nr), evaluated at D_A(ix).
8. Keep ``γ2 > thr`` and ``|K(step 2) - K2| < 2 pi / range(B)`` (mean baselines, master
   removed).

reest_flag 1 (``select_reest_gamma_flag`` or ``quick_est_gamma_flag`` not 'y') keeps all
of ix and copies the step-2 estimates.  ``gamma_stdev_reject > 0`` is refused (the StaMPS
path is broken, spec J.24).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft

from ..errors import StageError
from ..filters.clap import clap_filt_patch
from ..matlab import COH_BINS
from ..resources import resolve_workers

READS = ("ps1", "ph1", "pm1", "bp1")
OPTIONAL = ("da1",)
WRITES = ("select1",)

#: number of low-coherence bins (γ < 0.31) over which Nr is scaled to the data (PS mode).
LOW_COH_BINS = 31
#: cells filtered per batch in the re-estimation (x M interferograms x clap_win^2 values).
_CELL_BATCH = 256


def _col(a) -> np.ndarray:
    return np.asarray(a).reshape(-1)


def _scalar(a) -> float:
    return float(np.asarray(a).reshape(-1)[0])


# ----------------------------------------------------------------------------- set-up
def select_ifg_index(n_ifg: int, master_ix: int, drop_ifg_index) -> np.ndarray:
    """1-based used ifgs in the master-removed numbering (C.3 step 1), int64 (n_use,).

    ``n_ifg`` = N, ``master_ix`` 1-based, ``drop_ifg_index`` 1-based acquisition indices.
    """
    drop = {int(i) for i in drop_ifg_index}
    keep = [k for k in range(1, n_ifg + 1) if k not in drop and k != master_ix]
    return np.array([k - 1 if k > master_ix else k for k in keep], dtype=np.int64)


def da_bin_edges(D_A: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(edges, D_A) of C.3 step 2: bin i holds ``edges[i] < D_A <= edges[i+1]``.

    With D_A and n >= 10000: bins of 2000 (10000 if n >= 50000) sorted values, the last
    bin taking the remainder; otherwise one bin (0, 1] and D_A replaced by ones.
    """
    if D_A is not None and D_A.size >= 10000:
        s = 10000 if D_A.size >= 50000 else 2000
        srt = np.sort(D_A)
        inner = srt[s - 1:D_A.size - s:s]       # D_A_sorted(s), (2s), ... <= n - s (1-based)
        return np.concatenate([[0.0], inner, [srt[-1]]]), D_A
    return np.array([0.0, 1.0]), np.ones(n)


def max_random(params, xy: np.ndarray, n_bins: int):
    """Allowed random-phase count (DENSITY, float32 as StaMPS) or percentage (PERCENT) per bin.

    ``xy`` (n, 2) float32 rotated local coordinates (m); the area is the bounding box in km^2.
    """
    method = str(params["select_method"]).strip().upper()
    if method == "DENSITY":
        xy = np.asarray(xy, dtype=np.float32)
        if xy.shape[0] == 0:
            return np.float32(0.0), "DENSITY"
        ext = (xy.max(axis=0) - xy.min(axis=0)).astype(np.float32)
        area = np.float32(np.float32(ext[0] * ext[1]) / np.float32(1e6))
        return np.float32(np.float32(params["density_rand"]) * area / np.float32(n_bins)), "DENSITY"
    if method == "PERCENT":
        return float(params["percent_rand"]), "PERCENT"
    raise StageError(f"select_method {params['select_method']!r} is not DENSITY or PERCENT")


# ----------------------------------------------------------------------------- thresholds
def polyfit_centered(x: np.ndarray, y: np.ndarray, deg: int):
    """MATLAB ``[p, S, mu] = polyfit(x, y, deg)``: returns (p highest power first, mu)."""
    x = np.asarray(x, dtype=np.float64)
    mu = (x.mean(), x.std(ddof=1))
    xs = (x - mu[0]) / mu[1]
    A = np.vander(xs, deg + 1)
    p = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)[0]
    return p, mu


def polyval_centered(p: np.ndarray, x, mu):
    """MATLAB ``polyval(p, x, [], mu)``; single precision when ``x`` is float32 (as MATLAB)."""
    if isinstance(x, np.floating) and x.dtype == np.float32 or \
            (isinstance(x, np.ndarray) and x.dtype == np.float32):
        f = np.float32
        xs = f(f(x - f(mu[0])) / f(mu[1]))
        y = f(p[0])
        for c in p[1:]:
            y = f(y * xs + f(c))
        return y
    xs = (np.asarray(x, dtype=np.float64) - mu[0]) / mu[1]
    y = np.full_like(xs, p[0])
    for c in p[1:]:
        y = y * xs + c
    return y


def bin_min_coh(coh: np.ndarray, Nr: np.ndarray, max_rand, mode: str, kernels) -> float:
    """Threshold of one D_A bin (K.5): the γ at which the expected random count reaches max_rand.

    ``coh`` the bin's γ values (zeros are left out, NaN is not counted), ``Nr`` (100,) the
    random-phase histogram of pm1.  Returns 1.0 when no bin qualifies and NaN when the
    qualifying bin is among the first three (no room for the cubic fit).
    """
    coh = np.asarray(coh, dtype=np.float64)
    Na = np.asarray(kernels.call("stage2_histogram", coh[coh != 0], COH_BINS), dtype=np.float64)
    Nr = np.asarray(Nr, dtype=np.float64)
    Nr = Nr * Na[:LOW_COH_BINS].sum() / Nr[:LOW_COH_BINS].sum()
    Na[Na == 0] = 1
    Nr_cum = np.cumsum(Nr[::-1])[::-1]
    if mode == "DENSITY":
        R = Nr_cum
    else:
        R = 100.0 * Nr_cum / np.cumsum(Na[::-1])[::-1]
    ok = np.flatnonzero(R < max_rand)
    if ok.size == 0:
        return 1.0
    b0 = int(ok[0]) + 1                       # 1-based bin number
    lo, hi = b0 - 3, min(b0 + 2, 100)
    if lo <= 0:
        return math.nan
    p, mu = polyfit_centered(R[lo - 1:hi], np.arange(lo, hi + 1) * 0.01, 3)
    return float(polyval_centered(p, max_rand, mu))


def gamma_threshold(coh: np.ndarray, D_A: np.ndarray, edges: np.ndarray, Nr: np.ndarray,
                    max_rand, mode: str, kernels, log, label: str):
    """Threshold T of C.3 step 4 for pixels with γ ``coh`` (n,) and ``D_A`` (n,).

    Returns ``(thr, coeffs)``: ``thr`` a float (constant threshold) or (n,) float64
    (linear in D_A), ``coeffs`` (1, 2) [slope, intercept] or (0, 0).
    """
    n_bins = edges.size - 1
    min_coh = np.full(n_bins, np.nan)
    da_mean = np.full(n_bins, np.nan)
    for i in range(n_bins):
        inb = (D_A > edges[i]) & (D_A <= edges[i + 1])
        da_mean[i] = D_A[inb].mean() if inb.any() else np.nan
        min_coh[i] = bin_min_coh(coh[inb], Nr, max_rand, mode, kernels)
    good = ~np.isnan(min_coh)
    coeffs = np.zeros((0, 0))
    if not good.any():
        log(f"ps_select: WARNING not enough random phase pixels to set the {label} gamma threshold"
            " - using the default threshold of 0.3")
        thr = 0.3
    elif good.sum() > 1:
        c = np.polyfit(da_mean[good], min_coh[good], 1)
        if c[0] > 0:
            thr = np.polyval(c, D_A)
            coeffs = c.reshape(1, 2)
            log(f"ps_select: {label} gamma threshold: {np.polyval(c, 0.15):.3f} at D_A=0.15 to "
                f"{np.polyval(c, 0.40):.3f} at D_A=0.40")
        else:
            thr = float(np.polyval(c, 0.35))
            log(f"ps_select: {label} gamma threshold: {thr:.3f}")
    else:
        thr = float(min_coh[good][0])
        log(f"ps_select: {label} gamma threshold: {thr:.3f}")
    if isinstance(thr, np.ndarray):
        thr = np.maximum(thr, 0.0)
    else:
        thr = max(thr, 0.0)
    return thr, coeffs


# ----------------------------------------------------------------------------- re-estimation
def window_starts(cell: np.ndarray, n: int, win: int) -> np.ndarray:
    """0-based window starts along one grid axis for 1-based cells (C.3 step 6).

    ``start = max(cell - win/2, 1)``; shifted to end at ``n`` when it runs past it.
    A negative result means the window does not fit (grid narrower than ``win``).
    """
    s = np.maximum(cell - win // 2, 1)
    over = s + win - 1 - n
    s = np.where(over > 0, s - over, s)
    return (s - 1).astype(np.int64)


def reestimated_patch_phase(ph_grid: np.ndarray, cells: np.ndarray, win: int, osf: int,
                            alpha: float, beta: float, low_pass: np.ndarray, filt=clap_filt_patch):
    """Patch phase P2 (n_cells, M) complex64 for unique 1-based ``cells`` (n_cells, 2).

    Per cell: the ``win`` x ``win`` window of ``ph_grid`` (n_i, n_j, M) around it with the
    cell itself zeroed in every ifg (and, for ``osf`` > 1, its +-(osf-1) neighbourhood in
    the first ifg only, as StaMPS), CLAP-filtered; P2 is the filtered value at the cell.
    Returns (P2, fits): ``fits`` (n_cells,) bool is False where the window does not fit
    the grid; those rows of P2 are 0. ``filt`` is the block filter (the
    ``stage3_clap_filt_patch`` kernel).
    """
    n_i, n_j, m = ph_grid.shape
    cells = np.asarray(cells, dtype=np.int64).reshape(-1, 2)
    i0 = window_starts(cells[:, 0], n_i, win)
    j0 = window_starts(cells[:, 1], n_j, win)
    fits = (i0 >= 0) & (j0 >= 0)
    P2 = np.zeros((cells.shape[0], m), dtype=np.complex64)
    grid = np.moveaxis(np.asarray(ph_grid, dtype=np.complex64), -1, 0)   # (M, n_i, n_j)
    ar = np.arange(win)
    todo = np.flatnonzero(fits)
    for s in range(0, todo.size, _CELL_BATCH):
        sel = todo[s:s + _CELL_BATCH]
        rows = i0[sel, None] + ar                                        # (c, win)
        cols = j0[sel, None] + ar
        blk = grid[:, rows[:, :, None], cols[:, None, :]]                # (M, c, win, win)
        blk = np.ascontiguousarray(np.moveaxis(blk, 0, 1))               # (c, M, win, win)
        oi = cells[sel, 0] - 1 - i0[sel]                                 # own cell in window
        oj = cells[sel, 1] - 1 - j0[sel]
        c_ix = np.arange(sel.size)
        blk[c_ix, :, oi, oj] = 0
        if osf > 1:
            for di in range(-(osf - 1), osf):
                for dj in range(-(osf - 1), osf):
                    ii, jj = oi + di, oj + dj
                    ok = (ii >= 0) & (ii < win) & (jj >= 0) & (jj < win)
                    blk[c_ix[ok], 0, ii[ok], jj[ok]] = 0
        out = filt(blk, alpha, beta, low_pass)
        P2[sel] = out[c_ix, :, oi, oj].astype(np.complex64)
    return P2, fits


def _fft_workers(kernels) -> int:
    """FFT threads for the batched CLAP windows: the runtime's ``cpu_workers`` (0 = all allowed)."""
    rt = getattr(kernels, "runtime", None)
    return resolve_workers(int(getattr(rt, "cpu_workers", 0) or 0))


def reestimate(ph: np.ndarray, bperp_mat: np.ndarray, cells: np.ndarray, pm1, ifg0: np.ndarray,
               params, kernels, log):
    """Re-estimate K, C, γ for the selected pixels (C.3 step 6).

    ``ph`` (n0, M) complex64 (master removed), ``bperp_mat`` (n0, M) float32, ``cells``
    (n0, 2) 1-based grid cells, ``ifg0`` 0-based used columns.  Returns
    (ph_patch2 (n0, M) c64, ph_res2 (n0, M) f32, K2, C2, coh2 (n0,) f64).
    """
    n0, m = ph.shape
    win = int(params["clap_win"])
    osf = int(round(float(params["slc_osf"])))
    ph_grid = np.asarray(pm1["ph_grid"])
    if ph_grid.ndim == 2:
        ph_grid = ph_grid[:, :, None]
    ucells, inv = np.unique(cells, axis=0, return_inverse=True)
    inv = inv.ravel()
    with sfft.set_workers(_fft_workers(kernels)):
        P2u, fits = kernels.call("stage3_patch_phase", ph_grid, ucells, win, osf, float(params["clap_alpha"]),
                                 float(params["clap_beta"]), np.asarray(pm1["low_pass"]))
    if not fits.all():
        n_i, n_j = ph_grid.shape[:2]
        log(f"ps_select: WARNING grid {n_i} x {n_j} cells is narrower than the {win}-cell window "
            f"for {int((~fits[inv]).sum())} of {n0} pixels: their patch phase is 0 and they are rejected")
    ph_patch2 = P2u[inv]
    K2 = np.full(n0, np.nan)
    C2 = np.zeros(n0)
    coh2 = np.full(n0, np.nan)
    ph_res2 = np.zeros((n0, m), dtype=np.float32)
    d = (ph.astype(np.complex64) * np.conj(ph_patch2)).astype(np.complex64)
    good = np.flatnonzero((d != 0).all(axis=1))
    if good.size:
        dg = d[good][:, ifg0]
        dg = (dg / np.abs(dg)).astype(np.complex64)
        K, C, coh, res = kernels.call("stage2_topofit", dg, bperp_mat[good][:, ifg0],
                                      _scalar(pm1["n_trial_wraps"]))
        K2[good], C2[good], coh2[good] = K, C, coh
        ph_res2[np.ix_(good, ifg0)] = res
    return ph_patch2, ph_res2, K2, C2, coh2


# ----------------------------------------------------------------------------- stage
def run(inputs, params, kernels, *, log=None):
    """ps_select: returns ``{"select1": {...}}`` with StaMPS' variables (spec C.0)."""
    say = log or (lambda msg: None)
    ps1, ph1, pm1, bp1 = (inputs[k] for k in READS)
    if str(params["small_baseline_flag"]).strip().lower() == "y":
        raise StageError("ps_select: small_baseline_flag='y' is not supported (single master only)")
    if float(params["gamma_stdev_reject"]) > 0:
        raise StageError("ps_select: gamma_stdev_reject > 0 is not supported (the StaMPS bootstrap "
                         "path is broken, spec J.24); set it to 0")
    reest_flag = 0 if (params.flag("select_reest_gamma_flag") and params.flag("quick_est_gamma_flag")) else 1

    n = int(_scalar(ps1["n_ps"]))
    N = int(_scalar(ps1["n_ifg"]))
    master = int(_scalar(ps1["master_ix"]))
    ifg_index = select_ifg_index(N, master, params.index_list("drop_ifg_index"))
    ifg0 = ifg_index - 1
    coh_ps = _col(pm1["coh_ps"]).astype(np.float64)
    K_ps = _col(pm1["K_ps"]).astype(np.float64)
    Nr = _col(pm1["Nr"]).astype(np.float64)
    if coh_ps.size != n:
        raise StageError(f"pm1.coh_ps has {coh_ps.size} rows, ps1.n_ps is {n}")
    da = inputs.get("da1")
    D_A_in = _col(da["D_A"]).astype(np.float64) if da is not None else None
    edges, D_A = da_bin_edges(D_A_in, n)
    n_bins = edges.size - 1
    max_rand, mode = max_random(params, np.asarray(ps1["xy"])[:, 1:3], n_bins)

    thr, coeffs = gamma_threshold(coh_ps, D_A, edges, Nr, max_rand, mode, kernels, say, "initial")
    ix = np.flatnonzero(coh_ps > thr)
    say(f"ps_select: {ix.size} of {n} candidates selected initially")

    if reest_flag == 1:
        pm_patch = np.asarray(pm1["ph_patch"])
        out_thr = np.broadcast_to(np.asarray(thr, dtype=np.float64), (n,)).reshape(-1, 1).copy()
        sel = _assemble(ix, np.ones(ix.size, dtype=bool), pm_patch[ix],
                        np.asarray(pm1["ph_res"])[ix], K_ps[ix], _col(pm1["C_ps"])[ix], coh_ps[ix],
                        out_thr, coeffs, max_rand, ifg_index, params)
        return {"select1": sel}

    ph = np.delete(np.asarray(ph1["ph"]), master - 1, axis=1)[ix]
    bperp_mat = np.asarray(bp1["bperp_mat"])[ix]
    cells = np.asarray(pm1["grid_ij"]).astype(np.int64)[ix]
    ph_patch2, ph_res2, K2, C2, coh2 = reestimate(ph, bperp_mat, cells, pm1, ifg0, params, kernels, say)

    coh_all = coh_ps.copy()
    coh_all[ix] = coh2                     # γ2 replaces γ for the selected pixels (NaN not counted)
    thr2, coeffs2 = gamma_threshold(coh_all, D_A, edges, Nr, max_rand, mode, kernels, say,
                                    "re-estimated")
    if np.ndim(thr2):
        thr2 = thr2[ix]                    # evaluated at D_A(ix)
    bperp = np.delete(_col(ps1["bperp"]).astype(np.float64), master - 1)
    k_tol = 2 * math.pi / (bperp.max() - bperp.min()) if bperp.size else math.inf
    with np.errstate(invalid="ignore"):
        keep = (coh2 > thr2) & (np.abs(K_ps[ix] - K2) < k_tol)
    say(f"ps_select: {int(keep.sum())} of {ix.size} pixels kept after re-estimation")
    if ix.size and not keep.any():
        say("ps_select: no PS left after selection")
    thr_out = np.asarray(thr2, dtype=np.float64).reshape(-1, 1) if np.ndim(thr2) else \
        np.array([[float(thr2)]])
    sel = _assemble(ix, keep, ph_patch2, ph_res2, K2, C2, coh2, thr_out, coeffs2, max_rand,
                    ifg_index, params)
    return {"select1": sel}


def _assemble(ix, keep, ph_patch2, ph_res2, K2, C2, coh2, coh_thresh, coeffs, max_rand,
              ifg_index, params) -> dict:
    """select1 variables in StaMPS' order, names, shapes and dtypes."""
    return {
        "ix": (ix + 1).astype(np.float64).reshape(-1, 1),
        "keep_ix": np.asarray(keep, dtype=bool).reshape(-1, 1).astype(np.uint8),
        "ph_patch2": np.asarray(ph_patch2, dtype=np.complex64),
        "ph_res2": np.asarray(ph_res2, dtype=np.float32),
        "K_ps2": np.asarray(K2, dtype=np.float64).reshape(-1, 1),
        "C_ps2": np.asarray(C2, dtype=np.float64).reshape(-1, 1),
        "coh_ps2": np.asarray(coh2, dtype=np.float64).reshape(-1, 1),
        "coh_thresh": np.asarray(coh_thresh, dtype=np.float64),
        "coh_thresh_coeffs": np.asarray(coeffs, dtype=np.float64),
        "clap_alpha": np.array([[float(params["clap_alpha"])]]),
        "clap_beta": np.array([[float(params["clap_beta"])]]),
        "n_win": np.array([[float(params["clap_win"])]]),
        "max_percent_rand": np.array([[max_rand]], dtype=np.asarray(max_rand).dtype),
        "gamma_stdev_reject": np.array([[float(params["gamma_stdev_reject"])]]),
        "small_baseline_flag": np.array([str(params["small_baseline_flag"])]),
        "ifg_index": ifg_index.astype(np.float64).reshape(1, -1),
    }
