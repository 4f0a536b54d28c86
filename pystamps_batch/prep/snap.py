"""``mt_prep_snap`` without csh and C: a SNAP StaMPS export -> a prepared dataset root (spec A.1-A.6).

Export layout read (``DIR`` = the export folder, as mt_prep_snap's ``datadir``):
``DIR/*slc/*.*slc`` (complex float32 big-endian SLCs, master included),
``DIR/*slc/<master>.*slc.par``, ``DIR/diff0/<master>_<slave>.diff`` (complex float32 BE)
with their ``.base`` files, ``DIR/geo/*.lon``, ``DIR/geo/*.lat`` (float32 BE) and
``DIR/geo/*dem.rdc`` (float32 BE; optional, zeros without it, as pscdem).

Written, exactly as mt_prep_snap + mt_extract_cands write them: root ``processor.txt``
(snap), ``parms.mat`` (as ps_parms_initial: Created, small_baseline_flag, insar_processor),
``width.txt``, ``len.txt``, ``rsc.txt``, ``calamp.in``, ``calamp.out``, ``selpsc.in``,
``pscphase.in``, ``pscdem.in``, ``psclonlat.in``, ``patch.list`` (creation order); per
patch ``patch.in``, ``patch_noover.in``, ``pscands.1.ij``, ``pscands.1.ij0``,
``pscands.1.ij.int`` (int32 BE), ``pscands.1.da``, ``mean_amp.flt`` (float32 in the
writer's order: little-endian), ``pscands.1.ll``, ``pscands.1.hgt``, ``pscands.1.ph``
(bytes copied from the BE rasters).  Text files hold the export's absolute paths.

The rasters are read in blocks of lines of the patch window (``block_mb`` bounds the
block of all SLCs and of each raster the candidates are gathered from), with explicit
reads rather than memory maps, so memory stays bounded for full Sentinel-1 burst stacks.  The amplitude statistics go through
:mod:`pystamps_batch.prep.ampstats` (the kernel boundary).

Publication: everything is built in a temporary folder beside the destination, which is
renamed into place when the destination does not exist (atomic).  An existing destination
folder (the current folder, or the export folder itself) is kept: the old dataset entries
(PATCH_* folders, the root files above, root stage results of 5b-8) are moved aside and the
new ones in, ``patch.list`` last as the commit (rolled back on failure); other files are
left alone.  A destination that already holds patches is refused without ``force``.
"""
from __future__ import annotations

import datetime as _dt
import glob
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..dataset.snap import RslcPar, read_base, read_rslc_par
from ..errors import InputError
from ..synth.patches import PatchWindow, patch_windows
from ..synth.writer import write_parms
from .ampstats import calamp_block, da_text, selected, selpsc_block

#: Root files that a prep writes (and replaces with ``force``).
ROOT_FILES = ("processor.txt", "parms.mat", "width.txt", "len.txt", "rsc.txt", "calamp.in", "calamp.out",
              "selpsc.in", "pscphase.in", "pscdem.in", "psclonlat.in", "patch.list")

_DIFF_NAME = re.compile(r"^(\d{8})_(\d{8})\.diff$")

Log = Callable[[str], None]


# ------------------------------------------------------------------------------------------
# the export
# ------------------------------------------------------------------------------------------
@dataclass
class Export:
    """A checked SNAP export: paths (absolute, as recorded in the text files) and sizes."""

    root: str                     # absolute export folder (mt_prep_snap's datadir)
    master: str
    par_path: str
    par: RslcPar
    slcs: list[str]               # `ls DIR/*slc/*.*slc`
    diffs: list[str]              # `ls DIR/diff0/*.diff`
    lon: str
    lat: str
    dems: list[str] = field(default_factory=list)     # `ls DIR/geo/*dem.rdc` (first one read)

    @property
    def width(self) -> int:
        return self.par.range_samples

    @property
    def length(self) -> int:
        return self.par.azimuth_lines


