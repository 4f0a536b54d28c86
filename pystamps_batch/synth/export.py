"""SNAP export mode (``write_export``): patch statistics as mt_prep_snap computes them from the rasters.

When the export rasters are written, the D_A of every candidate (``pscands.1.da``) and the
amplitude sums of ``mean_amp.flt`` are taken from the SLCs exactly as written (float32,
calamp.out's printed constants), through the same amplitude-statistics kernel that
``pystamps prep snap`` uses (:mod:`pystamps_batch.prep.ampstats`), so that running the prep
on the export reproduces the dataset byte for byte.  The selection is checked on the way:
every candidate must pass selpsc's test and no other pixel may (the scene model keeps
candidate D_A 1e-5 below the threshold and clutter at least 10 % above it).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..prep.ampstats import da_text, selected, selpsc_block


class ExportStats:
    """Collects selpsc statistics band by band (a :data:`~pystamps_batch.synth.raw.BandHook`)."""

    def __init__(self, tmp: Path, cfg, cands, calconst: np.ndarray):
        self.cfg = cfg
        self.cands = cands
        # selpsc parses calamp.out / selpsc.in text into floats
        self.cal = np.array([np.float32(f"{c:g}") for c in calconst], dtype=np.float32)
        self.thresh = np.float32(f"{cfg.da_thresh:g}")
        self.key = cands.az * cfg.width + cands.rg
        self.d_sq = np.full(cands.n, np.nan, dtype=np.float32)
        self.sum_path = tmp / "export_mean_amp.bin"
        self.fh = open(self.sum_path, "wb")
        self.problems: list[str] = []

    def band(self, l0: int, l1: int, slcs: np.ndarray) -> None:
        """Statistics of SLC lines [l0, l1) (``slcs`` (N, lines, width) complex64)."""
        W = self.cfg.width
        sumamp, d_sq, amp0 = selpsc_block(slcs, self.cal)
        self.fh.write(sumamp.astype("<f4").tobytes())
        cand, zero = selected(sumamp, d_sq, amp0, self.thresh)
        j0, j1 = np.searchsorted(self.key, [l0 * W, l1 * W])
        ia, ir = self.cands.az[j0:j1] - l0, self.cands.rg[j0:j1]
        want = np.zeros_like(cand)
        want[ia, ir] = True
        if zero.any() or not np.array_equal(cand, want):
            bad = np.argwhere((cand != want) | zero)[0]
            self.problems.append(f"pixel (az {bad[0] + l0}, rg {bad[1]}): selpsc selection differs from the candidates")
        self.d_sq[j0:j1] = d_sq[ia, ir]

    def finish(self, out: Path, windows, members: list[np.ndarray]) -> None:
        """Write every patch's mean_amp.flt and pscands.1.da from the collected statistics."""
        self.fh.close()
        if self.problems:
            raise RuntimeError(f"write_export: {self.problems[0]} ({len(self.problems)} band(s) affected)")
        W, L = self.cfg.width, self.cfg.length
        sums = np.memmap(self.sum_path, dtype="<f4", mode="r", shape=(L, W))
        for w, mk in zip(windows, members):
            r0, r1, a0, a1 = w.over
            with open(out / w.name / "mean_amp.flt", "wb") as fh:
                for l0 in range(a0 - 1, a1, 256):
                    fh.write(np.ascontiguousarray(sums[l0:min(l0 + 256, a1), r0 - 1:r1]).tobytes())
            with open(out / w.name / "pscands.1.da", "w", newline="\n") as fh:
                fh.write(da_text(self.d_sq[np.flatnonzero(mk)]))
        del sums
        self.sum_path.unlink()
