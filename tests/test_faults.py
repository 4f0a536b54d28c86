"""Fault injection: kill -9 the runner at random points inside each stage, rerun, compare.

For each stage label (1 .. 8, 5a and 5b) and each seed, a run is started on a fresh
copy of a small generated dataset, killed with SIGKILL at a random moment after the
stage has started (uniform over the stage's duration in an uninterrupted run), then
rerun to the end. The final tree must pass ``verify --profile strict`` against the
uninterrupted run, and no temporary file may be left. Seeds: PYSTAMPS_FAULT_SEEDS
(default 1 per stage; CI can raise it).
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datasets import synth_dataset
from pystamps_batch.verify import verify_trees

DS = dict(width=500, length=500, n_cand=2500, n_ifg=8, seed=11)
LABELS = ["1", "2", "3", "4", "5a", "5b", "6", "7", "8"]
SEEDS = int(os.environ.get("PYSTAMPS_FAULT_SEEDS", "1"))
CMD = [sys.executable, "-m", "pystamps_batch.cli", "run", "--start-step", "1", "--end-step", "8", "--no-mpi"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("ref") / "ds", **DS)
    r = subprocess.run(CMD + ["--dataset", str(d), "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    durations = {u["details"]["label"]: u["duration_sec"] for u in json.loads(r.stdout)}
    return d, durations


def _kill_inside(d: Path, label: str, delay: float) -> bool:
    """Start a run, SIGKILL it `delay` s after stage `label` starts; True if it was killed."""
    p = subprocess.Popen(CMD + ["--dataset", str(d)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    marker = f" {label}] "
    try:
        for line in p.stderr:
            if marker in line and "..." in line:
                time.sleep(delay)
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
                return True
        p.wait(timeout=30)
        return False
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


@pytest.mark.parametrize("label", LABELS)
def test_kill_inside_stage_then_rerun(reference, tmp_path_factory, tmp_path, label):
    ref, durations = reference
    killed = 0
    for seed in range(SEEDS):
        d = synth_dataset(tmp_path_factory, tmp_path / f"run{seed}", **DS)
        # stage 1 files first so that the kill lands inside the requested stage's rerun
        rng = random.Random(f"{label}-{seed}")
        delay = rng.uniform(0, max(0.05, durations[label]))
        killed += _kill_inside(d, label, delay)
        r = subprocess.run(CMD + ["--dataset", str(d), "--json"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
        rep = verify_trees(d, ref, profile="strict", through_stage=8)
        assert rep["ok"], [f for f in rep["files"] if not f["ok"]][:3]
        leftovers = [p for p in d.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".running")]
        assert not leftovers, leftovers
    assert killed >= 1, "the run finished before the kill"
