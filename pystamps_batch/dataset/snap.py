"""Parsers for SNAP / GAMMA-flavour dataset roots (``mt_prep_snap``, ``mt_prep_gamma``; spec A.1-A.2, C.1.2).

Root files read here: ``rsc.txt`` (path of the master ``.rslc.par``), ``pscphase.in``
(width, then one ``<datadir>/diff0/<master>_<slave>.diff`` path per line), and through
them the ``.rslc.par`` and the per-interferogram ``.base`` files.

Paths recorded by mt_prep_snap are absolute.  :class:`PathResolver` opens a recorded
path when it exists; otherwise it looks for the same file relative to the dataset root
(the tail of the path below the recorded data folder), says so once through the log, and
raises :class:`InputError` only when neither exists.

``.par`` / ``.base`` values are read with StaMPS' ``readparm`` semantics: the file is split
into whitespace tokens, the key is matched as a **prefix** of a token and must match
exactly one token; the values are the tokens that follow it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np

from ..errors import InputError
from ..matlab import datenum
from .mtprep import _read_text

#: Speed of light used by ps_load_initial_gamma for ``lambda = c / radar_frequency`` (m/s).
SPEED_OF_LIGHT = 299792458.0

#: Folders of a SNAP / GAMMA export directly below the data folder mt_prep_snap was given.
EXPORT_FOLDERS = ("rslc", "slc", "diff0", "geo", "dem")

_DIFF_TAIL = re.compile(r"(\d{8})_(\d{8})\.diff$")


# ------------------------------------------------------------------------------------------
# readparm
# ------------------------------------------------------------------------------------------
def readparm(path: Path, key: str, nvals: int = 1, *, text: str | None = None) -> list[str]:
    """The ``nvals`` tokens after the one token of ``path`` that starts with ``key``.

    Raises InputError when no token or several tokens start with ``key`` (StaMPS'
    ``readparm`` then fails or returns garbage), or when fewer than ``nvals`` follow.
    """
    toks = (text if text is not None else _read_text(path)).split()
    hits = [i for i, t in enumerate(toks) if t.startswith(key)]
    if not hits:
        raise InputError(f"{path}: no '{key}' entry")
    if len(hits) > 1:
        raise InputError(f"{path}: '{key}' matches {len(hits)} entries ({', '.join(toks[i] for i in hits[:3])}), "
                         "expected exactly one")
    i = hits[0]
    vals = toks[i + 1:i + 1 + nvals]
    if len(vals) < nvals:
        raise InputError(f"{path}: '{key}' has {len(vals)} value(s), expected {nvals}")
    return vals


def readparm_numbers(path: Path, key: str, nvals: int = 1, *, text: str | None = None) -> np.ndarray:
    """:func:`readparm` values as float64 (``nvals``,)."""
    vals = readparm(path, key, nvals, text=text)
    try:
        return np.array([float(v) for v in vals])
    except ValueError:
        raise InputError(f"{path}: '{key}' value {' '.join(vals)!r} is not numeric") from None


@dataclass(frozen=True)
class RslcPar:
    """The master ``.rslc.par`` values that step 1 uses (lengths in m, angles in degrees)."""

    path: Path
    heading: float                  # heading:  (deg)
    radar_frequency: float          # radar_frequency:  (Hz)
    platform: str                   # first token after sensor:
    range_pixel_spacing: float      # Δr (m)
    near_range_slc: float           # r0 (m)
    sar_to_earth_center: float      # R_s (m)
    earth_radius_below_sensor: float  # R_e (m)
    center_range_slc: float         # (m) -> ps1.mean_range
    azimuth_lines: int              # N_az
    range_samples: int              # width of the SLCs
    prf: float                      # (Hz)

    @property
    def wavelength(self) -> float:
        """``lambda = 299792458 / radar_frequency`` (m)."""
        return SPEED_OF_LIGHT / self.radar_frequency


def read_rslc_par(path: Path) -> RslcPar:
    """Parse the master ``.rslc.par``; every value missing or ambiguous is an InputError."""
    text = _read_text(path)

    def num(key: str) -> float:
        return float(readparm_numbers(path, key, text=text)[0])

    freq = num("radar_frequency:")
    if not freq > 0:
        raise InputError(f"{path}: radar_frequency {freq:g} Hz is not positive")
    par = RslcPar(path=path, heading=num("heading:"), radar_frequency=freq,
                  platform=readparm(path, "sensor:", text=text)[0],
                  range_pixel_spacing=num("range_pixel_spacing"), near_range_slc=num("near_range_slc"),
                  sar_to_earth_center=num("sar_to_earth_center"),
                  earth_radius_below_sensor=num("earth_radius_below_sensor"),
                  center_range_slc=num("center_range_slc"), azimuth_lines=int(num("azimuth_lines")),
                  range_samples=int(num("range_samples")), prf=num("prf"))
    for name in ("range_pixel_spacing", "near_range_slc", "sar_to_earth_center", "earth_radius_below_sensor",
                 "prf", "azimuth_lines", "range_samples"):
        if not getattr(par, name) > 0:
            raise InputError(f"{path}: {name} = {getattr(par, name):g} is not positive")
    if par.sar_to_earth_center <= par.earth_radius_below_sensor:
        raise InputError(f"{path}: sar_to_earth_center {par.sar_to_earth_center:g} m is not above "
                         f"earth_radius_below_sensor {par.earth_radius_below_sensor:g} m")
    return par


def read_base(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``.base`` file: (T, C, N) of ``initial_baseline(TCN):`` and the rates of
    ``initial_baseline_rate:`` (m, m/s), each (3,) float64."""
    text = _read_text(path)
    return (readparm_numbers(path, "initial_baseline(TCN):", 3, text=text),
            readparm_numbers(path, "initial_baseline_rate:", 3, text=text))


