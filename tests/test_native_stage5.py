"""Stage 5 in Rust against the Python stages and the Python driver.

* 5a (``ps_correct_phase``, ``_native.stage5a_correct``) per patch and 5b
  (``ps_merge_patches`` + ``ps_calc_ifg_std``, ``_native.stage5b_merge``) on a synthetic
  multi-patch dataset processed to stage 5 by the Python runner: every output variable
  must have the same name, order, shape, dtype and value bit for bit (NaN == NaN).  The
  arithmetic is the Python stage's operation by operation (f32 argument, cos/sin/atan2/
  hypot in f64 rounded once, unfused f32 complex products, sequential f32 sums), so no
  tolerance is needed.
* 5b variants: an empty (no-PS) patch, a single patch, lon/lat duplicates across patches,
  no heading, and patches carrying phuw2/scla2/scn2 (the overlap-offset paths).
* The standalone runner: ``pystamps-native run --native-only`` stages 1-5 against
  ``pystamps run`` 1-5 on fresh copies of the same dataset, ``verify --profile strict
  --through-stage 5`` and every artifact equal bit for bit.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from datasets import MULTI, synth_dataset
from pystamps_batch.dataset.layout import open_dataset
from pystamps_batch.kernels.registry import native_available
from pystamps_batch.parameters_io import load_params
from pystamps_batch.stages import correct, ifgstd, merge
from native_bin import native
from test_native_stage3 import assert_same_artifact, make_dataset, patch_inputs

pytestmark = pytest.mark.skipif(not native_available()[0], reason="native extension not built")


@pytest.fixture(scope="module")
def stage5(tmp_path_factory):
    return make_dataset("multi", tmp_path_factory, 5)


def assert_same_outputs(py: dict, rs: dict, where=""):
    assert list(rs) == list(py), where
    for name in py:
        assert_same_artifact(py[name], rs[name], where=f"{where}{name}.")


def test_stage5a_matches_python(stage5):
    from pystamps_batch import _native
    patches = sorted(p for p in stage5.glob("PATCH_*") if (p / "ps2.mat").is_file())
    assert len(patches) == 4
    for folder in patches:
        inp = patch_inputs(folder, correct)
        log: list[str] = []
        py = correct.run(inp, load_params(stage5, folder), None, log=log.append)
        rs, rs_log = _native.stage5a_correct(inp)
        assert_same_outputs(py, rs, where=f"{folder.name}: ")
        assert rs_log == log
        assert np.asarray(py["rc2"]["ph_rc"]).shape[0] > 0
    # inconsistent shapes and a bad master index are errors, not panics
    inp = patch_inputs(patches[0], correct)
    with pytest.raises(ValueError, match="inconsistent"):
        _native.stage5a_correct(dict(inp, bp2={"bperp_mat": np.asarray(inp["bp2"]["bperp_mat"])[:, :-1]}))
    with pytest.raises(ValueError, match="master_ix"):
        _native.stage5a_correct(dict(inp, ps2=dict(inp["ps2"], master_ix=np.array([[99.0]]))))


def python_5b(patches, params):
    log: list[str] = []
    out = merge.run(patches, params, None, log=log.append)
    out.update(ifgstd.run(out, params, None, log=log.append))
    return out, log


def assert_5b_same(patches, params, where=""):
    from pystamps_batch import _native
    py, log = python_5b(patches, params)
    rs, rs_log = _native.stage5b_merge(patches, float(params.get("heading", np.nan)))
    assert_same_outputs(py, rs, where)
    assert rs_log == log, where
    return py


def test_stage5b_matches_python(stage5):
    ds = open_dataset(stage5)
    params = load_params(stage5, stage5)
    patches = merge.collect_patches(ds)
    py = assert_5b_same(patches, params, "multi: ")
    n = int(py["ps2"]["n_ps"][0, 0])
    assert n > 0 and n < sum(p.n_ps() for p in patches)       # the overlaps were merged
    # the runner's root files are these arrays too
    from pystamps_batch.io.matfile import load_mat
    for art in ("ps2", "rc2", "ifgstd2"):
        f = load_mat(stage5 / f"{art}.mat")
        for k, v in py[art].items():
            np.testing.assert_array_equal(np.asarray(f[k]), np.asarray(v), err_msg=f"{art}.{k}")


def test_stage5b_variants(stage5):
    ds = open_dataset(stage5)
    params = load_params(stage5, stage5)
    patches = merge.collect_patches(ds)
    # one empty patch, a single patch, no heading
    empty = [merge.PatchArrays(patches[0].name, (0, 0, 0, 0), {}, empty=True)] + patches[1:]
    assert_5b_same(empty, params, "empty first: ")
    assert_5b_same(patches[2:3], params, "single: ")
    assert_5b_same(patches, params.replace(heading=float("nan")), "no heading: ")
    # lon/lat duplicates: copy some lon/lat of patch 1 onto pixels of patch 2
    dup = [merge.PatchArrays(p.name, p.noover, {a: dict(v) for a, v in p.arrays.items()}) for p in patches]
    ll1 = np.asarray(dup[1].arrays["ps2"]["lonlat"]).copy()
    ll0 = np.asarray(dup[0].arrays["ps2"]["lonlat"])
    k = min(len(ll0), len(ll1), 30)
    ll1[:k:3] = ll0[:k:3]
    dup[1].arrays["ps2"]["lonlat"] = ll1
    py = assert_5b_same(dup, params, "duplicates: ")
    assert "scla2" not in py
    # phuw2 / scla2 / scn2 on every patch: the offset paths (2*pi-rounded and plain means)
    rng = np.random.default_rng(5)
    extra = []
    for p in patches:
        n, N = np.asarray(p.arrays["ph2"]["ph"]).shape
        arrs = {a: dict(v) for a, v in p.arrays.items()}
        arrs["phuw2"] = {"ph_uw": (rng.standard_normal((n, N)) * 9).astype(np.float32)}
        arrs["scla2"] = {"ph_scla": rng.standard_normal((n, N)).astype(np.float32),
                         "K_ps_uw": rng.standard_normal((n, 1)), "C_ps_uw": rng.standard_normal((n, 1)),
                         "ifg_vcm": np.eye(2)}
        arrs["scn2"] = {"ph_scn_slave": rng.standard_normal((n, N)).astype(np.float32)}
        extra.append(merge.PatchArrays(p.name, p.noover, arrs))
    py = assert_5b_same(extra, params, "phuw/scla/scn: ")
    assert "phuw2" in py and "scla2" not in py          # overlap copies were removed: no scla2/scn2
    # no pixel removed (the first patch's window covers all, the others have none), so
    # scla2/scn2 are written, with the plain-mean offsets over the shared pixels
    norm = [merge.PatchArrays(p.name, (1, 10**6, 1, 10**6) if i == 0 else (1, 0, 1, 0), p.arrays)
            for i, p in enumerate(extra)]
    py = assert_5b_same(norm, params, "no removal: ")
    assert {"phuw2", "scla2", "scn2"} <= set(py) and "ifg_vcm" in py["scla2"]
    # phuw2 on one patch only: zeros for the others
    some = [merge.PatchArrays(p.name, p.noover, dict(p.arrays)) for p in patches]
    some[1].arrays = dict(some[1].arrays, phuw2=extra[1].arrays["phuw2"])
    assert "phuw2" in assert_5b_same(some, params, "one phuw2: ")


def test_stage5b_errors(stage5):
    from pystamps_batch import _native
    patches = merge.collect_patches(open_dataset(stage5))
    with pytest.raises(ValueError, match="no patch has any PS"):
        _native.stage5b_merge([merge.PatchArrays("P", (0, 0, 0, 0), {}, empty=True)], 0.0)
    bad = [merge.PatchArrays(p.name, p.noover, {a: dict(v) for a, v in p.arrays.items()}) for p in patches]
    bad[1].arrays["la2"]["la"] = np.asarray(bad[1].arrays["la2"]["la"])[:-1]
    with pytest.raises(ValueError, match="la2.la has"):
        _native.stage5b_merge(bad, 0.0)


def test_runner_stages_1_to_5_equal_python(native_bin, tmp_path_factory):
    from pystamps_batch.io.matfile import load_mat
    from pystamps_batch.verify import verify_trees

    base = tmp_path_factory.mktemp("n5") / "base"
    synth_dataset(tmp_path_factory, base, **MULTI)
    py_ds, rs_ds = base.parent / "py", base.parent / "rs"
    shutil.copytree(base, py_ds)
    shutil.copytree(base, rs_ds)
    r = subprocess.run([sys.executable, "-m", "pystamps_batch.cli", "run", "--dataset", str(py_ds),
                        "--start-step", "1", "--end-step", "5", "--no-mpi"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    r = native(native_bin, "run", "--native-only", "--dataset", str(rs_ds), "--start-step", "1", "--end-step", "5",
               "--backend", "native", "--stage2-kernel-backend", "native", "--cpu-workers", "0",
               "--stage2-native-threads", "0")
    assert "[merged 5b] completed in" in r.stderr or "5b] completed in" in r.stderr, r.stderr[-2000:]
    rep = verify_trees(rs_ds, py_ds, profile="strict", through_stage=5)
    assert rep["ok"], rep
    files = sorted(py_ds.glob("*.mat")) + sorted(py_ds.glob("PATCH_*/*.mat"))
    assert any(f.name == "ifgstd2.mat" for f in files) and any(f.name == "rc2.mat" for f in files)
    for f in files:
        a, b = load_mat(f), load_mat(rs_ds / f.relative_to(py_ds))
        assert set(a) == set(b), f
        for k in a:
            x, y = np.asarray(a[k]), np.asarray(b[k])
            if x.dtype.kind in "US":
                continue
            assert x.dtype == y.dtype and x.shape == y.shape, (f, k)
            np.testing.assert_array_equal(x, y, err_msg=f"{f.relative_to(py_ds)}:{k}")
    # a second native run skips everything (markers shared with the Python driver's format)
    r = native(native_bin, "run", "--native-only", "--dataset", str(rs_ds), "--start-step", "1", "--end-step", "5",
               "--json")
    import json
    assert {u["status"] for u in json.loads(r.stdout)} == {"skipped_existing"}


def test_runner_stage5_on_golden_matches_stamps(native_bin, tmp_path):
    """Native stages 1-5 on the multi-patch golden input: scientific parity with StaMPS
    through the merge (ps2 set, ph_rc, ifg_std ...), stage 1 strict."""
    from golden import golden_dir
    from pystamps_batch.verify import verify_trees

    g = golden_dir("multi-2x2")
    ds = tmp_path / "ds"
    shutil.copytree(g / "input", ds)
    for p in ds.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    native(native_bin, "run", "--native-only", "--dataset", str(ds), "--start-step", "1", "--end-step", "5")
    assert (ds / "ifgstd2.mat").is_file() and (ds / "PATCH_1" / "rc2.mat").is_file()
    assert verify_trees(ds, g / "stamps", profile="strict", through_stage=1)["ok"]
    assert verify_trees(ds, g / "stamps", profile="scientific", through_stage=5)["ok"]
