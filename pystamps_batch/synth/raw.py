"""Optional full-resolution rasters (``write_raw`` / ``write_export``): what mt_prep's C tools read.

DORIS layout (:data:`DORIS_LAYOUT`): ``<master>_crop.slc``, ``<date>/slave_res.slc``,
``<date>/cint.minrefdem.raw`` (complex64 LE, width x length) and ``lon.raw``, ``lat.raw``,
``dem_radar_i.raw`` (float32 LE).  SNAP export layout (:data:`SNAP_LAYOUT`):
``rslc/<date>.rslc``, ``diff0/<master>_<date>.diff`` (complex64 BE) and
``geo/<master>.lon``, ``geo/<master>.lat``, ``geo/elevation_dem.rdc`` (float32 BE).
Rasters are written band by band.  They are built so that calamp, selpsc_patch, psclonlat,
pscdem and pscphase (spec A.4) reproduce the dataset: every SLC's mean amplitude is
its calamp.out constant (the clutter of image k is divided by a factor X_k chosen for
that), candidates keep their exact D_A, clutter D_A stays >= 1.1 x da_thresh, and the
interferogram holds the candidates' pscands.1.ph values bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .amplitude import TILE


@dataclass(frozen=True)
class RasterLayout:
    """Where the raw rasters go (paths relative to the dataset root) and their byte order."""

    order: str                    # "<" little-endian (DORIS), ">" big-endian (SNAP)
    master_slc: str               # format fields: {m} master date, {d} date
    slave_slc: str
    ifg: str
    lon: str
    lat: str
    dem: str

    def folders(self, master: str, slaves: list[str]) -> set[str]:
        out = set()
        for d in slaves:
            for f in (self.slave_slc, self.ifg):
                parent = str(Path(f.format(m=master, d=d)).parent)
                if parent != ".":
                    out.add(parent)
        for f in (self.master_slc, self.lon, self.lat, self.dem):
            parent = str(Path(f.format(m=master, d=master)).parent)
            if parent != ".":
                out.add(parent)
        return out


DORIS_LAYOUT = RasterLayout("<", "{m}_crop.slc", "{d}/slave_res.slc", "{d}/cint.minrefdem.raw",
                            "lon.raw", "lat.raw", "dem_radar_i.raw")
SNAP_LAYOUT = RasterLayout(">", "rslc/{d}.rslc", "rslc/{d}.rslc", "diff0/{m}_{d}.diff",
                           "geo/{m}.lon", "geo/{m}.lat", "geo/elevation_dem.rdc")

#: ``hook(l0, l1, slcs)`` called per band with the N SLC lines [l0, l1) as (N, lines, width) complex64.
BandHook = Callable[[int, int, np.ndarray], None]


class RawCandidateStore:
    """Temporary per-candidate x image amplitudes, SLC phases and ifg values (raw mode)."""

    def __init__(self, tmp: Path, n_images: int, n_ifg: int, master_index: int, slave_index: np.ndarray):
        self.tmp = tmp
        self.N, self.M, self.m, self.s = n_images, n_ifg, master_index, slave_index
        self.fh = {k: open(tmp / f"raw_{k}.bin", "wb") for k in ("amp", "psi", "value")}

    def append(self, chunk) -> None:
        psi = np.empty(chunk.amp.shape)
        psi[:, self.m] = chunk.master_phase
        psi[:, self.s] = chunk.master_phase[:, None] - chunk.ph_wrapped.astype(np.float64)
        self.fh["amp"].write(chunk.amp.astype("<f4").tobytes())
        self.fh["psi"].write(psi.astype("<f4").tobytes())
        self.fh["value"].write(chunk.value.astype("<c8").tobytes())

    def close(self) -> None:
        for h in self.fh.values():
            h.close()

    def read(self, j0: int, j1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows [j0, j1): amp (n, N) f4, psi (n, N) f4, value (n, M) c8."""
        n = j1 - j0
        amp = np.fromfile(self.tmp / "raw_amp.bin", "<f4", n * self.N, offset=j0 * self.N * 4).reshape(n, self.N)
        psi = np.fromfile(self.tmp / "raw_psi.bin", "<f4", n * self.N, offset=j0 * self.N * 4).reshape(n, self.N)
        val = np.fromfile(self.tmp / "raw_value.bin", "<c8", n * self.M, offset=j0 * self.M * 8).reshape(n, self.M)
        return amp, psi, val


