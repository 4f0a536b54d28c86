"""Patch windows exactly as mt_prep computes them (spec A.5).

``Wp = floor(width / rg_patches)``, ``Lp = floor(length / az_patches)``; patches are
numbered with the range index outer (PATCH_1 = (rg 1, az 1), PATCH_2 = (rg 1, az 2)...).
Core window -> patch_noover.in; core extended by the overlap and clipped to the image
-> patch.in.  All windows are 1-based and inclusive: (rg_start, rg_end, az_start, az_end).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PatchWindow:
    name: str
    over: tuple[int, int, int, int]
    noover: tuple[int, int, int, int]

    @property
    def lines(self) -> int:
        return self.over[3] - self.over[2] + 1

    @property
    def pixels(self) -> int:
        return self.over[1] - self.over[0] + 1

    def contains(self, az, rg) -> np.ndarray:
        """Boolean mask of 0-based (az, rg) inside the extended window (selpsc_patch's crop)."""
        r0, r1, a0, a1 = self.over
        az, rg = np.asarray(az), np.asarray(rg)
        return (rg >= r0 - 1) & (rg <= r1 - 1) & (az >= a0 - 1) & (az <= a1 - 1)


def patch_windows(width: int, length: int, rg_patches: int, az_patches: int,
                  rg_overlap: int, az_overlap: int) -> list[PatchWindow]:
    """All patches in mt_prep's numbering order (range outer, azimuth inner)."""
    wp, lp = width // rg_patches, length // az_patches
    out = []
    ip = 0
    for irg in range(1, rg_patches + 1):
        for iaz in range(1, az_patches + 1):
            ip += 1
            r0, r1 = wp * (irg - 1) + 1, wp * irg
            a0, a1 = lp * (iaz - 1) + 1, lp * iaz
            over = (max(1, r0 - rg_overlap), min(width, r1 + rg_overlap),
                    max(1, a0 - az_overlap), min(length, a1 + az_overlap))
            out.append(PatchWindow(f"PATCH_{ip}", over, (r0, r1, a0, a1)))
    return out


def patch_list_order(windows: list[PatchWindow]) -> list[str]:
    """Names as ``ls -d PATCH_*`` lists them (lexical: PATCH_1, PATCH_10, PATCH_11, ..., PATCH_2)."""
    return sorted(w.name for w in windows)
