"""Writers of the mt_prep DORIS layout (dataset-layout.md) and of truth.npz.

Text formats follow mt_prep / mt_extract_info / the C++ tools: C++ default stream
output (``%g``, 6 significant digits) for calamp.out and pscands.1.da, ``%.4f`` for
baselines, ``%.6f`` for look angles, 0-based ``id az rg`` lines.  Binary files:
pscands.1.ph complex64 LE (ifg-major), .ll/.hgt/mean_amp.flt float32 LE,
.ij.int int32 BE (rg, az).  Paths inside text files are absolute, as mt_prep writes
them.  No timestamps end up in any file, so equal seeds give equal bytes.

The SNAP flavour (:func:`write_root_files_snap`) writes what SNAP's StaMPS export plus
``mt_prep_snap`` leave: ``processor.txt`` = snap, ``rsc.txt`` -> ``rslc/<master>.rslc.par``,
``diff0/<master>_<slave>.base``, calamp/pscphase/psclonlat/pscdem lists of the export
paths, patch.list in creation order, and big-endian pscands.1.ph/.ll/.hgt.
"""
from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np

from .patches import PatchWindow, patch_list_order

ZIP_DATE = (1980, 1, 1, 0, 0, 0)


# ------------------------------------------------------------------------------------------
# root files
# ------------------------------------------------------------------------------------------
def _write_text(path: Path, text: str) -> None:
    with open(path, "w", newline="\n") as fh:
        fh.write(text)


def _lines(values, fmt: str) -> str:
    values = list(values)
    return (fmt + "\n") * len(values) % tuple(values) if values else ""


def write_root_files(out: Path, root: str, cfg, geom, acq, windows: list[PatchWindow]) -> None:
    """processor.txt ... patch.list and PATCH_n/patch.in, patch_noover.in (not the candidates)."""
    dates, m, s = acq.date_strings, acq.master_index, acq.slave_index
    slaves = [dates[k] for k in s]
    _write_text(out / "processor.txt", "doris\n")
    _write_text(out / "width.txt", f"{cfg.width}\n")
    _write_text(out / "len.txt", f"{cfg.length}\n")
    _write_text(out / "day.1.in", _lines(slaves, "%s"))
    _write_text(out / "master_day.1.in", f"{dates[m]}\n")
    _write_text(out / "bperp.1.in", _lines(acq.bperp[s], "%.4f"))
    for k in s:
        grid = geom.bperp_grid(acq.bperp[k], acq.bpar[k])
        _write_text(out / f"bperp_{dates[k]}.1.in", _lines(grid.ravel(), "%.4f"))
    _write_text(out / "look_angle.1.in", _lines(geom.look_angle_grid().ravel(), "%.6f"))
    _write_text(out / "heading.1.in", f"{cfg.heading_deg:f}\n")
    _write_text(out / "lambda.1.in", f"{cfg.wavelength_m:.10g}\n")
    _write_text(out / "slc_osfactor.1.in", "1\n")
    slcs = [f"{root}/{dates[m]}_crop.slc"] + [f"{root}/{d}/slave_res.slc" for d in slaves]
    cal = [acq.calconst[m]] + [acq.calconst[k] for k in s]
    calamp = "".join(f"{p} {c:g}\n" for p, c in zip(slcs, cal))
    _write_text(out / "calamp.in", "".join(p + "\n" for p in slcs))
    _write_text(out / "calamp.out", calamp)
    _write_text(out / "selpsc.in", f"{cfg.da_thresh:g}\n{cfg.width}\n" + calamp)
    _write_text(out / "pscphase.in", f"{cfg.width}\n" + "".join(f"{root}/{d}/cint.minrefdem.raw\n" for d in slaves))
    _write_text(out / "psclonlat.in", f"{cfg.width}\n{root}/lon.raw\n{root}/lat.raw\n")
    _write_text(out / "pscdem.in", f"{cfg.width}\n{root}/dem_radar_i.raw\n")
    _write_text(out / "patch.list", "".join(n + "\n" for n in patch_list_order(windows)))
    for w in windows:
        d = out / w.name
        d.mkdir(exist_ok=True)
        _write_text(d / "patch.in", _lines(w.over, "%d"))
        _write_text(d / "patch_noover.in", _lines(w.noover, "%d"))
    write_parms(out / "parms.mat", _dt.datetime.strptime(dates[-1], "%Y%m%d") + _dt.timedelta(days=1))


