"""Compare a run tree with a golden StaMPS tree, file by file and variable by variable.

Both trees are dataset roots: per-patch artifacts in ``PATCH_n/*.mat`` and merged
artifacts in the root (``*.mat``); a tree without ``PATCH_*`` folders is a
single-directory run whose root holds the patch artifacts.

Which files are compared
------------------------
Every ``.mat`` file of the **golden** tree (root and ``PATCH_*/``), classified as:

* *artifact*: the files of :mod:`pystamps_batch.dataset.artifacts`, at the stage
  that last writes them (root ``phuw2`` belongs to stage 6, not 5b), plus
  ``psver`` and ``no_ps_info`` (patch: stage 4, root: stage 5) and ``mean_v``
  (stage 8).  Missing in the run = failure.
* *intermediate*: the stage-6 solver files ``uw_grid``, ``uw_interp``,
  ``uw_space_time``, ``uw_phaseuw``.  Strict: like artifacts.  Scientific: compared
  and reported, but a mismatch is a *warning* only (the science is judged on
  ``phuw2``, which is compared pixel by pixel).
* *diagnostic*: ``ps_plot_*.mat`` and ``mv2.mat`` (written by ``ps_plot``, not by a
  stage): stage 8, compared when the run has them, otherwise skipped.
* *not compared*: ``parms.mat`` (configuration: StaMPS rewrites it with a creation
  date and every default that ``getparm`` touched).  Non-MAT files are ignored.
* unknown ``.mat`` files: compared when present in the run, else skipped.

Files of a stage above ``through_stage`` are skipped.  Run ``.mat`` files absent
from the golden are listed under ``extra`` (not a failure).

Per variable
------------
Every golden variable must exist in the run (extra run variables are listed).
MATLAB structs and cells are flattened (``s.field``, ``c{i}``), sparse matrices
densified.  Then:

1. **dtype**: equal, or the same precision class (float32/float64,
   complex64/complex128: accepted, reported in the message).  Any other difference
   fails in ``strict``; in ``scientific`` it is reported and the values are still
   compared unless text/numeric or complex/real differ.
2. **shape**: must be equal (MATLAB 2-D shapes), except in ``scientific`` for
   per-pixel variables whose rows are identified by pixel (see below).
3. **values**, by the rule of :data:`RULE_CLASSES` chosen through
   :data:`VARIABLE_CLASS` (``"file:var"``, then ``"var"``, then a default by
   dtype).  An element is an *outlier* when its difference ``d`` exceeds
   ``atol + atol_scale * S + rtol * |golden|`` (``S`` = max finite ``|golden|``,
   per row for ``mean_v.m``); NaN equals NaN, equal infinities are equal, any
   other non-finite mismatch has ``d = inf``.  ``d`` is ``|run - golden|`` for
   real data, the modulus of the complex difference for complex data, and
   ``|wrap(run - golden)|`` (period 2 pi) for wrapped phases.  A variable passes
   when ``outliers / size <= fraction``.

Scientific profile: "same science"
----------------------------------
Two correct implementations differ in StaMPS' random-phase simulation of stage 2
(``Nr``), so thresholds differ by a hair and the PS sets differ at the margin.
The scientific profile therefore (a) loosens the tolerances of estimated values
and allows a small outlier fraction (:data:`SCI_FRACTION`); (b) keeps inputs,
geometry and bookkeeping tight; (c) identifies the rows of per-pixel variables by
pixel ``(az, rg)`` (:data:`ROW_KEYS`) and compares them on the pixels common to
run and golden; (d) checks each PS set (initial and kept selection of
``select1``, patch and root ``ps2``) by its Jaccard index, which must be at least
:data:`JACCARD_FLOOR`.  After a merge the PS ids (first column of root
``ps2.ij``/``xy``) are positions and are not compared when the sets differ, nor is
the count ``n_ps``; ``xy`` is compared up to a constant shift because the merge
re-centres it on the bounding box of the merged set.

The report is JSON-able; non-finite numbers are written as ``None`` (NaN) or the
strings ``"inf"``/``"-inf"``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .dataset.artifacts import MERGED, PATCH, STAGES
from .errors import ConfigError, InputError
from .io.matfile import MatFileError, load_mat

PROFILES = ("strict", "scientific")
TWO_PI = 2.0 * math.pi


# ----------------------------------------------------------------------------------
# The tolerance table (the only place where tolerances are set)
# ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """How one variable's values are compared (see the module docstring)."""

    kind: str                      # "exact" | "float" | "wrapped" | "complex" | "text"
    rtol: float = 0.0              # relative to |golden|, element by element
    atol: float = 0.0              # absolute, in the variable's own units
    atol_scale: float = 0.0        # times max finite |golden| (per row if scale_axis=1)
    fraction: float = 0.0          # allowed fraction of outliers
    scale_axis: int | None = None  # None: one scale for the array; 1: one per row
    remove_offset: bool = False    # compare up to a constant (per column) shift
    period: float = TWO_PI         # period of wrapped values

    def describe(self) -> str:
        """Compact text, e.g. ``float rtol=1e-5 atol=1e-5*max|g|``."""
        g = lambda x: f"{x:g}".replace("e-0", "e-")  # noqa: E731
        parts = [self.kind]
        if self.rtol:
            parts.append(f"rtol={g(self.rtol)}")
        if self.atol:
            parts.append(f"atol={g(self.atol)}")
        if self.atol_scale:
            parts.append(f"atol={g(self.atol_scale)}*max|g|" + ("/row" if self.scale_axis == 1 else ""))
        if self.remove_offset:
            parts.append("up to shift")
        if self.fraction:
            parts.append(f"frac<={g(self.fraction)}")
        return " ".join(parts)


