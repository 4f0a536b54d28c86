"""Step 5a, per patch: ``ps_correct_phase`` (spec C.5.1).

With ``B~`` = ``bperp_mat`` with a zero column inserted at the master (n x N):

* ``ph_rc = ph * exp(-1j*(K_ps*B~ + C_ps))`` (amplitude kept, so the master column is
  ``|ph|*exp(-1j*C_ps)``), complex64;
* ``ph_reref`` = ``pm2.ph_patch`` with a column of ones inserted at the master, complex64.

Precision: ``bperp_mat`` is single, so StaMPS evaluates the argument in float32 (J.27);
we do the same (K and C rounded to float32 first), with correctly rounded cos/sin and
a plain float32 complex product (:mod:`pystamps_batch.matlab`).  About 98 % of the
golden ``rc2.ph_rc`` values are reproduced bit for bit, the rest within 1 ulp.

Re-run semantics (F.3): ``rc2`` is written afresh, as StaMPS' plain ``save`` does.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from ..errors import StageError
from ..matlab import cmul_single, expj_single

READS = ("ps2", "pm2", "bp2", "ph2")
OPTIONAL: tuple[str, ...] = ()
WRITES = ("rc2",)


def master_index(ps: Mapping[str, np.ndarray]) -> int:
    """0-based master column from ``ps['master_ix']`` (1-based scalar)."""
    return int(np.asarray(ps["master_ix"]).ravel()[0]) - 1


def expand_bperp(bperp_mat: np.ndarray, master: int) -> np.ndarray:
    """``B~``: ``bperp_mat`` (n x M float32) with a zero master column -> n x N float32."""
    return np.insert(np.asarray(bperp_mat, dtype=np.float32), master, np.float32(0), axis=1)


def correct_phase(ph: np.ndarray, bperp_full: np.ndarray, K: np.ndarray, C: np.ndarray) -> np.ndarray:
    """``ph * exp(-1j*(K*B~ + C))`` in single precision.

    ph (n, N) complex64; bperp_full (n, N) float32 (master column 0); K, C (n,) or
    (n, 1) rad/m and rad.  Returns complex64 (n, N).
    """
    k = np.asarray(K, dtype=np.float32).reshape(-1, 1)
    c = np.asarray(C, dtype=np.float32).reshape(-1, 1)
    arg = (-(k * bperp_full) - c).astype(np.float32)
    return cmul_single(ph, expj_single(arg))


def run(inputs: Mapping[str, Mapping[str, np.ndarray]], params, kernels, *,
        log: Callable[[str], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Compute ``rc2`` (``ph_rc``, ``ph_reref``) for one patch."""
    ps, pm, bp, ph = (inputs[a] for a in READS)
    m = master_index(ps)
    phv = np.asarray(ph["ph"])
    n, N = phv.shape
    if bp["bperp_mat"].shape != (n, N - 1) or pm["ph_patch"].shape != (n, N - 1):
        raise StageError(f"step 5a: inconsistent shapes ph {phv.shape}, bperp_mat {bp['bperp_mat'].shape}, "
                         f"ph_patch {pm['ph_patch'].shape}")
    B = expand_bperp(bp["bperp_mat"], m)
    ph_rc = correct_phase(phv, B, pm["K_ps"], pm["C_ps"])
    ph_reref = np.insert(np.asarray(pm["ph_patch"], dtype=np.complex64), m, np.complex64(1), axis=1)
    if log:
        log(f"ps_correct_phase: {n} PS, {N} images")
    return {"rc2": {"ph_rc": ph_rc, "ph_reref": ph_reref}}
