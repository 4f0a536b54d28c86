"""Small synthetic datasets for tests, generated once per session and copied per test."""
from __future__ import annotations

import shutil
from pathlib import Path

_CACHE: dict[tuple, Path] = {}


def synth_dataset(tmp_path_factory, dest: Path, **kw) -> Path:
    """A copy (at ``dest``) of a cached synthetic dataset generated with ``kw``."""
    from pystamps_batch.synth import generate

    key = tuple(sorted(kw.items()))
    src = _CACHE.get(key)
    if src is None:
        src = tmp_path_factory.mktemp("synth") / "ds"
        generate(src, **kw)
        _CACHE[key] = src
    shutil.copytree(src, dest)
    return dest


#: four 2x2 patches, small enough for quick MPI/CLI tests, big enough for every stage grid
MULTI = dict(width=600, length=600, rg_patches=2, az_patches=2, n_cand=3200, n_ifg=10, seed=7)
#: one patch, the demo-sized scene
SINGLE = dict(width=500, length=500, n_cand=3000, n_ifg=10, seed=3)
