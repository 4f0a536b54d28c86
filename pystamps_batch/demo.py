"""``pystamps demo``: a small synthetic scene, the pipeline as far as it runs, a summary.

The main job on an embedded default: generate a single-patch scene with ground truth,
run stages 1..end_step, then print the run report, the status table and the score
against the truth.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from .config import RunConfig


def run_demo(out: Path, cfg: RunConfig, *, end_step: int = 8, seed: int = 1,
             log: Callable[[str], None] = print) -> int:
    from .cli import _format_results
    from .dataset.layout import open_dataset
    from .runner import Runner
    from .score import format_score, score_run
    from .status import collect_status, format_status
    from .synth import generate

    ds_dir = out / "dataset"
    if ds_dir.exists():
        shutil.rmtree(ds_dir)
    log(f"demo: generating a synthetic scene in {ds_dir} (seed {seed})")
    summary = generate(ds_dir, seed=seed)
    log(f"demo: {summary.get('n_cand', '?')} candidates, {summary.get('n_ifg', '?')} interferograms")
    ds = open_dataset(ds_dir, strict=True)
    results = Runner(ds, cfg, log=log).run(1, end_step)
    print(_format_results(results))
    print()
    print(format_status(collect_status(open_dataset(ds_dir))))
    print()
    print(format_score(score_run(ds_dir, ds_dir / "truth.npz")))
    failed = [r for r in results if r.status == "failed"]
    if failed:
        print(f"\ndemo: {len(failed)} unit(s) failed; first: {failed[0].details.get('error')}")
        return 1
    return 0
