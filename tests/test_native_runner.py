"""The standalone native runner (`pystamps-native run` / `status` / `mat-roundtrip`) against
the Python driver: the same status JSON, the same dry-run plans, MAT files that load through
scipy with the same dtypes and shapes, completion markers each runner accepts from the other,
and native stages 1-2 strictly equal to the Python stages (issue 11).

The binary is target/release/pystamps-native, built here once per session when missing or
older than its sources (skipped only when cargo is not installed).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import MULTI, synth_dataset
from golden import golden_root

from native_bin import REPO, native


def py(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "pystamps_batch.cli", *args], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    if check:
        assert r.returncode == 0, f"pystamps {' '.join(args)}: rc {r.returncode}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def python_12(tmp_path_factory) -> Path:
    """A multi-patch dataset after Python stages 1-2 (read-only for the tests)."""
    ds = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nr") / "py", **MULTI)
    py("run", "--dataset", str(ds), "--start-step", "1", "--end-step", "2", "--no-mpi")
    return ds


@pytest.fixture(scope="module")
def native_12(tmp_path_factory, native_bin) -> tuple[Path, subprocess.CompletedProcess]:
    """The same dataset after native stages 1-2."""
    ds = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nr") / "rs", **MULTI)
    r = native(native_bin, "run", "--native-only", "--dataset", str(ds), "--start-step", "1", "--end-step", "2",
               "--backend", "native", "--stage2-kernel-backend", "native", "--cpu-workers", "0",
               "--stage2-native-threads", "0", "--json")
    return ds, r


# ----------------------------------------------------------------------------------------
# status and plans
# ----------------------------------------------------------------------------------------
def _status_both(bin_: Path, ds: Path, *extra: str):
    a = json.loads(py(*extra, "status", "--dataset", str(ds), "--json").stdout)
    b = json.loads(native(bin_, *extra, "status", "--dataset", str(ds), "--json").stdout)
    return a, b


def test_status_fresh_and_after_python_stages(native_bin, python_12, tmp_path_factory):
    fresh = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nr") / "fresh", **MULTI)
    a, b = _status_both(native_bin, fresh)
    assert a == b
    a, b = _status_both(native_bin, python_12)
    assert a == b
    assert [p["stage"] for p in b["patches"]] == [2, 2, 2, 2]
    assert all(p["ps_after_stage1"] == p["candidates"] for p in b["patches"])
    # the table too
    ta = py("status", "--dataset", str(python_12)).stdout
    tb = native(native_bin, "status", "--dataset", str(python_12)).stdout
    assert ta == tb


def test_status_stale_and_interrupted(native_bin, python_12, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(python_12, ds)
    (ds / "PATCH_2" / ".pystamps" / "stage-2.running").write_text("{}")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stamps:\n  clap_win: 16\n")
    a, b = _status_both(native_bin, ds, "--config", str(cfg))
    assert a == b
    states = {(p["patch"], s["label"]): (s["state"], s["reason"]) for p in b["patches"] for s in p["stages"]}
    assert states[("PATCH_2", "2")][0] == "interrupted"
    assert states[("PATCH_1", "2")] == ("stale", "parameter clap_win changed (32 -> 16)")


@pytest.mark.parametrize("rng,extra", [
    ((1, 8), ()), ((2, 4), ()), ((3, 8), ()), ((1, 2), ("--force",)), ((2, 3), ("--patch", "PATCH_3")),
    ((1, 5), ("--patch", "PATCH_1", "--patch", "PATCH_4", "--force")), ((6, 8), ()),
])
def test_dry_run_plan_equals_python(native_bin, python_12, rng, extra):
    args = ["--dataset", str(python_12), "--start-step", str(rng[0]), "--end-step", str(rng[1]), "--dry-run",
            "--json", *extra]
    a = json.loads(py("run", "--no-mpi", *args).stdout)
    b = json.loads(native(native_bin, "run", *args).stdout)
    assert a == b
    assert {r["status"] for r in b} <= {"planned", "skipped_existing"}


def test_dry_run_plan_with_config_and_upstream_rerun(native_bin, python_12, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("runtime:\n  cpu_workers: 1\nstamps:\n  clap_win: 16\n  weed_max_noise: inf\n")
    args = ["--dataset", str(python_12), "--start-step", "1", "--end-step", "4", "--dry-run", "--json"]
    a = json.loads(py("--config", str(cfg), "run", "--no-mpi", *args).stdout)
    b = json.loads(native(native_bin, "--config", str(cfg), "run", *args).stdout)
    assert a == b
    stage2 = [r for r in b if r["details"]["label"] == "2"]
    assert all(r["status"] == "planned" and "clap_win" in r["details"]["reason"] for r in stage2)
    # text tables too
    ta = py("--config", str(cfg), "run", "--no-mpi", *args[:-1]).stdout
    tb = native(native_bin, "run", "--config", str(cfg), *args[:-1]).stdout
    assert ta == tb


@pytest.mark.parametrize("text", [
    "runtime:\n  backend: fast\n", "runtime:\n  io_workers: 0\n", "foo: 1\n", "stamps:\n  nope: 1\n",
    "stamps:\n  clap_win: 1.5\n", "runtime:\n  kernel_backend_overrides:\n    nokernel: native\n", "- a\n- b\n",
    "runtime: [1\n", "runtime:\n  nokey: 1\n", "runtime:\n  patch_engine: gpu\n",
])
def test_config_errors_match_python(native_bin, python_12, tmp_path, text):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    a = py("--config", str(cfg), "status", "--dataset", str(python_12), check=False)
    b = native(native_bin, "--config", str(cfg), "status", "--dataset", str(python_12), check=False)
    assert a.returncode == b.returncode == 2
    ma = a.stderr.strip().removeprefix("pystamps: error: ")
    mb = b.stderr.strip().removeprefix("pystamps-native: error: ")
    if "not valid YAML" in ma:          # line numbers are the parsers' own
        assert "not valid YAML" in mb
    else:
        assert ma == mb


# ----------------------------------------------------------------------------------------
# MAT files
# ----------------------------------------------------------------------------------------
def _same(x: np.ndarray, y: np.ndarray) -> bool:
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.dtype.kind in "fc":
        return np.array_equal(x, y, equal_nan=True)
    return np.array_equal(x, y)


@pytest.mark.parametrize("compress", [False, True])
def test_mat_roundtrip_every_type(native_bin, tmp_path, compress):
    import scipy.io as sio

    from pystamps_batch.io.matfile import load_mat, save_mat

    rng = np.random.default_rng(0)
    v = {
        "d": rng.normal(size=(5, 3)), "s": rng.normal(size=(4, 1)).astype(np.float32),
        "c": (rng.normal(size=(3, 2)) + 1j * rng.normal(size=(3, 2))).astype(np.complex64),
        "z": rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)),
        "i": np.array([[-7], [0], [2**31 - 1]], dtype=np.int32), "u": np.array([[0, 1, 255]], dtype=np.uint8),
        "b": np.array([[True], [False], [True]]), "t": "P-square", "e": np.zeros((0, 0)),
        "x": np.array([[np.nan, np.inf, -np.inf]]), "g": rng.normal(size=(3, 4, 2)).astype(np.complex64),
    }
    src = tmp_path / "in.mat"
    if compress:
        sio.savemat(src, v, do_compression=True, oned_as="column")
    else:
        save_mat(src, v)                      # the Python side's writer
    out = tmp_path / "out.mat"
    native(native_bin, "mat-roundtrip", str(src), str(out))
    a, b = load_mat(src), load_mat(out)
    assert set(a) == set(b) == set(v)
    for k in v:
        assert _same(a[k], b[k]), (k, a[k].dtype, b[k].dtype, a[k].shape, b[k].shape)
    # what the Python side stores for a boolean is uint8, and so does the Rust writer
    assert b["b"].dtype == np.uint8 and b["t"].tolist() == ["P-square"]


def test_mat_roundtrip_octave_goldens(native_bin, tmp_path):
    from pystamps_batch.io.matfile import load_mat

    files = sorted(golden_root().glob("*/stamps/**/*.mat")) + sorted(golden_root().glob("*/input/parms.mat"))
    if not files:
        pytest.skip(f"no goldens under {golden_root()}")
    n = n_sparse = 0
    for f in files:
        out = tmp_path / "o.mat"
        native(native_bin, "mat-roundtrip", str(f), str(out))
        a, b = load_mat(f), load_mat(out)
        for k, x in a.items():
            if hasattr(x, "toarray"):       # sparse (uw_space_time.spread): read and written as sparse
                assert hasattr(b[k], "toarray") and b[k].shape == x.shape, (f, k)
                assert (b[k] != x).nnz == 0, (f, k)
                n_sparse += 1
                continue
            assert _same(np.asarray(x), b[k]), (f, k)
            n += 1
    assert n > 100 and n_sparse >= 4


def test_mat_reader_errors(native_bin, tmp_path):
    bad = tmp_path / "bad.mat"
    bad.write_bytes(b"not a mat file")
    r = native(native_bin, "mat-roundtrip", str(bad), str(tmp_path / "o.mat"), check=False)
    assert r.returncode == 2 and str(bad) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.mat").exists()


# ----------------------------------------------------------------------------------------
# native stages 1-2 against the Python driver
# ----------------------------------------------------------------------------------------
def test_native_stages_equal_python(native_12, python_12):
    from pystamps_batch.io.matfile import load_mat
    from pystamps_batch.verify import verify_trees

    ds, r = native_12
    rep = json.loads(r.stdout)
    assert [u["status"] for u in rep] == ["completed"] * 8
    assert set(rep[0]) == {"stage", "scope", "target", "status", "duration_sec", "details"}
    assert "[PATCH_1 1] ps_load_initial ... (missing ps1.mat" in r.stderr
    assert "[PATCH_1 2] completed in " in r.stderr
    assert verify_trees(ds, python_12, profile="strict", through_stage=2)["ok"]
    worst = {1: 0.0, 2: 0.0}
    for p in sorted(python_12.glob("PATCH_*/*.mat")):
        a, b = load_mat(p), load_mat(ds / p.relative_to(python_12))
        assert set(a) == set(b), p
        for k in a:
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, (p, k)
            if a[k].dtype.kind in "fc":
                d = np.abs(a[k].astype(np.complex128) - b[k].astype(np.complex128))
                st = 2 if p.stem == "pm1" else 1
                worst[st] = max(worst[st], float(np.nanmax(d)) if d.size else 0.0)
            else:
                assert np.array_equal(a[k], b[k]), (p, k)
    # stage 1: la1 differs by 2.2e-16 (summation order of the look-angle interpolation);
    # stage 2: float32 glue, at most a few float32 ulps (the strict profile above passed)
    assert worst[1] <= 1e-15, worst
    assert worst[2] <= 1e-5, worst


def test_python_accepts_native_markers_and_back(native_bin, native_12, tmp_path_factory):
    ds, _ = native_12
    rep = json.loads(py("run", "--no-mpi", "--dataset", str(ds), "--start-step", "1", "--end-step", "2",
                        "--json").stdout)
    assert {u["status"] for u in rep} == {"skipped_existing"}
    assert not any("note" in u["details"] for u in rep)      # real markers, not "foreign" artifacts
    # the other way: Python stage 1, then the native runner skips it and runs stage 2
    other = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nr") / "mixed", **MULTI)
    py("run", "--no-mpi", "--dataset", str(other), "--start-step", "1", "--end-step", "1")
    r = native(native_bin, "run", "--dataset", str(other), "--start-step", "1", "--end-step", "2", "--json")
    st = [(u["details"]["label"], u["status"]) for u in json.loads(r.stdout)]
    assert st == [("1", "skipped_existing"), ("2", "completed")] * 4
    a = json.loads(py("status", "--dataset", str(other), "--json").stdout)
    assert all(s["state"] == "complete" for p in a["patches"] for s in p["stages"][:2])


def test_missing_snaphu_fails_stage6_cleanly_and_a_rerun_resumes(native_bin, native_12, tmp_path):
    """Stage 6 without a usable snaphu: one line naming the cause, exit 1, no stage-6 file,
    no running marker; stages 1-5 kept; a rerun with snaphu does only stage 6 on."""
    ds = tmp_path / "ds"
    shutil.copytree(native_12[0], ds)
    env = dict(os.environ, PYSTAMPS_SNAPHU=str(tmp_path / "no-such-snaphu"))
    r = subprocess.run([str(native_bin), "run", "--native-only", "--dataset", str(ds), "--start-step", "1",
                        "--end-step", "6", "--json"], capture_output=True, text=True, env=env)
    assert r.returncode == 1, r.stderr[-2000:]
    units = {(u["target"], u["details"]["label"]): u for u in json.loads(r.stdout)}
    failed = [u for u in units.values() if u["status"] == "failed"]
    assert [u["details"]["label"] for u in failed] == ["6"]
    assert failed[0]["details"]["error"] == (f"snaphu executable not found: PYSTAMPS_SNAPHU="
                                             f"{tmp_path / 'no-such-snaphu'} does not exist")
    assert "Traceback" not in r.stderr and "panicked" not in r.stderr
    assert (ds / "rc2.mat").is_file() and not list(ds.glob("uw_*.mat")) and not (ds / "phuw2.mat").exists()
    assert not list((ds / ".pystamps").glob("*running*"))
    r2 = native(native_bin, "run", "--native-only", "--dataset", str(ds), "--start-step", "1", "--end-step", "6",
                "--json")
    st = [(u["details"]["label"], u["status"]) for u in json.loads(r2.stdout)]
    assert ("6", "completed") in st and all(s == "skipped_existing" for lab, s in st if lab != "6")
    r = native(native_bin, "run", "--dataset", str(ds), "--start-step", "3", "--end-step", "1", check=False)
    assert r.returncode == 2 and "invalid stage range" in r.stderr


def test_native_stages_3_4_equal_python(native_bin, python_12, tmp_path):
    """From the same stage-2 outputs, native stages 3-4 give the Python stages' files bit for bit."""
    from pystamps_batch.io.matfile import load_mat

    a, b = tmp_path / "py", tmp_path / "rs"
    shutil.copytree(python_12, a)
    shutil.copytree(python_12, b)
    pa = py("run", "--no-mpi", "--dataset", str(a), "--start-step", "3", "--end-step", "4")
    pb = native(native_bin, "run", "--native-only", "--dataset", str(b), "--start-step", "3", "--end-step", "4")
    strip = lambda t: [ln.split(" completed in ")[0] for ln in t.splitlines()]
    assert strip(pa.stderr) == strip(pb.stderr)          # the same per-unit log lines
    files = sorted(p.relative_to(a) for p in a.glob("PATCH_*/*.mat"))
    assert files == sorted(p.relative_to(b) for p in b.glob("PATCH_*/*.mat"))
    for f in files:
        x, y = load_mat(a / f), load_mat(b / f)
        assert set(x) == set(y), f
        for k in x:
            assert _same(x[k], y[k]), (f, k)
    st = json.loads(py("status", "--dataset", str(b), "--json").stdout)
    assert [p["stage"] for p in st["patches"]] == [4, 4, 4, 4]
    assert all(p["ps_after_stage4"] > 0 for p in st["patches"])


