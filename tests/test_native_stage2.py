"""Stage 2 (ps_est_gamma_quick) in Rust, ``_native.stage2_gamma`` (pystamps_core::stages::gamma),
against the Python stage ``pystamps_batch.stages.gamma.run`` with the native kernel set (the
same Rust kernels), on stage-1 outputs of generated single- and multi-patch datasets and of the
small-1patch golden input.

Every pm1 variable must have the same name, shape and dtype, and be **bit-equal** (NaN where
NaN): the Rust stage calls the same kernels with the same inputs and reproduces NumPy's float32
glue arithmetic. The one computation that is not the same float sequence is the P-square
curve (f64 FIR design and convolutions: a DFT sum instead of NumPy's FFT, sequential sums
instead of BLAS dots: last-bit f64 differences at most); the weights are rounded to float32
before they are used, so the outputs stay bit-equal, and the iteration count and log lines
are identical. NumPy's temporary elision (operands of ``psi * temporary`` swapped from
256 KiB) is reproduced: the synthetic cases are below that size, the golden one above.
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from datasets import MULTI, SINGLE, synth_dataset
from golden import golden_dir

_native = pytest.importorskip("pystamps_batch._native")
if not hasattr(_native, "stage2_gamma"):
    pytest.skip("extension built without stage2_gamma", allow_module_level=True)

from pystamps_batch.config import RunConfig, RuntimeConfig  # noqa: E402
from pystamps_batch.dataset.layout import open_dataset  # noqa: E402
from pystamps_batch.io.matfile import load_mat  # noqa: E402
from pystamps_batch.kernels.registry import KernelSet  # noqa: E402
from pystamps_batch.parameters_io import load_params  # noqa: E402
from pystamps_batch.runner import Runner  # noqa: E402
from pystamps_batch.stages import gamma  # noqa: E402

NATIVE = RuntimeConfig(backend="native", stage2_kernel_backend="native")


def stage1_patches(root):
    """Run stage 1 (Python runner, native kernels) on ``root``; yield (patch, inputs, params)."""
    cfg = RunConfig(runtime=NATIVE)
    res = Runner(open_dataset(root, strict=True), cfg, log=lambda m: None).run(1, 1)
    assert res and all(r.status == "completed" for r in res), [(r.stage, r.details) for r in res]
    out = []
    for folder in sorted(root.glob("PATCH_*")):
        inputs = {}
        for name in gamma.READS + gamma.OPTIONAL:
            p = folder / f"{name}.mat"
            if p.is_file():
                inputs[name] = load_mat(p)
        out.append((folder.name, inputs, load_params(root, folder, cfg.stamps)))
    assert out
    return out


def run_python(inputs, params):
    lines = []
    pm1 = gamma.run(inputs, params, KernelSet(NATIVE), log=lines.append)["pm1"]
    return pm1, lines


def run_rust(inputs, params, threads=0):
    lines = []
    pm1 = _native.stage2_gamma(inputs, dict(params), threads, lines.append)
    return pm1, lines


def assert_pm1_equal(rs, py, where):
    assert list(rs) == list(py), where                 # same variables, same order
    for k, a in py.items():
        b = rs[k]
        assert b.shape == a.shape, (where, k, b.shape, a.shape)
        assert b.dtype == a.dtype, (where, k, b.dtype, a.dtype)
        if not np.array_equal(a, b, equal_nan=True):
            with np.errstate(invalid="ignore"):
                d = np.abs(a.astype(np.complex128) - b.astype(np.complex128))
            n_bad = int(np.count_nonzero(~((a == b) | (np.isnan(a) & np.isnan(b)))))
            pytest.fail(f"{where}: pm1.{k} differs in {n_bad} of {a.size} values, max |diff| {np.nanmax(d):.3g}")


def check_dataset(root):
    for patch, inputs, params in stage1_patches(root):
        py, py_lines = run_python(inputs, params)
        rs, rs_lines = run_rust(inputs, params)
        assert rs_lines == py_lines, patch
        assert_pm1_equal(rs, py, patch)
        assert py["i_loop"][0, 0] >= 1
        # thread count does not change the result
        rs1, _ = run_rust(inputs, params, threads=1)
        assert_pm1_equal(rs1, py, patch + " (1 thread)")


def test_stage2_single_patch(tmp_path_factory, tmp_path):
    check_dataset(synth_dataset(tmp_path_factory, tmp_path / "single", **SINGLE))


def test_stage2_multi_patch(tmp_path_factory, tmp_path):
    check_dataset(synth_dataset(tmp_path_factory, tmp_path / "multi", **MULTI))


def test_stage2_golden_small(tmp_path):
    src = golden_dir("small-1patch") / "input"
    root = tmp_path / "small"
    shutil.copytree(src, root)
    check_dataset(root)


def test_stage2_snr_weighting_and_more_iterations(tmp_path_factory, tmp_path):
    """The alternative SNR weighting (f64 cos and means, same libm) and a longer iteration."""
    root = synth_dataset(tmp_path_factory, tmp_path / "single", **SINGLE)
    _, inputs, params = stage1_patches(root)[0]
    p = dict(params)
    p.update(filter_weighting="SNR", gamma_max_iterations=5, gamma_change_convergence=0.0)
    py, py_lines = run_python(inputs, p)
    rs, rs_lines = run_rust(inputs, p)
    assert rs_lines == py_lines
    assert_pm1_equal(rs, py, "snr")


def test_stage2_errors_match_python(tmp_path_factory, tmp_path):
    root = synth_dataset(tmp_path_factory, tmp_path / "single", **SINGLE)
    _, inputs, params = stage1_patches(root)[0]
    bad = dict(inputs)
    bad["ps1"] = dict(inputs["ps1"], master_ix=np.array([[99.0]]))
    with pytest.raises(Exception) as e_py:
        run_python(bad, params)
    with pytest.raises(ValueError) as e_rs:
        run_rust(bad, params)
    assert str(e_rs.value) == str(e_py.value)
    p = dict(params, **{"lambda": float("nan")})
    with pytest.raises(ValueError, match="lambda"):
        run_rust(inputs, p)
