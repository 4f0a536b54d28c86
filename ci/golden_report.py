#!/usr/bin/env python3
"""Process golden datasets from their inputs and report parity with StaMPS and accuracy vs truth.

    python ci/golden_report.py [--golden DIR] [--datasets small-1patch multi-2x2 ...]
                               [--backend python|native|auto] [--keep DIR] [--json FILE]

For each dataset: copy ``input/`` to scratch, run stages 1-8 (``pystamps run``), then measure
against the StaMPS outputs in ``stamps/``: stage-1 strict verify, stage-2 coh_ps
correlation and iterations, stage-3/4 set Jaccard (by az/rg), stage-5 set equality,
unwrapping whole-cycle disagreements, v-do RMS difference on common PS, precision/recall
and v-do RMSE against truth for both, verify --profile scientific, and the stage times
next to StaMPS' (octave_stage_times.tsv).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pystamps_batch.io.matfile import load_mat  # noqa: E402
from pystamps_batch.score import score_run  # noqa: E402
from pystamps_batch.verify import verify_trees  # noqa: E402


def ij_set(ps_path: Path, sel=None) -> set[tuple[int, int]]:
    ij = load_mat(ps_path)["ij"]
    if sel is not None:
        ij = ij[sel]
    return {(int(a), int(r)) for a, r in ij[:, 1:3]}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / max(1, len(a | b))


def select_set(folder: Path) -> set:
    s = load_mat(folder / "select1.mat")
    ix = s["ix"].ravel().astype(int) - 1
    keep = s["keep_ix"].ravel().astype(bool)
    return ij_set(folder / "ps1.mat", ix[keep])


def stamps_times(g: Path) -> dict[int, float]:
    out = {}
    for line in (g / "stamps" / "octave_stage_times.tsv").read_text().splitlines()[1:]:
        parts = line.split("\t")
        out[int(parts[0])] = float(parts[1])
    return out


def measure(name: str, golden: Path, work: Path, backend: str) -> dict:
    g = golden / name
    run = work / name
    if run.exists():
        shutil.rmtree(run)
    shutil.copytree(g / "input", run)
    for p in run.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    cfg = work / f"{backend}.yaml"
    cfg.write_text(f"runtime:\n  backend: {backend}\n  stage2_kernel_backend: {backend}\n")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pystamps_batch.cli", "--config", str(cfg), "run", "--dataset",
                        str(run), "--start-step", "1", "--end-step", "8", "--json", "--no-mpi"],
                       capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        return {"dataset": name, "error": r.stderr[-2000:]}
    units = json.loads(r.stdout)
    per_stage: dict[int, float] = {}
    for u in units:
        per_stage[u["stage"]] = per_stage.get(u["stage"], 0.0) + u["duration_sec"]
    st = g / "stamps"
    res: dict = {"dataset": name, "backend": backend, "wall_s": round(wall, 1),
                 "stage_s": {k: round(v, 2) for k, v in sorted(per_stage.items())},
                 "stamps_s": stamps_times(g)}
    patches = sorted(p.name for p in run.glob("PATCH_*"))
    corr, iters, j3, j4 = [], [], [], []
    for p in patches:
        a, b = load_mat(run / p / "pm1.mat"), load_mat(st / p / "pm1.mat")
        corr.append(float(np.corrcoef(a["coh_ps"].ravel(), b["coh_ps"].ravel())[0, 1]))
        iters.append((int(a["i_loop"].ravel()[0]), int(b["i_loop"].ravel()[0])))
        j3.append(jaccard(select_set(run / p), select_set(st / p)))
        j4.append(jaccard(ij_set(run / p / "ps2.mat"), ij_set(st / p / "ps2.mat")))
    res.update(coh_ps_corr_min=min(corr), iterations=iters, jaccard_stage3_min=min(j3),
               jaccard_stage4_min=min(j4))
    mine, ref = ij_set(run / "ps2.mat"), ij_set(st / "ps2.mat")
    res["merged_set_equal"] = mine == ref
    res["jaccard_merged"] = jaccard(mine, ref)
    # common PS: unwrapping cycles and v-do
    ija = load_mat(run / "ps2.mat")["ij"][:, 1:3].astype(int)
    ijb = load_mat(st / "ps2.mat")["ij"][:, 1:3].astype(int)
    ka = {tuple(x): i for i, x in enumerate(ija)}
    pairs = np.array([(ka[tuple(x)], j) for j, x in enumerate(ijb) if tuple(x) in ka])
    ua = load_mat(run / "phuw2.mat")["ph_uw"][pairs[:, 0]].astype(np.float64)
    ub = load_mat(st / "phuw2.mat")["ph_uw"][pairs[:, 1]].astype(np.float64)
    res["unwrap_cycle_disagreement"] = float(np.mean(np.abs(np.round((ua - ub) / (2 * np.pi))) > 0))
    va = load_mat(run / "ps_plot_v-do.mat")["ph_disp"].ravel()[pairs[:, 0]].astype(np.float64)
    vb = load_mat(st / "ps_plot_v-do.mat")["ph_disp"].ravel()[pairs[:, 1]].astype(np.float64)
    d = (va - vb) - np.mean(va - vb)
    res["v_do_rms_diff_mm_yr"] = float(np.sqrt(np.mean(d ** 2)))
    truth = g / "input" / "truth.npz"
    for label, tree in (("ours", run), ("stamps", st)):
        res[f"score_{label}"] = _score_summary(score_run(tree, truth))
    for prof in ("strict", "scientific"):
        rep = verify_trees(run, st, profile=prof, through_stage=1 if prof == "strict" else 8)
        res[f"verify_{prof}{'_stage1' if prof == 'strict' else ''}"] = rep["ok"]
    return res


def _score_summary(sc: dict) -> dict:
    sel = sc.get("selection", {})
    out = {f"{k}_precision_recall": (round(v["precision"], 4), round(v["recall"], 4)) for k, v in sel.items()}
    vdo = sc.get("velocity", {}).get("v-do")
    if vdo:
        out["v_do_rmse_plane_mm_yr"] = round(vdo["rmse_plane_mm_yr"], 3)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--golden", default=str(REPO.parent / "shared" / "golden"))
    ap.add_argument("--datasets", nargs="+", default=["small-1patch", "multi-2x2", "dense-1patch"])
    ap.add_argument("--backend", default="python", choices=("python", "native", "auto"))
    ap.add_argument("--keep", help="work folder to keep (default: a temporary one)")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args()
    work = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="pystamps-golden-"))
    work.mkdir(parents=True, exist_ok=True)
    results = [measure(n, Path(a.golden), work, a.backend) for n in a.datasets]
    print(json.dumps(results, indent=1, default=str))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