#: scientific: allowed outlier fraction of estimated values (0.5 %): pixels whose
#: estimate jumps (another topofit peak, another 2 pi cycle) when the random-phase
#: reference of stage 2 differs.
SCI_FRACTION = 0.005
#: scientific: allowed fraction of flipped per-pixel decisions (keep_ix, ix_weed) on
#: the common pixels; the same 0.5 % as the set floor below.
SCI_DECISION_FRACTION = 0.005
#: scientific: minimum Jaccard index |A & B| / |A | B| of a PS set (0.5 % of the
#: union may differ; near-parity implementations reach 0.9995).
JACCARD_FLOOR = 0.995

#: rule class -> (strict rule, scientific rule)
RULE_CLASSES: dict[str, tuple[Rule, Rule]] = {
    # indices, counts, integer bookkeeping, dates, parameters echoed into files
    "exact": (Rule("exact"), Rule("exact")),
    "text": (Rule("text"), Rule("text")),
    # per-pixel decisions (logical vectors)
    "flag": (Rule("exact"), Rule("exact", fraction=SCI_DECISION_FRACTION)),
    # stage-1 inputs and deterministic geometry: float32 rounding level in strict,
    # still tight in scientific (no randomness upstream of them)
    "input": (Rule("float", rtol=1e-5, atol_scale=1e-5), Rule("float", rtol=1e-4, atol_scale=1e-4)),
    # (amplitudes span orders of magnitude: mostly relative, a tiny scale-based atol)
    "input_complex": (Rule("complex", rtol=1e-5, atol_scale=1e-7),
                      Rule("complex", rtol=1e-4, atol_scale=1e-6)),
    # degrees; the values come from float32 files: 1e-7 deg ~ 1 cm, 1e-6 deg ~ 0.1 m
    "lonlat": (Rule("float", atol=1e-7), Rule("float", atol=1e-6)),
    # metres, rounded to mm and stored as float32: one mm rounding flip + float32 ulp
    "xy": (Rule("float", atol=2.5e-3), Rule("float", atol=1e-2, remove_offset=True)),
    # estimated real values (K, coherence, noise, unwrapped phase, scla, scn, ...)
    "estimate": (Rule("float", rtol=1e-5, atol_scale=1e-5),
                 Rule("float", rtol=1e-2, atol_scale=1e-2, fraction=SCI_FRACTION)),
    # angles in (-pi, pi]: compared modulo 2 pi; 0.05 rad ~ 3 degrees
    "wrapped": (Rule("wrapped", atol=1e-5), Rule("wrapped", atol=0.05, fraction=SCI_FRACTION)),
    # complex phasors (patch phase, filtered grids, corrected phase; patch ph_rc keeps
    # the amplitude): modulus of the difference, mostly relative; for unit phasors
    # rtol 0.05 ~ 0.05 rad
    "phasor": (Rule("complex", rtol=1e-5, atol_scale=1e-6),
               Rule("complex", rtol=0.05, atol_scale=1e-4, fraction=SCI_FRACTION)),
    # mean_v.m: row 1 intercept (rad), row 2 rate (rad/day): one scale per row
    "velocity_fit": (Rule("float", rtol=1e-5, atol_scale=1e-5, scale_axis=1),
                     Rule("float", rtol=1e-2, atol_scale=1e-2, scale_axis=1, fraction=SCI_FRACTION)),
    # histogram of simulated random-phase coherence (stage 2): RNG dependent
    "random": (Rule("float", rtol=1e-5, atol_scale=1e-5),
               Rule("float", rtol=0.1, atol_scale=0.02, fraction=0.05)),
}