def test_rerun_stage1_invalidates_stage2(native_bin, native_12, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(native_12[0], ds)
    r = native(native_bin, "run", "--dataset", str(ds), "--start-step", "1", "--end-step", "1", "--force",
               "--patch", "PATCH_2", "--json")
    rep = json.loads(r.stdout)
    assert rep[0]["status"] == "completed" and rep[0]["details"]["removed"] == ["PATCH_2/pm1.mat"]
    a = json.loads(py("status", "--dataset", str(ds), "--json").stdout)
    p2 = next(p for p in a["patches"] if p["patch"] == "PATCH_2")
    assert p2["stage"] == 1 and p2["stages"][1]["state"] == "missing"


@pytest.mark.parametrize("name", ["small-1patch", "snap-1patch"])
def test_native_stages_on_golden_match_stamps(native_bin, tmp_path, name):
    """Native stages 1-4 on a golden input: stage 1 strict and stages 1-4 scientific against StaMPS."""
    from golden import golden_dir
    from pystamps_batch.verify import verify_trees

    g = golden_dir(name)
    ds = tmp_path / "ds"
    shutil.copytree(g / "input", ds)
    native(native_bin, "run", "--native-only", "--dataset", str(ds), "--start-step", "1", "--end-step", "4")
    assert verify_trees(ds, g / "stamps", profile="strict", through_stage=1)["ok"]
    assert verify_trees(ds, g / "stamps", profile="scientific", through_stage=4)["ok"]
    a, b = _status_both(native_bin, ds)            # both flavours: the same status and plan
    assert a == b and b["flavour"] == ("snap" if name.startswith("snap") else "doris")
    args = ["--dataset", str(ds), "--start-step", "1", "--end-step", "8", "--dry-run", "--json"]
    assert json.loads(py("run", "--no-mpi", *args).stdout) == json.loads(native(native_bin, "run", *args).stdout)


def test_parallel_patches_equal_sequential(native_bin, native_12, tmp_path_factory):
    ds = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nr") / "par", **MULTI)
    r = native(native_bin, "run", "--dataset", str(ds), "--start-step", "1", "--end-step", "2", "--patch-workers", "2",
               "--json")
    rep = json.loads(r.stdout)
    assert [(u["target"], u["details"]["label"]) for u in rep] == \
        [(f"PATCH_{i}", s) for i in range(1, 5) for s in ("1", "2")]
    from pystamps_batch.io.matfile import load_mat

    seq = native_12[0]
    for f in sorted(seq.glob("PATCH_*/*.mat")):
        x, y = load_mat(f), load_mat(ds / f.relative_to(seq))
        assert set(x) == set(y) and all(_same(x[k], y[k]) for k in x), f


@pytest.mark.parametrize("damage", ["truncate_ph", "extra_ij_line", "no_width"])
def test_bad_input_same_message_nothing_written(native_bin, tmp_path_factory, damage):
    ds = synth_dataset(tmp_path_factory, tmp_path_factory.mktemp("nr") / "bad", **MULTI)
    if damage == "truncate_ph":
        f = ds / "PATCH_3" / "pscands.1.ph"
        f.write_bytes(f.read_bytes()[:-8])
    elif damage == "extra_ij_line":
        with open(ds / "PATCH_2" / "pscands.1.ij", "a") as fh:
            fh.write("99999 1 2\n")
    else:
        (ds / "width.txt").unlink()
    before = sorted(p.relative_to(ds) for p in ds.rglob("*"))
    for dry in ((), ("--dry-run",)):
        a = py("run", "--no-mpi", "--dataset", str(ds), "--start-step", "1", "--end-step", "2", *dry, check=False)
        b = native(native_bin, "run", "--dataset", str(ds), "--start-step", "1", "--end-step", "2", *dry, check=False)
        assert a.returncode == b.returncode == 2
        assert a.stderr.strip().removeprefix("pystamps: error: ") == \
            b.stderr.strip().removeprefix("pystamps-native: error: ")
    assert sorted(p.relative_to(ds) for p in ds.rglob("*")) == before


def test_interrupted_unit_reruns_and_lock_refuses(native_bin, native_12, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(native_12[0], ds)
    (ds / "PATCH_1" / ".pystamps" / "stage-2.running").write_text("{}")
    (ds / "PATCH_1" / ".pm1.mat.123.0.tmp").write_bytes(b"half")      # a killed run's temporary
    r = native(native_bin, "run", "--dataset", str(ds), "--start-step", "1", "--end-step", "2", "--json")
    st = {(u["target"], u["details"]["label"]): u for u in json.loads(r.stdout)}
    assert st[("PATCH_1", "2")]["status"] == "completed"
    assert st[("PATCH_1", "2")]["details"]["reason"] == "a previous run stopped inside this stage"
    assert {u["status"] for k, u in st.items() if k != ("PATCH_1", "2")} == {"skipped_existing"}
    assert not (ds / "PATCH_1" / ".pm1.mat.123.0.tmp").exists()
    assert not (ds / "PATCH_1" / ".pystamps" / "stage-2.running").exists()
    # a live run's lock (this process) is respected, as by the Python runner
    lock = ds / ".pystamps" / "lock"
    lock.parent.mkdir(exist_ok=True)
    import socket
    import time
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                                "command": "run"}))
    r = native(native_bin, "run", "--dataset", str(ds), "--start-step", "1", "--end-step", "2", "--force",
               check=False)
    assert r.returncode == 2 and "holds the lock" in r.stderr
    assert lock.is_file()


