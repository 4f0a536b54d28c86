"""The MPI driver with real MPI processes (mpiexec from the mpich wheel)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import sparse

from datasets import MULTI, synth_dataset
from pystamps_batch.io.matfile import load_mat

MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
PYSTAMPS = str(Path(sys.executable).parent / "pystamps")
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="mpiexec not available")
END = 8


def _run(cmd, env_extra=None, **kw):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run(cmd, capture_output=True, text=True, env=env, **kw)


def _same_tree(a: Path, b: Path) -> None:
    files = sorted(p.relative_to(a) for p in a.rglob("*.mat"))
    assert files, "no outputs"
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.mat"))
    for f in files:
        da, db = load_mat(a / f), load_mat(b / f)
        assert da.keys() == db.keys(), f
        for k in da:
            x, y = da[k], db[k]
            if sparse.issparse(x) or sparse.issparse(y):          # e.g. uw_space_time.mat:spread
                assert sparse.issparse(x) and sparse.issparse(y), f"{f}:{k}"
                x, y = x.toarray(), y.toarray()
            np.testing.assert_array_equal(x, y, err_msg=f"{f}:{k}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The dataset processed by a single process (stages 1..END)."""
    d = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("ref") / "ds", **MULTI)
    r = _run([PYSTAMPS, "run", "--dataset", str(d), "--start-step", "1", "--end-step", str(END), "--no-mpi"])
    assert r.returncode == 0, r.stderr[-2000:]
    return d


def test_two_ranks_equal_single_process_bit_for_bit(reference, tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    r = _run([MPIEXEC, "-n", "2", PYSTAMPS, "run", "--dataset", str(d), "--start-step", "1",
              "--end-step", str(END), "--json"], timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    units = json.loads(r.stdout)
    patch_units = [u for u in units if u["scope"] == "patch"]
    assert {u["details"]["rank"] for u in patch_units} == {0, 1}          # both ranks computed
    assert all(u["status"] == "completed" for u in patch_units)
    assert [u["target"] for u in patch_units] == sorted(u["target"] for u in patch_units)  # list order
    _same_tree(reference, d)


def test_failed_patch_does_not_stop_others(tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    ph = d / "PATCH_2" / "pscands.1.ph"
    a = np.fromfile(ph, "<c8")
    a[5] = np.nan
    a.tofile(ph)
    r = _run([MPIEXEC, "-n", "2", PYSTAMPS, "run", "--dataset", str(d), "--start-step", "1", "--end-step", "2",
              "--json"], timeout=900)
    assert r.returncode == 1, r.stderr[-2000:]
    units = json.loads(r.stdout)
    st = {(u["target"], u["stage"]): u["status"] for u in units}
    assert st[("PATCH_2", 1)] == "failed" and st[("PATCH_2", 2)] == "blocked"
    assert all(st[(p, s)] == "completed" for p in ("PATCH_1", "PATCH_3", "PATCH_4") for s in (1, 2))
    err = [u for u in units if u["status"] == "failed"][0]["details"]["error"]
    assert "pscands.1.ph" in err and "NaN" in err
    assert not (d / "PATCH_2" / "ps1.mat").exists()


def _rank_pids(rank: int) -> list[int]:
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            env = (p / "environ").read_bytes().split(b"\0")
            cmd = (p / "cmdline").read_bytes()
        except OSError:
            continue
        if b"pystamps" in cmd and f"PMI_RANK={rank}".encode() in env:
            pids.append(int(p.name))
    return pids


def test_killed_rank_ends_the_job_and_a_rerun_finishes(reference, tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    env = dict(os.environ, OMP_NUM_THREADS="1", PYSTAMPS_MPI_DEAD_AFTER="30")
    proc = subprocess.Popen([MPIEXEC, "-n", "2", PYSTAMPS, "run", "--dataset", str(d), "--start-step", "1",
                             "--end-step", str(END)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    # wait until a first patch has finished stage 1, then kill rank 1 (busy with its own patch)
    t0 = time.monotonic()
    victims = []
    while time.monotonic() - t0 < 120 and not victims:
        time.sleep(1.0)
        if any((d / p / "ps1.mat").exists() for p in ("PATCH_1", "PATCH_2", "PATCH_3", "PATCH_4")):
            victims = _rank_pids(1)
    assert victims, "rank 1 never started"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=180)                     # bounded: the job must end
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the MPI job hung after a rank was killed")
    assert proc.returncode != 0
    r = _run([PYSTAMPS, "run", "--dataset", str(d), "--start-step", "1", "--end-step", str(END), "--json",
              "--no-mpi"], timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    units = json.loads(r.stdout)
    statuses = [u["status"] for u in units]
    # only the missing work is redone: some patch work was kept, the rest (at least the merged
    # stages, which never ran) is completed now
    assert "skipped_existing" in [u["status"] for u in units if u["scope"] == "patch"]
    assert "completed" in statuses
    _same_tree(reference, d)


def test_native_patch_engine_equals_python_engine(reference, native_bin, tmp_path_factory, tmp_path):
    """runtime.patch_engine: native -- each rank runs its patches with pystamps-native, rank 0
    the merged stages: strict-equal to the single-process Python run, units marked."""
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    cfg = tmp_path / "native-engine.yaml"
    cfg.write_text("runtime:\n  patch_engine: native\n")
    r = _run([MPIEXEC, "-n", "2", PYSTAMPS, "--config", str(cfg), "run", "--dataset", str(d), "--start-step", "1",
              "--end-step", str(END), "--json"], timeout=900, env_extra={"PYSTAMPS_NATIVE": str(native_bin)})
    assert r.returncode == 0, r.stderr[-3000:]
    units = json.loads(r.stdout)
    patch_units = [u for u in units if u["scope"] == "patch"]
    assert len(patch_units) == 4 * 5 and all(u["status"] == "completed" for u in patch_units)
    assert all(u["details"].get("engine") == "pystamps-native" for u in patch_units)
    assert {u["details"]["rank"] for u in patch_units} == {0, 1}
    assert "per-patch engine: pystamps-native" in r.stderr
    v = _run([PYSTAMPS, "verify", "--run", str(d), "--golden", str(reference), "--profile", "strict"])
    assert v.returncode == 0, v.stdout[-3000:]


def test_native_patch_engine_refuses_python_kernels(tmp_path_factory, tmp_path, native_bin):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("runtime:\n  patch_engine: native\n  backend: python\n")
    r = _run([MPIEXEC, "-n", "2", PYSTAMPS, "--config", str(cfg), "run", "--dataset", str(d), "--start-step", "1",
              "--end-step", "2"], timeout=300, env_extra={"PYSTAMPS_NATIVE": str(native_bin)})
    assert r.returncode == 2
    assert "runtime.patch_engine: native runs native kernels only" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (d / "PATCH_1" / "ps1.mat").exists()
