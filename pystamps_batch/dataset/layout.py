"""A prepared StaMPS dataset root: patches, sizes, dates, and consistency checks.

:func:`open_dataset` reads only the small root files and the patch windows, and
counts candidates (lines of ``pscands.1.ij``); :meth:`Dataset.validate` checks
every input file's size against the others before a run writes anything.

Flavours (``processor.txt``, default ``doris`` as in StaMPS' ps_parms_initial):

* ``doris`` (mt_prep): dates from ``day.1.in`` / ``master_day.1.in``, baselines and
  look angles from the ``*.1.in`` files, little-endian patch binaries;
* ``snap`` / ``gamma`` (mt_prep_snap / mt_prep_gamma): dates from the ``.diff`` paths of
  ``pscphase.in``, geometry from the master ``.rslc.par`` named in ``rsc.txt`` and the
  per-interferogram ``.base`` files (:mod:`pystamps_batch.dataset.snap`), big-endian
  patch binaries.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import mtprep
from . import snap as snapfmt

FLAVOURS = ("doris", "snap", "gamma")


@dataclass
class Patch:
    """One ``PATCH_n`` folder."""

    name: str
    path: Path
    window: tuple[int, int, int, int] | None = None        # patch.in (rg0, rg1, az0, az1), 1-based
    noover: tuple[int, int, int, int] | None = None        # patch_noover.in
    n_cand: int | None = None                              # lines of pscands.1.ij (None if absent)


@dataclass
class Dataset:
    """A dataset root and what its small files say."""

    root: Path
    flavour: str
    patches: list[Patch]
    width: int | None = None
    length: int | None = None
    master_day: str | None = None
    slave_days: list[str] = field(default_factory=list)
    patch_list_source: str = "patch.list"
    stack: snapfmt.SnapStack | None = None     # snap/gamma: pscphase.in bookkeeping

    @property
    def n_ifg(self) -> int:
        """Number of master-slave interferograms M."""
        return len(self.slave_days)

    @property
    def is_gamma_like(self) -> bool:
        """True for the snap and gamma flavours (ps_load_initial_gamma)."""
        return self.flavour in ("snap", "gamma")

    @property
    def n_ph_blocks(self) -> int:
        """Interferogram blocks in each pscands.1.ph (snap/gamma: one per pscphase.in line,
        a null interferogram included)."""
        return self.stack.n_blocks if self.stack is not None else self.n_ifg

    def resolver(self, log=None) -> snapfmt.PathResolver:
        """A :class:`~pystamps_batch.dataset.snap.PathResolver` for the recorded paths of this root."""
        return snapfmt.PathResolver(self.root, log)

    def rslc_par(self, resolver: snapfmt.PathResolver | None = None) -> snapfmt.RslcPar:
        """The master .rslc.par named in rsc.txt (snap/gamma), parsed."""
        rec = snapfmt.read_rsc(self.root)
        res = resolver or self.resolver()
        return snapfmt.read_rslc_par(res.resolve(rec, self.root / "rsc.txt", "master parameter file"))

    def step1_recorded_inputs(self) -> list[Path]:
        """snap/gamma: the files stage 1 opens through recorded paths (the master .rslc.par and
        every used .base file), resolved as the loader resolves them; those that cannot be
        resolved are left out (validate() reports them).  [] for doris."""
        if not self.is_gamma_like or self.stack is None:
            return []
        res = self.resolver()
        out = []
        try:
            out.append(res.resolve(snapfmt.read_rsc(self.root), self.root / "rsc.txt"))
        except InputError:
            pass
        for i in self.stack.used:
            try:
                out.append(res.resolve(self.stack.entries[i].base_recorded, self.root / "pscphase.in"))
            except InputError:
                pass
        return out

    def patch(self, name: str) -> Patch:
        for p in self.patches:
            if p.name == name:
                return p
        raise InputError(f"{self.root}: no patch named {name}")

    def validate(self) -> None:
        """Check every input a run needs; raise InputError naming the first bad file."""
        r = self.root
        if self.width is None:
            raise InputError(f"{r / 'width.txt'}: file not found")
        if self.length is None:
            raise InputError(f"{r / 'len.txt'}: file not found")
        if self.is_gamma_like:
            self._validate_gamma()
        else:
            self._validate_doris()
        if not self.patches:
            raise InputError(f"{r}: no patches (expected patch.list or PATCH_* folders)")
        for p in self.patches:
            self.validate_patch(p)

    def _validate_gamma(self) -> None:
        """snap/gamma root: pscphase.in, rsc.txt -> .rslc.par, one .base per interferogram."""
        r = self.root
        if self.stack is None:
            raise InputError(f"{r / 'pscphase.in'}: file not found")
        st = self.stack
        if st.width != self.width:
            raise InputError(f"{r / 'pscphase.in'}: width {st.width} differs from width.txt ({self.width})")
        if not (r / "rsc.txt").is_file():
            raise InputError(f"{r / 'rsc.txt'}: file not found")
        res = self.resolver()
        par = self.rslc_par(res)
        if par.range_samples != self.width:
            raise InputError(f"{par.path}: range_samples {par.range_samples} differs from width.txt ({self.width})")
        if par.azimuth_lines != self.length:
            raise InputError(f"{par.path}: azimuth_lines {par.azimuth_lines} differs from len.txt ({self.length})")
        if not 0 < par.wavelength < 1:
            raise InputError(f"{par.path}: radar_frequency {par.radar_frequency:g} Hz gives a wavelength of "
                             f"{par.wavelength:g} m (expected 0 < lambda < 1 m)")
        for i in st.used:
            e = st.entries[i]
            snapfmt.read_base(res.resolve(e.base_recorded, r / "pscphase.in", "baseline file"))

    def _validate_doris(self) -> None:
        r = self.root
        if self.master_day is None:
            raise InputError(f"{r / 'master_day.1.in'}: file not found")
        if not self.slave_days:
            raise InputError(f"{r / 'day.1.in'}: file not found or empty")
        M = self.n_ifg
        if self.master_day in self.slave_days:
            raise InputError(f"{r / 'day.1.in'}: lists the master date {self.master_day} (expected slaves only)")
        if len(set(self.slave_days)) != M:
            raise InputError(f"{r / 'day.1.in'}: repeated dates")
        mtprep.read_numbers(r / "bperp.1.in", expect=M, what="baselines (one per date in day.1.in)")
        for name in ("heading.1.in", "lambda.1.in", "slc_osfactor.1.in"):
            mtprep.read_scalar(r / name)
        lam = mtprep.read_scalar(r / "lambda.1.in")
        if not 0 < lam < 1:
            raise InputError(f"{r / 'lambda.1.in'}: wavelength {lam:g} m is not plausible (expected 0 < lambda < 1 m)")
        if (r / "look_angle.1.in").exists():
            mtprep.read_grid_file(r / "look_angle.1.in")
        if (r / "calamp.out").exists():
            dates = [mtprep.calamp_date(p) for p, _ in mtprep.read_calamp(r / "calamp.out")]
            missing = sorted(set(self.slave_days) - set(d for d in dates if d))
            if missing:
                raise InputError(f"{r / 'calamp.out'}: no calibration line for date(s) {', '.join(missing)} of day.1.in")

    def validate_patch(self, p: Patch) -> None:
        """Sizes of one patch's pscands.1.* files against its candidate count and M."""
        if not p.path.is_dir():
            raise InputError(f"{p.path}: patch folder listed in {self.patch_list_source} does not exist")
        n = mtprep.count_lines(p.path / "pscands.1.ij")
        p.n_cand = n
        M = self.n_ph_blocks
        for fname, per, what in (("pscands.1.ph", 8 * M, f"{n} candidates x {M} ifgs x complex64"),
                                 ("pscands.1.ll", 8, f"{n} candidates x (lon, lat) float32"),
                                 ("pscands.1.hgt", 4, f"{n} candidates x float32")):
            f = p.path / fname
            if not f.is_file():
                if fname == "pscands.1.hgt":
                    continue
                raise InputError(f"{f}: file not found")
            size = f.stat().st_size
            if size != n * per:
                raise InputError(f"{f}: {size} bytes, expected {n * per} ({what})")
        da = p.path / "pscands.1.da"
        if da.is_file():
            mtprep.read_numbers(da, expect=n, what="D_A values (one per candidate)")
        self.validate_ij(p)

    def validate_ij(self, p: Patch) -> None:
        """pscands.1.ij: ids 1..n, pixels inside the patch window and the image, no repeats."""
        f = p.path / "pscands.1.ij"
        ij = mtprep.read_ij(f)
        if ij.shape[0] == 0:
            return
        az, rg = ij[:, 1].astype(np.int64), ij[:, 2].astype(np.int64)
        if self.width is not None and self.length is not None:
            bad = np.flatnonzero((az >= self.length) | (rg >= self.width))
            if bad.size:
                k = int(bad[0])
                raise InputError(f"{f}: line {k + 1}: pixel (az {az[k]}, rg {rg[k]}) is outside the "
                                 f"{self.length} x {self.width} image")
        if p.window is not None:
            rg0, rg1, az0, az1 = p.window
            bad = np.flatnonzero((az < az0 - 1) | (az > az1 - 1) | (rg < rg0 - 1) | (rg > rg1 - 1))
            if bad.size:
                k = int(bad[0])
                raise InputError(f"{f}: line {k + 1}: pixel (az {az[k]}, rg {rg[k]}) is outside the patch "
                                 f"window of patch.in (rg {rg0}-{rg1}, az {az0}-{az1}, 1-based)")
        key = az * (int(rg.max()) + 1) + rg
        uniq, first, counts = np.unique(key, return_index=True, return_counts=True)
        if uniq.size != key.size:
            k = int(np.sort(first[counts > 1])[0])
            raise InputError(f"{f}: pixel (az {az[k]}, rg {rg[k]}) is listed more than once")