#: variable -> rule class; "file:var" entries take precedence over "var".
#: Anything not listed: "estimate" (real), "phasor" (complex), "exact" (integer,
#: logical), "text" (char).
VARIABLE_CLASS: dict[str, str] = {
    # -- exact: indices, counts, grids of integers, dates, flags of the run --
    **dict.fromkeys((
        "ix", "ifg_index", "master_ix", "sort_ix", "day_ix", "n_ps", "n_ifg", "n_image",
        "N_opt", "step_number", "i_loop", "Nr_max_nz_ix", "grid_size", "n_win", "grid_ij",
        "ij", "edgs", "n_edge", "rowix", "colix", "Z", "nzix", "n_i", "n_j", "pix_size",
        "psver", "stamps_step_no_ps", "ifg_list", "G", "day", "master_day", "spread",
        "ifreq_ij", "jfreq_ij", "shaky_ix", "predef_ix",
        "clap_alpha", "clap_beta", "gamma_stdev_reject"), "exact"),
    "small_baseline_flag": "text",
    # -- per-pixel decisions --
    "keep_ix": "flag", "ix_weed": "flag", "ix_weed2": "flag",
    # -- wrapped phases (angles); C_ps_uw, ph_uw, dph_space_uw are NOT wrapped --
    "C_ps": "wrapped", "C_ps2": "wrapped", "ph_res": "wrapped", "ph_res2": "wrapped",
    "dph_noise": "wrapped",
    # -- inputs and deterministic geometry --
    **dict.fromkeys((
        "hgt", "la", "inc", "D_A", "bperp_mat", "bperp", "calconst", "ll0",
        "mean_incidence", "mean_range", "low_pass", "coh_bins", "n_trial_wraps",
        "max_percent_rand", "grid_x_min", "grid_y_min", "uw_grid:xy"), "input"),
    "ph": "input_complex",            # ph1/ph2: the interferograms as read
    "lonlat": "lonlat",
    "xy": "xy",
    # -- complex estimates --
    **dict.fromkeys(("ph_patch", "ph_patch2", "ph_grid", "ph_weight", "ph_rc", "ph_reref",
                     "ph_in", "uw_grid:ph"), "phasor"),
    "mean_v:m": "velocity_fit",
    "pm1:Nr": "random",
}

#: Rows of per-pixel variables: file stem -> {variable: (key source, axis)}.  Key
#: sources, read from the same directory of the same tree: "select_ix" = ps1.ij of
#: select1.ix; "selected" = ps1.ij of ix(keep_ix); "ps2" = ps2.ij; "nodes" =
#: uw_grid.ij.  Used by the scientific profile only.
_PS2_ROWS = {"ph2": ("ph",), "pm2": ("ph_patch", "ph_res", "coh_ps", "K_ps", "C_ps"),
             "bp2": ("bperp_mat",), "la2": ("la",), "hgt2": ("hgt",), "inc2": ("inc",),
             "rc2": ("ph_rc", "ph_reref"), "phuw2": ("ph_uw",),
             "scla2": ("ph_scla", "K_ps_uw", "C_ps_uw", "ph_ramp"),
             "scla_smooth2": ("ph_scla", "K_ps_uw", "C_ps_uw", "ph_ramp"),
             "scn2": ("ph_scn_slave", "ph_hpt", "ph_ramp"), "ps2": ("ij", "lonlat", "xy")}
ROW_KEYS: dict[str, dict[str, tuple[str, int]]] = {
    "select1": {v: ("select_ix", 0) for v in ("ix", "keep_ix", "ph_patch2", "ph_res2", "K_ps2",
                                              "C_ps2", "coh_ps2", "coh_thresh")},
    "weed1": {v: ("selected", 0) for v in ("ix_weed", "ix_weed2", "ps_std", "ps_max")},
    **{stem: {v: ("ps2", 0) for v in names} for stem, names in _PS2_ROWS.items()},
    "mean_v": {"m": ("ps2", 1)},
    "ps_plot": {"ph_disp": ("ps2", 0)},          # every ps_plot_<type>.mat
    "uw_grid": {"ph_in": ("ps2", 0), "grid_ij": ("ps2", 0),
                "ph": ("nodes", 0), "xy": ("nodes", 0), "ij": ("nodes", 0)},
    "uw_phaseuw": {"ph_uw": ("nodes", 0)},
}
#: Sets checked by Jaccard index, per file stem: (key source, label).
SETS: dict[str, tuple[tuple[str, str], ...]] = {
    "select1": (("select_ix", "initial selection ix"), ("selected", "kept ix(keep_ix)")),
    "ps2": (("ps2", "PS set ij"),),
    "uw_grid": (("nodes", "grid nodes ij"),),
}
#: Counts that follow a set (not compared when the set differs; its Jaccard judges).
SET_COUNTS = {("ps2", "n_ps"): "ps2", ("uw_grid", "n_ps"): "nodes"}

#: Files never compared, with the reason.
NOT_COMPARED = {"parms": "configuration, not an artifact (StaMPS adds a creation date and the "
                         "defaults getparm touched)"}
#: Files written by ps_plot (diagnostics): compared only when the run has them.
DIAGNOSTIC = re.compile(r"^(ps_plot_.+|mv2)$")
#: Stage-6 solver files: warnings only in the scientific profile.
INTERMEDIATE = frozenset({"uw_grid", "uw_interp", "uw_space_time", "uw_phaseuw"})
#: Files not in the artifact table: (scope, stem) -> stage.
EXTRA_STAGES = {(PATCH, "psver"): 4, (MERGED, "psver"): 5, (PATCH, "no_ps_info"): 4,
                (MERGED, "no_ps_info"): 5, (MERGED, "mean_v"): 8}


