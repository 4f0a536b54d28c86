"""Stage 6 gridding, Goldstein filter and transfer back to the PS: the Rust port
(``_native.unwrap_grid_wrapped`` / ``unwrap_wrap_filt`` / ``unwrap_from_grid``) against the
Python reference (``pystamps_batch.stages.unwrap.grid`` / ``from_grid``).

Exact equality for everything but the filtered node phasors; those go through float64 FFTs
(rustfft vs NumPy's pocketfft, different last bits), so a tiny fraction of the float32
outputs may differ by an ulp or two: the tests bound that and print the measured numbers
(so far every case is bit-equal).
"""
from __future__ import annotations

import numpy as np
import pytest

from pystamps_batch import _native as nat
from pystamps_batch.errors import StageError
from pystamps_batch.params import Params
from pystamps_batch.stages import unwrap
from pystamps_batch.stages.unwrap import grid as pgrid
from pystamps_batch.stages.unwrap.from_grid import uw_unwrap_from_grid

from golden import golden_params
from test_unwrap import load_root, synthetic_inputs

pytestmark = pytest.mark.skipif(not hasattr(nat, "unwrap_grid_wrapped"),
                                reason="native extension lacks the stage-6 grid functions")

#: Largest fraction of float32 values of the filtered phasors allowed to differ (FFT rounding).
MAX_DIFF_FRACTION = 1e-4
#: Largest distance in float32 ulps of a differing value.
MAX_ULPS = 2


def wrapped_and_xy(inputs: dict, params) -> tuple[np.ndarray, np.ndarray]:
    """``w[:, ui0]`` and the PS (x, y) exactly as ``unwrap.run`` builds them."""
    ps = inputs["ps2"]
    master_ix = int(np.asarray(ps["master_ix"]).ravel()[0])
    n_ifg = int(np.asarray(ps["n_ifg"]).ravel()[0])
    days = np.asarray(ps["day"], dtype=np.float64).ravel()
    master_day = float(np.asarray(ps["master_day"]).ravel()[0])
    btil = unwrap.baselines_with_master(inputs["bp2"]["bperp_mat"], master_ix)
    w, _ = unwrap.wrapped_input(inputs, params, btil, master_ix, lambda _m: None)
    U = unwrap.unwrap_index(n_ifg, master_day, days, params.index_list("drop_ifg_index"))
    ui0 = np.asarray(U, dtype=np.int64) - 1
    xy = np.asarray(ps["xy"], dtype=np.float32)[:, 1:3]
    return np.ascontiguousarray(w[:, ui0]), np.ascontiguousarray(xy)


def grid_args(params) -> tuple:
    return (float(params["unwrap_grid_size"]), int(params["unwrap_gold_n_win"]),
            params.flag("unwrap_prefilter_flag"), float(params["unwrap_gold_alpha"]))


def ulp_diff(a: np.ndarray, b: np.ndarray) -> tuple[int, int, float]:
    """(number of differing float32 values, max ulp distance, max abs difference) of complex64 arrays."""
    ra = np.stack([a.real, a.imag]).astype(np.float32)
    rb = np.stack([b.real, b.imag]).astype(np.float32)
    n = int(np.count_nonzero(ra != rb))
    if n == 0:
        return 0, 0, 0.0
    ia, ib = ra.view(np.int32).astype(np.int64), rb.view(np.int32).astype(np.int64)
    # ordered integer keys (negative floats mirrored) so the distance counts ulps across 0
    ka = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    kb = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return n, int(np.abs(ka - kb).max()), float(np.abs(ra - rb).max())