def _ls(pattern: str) -> list[str]:
    """``ls pattern`` (C-locale name order); [] when nothing matches."""
    return sorted(p for p in glob.glob(pattern) if os.path.isfile(p))


def _check_size(path: str, width: int, length: int, bytes_per: int, what: str) -> None:
    want = width * length * bytes_per
    size = os.path.getsize(path)
    if size != want:
        raise InputError(f"{path}: {size} bytes, expected {want} ({length} lines x {width} pixels of {what}; "
                         "raster sizes of the export do not match the master .rslc.par)")


def inspect_export(export: str | Path, master_date: str | None = None) -> Export:
    """Find and check every export file mt_prep_snap needs; InputError names the first bad one."""
    root = os.path.abspath(str(export))
    if not os.path.isdir(root):
        raise InputError(f"{root}: export folder not found")
    diffs = _ls(os.path.join(root, "diff0", "*.diff"))
    if not diffs:
        raise InputError(f"{os.path.join(root, 'diff0')}: no interferograms (*.diff) found")
    names = []
    for d in diffs:
        m = _DIFF_NAME.match(os.path.basename(d))
        if m is None:
            raise InputError(f"{d}: name does not follow <master YYYYMMDD>_<secondary YYYYMMDD>.diff")
        names.append((m.group(1), m.group(2)))
    masters = sorted({a for a, _ in names})
    if master_date is None:
        if len(masters) != 1:
            raise InputError(f"{os.path.join(root, 'diff0')}: interferograms of several masters "
                             f"({', '.join(masters)}); pass --master-date")
        master_date = masters[0]
    if not (len(master_date) == 8 and master_date.isdigit()):
        raise InputError(f"--master-date {master_date!r}: expected YYYYMMDD")
    for d, (a, _) in zip(diffs, names):
        if a != master_date:
            raise InputError(f"{d}: interferogram of master {a}, not of the master date {master_date}")
    pars = _ls(os.path.join(root, "*slc", f"{master_date}.*slc.par"))
    if not pars:
        raise InputError(f"{os.path.join(root, 'rslc', master_date + '.rslc.par')}: master parameter file not found")
    if len(pars) > 1:
        raise InputError(f"{pars[1]}: several master parameter files ({', '.join(pars)})")
    par = read_rslc_par(Path(pars[0]))
    W, L = par.range_samples, par.azimuth_lines
    slcs = _ls(os.path.join(root, "*slc", "*.*slc"))
    slc_dates = {os.path.basename(s)[:8]: s for s in slcs}
    for s in slcs:
        _check_size(s, W, L, 8, "complex float32")
    if master_date not in slc_dates:
        raise InputError(f"{os.path.join(os.path.dirname(pars[0]), master_date + '.rslc')}: master SLC not found")
    secondaries = [b for a, b in names if b != master_date]
    if len(secondaries) < 2:
        raise InputError(f"{diffs[0]}: only {len(secondaries)} secondary image(s) in diff0/ "
                         "(a PS stack needs at least 2 interferograms)")
    for d, (_, b) in zip(diffs, names):
        _check_size(d, W, L, 8, "complex float32")
        base = d[:-4] + "base"
        if not os.path.isfile(base):
            raise InputError(f"{base}: baseline file not found (ps_load_initial_gamma reads it)")
        read_base(Path(base))
        if b != master_date and b not in slc_dates:
            raise InputError(f"{os.path.join(os.path.dirname(pars[0]), b + '.rslc')}: SLC of the secondary of {d} "
                             "not found")
    lons = _ls(os.path.join(root, "geo", "*.lon"))
    lats = _ls(os.path.join(root, "geo", "*.lat"))
    if not lons:
        raise InputError(f"{os.path.join(root, 'geo', '*.lon')}: no longitude raster (mt_prep_snap needs "
                         "geo/*.lon and geo/*.lat)")
    if not lats:
        raise InputError(f"{os.path.join(root, 'geo', '*.lat')}: no latitude raster (mt_prep_snap needs "
                         "geo/*.lon and geo/*.lat)")
    _check_size(lons[0], W, L, 4, "float32")
    _check_size(lats[0], W, L, 4, "float32")
    dems = _ls(os.path.join(root, "geo", "*dem.rdc"))
    if dems:
        _check_size(dems[0], W, L, 4, "float32")
    return Export(root, master_date, pars[0], par, slcs, diffs, lons[0], lats[0], dems)