# ------------------------------------------------------------------------------------------
# SNAP flavour (mt_prep_snap on a SNAP StaMPS export)
# ------------------------------------------------------------------------------------------
SNAP_SENSOR = "S1A IW IW1 VV"
SNAP_PRF = 486.4863103             # Hz (azimuth_line_time 2.0555563e-3 s)
SNAP_DEM = "geo/elevation_dem.rdc"


def snap_tcn(geom, bperp_c: float, bpar_c: float) -> tuple[float, float]:
    """(C, N) of the TCN baseline whose perpendicular / parallel components at the centre
    look angle are (``bperp_c``, ``bpar_c``), so that ``B(θ) = C cos θ - N sin θ`` equals
    :meth:`~pystamps_batch.synth.geometry.Geometry.bperp` at every look angle θ."""
    th = geom.look_centre
    return (bperp_c * np.cos(th) + bpar_c * np.sin(th), -bperp_c * np.sin(th) + bpar_c * np.cos(th))


def rslc_par_text(cfg, geom, date: str) -> str:
    """GAMMA ISP image parameter file of the master (``rslc/<master>.rslc.par``).

    Slant ranges: near / far of pixels 0 and W-1, centre of pixel (W-1)/2, spacing
    (far - near)/(W-1) (ps_load_initial_gamma assumes ranges linear in the pixel).
    """
    W, L = cfg.width, cfg.length
    near, centre, far = geom.slant_range(np.array([0.0, (W - 1) / 2.0, W - 1.0]))
    rps = (far - near) / (W - 1)
    lt = 1.0 / SNAP_PRF
    freq = 299792458.0 / cfg.wavelength_m
    rows = [
        ("title:", f"SYNTH_{date}"), ("sensor:", SNAP_SENSOR),
        ("date:", f"{date[0:4]} {date[4:6]} {date[6:8]} 16 40 0.000000"),
        ("start_time:", f"{60000.0:.6f}   s"), ("center_time:", f"{60000.0 + lt * (L - 1) / 2:.6f}   s"),
        ("end_time:", f"{60000.0 + lt * (L - 1):.6f}   s"), ("azimuth_line_time:", f"{lt:.7e}   s"),
        ("line_header_size:", "0"), ("range_samples:", f"{W}"), ("azimuth_lines:", f"{L}"),
        ("range_looks:", "1"), ("azimuth_looks:", "1"), ("image_format:", "FCOMPLEX"),
        ("image_geometry:", "SLANT_RANGE"), ("range_scale_factor:", "1.0000000e+00"),
        ("azimuth_scale_factor:", "1.0000000e+00"), ("center_latitude:", f"{cfg.lat0:.7f}   degrees"),
        ("center_longitude:", f"{cfg.lon0:.7f}   degrees"), ("heading:", f"{cfg.heading_deg:.7f}   degrees"),
        ("range_pixel_spacing:", f"{rps:.6f}   m"), ("azimuth_pixel_spacing:", f"{cfg.pixel_m:.6f}   m"),
        ("near_range_slc:", f"{near:.4f}  m"), ("center_range_slc:", f"{centre:.4f}  m"),
        ("far_range_slc:", f"{far:.4f}  m"), ("incidence_angle:", f"{cfg.incidence_deg:.4f}   degrees"),
        ("azimuth_deskew:", "ON"), ("azimuth_angle:", "90.0000   degrees"),
        ("radar_frequency:", f"{freq:.10e}   Hz"), ("adc_sampling_rate:", "6.4345238e+07   Hz"),
        ("chirp_bandwidth:", "5.6500000e+07   Hz"), ("prf:", f"{SNAP_PRF:.7f}   Hz"),
        ("azimuth_proc_bandwidth:", "327.00000   Hz"), ("receiver_gain:", "0.0000   dB"),
        ("calibration_gain:", "0.0000   dB"), ("sar_to_earth_center:", f"{geom.sat_radius:.4f}   m"),
        ("earth_radius_below_sensor:", f"{cfg.earth_radius_m:.4f}   m"),
        ("earth_semi_major_axis:", "6378137.0000   m"), ("earth_semi_minor_axis:", "6356752.3141   m"),
    ]
    return "Gamma Interferometric SAR Processor (ISP) - Image Parameter File\n\n" + \
        "".join(f"{k:<27}{v}\n" for k, v in rows) + "\n"


