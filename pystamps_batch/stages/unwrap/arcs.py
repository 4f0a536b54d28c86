"""``uw_interp``: nearest-node labelling of the grid and the arc (edge) network (spec C.6.4, J.15).

Every grid cell is labelled with its nearest node (Euclidean distance in grid-index
units; ties go to the smallest node index, as Octave's ``dsearchn``). Grid arcs
between differently-labelled neighbours define the edges between nodes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

#: Neighbours fetched per cell before falling back to a radius search for large ties.
_K_CANDIDATES = 8


@dataclass
class UwInterp:
    """The arc network (content of ``uw_interp.mat``), 0-based where noted.

    ``Z``: (n_i, n_j) int64 0-based nearest node of each cell;
    ``edges``: (n_edge, 2) int64 0-based (lo, hi) node pairs, lo < hi, lexicographic;
    ``rowix``: (n_i-1, n_j) int64 signed 1-based edge index of each vertical arc
    (r, c)->(r+1, c) (0 = both cells on one node, negative = from higher to lower node);
    ``colix``: (n_i, n_j-1) likewise for horizontal arcs (r, c)->(r, c+1).
    """

    Z: np.ndarray
    edges: np.ndarray
    rowix: np.ndarray
    colix: np.ndarray

    @property
    def n_edge(self) -> int:
        return int(self.edges.shape[0])

    def to_mat(self) -> dict[str, np.ndarray]:
        """Variables of ``uw_interp.mat`` (float64, 1-based as StaMPS)."""
        n_e = self.n_edge
        edgs = np.column_stack([np.arange(1, n_e + 1), self.edges + 1]).astype(np.float64)
        return {
            "edgs": edgs.reshape(n_e, 3),
            "n_edge": np.array([[n_e]], dtype=np.float64),
            "rowix": self.rowix.astype(np.float64),
            "colix": self.colix.astype(np.float64),
            "Z": (self.Z + 1).astype(np.float64),
        }


def nearest_node(nzix: np.ndarray) -> np.ndarray:
    """0-based index of the nearest node for every cell of the (n_i, n_j) bool mask ``nzix``.

    Nodes are the True cells in column-major order. Distances are squared index
    distances, computed exactly in integers; ties resolve to the smallest node index.
    Returns (n_i, n_j) int64.
    """
    n_i, n_j = nzix.shape
    nodes_f = np.flatnonzero(nzix.ravel(order="F"))
    if nodes_f.size == 0:
        raise ValueError("no grid nodes")
    node_rc = np.stack([nodes_f % n_i, nodes_f // n_i], axis=1).astype(np.int64)
    rr, cc = np.meshgrid(np.arange(n_i), np.arange(n_j), indexing="ij")
    cells = np.stack([rr.ravel(), cc.ravel()], axis=1).astype(np.int64)   # row-major cells
    tree = cKDTree(node_rc.astype(np.float64))
    k = min(_K_CANDIDATES, node_rc.shape[0])
    _, idx = tree.query(cells.astype(np.float64), k=k)
    idx = idx.reshape(cells.shape[0], k)
    d2 = ((node_rc[idx] - cells[:, None, :]) ** 2).sum(axis=2)             # exact integer distances
    dmin = d2.min(axis=1)
    tied = d2 == dmin[:, None]
    big = np.where(np.full(cells.shape[0], k < node_rc.shape[0]) & tied[:, -1])[0]
    best = np.where(tied, idx, np.iinfo(np.int64).max).min(axis=1)
    for c in big:  # more ties than candidates: exact radius search (rare)
        cand = np.asarray(tree.query_ball_point(cells[c].astype(np.float64), np.sqrt(dmin[c]) * (1 + 1e-9)))
        dd = ((node_rc[cand] - cells[c]) ** 2).sum(axis=1)
        best[c] = cand[dd == dmin[c]].min()
    return best.reshape(n_i, n_j)


def arc_network(Z: np.ndarray) -> UwInterp:
    """Edges and signed arc indices from the nearest-node labelling ``Z`` (0-based, (n_i, n_j)).

    Same-node arcs map to the pair (0, 0), which sorts first among the unique pairs
    and is dropped as StaMPS does (the code assumes such an arc exists; if none does,
    the lexicographically first real edge is dropped too, as in the original).
    """
    n_i, n_j = Z.shape
    zz = Z.astype(np.int64) + 1                                    # 1-based nodes, 0 = same-node
    a_col, b_col = zz[:, :-1].ravel(), zz[:, 1:].ravel()
    a_row, b_row = zz[:-1, :].ravel(), zz[1:, :].ravel()
    a = np.concatenate([a_col, a_row])
    b = np.concatenate([b_col, b_row])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    same = lo == hi
    lo[same] = 0
    hi[same] = 0
    sign = np.where(a <= b, 1, -1)
    base = int(zz.max()) + 1
    uniq, inv = np.unique(lo * base + hi, return_inverse=True)
    signed = inv.astype(np.int64) * sign                            # first unique -> index 0
    pairs = np.stack([uniq // base, uniq % base], axis=1)[1:] - 1
    n_c = a_col.size
    colix = signed[:n_c].reshape(n_i, n_j - 1)
    rowix = signed[n_c:].reshape(n_i - 1, n_j)
    return UwInterp(Z=Z.astype(np.int64), edges=pairs.astype(np.int64), rowix=rowix, colix=colix)


def uw_interp(nzix: np.ndarray) -> UwInterp:
    """Nearest-node labelling and arc network of the node mask ``nzix`` (spec C.6.4)."""
    return arc_network(nearest_node(np.asarray(nzix, dtype=bool)))