# ------------------------------------------------------------------------------------------
# recorded paths
# ------------------------------------------------------------------------------------------
#: (recorded prefix, dataset root) pairs already announced in this process.
_ANNOUNCED: set[tuple[str, str]] = set()


class PathResolver:
    """Open the absolute paths that mt_prep_snap recorded, also in a relocated dataset.

    A recorded path that exists is used as is.  Otherwise the tails of the path (longest
    first, at least ``folder/file``) are tried below the dataset root, and the first
    that exists is used; the recorded prefix it replaced is remembered, so that later
    paths under the same prefix map the same way, and announced once per process
    through ``log``.
    """

    def __init__(self, root: Path, log: Callable[[str], None] | None = None):
        self.root = Path(root)
        self.log = log
        self.prefixes: dict[str, Path] = {}

    def resolve(self, recorded: str, source: Path, what: str = "file") -> Path:
        """The existing file for ``recorded`` (listed in ``source``); InputError if none."""
        p = Path(recorded)
        if not p.is_absolute():
            p = self.root / p        # mt_prep run with a relative data folder: relative to the root
        if p.is_file():
            return p
        parts = PurePosixPath(recorded).parts
        for prefix, base in self.prefixes.items():
            if recorded.startswith(prefix + "/"):
                cand = base / recorded[len(prefix) + 1:]
                if cand.is_file():
                    return cand
        tried = []
        for k in range(1, max(len(parts) - 1, 1)):
            tail = PurePosixPath(*parts[k:])
            if tail.is_absolute() or len(tail.parts) < 2:
                continue
            cand = self.root / tail
            tried.append(cand)
            if cand.is_file():
                prefix = str(PurePosixPath(*parts[:k]))
                self.prefixes[prefix] = self.root
                key = (prefix, str(self.root))
                if self.log and key not in _ANNOUNCED:
                    _ANNOUNCED.add(key)
                    self.log(f"recorded paths under {prefix} do not exist here: resolved relative to the "
                                 f"dataset root {self.root} (relocated dataset)")
                return cand
        last = tried[-1] if tried else self.root / PurePosixPath(recorded).name
        raise InputError(f"{source}: {what} {recorded} does not exist, nor does {last} "
                         "(relocated dataset without it?)")


# ------------------------------------------------------------------------------------------
# rsc.txt, pscphase.in and the interferogram list
# ------------------------------------------------------------------------------------------
def read_rsc(root: Path) -> str:
    """The master ``.rslc.par`` path recorded in ``rsc.txt`` (its first token)."""
    f = root / "rsc.txt"
    toks = _read_text(f).split()
    if not toks:
        raise InputError(f"{f}: empty, expected the path of the master .rslc.par")
    return toks[0]


@dataclass(frozen=True)
class IfgEntry:
    """One line of pscphase.in: recorded path and the dates StaMPS takes from it."""

    line: int                   # 1-based line in pscphase.in
    recorded: str               # the .diff path as written
    master: str                 # YYYYMMDD
    slave: str                  # YYYYMMDD

    @property
    def base_recorded(self) -> str:
        """``<path minus 'diff'>base`` (ps_load_initial_gamma step 5)."""
        return self.recorded[:-4] + "base"

    @property
    def is_null(self) -> bool:
        return self.master == self.slave


