"""Stage 6 space-time step (``uw_space_time``): Rust (``_native.unwrap_space_time``) vs the
Python reference ``pystamps_batch.stages.unwrap.space_time`` on synthetic and golden inputs.

K, coh, G and the NaN pattern must be identical; D (``dph_space_uw``) and nu (``dph_noise``)
are float32 computed op for op as in Python, so they are expected bit-equal except where the
weighted line fit of the smoothing (NumPy's SVD ``pinv`` + BLAS product, f64) rounds
differently; any such difference must stay a float32 rounding (never a 2*pi jump).

Bit-equality needs numpy off its AVX-512 (SVML) float32 ``arctan2`` / float64 ``exp``, which
``pystamps_batch`` pins on import (conftest imports it first); with
``PYSTAMPS_NUMPY_SIMD=native`` on an AVX-512 CPU the Python side is not glibc's atan2f/exp.
"""
from __future__ import annotations

import numpy as np
import pytest

from pystamps_batch import _native
from pystamps_batch.params import Params
from pystamps_batch.stages import unwrap
from pystamps_batch.stages.unwrap import space_time as pst
from pystamps_batch.stages.unwrap.arcs import uw_interp
from pystamps_batch.stages.unwrap.grid import uw_grid_wrapped

from golden import golden_dir, golden_params
from test_unwrap import SMALL_PARAMS, synthetic_inputs

if not hasattr(_native, "unwrap_space_time"):
    pytest.skip("native extension lacks unwrap_space_time", allow_module_level=True)

#: Largest |D - D_ref| / |nu - nu_ref| accepted (float32 rounding of phases of a few rad).
MAX_ABS = 1e-5


# ----------------------------------------------------------------------------- inputs

def pipeline_args(inputs: dict, params) -> tuple:
    """The arguments ``unwrap.run`` passes to ``uw_space_time`` (grid and arcs by the Python stage)."""
    ps = inputs["ps2"]
    days = np.asarray(ps["day"], dtype=np.float64).ravel()
    master_day = float(np.asarray(ps["master_day"]).ravel()[0])
    master_ix = int(np.asarray(ps["master_ix"]).ravel()[0])
    n_ifg = int(np.asarray(ps["n_ifg"]).ravel()[0])
    bperp = np.asarray(ps["bperp"], dtype=np.float64).ravel()
    btil = unwrap.baselines_with_master(inputs["bp2"]["bperp_mat"], master_ix)
    w, _ = unwrap.wrapped_input(inputs, params, btil, master_ix, lambda _m: None)
    U = unwrap.unwrap_index(n_ifg, master_day, days, params.index_list("drop_ifg_index"))
    ui0 = np.asarray(U, dtype=np.int64) - 1
    ntw = unwrap.trial_wraps(params, bperp, unwrap.incidence_mean(inputs))
    grid = uw_grid_wrapped(w[:, ui0], np.asarray(ps["xy"], dtype=np.float32)[:, 1:3],
                           float(params["unwrap_grid_size"]), int(params["unwrap_gold_n_win"]),
                           params.flag("unwrap_prefilter_flag"), float(params["unwrap_gold_alpha"]))
    interp = uw_interp(grid.nzix)
    ifgday = np.column_stack([np.full(len(U), master_ix), np.asarray(U)])
    return (grid.ph, interp.edges, days - master_day, ifgday, bperp[ui0], ntw,
            float(params["unwrap_time_win"]))


