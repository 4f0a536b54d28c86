"""Atomic NetCDF4 writing through the ``netCDF4`` library.

:func:`write_netcdf` takes a plain description (dimensions, :class:`NcVar` list,
global attributes) and writes it to a temporary file in the destination folder,
fsyncs it and renames it into place (:func:`atomic_output`), so a killed export
never leaves a half-written file under the final name.  What the variables mean
(CF attributes) is the caller's business; see :mod:`pystamps_batch.export`.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class NcVar:
    """One variable: ``name``, its dimension names, the data and its attributes.

    ``dtype`` (default: the data's) is the on-disk type; ``fill`` the ``_FillValue``
    (None: no fill value attribute).  Arrays of two or more dimensions are stored
    zlib-compressed (level 4, shuffle) in chunks of whole rows along the last axis.
    """

    name: str
    dims: tuple[str, ...]
    data: Any
    attrs: Mapping[str, Any] = field(default_factory=dict)
    dtype: Any = None
    fill: Any = None


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success fsync and rename it to ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched.
    """
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):   # make the rename durable
        dfd = os.open(p.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def _chunks(shape: Sequence[int]) -> list[int]:
    """Chunk sizes for an n-D variable: whole last axis, ~1 MiB per chunk."""
    last = max(int(shape[-1]), 1)
    rows = max(1, min(int(shape[0]) or 1, (1 << 18) // last))
    return [rows] + [max(int(s), 1) for s in shape[1:]]


def write_netcdf(path: str | os.PathLike, dims: Mapping[str, int], variables: Sequence[NcVar],
                 attrs: Mapping[str, Any]) -> Path:
    """Write a NETCDF4 file atomically; returns ``Path(path)``.

    ``dims`` maps dimension names to sizes (fixed, not unlimited); variables are
    created in the given order; ``attrs`` are the global attributes (None values are
    skipped).
    """
    import netCDF4

    p = Path(path)
    with atomic_output(p) as tmp:
        with netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
            for k, v in attrs.items():
                if v is not None:
                    nc.setncattr(k, v)
            for name, size in dims.items():
                nc.createDimension(name, int(size))
            for var in variables:
                data = np.asarray(var.data)
                dtype = np.dtype(var.dtype) if var.dtype is not None else data.dtype
                kw: dict[str, Any] = {}
                if var.fill is not None:
                    kw["fill_value"] = np.array(var.fill, dtype=dtype)
                if len(var.dims) >= 2 and data.size:
                    kw.update(zlib=True, complevel=4, shuffle=True, chunksizes=_chunks(data.shape))
                v = nc.createVariable(var.name, dtype, var.dims, **kw)
                v.set_auto_mask(False)
                for k, a in var.attrs.items():
                    if a is not None:
                        v.setncattr(k, a)
                if data.size:
                    v[...] = data.astype(dtype, copy=False)
    return p
