"""Seeded random sub-streams: one independent generator per (component, index...).

Every random quantity of the synthetic scene is drawn from a generator keyed by
the user's seed, a component name and optional integer indices (image, tile,
candidate chunk).  The streams do not depend on the order in which they are
created, so a tile or chunk can be regenerated anywhere (e.g. for two
overlapping patches) and always gives the same numbers.
"""
from __future__ import annotations

import numpy as np

#: Component ids (never renumber: that would change every dataset).
COMPONENTS = {
    "dates": 1,
    "baselines": 2,
    "density": 3,
    "sampling": 4,
    "attributes": 5,
    "dem": 6,
    "deformation": 7,
    "atmosphere": 8,
    "orbit": 9,
    "noise": 10,
    "amplitude": 11,
    "clutter": 12,
    "clutter_raw": 13,
    "calibration": 14,
    "phase": 15,
    "brightness": 16,
}


def rng(seed: int, component: str, *index: int) -> np.random.Generator:
    """Generator for ``component`` (a key of :data:`COMPONENTS`) at integer ``index``."""
    key = (COMPONENTS[component],) + tuple(int(i) for i in index)
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))
