"""``uw_stat_costs`` cost arrays: snaphu DEFO-mode statistical costs per grid arc (spec C.6.6, K.8, J.18).

Every grid arc carries four int16 values [offset, sigsq, dzmax, laycost]:
``rowcost`` (n_i-1, 4 n_j) for the vertical arcs (r, c)->(r+1, c) and ``colcost``
(n_i, 4 (n_j-1)) for the horizontal arcs (r, c)->(r, c+1). Offsets are in
1/``NSHORTCYCLE`` cycle and sigsq in (1/NSHORTCYCLE cycle)^2 / ``COSTSCALE``;
both scalings rely on snaphu's defaults, which the config must not override.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...matlab import sat_int16
from .arcs import UwInterp
from .f32 import angle, expi
from .space_time import std32

F32 = np.float32
COSTSCALE = 100
NSHORTCYCLE = 200
MAXSHORT = 32000


def _neg_int16(a: np.ndarray) -> np.ndarray:
    """MATLAB unary minus on int16 (saturating: -(-32768) = 32767)."""
    out = -(a.astype(np.int32))
    return np.clip(out, -32768, 32767).astype(np.int16)


@dataclass
class CostModel:
    """The ifg-independent part of the cost arrays.

    ``rowix``/``colix``: signed 1-based edge index per arc (0: same node, or no statistics);
    ``row_stats``/``col_stats``: bool, False for arcs mapped to a no-statistics edge;
    ``row_sig``/``col_sig``: int16 sigsq per arc (1 where no real edge or no statistics).
    """

    rowix: np.ndarray
    colix: np.ndarray
    row_stats: np.ndarray
    col_stats: np.ndarray
    row_sig: np.ndarray
    col_sig: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """Grid shape (n_i, n_j)."""
        return self.colix.shape[0], self.rowix.shape[1]

    @property
    def nbytes(self) -> int:
        """Size of the cost file: 8 bytes per arc (invariant I.7)."""
        return 8 * (self.rowix.size + self.colix.size)


def edge_counts(interp: UwInterp) -> np.ndarray:
    """Number of grid arcs mapped to each edge, (n_edge,) int64 (MATLAB ``hist`` over 1..n_edge)."""
    idx = np.abs(np.concatenate([interp.colix.ravel(), interp.rowix.ravel()]))
    return np.bincount(idx[idx > 0], minlength=interp.n_edge + 1)[1:]


def edge_sigsq(noise: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """int16 sigsq per edge: int16(round(((std(nu)/2/pi)^2 * 200^2)/100 * count)), >= 1 (float32 arithmetic).

    ``noise``: (n_edge, M_U) float32 (NaN rows = no statistics -> 1).
    """
    sd = std32(noise, axis=1)
    sigsq_noise = ((sd / F32(2)) / F32(np.pi)) ** 2
    x = ((sigsq_noise * F32(NSHORTCYCLE ** 2)) / F32(COSTSCALE)) * counts.astype(F32)
    sig = sat_int16(x.astype(F32))
    sig[sig < 1] = 1
    return sig


def cost_model(interp: UwInterp, noise: np.ndarray) -> CostModel:
    """Static cost terms from the arc network and the space-time noise (spec C.6.6 steps 1-3)."""
    nostats = np.isnan(noise).any(axis=1) if noise.shape[1] else np.zeros(noise.shape[0], bool)
    sig = edge_sigsq(noise, edge_counts(interp))

    def per_arc(ix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = np.abs(ix)
        real = a > 0
        stats = np.ones(ix.shape, dtype=bool)
        stats[real] = ~nostats[a[real] - 1]
        use = real & stats
        s = np.ones(ix.shape, dtype=np.int16)
        s[use] = sig[a[use] - 1]
        return np.where(use, ix, 0), stats, s

    r_ix, r_st, r_sig = per_arc(interp.rowix)
    c_ix, c_st, c_sig = per_arc(interp.colix)
    return CostModel(rowix=r_ix, colix=c_ix, row_stats=r_st, col_stats=c_st, row_sig=r_sig, col_sig=c_sig)


def edge_offsets(D: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Offset in cycles per edge for one ifg: (wrap(D) - (D - nu))/2/pi, float32 (n_edge,)."""
    D = np.asarray(D, dtype=F32)
    smooth = (D - np.asarray(noise, dtype=F32)).astype(F32)
    wrapped = angle(expi(D))
    return (((wrapped - smooth) / F32(2)) / F32(np.pi)).astype(F32)


def _arc_offsets(ix: np.ndarray, off: np.ndarray) -> np.ndarray:
    """int16 offset per arc: round(off[|ix|] * sign(ix) * 200), 0 where ix == 0."""
    out = np.zeros(ix.shape, dtype=np.int16)
    nz = ix != 0
    v = (off[np.abs(ix[nz]) - 1] * np.sign(ix[nz]).astype(F32)) * F32(NSHORTCYCLE)
    out[nz] = sat_int16(v.astype(F32))
    return out


def cost_arrays(model: CostModel, D: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rowcost (n_i-1, 4 n_j), colcost (n_i, 4 (n_j-1))) int16 for one ifg (D, nu: (n_edge,))."""
    off = edge_offsets(D, noise)

    def assemble(ix, stats, sig, offs):
        c = np.empty(ix.shape + (4,), dtype=np.int16)
        c[..., 0] = offs
        c[..., 1] = sig
        c[..., 2] = MAXSHORT
        c[..., 3] = np.where(stats, -MAXSHORT, 1)
        return c.reshape(ix.shape[0], 4 * ix.shape[1])

    rowcost = assemble(model.rowix, model.row_stats, model.row_sig, _neg_int16(_arc_offsets(model.rowix, off)))
    colcost = assemble(model.colix, model.col_stats, model.col_sig, _arc_offsets(model.colix, off))
    return rowcost, colcost


def cost_file_bytes(model: CostModel, D: np.ndarray, noise: np.ndarray) -> bytes:
    """Content of ``snaphu.costinfile``: rowcost then colcost, row-major native int16."""
    rowcost, colcost = cost_arrays(model, D, noise)
    data = rowcost.astype("=i2").tobytes(order="C") + colcost.astype("=i2").tobytes(order="C")
    assert len(data) == model.nbytes
    return data