def _stage_table() -> dict[tuple[str, str], int]:
    table: dict[tuple[str, str], int] = {}
    for s in STAGES:
        for name in s.writes + s.optional_writes:
            table[(s.scope, name)] = max(table.get((s.scope, name), 0), s.stage)
    table.update(EXTRA_STAGES)
    return table


_STAGE_OF = _stage_table()


def classify(stem: str, scope: str) -> tuple[str, int | None]:
    """(role, stage) of golden file ``stem`` in ``scope`` (PATCH or MERGED).

    Roles: "artifact", "intermediate", "diagnostic", "not_compared", "unknown".
    A name not written in ``scope`` takes its stage in the other scope (the root
    of a single-directory run is classified with scope PATCH first).
    """
    if stem in NOT_COMPARED:
        return "not_compared", None
    if DIAGNOSTIC.match(stem):
        return "diagnostic", 8
    stage = _STAGE_OF.get((scope, stem))
    if stage is None:
        stage = _STAGE_OF.get((MERGED if scope == PATCH else PATCH, stem))
    if stage is None:
        return "unknown", None
    return ("intermediate" if stem in INTERMEDIATE else "artifact"), stage


def rule_for(stem: str, var: str, value: Any, profile: str) -> tuple[str, Rule]:
    """(class name, rule) for variable ``var`` of file ``stem`` under ``profile``."""
    base = var.split(".")[0].split("{")[0]
    cls = VARIABLE_CLASS.get(f"{stem}:{base}") or VARIABLE_CLASS.get(base)
    if cls is None:
        dc = _dclass(value)
        cls = {"text": "text", "complex": "phasor", "int": "exact", "logical": "exact"}.get(dc, "estimate")
    strict, sci = RULE_CLASSES[cls]
    return cls, (strict if profile == "strict" else sci)


# ----------------------------------------------------------------------------------
# Values
# ----------------------------------------------------------------------------------

def _is_sparse(v: Any) -> bool:
    return hasattr(v, "tocoo") and hasattr(v, "nnz")


def _flatten(name: str, v: Any) -> list[tuple[str, Any]]:
    """MATLAB value -> [(name, ndarray | str)]: structs, cells and sparse unpacked."""
    if isinstance(v, str):
        return [(name, v)]
    if _is_sparse(v):
        return [(name, np.asarray(v.toarray()))]
    a = np.asarray(v)
    if a.dtype.names:  # struct (array)
        out: list[tuple[str, Any]] = []
        for idx in np.ndindex(a.shape):
            pre = name if a.size == 1 else f"{name}({','.join(str(i + 1) for i in idx)})"
            for f in a.dtype.names:
                out.extend(_flatten(f"{pre}.{f}", a[idx][f]))
        return out
    if a.dtype == object:
        if a.size == 1 and (_is_sparse(a.flat[0]) or np.asarray(a.flat[0]).dtype.names):
            return _flatten(name, a.flat[0])
        out = []
        for i, item in enumerate(a.ravel(order="F")):
            out.extend(_flatten(f"{name}{{{i + 1}}}", item))
        return out
    if a.dtype.kind in "US":
        return [(name, "".join(str(s) for s in a.ravel()))]
    return [(name, a)]


