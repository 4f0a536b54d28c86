"""Step 3 (ps_select): threshold helpers, re-estimation windows, and parity with the Octave goldens."""
from __future__ import annotations

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch.errors import StageError
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.params import Params
from pystamps_batch.stages import select, weed

KS = KernelSet.python()


# ----------------------------------------------------------------------------- helpers
def test_select_ifg_index_master_removed_numbering():
    # N = 6, master 3, drop acquisitions 1 and 5 -> used 2, 4, 6 -> master-removed 2, 3, 5
    assert select.select_ifg_index(6, 3, [1, 5]).tolist() == [2, 3, 5]
    assert select.select_ifg_index(4, 1, []).tolist() == [1, 2, 3]


@pytest.mark.parametrize("n,bins,last", [(12000, 6, 2000), (12500, 6, 2500), (13999, 6, 3999),
                                         (60000, 6, 10000)])
def test_da_bin_edges_binned(n, bins, last):
    D_A = np.random.default_rng(0).permutation(np.linspace(0.05, 0.45, n))
    edges, da = select.da_bin_edges(D_A, n)
    assert edges.size - 1 == bins and edges[0] == 0 and edges[-1] == D_A.max()
    counts = [int(((da > edges[i]) & (da <= edges[i + 1])).sum()) for i in range(bins)]
    assert sum(counts) == n and counts[-1] == last
    assert set(counts[:-1]) == {10000 if n >= 50000 else 2000}


def test_da_bin_edges_single_bin():
    edges, da = select.da_bin_edges(np.full(9999, 0.3), 9999)
    assert edges.tolist() == [0.0, 1.0] and np.all(da == 1)
    edges, da = select.da_bin_edges(None, 20000)
    assert edges.tolist() == [0.0, 1.0] and da.shape == (20000,)


def test_window_starts_shift_and_misfit():
    s = select.window_starts(np.array([1, 17, 20, 140, 149]), 149, 32)
    assert s.tolist() == [0, 0, 3, 117, 117]
    assert np.all(select.window_starts(np.array([1, 10, 20]), 20, 32) < 0)


def test_polyfit_polyval_centered():
    x = np.array([300.0, 200.0, 150.0, 90.0, 60.0, 40.0])
    y = np.arange(20, 26) * 0.01
    p, mu = select.polyfit_centered(x, y, 3)
    assert mu[1] == pytest.approx(np.std(x, ddof=1))
    ref = np.polynomial.Polynomial.fit(x, y, 3)
    assert float(select.polyval_centered(p, 120.0, mu)) == pytest.approx(ref(120.0), abs=1e-12)
    v32 = select.polyval_centered(p, np.float32(120.0), mu)
    assert v32.dtype == np.float32 and float(v32) == pytest.approx(ref(120.0), abs=1e-6)


def test_bin_min_coh_edge_rules():
    Nr = np.concatenate([np.full(40, 1000.0), np.zeros(60)])
    coh = np.random.default_rng(1).uniform(0, 1, 5000)
    assert select.bin_min_coh(coh, Nr, 0.0, "DENSITY", KS) == 1.0          # never below 0
    assert np.isnan(select.bin_min_coh(coh, Nr, 1e12, "DENSITY", KS))     # bin 1 qualifies
    thr = select.bin_min_coh(coh, Nr, 500.0, "DENSITY", KS)
    assert 0.30 < thr < 0.33


# ----------------------------------------------------------------------------- synthetic runs
def _synthetic(n_i=20, n_j=40, n=50, seed=2):
    rng = np.random.default_rng(seed)
    N, master, M = 8, 4, 7
    gi = rng.integers(1, n_i + 1, n)
    gj = rng.integers(1, n_j + 1, n)
    bperp = np.linspace(-100, 100, N)
    bperp[master - 1] = 0
    ps1 = {"n_ps": np.array([[float(n)]]), "n_ifg": np.array([[float(N)]]),
           "master_ix": np.array([[float(master)]]), "bperp": bperp.reshape(-1, 1),
           "xy": np.stack([np.arange(1, n + 1), gj * 50.0, gi * 50.0], 1).astype(np.float32)}
    pm1 = {"coh_ps": np.full((n, 1), 0.9), "K_ps": np.zeros((n, 1)), "C_ps": np.zeros((n, 1)),
           "Nr": np.concatenate([np.full(40, 100.0), np.zeros(60)]).reshape(1, -1),
           "ph_grid": np.exp(1j * rng.uniform(-3, 3, (n_i, n_j, M))).astype(np.complex64),
           "grid_ij": np.stack([gi, gj], 1).astype(np.float32), "low_pass": np.ones((32, 32)),
           "n_trial_wraps": np.array([[0.5]]), "ph_patch": np.ones((n, M), np.complex64),
           "ph_res": np.zeros((n, M), np.float32)}
    ph = np.exp(1j * rng.uniform(-3, 3, (n, N))).astype(np.complex64)
    return {"ps1": ps1, "pm1": pm1, "ph1": {"ph": ph},
            "bp1": {"bperp_mat": np.tile(np.delete(bperp, master - 1), (n, 1)).astype(np.float32)}}


