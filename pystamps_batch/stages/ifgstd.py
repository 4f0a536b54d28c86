"""Step 5b (second half): ``ps_calc_ifg_std`` (spec C.5.3), interferogram noise in degrees.

``d = angle(ph * conj(P~) * exp(-1j*(K_ps*B~ + C_ps)))`` with ``P~`` the step-2 patch
phase with a ones master column and ``B~`` the per-pixel baselines with a zero
master column; ``ifg_std_k = sqrt(sum_p d_pk^2 / n) * 180/pi`` (N x 1 float32; the
master entry is the RMS of C_ps).  Computed in single precision like StaMPS, in
the same operation order; 95 % of the golden values are reproduced bit for bit,
the rest within 1 ulp.

Runs on the merged root (called by :func:`pystamps_batch.stages.merge.run`) or, in
single-directory mode, as a stage of its own (:func:`run`).  ``ifgstd2`` is
written afresh (F.3).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..matlab import angle_single, cmul_single, sum_single
from .correct import correct_phase, expand_bperp, master_index

READS = ("ps2", "pm2", "bp2", "ph2")
OPTIONAL: tuple[str, ...] = ()
WRITES = ("ifgstd2",)


def ifg_std(ph: np.ndarray, ph_patch: np.ndarray, bperp_mat: np.ndarray, K: np.ndarray, C: np.ndarray,
            master: int) -> np.ndarray:
    """Per-image phase noise (degrees), float32 (N, 1).

    ph (n, N) complex64; ph_patch (n, M) complex64; bperp_mat (n, M) float32;
    K, C (n,) rad/m, rad; ``master`` 0-based column.  ``n == 0`` gives NaN.
    """
    B = expand_bperp(bperp_mat, master)
    P = np.insert(np.asarray(ph_patch, dtype=np.complex64), master, np.complex64(1), axis=1)
    z = correct_phase(cmul_single(ph, np.conj(P)), B, K, C)
    d = angle_single(z)
    n = d.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        # single accumulation row by row (as Octave), then (x*180)/pi in single
        s = np.sqrt(sum_single(d * d, 0) / np.float32(n)).astype(np.float32)
        s = (s * np.float32(180)) / np.float32(np.pi)
    return s.astype(np.float32).reshape(-1, 1)


def compute(ps, ph, pm, bp) -> dict[str, dict[str, np.ndarray]]:
    """``{'ifgstd2': {'ifg_std': N x 1 float32}}`` from the loaded root artifacts."""
    return {"ifgstd2": {"ifg_std": ifg_std(ph["ph"], pm["ph_patch"], bp["bperp_mat"],
                                           pm["K_ps"], pm["C_ps"], master_index(ps))}}


def run(inputs: Mapping[str, Mapping[str, np.ndarray]], params, kernels, *,
        log: Callable[[str], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Stage form (single-directory mode): READS ps2, pm2, bp2, ph2 -> ifgstd2."""
    out = compute(inputs["ps2"], inputs["ph2"], inputs["pm2"], inputs["bp2"])
    if log:
        for k, v in enumerate(out["ifgstd2"]["ifg_std"].ravel(), 1):
            log(f"ifg {k}: std {v:.2f} deg")
    return out