def golden_args(name: str) -> tuple:
    """``uw_space_time`` arguments from a golden run: its uw_grid.ph and uw_interp.edgs, ps2, la2."""
    from pystamps_batch.io.matfile import load_mat

    d = golden_dir(name) / "stamps"
    ps, la = load_mat(d / "ps2.mat"), load_mat(d / "la2.mat")
    grid, it = load_mat(d / "uw_grid.mat"), load_mat(d / "uw_interp.mat")
    params = golden_params(name)
    days = np.asarray(ps["day"], dtype=np.float64).ravel()
    master_day = float(np.asarray(ps["master_day"]).ravel()[0])
    master_ix = int(np.asarray(ps["master_ix"]).ravel()[0])
    n_ifg = int(np.asarray(ps["n_ifg"]).ravel()[0])
    bperp = np.asarray(ps["bperp"], dtype=np.float64).ravel()
    U = unwrap.unwrap_index(n_ifg, master_day, days, params.index_list("drop_ifg_index"))
    ui0 = np.asarray(U, dtype=np.int64) - 1
    ntw = unwrap.trial_wraps(params, bperp, unwrap.incidence_mean({"ps2": ps, "la2": la}))
    ifgday = np.column_stack([np.full(len(U), master_ix), np.asarray(U)])
    edges = np.asarray(it["edgs"])[:, 1:3].astype(np.int64) - 1
    return (np.asarray(grid["ph"], dtype=np.complex64), edges, days - master_day, ifgday,
            bperp[ui0], ntw, float(params["unwrap_time_win"]))


# ----------------------------------------------------------------------------- comparison

