"""``stage2_histogram``: MATLAB ``hist(values, centres)`` counts (python backend)."""
from __future__ import annotations

import numpy as np

from ..matlab import COH_BINS, hist_centres


def histogram(values: np.ndarray, centres: np.ndarray = COH_BINS) -> np.ndarray:
    """Counts per bin, float64 shape ``(len(centres),)``; see :func:`pystamps_batch.matlab.hist_centres`."""
    return hist_centres(values, centres)