# ------------------------------------------------------------------------------------------
# calamp, selpsc_patch, psclonlat / pscdem / pscphase
# ------------------------------------------------------------------------------------------
class Raster:
    """A width x length raster file read by windows of lines (explicit reads: memory is the window)."""

    def __init__(self, path: str, dtype: str, width: int, length: int):
        self.path, self.dtype = path, np.dtype(dtype)
        self.width, self.length = width, length

    def window(self, l0: int, l1: int, c0: int = 0, c1: int | None = None) -> np.ndarray:
        """Lines [l0, l1), columns [c0, c1) (0-based, end exclusive) in the file's dtype."""
        c1 = self.width if c1 is None else c1
        item = self.dtype.itemsize
        out = np.empty((l1 - l0, c1 - c0), dtype=self.dtype)
        with open(self.path, "rb", buffering=0) as fh:
            if c0 == 0 and c1 == self.width:
                fh.seek(l0 * self.width * item)
                got = fh.readinto(memoryview(out).cast("B"))
                if got != out.nbytes:
                    raise InputError(f"{self.path}: file ended at line {l0 + got // (self.width * item)} "
                                     f"(expected {self.length} lines)")
            else:
                for i in range(l1 - l0):
                    fh.seek(((l0 + i) * self.width + c0) * item)
                    if fh.readinto(memoryview(out[i]).cast("B")) != (c1 - c0) * item:
                        raise InputError(f"{self.path}: file ended at line {l0 + i} (expected {self.length} lines)")
        return out


