"""Step 4 (ps_weed): arc-noise kernel, weeding rules, and parity with the Octave goldens."""
from __future__ import annotations

import math

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.kernels.weed_noise import edge_stats
from pystamps_batch.params import Params
from pystamps_batch.stages import weed

KS = KernelSet.python()


# ----------------------------------------------------------------------------- kernel
def _days(n=15, seed=0):
    rng = np.random.default_rng(seed)
    return np.sort(737000.0 + rng.choice(np.arange(0, 1500, 12), n, replace=False)).astype(float)


def test_edge_stats_noiseless_arc_has_zero_noise():
    day = _days()
    bperp = np.linspace(-120, 110, day.size)
    t = day - day[0]
    # pixel b drifts linearly in time relative to pixel a: a noiseless arc
    # (relative rates below pi / time span, so that the arc phase does not wrap)
    ph = np.stack([np.exp(1j * 0.3 * np.ones_like(t)), np.exp(1j * (0.3 + 0.0012 * t)),
                   np.exp(1j * (1.0 - 0.0005 * t)), np.exp(1j * (-0.5 + 0.0011 * t))]).astype(np.complex64)
    e_std, e_max = edge_stats(ph, np.array([[0, 1], [1, 2], [2, 3]]), day, bperp, 730.0)
    assert e_std.dtype == np.float32 and e_max.dtype == np.float32
    assert np.all(e_std < 1e-4) and np.all(e_max < 1e-4)


def test_edge_stats_noise_level_and_orientation():
    rng = np.random.default_rng(3)
    day = _days(25, seed=1)
    bperp = rng.uniform(-150, 150, day.size)
    n_pix = 60
    sigma = 0.4
    ph = np.exp(1j * rng.normal(0, sigma / math.sqrt(2), (n_pix, day.size))).astype(np.complex64)
    edges = np.stack([np.arange(n_pix - 1), np.arange(1, n_pix)], axis=1)
    e_std, e_max = edge_stats(ph, edges, day, bperp, 730.0)
    assert 0.6 * sigma < np.median(e_std) < 1.2 * sigma
    assert np.all(e_max >= e_std)
    s2, m2 = edge_stats(ph, edges[:, ::-1], day, bperp, 730.0)   # arcs reversed
    np.testing.assert_allclose(s2, e_std, atol=2e-5)
    np.testing.assert_allclose(m2, e_max, atol=2e-5)


def test_edge_stats_no_edges():
    s, m = edge_stats(np.ones((2, 5), np.complex64), np.zeros((0, 2), np.int64), np.arange(5.0),
                      np.zeros(5), 730.0)
    assert s.shape == (0,) and m.shape == (0,)


# ----------------------------------------------------------------------------- rules
def test_neighbour_groups_parent_links_example():
    # a row A-B-C-D with indices A=0, D=1, B=2, C=3 (spec C.4 step 1)
    rg = np.array([0, 3, 1, 2])           # A, D, B, C
    az = np.zeros(4, dtype=int)
    lab = weed.neighbour_groups(az, rg)
    assert lab[0] == lab[2] and lab[1] == lab[3] and lab[0] != lab[1]
    keep = weed.best_per_group(lab, np.array([0.1, 0.2, 0.9, 0.8]))
    assert keep.tolist() == [False, False, True, True]   # B and C survive, although adjacent


def test_neighbour_groups_isolated_and_diagonal():
    az = np.array([0, 1, 5, 10])
    rg = np.array([0, 1, 5, 10])
    lab = weed.neighbour_groups(az, rg)
    assert lab[0] == lab[1] and len({lab[1], lab[2], lab[3]}) == 3


def test_best_per_group_ties_lowest_index():
    keep = weed.best_per_group(np.array([0, 0, 1, 1]), np.array([0.5, 0.5, 0.2, 0.7]))
    assert keep.tolist() == [True, False, False, True]


