"""A prepared StaMPS dataset root: patches, sizes, dates, and consistency checks.

:func:`open_dataset` reads only the small root files and the patch windows, and
counts candidates (lines of ``pscands.1.ij``); :meth:`Dataset.validate` checks
every input file's size against the others before a run writes anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from . import mtprep

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

    @property
    def n_ifg(self) -> int:
        """Number of master-slave interferograms M."""
        return len(self.slave_days)

    def patch(self, name: str) -> Patch:
        for p in self.patches:
            if p.name == name:
                return p
        raise InputError(f"{self.root}: no patch named {name}")

    def validate(self) -> None:
        """Check every input a run needs; raise InputError naming the first bad file."""
        r = self.root
        if self.flavour != "doris":
            raise InputError(f"{r / 'processor.txt'}: flavour '{self.flavour}' is not supported yet "
                             "(this version reads DORIS-flavour datasets)")
        if self.width is None:
            raise InputError(f"{r / 'width.txt'}: file not found")
        if self.length is None:
            raise InputError(f"{r / 'len.txt'}: file not found")
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
        if not self.patches:
            raise InputError(f"{r}: no patches (expected patch.list or PATCH_* folders)")
        for p in self.patches:
            self.validate_patch(p)

    def validate_patch(self, p: Patch) -> None:
        """Sizes of one patch's pscands.1.* files against its candidate count and M."""
        if not p.path.is_dir():
            raise InputError(f"{p.path}: patch folder listed in {self.patch_list_source} does not exist")
        n = mtprep.count_lines(p.path / "pscands.1.ij")
        p.n_cand = n
        M = self.n_ifg
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
    if (r / "master_day.1.in").is_file():
        ds.master_day = mtprep.read_dates(r / "master_day.1.in", expect=1)[0]
    if (r / "day.1.in").is_file():
        ds.slave_days = mtprep.read_dates(r / "day.1.in")
    if strict:
        ds.validate()
    return ds
