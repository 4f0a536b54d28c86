"""Step 5b at the dataset root: ``ps_merge_patches`` (spec C.5.2, ``merge_resample_size = 0``).
``ps_calc_ifg_std`` (C.5.3), the other half of 5b, is :mod:`pystamps_batch.stages.ifgstd`.

Unlike the other stages its inputs are per patch::

    run(patches: list[PatchArrays], params, kernels, *, log=None) -> {artifact: {var: array}}

:func:`collect_patches` (the runner's I/O helper) loads them from a dataset.

Each :class:`PatchArrays` holds the patch name, its ``patch_noover.in`` (4 ints,
1-based ``rg_start rg_end az_start az_end``) and the patch's loaded artifacts
(:data:`PATCH_READS`, plus :data:`PATCH_OPTIONAL` when present).  Patches are merged
in list order (``patch.list``).  A patch without PS (``ps2`` with 0 rows, or flagged
``empty=True``, e.g. from its ``no_ps_info.mat``) is skipped.
A single patch goes through the same merge (its pixels are re-sorted and
renumbered, ``xy`` recomputed about the new ``ll0``).

Algorithm (per patch, in order):

1. ``core`` = pixels whose 0-based (az, rg) lie in patch_noover (converted to 0-based);
2. merged pixels with the same (az, rg) as a core pixel of this patch are marked
   for removal (the core copy is the more reliable one);
3. selected = core + non-core pixels whose (az, rg) is not yet in the merged list;
4. append the selected rows of every per-pixel array.  ``phuw2`` (if the patch
   has one) is shifted per ifg by the 2*pi-rounded mean difference over the
   pixels already merged (0 when there are none); without ``phuw2`` zeros are
   appended.  ``scla2``/``scn2`` are shifted by the unrounded mean differences.

Then: drop the marked rows; drop lon/lat duplicates keeping the highest
``coh_ps`` (first in merged order on ties); recompute ``ll0``, ``xy`` (llh2local,
heading rotation, y-then-x sort, mm rounding) and ``ij = [1..n, az, rg]``;
normalise ``ph_rc`` to unit magnitude (non-zero entries).  Every other root
``ps2`` field (``ll0`` included, J.3) is the **last merged patch's**.

Outputs: ``ps2 ph2 rc2 pm2 bp2 la2 hgt2 inc2`` (``inc2.inc = []``
when the patches have no inc2), ``phuw2`` only when a patch has one (StaMPS writes
zeros otherwise; a zero "unwrapped phase" is a trap, so we leave it to step 6), plus ``scla2``/``scn2`` only when every patch had
them and the merge removed no pixel (as StaMPS).  ``psver`` (= 2) is the runner's.

Re-run semantics (D.4, F.3): we write every output file **afresh**; StaMPS appends
to some of them (stale variables survive there) and leaves an older root
scla2/scn2/scla_smooth2 in place, which the runner should delete or invalidate.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StageError
from ..matlab import abs_single, mround
from ..geo import local_xy

PATCH_READS = ("ps2", "ph2", "rc2", "pm2", "bp2", "la2", "hgt2")
PATCH_OPTIONAL = ("inc2", "phuw2", "scla2", "scn2")
WRITES = ("ps2", "ph2", "rc2", "pm2", "bp2", "la2", "hgt2", "inc2")
OPTIONAL_WRITES = ("phuw2", "scla2", "scn2")

#: (artifact, variable) of the per-pixel arrays that are merged row-wise.
_ROW_VARS = (("ph2", "ph"), ("rc2", "ph_rc"), ("rc2", "ph_reref"), ("pm2", "ph_patch"), ("pm2", "ph_res"),
             ("pm2", "K_ps"), ("pm2", "C_ps"), ("pm2", "coh_ps"), ("bp2", "bperp_mat"), ("la2", "la"),
             ("hgt2", "hgt"))


@dataclass
class PatchArrays:
    """One patch's inputs to the merge.

    ``noover``: ``patch_noover.in`` as 4 ints, 1-based ``(rg_start, rg_end, az_start, az_end)``.
    ``arrays``: ``{artifact: {var: ndarray}}`` as :func:`~pystamps_batch.io.matfile.load_mat` gives.
    ``empty``: the patch has no PS (no_ps_info flags); it is skipped.
    """

    name: str
    noover: tuple[int, int, int, int]
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    empty: bool = False

    def n_ps(self) -> int:
        """Number of PS (0 for a patch flagged empty); StageError if ps2 is missing or lacks ij."""
        if self.empty:
            return 0
        ps = self.arrays.get("ps2")
        if ps is None:
            raise StageError(f"merge: patch {self.name} lacks ps2.mat")
        if "ij" not in ps:
            raise StageError(f"merge: patch {self.name}: ps2.mat lacks variable ij")
        return int(np.asarray(ps["ij"]).shape[0])


def read_noover(path: str | Path) -> tuple[int, int, int, int]:
    """Parse ``patch_noover.in`` (4 integers, whitespace separated); StageError if malformed."""
    p = Path(path)
    try:
        vals = [int(float(t)) for t in p.read_text().split()]
    except (OSError, ValueError) as exc:
        raise StageError(f"{p}: cannot read patch_noover.in ({exc})") from None
    if len(vals) != 4:
        raise StageError(f"{p}: expected 4 integers (rg_start rg_end az_start az_end), got {len(vals)}")
    return tuple(vals)  # type: ignore[return-value]


def load_patch(patch_dir: str | Path, name: str | None = None) -> PatchArrays:
    """Load one patch folder for the merge (the runner's helper; the merge itself does no I/O).

    A patch whose ``no_ps_info.mat`` flags any step is returned as ``empty``.
    Missing required files raise :class:`StageError` naming the patch and the file.
    """
    from ..io.matfile import MatFileError, load_mat

    d = Path(patch_dir)
    name = name or d.name
    info = d / "no_ps_info.mat"
    if info.is_file():
        try:
            flags = np.asarray(load_mat(info).get("stamps_step_no_ps", np.zeros(1)))
        except MatFileError as exc:
            raise StageError(f"merge: patch {name}: {exc}") from None
        if flags.size and np.any(flags != 0):
            return PatchArrays(name, (0, 0, 0, 0), {}, empty=True)
    noover_path = d / "patch_noover.in"
    if not noover_path.is_file():
        raise StageError(f"merge: patch {name} lacks patch_noover.in ({noover_path})")
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for art in PATCH_READS + PATCH_OPTIONAL:
        f = d / f"{art}.mat"
        if not f.is_file():
            if art in PATCH_READS:
                raise StageError(f"merge: patch {name} lacks {art}.mat ({f})")
            continue
        try:
            arrays[art] = load_mat(f)
        except MatFileError as exc:
            raise StageError(f"merge: patch {name}: {exc}") from None
    return PatchArrays(name, read_noover(noover_path), arrays)


def _check_patch(p: PatchArrays, N: int | None) -> None:
    for art in PATCH_READS:
        if art not in p.arrays:
            raise StageError(f"merge: patch {p.name} lacks {art}.mat")
    n = p.n_ps()
    for art, var in _ROW_VARS + (("ps2", "lonlat"),):
        a = p.arrays[art].get(var)
        if a is None:
            raise StageError(f"merge: patch {p.name}: {art}.mat lacks variable {var}")
        if a.shape[0] != n:
            raise StageError(f"merge: patch {p.name}: {art}.{var} has {a.shape[0]} rows, ps2 has {n} PS")
    if N is not None and p.arrays["ph2"]["ph"].shape[1] != N:
        raise StageError(f"merge: patch {p.name} has {p.arrays['ph2']['ph'].shape[1]} images, "
                         f"earlier patches {N}")


def _key(ij: np.ndarray) -> np.ndarray:
    """int64 key of (az, rg) for set operations."""
    ij = np.asarray(ij)
    return ij[:, 1].astype(np.int64) * (1 << 32) + ij[:, 2].astype(np.int64)


def _match(k: np.ndarray, keys: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``k`` found among the live merged ``keys``: (indices into k, indices into keys)."""
    live_ix = np.flatnonzero(live)
    if live_ix.size == 0 or k.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lk = keys[live_ix]
    srt = np.argsort(lk, kind="stable")
    pos = np.searchsorted(lk, k, sorter=srt)
    pos = np.minimum(pos, lk.size - 1)
    hit = lk[srt[pos]] == k
    return np.flatnonzero(hit), live_ix[srt[pos[hit]]]


def _overlap_offset(cur: np.ndarray, ov_new: np.ndarray, prev_pieces: list[np.ndarray], ov_old: np.ndarray,
                    rounded: bool):
    """Per-column mean of (merged - patch) over the overlap pixels; 2*pi-rounded when ``rounded``.

    0 when there is no overlap pixel (the first patch, or no shared pixel).
    """
    if ov_new.size == 0 or not prev_pieces:
        return 0.0
    prev = np.concatenate(prev_pieces, axis=0)[ov_old]
    d = (prev.astype(np.float64) - cur[ov_new].astype(np.float64)).mean(axis=0)
    if rounded:
        d = 2 * np.pi * mround(d / (2 * np.pi))
    return d


def merge(patches: Sequence[PatchArrays], params: Mapping[str, Any]) -> dict[str, dict[str, np.ndarray]]:
    """The merge proper (no ifgstd); see the module docstring."""
    used = [p for p in patches if p.n_ps() > 0]
    if not used:
        raise StageError("merge: no patch has any PS left")
    N = None
    for p in used:
        _check_patch(p, N)
        N = p.arrays["ph2"]["ph"].shape[1]
    has_inc = all("inc2" in p.arrays and np.asarray(p.arrays["inc2"].get("inc", [])).size for p in used)
    extra = [a for a in ("scla2", "scn2") if all(a in p.arrays for p in used)]

    keys = np.empty(0, dtype=np.int64)          # (az, rg) keys of the merged rows so far
    remove = np.zeros(0, dtype=bool)
    pieces: dict[tuple[str, str], list[np.ndarray]] = {rv: [] for rv in _ROW_VARS}
    pieces[("ps2", "ij")] = []
    pieces[("ps2", "lonlat")] = []
    pieces[("inc2", "inc")] = []
    pieces[("phuw2", "ph_uw")] = []
    extra_vars = {"scla2": ("ph_scla", "K_ps_uw", "C_ps_uw"), "scn2": ("ph_scn_slave",)}
    for a in extra:
        for v in extra_vars[a]:
            pieces[(a, v)] = []

    for p in used:
        A = p.arrays
        ij = np.asarray(A["ps2"]["ij"])
        rg0, rg1, az0, az1 = (int(v) - 1 for v in p.noover)
        core = (ij[:, 1] >= az0) & (ij[:, 1] <= az1) & (ij[:, 2] >= rg0) & (ij[:, 2] <= rg1)
        k = _key(ij)
        in_merged = np.isin(k, keys)
        # overlap rows for the offsets: this patch's pixels already merged (live copies)
        ov_new, ov_old = _match(k, keys, ~remove)
        # 2. earlier copies of this patch's core pixels are removed later
        remove |= np.isin(keys, k[core])
        # 3. core plus new non-core pixels
        sel = core | ~in_merged
        for rv in _ROW_VARS:
            pieces[rv].append(np.asarray(A[rv[0]][rv[1]])[sel])
        pieces[("ps2", "ij")].append(ij[sel])
        pieces[("ps2", "lonlat")].append(np.asarray(A["ps2"]["lonlat"])[sel])
        if has_inc:
            pieces[("inc2", "inc")].append(np.asarray(A["inc2"]["inc"])[sel])
        if "phuw2" in A and "ph_uw" in A["phuw2"]:
            uw = np.asarray(A["phuw2"]["ph_uw"], dtype=np.float32)
            off = _overlap_offset(uw, ov_new, pieces[("phuw2", "ph_uw")], ov_old, True)
            pieces[("phuw2", "ph_uw")].append((uw[sel] + off).astype(np.float32))
        else:
            pieces[("phuw2", "ph_uw")].append(np.zeros((int(sel.sum()), N), dtype=np.float32))
        for a in extra:
            for v in extra_vars[a]:
                cur = np.asarray(A[a][v])
                off = _overlap_offset(cur, ov_new, pieces[(a, v)], ov_old, False)
                pieces[(a, v)].append((cur[sel] + off).astype(cur.dtype))
        keys = np.concatenate([keys, k[sel]])
        remove = np.concatenate([remove, np.zeros(int(sel.sum()), dtype=bool)])

    cat = {rv: np.concatenate(v, axis=0) for rv, v in pieces.items() if v}
    n_before = keys.size
    keep = ~remove
    # 5. lon/lat duplicates: keep the highest coh_ps
    lonlat = cat[("ps2", "lonlat")]
    coh = np.asarray(cat[("pm2", "coh_ps")], dtype=np.float64).ravel()
    kept_ix = np.flatnonzero(keep)
    _, inv, counts = np.unique(lonlat[kept_ix], axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    if (counts > 1).any():
        order = np.lexsort((np.arange(kept_ix.size), -coh[kept_ix], inv))  # group, coh desc, first
        first = np.ones(kept_ix.size, dtype=bool)
        first[1:] = inv[order][1:] != inv[order][:-1]
        drop = order[~first]
        keep[kept_ix[drop]] = False
    ix = np.flatnonzero(keep)
    removed = n_before - ix.size

    last_ps = used[-1].arrays["ps2"]
    heading = float(params.get("heading", np.nan))
    _ll0, order, xy = local_xy(lonlat[ix], heading)
    rows = ix[order]
    n = rows.size
    ij_all = cat[("ps2", "ij")]
    ij = np.column_stack([np.arange(1, n + 1, dtype=np.float64), ij_all[rows, 1:3].astype(np.float64)])

    ps2 = {k: v for k, v in last_ps.items()}
    ps2.update(ij=ij, xy=xy, lonlat=np.asarray(lonlat[rows], dtype=np.float64),
               n_ps=np.array([[float(n)]]))

    def g(art: str, var: str) -> np.ndarray:
        return cat[(art, var)][rows]

    ph_rc = g("rc2", "ph_rc").astype(np.complex64)
    mag = abs_single(ph_rc)
    nz = mag != 0
    ph_rc.real[nz] = ph_rc.real[nz] / mag[nz]   # Octave divides re and im by the float32 modulus
    ph_rc.imag[nz] = ph_rc.imag[nz] / mag[nz]

    out: dict[str, dict[str, np.ndarray]] = {
        "ps2": ps2,
        "ph2": {"ph": g("ph2", "ph")},
        "rc2": {"ph_rc": ph_rc, "ph_reref": g("rc2", "ph_reref")},
        "pm2": {"ph_patch": g("pm2", "ph_patch"), "ph_res": g("pm2", "ph_res"), "K_ps": g("pm2", "K_ps"),
                "C_ps": g("pm2", "C_ps"), "coh_ps": g("pm2", "coh_ps")},
        "bp2": {"bperp_mat": g("bp2", "bperp_mat")},
        "la2": {"la": g("la2", "la")},
        "hgt2": {"hgt": g("hgt2", "hgt")},
        "inc2": {"inc": g("inc2", "inc") if has_inc else np.zeros((0, 0))},
    }
    if any("phuw2" in P.arrays for P in used):
        # StaMPS writes a root phuw2 of zeros when no patch was unwrapped; we write one only
        # when patches carry unwrapped phase, so a root phuw2 always holds stage-6 results
        # (and a failed stage 6 leaves none)
        out["phuw2"] = {"ph_uw": g("phuw2", "ph_uw")}
    if removed == 0:
        for a in extra:
            out[a] = {v: g(a, v) for v in extra_vars[a]}
            for v, val in used[-1].arrays[a].items():  # non-row variables from the last patch
                out[a].setdefault(v, val)
    return out


def collect_patches(dataset, log: Callable[[str], None] | None = None) -> list[PatchArrays]:
    """Load every patch of ``dataset`` (a :class:`~pystamps_batch.dataset.layout.Dataset`) in
    patch-list order for the merge.  Patches flagged in ``no_ps_info.mat`` are returned
    empty (skipped by :func:`run`), as StaMPS' rewritten patch.list leaves them out."""
    out = []
    for p in dataset.patches:
        pa = load_patch(p.path, p.name)
        if pa.empty and log:
            log(f"merge: {p.name} has no PS left (no_ps_info.mat): skipped")
        out.append(pa)
    return out


def run(patches: Sequence[PatchArrays], params: Mapping[str, Any], kernels=None, *,
        log: Callable[[str], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Merge the patches; returns ``{artifact: {var: array}}`` (without ``ifgstd2``: the
    caller runs :func:`pystamps_batch.stages.ifgstd.run` on this output)."""
    out = merge(patches, params)
    if log:
        skipped = [p.name for p in patches if p.n_ps() == 0]
        log(f"ps_merge_patches: {int(out['ps2']['n_ps'][0, 0])} PS from "
            f"{len(patches) - len(skipped)} patch(es)" + (f", skipped empty {', '.join(skipped)}" if skipped else ""))
    return out
