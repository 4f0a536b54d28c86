"""Step 1, ``ps_load_initial_gamma`` (snap / gamma flavour): read a patch's candidates (spec C.1.2, C.1.3).

Inputs: the root's ``rsc.txt`` -> master ``.rslc.par``, ``pscphase.in`` (dates from the
``<master>_<slave>.diff`` names, one ``.base`` file per interferogram), and the patch's
``pscands.1.*`` (``.ph``, ``.ll``, ``.hgt`` big-endian).  Outputs: the stage-1 artifacts
``ps1 ph1 bp1 la1 da1 hgt1`` with StaMPS' variables.  Differences from the DORIS loader
(:mod:`pystamps_batch.stages.load`), as StaMPS has them:

* no amplitude calibration (raw amplitudes in ``ph``), no ``calconst`` / ``day_ix``;
* per-pixel baselines from the TCN baselines and rates of the ``.base`` files and the
  spherical look angle of the slant range; ``bperp`` = column means (single);
* ``la1`` holds the **incidence** angle; ``ps1`` adds ``mean_incidence`` and ``mean_range``;
* rows with a NaN in lon/lat or phase are dropped after sorting (``sort_ix`` keeps the
  full permutation, as in StaMPS).

Deliberate fixes of StaMPS defects (J.25): a null master-master interferogram listed in
pscphase.in is dropped (StaMPS gives inconsistent ``day``/``ph``/``bperp``), and a
master that is the latest date is appended (StaMPS errors).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..dataset import mtprep
from ..dataset import snap as snapfmt
from ..dataset.layout import Dataset, Patch
from ..errors import InputError
from ..geo import bbox_centre, llh2local, local_xy, rotate_to_heading, sort_and_round
from ..matlab import datenum, sum_single

WRITES = ("ps1", "ph1", "bp1", "la1", "da1", "hgt1")

#: Byte order of pscands.1.ph / .ll / .hgt read by ps_load_initial_gamma (endian 'b').
BIG = ">"


def slant_geometry(par: snapfmt.RslcPar, rg: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slant range r (m), look angle θ and incidence ι (rad) of 0-based range pixels ``rg`` (n,),
    float64, on the sphere of the .rslc.par (C.1.2 step 4)."""
    rs, re = par.sar_to_earth_center, par.earth_radius_below_sensor
    r = par.near_range_slc + np.asarray(rg, dtype=np.float64) * par.range_pixel_spacing
    look = np.arccos((rs ** 2 + r ** 2 - re ** 2) / (2.0 * rs * r))
    inc = np.arccos((rs ** 2 - re ** 2 - r ** 2) / (2.0 * re * r))
    return r, look, inc


