"""Atomic, chunked CSV writing of numeric columns (one header row, comma separated).

NaN values are written as empty fields (read as NULL by QGIS and as NaN by pandas
and ``numpy.genfromtxt``).  Each column has its own printf format, so float32 data
written with ``%.9g`` reads back to the identical float32.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .netcdf import atomic_output

ROWS_PER_CHUNK = 20000


def write_csv(path: str | os.PathLike, header: Sequence[str], columns: Sequence[np.ndarray],
              formats: Sequence[str]) -> Path:
    """Write ``columns`` (each (n,) or (n, k) for k columns) under ``header`` atomically.

    ``formats`` gives one printf format per entry of ``columns`` (applied to each of
    its k sub-columns).  The header must have as many names as there are sub-columns.
    """
    cols: list[np.ndarray] = []
    fmts: list[str] = []
    for c, f in zip(columns, formats, strict=True):
        a = np.asarray(c)
        a = a.reshape(a.shape[0], -1)
        cols.append(a)
        fmts.extend([f] * a.shape[1])
    if len(fmts) != len(header):
        raise ValueError(f"write_csv: {len(header)} header names for {len(fmts)} columns")
    n = cols[0].shape[0] if cols else 0
    if any(c.shape[0] != n for c in cols):
        raise ValueError("write_csv: columns have different lengths")
    p = Path(path)
    row = ",".join(fmts) + "\n"
    with atomic_output(p) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        fh.write(",".join(header) + "\n")
        for s in range(0, n, ROWS_PER_CHUNK):
            e = min(n, s + ROWS_PER_CHUNK)
            block = [tuple(vals) for vals in zip(*(c[s:e, j] for c in cols for j in range(c.shape[1])))]
            text = "".join(row % r for r in block)
            fh.write(_blank_nan(text))
    return p


def _blank_nan(text: str) -> str:
    """Replace ``nan`` fields by empty ones (numbers never contain the letter n)."""
    return text.replace("-nan", "").replace("nan", "")
