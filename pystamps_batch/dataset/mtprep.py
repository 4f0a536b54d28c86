"""Parsers for the files ``mt_prep`` leaves in a dataset root (DORIS flavour).

Each parser reads one file and raises :class:`InputError` with one line naming the
file and what is wrong (missing, empty, non-numeric at line k, wrong size ...).
Byte orders: DORIS rasters are little-endian (the x86 writer's), text elsewhere.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return path.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None


def read_numbers(path: Path, *, expect: int | None = None, what: str = "numbers") -> np.ndarray:
    """All whitespace-separated numbers of a text file as float64 (1-D)."""
    text = _read_text(path)
    toks = text.split()
    out = np.empty(len(toks))
    for i, t in enumerate(toks):
        try:
            out[i] = float(t)
        except ValueError:
            line = text[: text.find(t)].count("\n") + 1
            raise InputError(f"{path}: line {line}: {t!r} is not a number") from None
    if expect is not None and out.size != expect:
        raise InputError(f"{path}: found {out.size} {what}, expected {expect}")
    return out


def read_scalar(path: Path, *, integer: bool = False) -> float:
    """The first number in a one-value text file (width.txt, lambda.1.in ...)."""
    v = read_numbers(path)
    if v.size == 0:
        raise InputError(f"{path}: empty, expected one number")
    x = float(v[0])
    if integer and (not x.is_integer() or x <= 0):
        raise InputError(f"{path}: {x:g} is not a positive integer")
    return x


def read_dates(path: Path, *, expect: int | None = None) -> list[str]:
    """YYYYMMDD tokens, one per line (day.1.in, master_day.1.in)."""
    text = _read_text(path)
    dates = text.split()
    for i, d in enumerate(dates, 1):
        if len(d) != 8 or not d.isdigit() or not (1 <= int(d[4:6]) <= 12) or not (1 <= int(d[6:8]) <= 31):
            raise InputError(f"{path}: line {i}: {d!r} is not a YYYYMMDD date")
    if expect is not None and len(dates) != expect:
        raise InputError(f"{path}: found {len(dates)} dates, expected {expect}")
    if not dates:
        raise InputError(f"{path}: empty, expected YYYYMMDD dates")
    return dates


def read_patch_window(path: Path) -> tuple[int, int, int, int]:
    """patch.in / patch_noover.in: (rg_start, rg_end, az_start, az_end), 1-based inclusive."""
    v = read_numbers(path, expect=4, what="integers")
    if not all(float(x).is_integer() for x in v) or v[0] > v[1] or v[2] > v[3] or v.min() < 1:
        raise InputError(f"{path}: expected 4 positive integers rg_start rg_end az_start az_end, got {v.tolist()}")
    return tuple(int(x) for x in v)  # type: ignore[return-value]


def count_lines(path: Path) -> int:
    """Number of non-empty lines (candidates in pscands.1.ij)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    n = 0
    with open(path, "rb") as fh:
        for line in fh:
            if line.strip():
                n += 1
    return n


def read_ij(path: Path) -> np.ndarray:
    """pscands.1.ij: n x 3 float64 [id, az, rg] (az/rg 0-based)."""
    text = _read_text(path)
    if not text.strip():
        return np.zeros((0, 3))
    try:
        a = np.array(text.split(), dtype=np.float64)
    except ValueError:
        for i, line in enumerate(text.splitlines(), 1):
            for t in line.split():
                try:
                    float(t)
                except ValueError:
                    raise InputError(f"{path}: line {i}: {t!r} is not a number") from None
        raise
    if a.size % 3:
        raise InputError(f"{path}: {a.size} numbers is not a multiple of 3 (id az rg per line)")
    a = a.reshape(-1, 3)
    if np.any(a[:, 1:] < 0) or np.any(a != np.round(a)):
        raise InputError(f"{path}: id/az/rg must be non-negative integers")
    return a


def read_binary(path: Path, dtype: str, count: int, what: str) -> np.ndarray:
    """A raw binary file of exactly ``count`` values of ``dtype`` (e.g. '<f4')."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    size = path.stat().st_size
    want = count * np.dtype(dtype).itemsize
    if size != want:
        raise InputError(f"{path}: {size} bytes, expected {want} ({what})")
    return np.fromfile(path, dtype=dtype, count=count)


def read_calamp(path: Path) -> list[tuple[str, float]]:
    """calamp.out: lines ``<path> <calibration constant>``."""
    out = []
    for i, line in enumerate(_read_text(path).splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2:
            raise InputError(f"{path}: line {i}: expected '<slc path> <constant>'")
        try:
            out.append((parts[0], float(parts[1])))
        except ValueError:
            raise InputError(f"{path}: line {i}: {parts[1]!r} is not a number") from None
    return out


def calamp_date(slc_path: str) -> str | None:
    """Date of a calamp.out line (spec C.1.1 step 4): first 8 characters of the last
    path component if numeric, else of the second-to-last."""
    parts = [p for p in slc_path.split("/") if p != ""]
    for comp in (parts[-1:] + parts[-2:-1]):
        if len(comp) >= 8 and comp[:8].isdigit():
            return comp[:8]
    return None


def read_grid_file(path: Path, n_values: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """look_angle.1.in / bperp_*.1.in: 50 x 50 x 2 -> (value at h=0, value at h=1000 m),
    each 50 x 50 with rows = azimuth (linspace(0, len, 50)) and columns = range."""
    v = read_numbers(path, expect=n_values, what="values (50 x 50 x 2)")
    g0 = v[0::2].reshape(50, 50)
    g1 = v[1::2].reshape(50, 50)
    return g0, g1