def _bits_equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise: same value (NaN == NaN); -0 == +0."""
    return (a == b) | (np.isnan(a) & np.isnan(b))


def compare(args: tuple, la_flag: bool, label: str, threads: int = 0) -> dict:
    """Run both, assert the parity contract, print and return the measured differences."""
    ref = pst.uw_space_time(*args, la_flag)
    got = _native.unwrap_space_time(*args, la_flag=la_flag, threads=threads)
    want = ref.to_mat()
    assert list(got)[:8] == list(want), "variable order of uw_space_time.mat"
    for k in ("ifreq_ij", "jfreq_ij", "shaky_ix", "predef_ix"):
        assert got[k].shape == (0, 0) and got[k].dtype == np.float64
    sp = got["spread"]
    assert sp.shape == want["spread"].shape and sp.dtype == np.float64 and sp.nnz == 0
    np.testing.assert_array_equal(got["G"], want["G"])
    assert got["G"].dtype == np.float64
    k_eq = int(np.sum(got["K"].view(np.int32) == ref.K.view(np.int32)))
    c_eq = int(np.sum(_bits_equal(got["coh"], ref.coh)))
    out = {"K_equal": k_eq, "coh_equal": c_eq, "n_edge": ref.K.size}
    for name in ("dph_space_uw", "dph_noise"):
        a, b = got[name], want[name]
        assert a.dtype == np.float32 and a.shape == b.shape, name
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{label}: NaN pattern of {name}")
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
        n_diff = int(np.sum(~_bits_equal(a, b)))
        mx = float(np.nanmax(diff)) if n_diff else 0.0
        out[name] = (n_diff, mx)
        # a 2*pi jump (different temporal unwrapping) would show as |diff| ~ 6.28
        assert mx < MAX_ABS, f"{label}: {name} differs by up to {mx} ({n_diff} values)"
    print(f"{label} la={la_flag}: K equal {k_eq}/{ref.K.size}, coh equal {c_eq}/{ref.K.size}, "
          f"D differing {out['dph_space_uw'][0]} (max {out['dph_space_uw'][1]:.3g}), "
          f"noise differing {out['dph_noise'][0]} (max {out['dph_noise'][1]:.3g}) of {ref.dph_noise.size}")
    assert k_eq == ref.K.size and c_eq == ref.K.size, f"{label}: K/coh not bit-equal"
    return out


# ----------------------------------------------------------------------------- tests

@pytest.mark.parametrize("la_flag", [True, False])
@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2", "dense-1patch"])
def test_golden_space_time_matches_python(name, la_flag):
    out = compare(golden_args(name), la_flag, name)
    # the goldens are bit-equal today; keep a margin for BLAS/LAPACK rounding of the line fit
    assert out["dph_space_uw"][0] <= 0.001 * out["n_edge"] * 20


@pytest.mark.parametrize("case", [
    dict(seed=1, n_img=6, master=3),                      # random phases: many no-statistics arcs
    dict(seed=2, n_img=8, master=1),                      # master first: anchor after-list branch
    dict(seed=3, n_img=7, master=7),                      # master last: no image after the master
    dict(seed=4, n_img=3, master=2),                      # M_U = 2: adjacent chain, 'done' replacement
])
@pytest.mark.parametrize("smooth", [False, True])
def test_synthetic_space_time_matches_python(case, smooth):
    n_ps = 500
    phase = None
    if smooth:  # a topography-like look-angle signal plus mild noise: arcs with K != 0
        rng = np.random.default_rng(case["seed"] + 100)
        h = rng.normal(0, 1, n_ps)
        phase = np.outer(h, np.linspace(-2.0, 2.4, case["n_img"])) + rng.normal(0, 0.3, (n_ps, case["n_img"]))
    inp = synthetic_inputs(n_ps=n_ps, phase=phase, **case)
    args = pipeline_args(inp, SMALL_PARAMS)
    for la in (True, False):
        compare(args, la, f"synthetic {case} smooth={smooth}")


NETWORKS = {
    # hub conjugation ([4, 1]), image 7 unused, irregular days
    "hub": (np.array([[1, 2], [1, 3], [4, 1], [1, 5], [2, 3], [1, 6]]),
            np.array([-400.0, -250.0, -240.0, 0.0, 35.0, 400.0, 800.0]),
            np.array([-80.0, 35.0, 120.0, -15.0, 60.0, 5.0])),
    # three images qualify for 3D_FULL: later images replace estimates where their noise is lower
    "replace": (np.array([[1, 2], [1, 3], [4, 1], [2, 3]]),
                np.array([0.0, 48.0, 96.0, -60.0]),
                np.array([40.0, -70.0, 95.0, -30.0])),
}


@pytest.mark.parametrize("net", sorted(NETWORKS))
def test_general_network_and_thread_independence(net):
    """Non-single-master designs, a short time window (near rank-deficient line fits) and
    1 vs 3 threads (results must not depend on the thread count)."""
    ifgday, day, bperp = NETWORKS[net]
    rng = np.random.default_rng(7)
    n_node, n_edge = 300, 900
    t = rng.normal(0, 1, (n_node, 1)) * bperp[None, :] / 40 + rng.normal(0, 0.6, (n_node, ifgday.shape[0]))
    node_ph = np.exp(1j * t).astype(np.complex64)
    lo = rng.integers(0, n_node - 1, n_edge)
    edges = np.column_stack([lo, np.minimum(lo + 1 + rng.integers(0, 5, n_edge), n_node - 1)])
    for tw in (730.0, 20.0, 3.0):
        args = (node_ph, edges, day, ifgday, bperp, 1.3, tw)
        for la in (True, False):
            compare(args, la, f"network {net} tw={tw}")
        a = _native.unwrap_space_time(*args, threads=1)
        b = _native.unwrap_space_time(*args, threads=3)
        for k in ("dph_space_uw", "dph_noise", "K", "coh"):
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_arc_look_angle_matches_python():
    rng = np.random.default_rng(5)
    n_edge, n_sub = 2000, 12
    b = np.sort(rng.uniform(-150, 150, n_sub))
    k_true = rng.normal(0, 0.004, (n_edge, 1))
    ph = k_true * b[None, :] + rng.normal(0, 0.5, (n_edge, n_sub))
    chain = np.exp(1j * ph).astype(np.complex64)
    chain[:3] = 0                                         # zero phasors: NaN coherences, no K
    with pytest.raises(ValueError, match="argmax of an empty sequence"):
        pst.arc_look_angle(chain, b, 0.0)
    with pytest.raises(ValueError, match="argmax of an empty sequence"):
        _native.unwrap_arc_look_angle(chain, b, 0.0)
    for ntw in (0.1, 0.9, 2.7):
        K, coh = pst.arc_look_angle(chain, b, ntw)
        K2, coh2 = _native.unwrap_arc_look_angle(chain, b, ntw)
        np.testing.assert_array_equal(K2, K)
        np.testing.assert_array_equal(coh2, coh)
        assert (K != 0).sum() > n_edge // 4


def test_errors_mirror_python():
    node_ph = np.ones((4, 4), dtype=np.complex64)
    edges = np.array([[0, 1], [1, 2]])
    day = np.array([0.0, 10.0, 20.0, 30.0, 40.0])
    ifgday = np.array([[1, 3], [2, 4], [3, 5], [1, 5]])      # no image common to all but two
    args = (node_ph, edges, day, ifgday, np.array([1.0, 2.0, 3.0, 4.0]), 1.0, 730.0)
    with pytest.raises(Exception, match="no image common to all but two"):
        pst.uw_space_time(*args, True)
    with pytest.raises(ValueError, match="no image common to all but two"):
        _native.unwrap_space_time(*args, la_flag=True)


def _smoothing_fits(args: tuple, image: int):
    """(td, adj (n_sub, n_edge), w) of every output date of ``smooth_image`` (the line fits)."""
    from pystamps_batch.stages.unwrap.f32 import angle, cmul_real, csum

    node_ph, edges, day, ifgday, _, _, time_win = args
    G, ifr, used = pst.design(ifgday, day.size)
    s = pst.arc_phasors(node_ph, edges)
    ix = np.flatnonzero(G[:, image] != 0)
    sub = s[:, ix].copy()
    neg = G[ix, image] > 0
    sub[:, neg] = np.conj(sub[:, neg])
    day_sub = day[used][ifr[ix].sum(axis=1) - (image + 1) - 1]
    order = np.argsort(day_sub, kind="stable")
    day_sub, sub = day_sub[order], sub[:, order]
    ang = angle(sub)
    for j in range(sub.shape[1]):
        td = day_sub[j] - day_sub
        w = np.exp(-(td ** 2) / 2 / time_win ** 2)
        w = w / w.sum()
        mean = csum(cmul_real(sub, w.astype(np.float32)[None, :]), axis=1)
        adj = pst.mod_octave(ang - angle(mean)[:, None] + pst.PI32, pst.TWO_PI32) - pst.PI32
        yield td, adj.T.astype(np.float64), w


@pytest.mark.parametrize("name,time_win", [("small-1patch", None), ("multi-2x2", None), ("multi-2x2", 25.0)])
def test_line_fit_intercepts(name, time_win):
    """The one f64 step that is not op for op (SVD pinv + BLAS in NumPy): m0 within 1e-12 rad,
    and the float32 phasor exp(i m0) it feeds nearly always identical."""
    args = golden_args(name)
    if time_win is not None:   # short window: weights underflow, rank-deficient fits
        args = args[:6] + (time_win,)
    master = int(args[3][0, 0]) - 1
    n = n_eq = n_m0 = 0
    worst = 0.0
    for td, y, w in _smoothing_fits(args, master):
        m_ref = pst._wls_intercept(td, y, w)
        m_got = _native.unwrap_wls_intercept(td, y, w)
        worst = max(worst, float(np.max(np.abs(m_ref - m_got))))
        n_m0 += int(np.sum(m_ref == m_got))
        e_ref = np.cos(m_ref).astype(np.float32), np.sin(m_ref).astype(np.float32)
        e_got = np.cos(m_got).astype(np.float32), np.sin(m_got).astype(np.float32)
        n += m_ref.size
        n_eq += int(np.sum((e_ref[0] == e_got[0]) & (e_ref[1] == e_got[1])))
    print(f"{name} time_win={args[6]}: m0 bit-equal {n_m0}/{n}, max |diff| {worst:.3g}, "
          f"expi(m0) equal {n_eq}/{n}")
    assert worst < 1e-12
    assert n_eq >= 0.999 * n


@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2", "dense-1patch"])
def test_golden_space_time_close_to_stamps(name):
    """Rust on the golden uw_grid/uw_interp vs StaMPS' own uw_space_time.mat (Octave, la flag 'y'):
    same NaN pattern and G, values within float32 rounding."""
    from pystamps_batch.io.matfile import load_mat

    gold = load_mat(golden_dir(name) / "stamps" / "uw_space_time.mat")
    got = _native.unwrap_space_time(*golden_args(name), la_flag=golden_params(name).flag("unwrap_la_error_flag"))
    np.testing.assert_array_equal(got["G"], gold["G"])
    for k in ("dph_space_uw", "dph_noise"):
        a, b = got[k], np.asarray(gold[k])
        assert a.shape == b.shape
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=k)
        mx = float(np.nanmax(np.abs(a.astype(np.float64) - b)))
        print(f"{name} {k} vs StaMPS: equal {int(np.sum(_bits_equal(a, b)))}/{a.size}, max |diff| {mx:.3g}")
        assert mx < MAX_ABS