def assert_phasors_close(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert a.dtype == b.dtype == np.complex64 and a.shape == b.shape
    n, ulps, mx = ulp_diff(a, b)
    total = 2 * a.size
    print(f"{what}: {n} of {total} float32 values differ (max {ulps} ulp, max abs {mx:.3g})")
    assert n <= MAX_DIFF_FRACTION * total and ulps <= MAX_ULPS, (what, n, total, ulps, mx)


def assert_grid_parity(w: np.ndarray, xy: np.ndarray, args: tuple, what: str):
    """Both ``uw_grid_wrapped``s on the same input: every variable of to_mat() equal
    (names, order, dtypes, shapes, values), ``ph`` within the FFT bound. Returns the Python grid."""
    py = pgrid.uw_grid_wrapped(w, xy, *args)
    want = py.to_mat()
    got = nat.unwrap_grid_wrapped(w, xy, *args)
    assert list(got) == list(want)
    for k, v in want.items():
        g = np.asarray(got[k])
        assert g.dtype == v.dtype and g.shape == v.shape, (k, g.dtype, v.dtype, g.shape, v.shape)
        if k != "ph":
            np.testing.assert_array_equal(g, v, err_msg=k)
    assert_phasors_close(want["ph"], got["ph"], f"{what} ph ({py.n_i} x {py.n_j} grid, {py.n_nodes} nodes)")
    if args[2]:
        # the filter did something: the node phase is not the cell-sum phase
        cells = py.node_cells
        sums = pgrid.accumulate_cells(w, (py.grid_ij[:, 1].astype(np.int64) - 1) * py.n_i
                                      + py.grid_ij[:, 0].astype(np.int64) - 1, py.n_i * py.n_j)[cells]
        assert np.mean(np.abs(np.angle(want["ph"] * np.conj(sums))) > 1e-3) > 0.5
    return py


# ----------------------------------------------------------------------------- synthetic

@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("goldfilt", [True, False])
def test_grid_synthetic(seed, goldfilt):
    w, xy = wrapped_and_xy(synthetic_inputs(n_ps=3000, n_img=8, seed=seed), Params({}))
    assert_grid_parity(w, xy, (20.0, 32, goldfilt, 0.8), f"synthetic seed {seed}")


def test_grid_synthetic_odd_fft_size_and_alpha():
    # n_win 10: padding round(2.5) = 3, an odd FFT size (13); alpha 1 (NumPy's fast path)
    w, xy = wrapped_and_xy(synthetic_inputs(n_ps=1500, n_img=5, seed=3), Params({}))
    assert_grid_parity(w, xy, (45.0, 10, True, 1.0), "synthetic n_win 10")


def test_grid_errors_match():
    w, xy = wrapped_and_xy(synthetic_inputs(n_ps=400, n_img=4, seed=4), Params({}))
    with pytest.raises(StageError) as e_py:
        pgrid.uw_grid_wrapped(w, xy, 200.0, 32, True, 0.8)
    with pytest.raises(ValueError) as e_rs:
        nat.unwrap_grid_wrapped(w, xy, 200.0, 32, True, 0.8)
    assert str(e_rs.value) == str(e_py.value)
    assert "smaller than the Goldstein window" in str(e_rs.value)
    w = w.copy()
    w[7, 1] = 0
    w[9, 0] = 0
    with pytest.raises(StageError) as e_py:
        pgrid.uw_grid_wrapped(w, xy, 20.0, 32, True, 0.8)
    with pytest.raises(ValueError) as e_rs:
        nat.unwrap_grid_wrapped(w, xy, 20.0, 32, True, 0.8)
    assert str(e_rs.value) == str(e_py.value)
    assert "for 2 values (first: PS 8, interferogram column 2)" in str(e_rs.value)


def test_wrap_filt_random_grids_and_threads():
    rng = np.random.default_rng(5)
    for (ni, nj, m, nw, alpha) in [(64, 80, 6, 32, 0.8), (37, 41, 5, 10, 0.8), (45, 33, 3, 8, 0.5),
                                   (120, 97, 4, 32, 0.8)]:
        g = (np.exp(1j * rng.uniform(-np.pi, np.pi, (ni, nj, m)))
             * rng.poisson(1.0, (ni, nj, m))).astype(np.complex64)
        g[0, 0, 0] = np.nan                       # nan_to_num -> 0
        want = pgrid.wrap_filt(g, nw, alpha)
        got = nat.unwrap_wrap_filt(g, nw, alpha)
        np.testing.assert_array_equal(nat.unwrap_wrap_filt(g, nw, alpha, threads=1), got)
        assert_phasors_close(want, got, f"wrap_filt {ni}x{nj}x{m} n_win {nw} alpha {alpha}")
    with pytest.raises(ValueError):
        nat.unwrap_wrap_filt(np.ones((20, 40, 1), np.complex64), 32, 0.8)


# ----------------------------------------------------------------------------- goldens

@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2"])
def test_grid_golden(name):
    inputs = load_root(name, ("ps2", "rc2", "pm2", "bp2", "la2"))
    params = golden_params(name)
    w, xy = wrapped_and_xy(inputs, params)
    py = assert_grid_parity(w, xy, grid_args(params), name)
    # from_grid with the golden unwrapped node phase (same node set as the Python grid)
    node_uw = np.asarray(load_root(name, ("uw_phaseuw",))["uw_phaseuw"]["ph_uw"], dtype=np.float32)
    assert node_uw.shape == py.ph.shape
    want = uw_unwrap_from_grid(py.ph_in, py.grid_ij, py.nzix, node_uw)
    got = nat.unwrap_from_grid(py.ph_in, py.grid_ij, py.nzix, node_uw)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


# ----------------------------------------------------------------------------- from_grid

def test_from_grid_synthetic_with_missing_nodes():
    w, xy = wrapped_and_xy(synthetic_inputs(n_ps=3000, n_img=8, seed=1), Params({}))
    py = pgrid.uw_grid_wrapped(w, xy, 20.0, 32, True, 0.8)
    nzix = py.nzix.copy()
    cells = py.node_cells
    drop = cells[::7]                                  # PS in these cells get NaN
    nzix.T.flat[drop] = False
    n_nodes = int(nzix.sum())
    rng = np.random.default_rng(9)
    node_uw = rng.uniform(-60, 60, (n_nodes, w.shape[1])).astype(np.float32)
    want = uw_unwrap_from_grid(py.ph_in, py.grid_ij, nzix, node_uw)
    got = nat.unwrap_from_grid(py.ph_in, py.grid_ij, nzix, node_uw)
    assert np.isnan(want).any()
    np.testing.assert_array_equal(got, want)