def base_text(c: float, n: float) -> str:
    """GAMMA baseline file (``diff0/<master>_<slave>.base``), rates zero (azimuth-invariant)."""
    z = 0.0
    return (f"initial_baseline(TCN):  {z:16.7f}{c:16.7f}{n:16.7f}   m   m   m\n"
            f"initial_baseline_rate:  {z:16.7f}{z:16.7f}{z:16.7f}   m/s m/s m/s\n"
            f"precision_baseline(TCN):{z:16.7f}{z:16.7f}{z:16.7f}   m   m   m\n"
            f"precision_baseline_rate:{z:16.7f}{z:16.7f}{z:16.7f}   m/s m/s m/s\n"
            "unwrap_phase_constant:   0.00000     radians\n")


def write_root_files_snap(out: Path, root: str, cfg, geom, acq, windows: list[PatchWindow]) -> None:
    """The SNAP export's small files (.rslc.par, .base) and mt_prep_snap's root and patch files."""
    dates, m, s = acq.date_strings, acq.master_index, acq.slave_index
    md = dates[m]
    (out / "rslc").mkdir(exist_ok=True)
    (out / "diff0").mkdir(exist_ok=True)
    _write_text(out / "rslc" / f"{md}.rslc.par", rslc_par_text(cfg, geom, md))
    for k in s:
        c, n = snap_tcn(geom, acq.bperp[k], acq.bpar[k])
        _write_text(out / "diff0" / f"{md}_{dates[k]}.base", base_text(c, n))
    _write_text(out / "processor.txt", "snap\n")
    _write_text(out / "width.txt", f"{cfg.width}\n")
    _write_text(out / "len.txt", f"{cfg.length}\n")
    _write_text(out / "rsc.txt", f"{root}/rslc/{md}.rslc.par\n")
    slcs = [f"{root}/rslc/{d}.rslc" for d in dates]                   # ls order = date order, master included
    calamp = "".join(f"{p} {c:g}\n" for p, c in zip(slcs, acq.calconst))
    _write_text(out / "calamp.in", "".join(p + "\n" for p in slcs))
    _write_text(out / "calamp.out", calamp)
    _write_text(out / "selpsc.in", f"{cfg.da_thresh:g}\n{cfg.width}\n" + calamp)
    _write_text(out / "pscphase.in", f"{cfg.width}\n" + "".join(f"{root}/diff0/{md}_{dates[k]}.diff\n" for k in s))
    _write_text(out / "psclonlat.in", f"{cfg.width}\n{root}/geo/{md}.lon\n{root}/geo/{md}.lat\n")
    _write_text(out / "pscdem.in", f"{cfg.width}\n{root}/{SNAP_DEM}\n")
    _write_text(out / "patch.list", "".join(w.name + "\n" for w in windows))     # mt_prep_snap: creation order
    for w in windows:
        d = out / w.name
        d.mkdir(exist_ok=True)
        _write_text(d / "patch.in", _lines(w.over, "%d"))
        _write_text(d / "patch_noover.in", _lines(w.noover, "%d"))
    write_parms(out / "parms.mat", _dt.datetime.strptime(dates[-1], "%Y%m%d") + _dt.timedelta(days=1),
                insar_processor="snap")