def calamp(exp: Export, block_bytes: int) -> list[np.float32]:
    """Calibration constant of every SLC (mean amplitude over pixels > 0.001), float32 as calamp stores it."""
    W, L = exp.width, exp.length
    lines = max(1, block_bytes // (8 * W))
    out = []
    for s in exp.slcs:
        r = Raster(s, ">c8", W, L)
        total, count = 0.0, 0
        for l0 in range(0, L, lines):
            t, c = calamp_block(r.window(l0, min(l0 + lines, L)).astype(np.complex64))
            total += t
            count += c
        if count == 0:
            raise InputError(f"{s}: every amplitude is <= 0.001 (calamp's calibration constant would be 0)")
        out.append(np.float32(total / count))
    return out


@dataclass
class PatchCands:
    """Candidates of one patch in selpsc order (azimuth-major): 0-based az, rg."""

    az: np.ndarray
    rg: np.ndarray


def selpsc_patch(exp: Export, cal: np.ndarray, thresh: np.float32, w: PatchWindow, pdir: Path,
                 block_bytes: int) -> PatchCands:
    """selpsc_patch on window ``w``: writes pscands.1.ij, .ij0, .ij.int, .da and mean_amp.flt."""
    W, L = exp.width, exp.length
    r0, r1, a0, a1 = w.over
    P = r1 - r0 + 1
    N = len(exp.slcs)
    lines = max(1, block_bytes // (4 * 8 * N * P))           # the block and the kernel's temporaries
    rasters = [Raster(s, ">c8", W, L) for s in exp.slcs]
    n_id = 0
    azs, rgs = [], []
    with open(pdir / "pscands.1.ij", "w", newline="\n") as fij, \
            open(pdir / "pscands.1.ij0", "w", newline="\n") as fij0, \
            open(pdir / "pscands.1.ij.int", "wb") as fint, \
            open(pdir / "pscands.1.da", "w", newline="\n") as fda, \
            open(pdir / "mean_amp.flt", "wb") as fmean:
        for l0 in range(a0 - 1, a1, lines):
            l1 = min(l0 + lines, a1)
            block = np.stack([r.window(l0, l1, r0 - 1, r1) for r in rasters]).astype(np.complex64)
            sumamp, d_sq, amp0 = selpsc_block(block, cal)
            del block
            fmean.write(sumamp.astype("<f4").tobytes())
            cand, zero = selected(sumamp, d_sq, amp0, thresh)
            # zero-amplitude pixels carry the id of the last candidate before them (selpsc_patch)
            zi = np.flatnonzero(zero.ravel())
            if zi.size:
                ids = n_id + np.cumsum(cand.ravel())[zi]
                za, zr = np.divmod(zi, P)
                fij0.write("".join(f"{i} {a} {r}\n" for i, a, r in zip(ids.tolist(), (za + l0).tolist(),
                                                                        (zr + r0 - 1).tolist())))
            ia, ir = np.nonzero(cand)
            k = ia.size
            if k:
                az, rg = ia + l0, ir + r0 - 1
                ids = np.arange(n_id + 1, n_id + k + 1)
                fij.write(("%d %d %d\n" * k) % tuple(np.stack([ids, az, rg], 1).ravel().tolist()))
                fint.write(np.stack([rg, az], 1).astype(">i4").tobytes())
                fda.write(da_text(d_sq[ia, ir]))
                azs.append(az)
                rgs.append(rg)
                n_id += k
    empty = np.zeros(0, dtype=np.int64)
    return PatchCands(np.concatenate(azs) if azs else empty, np.concatenate(rgs) if rgs else empty)


def _gather(path: str, itemsize: int, exp: Export, w: PatchWindow, c: PatchCands, block_bytes: int):
    """Raw items (bytes as in the file, as unsigned ints) of the candidates, block of lines by block."""
    r0, r1, a0, a1 = w.over
    raster = Raster(path, {4: "u4", 8: "u8"}[itemsize], exp.width, exp.length)
    lines = max(1, block_bytes // (itemsize * (r1 - r0 + 1)))
    for l0 in range(a0 - 1, a1, lines):
        l1 = min(l0 + lines, a1)
        j0, j1 = np.searchsorted(c.az, [l0, l1])
        if j1 > j0:
            yield raster.window(l0, l1, r0 - 1, r1)[c.az[j0:j1] - l0, c.rg[j0:j1] - (r0 - 1)]


def extract(exp: Export, w: PatchWindow, c: PatchCands, pdir: Path, block_bytes: int) -> None:
    """psclonlat, pscdem and pscphase: pscands.1.ll, .hgt, .ph (bytes copied verbatim)."""
    with open(pdir / "pscands.1.ll", "wb") as fh:
        for lo, la in zip(_gather(exp.lon, 4, exp, w, c, block_bytes), _gather(exp.lat, 4, exp, w, c, block_bytes)):
            fh.write(np.stack([lo, la], 1).tobytes())
    with open(pdir / "pscands.1.hgt", "wb") as fh:
        if exp.dems:
            for v in _gather(exp.dems[0], 4, exp, w, c, block_bytes):
                fh.write(v.tobytes())
        else:                                     # pscdem writes zeros when the DEM cannot be opened
            fh.write(np.zeros(c.az.size, dtype=np.float32).tobytes())
    with open(pdir / "pscands.1.ph", "wb") as fh:
        for d in exp.diffs:                        # ifg-major
            for v in _gather(d, 8, exp, w, c, block_bytes):
                fh.write(v.tobytes())


# ------------------------------------------------------------------------------------------
# root files and publication
# ------------------------------------------------------------------------------------------
def _write(path: Path, text: str) -> None:
    with open(path, "w", newline="\n") as fh:
        fh.write(text)


def write_root_files(tmp: Path, exp: Export, cal: list[np.float32], da_thresh: str,
                     windows: list[PatchWindow]) -> None:
    """processor.txt ... patch.list, and patch.in / patch_noover.in, as mt_prep_snap echoes them."""
    W = exp.width
    _write(tmp / "processor.txt", "snap\n")
    write_parms(tmp / "parms.mat", _dt.datetime.now(), insar_processor="snap")
    _write(tmp / "width.txt", f"{W}\n")
    _write(tmp / "len.txt", f"{exp.length}\n")
    _write(tmp / "rsc.txt", f"{exp.par_path}\n")
    _write(tmp / "calamp.in", "".join(s + "\n" for s in exp.slcs))
    calout = "".join(f"{s} {float(c):g}\n" for s, c in zip(exp.slcs, cal))
    _write(tmp / "calamp.out", calout)
    _write(tmp / "selpsc.in", f"{da_thresh}\n{W}\n" + calout)
    for w in windows:
        d = tmp / w.name
        d.mkdir()
        _write(d / "patch.in", "".join(f"{v}\n" for v in w.over))
        _write(d / "patch_noover.in", "".join(f"{v}\n" for v in w.noover))
    _write(tmp / "pscphase.in", f"{W}\n" + "".join(d + "\n" for d in exp.diffs))
    _write(tmp / "pscdem.in", f"{W}\n" + "".join(d + "\n" for d in exp.dems))
    _write(tmp / "psclonlat.in", f"{W}\n{exp.lon}\n{exp.lat}\n")
    _write(tmp / "patch.list", "".join(w.name + "\n" for w in windows))


def _result_names() -> set[str]:
    """Root ``.mat`` files that stages 5b-8 and ps_plot write (results of a previous dataset)."""
    from ..dataset.artifacts import MERGED, STAGES

    names = {n for st in STAGES if st.scope == MERGED for n in st.writes + st.optional_writes}
    return {n + ".mat" for n in names | {"psver", "no_ps_info", "mv2"}}


def _old_entries(dest: Path) -> list[Path]:
    """Entries of ``dest`` that belong to a prepared dataset and are replaced by a new prep:
    PATCH_* folders, the root files of :data:`ROOT_FILES`, and root stage results
    (5b-8, ps_plot).  Anything else (the export itself, user files) stays."""
    results = _result_names()
    out = []
    for p in sorted(dest.iterdir()):
        if p.is_dir() and p.name.startswith("PATCH_"):
            out.append(p)
        elif p.is_file() and (p.name in ROOT_FILES or p.name in results or
                              (p.name.startswith("ps_plot_") and p.suffix == ".mat")):
            out.append(p)
    return out


def has_patches(dest: Path) -> bool:
    return dest.is_dir() and ((dest / "patch.list").exists() or any(
        p.is_dir() and p.name.startswith("PATCH_") for p in dest.iterdir()))


def publish(tmp: Path, dest: Path, log: Log | None = None) -> None:
    """Move the dataset built in ``tmp`` to ``dest``: one rename when dest does not exist;
    otherwise entry by entry with ``patch.list`` last (an existing folder is kept: it may be
    the user's working directory)."""
    if not dest.exists():
        os.rename(tmp, dest)
        return
    trash = Path(tempfile.mkdtemp(prefix=f".{dest.name}.prep-old-", dir=dest.parent))
    moved_old, moved_new = [], []
    new = sorted(tmp.iterdir(), key=lambda p: p.name == "patch.list")      # patch.list last: the commit
    try:
        for p in _old_entries(dest):
            os.rename(p, trash / p.name)
            moved_old.append(p.name)
        for p in new:
            os.rename(p, dest / p.name)
            moved_new.append(p.name)
    except OSError:
        for name in moved_new:
            os.rename(dest / name, tmp / name)
        for name in moved_old:
            os.rename(trash / name, dest / name)
        raise
    if moved_old and log:
        log(f"replaced {len(moved_old)} entries of the previous dataset in {dest}")
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------------------
# the command
# ------------------------------------------------------------------------------------------
def _check_patching(exp: Export, rg_patches: int, az_patches: int, rg_overlap: int, az_overlap: int) -> None:
    for name, v, lo in (("--rg-patches", rg_patches, 1), ("--az-patches", az_patches, 1),
                        ("--rg-overlap", rg_overlap, 0), ("--az-overlap", az_overlap, 0)):
        if v < lo:
            raise InputError(f"{name} {v}: expected an integer >= {lo}")
    if exp.width // rg_patches < 1 or exp.length // az_patches < 1:
        raise InputError(f"{exp.par_path}: {exp.width} x {exp.length} pixels cannot hold "
                         f"{rg_patches} x {az_patches} patches")


def prep_snap(export: str | Path, out: str | Path, *, master_date: str | None = None, da_thresh: str = "0.4",
              rg_patches: int = 1, az_patches: int = 1, rg_overlap: int = 50, az_overlap: int = 50,
              force: bool = False, block_mb: float = 64.0, log: Log | None = None) -> dict:
    """Prepare the dataset root ``out`` from the SNAP export ``export`` (mt_prep_snap).

    ``da_thresh`` is kept as text (selpsc.in echoes it); negative selects D_A >= |value|.
    Returns ``{dataset, export, master, width, length, n_slc, n_ifg, patches: {name: n},
    candidates, seconds}``.
    """
    t0 = time.perf_counter()
    say = log or (lambda m: None)
    dest = Path(out).absolute()
    try:
        thresh = np.float32(float(da_thresh))
    except ValueError:
        raise InputError(f"--da-thresh {da_thresh!r}: not a number") from None
    if not np.isfinite(thresh) or thresh == 0:
        raise InputError(f"--da-thresh {da_thresh}: expected a non-zero amplitude dispersion threshold")
    if dest.exists() and not dest.is_dir():
        raise InputError(f"{dest}: exists and is not a folder")
    if has_patches(dest) and not force:
        raise InputError(f"{dest}: already holds a prepared dataset (patch.list / PATCH_n); "
                         "pass --force to replace it")
    exp = inspect_export(export, master_date)
    _check_patching(exp, rg_patches, az_patches, rg_overlap, az_overlap)
    windows = patch_windows(exp.width, exp.length, rg_patches, az_patches, rg_overlap, az_overlap)
    block_bytes = max(1, int(block_mb * (1 << 20)))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.prep-", dir=dest.parent))
    try:
        say(f"calamp: {len(exp.slcs)} SLCs of {exp.width} x {exp.length} pixels")
        cal = calamp(exp, block_bytes)
        write_root_files(tmp, exp, cal, str(da_thresh), windows)
        cal_f = np.array([np.float32(float(f"{float(c):g}")) for c in cal], dtype=np.float32)   # as parsed
        counts = {}
        for w in windows:
            pdir = tmp / w.name
            c = selpsc_patch(exp, cal_f, thresh, w, pdir, block_bytes)
            extract(exp, w, c, pdir, block_bytes)
            counts[w.name] = int(c.az.size)
            say(f"{w.name}: {c.az.size} candidates (D_A {'<' if thresh > 0 else '>='} {abs(float(thresh)):g})")
        if has_patches(dest) and not force:             # a concurrent prep got there first
            raise InputError(f"{dest}: already holds a prepared dataset (patch.list / PATCH_n); "
                             "pass --force to replace it")
        publish(tmp, dest, say)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"dataset": str(dest), "export": exp.root, "master": exp.master, "width": exp.width,
            "length": exp.length, "n_slc": len(exp.slcs), "n_ifg": len(exp.diffs), "patches": counts,
            "candidates": sum(counts.values()), "seconds": round(time.perf_counter() - t0, 3)}
