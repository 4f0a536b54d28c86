"""Step 1, ``ps_load_initial`` (DORIS flavour): read a patch's candidates (spec C.1.1, C.1.3).

Inputs are the mt_prep files of the dataset root and the patch folder; outputs are
the stage-1 artifacts ``ps1 ph1 bp1 la1 da1 hgt1`` with StaMPS' variables:
pixels sorted by local y then x, dates sorted with the master column inserted,
phases divided by the slaves' amplitude calibration constants.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..dataset import mtprep
from ..dataset.layout import Dataset, Patch
from ..errors import InputError
from ..geo import local_xy
from ..matlab import datenum

WRITES = ("ps1", "ph1", "bp1", "la1", "da1", "hgt1")


class GridInterpolator:
    """Linear interpolation of 50 x 50 grids on linspace(0, len) x linspace(0, width) at fixed
    points, as MATLAB ``griddata(..., 'linear')`` on the grid's triangulation: the cells of a
    rectangular grid are split along one fixed diagonal, (i, j)-(i+1, j+1), and a point takes
    the linear interpolant of the triangle that holds it (NaN outside the grid).

    A Delaunay triangulation of a rectangular grid is degenerate (every cell is cocircular),
    so which diagonal qhull or MATLAB picks is decided by round-off and differs between
    libraries, versions and CPUs; the interpolated values then differ by an ulp or two.
    A fixed diagonal gives the same values everywhere (and equals the native runner's
    ``pystamps_core::stages::load::GridInterp`` bit for bit); against StaMPS' ``la`` it agrees
    within 5.5e-16 relative, as the qhull split did. The weights are computed once and
    applied to every grid (look angle and each interferogram's baselines).
    """

    def __init__(self, width: int, length: int, rg: np.ndarray, az: np.ndarray, shape=(50, 50)):
        gx = np.linspace(0, width, shape[1])
        gy = np.linspace(0, length, shape[0])
        x = np.asarray(rg, dtype=np.float64)
        y = np.asarray(az, dtype=np.float64)
        self.inside = (x >= 0) & (x <= width) & (y >= 0) & (y <= length)
        x, y = x[self.inside], y[self.inside]
        self.n = self.inside.size
        j = np.clip(np.searchsorted(gx, x, side="right") - 1, 0, shape[1] - 2)
        i = np.clip(np.searchsorted(gy, y, side="right") - 1, 0, shape[0] - 2)
        self.i, self.j = i, j
        self.u = (x - gx[j]) / (gx[j + 1] - gx[j])
        self.v = (y - gy[i]) / (gy[i + 1] - gy[i])
        self.upper = self.u >= self.v

    def __call__(self, grid: np.ndarray) -> np.ndarray:
        g = np.asarray(grid, dtype=np.float64)
        i, j, u, v = self.i, self.j, self.u, self.v
        g00, g11, g01, g10 = g[i, j], g[i + 1, j + 1], g[i, j + 1], g[i + 1, j]
        out = np.full(self.n, np.nan)
        out[self.inside] = np.where(self.upper, g00 + u * (g01 - g00) + v * (g11 - g01),
                                    g00 + v * (g10 - g00) + u * (g11 - g10))
        return out


def read_dates(ds: Dataset) -> dict[str, Any]:
    """Date bookkeeping of C.1.1 steps 1-2: sorted days with the master inserted."""
    slave_dn = np.array([datenum(d) for d in ds.slave_days])
    day_ix = np.argsort(slave_dn, kind="stable")
    master_dn = datenum(ds.master_day)
    sorted_dn = slave_dn[day_ix]
    m = int(np.sum(sorted_dn < master_dn))            # 0-based master position
    day = np.insert(sorted_dn, m, master_dn)
    bperp_in = mtprep.read_numbers(ds.root / "bperp.1.in", expect=ds.n_ifg, what="baselines")
    bperp = np.insert(bperp_in[day_ix], m, 0.0)
    return {"day": day, "day_ix": day_ix, "master_day": master_dn, "m": m, "bperp": bperp,
            "slave_sorted": [ds.slave_days[i] for i in day_ix]}


def calibration(ds: Dataset, slave_sorted: list[str]) -> np.ndarray:
    """calconst (M,) in slave date order from calamp.out; ones if the file is absent."""
    f = ds.root / "calamp.out"
    if not f.is_file():
        return np.ones(len(slave_sorted))
    by_date: dict[str, float] = {}
    for path, c in mtprep.read_calamp(f):
        d = mtprep.calamp_date(path)
        if d is not None:
            by_date[d] = c
    out = []
    for d in slave_sorted:
        if d not in by_date:
            raise InputError(f"{f}: no calibration constant for {d}")
        if by_date[d] == 0:
            raise InputError(f"{f}: calibration constant of {d} is 0")
        out.append(by_date[d])
    return np.array(out)


def run(ds: Dataset, patch: Patch, params: Any, *, log: Callable[[str], None] | None = None) -> dict[str, dict[str, Any]]:
    """Load one patch (DORIS flavour). Returns {artifact: {variable: array}}."""
    pdir = patch.path
    dates = read_dates(ds)
    m, M = dates["m"], ds.n_ifg
    calconst = calibration(ds, dates["slave_sorted"])
    ij = mtprep.read_ij(pdir / "pscands.1.ij")
    n = ij.shape[0]
    if n == 0:
        raise InputError(f"{pdir / 'pscands.1.ij'}: no candidates in this patch")
    raw = mtprep.read_binary(pdir / "pscands.1.ph", "<f4", 2 * n * M, f"{n} candidates x {M} ifgs x complex64")
    ph = raw.view("<c8").reshape(M, n).T.astype(np.complex64)          # ifg-major file -> n x M
    # MATLAB divides a complex single by a real scalar part-wise in single precision
    # (numpy's complex64 / float32 is a complex division and differs in the last bit)
    c32 = calconst.astype(np.float32)[None, :]
    ph = ph[:, dates["day_ix"]]
    ph = (ph.real / c32) + 1j * (ph.imag / c32)
    ph = ph.astype(np.complex64)
    bad = ~np.isfinite(ph)
    if bad.any():
        raise InputError(f"{pdir / 'pscands.1.ph'}: {int(bad.sum())} NaN/Inf phase values "
                         f"(first at candidate {int(np.argwhere(bad)[0][0]) + 1})")
    ph = np.insert(ph, m, np.complex64(1), axis=1).astype(np.complex64)
    lonlat = mtprep.read_binary(pdir / "pscands.1.ll", "<f4", 2 * n, f"{n} (lon, lat) float32 pairs")
    lonlat = lonlat.reshape(n, 2).astype(np.float64)
    if not np.all(np.isfinite(lonlat)):
        raise InputError(f"{pdir / 'pscands.1.ll'}: NaN/Inf coordinates")
    heading = mtprep.read_scalar(ds.root / "heading.1.in")
    ll0, order, xy = local_xy(lonlat, heading)
    ij = ij[order].copy()
    ij[:, 0] = np.arange(1, n + 1)
    ph = ph[order]
    lonlat = lonlat[order]
    da_f = pdir / "pscands.1.da"
    D_A = mtprep.read_numbers(da_f, expect=n, what="D_A values")[order] if da_f.is_file() else np.ones(n)
    hgt_f = pdir / "pscands.1.hgt"
    hgt = (mtprep.read_binary(hgt_f, "<f4", n, f"{n} heights float32").astype(np.float64)[order]
           if hgt_f.is_file() else np.zeros(n))
    rg, az = ij[:, 2], ij[:, 1]
    interp = GridInterpolator(ds.width, ds.length, rg, az)
    la_f = ds.root / "look_angle.1.in"
    if la_f.is_file():
        g0, g1 = mtprep.read_grid_file(la_f)
        la0, la1000 = interp(g0), interp(g1)
        la = np.radians(la0 + (la1000 - la0) * hgt / 1000.0)
    else:
        la = None
    bperp_mat = np.empty((n, M), dtype=np.float32)
    for k, d in enumerate(dates["slave_sorted"]):
        f = ds.root / f"bperp_{d}.1.in"
        if f.is_file():
            b0, b1 = mtprep.read_grid_file(f)
            v0, v1 = interp(b0), interp(b1)
            bperp_mat[:, k] = v0 + (v1 - v0) * hgt / 1000.0
        else:
            bperp_mat[:, k] = dates["bperp"][k if k < m else k + 1]
    if not np.all(np.isfinite(bperp_mat)):
        raise InputError(f"{ds.root}: per-pixel baselines are NaN for some candidates "
                         "(candidate outside the bperp_*.1.in grid, or a NaN in those files)")
    N = M + 1
    ps1 = {
        "ij": ij.astype(np.float64),
        "lonlat": lonlat,
        "xy": xy,
        "bperp": dates["bperp"].reshape(-1, 1),
        "day": dates["day"].reshape(-1, 1),
        "master_day": np.array([[dates["master_day"]]]),
        "master_ix": np.array([[m + 1.0]]),
        "n_ifg": np.array([[float(N)]]),
        "n_image": np.array([[float(N)]]),
        "n_ps": np.array([[float(n)]]),
        "sort_ix": (order + 1.0).reshape(-1, 1),
        "ll0": ll0.reshape(1, 2),
        "calconst": calconst.reshape(-1, 1),
        "day_ix": (dates["day_ix"] + 1.0).reshape(-1, 1),
    }
    out = {
        "ps1": ps1,
        "ph1": {"ph": ph},
        "bp1": {"bperp_mat": bperp_mat},
        "da1": {"D_A": D_A.reshape(-1, 1)},
        "hgt1": {"hgt": hgt.reshape(-1, 1)},
    }
    out["la1"] = {"la": la.reshape(-1, 1)} if la is not None else {"la": np.zeros((0, 0))}
    if log:
        log(f"{patch.name}: loaded {n} candidates, {N} images (master {ds.master_day})")
    return out
