"""Writers of the mt_prep DORIS layout (dataset-layout.md) and of truth.npz.

Text formats follow mt_prep / mt_extract_info / the C++ tools: C++ default stream
output (``%g``, 6 significant digits) for calamp.out and pscands.1.da, ``%.4f`` for
baselines, ``%.6f`` for look angles, 0-based ``id az rg`` lines.  Binary files:
pscands.1.ph complex64 LE (ifg-major), .ll/.hgt/mean_amp.flt float32 LE,
.ij.int int32 BE (rg, az).  Paths inside text files are absolute, as mt_prep writes
them.  No timestamps end up in any file, so equal seeds give equal bytes.
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


def write_parms(path: Path, created: _dt.datetime) -> None:
    """parms.mat as ps_parms_initial leaves it (MAT v5 via scipy), with a fixed creation date.

    ``Created`` (MATLAB ``date`` format) and the header text use ``created`` instead of the
    wall clock so that the file is reproducible.
    """
    import scipy.io as sio

    buf = io.BytesIO()
    sio.savemat(buf, {"Created": created.strftime("%d-%b-%Y"), "small_baseline_flag": "n",
                      "insar_processor": "doris"}, do_compression=False, oned_as="column")
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
    (any number of patches works within the open-file limit).
    """

    KINDS = ("ij", "ij.int", "da", "ll", "hgt")

    def __init__(self, out: Path, windows: list[PatchWindow], az: np.ndarray, rg: np.ndarray, n_ifg: int):
        self.out = out
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
                "ll": np.stack([cands.lon[g], cands.lat[g]], 1).astype("<f4").tobytes(),
                "hgt": cands.hgt[g].astype("<f4").tobytes(),
            }
            d = self.out / w.name
            for kind, b in data.items():
                with open(d / f"pscands.1.{kind}", "ab") as fh:
                    fh.write(b)
            vals = chunk.value[sel].astype("<c8")
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
