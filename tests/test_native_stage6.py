"""Stage 6 (ps_unwrap, 3D_FULL) in Rust (``_native.stage6_unwrap``, the function the native
runner calls) against the Python stage, on the same inputs and with the same snaphu.

Exact by construction (the same integer logic): the grid cells, node mask, the arc network
(``Z``, ``edgs``, ``rowix``, ``colix``), the design matrix and the output layout. The
float arithmetic follows the Python stage operation by operation; the exceptions are the
Goldstein filter's FFTs (rustfft vs pocketfft) and the 2-parameter weighted fit of the
temporal smoothing (closed form vs LAPACK's SVD), which differ in the last float64 bits
and so may flip a float32 rounding now and then. Bound: every float variable within
1e-5 of its max abs value (the strict verify profile's rule) and no unwrapped value a
cycle away (|diff| < 0.1 rad); the test prints how many values differ at all.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from golden import golden_dir, golden_params
from pystamps_batch.kernels.registry import KernelSet, native_available
from pystamps_batch.stages import unwrap
from pystamps_batch.stages.unwrap.snaphu import locate_snaphu
from test_unwrap import load_root, synthetic_inputs, SMALL_PARAMS

pytestmark = pytest.mark.skipif(not native_available()[0], reason="native extension not built")

EXACT = {"uw_grid": {"nzix", "grid_ij", "ij", "xy", "grid_x_min", "grid_y_min", "n_i", "n_j", "n_ifg", "n_ps",
                     "pix_size", "ph_in"},
         "uw_interp": {"edgs", "n_edge", "rowix", "colix", "Z"},
         "uw_space_time": {"G", "spread", "ifreq_ij", "jfreq_ij", "shaky_ix", "predef_ix"}}
REL = 1e-5


def _native():
    from pystamps_batch import _native
    if not hasattr(_native, "stage6_unwrap"):
        pytest.skip("native extension without stage6_unwrap")
    return _native


def compare(py: dict, rs: dict) -> dict[str, int]:
    """Assert the bound of the module docstring; return {artifact:var: number of differing values}."""
    assert list(rs) == list(py)
    diffs: dict[str, int] = {}
    for art, pv in py.items():
        rv = rs[art]
        assert list(rv) == list(pv), art
        for k, a in pv.items():
            b = rv[k]
            where = f"{art}:{k}"
            if sparse.issparse(a) or sparse.issparse(b):
                assert sparse.issparse(a) and sparse.issparse(b), where
                assert a.shape == b.shape, where
                a, b = a.toarray(), b.toarray()
            a, b = np.asarray(a), np.asarray(b)
            assert b.shape == a.shape, f"{where}: shape {b.shape} != {a.shape}"
            assert b.dtype == a.dtype, f"{where}: dtype {b.dtype} != {a.dtype}"
            if k in EXACT.get(art, ()):
                np.testing.assert_array_equal(b, a, err_msg=where)
                continue
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            diffs[where] = int((~same).sum())
            if same.all():
                continue
            assert np.array_equal(np.isnan(a), np.isnan(b)), f"{where}: NaN pattern differs"
            fin = np.isfinite(a)
            scale = float(np.max(np.abs(a[fin]))) if fin.any() else 1.0
            d = float(np.max(np.abs(a[fin] - b[fin])))
            assert d <= REL * max(scale, 1.0) and d < 0.1, f"{where}: max diff {d} (scale {scale})"
    return diffs


def run_both(inputs: dict, params, tmp_path):
    exe = locate_snaphu()
    py_log: list[str] = []
    py = unwrap.run(inputs, params, KernelSet.python(), log=py_log.append, scratch_dir=str(tmp_path / "py"))
    rs, rs_log = _native().stage6_unwrap(inputs, params, exe, str(tmp_path / "rs"), 0)
    return py, py_log, rs, rs_log


@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2"])
def test_stage6_matches_python_on_goldens(name, tmp_path):
    inputs = load_root(name, ("ps2", "rc2", "pm2", "bp2", "la2"))
    py, py_log, rs, rs_log = run_both(inputs, golden_params(name), tmp_path)
    diffs = compare(py, rs)
    print(name, {k: v for k, v in diffs.items() if v})
    # the log lines are the Python stage's (less the timing of the last one)
    assert [line for line in rs_log if not line.startswith("stage 6 done")] == \
        [line for line in py_log if not line.startswith("stage 6 done")]
    # both reproduce StaMPS' unwrapped phase as closely as each other (golden parity)
    gold = load_root(name, ("phuw2",))["phuw2"]["ph_uw"]
    assert np.nanmax(np.abs(rs["phuw2"]["ph_uw"] - gold)) == pytest.approx(
        np.nanmax(np.abs(py["phuw2"]["ph_uw"] - gold)), abs=1e-4)


def test_stage6_matches_python_synthetic_and_scla_pass(tmp_path):
    inputs, params = synthetic_inputs(), SMALL_PARAMS
    py, _, rs, _ = run_both(inputs, params, tmp_path / "a")
    compare(py, rs)
    # a second pass with scla_smooth2 subtracted (and added back)
    n = inputs["ps2"]["xy"].shape[0]
    rng = np.random.default_rng(3)
    scla = {"K_ps_uw": rng.normal(0, 1e-3, (n, 1)), "C_ps_uw": rng.normal(0, 0.2, (n, 1)).astype(np.float32),
            "ph_scla": np.zeros((0, 0)), "ph_ramp": np.zeros((0, 0))}
    py2, py_log, rs2, rs_log = run_both(dict(inputs, scla_smooth2=scla), params, tmp_path / "b")
    compare(py2, rs2)
    assert any("subtracting scla_smooth2" in m for m in rs_log)


def test_stage6_errors_are_one_line(tmp_path):
    nat = _native()
    inputs = load_root("small-1patch", ("ps2", "rc2", "pm2", "bp2", "la2"))
    bad = golden_params("small-1patch").replace(unwrap_method="2D")
    with pytest.raises(ValueError, match="unwrap_method='2D' is not supported"):
        nat.stage6_unwrap(inputs, bad, locate_snaphu(), str(tmp_path), 0)
    with pytest.raises(ValueError, match="snaphu"):
        nat.stage6_unwrap(inputs, golden_params("small-1patch"), str(tmp_path / "no-snaphu"), str(tmp_path), 0)
