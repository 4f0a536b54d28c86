"""Step 7 (ps_calc_scla, ps_smooth_scla) and the referencing helpers against the goldens."""
from __future__ import annotations

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch.errors import StageError
from pystamps_batch.geo import llh2local
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.kernels.scla import scla_fit
from pystamps_batch.params import Params
from pystamps_batch.stages import reference, scla

KS = KernelSet.python()


def _inputs(name, with_std=True):
    g = golden_dir(name) / "stamps"
    arts = scla.READS + (scla.OPTIONAL if with_std else ())
    return {a: load_mat(g / f"{a}.mat") for a in arts}


@pytest.fixture(scope="module", params=["small-1patch", "multi-2x2"])
def step7(request):
    name = request.param
    g = golden_dir(name) / "stamps"
    out = scla.run(_inputs(name), golden_params(name), KS)
    return out, load_mat(g / "scla2.mat"), load_mat(g / "scla_smooth2.mat")


def _check_types(ours, gold):
    assert set(ours) == set(gold)
    for v in gold:
        assert ours[v].shape == gold[v].shape and ours[v].dtype == gold[v].dtype, v


def test_scla2_matches_golden(step7):
    out, gold, _ = step7
    s = out["scla2"]
    _check_types(s, gold)
    k, gk = s["K_ps_uw"], gold["K_ps_uw"]
    assert np.abs(k - gk).max() <= 1e-12 * np.abs(gk).max()
    np.testing.assert_array_equal(s["ph_scla"], gold["ph_scla"])
    assert np.abs(s["C_ps_uw"] - gold["C_ps_uw"]).max() <= 1e-6          # a few float32 ulps
    assert (s["C_ps_uw"] == gold["C_ps_uw"]).mean() > 0.5
    np.testing.assert_array_equal(s["ifg_vcm"], gold["ifg_vcm"])


def test_scla_smooth2_matches_golden(step7):
    out, gold2, gold = step7
    s = out["scla_smooth2"]
    _check_types(s, gold)
    # the same pixels are clamped (the Delaunay neighbourhoods agree with triangle's)
    np.testing.assert_array_equal(s["K_ps_uw"] != out["scla2"]["K_ps_uw"], gold["K_ps_uw"] != gold2["K_ps_uw"])
    assert np.abs(s["K_ps_uw"] - gold["K_ps_uw"]).max() <= 1e-12 * np.abs(gold["K_ps_uw"]).max()
    np.testing.assert_array_equal(s["ph_scla"], gold["ph_scla"])
    assert np.abs(s["C_ps_uw"] - gold["C_ps_uw"]).max() <= 1e-6


def test_golden_used_ifgstd_covariance_not_identity():
    """Octave's F.2 quirk did not bite the golden run: identity covariance misses C by far."""
    name = "small-1patch"
    out = scla.calc_scla(*(_inputs(name, False)[a] for a in ("ps2", "bp2", "phuw2")), None,
                         golden_params(name), KS)
    gold = load_mat(golden_dir(name) / "stamps" / "scla2.mat")
    assert np.abs(out["C_ps_uw"] - gold["C_ps_uw"]).max() > 1e-2
    np.testing.assert_array_equal(out["ph_scla"], gold["ph_scla"])      # K does not use it


def test_scla_kernel_recovers_exact_model():
    """Shared baselines, no master AOE: K exact, C = 0 (the fit uses the scene-mean dB)."""
    rng = np.random.default_rng(3)
    n, nu, mpos = 200, 12, 4
    day = np.sort(rng.uniform(0, 1500, nu)) + 737000
    B = np.tile(rng.normal(0, 100, nu), (n, 1)).astype(np.float32)
    B[:, mpos] = 0
    K = rng.normal(0, 5e-3, n)
    v = rng.normal(0, 2e-3, n)
    ph = (K[:, None] * B + v[:, None] * (day - day[mpos])).astype(np.float32)
    kk, cc = scla_fit(ph, B, day, mpos, np.full(nu, 10.0))
    assert np.abs(kk - K).max() < 1e-5 * np.abs(K).max()
    assert np.abs(cc).max() < 1e-4
    assert kk.dtype == np.float64 and cc.dtype == np.float32
    kk3, _ = scla_fit(ph[:, :3], B[:, :3], day[:3], None, master_day=day[mpos])   # < 4 images: no dt column
    assert kk3.shape == (n,)


def test_empty_reference_set_is_an_error():
    name = "small-1patch"
    params = golden_params(name).replace(ref_lon=[0.0, 1.0], ref_lat=[0.0, 1.0])
    with pytest.raises(StageError, match=r"ref_lon=\[0, 1\] ref_lat=\[0, 1\]"):
        scla.run(_inputs(name), params, KS)
    ps = _inputs(name)["ps2"]
    with pytest.raises(StageError, match="ref_radius"):
        reference.setref(ps, Params({"ref_radius": -np.inf}))


def test_setref_radius_selects_disc():
    ps = _inputs("small-1patch")["ps2"]
    ll = ps["lonlat"]
    centre = ll[len(ll) // 2]
    ix = reference.setref(ps, Params({"ref_centre_lonlat": list(centre), "ref_radius": 500.0}))
    assert 0 < ix.size < len(ll)
    xy = llh2local(ll, ps["ll0"])
    c = llh2local(centre[None], ps["ll0"])[0]
    d = np.hypot(*(xy - c).T)
    np.testing.assert_array_equal(np.sort(ix), np.flatnonzero(d <= 500.0))


def test_deramp_removes_plane_and_skips_sparse_columns():
    rng = np.random.default_rng(0)
    xy = np.column_stack([np.arange(50), rng.uniform(0, 5000, 50), rng.uniform(0, 5000, 50)]).astype(np.float32)
    ph = np.zeros((50, 3), np.float32)
    ph[:, 0] = 0.3 * xy[:, 1] / 1000 - 0.2 * xy[:, 2] / 1000 + 1.0
    ph[:, 1] = np.nan
    ph[:6, 1] = 1.0             # 6 valid > 5: fitted
    ph[:, 2] = np.nan
    ph[:5, 2] = 1.0             # 5 valid: not fitted
    out, ramp = reference.deramp(xy, ph)
    assert np.abs(out[:, 0]).max() < 1e-5
    assert np.abs(out[:6, 1]).max() < 1e-5
    assert np.isnan(ramp[:, 2]).all() and np.array_equal(out[:5, 2], ph[:5, 2])


def test_clamp_isolated_pixel_keeps_value():
    edges = np.array([[0, 1], [1, 2], [0, 2]])
    vals = np.array([5.0, 1.0, 2.0, 7.0])
    out = scla.clamp_to_neighbours(vals, edges)
    np.testing.assert_array_equal(out, [2.0, 2.0, 2.0, 7.0])