def test_narrow_grid_rejects_everything_with_warning():
    logs = []
    out = select.run(_synthetic(n_i=20), Params(), KS, log=logs.append)["select1"]
    assert out["ix"].shape == (50, 1)                   # all selected (threshold fallback 0.3)
    assert out["keep_ix"].sum() == 0
    assert np.all(np.isnan(out["coh_ps2"])) and np.all(out["ph_patch2"] == 0)
    assert any("narrower" in m for m in logs) and any("0.3" in m for m in logs)


def test_wide_grid_reestimates():
    out = select.run(_synthetic(n_i=40, n_j=40), Params(), KS)["select1"]
    assert np.all(np.isfinite(out["coh_ps2"])) and np.all(out["ph_patch2"] != 0)
    assert out["ph_res2"].dtype == np.float32 and out["ph_res2"].shape == (50, 7)


def test_gamma_stdev_reject_refused():
    with pytest.raises(StageError, match="gamma_stdev_reject"):
        select.run(_synthetic(), Params({"gamma_stdev_reject": 0.1}), KS)


def test_nothing_selected():
    inp = _synthetic(n_i=40)
    inp["pm1"]["coh_ps"][:] = 0.0
    out = select.run(inp, Params(), KS)["select1"]
    assert out["ix"].shape == (0, 1) and out["ph_res2"].shape == (0, 7)


# ----------------------------------------------------------------------------- goldens
def _jaccard(a, b) -> float:
    a, b = set(np.asarray(a).ravel().tolist()), set(np.asarray(b).ravel().tolist())
    return len(a & b) / max(1, len(a | b))


def _inputs(d):
    inp = {k: load_mat(d / f"{k}.mat") for k in select.READS}
    inp["da1"] = load_mat(d / "da1.mat")
    return inp


_CACHE: dict = {}


def _run_golden(name, patch):
    key = (name, patch)
    if key not in _CACHE:
        d = golden_dir(name) / "stamps" / f"PATCH_{patch}"
        _CACHE[key] = (d, select.run(_inputs(d), golden_params(name), KS)["select1"])
    return _CACHE[key]


CASES = [("small-1patch", 1), ("dense-1patch", 1), ("multi-2x2", 4)]


@pytest.mark.parametrize("name,patch", CASES)
def test_golden_select(name, patch):
    d, out = _run_golden(name, patch)
    g = load_mat(d / "select1.mat")
    assert list(out) == list(g)
    ix, gix = out["ix"].ravel(), g["ix"].ravel()
    keep, gkeep = ix[out["keep_ix"].ravel() > 0], gix[g["keep_ix"].ravel() > 0]
    assert _jaccard(ix, gix) >= 0.999
    assert _jaccard(keep, gkeep) >= 0.999
    assert out["coh_thresh"].shape == g["coh_thresh"].shape
    np.testing.assert_allclose(out["coh_thresh"], g["coh_thresh"], atol=1e-6)
    assert out["coh_thresh_coeffs"].shape == g["coh_thresh_coeffs"].shape
    np.testing.assert_allclose(out["coh_thresh_coeffs"], g["coh_thresh_coeffs"], atol=1e-9)
    _, ia, ib = np.intersect1d(ix, gix, return_indices=True)
    for v, tol in (("K_ps2", 1e-6), ("coh_ps2", 1e-5), ("C_ps2", 1e-4)):
        np.testing.assert_allclose(out[v].ravel()[ia], g[v].ravel()[ib], atol=tol, err_msg=v)
    np.testing.assert_allclose(out["ph_patch2"][ia], g["ph_patch2"][ib], atol=1e-5)
    for v in g:
        assert np.asarray(out[v]).dtype == g[v].dtype, v
        assert np.asarray(out[v]).shape == g[v].shape, v
    for v in ("clap_alpha", "clap_beta", "n_win", "max_percent_rand", "gamma_stdev_reject",
              "small_baseline_flag", "ifg_index"):
        np.testing.assert_array_equal(out[v], g[v], err_msg=v)


def test_golden_chain_select_then_weed():
    d, out = _run_golden("small-1patch", 1)
    inp = {k: load_mat(d / f"{k}.mat") for k in ("ps1", "ph1", "pm1", "bp1", "hgt1", "la1")}
    inp["select1"] = out
    w = weed.run(inp, golden_params("small-1patch"), KS)
    gij = load_mat(d / "ps2.mat")["ij"]
    assert _jaccard([tuple(r) for r in w["ps2"]["ij"]], [tuple(r) for r in gij]) >= 0.999


def test_golden_reest_flag_1_copies_step2():
    d = golden_dir("small-1patch") / "stamps" / "PATCH_1"
    prm = golden_params("small-1patch").replace(select_reest_gamma_flag="n")
    out = select.run(_inputs(d), prm, KS)["select1"]
    pm1 = load_mat(d / "pm1.mat")
    ix = out["ix"].ravel().astype(int) - 1
    assert out["keep_ix"].all() and out["coh_thresh"].shape == (8000, 1)
    np.testing.assert_array_equal(out["K_ps2"].ravel(), pm1["K_ps"].ravel()[ix])
    np.testing.assert_array_equal(out["ph_patch2"], pm1["ph_patch"][ix])
    assert _jaccard(ix + 1, load_mat(d / "select1.mat")["ix"]) == 1.0
