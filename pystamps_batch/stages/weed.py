"""Step 4: ``ps_weed`` (spec C.4, J.12, K.6), single master, ``all_da_flag = 0``.

From the pixels kept by step 3, S = ``select1.ix(keep_ix)`` (n1 pixels, in S order):

1. adjacent weeding (``weed_neighbours = 'y'`` only): groups are the connected
   components of "lowest-index 8-neighbour" parent links; each group keeps its
   highest-γ2 pixel (lowest index on ties);
2. zero elevation (``weed_zero_elevation = 'y'``, needs hgt1): drop hgt < 1e-6;
3. duplicates: among the survivors, pixels with identical (x, y) keep only the
   highest γ2 (lowest index on ties);
4. noise weeding (unless ``weed_standard_dev >= pi`` and ``weed_max_noise >= pi``):
   Delaunay edges of the survivors' xy, arc noise per edge via the kernel
   ``stage4_edge_stats``, per-pixel minimum over incident edges, keep
   ``ps_std < weed_standard_dev`` and ``ps_max < weed_max_noise``.

Choices where StaMPS fails or is undefined (documented, logged):

* fewer than 3 survivors: no triangulation exists (StaMPS' ``triangle`` refuses and
  the original fails); we take the literal outcome of "no edges": every survivor
  gets ps_std = ps_max = Inf and is dropped.
* 3 or more collinear survivors: the Delaunay triangulation is degenerate; we use
  the 1-D Delaunay graph instead (consecutive points along the line).
* noise weeding off: ``ix_weed2`` is all true over the survivors and ``ps_std`` /
  ``ps_max`` are 0 x 1 (StaMPS leaves them undefined).
* hgt1 / la1 absent: hgt2 / la2 hold an empty 0 x 0 variable (StaMPS skips the file;
  our runner expects every WRITES artifact); inc2 is written only when inc1 exists.
  Zero-elevation weeding without hgt1 is skipped with a log line.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import StageError

READS = ("ps1", "select1", "ph1", "pm1", "bp1")
OPTIONAL = ("hgt1", "la1", "inc1")
WRITES = ("weed1", "ps2", "ph2", "pm2", "bp2", "la2", "hgt2")   # plus "inc2" when inc1 is given


def _col(a) -> np.ndarray:
    return np.asarray(a).reshape(-1)


def _scalar(a) -> float:
    return float(np.asarray(a).reshape(-1)[0])


# ----------------------------------------------------------------------------- step 1
def neighbour_groups(az: np.ndarray, rg: np.ndarray) -> np.ndarray:
    """Group labels (n,) int64 of the adjacent-pixel weeding of C.4 step 1.

    Pixel p (0-based index in S order) links to its parent, the lowest-index other
    pixel whose (az, rg) lies within +-1 line and +-1 pixel; groups are the connected
    components of these undirected links (isolated pixels form their own group).
    ``az``, ``rg`` (n,) integer pixel coordinates.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    az = np.asarray(az, dtype=np.int64).ravel()
    rg = np.asarray(rg, dtype=np.int64).ravel()
    n = az.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a0, r0 = az - az.min() + 1, rg - rg.min() + 1
    width = int(r0.max()) + 2
    key = a0 * width + r0
    order = np.argsort(key, kind="stable")
    skey = key[order]
    parent = np.full(n, n, dtype=np.int64)           # n = "none"
    for da in (-1, 0, 1):
        for dr in (-1, 0, 1):
            if da == 0 and dr == 0:
                continue
            q = key + da * width + dr
            pos = np.searchsorted(skey, q)
            pos_c = np.minimum(pos, n - 1)
            hit = skey[pos_c] == q
            cand = np.where(hit, order[pos_c], n)
            parent = np.minimum(parent, cand)
    has = parent < n
    src = np.flatnonzero(has)
    g = coo_matrix((np.ones(src.size), (src, parent[has])), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def best_per_group(labels: np.ndarray, coh: np.ndarray) -> np.ndarray:
    """Boolean (n,): True for the highest-``coh`` member of each group (lowest index on ties)."""
    labels = np.asarray(labels).ravel()
    coh = np.asarray(coh, dtype=np.float64).ravel()
    n = labels.size
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    c = np.where(np.isnan(coh), -np.inf, coh)
    order = np.lexsort((np.arange(n), -c, labels))   # by group, then coh desc, then index
    first = np.ones(n, dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    keep[order[first]] = True
    return keep


# ----------------------------------------------------------------------------- step 3
def duplicate_groups(xy: np.ndarray) -> np.ndarray:
    """Group labels (n,) of identical (x, y) rows of ``xy`` (n, 2)."""
    xy = np.asarray(xy)
    if xy.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    _, inv = np.unique(xy, axis=0, return_inverse=True)
    return inv.ravel().astype(np.int64)


# ----------------------------------------------------------------------------- step 4
def delaunay_edges(xy: np.ndarray) -> tuple[np.ndarray, str]:
    """Unique undirected edges (E, 2) int64 (0-based, a < b) of the Delaunay triangulation.

    Returns ``(edges, note)``; ``note`` is '' normally, or a short reason when the
    input is degenerate (< 3 points: no edges; collinear: consecutive points along
    the line).
    """
    from scipy.spatial import Delaunay, QhullError

    xy = np.asarray(xy, dtype=np.float64)
    n = xy.shape[0]
    if n < 3:
        return np.zeros((0, 2), dtype=np.int64), f"{n} pixel(s) left, fewer than 3: no triangulation"
    try:
        tri = Delaunay(xy)
        simp = tri.simplices.astype(np.int64)
        e = np.concatenate([simp[:, [0, 1]], simp[:, [1, 2]], simp[:, [0, 2]]])
        e.sort(axis=1)
        return np.unique(e, axis=0), ""
    except QhullError:
        c = xy - xy.mean(axis=0)
        _, _, vt = np.linalg.svd(c, full_matrices=False)
        order = np.argsort(c @ vt[0], kind="stable")
        e = np.stack([order[:-1], order[1:]], axis=1)
        e.sort(axis=1)
        return np.unique(e, axis=0), "collinear pixels: edges between consecutive points on the line"


def pixel_min_over_edges(n: int, edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per pixel (n,) float32 minimum of ``values`` (E,) over incident edges (Inf if none)."""
    out = np.full(n, np.inf, dtype=np.float32)
    if edges.shape[0]:
        v = np.asarray(values, dtype=np.float32)
        np.minimum.at(out, edges[:, 0], v)
        np.minimum.at(out, edges[:, 1], v)
    return out


def noise_phasors(ph: np.ndarray, K: np.ndarray, C: np.ndarray, bperp: np.ndarray,
                  master_ix: int) -> np.ndarray:
    """Unit phasors (n, N) complex64 with K removed by the mean baselines, master = exp(iC).

    ``ph`` (n, N) complex64 (master included), ``K``, ``C`` (n,) float64,
    ``bperp`` (N,) mean baselines (m), ``master_ix`` 0-based master column.
    """
    v = (ph.astype(np.complex64) * np.exp(-1j * np.multiply.outer(K, bperp))).astype(np.complex64)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (v / np.abs(v)).astype(np.complex64)
    v[:, master_ix] = np.exp(1j * C).astype(np.complex64)
    return v


def used_ifgs(n_ifg: int, drop_ifg_index) -> np.ndarray:
    """0-based columns of setdiff(1..N, drop_ifg_index) (master included)."""
    drop = {int(i) for i in drop_ifg_index}
    return np.array([k for k in range(n_ifg) if k + 1 not in drop], dtype=np.int64)


# ----------------------------------------------------------------------------- stage
def run(inputs, params, kernels, *, log=None):
    """ps_weed: returns weed1 and the version-2 set (spec C.4 step 6)."""
    say = log or (lambda msg: None)
    ps1, sel, ph1, pm1, bp1 = (inputs[k] for k in READS)
    n_cand = int(_scalar(ps1["n_ps"]))
    ix = _col(sel["ix"]).astype(np.int64) - 1
    keep_ix = _col(sel["keep_ix"]).astype(bool)
    if ix.size != keep_ix.size:
        raise StageError(f"select1: ix has {ix.size} rows but keep_ix {keep_ix.size}")
    if ix.size and (ix.min() < 0 or ix.max() >= n_cand):
        raise StageError(f"select1.ix outside 1..{n_cand} (ps1.n_ps)")
    S = ix[keep_ix]
    n1 = S.size
    K2 = _col(sel["K_ps2"])[keep_ix].astype(np.float64)
    C2 = _col(sel["C_ps2"])[keep_ix].astype(np.float64)
    coh2 = _col(sel["coh_ps2"])[keep_ix].astype(np.float64)
    ph = np.asarray(ph1["ph"])[S]
    ij = np.asarray(ps1["ij"])[S]
    xy = np.asarray(ps1["xy"])[S]
    N = int(_scalar(ps1["n_ifg"]))
    master0 = int(_scalar(ps1["master_ix"])) - 1
    bperp_mean = _col(ps1["bperp"]).astype(np.float64)
    day = _col(ps1["day"]).astype(np.float64)
    hgt = _col(inputs["hgt1"]["hgt"])[S] if inputs.get("hgt1") is not None else None

    ix_weed = np.ones(n1, dtype=bool)
    # 1. adjacent pixels
    if params.flag("weed_neighbours"):
        labels = neighbour_groups(ij[:, 1], ij[:, 2])
        ix_weed &= best_per_group(labels, coh2)
        say(f"ps_weed: {int(n1 - ix_weed.sum())} adjacent pixels weeded")
    # 2. zero elevation
    if params.flag("weed_zero_elevation"):
        if hgt is None:
            say("ps_weed: weed_zero_elevation='y' but no hgt1: zero-elevation weeding skipped")
        else:
            zero = hgt < 1e-6
            say(f"ps_weed: {int((ix_weed & zero).sum())} zero-elevation pixels weeded")
            ix_weed &= ~zero
    # 3. duplicates on xy
    surv = np.flatnonzero(ix_weed)
    if surv.size:
        labels = duplicate_groups(xy[surv, 1:3])
        best = best_per_group(labels, coh2[surv])
        ix_weed[surv[~best]] = False
        if (~best).any():
            say(f"ps_weed: {int((~best).sum())} pixels with duplicate xy weeded")
    # 4. noise
    surv = np.flatnonzero(ix_weed)
    std_thr = float(params["weed_standard_dev"])
    max_thr = float(params["weed_max_noise"])
    use = used_ifgs(N, params.index_list("drop_ifg_index"))
    no_weed_noisy = std_thr >= math.pi and max_thr >= math.pi
    if no_weed_noisy:
        ix_weed2 = np.ones(surv.size, dtype=bool)
        ps_std = np.zeros(0, dtype=np.float32)
        ps_max = np.zeros(0, dtype=np.float32)
    else:
        edges, note = delaunay_edges(xy[surv, 1:3])
        if note:
            say(f"ps_weed: {note}")
        v = noise_phasors(ph[surv], K2[surv], C2[surv], bperp_mean, master0)
        e_std, e_max = kernels.call("stage4_edge_stats", v[:, use], edges, day[use],
                                    bperp_mean[use], float(params["weed_time_win"]))
        ps_std = pixel_min_over_edges(surv.size, edges, e_std)
        ps_max = pixel_min_over_edges(surv.size, edges, e_max)
        ix_weed2 = (ps_std.astype(np.float64) < std_thr) & (ps_max.astype(np.float64) < max_thr)
        ix_weed[surv] = ix_weed2
        say(f"ps_weed: {int((~ix_weed2).sum())} noisy pixels weeded, {int(ix_weed.sum())} of {n1} left")
    if n1 and not ix_weed.any():
        say("ps_weed: no PS left after weeding")

    return _outputs(inputs, S, ix_weed, ix_weed2, ps_std, ps_max, use, keep_ix)


def _outputs(inputs, S, ix_weed, ix_weed2, ps_std, ps_max, use, keep_ix):
    """weed1 and the version-2 files (C.4 steps 5-6) for the final set S[ix_weed]."""
    ps1, sel, ph1, pm1, bp1 = (inputs[k] for k in READS)
    F = S[ix_weed]
    kw = np.flatnonzero(keep_ix)[ix_weed]          # rows of select1 for the final set
    out = {
        "weed1": {
            "ix_weed": ix_weed.reshape(-1, 1).astype(np.uint8),
            "ix_weed2": ix_weed2.reshape(-1, 1).astype(np.uint8),
            "ps_std": ps_std.reshape(-1, 1).astype(np.float32),
            "ps_max": ps_max.reshape(-1, 1).astype(np.float32),
            "ifg_index": (use + 1).astype(np.float64).reshape(1, -1),
        },
    }
    ps2 = {}
    for k in sorted(ps1):
        if k in ("sort_ix", "ph"):
            continue
        if k in ("ij", "lonlat", "xy"):
            ps2[k] = np.asarray(ps1[k])[F]
        elif k == "n_ps":
            ps2[k] = np.array([[float(F.size)]])
        else:
            ps2[k] = ps1[k]
    out["ps2"] = ps2
    out["ph2"] = {"ph": np.asarray(ph1["ph"])[F]}
    out["pm2"] = {
        "ph_patch": np.asarray(pm1["ph_patch"])[F],
        "ph_res": np.asarray(sel["ph_res2"])[kw],
        "coh_ps": np.asarray(sel["coh_ps2"])[kw],
        "K_ps": np.asarray(sel["K_ps2"])[kw],
        "C_ps": np.asarray(sel["C_ps2"])[kw],
    }
    out["bp2"] = {"bperp_mat": np.asarray(bp1["bperp_mat"])[F]}
    for src, dst, var in (("la1", "la2", "la"), ("hgt1", "hgt2", "hgt"), ("inc1", "inc2", "inc")):
        if inputs.get(src) is not None:
            out[dst] = {var: np.asarray(inputs[src][var])[F]}
        elif dst != "inc2":
            out[dst] = {var: np.zeros((0, 0))}      # input absent: [] (as the merge's inc2)
    return out