@pytest.mark.parametrize("cmd", ["run", "status", "describe-backends", "self-test", "bench", "mat-roundtrip"])
def test_every_subcommand_has_help(native_bin, cmd):
    r = native(native_bin, cmd, "--help")
    assert r.stdout.startswith(f"usage: pystamps-native {cmd}"), r.stdout[:200]
    assert r.stderr == ""


def test_full_disk_refuses_with_one_line_and_a_rerun_resumes(native_bin, tmp_path):
    """A real small filesystem (tmpfs, needs root; skipped otherwise): the runner refuses
    each unit that would not fit with one line naming the folder and the MiB, writes
    nothing for it, and after the filesystem grows a rerun completes."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        from pystamps_batch.synth import generate
        generate(mnt / "ds", **MULTI)
        ds = mnt / "ds"
        before = sorted(p.relative_to(ds) for p in ds.rglob("*") if p.is_file())
        r = native(native_bin, "run", "--native-only", "--dataset", str(ds), "--start-step", "1", "--end-step", "2",
                   "--json", check=False)
        assert r.returncode == 1, r.stderr[-2000:]
        units = json.loads(r.stdout)
        failed = [u for u in units if u["status"] == "failed"]
        assert failed and all(u["details"]["label"] == "1" for u in failed)
        for u in failed:
            err = u["details"]["error"]
            assert "not enough free space for stage 1" in err and u["target"] in err and "MiB free" in err
            assert "\n" not in err
        assert {u["status"] for u in units if u["details"]["label"] == "2"} == {"blocked"}
        after = sorted(p.relative_to(ds) for p in ds.rglob("*") if p.is_file() and ".pystamps" not in p.parts)
        assert after == before                              # nothing written, no temporaries
        assert not list(ds.rglob("*.running"))
        assert subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], capture_output=True).returncode == 0
        r = native(native_bin, "run", "--native-only", "--dataset", str(ds), "--start-step", "1", "--end-step", "2",
                   "--json")
        assert {u["status"] for u in json.loads(r.stdout)} == {"completed"}
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