def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def discover_patches(root: Path) -> tuple[list[str], str]:
    """Patch folder names from patch.list, else PATCH_* in numeric order."""
    pl = root / "patch.list"
    if pl.is_file():
        names = [ln.strip() for ln in pl.read_text().splitlines() if ln.strip()]
        return names, "patch.list"
    names = sorted((d.name for d in root.glob("PATCH_*") if d.is_dir()), key=_natural_key)
    return names, "PATCH_* folders"


def read_flavour(root: Path) -> str:
    """First word of ``processor.txt`` (lower case); ``doris`` when the file is absent or empty."""
    f = root / "processor.txt"
    if not f.is_file():
        return "doris"
    words = f.read_text().split()
    flav = words[0].lower() if words else "doris"
    if flav not in FLAVOURS:
        raise InputError(f"{f}: unknown processor '{flav}', expected one of {', '.join(FLAVOURS)}")
    return flav


def open_dataset(root: str | Path, *, strict: bool = False) -> Dataset:
    """Read a dataset root's small files. With ``strict`` every input is validated."""
    r = Path(root)
    if not r.is_dir():
        raise InputError(f"{r}: dataset folder not found")
    flavour = read_flavour(r)
    names, src = discover_patches(r)
    patches = []
    for nm in names:
        pdir = r / nm
        p = Patch(nm, pdir)
        if (pdir / "patch.in").is_file():
            p.window = mtprep.read_patch_window(pdir / "patch.in")
        if (pdir / "patch_noover.in").is_file():
            p.noover = mtprep.read_patch_window(pdir / "patch_noover.in")
        if (pdir / "pscands.1.ij").is_file():
            p.n_cand = mtprep.count_lines(pdir / "pscands.1.ij")
        patches.append(p)
    ds = Dataset(r, flavour, patches, patch_list_source=src)
    if (r / "width.txt").is_file():
        ds.width = int(mtprep.read_scalar(r / "width.txt", integer=True))
    if (r / "len.txt").is_file():
        ds.length = int(mtprep.read_scalar(r / "len.txt", integer=True))
    if ds.is_gamma_like:
        if (r / "pscphase.in").is_file():
            ds.stack = snapfmt.read_stack(r)
            ds.master_day = ds.stack.master
            ds.slave_days = ds.stack.slaves
    else:
        if (r / "master_day.1.in").is_file():
            ds.master_day = mtprep.read_dates(r / "master_day.1.in", expect=1)[0]
        if (r / "day.1.in").is_file():
            ds.slave_days = mtprep.read_dates(r / "day.1.in")
    if strict:
        ds.validate()
    return ds
