"""``pystamps status``: which stage artifacts exist per patch and at the merged level."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .dataset.artifacts import MERGED_STAGES, PATCH_STAGES, StageSpec
from .dataset.layout import Dataset
from .io.matfile import MatFileError, load_mat, mat_path


def _stage_state(folder: Path, s: StageSpec) -> dict[str, Any]:
    present = [n for n in s.writes if mat_path(folder, n).is_file()]
    return {"stage": s.stage, "label": s.label, "function": s.name,
            "complete": len(present) == len(s.writes),
            "present": present, "missing": [n for n in s.writes if n not in present]}


def _n_ps(folder: Path, name: str) -> int | None:
    p = mat_path(folder, name)
    if not p.is_file():
        return None
    try:
        return int(load_mat(p, ["n_ps"])["n_ps"].ravel()[0])
    except (MatFileError, KeyError, IndexError, ValueError):
        return None


def _last_complete(states: list[dict[str, Any]], before: int = 0) -> int:
    """Highest stage reached by an unbroken run of complete stages (0 = none)."""
    last = before
    for s in states:
        if not s["complete"]:
            break
        last = s["stage"]
    return last


def collect_status(ds: Dataset) -> dict[str, Any]:
    patches = []
    for p in ds.patches:
        states = [_stage_state(p.path, s) for s in PATCH_STAGES]
        patches.append({
            "patch": p.name,
            "exists": p.path.is_dir(),
            "candidates": p.n_cand,
            "ps_after_stage1": _n_ps(p.path, "ps1"),
            "ps_after_stage4": _n_ps(p.path, "ps2"),
            "stage": _last_complete(states),
            "stages": states,
        })
    mstates = [_stage_state(ds.root, s) for s in MERGED_STAGES]
    patch_stage = min((p["stage"] for p in patches), default=0)
    merged_stage = _last_complete(mstates) if patch_stage >= 5 or not patches else 0
    if merged_stage == 0 and all(s["complete"] for s in mstates[:1]):
        merged_stage = _last_complete(mstates)   # merged outputs without patch ones (a results-only tree)
    return {
        "dataset": str(ds.root.resolve()),
        "flavour": ds.flavour,
        "width": ds.width,
        "length": ds.length,
        "master_day": ds.master_day,
        "n_ifg": ds.n_ifg,
        "patch_list": ds.patch_list_source,
        "candidates": sum(p.n_cand or 0 for p in ds.patches),
        "patches": patches,
        "merged": {"stage": merged_stage, "ps": _n_ps(ds.root, "ps2"), "stages": mstates},
    }


def format_status(st: dict[str, Any]) -> str:
    lines = [f"dataset  {st['dataset']}",
             f"flavour  {st['flavour']}   size {st['width']} x {st['length']} px   "
             f"master {st['master_day']}   {st['n_ifg']} ifgs   patches from {st['patch_list']}",
             ""]
    hdr = f"{'patch':<12}{'candidates':>11}{'stage1 PS':>10}{'weeded PS':>10}  {'done':<5} stages 1 2 3 4 5a"
    lines.append(hdr)
    for p in st["patches"]:
        marks = " ".join("x" if s["complete"] else ("~" if s["present"] else ".") for s in p["stages"])
        f = lambda v: "-" if v is None else str(v)
        lines.append(f"{p['patch']:<12}{f(p['candidates']):>11}{f(p['ps_after_stage1']):>10}"
                     f"{f(p['ps_after_stage4']):>10}  {p['stage']:<5} {'':6} {marks}")
    m = st["merged"]
    marks = " ".join("x" if s["complete"] else ("~" if s["present"] else ".") for s in m["stages"])
    lines.append("")
    lines.append(f"{'merged':<12}{st['candidates']:>11}{'':>10}{('-' if m['ps'] is None else m['ps']):>10}  "
                 f"{m['stage']:<5} stages 5b 6 7 8: {marks}")
    lines.append("(x complete, ~ partial, . absent; 'done' = last stage of an unbroken complete run)")
    return "\n".join(lines)