def image_factors(clutter, cands, cand_amp_sum: np.ndarray) -> np.ndarray:
    """X_k such that the mean calibrated amplitude of image k over all pixels is exactly 1."""
    cfg = clutter.cfg
    key = cands.az * cfg.width + cands.rg
    ty, tx = clutter.tiles_shape
    csum = np.zeros(clutter.n_images)
    for iy in range(ty):
        for ix in range(tx):
            a0, a1, r0, r1 = clutter.tile_bounds(iy, ix)
            x, _ = clutter.tile_series(iy, ix, clutter.tile_brightness(iy, ix))
            mask = np.ones(x.shape[:2], dtype=bool)
            j0, j1 = np.searchsorted(key, [a0 * cfg.width, a1 * cfg.width])
            az, rg = cands.az[j0:j1], cands.rg[j0:j1]
            inside = (rg >= r0) & (rg < r1)
            mask[az[inside] - a0, rg[inside] - r0] = False
            csum += x[mask].sum(axis=0)
    rest = cfg.width * cfg.length - cand_amp_sum
    if np.any(rest <= 0) or np.any(csum <= 0):
        raise ValueError("write_raw: candidates too bright to calibrate the raw SLCs (lower n_cand)")
    return csum / rest


def write_raw(out: Path, model, cands, store: RawCandidateStore, clutter,
              layout: RasterLayout = DORIS_LAYOUT, band_hook: BandHook | None = None) -> None:
    """All raw rasters, one band of TILE lines at a time (``clutter.image_factor`` must be set).

    ``layout`` chooses file names and byte order; ``band_hook`` (if given) sees every band
    of the N SLCs exactly as written (before the byte-order conversion).
    """
    cfg, acq, geom = model.cfg, model.acq, model.geom
    W, N, m, s = cfg.width, acq.n_images, acq.master_index, acq.slave_index
    dates = acq.date_strings
    X = clutter.image_factor
    md = dates[m]
    for folder in layout.folders(md, [dates[k] for k in s]):
        (out / folder).mkdir(parents=True, exist_ok=True)
    slc_paths = {m: out / layout.master_slc.format(m=md, d=md)}
    for k in s:
        slc_paths[k] = out / layout.slave_slc.format(m=md, d=dates[k])
    fslc = {k: open(p, "wb") for k, p in slc_paths.items()}
    fint = {k: open(out / layout.ifg.format(m=md, d=dates[k]), "wb") for k in s}
    fgeo = {k: open(out / getattr(layout, k).format(m=md, d=md), "wb") for k in ("lon", "lat", "dem")}
    c8, f4 = layout.order + "c8", layout.order + "f4"
    key = cands.az * W + cands.rg
    try:
        ty, tx = clutter.tiles_shape
        for iy in range(ty):
            l0, l1 = iy * TILE, min((iy + 1) * TILE, cfg.length)
            amp = np.empty((l1 - l0, W, N), dtype=np.float32)
            phs = np.empty((l1 - l0, W, N), dtype=np.float32)
            for ix in range(tx):
                _, _, r0, r1 = clutter.tile_bounds(iy, ix)
                x, ph = clutter.tile_series(iy, ix, clutter.tile_brightness(iy, ix))
                amp[:, r0:r1] = x / X
                phs[:, r0:r1] = ph
            j0, j1 = np.searchsorted(key, [l0 * W, l1 * W])
            ca, cpsi, cval = store.read(j0, j1)
            ia, ir = cands.az[j0:j1] - l0, cands.rg[j0:j1]
            amp[ia, ir] = ca
            phs[ia, ir] = cpsi
            slc = {k: (acq.calconst[k] * amp[..., k]).astype(np.float32) * np.exp(1j * phs[..., k]).astype(np.complex64)
                   for k in range(N)}
            for k in range(N):
                fslc[k].write(slc[k].astype(c8).tobytes())
            if band_hook is not None:
                band_hook(l0, l1, np.stack([slc[k] for k in range(N)]))
            for j, k in enumerate(s):
                cint = slc[m] * np.conj(slc[k])
                cint[ia, ir] = cval[:, j]
                fint[k].write(cint.astype(c8).tobytes())
            az, rg = np.meshgrid(np.arange(l0, l1), np.arange(W), indexing="ij")
            east, north = geom.east_north(az.ravel(), rg.ravel())
            lon, lat = geom.lonlat(east, north)
            fgeo["lon"].write(lon.astype(f4).tobytes())
            fgeo["lat"].write(lat.astype(f4).tobytes())
            fgeo["dem"].write(model.dem_height(az.ravel(), rg.ravel()).astype(f4).tobytes())
    finally:
        for h in list(fslc.values()) + list(fint.values()) + list(fgeo.values()):
            h.close()