def pixel_bperp(par: snapfmt.RslcPar, az: np.ndarray, look: np.ndarray,
                baselines: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per-pixel perpendicular baselines (n, n_ifg) float32 (C.1.2 step 5).

    ``baselines[i]`` = ((T, C, N), (Ṫ, Ċ, Ṅ)) of interferogram i; with
    ``τ = (az - (N_az/2 - 0.5)) / prf``: ``B = (C + Ċτ) cos θ - (N + Ṅτ) sin θ``
    evaluated in double and stored in single.
    """
    tau = (np.asarray(az, dtype=np.float64) - (par.azimuth_lines / 2.0 - 0.5)) / par.prf
    c, s = np.cos(look), np.sin(look)
    out = np.empty((tau.size, len(baselines)), dtype=np.float32)
    for i, (b, br) in enumerate(baselines):
        out[:, i] = (b[1] + br[1] * tau) * c - (b[2] + br[2] * tau) * s
    return out


def mean_single(x: np.ndarray) -> np.ndarray:
    """MATLAB ``mean`` of a single n x k matrix along the rows: sequential single sum / n, (k,) float32."""
    n = x.shape[0]
    return (sum_single(x, axis=0) / np.float32(n)).astype(np.float32)


def local_xy_nan(lonlat: np.ndarray, heading: float):
    """:func:`pystamps_batch.geo.local_xy` for lon/lat with NaN rows.

    As MATLAB's ``max``/``min`` ignore NaN, the bounding-box centre and the rotation test
    use the finite rows only; NaN rows get NaN xy and sort last (``sortrows``).
    Returns (ll0, order, xy n x 3 float32 [id, x, y]).
    """
    fin = np.all(np.isfinite(lonlat), axis=1)
    if fin.all():
        return local_xy(lonlat, heading)
    if not fin.any():
        raise InputError("every candidate has NaN coordinates")
    ll0 = bbox_centre(lonlat[fin])
    xy = np.full((lonlat.shape[0], 2), np.nan)
    xy[fin] = rotate_to_heading(llh2local(lonlat[fin], ll0), heading)
    order, xyr = sort_and_round(xy)
    ids = np.arange(1, len(order) + 1, dtype=np.float32)
    return ll0, order, np.column_stack([ids, xyr]).astype(np.float32)


def _read_phase(pdir, n: int, stack: snapfmt.SnapStack) -> np.ndarray:
    """pscands.1.ph (big-endian, one block of n complex per pscphase.in line) -> n x M
    complex64 of the real interferograms (a null interferogram's block is skipped)."""
    nb = stack.n_blocks
    raw = mtprep.read_binary(pdir / "pscands.1.ph", BIG + "f4", 2 * n * nb,
                             f"{n} candidates x {nb} ifgs x complex64")
    ph = raw.astype("<f4").view(np.complex64).reshape(nb, n).T
    return np.ascontiguousarray(ph[:, stack.used])


def run(ds: Dataset, patch: Patch, params: Any, *, log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Load one patch (snap / gamma flavour). Returns {artifact: {variable: array}}."""
    pdir = patch.path
    stack = ds.stack
    if stack is None:
        raise InputError(f"{ds.root / 'pscphase.in'}: file not found")
    res = ds.resolver(log)
    par = ds.rslc_par(res)
    for note in stack.notes:
        if log:
            log(note)
    baselines = [snapfmt.read_base(res.resolve(stack.entries[i].base_recorded, ds.root / "pscphase.in",
                                               "baseline file")) for i in stack.used]
    m, M = stack.master_pos, len(stack.used)
    N = M + 1

    ij = mtprep.read_ij(pdir / "pscands.1.ij")
    n = ij.shape[0]
    if n == 0:
        raise InputError(f"{pdir / 'pscands.1.ij'}: no candidates in this patch")
    _, look, inc = slant_geometry(par, ij[:, 2])
    bperp_mat = pixel_bperp(par, ij[:, 1], look, baselines)
    bperp = np.insert(mean_single(bperp_mat), m, np.float32(0)).astype(np.float32)
    mean_incidence = float(np.cumsum(inc)[-1] / n)        # Octave's mean: sequential double sum / n

    ph = _read_phase(pdir, n, stack)
    ph = np.insert(ph, m, np.complex64(1), axis=1).astype(np.complex64)
    lonlat = mtprep.read_binary(pdir / "pscands.1.ll", BIG + "f4", 2 * n,
                                f"{n} (lon, lat) float32 pairs").reshape(n, 2).astype(np.float64)
    ll0, order, xy = local_xy_nan(lonlat, par.heading)
    ph, ij, lonlat, bperp_mat, inc = ph[order], ij[order].copy(), lonlat[order], bperp_mat[order], inc[order]
    da_f = pdir / "pscands.1.da"
    D_A = mtprep.read_numbers(da_f, expect=n, what="D_A values")[order] if da_f.is_file() else np.ones(n)
    hgt_f = pdir / "pscands.1.hgt"
    hgt = (mtprep.read_binary(hgt_f, BIG + "f4", n, f"{n} heights float32").astype(np.float64)[order]
           if hgt_f.is_file() else np.zeros(n))     # as the DORIS loader: defaults when absent

    keep = np.all(np.isfinite(lonlat), axis=1) & np.all(np.isfinite(ph), axis=1)
    n_keep = int(keep.sum())
    if n_keep == 0:
        raise InputError(f"{pdir}: every candidate has NaN coordinates or phase")
    if n_keep < n and log:
        log(f"{patch.name}: dropped {n - n_keep} candidate(s) with NaN lon/lat or phase")
    ij, xy, lonlat, ph, bperp_mat, inc = ij[keep], xy[keep], lonlat[keep], ph[keep], bperp_mat[keep], inc[keep]
    ids = np.arange(1, n_keep + 1)
    ij[:, 0] = ids
    xy[:, 0] = ids.astype(np.float32)

    ps1 = {
        "ij": ij.astype(np.float64),
        "lonlat": lonlat,
        "xy": xy,
        "bperp": bperp.reshape(-1, 1),
        "day": stack.days().reshape(-1, 1),
        "master_day": np.array([[datenum(stack.master)]]),
        "master_ix": np.array([[m + 1.0]]),
        "n_ifg": np.array([[float(N)]]),
        "n_image": np.array([[float(N)]]),
        "n_ps": np.array([[float(n_keep)]]),
        "sort_ix": (order + 1.0).reshape(-1, 1),
        "ll0": np.asarray(ll0, dtype=np.float64).reshape(1, 2),
        "mean_incidence": np.array([[mean_incidence]]),
        "mean_range": np.array([[par.center_range_slc]]),
    }
    out = {
        "ps1": ps1,
        "ph1": {"ph": ph},
        "bp1": {"bperp_mat": bperp_mat},
        "la1": {"la": inc.reshape(-1, 1)},
        "da1": {"D_A": D_A[keep].reshape(-1, 1)},
        "hgt1": {"hgt": hgt[keep].reshape(-1, 1)},
    }
    if log:
        log(f"{patch.name}: loaded {n_keep} candidates, {N} images (master {stack.master}, {ds.flavour} flavour)")
    return out