def write_parms(path: Path, created: _dt.datetime, insar_processor: str = "doris") -> None:
    """parms.mat as ps_parms_initial leaves it (MAT v5 via scipy), with a fixed creation date.

    ``Created`` (MATLAB ``date`` format) and the header text use ``created`` instead of the
    wall clock so that the file is reproducible.
    """
    import scipy.io as sio

    buf = io.BytesIO()
    sio.savemat(buf, {"Created": created.strftime("%d-%b-%Y"), "small_baseline_flag": "n",
                      "insar_processor": insar_processor}, do_compression=False, oned_as="column")
    data = bytearray(buf.getvalue())
    desc = f"MATLAB 5.0 MAT-file Platform: posix, Created on: {time.asctime(created.timetuple())}".encode()
    data[:116] = desc[:116].ljust(116, b"\0")
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------------------------------
# per-patch candidate files
# ------------------------------------------------------------------------------------------
class PatchFiles:
    """The pscands.1.* files of every patch, appended chunk by chunk in global az-major order.

    pscands.1.ph is ifg-major, so it is preallocated and each chunk's column k is written
    at offset (k * n_patch + offset) * 8.  Files are opened only while a chunk is written
    (any number of patches works within the open-file limit).  ``order`` is the byte
    order of .ph/.ll/.hgt ("<" DORIS, ">" SNAP); .ij.int is always big-endian.
    """

    KINDS = ("ij", "ij.int", "da", "ll", "hgt")

    def __init__(self, out: Path, windows: list[PatchWindow], az: np.ndarray, rg: np.ndarray, n_ifg: int,
                 order: str = "<"):
        self.out = out
        self.order = order
        self.windows = windows
        self.n_ifg = n_ifg
        self.members = [w.contains(az, rg) for w in windows]     # (n,) bool per patch
        self.counts = [int(mk.sum()) for mk in self.members]
        self.done = [0] * len(windows)
        for w, cnt in zip(windows, self.counts):
            d = out / w.name
            for k in self.KINDS + ("ij0",):
                open(d / f"pscands.1.{k}", "wb").close()
            with open(d / "pscands.1.ph", "wb") as fh:
                fh.truncate(cnt * n_ifg * 8)

    def append(self, chunk, cands) -> None:
        """Write candidates [chunk.i0, chunk.i1) to every patch whose window holds them."""
        sl = slice(chunk.i0, chunk.i1)
        for p, (w, mk) in enumerate(zip(self.windows, self.members)):
            sel = np.flatnonzero(mk[sl])
            k = sel.size
            if k == 0:
                continue
            g = sel + chunk.i0
            off = self.done[p]
            az, rg = cands.az[g], cands.rg[g]
            ij = np.stack([np.arange(off + 1, off + k + 1), az, rg], 1).ravel().tolist()
            data = {
                "ij": ("%d %d %d\n" * k % tuple(ij)).encode(),
                "ij.int": np.stack([rg, az], 1).astype(">i4").tobytes(),
                "da": ("%g\n" * k % tuple(cands.D_A[g].tolist())).encode(),
                "ll": np.stack([cands.lon[g], cands.lat[g]], 1).astype(self.order + "f4").tobytes(),
                "hgt": cands.hgt[g].astype(self.order + "f4").tobytes(),
            }
            d = self.out / w.name
            for kind, b in data.items():
                with open(d / f"pscands.1.{kind}", "ab") as fh:
                    fh.write(b)
            vals = chunk.value[sel].astype(self.order + "c8")
            n_p = self.counts[p]
            with open(d / "pscands.1.ph", "r+b") as fh:
                for j in range(self.n_ifg):
                    fh.seek((j * n_p + off) * 8)
                    fh.write(np.ascontiguousarray(vals[:, j]).tobytes())
            self.done[p] = off + k

    def close(self) -> None:
        """Check that every patch received all its candidates."""
        for w, cnt, done in zip(self.windows, self.counts, self.done):
            if cnt != done:
                raise RuntimeError(f"{w.name}: wrote {done} of {cnt} candidates")


