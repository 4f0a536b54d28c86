"""Stage 3 (ps_select) in Rust (``_native.stage3_select``) against the Python stage.

Stages 1-2 are produced by the Python runner on a synthetic single-patch and multi-patch
dataset and on a copy of the small-1patch golden input; then, per patch, the Python stage
(with the native KernelSet, so the kernels are the same code) and the Rust stage run on
the same inputs and parameters.  The selected (``ix``) and kept (``keep_ix``) sets must be
identical and every variable equal, except the threshold variables (see ``LSQ_RTOL``).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import MULTI, SINGLE, synth_dataset
from golden import golden_dir
from pystamps_batch.config import RuntimeConfig
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet, native_available
from pystamps_batch.params import Params
from pystamps_batch.parameters_io import load_params
from pystamps_batch.stages import select

pytestmark = pytest.mark.skipif(not native_available()[0], reason="native extension not built")

#: coh_thresh / coh_thresh_coeffs come from least-squares fits (a cubic per D_A bin, a line
#: over the bins): NumPy solves them with LAPACK's SVD (gelsd), the Rust stage with a
#: Jacobi SVD, so they agree to rounding times the fit's condition number, not bit for bit
#: (measured: slope 9e-13 relative, per-pixel threshold 4e-15 relative, on 100k candidates
#: in 10 D_A bins whose means are close together).
LSQ_RTOL = 1e-10
INEXACT = {"coh_thresh", "coh_thresh_coeffs"}


def native_kernels() -> KernelSet:
    return KernelSet(RuntimeConfig(backend="native", stage2_kernel_backend="native"))


def make_dataset(kind: str, tmp_path_factory, end_step: int) -> Path:
    """A dataset with stages 1..end_step done by the Python runner (native kernels)."""
    root = tmp_path_factory.mktemp(f"nsel-{kind}") / "ds"
    if kind == "single":
        synth_dataset(tmp_path_factory, root, **SINGLE)
    elif kind == "multi":
        synth_dataset(tmp_path_factory, root, **MULTI)
    else:
        shutil.copytree(golden_dir("small-1patch") / "input", root)
        for p in root.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)
    r = subprocess.run([sys.executable, "-m", "pystamps_batch.cli", "run", "--dataset", str(root),
                        "--start-step", "1", "--end-step", str(end_step), "--no-mpi"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:] + r.stdout[-3000:]
    return root


def patch_inputs(folder: Path, mod) -> dict:
    inp = {k: load_mat(folder / f"{k}.mat") for k in mod.READS}
    for k in getattr(mod, "OPTIONAL", ()):
        if (folder / f"{k}.mat").is_file():
            inp[k] = load_mat(folder / f"{k}.mat")
    return inp


def assert_same_artifact(py: dict, rs: dict, inexact=frozenset(), rtol=0.0, where=""):
    """Same variable names in the same order, shapes, dtypes; values bit-equal (NaN == NaN)
    except ``inexact`` variables, which must agree to ``rtol``."""
    assert list(rs) == list(py), where
    for k, a in py.items():
        a, b = np.asarray(a), np.asarray(rs[k])
        if a.dtype.kind in "US":
            assert b.dtype.kind in "US" and str(a.reshape(-1)[0]) == str(b.reshape(-1)[0]), f"{where}{k}"
            continue
        assert b.shape == a.shape, f"{where}{k}: shape {b.shape} != {a.shape}"
        assert b.dtype == a.dtype, f"{where}{k}: dtype {b.dtype} != {a.dtype}"
        if k in inexact:
            np.testing.assert_allclose(b, a, rtol=rtol, atol=0, equal_nan=True, err_msg=f"{where}{k}")
        else:
            np.testing.assert_array_equal(b, a, err_msg=f"{where}{k}")


def run_both(inp: dict, params: Params):
    py_log, rs_log = [], []
    py = select.run(inp, params, native_kernels(), log=py_log.append)["select1"]
    from pystamps_batch import _native
    rs, rs_log = _native.stage3_select(inp, params, 0)
    return py, py_log, rs, rs_log


@pytest.fixture(scope="module", params=["single", "multi", "golden"])
def stage2(request, tmp_path_factory):
    return make_dataset(request.param, tmp_path_factory, 2)


def test_stage3_matches_python(stage2):
    patches = sorted(p for p in stage2.glob("PATCH_*") if (p / "pm1.mat").is_file())
    assert patches
    for folder in patches:
        inp = patch_inputs(folder, select)
        params = load_params(stage2, folder)
        py, py_log, rs, rs_log = run_both(inp, params)
        assert np.array_equal(rs["ix"], py["ix"]) and np.array_equal(rs["keep_ix"], py["keep_ix"])
        assert_same_artifact(py, rs, INEXACT, LSQ_RTOL, where=f"{folder.name}: ")
        assert rs_log == py_log


def test_stage3_variants(stage2):
    """PERCENT selection, no re-estimation, a dropped interferogram and slc_osf 2."""
    folder = sorted(stage2.glob("PATCH_*"))[0]
    inp = patch_inputs(folder, select)
    base = load_params(stage2, folder)
    for upd in ({"select_method": "PERCENT", "percent_rand": 5.0},
                {"select_reest_gamma_flag": "n"},
                {"drop_ifg_index": [2, 5], "slc_osf": 2.0, "clap_win": 16}):
        if "clap_win" in upd:
            n = upd["clap_win"]
            inp = dict(inp, pm1=dict(inp["pm1"], low_pass=np.asarray(inp["pm1"]["low_pass"])[:n, :n]))
        py, py_log, rs, rs_log = run_both(inp, base.replace(**upd))
        assert_same_artifact(py, rs, INEXACT, LSQ_RTOL, where=f"{upd}: ")
        assert rs_log == py_log


def test_stage3_binned_threshold_and_errors(stage2):
    """D_A bins (>= 10000 candidates, by tiling the patch) and the refusals."""
    folder = sorted(stage2.glob("PATCH_*"))[0]
    inp = patch_inputs(folder, select)
    n = int(np.asarray(inp["ps1"]["n_ps"]).ravel()[0])
    reps = -(-10500 // n)
    rng = np.random.default_rng(0)

    def tile(a):
        return np.concatenate([np.asarray(a)] * reps)[: n * reps]

    big = {
        "ps1": dict(inp["ps1"], n_ps=np.array([[float(n * reps)]]), xy=tile(inp["ps1"]["xy"])),
        "ph1": {"ph": tile(inp["ph1"]["ph"])},
        "bp1": {"bperp_mat": tile(inp["bp1"]["bperp_mat"])},
        "pm1": dict(inp["pm1"], **{k: tile(inp["pm1"][k]) for k in
                                   ("coh_ps", "K_ps", "C_ps", "grid_ij", "ph_patch", "ph_res")}),
        "da1": {"D_A": (tile(inp["da1"]["D_A"]) * rng.uniform(0.5, 1.5, (n * reps, 1)))},
    }
    params = load_params(stage2, folder)
    py, py_log, rs, rs_log = run_both(big, params)
    assert_same_artifact(py, rs, INEXACT, LSQ_RTOL)
    assert rs_log == py_log
    from pystamps_batch import _native
    with pytest.raises(ValueError, match="gamma_stdev_reject"):
        _native.stage3_select(inp, params.replace(gamma_stdev_reject=0.1), 0)
    with pytest.raises(ValueError, match="small_baseline_flag"):
        _native.stage3_select(inp, params.replace(small_baseline_flag="y"), 0)
    bad = dict(inp, pm1=dict(inp["pm1"], coh_ps=np.asarray(inp["pm1"]["coh_ps"])[:-1]))
    with pytest.raises(ValueError, match="coh_ps"):
        _native.stage3_select(bad, params, 0)
