"""MATLAB .mat reading and atomic writing.

Writing: MAT v5 through :func:`scipy.io.savemat`; if any variable is 2 GiB or larger,
MAT v7.3 (HDF5) through h5py, as StaMPS' ``stamps_save`` does.  Every file is
written to a temporary name in the destination folder, fsynced, and renamed into
place, so a killed run never leaves a half-written artifact.

Reading: v5/v7 through scipy (squeeze off, so shapes are MATLAB's 2-D shapes) and
v7.3 through h5py.  Duplicate variables (Octave's appended saves) resolve to the
last one, as MATLAB's ``load`` does.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

V73_LIMIT = 2**31  # bytes; a variable this large forces MAT v7.3


class MatFileError(Exception):
    """A .mat file is missing, unreadable or lacks a variable; str() is one line."""


def mat_path(folder: str | os.PathLike, name: str) -> Path:
    """``folder/name.mat`` (``name`` given without extension)."""
    return Path(folder) / f"{name}.mat"


def load_mat(path: str | os.PathLike, variables: Iterable[str] | None = None) -> dict[str, Any]:
    """Load a .mat file into ``{name: ndarray}`` (2-D MATLAB shapes kept).

    Raises :class:`MatFileError` naming the file when it is missing or unreadable,
    or when a requested variable is absent.
    """
    p = Path(path)
    if not p.is_file():
        raise MatFileError(f"{p}: file not found")
    names = list(variables) if variables is not None else None
    try:
        with open(p, "rb") as fh:
            head = fh.read(128)
        if b"MATLAB 7.3" in head or head[:8] == b"\x89HDF\r\n\x1a\n" or _is_hdf5(p):
            data = _load_v73(p, names)
        else:
            import scipy.io as sio

            # Octave appends duplicates; scipy keeps the LAST copy only when reading the
            # whole file (with variable_names it returns the first), so read everything.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                data = sio.loadmat(p, squeeze_me=False, chars_as_strings=True)
            data = {k: v for k, v in data.items()
                    if not k.startswith("__") and (names is None or k in names)}
    except MatFileError:
        raise
    except Exception as exc:  # scipy raises many types on corrupt files
        raise MatFileError(f"{p}: not a readable MATLAB file ({type(exc).__name__}: {exc})") from None
    if names is not None:
        missing = [n for n in names if n not in data]
        if missing:
            raise MatFileError(f"{p}: missing variable(s) {', '.join(missing)}")
    return data


def _is_hdf5(p: Path) -> bool:
    with open(p, "rb") as fh:
        fh.seek(512)
        return fh.read(8) == b"\x89HDF\r\n\x1a\n"


def _load_v73(p: Path, names: list[str] | None) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    with h5py.File(p, "r") as f:
        for k in f.keys():
            if k.startswith("#") or (names is not None and k not in names):
                continue
            ds = f[k]
            if not isinstance(ds, h5py.Dataset):
                continue
            a = ds[()]
            if a.dtype.names and set(a.dtype.names) >= {"real", "imag"}:
                a = a["real"] + 1j * a["imag"]
            a = np.asarray(a)
            if a.ndim >= 2:
                a = a.T  # HDF5 stores MATLAB arrays transposed
            cls = ds.attrs.get("MATLAB_class", b"")
            if cls in (b"char", "char"):
                a = "".join(chr(int(c)) for c in a.ravel())
                a = np.array([a])
            out[k] = a
    return out


def _as_mat_value(v: Any) -> Any:
    import scipy.sparse

    if isinstance(v, str) or scipy.sparse.issparse(v):
        return v
    a = np.asarray(v)
    if a.dtype == bool:
        return a.astype(np.uint8)
    return a


def save_mat(path: str | os.PathLike, variables: Mapping[str, Any]) -> Path:
    """Write ``variables`` to ``path`` atomically (temp file, fsync, rename).

    1-D arrays are stored as MATLAB column vectors (n x 1); pass 2-D arrays for
    any other shape.  Booleans are stored as uint8 (MATLAB logical arrays load as
    uint8 through scipy as well).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    prepared = {k: _as_mat_value(v) for k, v in variables.items()}
    big = any(isinstance(v, np.ndarray) and v.nbytes >= V73_LIMIT for v in prepared.values())
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if big:
                fh.close()
                _save_v73(tmp, prepared)
            else:
                import scipy.io as sio

                sio.savemat(fh, prepared, do_compression=False, oned_as="column",
                            long_field_names=True)
                fh.flush()
                os.fsync(fh.fileno())
        if big:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


def _save_v73(path: str, variables: Mapping[str, Any]) -> None:
    """MAT v7.3: an HDF5 file with a 512-byte MATLAB user block; arrays transposed."""
    import h5py

    with h5py.File(path, "w", userblock_size=512) as f:
        for k, v in variables.items():
            if isinstance(v, str):
                a = np.frombuffer(v.encode("utf-16-le"), dtype=np.uint16).reshape(-1, 1)
                ds = f.create_dataset(k, data=a)
                ds.attrs["MATLAB_class"] = np.bytes_("char")
                continue
            if hasattr(v, "toarray"):     # sparse: stored dense in v7.3 (only small StaMPS matrices are sparse)
                v = v.toarray()
            a = np.asarray(v)
            if a.ndim == 1:
                a = a.reshape(-1, 1)
            if a.dtype.kind == "c":
                base = np.float64 if a.dtype == np.complex128 else np.float32
                comp = np.empty(a.shape, dtype=[("real", base), ("imag", base)])
                comp["real"], comp["imag"] = a.real, a.imag
                a, cls = comp, ("double" if base == np.float64 else "single")
            elif a.dtype.kind == "f":
                cls = "double" if a.dtype == np.float64 else "single"
            elif a.dtype.kind in "ui":
                cls = f"{'u' if a.dtype.kind == 'u' else ''}int{a.dtype.itemsize * 8}"
            else:
                raise MatFileError(f"{path}: cannot store {k} of dtype {a.dtype} as MAT v7.3")
            ds = f.create_dataset(k, data=a.T)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
    hdr = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by pystamps-batch HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(hdr.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