def write_mean_amp(out: Path, windows: list[PatchWindow], clutter, cands, cand_sum: np.ndarray) -> None:
    """PATCH_n/mean_amp.flt: float32 LE, patch lines x patch pixels, sum of calibrated amplitudes.

    Clutter tiles are regenerated per patch (deterministic streams), candidates overwrite
    their pixels with their own sums.  One tile row of the window is held at a time.
    """
    from .amplitude import TILE

    width = clutter.cfg.width
    key = cands.az * width + cands.rg
    for w in windows:
        r0, r1, a0, a1 = (w.over[0] - 1, w.over[1], w.over[2] - 1, w.over[3])   # 0-based, end exclusive
        with open(out / w.name / "mean_amp.flt", "wb") as fh:
            for iy in range(a0 // TILE, (a1 - 1) // TILE + 1):
                l0, l1 = max(a0, iy * TILE), min(a1, (iy + 1) * TILE)
                band = np.empty((l1 - l0, r1 - r0))
                for ix in range(r0 // TILE, (r1 - 1) // TILE + 1):
                    ta0, _, tr0, _ = clutter.tile_bounds(iy, ix)
                    s = clutter.tile_sum(iy, ix)
                    c0, c1 = max(r0, ix * TILE), min(r1, (ix + 1) * TILE)
                    band[:, c0 - r0:c1 - r0] = s[l0 - ta0:l1 - ta0, c0 - tr0:c1 - tr0]
                j0, j1 = np.searchsorted(key, [l0 * width, l1 * width])
                az, rg = cands.az[j0:j1], cands.rg[j0:j1]
                inside = (rg >= r0) & (rg < r1)
                band[az[inside] - l0, rg[inside] - r0] = cand_sum[j0:j1][inside]
                fh.write(band.astype("<f4").tobytes())


# ------------------------------------------------------------------------------------------
# truth.npz, streamed
# ------------------------------------------------------------------------------------------
class TruthWriter:
    """Collects the per-candidate x image truth in temporary files, then packs truth.npz.

    The npz is an uncompressed zip of .npy members (what ``np.savez`` writes) with fixed
    member timestamps, so it is byte-reproducible; members are copied in 16 MB blocks.
    """

    IMAGE_KEYS = ("disp_los_mm", "bperp_pix", "atm_rad", "orbit_rad", "noise_img_rad")

    def __init__(self, out: Path, n: int, n_images: int, n_ifg: int):
        self.out = out
        self.tmp = out / ".synth_tmp"
        self.tmp.mkdir(exist_ok=True)
        self.shapes = {k: (n, n_images) for k in self.IMAGE_KEYS}
        self.shapes["ph_wrapped"] = (n, n_ifg)
        self.fh = {k: open(self.tmp / f"{k}.bin", "wb") for k in self.shapes}

    def append(self, chunk) -> None:
        for k in self.IMAGE_KEYS:
            self.fh[k].write(getattr(chunk, k).astype("<f4").tobytes())
        self.fh["ph_wrapped"].write(chunk.ph_wrapped.astype("<f4").tobytes())

    def finish(self, per_cand: dict, scene: dict, order: list[str]) -> None:
        """Write truth.npz with members in ``order`` (per-candidate, streamed, scene arrays)."""
        for h in self.fh.values():
            h.close()
        arrays = {**per_cand, **scene}
        path = self.out / "truth.npz"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name in order:
                if name in self.shapes:
                    _zip_npy_from_file(zf, name, self.shapes[name], np.dtype("<f4"), self.tmp / f"{name}.bin")
                    os.unlink(self.tmp / f"{name}.bin")
                else:
                    _zip_npy_array(zf, name, np.asarray(arrays[name]))
        self.cleanup()

    def cleanup(self) -> None:
        for h in self.fh.values():
            if not h.closed:
                h.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _npy_header(shape, dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                               "fortran_order": False, "shape": tuple(int(x) for x in shape)})
    return buf.getvalue()


def _zip_member(zf: zipfile.ZipFile, name: str):
    info = zipfile.ZipInfo(name + ".npy", date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return zf.open(info, "w", force_zip64=True)


def _zip_npy_array(zf: zipfile.ZipFile, name: str, a: np.ndarray) -> None:
    a = np.asarray(a)
    if not a.flags.c_contiguous:
        a = a.copy(order="C")
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    with _zip_member(zf, name) as fh:
        fh.write(_npy_header(a.shape, a.dtype))
        fh.write(a.tobytes())


def _zip_npy_from_file(zf: zipfile.ZipFile, name: str, shape, dtype, src: Path) -> None:
    want = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if src.stat().st_size != want:
        raise RuntimeError(f"{src}: {src.stat().st_size} bytes, expected {want}")
    with _zip_member(zf, name) as fh, open(src, "rb") as fin:
        fh.write(_npy_header(shape, dtype))
        shutil.copyfileobj(fin, fh, 16 << 20)


def write_json(path: Path, obj: dict) -> None:
    _write_text(path, json.dumps(obj, indent=1))
