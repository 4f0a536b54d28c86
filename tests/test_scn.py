"""Step 8 (ps_scn_filt) and its mean_v output against the goldens."""
from __future__ import annotations

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch.errors import StageError
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.kernels.scn import edge_highpass, temporal_weights
from pystamps_batch.stages import scn

KS = KernelSet.python()


@pytest.fixture(scope="module", params=["small-1patch", "multi-2x2"])
def step8(request):
    name = request.param
    g = golden_dir(name) / "stamps"
    inp = {a: load_mat(g / f"{a}.mat") for a in scn.READS + scn.OPTIONAL}
    out = scn.run(inp, golden_params(name), KS)
    return out, load_mat(g / "scn2.mat"), load_mat(g / "mean_v.mat")


def test_scn2_matches_golden(step8):
    out, gold, _ = step8
    s = out["scn2"]
    assert set(s) == set(gold)
    for v in gold:
        assert s[v].shape == gold[v].shape and s[v].dtype == gold[v].dtype, v
    # same arcs as triangle's and the same integration: ph_hpt to float32 rounding
    assert np.abs(s["ph_hpt"] - gold["ph_hpt"]).max() <= 1e-6
    assert np.abs(s["ph_scn_slave"] - gold["ph_scn_slave"]).max() <= 1e-5
    assert not s["ph_scn_slave"][0].any()
    m = np.flatnonzero(~gold["ph_scn_slave"].any(axis=0))
    assert not s["ph_scn_slave"][:, m].any()


def test_mean_v_is_the_v_dso_fit(step8):
    out, _, gold = step8
    m = out["mean_v"]["m"]
    assert m.shape == gold["m"].shape and m.dtype == np.float32
    assert np.abs(m[0] - gold["m"][0]).max() <= 1e-5          # rad
    assert np.abs(m[1] - gold["m"][1]).max() <= 1e-7          # rad/day


def test_edge_highpass_matches_direct_formula():
    rng = np.random.default_rng(0)
    n, nu = 30, 9
    ph = rng.normal(0, 2, (n, nu)).astype(np.float32)
    edges = np.array([[i, i + 1] for i in range(n - 1)])
    day = np.sort(rng.uniform(0, 1000, nu))
    hp = edge_highpass(ph, edges, day, 365.0, 3)
    d = (ph[edges[:, 1]] - ph[edges[:, 0]]).astype(np.float64)
    w = np.exp(-(day[:, None] - day[None, :]) ** 2 / (2 * 365.0 ** 2))
    w[:, 3] = 0
    w /= w.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(hp, d - d @ w.T, atol=1e-5)
    np.testing.assert_allclose(temporal_weights(day, 365.0, None).sum(axis=1), 1.0)


def test_integrate_arcs_fixes_each_component():
    # pixels 0-1-2 connected, 3-4 a separate component, 5 isolated
    edges = np.array([[0, 1], [1, 2], [0, 2], [3, 4]])
    x_true = np.array([0.0, 1.0, 3.0, 0.0, -2.0, 0.0])
    hp = (x_true[edges[:, 1]] - x_true[edges[:, 0]])[:, None]
    x = scn.integrate_arcs(edges, hp, 6)
    np.testing.assert_allclose(x[:, 0], x_true, atol=1e-12)


def test_spatial_lowpass_radius_is_strict():
    xy = np.array([[1, 0, 0], [2, 400, 0], [3, 399.5, 0]], dtype=np.float32)
    ph = np.array([[0.0], [100.0], [10.0]], dtype=np.float32)
    out = scn.spatial_lowpass(xy, ph, 100.0)
    w = np.exp(-399.5 ** 2 / (2 * 100.0 ** 2))
    assert out[0, 0] == pytest.approx(10 * w / (1 + w), rel=1e-5)   # pixel at exactly 400 m left out


def test_stale_scla2_row_mismatch_is_an_error():
    g = golden_dir("small-1patch") / "stamps"
    inp = {a: load_mat(g / f"{a}.mat") for a in ("ps2", "phuw2", "scla2")}
    inp["scla2"] = {k: (v[:-1] if v.ndim == 2 and v.shape[0] > 1 and k != "ifg_vcm" else v)
                    for k, v in inp["scla2"].items()}
    with pytest.raises(StageError, match="scla2"):
        scn.run(inp, golden_params("small-1patch"), KS)
