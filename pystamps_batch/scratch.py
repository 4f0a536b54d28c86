"""Per-run scratch space (snaphu folders of stage 6): under $PYSTAMPS_SCRATCH or the system temp.

Stage 6 makes one sub-folder per interferogram, deletes it on success and keeps it on
failure (its path is in the error). The run's folder is removed at the end when empty,
so a kept failure folder survives for inspection; a new run never reads an old one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def run_scratch(ds) -> Iterator[Path]:
    base = os.environ.get("PYSTAMPS_SCRATCH") or None
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in (ds.root.name or "dataset"))
    path = Path(tempfile.mkdtemp(prefix=f"pystamps-{name}-", dir=base))
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            path.rmdir()                  # only when empty: failure folders are kept
