"""Step 2: phase-noise (gamma) estimation, StaMPS ``ps_est_gamma_quick`` (spec C.2, K.3).

Iteratively: grid the weighted phase of every candidate (cells of ``filter_grid_size`` m),
CLAP-filter the grids to get each pixel's "patch" phase, fit the look-angle error K per pixel
against the patch-phase residual (``ps_topofit``), and re-weight the pixels from their
coherence gamma (P-square weights against a random-phase reference), until the rms change of
gamma stabilises.

Inputs (patch): ``ps1`` (xy, bperp, master_ix), ``ph1`` (ph n x N), ``bp1`` (bperp_mat n x M);
optional ``da1`` (D_A, initial weights 1/D_A), ``la1`` / ``inc1`` (mean incidence).
Output: ``pm1`` with StaMPS' variables (spec C.0). The master column is removed everywhere
(M = N - 1 interferograms) and ``drop_ifg_index`` is deliberately not applied.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import StageError
from ..filters.clap import low_pass_filter
from ..matlab import COH_BINS
from .gamma_weights import psquare_weights, random_phase_reference, snr_weights

READS = ("ps1", "ph1", "bp1")
OPTIONAL = ("da1", "la1", "inc1")
WRITES = ("pm1",)

#: Slant range used by StaMPS to convert max_topo_err into K (m).
RHO = 830000.0
#: Default mean incidence when neither inc1 nor la1 exists (rad).
DEFAULT_INCIDENCE = 21.0 * math.pi / 180.0
#: la1 holds the look angle; StaMPS adds ~3 degrees to get the incidence (rad).
LOOK_TO_INCIDENCE = 0.052


def _log(log, msg: str) -> None:
    if log is not None:
        log(msg)


def _column(d: dict, var: str, name: str) -> np.ndarray:
    if var not in d:
        raise StageError(f"{name}.mat has no variable {var!r}")
    return np.asarray(d[var])


def mean_incidence(inputs: dict) -> float:
    """Mean incidence angle (rad): non-zero mean of inc1, else mean(la1) + 0.052, else 21 deg."""
    inc = inputs.get("inc1")
    if inc is not None and "inc" in inc:
        v = np.asarray(inc["inc"], dtype=np.float64).ravel()
        v = v[v != 0]
        if v.size:
            return float(v.mean())
    la = inputs.get("la1")
    if la is not None and "la" in la:
        return float(np.mean(np.asarray(la["la"], dtype=np.float64))) + LOOK_TO_INCIDENCE
    return DEFAULT_INCIDENCE


def trial_wraps(bperp: np.ndarray, max_topo_err: float, wavelength: float, incidence: float):
    """``n_trial_wraps = range(B) * K_max / (2 pi)``, ``K_max = max_topo_err / (lambda rho sin(inc) / (4 pi))``.

    Returns a NumPy scalar of ``bperp``'s precision (float32 when ps1.bperp is single, as in
    StaMPS' mixed-precision arithmetic; float64 otherwise).
    """
    k_max = max_topo_err / (wavelength * RHO * math.sin(incidence) / (4.0 * math.pi))
    bperp = np.asarray(bperp)
    if bperp.dtype == np.float32:
        rng = bperp.max() - bperp.min()
        return np.float32(np.float32(rng * np.float32(k_max)) / np.float32(2.0 * math.pi))
    return np.float64((bperp.max() - bperp.min()) * k_max / (2.0 * math.pi))


def grid_indices(xy: np.ndarray, grid_size: float) -> np.ndarray:
    """1-based cell indices (n, 2) float32 [row (y), column (x)] as StaMPS computes them (C.2.1).

    ``ceil((c - min c + 1e-6) / grid_size)`` in float32; the last row/column index is merged
    into the previous one.
    """
    out = np.empty((xy.shape[0], 2), dtype=np.float32)
    for k, col in enumerate((2, 1)):
        c = np.asarray(xy[:, col], dtype=np.float32)
        g = np.ceil((c - c.min() + np.float32(1e-6)) / np.float32(grid_size)).astype(np.float32)
        gmax = g.max()
        g[g == gmax] = gmax - 1
        out[:, k] = g
    return out


def _check_inputs(ph: np.ndarray, bperp_mat: np.ndarray, n_ifg: int) -> None:
    n = ph.shape[0]
    nan = int(np.count_nonzero(np.isnan(ph)))
    if nan:
        raise StageError(f"ph1 holds {nan} NaN phase values; cannot estimate gamma")
    if bperp_mat.shape != (n, n_ifg):
        raise StageError(f"bp1.bperp_mat has shape {bperp_mat.shape}, expected ({n}, {n_ifg})")


class _Setup:
    """Everything the iteration needs, derived once from the inputs and parameters."""

    def __init__(self, inputs: dict, params):
        ps, ph1, bp1 = inputs["ps1"], inputs["ph1"], inputs["bp1"]
        ph = _column(ph1, "ph", "ph1")
        if ph.ndim != 2 or ph.shape[0] == 0 or ph.shape[1] == 0:
            raise StageError(f"no PS candidates in ph1 (ph has shape {ph.shape}): nothing to estimate")
        n, n_all = ph.shape
        master_ix = int(np.asarray(_column(ps, "master_ix", "ps1")).ravel()[0])
        if not 1 <= master_ix <= n_all:
            raise StageError(f"ps1.master_ix = {master_ix} is outside 1..{n_all} (columns of ph1.ph)")
        keep = np.arange(n_all) != master_ix - 1
        bperp_mat = np.asarray(_column(bp1, "bperp_mat", "bp1"), dtype=np.float32)
        _check_inputs(ph, bperp_mat, int(keep.sum()))
        ph = ph[:, keep].astype(np.complex64)
        amp = np.abs(ph)
        amp[amp == 0] = 1
        self.amp = amp                                          # (n, M) float32
        self.psi = (ph / amp).astype(np.complex64)              # unit phasors or 0
        self.bperp_mat = bperp_mat
        bperp = np.asarray(ps["bperp"]).ravel()[keep]
        self.bperp = bperp.astype(np.float32 if bperp.dtype == np.float32 else np.float64)
        self.n, self.m = self.psi.shape
        self.row_invariant = bool(np.all(bperp_mat == bperp_mat[:1]))

        self.grid_size = float(params["filter_grid_size"])
        xy = np.asarray(_column(ps, "xy", "ps1"), dtype=np.float32)
        if xy.ndim != 2 or xy.shape[0] != n or xy.shape[1] < 3:
            raise StageError(f"ps1.xy has shape {xy.shape}, expected ({n}, 3) for the {n} candidates of ph1")
        self.grid_ij = grid_indices(xy, self.grid_size)
        gi = self.grid_ij[:, 0].astype(np.int64) - 1
        gj = self.grid_ij[:, 1].astype(np.int64) - 1
        self.n_i, self.n_j = int(gi.max()) + 1, int(gj.max()) + 1
        clap_win = int(params["clap_win"])
        self.n_win = int(round(clap_win * 0.75))
        self.n_pad = int(round(clap_win * 0.25))
        min_cells = self.n_win
        if self.n_i < min_cells or self.n_j < min_cells:
            raise StageError(
                f"patch grid is {self.n_i} x {self.n_j} cells of {self.grid_size:g} m; CLAP needs at least "
                f"{min_cells} x {min_cells} (about {min_cells * self.grid_size / 1000:.1f} km in each direction)")
        self.gi, self.gj = gi, gj
        self.cell = gi * self.n_j + gj

        da = inputs.get("da1")
        if da is not None and "D_A" in da:
            d_a = np.asarray(da["D_A"], dtype=np.float64).ravel()
            if d_a.size != n:
                raise StageError(f"da1.D_A has {d_a.size} values for {n} candidates")
            self.weights0 = 1.0 / d_a
        else:
            self.weights0 = np.ones(self.n)

        self.low_pass = low_pass_filter(self.grid_size, clap_win, float(params["clap_low_pass_wavelength"]))
        lam = float(params["lambda"])
        if not np.isfinite(lam):
            raise StageError("parameter 'lambda' (radar wavelength) is not set")
        self.n_trial_wraps = trial_wraps(self.bperp, float(params["max_topo_err"]), lam, mean_incidence(inputs))
        self.alpha = float(params["clap_alpha"])
        self.beta = float(params["clap_beta"])
        self.psquare = str(params["filter_weighting"]) == "P-square"
        self.conv = float(params["gamma_change_convergence"])
        self.max_it = int(params["gamma_max_iterations"])


def _patch_phase(s: _Setup, K: np.ndarray, weights: np.ndarray, kernels):
    """Weighted gridding + CLAP: returns (ph_weight (n,M) c64, ph_grid (n_i,n_j,M) c64, ph_patch (n,M) c64)."""
    phase = (s.bperp_mat * K.astype(np.float32)[:, None]).astype(np.float32)
    ph_weight = (s.psi * np.exp(-1j * phase).astype(np.complex64)
                 * weights.astype(np.float32)[:, None]).astype(np.complex64)
    cells = kernels.call("stage2_grid_accumulate", ph_weight, s.cell, s.n_i * s.n_j)
    ph_grid = np.asarray(cells, dtype=np.complex64).reshape(s.n_i, s.n_j, s.m)
    filt = kernels.call("stage2_clap_filter", ph_grid, s.alpha, s.beta, s.n_win, s.n_pad,
                        s.low_pass).astype(np.complex64)
    patch = filt[s.gi, s.gj, :]
    mag = np.abs(patch)
    ph_patch = np.where(mag != 0, patch / np.where(mag != 0, mag, 1), 0).astype(np.complex64)
    return ph_weight, ph_grid, ph_patch


def _fit(s: _Setup, ph_patch: np.ndarray, kernels):
    """Topofit of psi * conj(patch) for pixels with no zero value; returns (rows, K, C, coh, ph_res)."""
    d = (s.psi * np.conj(ph_patch)).astype(np.complex64)
    rows = np.flatnonzero(np.all(d != 0, axis=1))
    if s.row_invariant:
        out = kernels.call("stage2_topofit_row_invariant", d[rows], s.bperp_mat[0], float(s.n_trial_wraps))
    else:
        out = kernels.call("stage2_topofit", d[rows], s.bperp_mat[rows], float(s.n_trial_wraps))
    return (rows,) + tuple(out)


def run(inputs, params, kernels, *, log=None):
    """Estimate gamma, K and the patch phase of every candidate; returns ``{"pm1": {...}}`` (spec C.0)."""
    s = _Setup(inputs, params)
    _log(log, f"gamma: {s.n} candidates, {s.m} ifgs, grid {s.n_i} x {s.n_j}, "
              f"n_trial_wraps {s.n_trial_wraps:.4f}")
    nr, nr_max_nz_ix = random_phase_reference(s.bperp, float(s.n_trial_wraps), kernels)

    n, m = s.n, s.m
    K = np.zeros(n)
    C = np.zeros(n)
    coh = np.zeros(n)
    n_opt = np.zeros(n)
    ph_res = np.zeros((n, m), dtype=np.float32)
    weights = s.weights0
    coh_save = np.zeros(n)
    change_save = 0.0
    i_loop = 1
    while True:
        ph_weight, ph_grid, ph_patch = _patch_phase(s, K, weights, kernels)
        rows, k_r, c_r, coh_r, res_r = _fit(s, ph_patch, kernels)
        bad = np.ones(n, dtype=bool)
        bad[rows] = False
        K[bad] = np.nan
        coh[bad] = 0.0
        K[rows], C[rows], coh[rows] = k_r, c_r, coh_r
        ph_res[rows] = res_r
        n_opt[rows] = 1.0
        change = math.sqrt(float(np.sum((coh - coh_save) ** 2)) / n)
        change_change = change - change_save
        change_save = change
        coh_save = coh.copy()
        _log(log, f"gamma: iteration {i_loop}, rms change {change:.6f}, change of change {change_change:.6f}")
        if abs(change_change) < s.conv or i_loop >= s.max_it:
            break
        i_loop += 1
        if s.psquare:
            weights, nr = psquare_weights(coh, nr, nr_max_nz_ix, kernels)
        else:
            weights = snr_weights(s.amp, ph_res)

    col = lambda v: np.asarray(v, dtype=np.float64).reshape(-1, 1)  # noqa: E731
    scalar = lambda v: np.array([[float(v)]])  # noqa: E731
    return {"pm1": {
        "ph_patch": ph_patch,
        "K_ps": col(K), "C_ps": col(C), "coh_ps": col(coh), "N_opt": col(n_opt),
        "ph_res": ph_res,
        "step_number": scalar(1),
        "ph_grid": ph_grid,
        "n_trial_wraps": np.array([[s.n_trial_wraps]], dtype=np.asarray(s.n_trial_wraps).dtype),
        "grid_ij": s.grid_ij,
        "grid_size": scalar(s.grid_size),
        "low_pass": s.low_pass,
        "i_loop": scalar(i_loop),
        "ph_weight": ph_weight,
        "Nr": np.asarray(nr, dtype=np.float64).reshape(1, -1),
        "Nr_max_nz_ix": scalar(nr_max_nz_ix),
        "coh_bins": COH_BINS.reshape(1, -1).copy(),
        "coh_ps_save": col(coh_save),
        "gamma_change_save": scalar(change_save),
    }}