def test_delaunay_edges_degenerate_cases():
    e, note = weed.delaunay_edges(np.array([[0.0, 0.0], [1.0, 0.0]]))
    assert e.shape == (0, 2) and "fewer than 3" in note
    e, note = weed.delaunay_edges(np.array([[0.0, 0.0], [3.0, 3.0], [1.0, 1.0], [2.0, 2.0]]))
    assert "collinear" in note
    assert sorted(map(tuple, e)) == [(0, 2), (1, 3), (2, 3)]
    e, note = weed.delaunay_edges(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.1]]))
    assert note == "" and e.shape == (5, 2)


def test_pixel_min_over_edges():
    v = weed.pixel_min_over_edges(4, np.array([[0, 1], [1, 2]]), np.array([0.5, 0.25], np.float32))
    assert v.tolist() == [0.5, 0.25, 0.25, np.inf]


# ----------------------------------------------------------------------------- synthetic runs
def _synthetic(n=40, seed=5, dup=False):
    """A small consistent input set: n pixels on a jittered lattice, N = 12 acquisitions."""
    rng = np.random.default_rng(seed)
    N, master = 12, 6
    day = _days(N, seed=seed)
    bperp = rng.uniform(-100, 100, N)
    bperp[master - 1] = 0
    side = int(math.ceil(math.sqrt(n)))
    az = (np.arange(n) // side) * 3
    rg = (np.arange(n) % side) * 3
    x = (rg * 20.0 + rng.uniform(0, 5, n)).astype(np.float32)
    y = (az * 4.0 + rng.uniform(0, 5, n)).astype(np.float32)
    if dup:
        x[1], y[1] = x[0], y[0]
    ph = np.exp(1j * rng.normal(0, 0.2, (n, N))).astype(np.complex64)
    ph[:, master - 1] = 1
    M = N - 1
    ps1 = {"ij": np.stack([np.arange(1, n + 1), az, rg], 1).astype(float),
           "lonlat": np.stack([x / 1e5, y / 1e5], 1).astype(float),
           "xy": np.stack([np.arange(1, n + 1), x, y], 1).astype(np.float32),
           "bperp": bperp.reshape(-1, 1), "day": day.reshape(-1, 1),
           "master_day": np.array([[day[master - 1]]]), "master_ix": np.array([[float(master)]]),
           "n_ifg": np.array([[float(N)]]), "n_image": np.array([[float(N)]]),
           "n_ps": np.array([[float(n)]]), "sort_ix": np.arange(1, n + 1.0).reshape(-1, 1),
           "ll0": np.array([[0.0, 0.0]])}
    sel = {"ix": np.arange(1, n + 1.0).reshape(-1, 1), "keep_ix": np.ones((n, 1), np.uint8),
           "K_ps2": np.zeros((n, 1)), "C_ps2": np.zeros((n, 1)),
           "coh_ps2": rng.uniform(0.5, 0.9, (n, 1)),
           "ph_res2": rng.normal(0, 0.1, (n, M)).astype(np.float32)}
    inputs = {"ps1": ps1, "select1": sel, "ph1": {"ph": ph},
              "pm1": {"ph_patch": np.ones((n, M), np.complex64)},
              "bp1": {"bperp_mat": np.tile(np.delete(bperp, master - 1), (n, 1)).astype(np.float32)},
              "hgt1": {"hgt": rng.uniform(0, 100, (n, 1))}, "la1": {"la": np.full((n, 1), 0.4)}}
    return inputs


def test_run_synthetic_outputs_and_duplicates():
    inp = _synthetic(dup=True)
    inp["select1"]["coh_ps2"][:2, 0] = [0.6, 0.8]
    logs = []
    out = weed.run(inp, Params(), KS, log=logs.append)
    w = out["weed1"]
    assert w["ix_weed"].shape == (40, 1) and w["ix_weed"][0, 0] == 0   # duplicate with lower γ2
    assert w["ix_weed2"].shape == (39, 1) and w["ps_std"].shape == (39, 1)
    assert w["ps_std"].dtype == np.float32
    assert any("duplicate" in m for m in logs)
    n2 = int(w["ix_weed"].sum())
    assert n2 > 30                                       # low-noise pixels survive
    assert out["ps2"]["n_ps"][0, 0] == n2 and "sort_ix" not in out["ps2"]
    assert out["ph2"]["ph"].shape == (n2, 12) and out["pm2"]["ph_res"].shape == (n2, 11)
    assert out["hgt2"]["hgt"].shape == (n2, 1) and "inc2" not in out
    np.testing.assert_array_equal(out["ps2"]["ij"][:, 0], np.flatnonzero(w["ix_weed"][:, 0]) + 1)


def test_run_neighbours_and_zero_elevation():
    inp = _synthetic()
    inp["ps1"]["ij"][1, 1:] = inp["ps1"]["ij"][0, 1:] + [0, 1]     # pixel 2 next to pixel 1
    inp["select1"]["coh_ps2"][:2, 0] = [0.9, 0.7]
    inp["hgt1"]["hgt"][5, 0] = 0.0
    prm = Params({"weed_neighbours": "y", "weed_zero_elevation": "y", "weed_standard_dev": 10.0,
                  "weed_max_noise": 10.0})
    out = weed.run(inp, prm, KS)
    ixw = out["weed1"]["ix_weed"][:, 0].astype(bool)
    assert ixw[0] and not ixw[1] and not ixw[5]
    assert ixw.sum() == 38 and out["weed1"]["ps_std"].shape == (0, 1)   # noise weeding off


def test_run_fewer_than_three_survivors_keeps_none():
    inp = _synthetic(n=2)
    logs = []
    out = weed.run(inp, Params(), KS, log=logs.append)
    assert out["weed1"]["ix_weed"].sum() == 0 and out["ps2"]["n_ps"][0, 0] == 0
    assert np.all(np.isinf(out["weed1"]["ps_std"]))
    assert any("fewer than 3" in m for m in logs)


# ----------------------------------------------------------------------------- goldens
CASES = [("small-1patch", 1), ("dense-1patch", 1), ("multi-2x2", 1), ("multi-2x2", 2),
         ("multi-2x2", 3), ("multi-2x2", 4)]


def _load_inputs(d):
    inp = {k: load_mat(d / f"{k}.mat") for k in weed.READS}
    for k in weed.OPTIONAL:
        if (d / f"{k}.mat").is_file():
            inp[k] = load_mat(d / f"{k}.mat")
    return inp


@pytest.mark.parametrize("name,patch", CASES)
def test_golden_weed(name, patch):
    d = golden_dir(name) / "stamps" / f"PATCH_{patch}"
    out = weed.run(_load_inputs(d), golden_params(name), KS)
    gw = load_mat(d / "weed1.mat")
    for v in ("ix_weed", "ix_weed2", "ifg_index"):
        np.testing.assert_array_equal(out["weed1"][v], gw[v])
        assert out["weed1"][v].dtype == gw[v].dtype
    for v in ("ps_std", "ps_max"):
        assert out["weed1"][v].dtype == np.float32 and out["weed1"][v].shape == gw[v].shape
    assert np.max(np.abs(out["weed1"]["ps_std"] - gw["ps_std"])) < 5e-5
    assert np.max(np.abs(out["weed1"]["ps_max"] - gw["ps_max"])) < 2e-3
    for art in ("ps2", "ph2", "pm2", "bp2", "la2", "hgt2"):
        g = load_mat(d / f"{art}.mat")
        assert list(out[art]) == list(g), art
        for v, a in out[art].items():
            a = np.asarray(a)
            assert a.dtype == g[v].dtype and a.shape == g[v].shape, f"{art}.{v}"
            np.testing.assert_array_equal(a, g[v], err_msg=f"{art}.{v}")


def test_run_without_optional_inputs():
    inp = _synthetic()
    del inp["hgt1"], inp["la1"]
    logs = []
    out = weed.run(inp, Params({"weed_zero_elevation": "y"}), KS, log=logs.append)
    assert out["hgt2"]["hgt"].shape == (0, 0) and out["la2"]["la"].shape == (0, 0)
    assert "inc2" not in out and any("no hgt1" in m for m in logs)
