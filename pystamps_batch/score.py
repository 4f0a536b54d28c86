"""Score a run against the simulation's ground truth (``truth.npz``).

Pixels are matched to the truth candidates by full-image ``(az, rg)`` (truth
arrays ``az``, ``rg``; the run's ``ij`` columns 2 and 3).  Every metric is
reported only when its inputs exist in the run; ``notes`` says why one is absent.

Metrics
-------
``selection`` (precision = TP / selected, recall = TP / true PS, F1), per step:

* ``stage3``: the pixels ``ix(keep_ix)`` of each patch's ``select1.mat``, mapped
  through that patch's ``ps1.ij``; union over patches, deduplicated by (az, rg);
* ``stage4``: the union of the patches' ``ps2.ij``;
* ``merged``: the root ``ps2.ij``.

A selected pixel that is not a truth candidate counts as a false positive
(``n_unmatched``).  Recall is over all true PS of the scene, so every patch of the
run must have the step's files.

``dem_error`` on the true PS of each set: StaMPS' look-angle error ``K`` (rad/m)
against ``K_rad_per_m``, and the height error ``dz = -K * lambda * R * sin(inc) /
(4 pi)`` (m; R = ``slant_range_m``, inc = ``incidence_rad`` of the truth) against
``dem_err_m``: RMSE of each and the bias of dz.  Sources: ``stage2`` = ``pm1.K_ps``
(all candidates), ``stage3`` = ``select1.K_ps2`` of the kept pixels, ``stage4`` =
patch ``pm2.K_ps``, ``merged`` = root ``pm2.K_ps``.  ``K_ps`` is estimated against
the patch phase; no offset is removed.

``velocity`` (mm/yr, positive towards the satellite), on the root ``ps2`` pixels
against ``v_mean_mm_yr``:

* ``mean_v``: ``v = -m(2,:) * 365.25 / (4 pi) * lambda * 1000`` from the root
  ``mean_v.mat`` (the fit of the **last** ``ps_plot('v...')`` call that wrote it);
* ``v-do``, ``v-d``, ... : ``ph_disp`` of each root ``ps_plot_v*.mat`` (already mm/yr).

StaMPS velocities are relative to the reference area (the mean over all PS by
default), so a constant offset is meaningless: ``rmse_mm_yr`` is the RMSE of
``v - v_true`` after subtracting its mean (``offset_mm_yr``) over all matched PS.
The ``'o'`` variants also remove a linear ramp from every interferogram, which
removes the true velocity's own planar trend; ``rmse_plane_mm_yr`` is therefore
the RMSE after removing the least-squares plane ``c0 + c1 E + c2 N`` (truth
east/north in km) of ``v - v_true``.  The golden README's "v-do RMSE vs truth"
(small-1patch 1.262 mm/yr) is ``velocity["v-do"]["rmse_plane_mm_yr"]`` over all
final PS (true and false).  ``*_true_ps`` repeat both on the true PS only (plane
fitted on them).

The wavelength comes from the run's ``parms.mat`` (``lambda``), else
``lambda.1.in``, else ``truth.json`` (``wavelength_m``) next to ``truth.npz``.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .io.matfile import MatFileError, load_mat

_TRUTH_FIELDS = ("az", "rg", "is_ps")


# ----------------------------------------------------------------------------------
# Truth and matching
# ----------------------------------------------------------------------------------

def _key(az: Any, rg: Any) -> np.ndarray:
    return np.asarray(az, dtype=np.int64).ravel() * (1 << 31) + np.asarray(rg, dtype=np.int64).ravel()


class _Truth:
    """truth.npz arrays with a sorted pixel-key index."""

    def __init__(self, path: Path):
        try:
            with np.load(path) as z:
                self.a = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable truth.npz ({exc})") from None
        missing = [k for k in _TRUTH_FIELDS if k not in self.a]
        if missing:
            raise InputError(f"{path}: missing truth array(s) {', '.join(missing)}")
        keys = _key(self.a["az"], self.a["rg"])
        self.order = np.argsort(keys, kind="stable")
        self.sorted_keys = keys[self.order]
        self.is_ps = np.asarray(self.a["is_ps"]).astype(bool).ravel()

    def index(self, keys: np.ndarray) -> np.ndarray:
        """Truth index of each key, -1 where the pixel is not a truth candidate."""
        pos = np.searchsorted(self.sorted_keys, keys)
        pos = np.clip(pos, 0, max(self.sorted_keys.size - 1, 0))
        hit = self.sorted_keys.size > 0
        ok = (self.sorted_keys[pos] == keys) if hit else np.zeros(keys.shape, bool)
        return np.where(ok, self.order[pos], -1)

    def get(self, name: str) -> np.ndarray | None:
        v = self.a.get(name)
        return None if v is None else np.asarray(v, dtype=np.float64).ravel()


# ----------------------------------------------------------------------------------
# Run access
# ----------------------------------------------------------------------------------

def _natural(s: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _units(run: Path) -> list[Path]:
    """The patch folders (PATCH_*), or the root itself for a single-directory run."""
    patches = sorted((d for d in run.glob("PATCH_*") if d.is_dir()), key=lambda d: _natural(d.name))
    return patches or [run]


def _load(path: Path, names: list[str]) -> dict[str, Any] | None:
    """The variables ``names`` of ``path``, or None when the file or one name is missing.

    The whole file is read: a selective scipy read returns the *first* of
    duplicated variables (Octave's appended saves, e.g. pm1.mat, root phuw2.mat),
    while MATLAB's ``load`` (and ``load_mat`` without a selection) takes the last.
    """
    try:
        d = load_mat(path)
    except MatFileError:
        return None
    if any(n not in d for n in names):
        return None
    return {n: d[n] for n in names}


def _ij_keys(ij: np.ndarray) -> np.ndarray:
    ij = np.asarray(ij)
    return _key(ij[:, 1], ij[:, 2])


def _patch_sets(run: Path, kind: str) -> tuple[list[tuple[np.ndarray, np.ndarray]] | None, str]:
    """Per unit: (pixel keys, K values) of the step ``kind``; (None, why) if incomplete."""
    out = []
    for u in _units(run):
        rel = u.name if u != run else "."
        if kind == "stage2":
            ps1, pm1 = _load(u / "ps1.mat", ["ij"]), _load(u / "pm1.mat", ["K_ps"])
            if ps1 is None or pm1 is None:
                return None, f"{rel}: ps1.mat/pm1.mat missing"
            out.append((_ij_keys(ps1["ij"]), np.ravel(pm1["K_ps"])))
        elif kind == "stage3":
            ps1 = _load(u / "ps1.mat", ["ij"])
            sel = _load(u / "select1.mat", ["ix", "keep_ix", "K_ps2"])
            if ps1 is None or sel is None:
                return None, f"{rel}: ps1.mat/select1.mat missing"
            ix = np.ravel(sel["ix"]).astype(np.int64) - 1
            keep = np.ravel(sel["keep_ix"]).astype(bool)
            if ix.size != keep.size or (ix.size and (ix.min() < 0 or ix.max() >= ps1["ij"].shape[0])):
                return None, f"{rel}: select1.ix/keep_ix inconsistent with ps1.ij"
            k2 = np.ravel(sel["K_ps2"])
            out.append((_ij_keys(ps1["ij"][ix[keep]]), k2[keep] if k2.size == ix.size else
                        np.full(int(keep.sum()), np.nan)))
        else:  # stage4: patch ps2 (+ pm2)
            ps2 = _load(u / "ps2.mat", ["ij"])
            if ps2 is None:
                return None, f"{rel}: ps2.mat missing"
            pm2 = _load(u / "pm2.mat", ["K_ps"])
            n = ps2["ij"].shape[0]
            k = np.ravel(pm2["K_ps"]) if pm2 is not None and np.size(pm2["K_ps"]) == n else np.full(n, np.nan)
            out.append((_ij_keys(ps2["ij"]), k))
    return out, ""


def _union(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate, keeping the first occurrence of each pixel."""
    keys = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
    vals = np.concatenate([p[1].astype(np.float64) for p in parts]) if parts else np.zeros(0)
    _, first = np.unique(keys, return_index=True)
    first.sort()
    return keys[first], vals[first]


# ----------------------------------------------------------------------------------
# Metrics
# ----------------------------------------------------------------------------------

def selection_metrics(keys: np.ndarray, truth: _Truth) -> dict[str, Any]:
    """Precision/recall/F1 of the selected pixels ``keys`` (deduplicated)."""
    keys = np.unique(keys)
    idx = truth.index(keys)
    matched = idx >= 0
    tp = int(np.count_nonzero(truth.is_ps[idx[matched]]))
    n_sel = int(keys.size)
    n_true = int(np.count_nonzero(truth.is_ps))
    precision = tp / n_sel if n_sel else float("nan")
    recall = tp / n_true if n_true else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if n_sel and n_true and (precision + recall) > 0 else 0.0
    return {"n_selected": n_sel, "n_unmatched": int(n_sel - matched.sum()), "tp": tp,
            "fp": n_sel - tp, "fn": n_true - tp, "precision": precision, "recall": recall, "f1": f1}


def dem_metrics(keys: np.ndarray, K: np.ndarray, truth: _Truth, lam: float | None) -> dict[str, Any] | None:
    """RMSE of K (rad/m) and of the height error (m) on the true PS among ``keys``."""
    Kt = truth.get("K_rad_per_m")
    if Kt is None:
        return None
    idx = truth.index(keys)
    sel = idx >= 0
    sel[sel] = truth.is_ps[idx[sel]]
    ii, k = idx[sel], np.asarray(K, dtype=np.float64)[sel]
    ok = np.isfinite(k)
    out: dict[str, Any] = {"n_true_ps": int(ii.size), "n_valid": int(ok.sum())}
    if not ok.any():
        return out
    ii, k = ii[ok], k[ok]
    out["rmse_K_rad_per_m"] = float(np.sqrt(np.mean((k - Kt[ii]) ** 2)))
    R, inc, dzt = truth.get("slant_range_m"), truth.get("incidence_rad"), truth.get("dem_err_m")
    if lam is not None and R is not None and inc is not None and dzt is not None:
        dz = -k * lam * R[ii] * np.sin(inc[ii]) / (4 * math.pi)
        e = dz - dzt[ii]
        out["rmse_dz_m"] = float(np.sqrt(np.mean(e ** 2)))
        out["bias_dz_m"] = float(np.mean(e))
    return out


def _plane_rmse(d: np.ndarray, east_km: np.ndarray, north_km: np.ndarray) -> float:
    A = np.column_stack([np.ones_like(d), east_km, north_km])
    coef, *_ = np.linalg.lstsq(A, d, rcond=None)
    return float(np.sqrt(np.mean((d - A @ coef) ** 2)))


def velocity_metrics(v: np.ndarray, idx: np.ndarray, truth: _Truth) -> dict[str, Any] | None:
    """RMSE of the velocity ``v`` (mm/yr) of pixels with truth index ``idx`` (-1 = none)."""
    vt = truth.get("v_mean_mm_yr")
    if vt is None:
        return None
    v = np.asarray(v, dtype=np.float64).ravel()
    ok = (idx >= 0) & np.isfinite(v)
    out: dict[str, Any] = {"n": int(ok.sum()), "n_not_finite": int(np.count_nonzero(~np.isfinite(v)))}
    if out["n"] < 3:
        return out
    ii = idx[ok]
    d = v[ok] - vt[ii]
    e, n = truth.get("east_m"), truth.get("north_m")
    tp = truth.is_ps[ii]
    out["offset_mm_yr"] = float(d.mean())
    out["rmse_mm_yr"] = float(np.sqrt(np.mean((d - d.mean()) ** 2)))
    if e is not None and n is not None:
        out["rmse_plane_mm_yr"] = _plane_rmse(d, e[ii] / 1000, n[ii] / 1000)
    out["n_true_ps"] = int(tp.sum())
    if tp.sum() >= 3:
        dt = d[tp]
        out["rmse_true_ps_mm_yr"] = float(np.sqrt(np.mean((dt - dt.mean()) ** 2)))
        if e is not None and n is not None:
            out["rmse_plane_true_ps_mm_yr"] = _plane_rmse(dt, e[ii][tp] / 1000, n[ii][tp] / 1000)
    return out


def _wavelength(run: Path, truth_npz: Path) -> tuple[float | None, str]:
    p = _load(run / "parms.mat", ["lambda"])
    if p is not None and np.size(p["lambda"]) == 1:
        return float(np.ravel(p["lambda"])[0]), "parms.mat"
    f = run / "lambda.1.in"
    if f.is_file():
        try:
            return float(f.read_text().split()[0]), "lambda.1.in"
        except (ValueError, IndexError):
            pass
    j = truth_npz.with_suffix(".json")
    if j.is_file():
        try:
            return float(json.loads(j.read_text())["wavelength_m"]), j.name
        except (ValueError, KeyError, TypeError):
            pass
    return None, "none found"


# ----------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------

def score_run(run: Path, truth_npz: Path) -> dict[str, Any]:
    """Score the run tree ``run`` against ``truth_npz``; see the module docstring.

    Returns ``{"run", "truth", "wavelength_m", "wavelength_source", "truth_counts",
    "selection": {step: {...}}, "dem_error": {step: {...}}, "velocity": {source: {...}},
    "notes": [...]}`` (JSON-able; NaN written as ``None``).
    """
    run, truth_npz = Path(run), Path(truth_npz)
    if not run.is_dir():
        raise InputError(f"run tree {run} is not a directory")
    truth = _Truth(truth_npz)
    lam, lam_src = _wavelength(run, truth_npz)
    notes: list[str] = []
    selection: dict[str, Any] = {}
    dem: dict[str, Any] = {}
    sources = {"stage2": "pm1.K_ps (all candidates)", "stage3": "select1 ix(keep_ix) via ps1.ij",
               "stage4": "patch ps2.ij (pm2.K_ps)"}
    for step in ("stage2", "stage3", "stage4"):
        parts, why = _patch_sets(run, step)
        if parts is None:
            notes.append(f"{step}: not scored ({why})")
            continue
        keys, K = _union(parts)
        if step != "stage2":
            selection[step] = {"source": sources[step], **selection_metrics(keys, truth)}
        d = dem_metrics(keys, K, truth, lam)
        if d is not None:
            dem[step] = {"source": sources[step], **d}

    velocity: dict[str, Any] = {}
    ps2 = _load(run / "ps2.mat", ["ij"])
    if ps2 is None:
        notes.append("merged: no root ps2.mat")
    else:
        keys = _ij_keys(ps2["ij"])
        n = keys.size
        selection["merged"] = {"source": "root ps2.ij", **selection_metrics(keys, truth)}
        pm2 = _load(run / "pm2.mat", ["K_ps"])
        if pm2 is not None and np.size(pm2["K_ps"]) == n:
            d = dem_metrics(keys, np.ravel(pm2["K_ps"]), truth, lam)
            if d is not None:
                dem["merged"] = {"source": "root pm2.K_ps", **d}
        idx = truth.index(keys)
        mv = _load(run / "mean_v.mat", ["m"])
        if mv is None:
            notes.append("mean_v: no root mean_v.mat")
        elif lam is None:
            notes.append("mean_v: wavelength unknown")
        elif np.shape(mv["m"]) != (2, n):
            notes.append(f"mean_v: m has shape {list(np.shape(mv['m']))}, expected [2, {n}]")
        else:
            rate = np.asarray(mv["m"], dtype=np.float64)[1]
            v = -rate * 365.25 / (4 * math.pi) * lam * 1000.0
            m = velocity_metrics(v, idx, truth)
            if m is not None:
                velocity["mean_v"] = {"source": "mean_v.mat m(2,:)", **m}
        for f in sorted(run.glob("ps_plot_v*.mat")):
            typ = f.stem[len("ps_plot_"):]
            pd = _load(f, ["ph_disp"])
            if pd is None or np.shape(pd["ph_disp"]) != (n, 1):
                notes.append(f"{typ}: {f.name} has no ph_disp of shape [{n}, 1]")
                continue
            m = velocity_metrics(np.ravel(pd["ph_disp"]), idx, truth)
            if m is not None:
                velocity[typ] = {"source": f"{f.name} ph_disp", **m}
    if truth.get("v_mean_mm_yr") is None:
        notes.append("velocity: truth has no v_mean_mm_yr")
    return _jsonable({
        "run": str(run), "truth": str(truth_npz),
        "wavelength_m": lam, "wavelength_source": lam_src,
        "truth_counts": {"candidates": int(truth.is_ps.size), "true_ps": int(truth.is_ps.sum())},
        "selection": selection, "dem_error": dem, "velocity": velocity, "notes": notes,
    })


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return None if math.isnan(f) else f
    return x


def _f(x: Any, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def format_score(d: dict[str, Any]) -> str:
    """A short terminal summary of :func:`score_run`'s result."""
    tc = d["truth_counts"]
    lines = [f"score of {d['run']}", f"  truth: {d['truth']} ({tc['candidates']} candidates, "
                                     f"{tc['true_ps']} true PS); lambda {d['wavelength_m']} m "
                                     f"({d['wavelength_source']})"]
    if d["selection"]:
        lines += ["", f"{'selection':10} {'selected':>9} {'TP':>6} {'FP':>6} {'FN':>6} "
                      f"{'precision':>9} {'recall':>7} {'F1':>6}  source"]
        for step, s in d["selection"].items():
            lines.append(f"{step:10} {s['n_selected']:9d} {s['tp']:6d} {s['fp']:6d} {s['fn']:6d} "
                         f"{_f(s['precision']):>9} {_f(s['recall']):>7} {_f(s['f1']):>6}  {s['source']}")
    if d["dem_error"]:
        lines += ["", f"{'DEM error':10} {'true PS':>9} {'RMSE K (rad/m)':>15} {'RMSE dz (m)':>12} "
                      f"{'bias dz (m)':>12}  source"]
        for step, s in d["dem_error"].items():
            lines.append(f"{step:10} {s['n_valid']:9d} {_f(s.get('rmse_K_rad_per_m'), '.3e'):>15} "
                         f"{_f(s.get('rmse_dz_m')):>12} {_f(s.get('bias_dz_m')):>12}  {s['source']}")
    if d["velocity"]:
        lines += ["", f"{'velocity':10} {'PS':>6} {'offset':>8} {'RMSE':>7} {'RMSE-plane':>10} "
                      f"{'RMSE(true PS)':>13} {'plane(true)':>11}   mm/yr"]
        for typ, s in d["velocity"].items():
            lines.append(f"{typ:10} {s['n']:6d} {_f(s.get('offset_mm_yr')):>8} {_f(s.get('rmse_mm_yr')):>7} "
                         f"{_f(s.get('rmse_plane_mm_yr')):>10} {_f(s.get('rmse_true_ps_mm_yr')):>13} "
                         f"{_f(s.get('rmse_plane_true_ps_mm_yr')):>11}")
        lines.append("  (velocities are relative to the reference: RMSE after removing the mean offset; "
                     "'RMSE-plane' also removes a planar trend, the fair measure for '-o' deramped types)")
    for n in d["notes"]:
        lines.append(f"note: {n}")
    return "\n".join(lines)