def _valid_date(d: str) -> bool:
    return len(d) == 8 and d.isdigit() and 1 <= int(d[4:6]) <= 12 and 1 <= int(d[6:8]) <= 31


def read_pscphase(root: Path) -> tuple[int, list[IfgEntry]]:
    """``pscphase.in``: (width, entries).  Dates come from fixed positions at the end of each
    path, as ps_load_initial_gamma takes them (``...<master>_<slave>.diff``)."""
    f = root / "pscphase.in"
    text = _read_text(f)
    lines = [(i, ln.strip()) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
    if not lines:
        raise InputError(f"{f}: empty, expected the width and one .diff path per line")
    try:
        width = int(lines[0][1].split()[0])
    except ValueError:
        raise InputError(f"{f}: line {lines[0][0]}: {lines[0][1]!r} is not the width") from None
    entries = []
    for i, ln in lines[1:]:
        path = ln.split()[0]
        m = _DIFF_TAIL.search(path)
        if m is None or not (_valid_date(m.group(1)) and _valid_date(m.group(2))):
            raise InputError(f"{f}: line {i}: {path!r} does not end in <YYYYMMDD>_<YYYYMMDD>.diff "
                             "(StaMPS reads the dates from these positions)")
        entries.append(IfgEntry(i, path, m.group(1), m.group(2)))
    if not entries:
        raise InputError(f"{f}: lists no interferograms")
    return width, entries


@dataclass
class SnapStack:
    """The acquisition bookkeeping of ps_load_initial_gamma (C.1.2 steps 1-2).

    ``entries`` are the pscphase.in lines (= the blocks of pscands.1.ph, in order);
    ``used`` the indices of the real interferograms among them (a null master-master
    interferogram is detected and dropped); ``master_pos`` the 0-based position of the
    master among the N = len(used) + 1 acquisitions (``len(used)`` = append when the
    master is the latest date).
    """

    width: int
    entries: list[IfgEntry]
    master: str
    used: list[int]
    master_pos: int
    rsc_recorded: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def slaves(self) -> list[str]:
        return [self.entries[i].slave for i in self.used]

    @property
    def n_blocks(self) -> int:
        """Interferogram blocks in pscands.1.ph (null interferogram included)."""
        return len(self.entries)

    @property
    def null_blocks(self) -> list[int]:
        return [i for i, e in enumerate(self.entries) if e.is_null]

    def days(self) -> np.ndarray:
        """(N,) datenums, master inserted at ``master_pos``."""
        d = [datenum(s) for s in self.slaves]
        d.insert(self.master_pos, datenum(self.master))
        return np.array(d, dtype=np.float64)


def read_stack(root: Path) -> SnapStack:
    """rsc.txt + pscphase.in -> :class:`SnapStack`, with the checks StaMPS assumes:
    one master, dates ascending (the loader does not sort), master not repeated."""
    root = Path(root)
    f = root / "pscphase.in"
    width, entries = read_pscphase(root)
    master = entries[0].master
    for e in entries:
        if e.master != master:
            raise InputError(f"{f}: line {e.line}: master date {e.master} differs from {master} of the first "
                             "interferogram (single-master stacks only)")
    rsc = read_rsc(root) if (root / "rsc.txt").is_file() else None
    if rsc is not None:
        name = PurePosixPath(rsc).name
        if not name.startswith(master):
            raise InputError(f"{root / 'rsc.txt'}: master parameter file {name} is not of the master date "
                             f"{master} of pscphase.in")
    used = [i for i, e in enumerate(entries) if not e.is_null]
    nulls = [e for e in entries if e.is_null]
    if len(nulls) > 1:
        raise InputError(f"{f}: {len(nulls)} null (master-master) interferograms listed")
    if not used:
        raise InputError(f"{f}: lists only the null (master-master) interferogram")
    days = [entries[i].slave for i in used]
    for a, b, i in zip(days, days[1:], used[1:]):
        if b <= a:
            raise InputError(f"{f}: line {entries[i].line}: date {b} does not follow {a} (the interferograms must "
                             "be listed in ascending date order, as `ls` writes them)")
    master_pos = sum(1 for d in days if d < master)
    notes = []
    if nulls:
        notes.append(f"{f}: null interferogram {nulls[0].recorded} dropped (the master is inserted instead)")
    return SnapStack(width, entries, master, used, master_pos, rsc, notes)