def _flat_vars(d: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        for name, val in _flatten(k, v):
            out[name] = val
    return out


def _dclass(a: Any) -> str:
    if isinstance(a, str):
        return "text"
    k = np.asarray(a).dtype.kind
    return {"f": "float", "c": "complex", "b": "logical", "u": "int", "i": "int",
            "U": "text", "S": "text"}.get(k, "object")


_EQUIV = ({"float32", "float64"}, {"complex64", "complex128"})


def _dtype_name(a: Any) -> str:
    return "char" if isinstance(a, str) else str(np.asarray(a).dtype)


def _check_dtype(r: Any, g: Any, profile: str) -> tuple[bool, bool, str]:
    """(ok, comparable, note)."""
    dr, dg = _dtype_name(r), _dtype_name(g)
    if dr == dg:
        return True, True, ""
    if any(dr in s and dg in s for s in _EQUIV):
        return True, True, f"precision {dr} vs golden {dg}"
    cr, cg = _dclass(r), _dclass(g)
    numeric_real = {"float", "int", "logical"}
    comparable = (cr in numeric_real and cg in numeric_real) or \
                 (cr in ("float", "complex") and cg in ("float", "complex") and cr == cg)
    msg = f"dtype {dr} != golden {dg}"
    if profile == "strict" or not comparable:
        return False, comparable, msg
    return True, True, msg


def _differences(r: np.ndarray, g: np.ndarray, rule: Rule) -> tuple[np.ndarray, np.ndarray]:
    """(d, |golden|) element by element, with the NaN/inf conventions of the module."""
    if r.dtype.kind == "c" or g.dtype.kind == "c":
        a = r.astype(np.complex128)
        b = g.astype(np.complex128)
        if rule.kind == "wrapped":  # angles of phasors; a zero phasor has no angle
            d = np.abs(np.angle(a * np.conj(b)))
            za, zb = a == 0, b == 0
            d = np.where(za & zb, 0.0, np.where(za | zb, np.inf, d))
        else:
            d = np.abs(a - b)
        bad_a = ~np.isfinite(a)
        bad_b = ~np.isfinite(b)
        same = (np.isnan(a) & np.isnan(b)) | (bad_a & bad_b & (a == b))
        d = np.where(same, 0.0, np.where(bad_a | bad_b, np.inf, d))
        return d, np.abs(b)
    a = r.astype(np.float64)
    b = g.astype(np.float64)
    with np.errstate(invalid="ignore"):
        dd = a - b
    if rule.remove_offset and dd.size:
        dd = dd - _column_offsets(dd)
    if rule.kind == "wrapped":
        p = rule.period
        d = np.abs(np.mod(dd + p / 2, p) - p / 2)
    else:
        d = np.abs(dd)
    bad_a = ~np.isfinite(a)
    bad_b = ~np.isfinite(b)
    same = (np.isnan(a) & np.isnan(b)) | (bad_a & bad_b & (a == b))
    d = np.where(same, 0.0, np.where(bad_a | bad_b, np.inf, d))
    return d, np.abs(b)


def _column_offsets(dd: np.ndarray) -> np.ndarray:
    """Median finite difference per column (a 2-D array) or overall."""
    x = dd.reshape(dd.shape[0], -1) if dd.ndim >= 2 else dd.reshape(-1, 1)
    off = np.zeros(x.shape[1])
    for j in range(x.shape[1]):
        f = x[:, j][np.isfinite(x[:, j])]
        off[j] = np.median(f) if f.size else 0.0
    return off.reshape((1,) + dd.shape[1:]) if dd.ndim >= 2 else off[0]


def _scale(g_abs: np.ndarray, rule: Rule) -> np.ndarray | float:
    fin = np.where(np.isfinite(g_abs), g_abs, 0.0)
    if rule.scale_axis == 1 and fin.ndim == 2:
        return fin.max(axis=1, keepdims=True) if fin.shape[1] else np.zeros((fin.shape[0], 1))
    return float(fin.max()) if fin.size else 0.0


def compare_values(r: Any, g: Any, rule: Rule) -> dict[str, Any]:
    """Compare two same-shape arrays (or texts) under ``rule``.

    Returns ``{ok, max_abs, max_rel, outliers, size, outlier_fraction}``.
    """
    if rule.kind == "text" or isinstance(r, str) or isinstance(g, str):
        ok = str(r) == str(g)
        return {"ok": ok, "max_abs": None, "max_rel": None, "outliers": 0 if ok else 1,
                "size": 1, "outlier_fraction": 0.0 if ok else 1.0}
    r = np.asarray(r)
    g = np.asarray(g)
    n = int(g.size)
    if n == 0:
        return {"ok": True, "max_abs": 0.0, "max_rel": 0.0, "outliers": 0, "size": 0,
                "outlier_fraction": 0.0}
    d, gabs = _differences(r, g, rule)
    if rule.kind == "exact":
        out = d > 0
    else:
        limit = rule.atol + rule.atol_scale * _scale(gabs, rule) + rule.rtol * np.where(
            np.isfinite(gabs), gabs, 0.0)
        out = d > limit
    n_out = int(np.count_nonzero(out))
    max_abs = float(d.max())
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where((gabs > 0) & np.isfinite(gabs), d / gabs, 0.0)
    frac = n_out / n
    return {"ok": frac <= rule.fraction, "max_abs": max_abs, "max_rel": float(np.max(rel)),
            "outliers": n_out, "size": n, "outlier_fraction": frac}


# ----------------------------------------------------------------------------------
# Trees, pixel keys and sets
# ----------------------------------------------------------------------------------

def _natural(s: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _mat_files(root: Path) -> list[tuple[str, str]]:
    """[(relative path, scope)] of the .mat files in the root and in PATCH_* folders.

    Without PATCH_* folders (single-directory run) the root files have scope PATCH.
    """
    patches = [d for d in root.glob("PATCH_*") if d.is_dir()]
    root_scope = MERGED if patches else PATCH
    out = [(p.name, root_scope) for p in root.glob("*.mat") if p.is_file()]
    for d in patches:
        out += [(f"{d.name}/{p.name}", PATCH) for p in d.glob("*.mat") if p.is_file()]
    return sorted(out, key=lambda t: _natural(t[0]))


def _pixel_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.int64) * (1 << 31) + np.asarray(b, dtype=np.int64)


class _Keys:
    """Pixel keys of one tree's directories, computed on demand and cached."""

    def __init__(self, root: Path):
        self.root = root
        self._cache: dict[tuple[str, str], np.ndarray | None] = {}

    def get(self, folder: str, source: str) -> np.ndarray | None:
        k = (folder, source)
        if k not in self._cache:
            try:
                self._cache[k] = self._load(self.root / folder, source)
            except (MatFileError, IndexError, ValueError, KeyError):
                self._cache[k] = None
        return self._cache[k]

    @staticmethod
    def _load(d: Path, source: str) -> np.ndarray | None:
        # whole files: a selective scipy read returns the first of duplicated
        # variables (Octave appends), MATLAB's load the last
        if source == "ps2":
            ij = load_mat(d / "ps2.mat")["ij"]
            return _pixel_key(ij[:, 1], ij[:, 2])
        if source == "nodes":
            ij = load_mat(d / "uw_grid.mat")["ij"]
            return _pixel_key(ij[:, 0], ij[:, 1])
        ij = load_mat(d / "ps1.mat")["ij"]
        s = load_mat(d / "select1.mat")
        ix = np.asarray(s["ix"]).ravel().astype(np.int64) - 1
        if source == "selected":
            ix = ix[np.asarray(s["keep_ix"]).ravel().astype(bool)]
        if ix.size and (ix.min() < 0 or ix.max() >= ij.shape[0]):
            return None
        return _pixel_key(ij[ix, 1], ij[ix, 2])


def _set_stats(kr: np.ndarray, kg: np.ndarray) -> dict[str, Any]:
    ur, ug = np.unique(kr), np.unique(kg)
    common = np.intersect1d(ur, ug).size
    union = ur.size + ug.size - common
    return {"n_run": int(kr.size), "n_golden": int(kg.size), "n_common": int(common),
            "jaccard": (common / union) if union else 1.0}


# ----------------------------------------------------------------------------------
# One file
# ----------------------------------------------------------------------------------

def _var_entry(name: str, cls: str, rule: Rule, r: Any, g: Any) -> dict[str, Any]:
    return {"name": name, "ok": False, "rule": f"{cls}: {rule.describe()}",
            "shape_run": _shape(r), "shape_golden": _shape(g),
            "dtype_run": None if r is None else _dtype_name(r), "dtype_golden": _dtype_name(g),
            "max_abs": None, "max_rel": None, "outlier_fraction": None,
            "allowed_fraction": rule.fraction, "message": ""}


def _shape(v: Any) -> list[int] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return [1, len(v)]
    return list(np.shape(v))


def _match_rows(r: np.ndarray, g: np.ndarray, kr: np.ndarray, kg: np.ndarray, axis: int):
    """Rows of r and g restricted to the common pixel keys (same order); None if unusable."""
    if r.ndim < 2 or g.ndim < 2 or r.shape[axis] != kr.size or g.shape[axis] != kg.size:
        return None
    if r.shape[1 - axis] != g.shape[1 - axis] or r.ndim != g.ndim:
        return None
    if kr.size == kg.size and np.array_equal(kr, kg):
        return r, g, True
    _, ir, ig = np.intersect1d(kr, kg, assume_unique=False, return_indices=True)
    return np.take(r, ir, axis=axis), np.take(g, ig, axis=axis), False


@dataclass
class _FileCtx:
    """What the comparison of one file needs to know."""

    rel: str
    scope: str
    stem: str
    profile: str
    keys_run: _Keys
    keys_gold: _Keys
    differing_sets: set[str]

    @property
    def folder(self) -> str:
        return str(Path(self.rel).parent)

    @property
    def key_stem(self) -> str:
        return "ps_plot" if self.stem.startswith("ps_plot_") else self.stem


def _compare_sets(ctx: _FileCtx) -> list[dict[str, Any]]:
    """Jaccard checks of the sets this file defines; records the sets that differ."""
    out = []
    floor = 1.0 if ctx.profile == "strict" else JACCARD_FLOOR
    for source, label in SETS.get(ctx.stem, ()):
        kr, kg = ctx.keys_run.get(ctx.folder, source), ctx.keys_gold.get(ctx.folder, source)
        if kr is None or kg is None:
            continue
        st = _set_stats(kr, kg)
        st.update(name=label, floor=floor, ok=st["jaccard"] >= floor)
        if not (kr.size == kg.size and np.array_equal(kr, kg)):
            ctx.differing_sets.add(source)
        out.append(st)
    return out


def _align(ctx: _FileCtx, name: str, r: np.ndarray, g: np.ndarray,
           notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Scientific profile: restrict per-pixel rows to the pixels common to run and golden."""
    keyspec = ROW_KEYS.get(ctx.key_stem, {}).get(name)
    if ctx.profile != "scientific" or keyspec is None:
        return r, g
    source, axis = keyspec
    kr, kg = ctx.keys_run.get(ctx.folder, source), ctx.keys_gold.get(ctx.folder, source)
    m = None if kr is None or kg is None else _match_rows(r, g, kr, kg, axis)
    if m is None:
        return r, g
    rr, gg, identity = m
    if not identity:
        notes.append(f"compared on {gg.shape[axis]} common pixels (run {kr.size}, golden {kg.size})")
        if ctx.scope == MERGED and ctx.stem == "ps2" and name in ("ij", "xy") and gg.ndim == 2:
            rr, gg = rr[:, 1:], gg[:, 1:]
            notes.append("ids renumbered by the merge: column 1 not compared")
    return rr, gg


def _compare_variable(ctx: _FileCtx, name: str, r: Any, g: Any) -> dict[str, Any]:
    """The report entry of one golden variable (``r`` is None when the run lacks it)."""
    cls, rule = rule_for(ctx.stem, name, g, ctx.profile)
    v = _var_entry(name, cls, rule, r, g)
    if r is None:
        v["message"] = "missing in run"
        return v
    if ctx.profile == "scientific" and SET_COUNTS.get((ctx.stem, name)) in ctx.differing_sets:
        v.update(ok=True, message="count of a differing set: judged by its Jaccard index")
        return v
    dt_ok, comparable, note = _check_dtype(r, g, ctx.profile)
    notes = [note] if note else []
    if not comparable:
        v["message"] = note
        return v
    rr, gg = r, g
    if not isinstance(g, str) and not isinstance(r, str):
        rr, gg = _align(ctx, name, np.asarray(r), np.asarray(g), notes)
        if rr.shape != gg.shape:
            v["message"] = f"shape {list(np.shape(r))} != golden {list(np.shape(g))}"
            return v
    res = compare_values(rr, gg, rule)
    v.update(max_abs=res["max_abs"], max_rel=res["max_rel"], outlier_fraction=res["outlier_fraction"])
    if not res["ok"]:
        notes.insert(0, f"text {r!r} != golden {g!r}" if rule.kind == "text" else
                     f"{res['outliers']} of {res['size']} values outside tolerance "
                     f"({100 * res['outlier_fraction']:.3g} %, allowed {100 * rule.fraction:.3g} %)")
    elif res["outliers"]:
        notes.insert(0, f"{res['outliers']} of {res['size']} values outside tolerance (allowed)")
    v["ok"] = bool(res["ok"] and dt_ok)
    v["message"] = "; ".join(notes) if notes else "ok"
    return v


def _compare_file(rel: str, scope: str, stem: str, run_root: Path, gold_root: Path,
                  keys_run: _Keys, keys_gold: _Keys, profile: str) -> dict[str, Any]:
    """Report entry of one file present in both trees (golden unreadable: InputError)."""
    entry: dict[str, Any] = {"path": rel, "ok": True, "message": "", "variables": [],
                             "extra_variables": [], "sets": []}
    try:
        gold = _flat_vars(load_mat(gold_root / rel))
    except MatFileError as exc:
        raise InputError(f"golden {exc}") from None
    try:
        run = _flat_vars(load_mat(run_root / rel))
    except MatFileError as exc:
        entry.update(ok=False, message=f"unreadable in run: {exc}")
        return entry
    ctx = _FileCtx(rel, scope, stem, profile, keys_run, keys_gold, set())
    entry["extra_variables"] = sorted(set(run) - set(gold))
    entry["sets"] = _compare_sets(ctx)
    entry["variables"] = [_compare_variable(ctx, name, run.get(name), g) for name, g in gold.items()]
    bad_vars = sum(1 for v in entry["variables"] if not v["ok"])
    bad_sets = [s["name"] for s in entry["sets"] if not s["ok"]]
    entry["ok"] = not bad_vars and not bad_sets
    parts = []
    if bad_vars:
        parts.append(f"{bad_vars} of {len(entry['variables'])} variables differ")
    if bad_sets:
        parts.append("set below Jaccard floor: " + ", ".join(bad_sets))
    entry["message"] = "; ".join(parts) if parts else f"matched {len(entry['variables'])} variables"
    return entry


# ----------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------

def verify_trees(run: Path, golden: Path, *, profile: str = "strict",
                 through_stage: int = 8) -> dict[str, Any]:
    """Compare the run tree ``run`` with the golden tree ``golden``.

    Returns a JSON-able report::

        {"ok", "profile", "through_stage", "run", "golden", "checked",
         "failed": ["PATCH_1/pm1.mat:C_ps", "PATCH_1/weed1.mat", ...],
         "warnings": [...],          # scientific: intermediate files that differ
         "files": [{"path", "stage", "role", "ok", "advisory", "message",
                    "variables": [{"name", "ok", "rule", "shape_run", "shape_golden",
                                   "dtype_run", "dtype_golden", "max_abs", "max_rel",
                                   "outlier_fraction", "allowed_fraction", "message"}],
                    "extra_variables": [...],
                    "sets": [{"name", "n_run", "n_golden", "n_common", "jaccard",
                              "floor", "ok"}]}],
         "extra": [run .mat files absent from the golden],
         "skipped": [{"path", "reason"}]}

    ``ok`` is true when at least one file was compared and nothing failed.
    Raises :class:`ConfigError` for a bad profile or stage and
    :class:`InputError` when a tree is missing or a golden file is unreadable.
    """
    if profile not in PROFILES:
        raise ConfigError(f"verify profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    if isinstance(through_stage, bool) or not isinstance(through_stage, (int, np.integer)) \
            or not 1 <= int(through_stage) <= 8:
        raise ConfigError(f"through_stage must be an integer 1..8, got {through_stage!r}")
    through_stage = int(through_stage)
    run, golden = Path(run), Path(golden)
    for label, p in (("run", run), ("golden", golden)):
        if not p.is_dir():
            raise InputError(f"{label} tree {p} is not a directory")

    keys_run, keys_gold = _Keys(run), _Keys(golden)
    files: list[dict[str, Any]] = []
    failed: list[str] = []
    warnings: list[str] = []
    skipped: list[dict[str, str]] = []
    golden_files = _mat_files(golden)
    for rel, scope in golden_files:
        stem = Path(rel).stem
        role, stage = classify(stem, scope)
        if role == "not_compared":
            skipped.append({"path": rel, "reason": NOT_COMPARED[stem]})
            continue
        if stage is not None and stage > through_stage:
            skipped.append({"path": rel, "reason": f"stage {stage} > through_stage {through_stage}"})
            continue
        advisory = role == "intermediate" and profile == "scientific"
        if not (run / rel).is_file():
            if role in ("diagnostic", "unknown"):
                skipped.append({"path": rel, "reason": f"{role} file not in the run"})
                continue
            entry = {"path": rel, "stage": stage, "role": role, "ok": False, "advisory": advisory,
                     "message": "missing in run", "variables": [], "extra_variables": [], "sets": []}
        else:
            entry = _compare_file(rel, scope, stem, run, golden, keys_run, keys_gold, profile)
            entry = {"path": rel, "stage": stage, "role": role, "advisory": advisory, **entry}
        files.append(entry)
        if not entry["ok"]:
            names = [f"{rel}:{v['name']}" for v in entry["variables"] if not v["ok"]]
            names += [f"{rel}:set({s['name']})" for s in entry["sets"] if not s["ok"]]
            (warnings if advisory else failed).extend(names or [rel])
    gold_set = {rel for rel, _ in golden_files}
    extra = [rel for rel, _ in _mat_files(run) if rel not in gold_set]
    checked = sum(1 for f in files if f["message"] != "missing in run")
    return _jsonable({
        "ok": not failed and checked > 0,
        "profile": profile, "through_stage": through_stage,
        "run": str(run), "golden": str(golden),
        "checked": checked, "failed": failed, "warnings": warnings,
        "files": files, "extra": extra, "skipped": skipped,
    })


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        if math.isnan(f):
            return None
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    return x


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    return f"{x:.3g}"


def format_report(report: dict[str, Any], *, verbose: bool = False) -> str:
    """A terminal table: one line per file, plus one per differing variable
    (every variable with ``verbose``), then extra and skipped files."""
    status = "PASSED" if report["ok"] else "FAILED"
    n_files = len(report["files"])
    n_bad = sum(1 for f in report["files"] if not f["ok"] and not f.get("advisory"))
    lines = [f"verify ({report['profile']}, through stage {report['through_stage']}): {status} - "
             f"{report['checked']} files compared, {n_bad} of {n_files} failed, "
             f"{len(report.get('warnings', []))} warnings, {len(report['extra'])} extra",
             f"  run:    {report['run']}", f"  golden: {report['golden']}"]
    head = f"{'':4} {'file / variable':34} {'rule':50} {'max_abs':>9} {'max_rel':>9} {'outliers':>9}  message"
    lines += ["", head, "-" * len(head)]
    for f in report["files"]:
        tag = "ok" if f["ok"] else ("WARN" if f.get("advisory") else "FAIL")
        lines.append(f"{tag:4} {f['path']:34} {'stage ' + str(f['stage']) + ' ' + f['role']:50} "
                     f"{'':>9} {'':>9} {'':>9}  {f['message']}")
        for s in f.get("sets", []):
            if verbose or not s["ok"] or s["jaccard"] < 1:
                t = "ok" if s["ok"] else "FAIL"
                lines.append(f"{t:>4}   {'set ' + s['name']:32} {'jaccard >= ' + format(s['floor'], 'g'):50} "
                             f"{'':>9} {'':>9} {'':>9}  J={s['jaccard']:.5f} run {s['n_run']} "
                             f"golden {s['n_golden']} common {s['n_common']}")
        for v in f["variables"]:
            if verbose or not v["ok"] or (v["outlier_fraction"] or 0) > 0:
                t = "ok" if v["ok"] else "FAIL"
                frac = v["outlier_fraction"]
                lines.append(f"{t:>4}   {v['name']:32} {v['rule']:50} {_fmt(v['max_abs']):>9} "
                             f"{_fmt(v['max_rel']):>9} {'-' if frac is None else f'{100 * frac:.3g}%':>9}  "
                             f"{v['message']}")
    if report["extra"]:
        lines += ["", "extra run files (not in the golden): " + ", ".join(report["extra"])]
    if report["skipped"]:
        lines += ["", "skipped:"] + [f"  {s['path']}: {s['reason']}" for s in report["skipped"]]
    if report["failed"]:
        lines += ["", "failed: " + ", ".join(report["failed"])]
    if report.get("warnings"):
        lines += ["warnings: " + ", ".join(report["warnings"])]
    return "\n".join(lines)
