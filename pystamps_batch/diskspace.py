"""Free-space check before a unit runs, from an estimate of what it will write.

Estimates are upper bounds from the candidate count n, the number of images N and
the stage's artifacts (complex64 = 8 bytes, float32 = 4, float64 = 8 per value),
times a safety factor. A unit is refused (StageError naming the folder, the need
and what is free) when the filesystem cannot hold it; nothing has been written then.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from .errors import StageError

SAFETY = 1.5
SLACK = 16 << 20      # bytes: MAT headers, markers, scratch

#: bytes per (pixel, image) and per pixel written by each stage label
_PER = {
    "1": (8 + 4, 80),
    "2": (8 + 4 + 8 + 8, 72),
    "3": (8 + 4, 48),
    "4": (8 + 8 + 4 + 4, 96),
    "5a": (16, 0),
    "5b": (8 + 16 + 8 + 4 + 4, 96),
    "6": (4 + 8 + 8, 16),
    "7": (4 + 4, 48),
    "8": (8 + 4 + 8, 48),
}


def estimate(label: str, n: int, n_images: int) -> int:
    per_cell, per_pixel = _PER.get(label, (16, 64))
    return int(SAFETY * (n * n_images * per_cell + n * per_pixel)) + SLACK


def check(folder: Path, label: str, n: int, n_images: int) -> int:
    """Raise StageError if ``folder``'s filesystem has less free space than the estimate."""
    need = estimate(label, n, n_images)
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return need
    if free < need:
        raise StageError(f"{folder}: not enough free space for stage {label}: needs about "
                         f"{need / 2**20:.0f} MiB, {free / 2**20:.0f} MiB free")
    return need
