"""``pystamps status``: which stage artifacts exist per patch and at the merged level."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .dataset.layout import Dataset
from .io.matfile import MatFileError, load_mat, mat_path


def _stage_state(oracle, unit) -> dict[str, Any]:
    s = unit.spec
    present = [n for n in s.writes if mat_path(unit.folder, n).is_file()]
    st = oracle.state(unit)
    return {"stage": s.stage, "label": s.label, "function": s.name, "complete": st.complete,
            "state": st.status, "reason": st.reason,
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


def collect_status(ds: Dataset, cfg=None) -> dict[str, Any]:
    from .config import RunConfig
    from .runner import StateOracle

    oracle = StateOracle(ds, cfg or RunConfig())
    by_target: dict[str, list] = {}
    for u in oracle.every:
        by_target.setdefault(u.target if u.spec.scope == "patch" else "", []).append(u)
    patches = []
    for p in ds.patches:
        states = [_stage_state(oracle, u) for u in by_target.get(p.name, [])]
        patches.append({
            "patch": p.name,
            "exists": p.path.is_dir(),
            "candidates": p.n_cand,
            "ps_after_stage1": _n_ps(p.path, "ps1"),
            "ps_after_stage4": _n_ps(p.path, "ps2"),
            "stage": _last_complete(states),
            "stages": states,
        })
    mstates = [_stage_state(oracle, u) for u in by_target.get("", [])]
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


def _mark(s: dict[str, Any]) -> str:
    if s["complete"]:
        return "x"
    if s["state"] in ("stale", "interrupted"):
        return "!"
    return "~" if s["present"] else "."


def format_status(st: dict[str, Any]) -> str:
    lines = [f"dataset  {st['dataset']}",
             f"flavour  {st['flavour']}   size {st['width']} x {st['length']} px   "
             f"master {st['master_day']}   {st['n_ifg']} ifgs   patches from {st['patch_list']}",
             ""]
    hdr = f"{'patch':<12}{'candidates':>11}{'stage1 PS':>10}{'weeded PS':>10}  {'done':<5} stages 1 2 3 4 5a"
    lines.append(hdr)
    for p in st["patches"]:
        marks = " ".join(_mark(s) for s in p["stages"])
        f = lambda v: "-" if v is None else str(v)
        lines.append(f"{p['patch']:<12}{f(p['candidates']):>11}{f(p['ps_after_stage1']):>10}"
                     f"{f(p['ps_after_stage4']):>10}  {p['stage']:<5} {'':6} {marks}")
    m = st["merged"]
    marks = " ".join(_mark(s) for s in m["stages"])
    lines.append("")
    lines.append(f"{'merged':<12}{st['candidates']:>11}{'':>10}{('-' if m['ps'] is None else m['ps']):>10}  "
                 f"{m['stage']:<5} stages 5b 6 7 8: {marks}")
    lines.append("(x complete, ! stale or interrupted, ~ partial, . absent; "
                 "'done' = last stage of an unbroken complete run)")
    notes = [f"  {p['patch']} stage {s['label']}: {s['state']}: {s['reason']}" for p in st["patches"]
             for s in p["stages"] if s["state"] in ("stale", "interrupted")]
    notes += [f"  merged stage {s['label']}: {s['state']}: {s['reason']}" for s in m["stages"]
              if s["state"] in ("stale", "interrupted")]
    if notes:
        lines.append("needs a rerun:")
        lines.extend(notes)
    return "\n".join(lines)
