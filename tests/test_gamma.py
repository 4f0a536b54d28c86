"""Stage 2 (ps_est_gamma_quick): parity with the Octave golden pm1.mat, weights, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch.errors import StageError
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.stages import gamma
from pystamps_batch.stages.gamma_weights import (octave_fir1_lowpass, octave_interp, random_draws,
                                                 snr_weights)

CASES = [("small-1patch", 1), ("dense-1patch", 1), ("multi-2x2", 4)]
_cache: dict = {}


def _inputs(name, patch):
    d = golden_dir(name) / "stamps" / f"PATCH_{patch}"
    return {k: load_mat(d / f"{k}.mat") for k in ("ps1", "ph1", "bp1", "da1", "la1")}


def _golden(name, patch):
    return load_mat(golden_dir(name) / "stamps" / f"PATCH_{patch}" / "pm1.mat")


def _run(name, patch):
    key = (name, patch)
    if key not in _cache:
        _cache[key] = gamma.run(_inputs(name, patch), golden_params(name), KernelSet.python())["pm1"]
    return _cache[key]


@pytest.mark.parametrize("name,patch", CASES)
def test_pm1_matches_golden(name, patch):
    out, g = _run(name, patch), _golden(name, patch)
    assert set(out) == set(g)
    for k in g:
        assert out[k].shape == g[k].shape, k
        assert out[k].dtype == g[k].dtype, k
    c, cg = out["coh_ps"].ravel(), g["coh_ps"].ravel()
    assert np.corrcoef(c, cg)[0, 1] >= 0.999
    assert np.mean(np.abs(c - cg) > 1e-3) == 0.0
    assert np.abs(c - cg).max() < 1e-5
    assert out["i_loop"][0, 0] == g["i_loop"][0, 0]
    assert np.abs(out["K_ps"] - g["K_ps"]).max() < 1e-6
    np.testing.assert_allclose(out["Nr"], g["Nr"], rtol=1e-9, atol=0)
    assert out["Nr_max_nz_ix"][0, 0] == g["Nr_max_nz_ix"][0, 0]
    np.testing.assert_array_equal(out["grid_ij"], g["grid_ij"])
    np.testing.assert_allclose(out["n_trial_wraps"], g["n_trial_wraps"], rtol=1e-12)
    np.testing.assert_allclose(out["gamma_change_save"], g["gamma_change_save"], rtol=1e-5)
    # P-square weights of the last iteration (|ph_weight| = w, Octave interp variant)
    np.testing.assert_allclose(np.abs(out["ph_weight"]), np.abs(g["ph_weight"]), rtol=0, atol=1e-6)
    assert np.abs(out["ph_patch"] - g["ph_patch"]).max() < 1e-5
    dres = np.angle(np.exp(1j * (out["ph_res"].astype(float) - g["ph_res"])))
    assert np.abs(dres).max() < 1e-4
    np.testing.assert_allclose(out["low_pass"], g["low_pass"], atol=1e-12)


def test_random_draws_match_octave_stream():
    d = random_draws(300000, 2)
    assert d.shape == (300000, 2)
    np.testing.assert_allclose(d[:3, 0], [0.450371, 0.076402, 0.209462], atol=1e-6)


def test_octave_fir1_is_not_firwin():
    from scipy import signal

    b = octave_fir1_lowpass(81, 0.05)
    assert b.size == 82
    assert b.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(b, b[::-1], atol=1e-15)
    assert np.abs(b - signal.firwin(82, 0.05)).max() > 1e-4   # frequency sampling, not windowed sinc


def test_octave_interp_shift_and_length():
    y = octave_interp(np.ones(101), 10)
    assert y.size == 1010
    # zero-padded start: the first output is not the input sample (Octave's interp, spec C.2.2)
    assert 0.4 < y[0] < 0.95
    assert y[300] == pytest.approx(1.0, abs=1e-2)


def test_snr_weights():
    amp = np.ones((2, 4))
    res = np.array([[0.0, 0.0, 0.0, 0.0], [0.3, -0.2, 0.1, -0.4]])
    w = snr_weights(amp, res)
    assert w[0] == 0.0                          # sigma = 0
    g = np.cos(res[1]).mean()
    assert w[1] == pytest.approx(g / np.sqrt(0.5 * (1 - g * g)))


def _subset(inputs, rows):
    out = {}
    for art, d in inputs.items():
        out[art] = dict(d)
    out["ph1"]["ph"] = inputs["ph1"]["ph"][rows]
    out["bp1"]["bperp_mat"] = inputs["bp1"]["bperp_mat"][rows]
    out["da1"]["D_A"] = inputs["da1"]["D_A"][rows]
    out["la1"]["la"] = inputs["la1"]["la"][rows]
    out["ps1"]["xy"] = inputs["ps1"]["xy"][rows]
    return out


def test_zero_phase_pixel_and_snr_branch():
    inp = _inputs("multi-2x2", 4)
    inp["ph1"] = {"ph": inp["ph1"]["ph"].copy()}
    inp["ph1"]["ph"][10, 3] = 0                              # a zero value (not the master column)
    master = int(inp["ps1"]["master_ix"][0, 0])
    assert master != 4
    p = golden_params("multi-2x2").replace(filter_weighting="SNR", gamma_max_iterations=2)
    out = gamma.run(inp, p, KernelSet.python())["pm1"]
    assert np.isnan(out["K_ps"][10, 0]) and out["coh_ps"][10, 0] == 0.0
    assert out["N_opt"][10, 0] == 0.0
    ok = np.ones(out["coh_ps"].shape[0], bool)
    ok[10] = False
    assert np.isfinite(out["K_ps"][ok]).all()
    g = _golden("multi-2x2", 4)["coh_ps"].ravel()
    assert np.corrcoef(out["coh_ps"].ravel()[ok], g[ok])[0, 1] > 0.95   # SNR weights: similar, not equal
    assert out["i_loop"][0, 0] == 2


def test_bad_inputs_raise_stage_error():
    inp = _inputs("small-1patch", 1)
    p = golden_params("small-1patch")
    ks = KernelSet.python()
    bad = dict(inp)
    bad["ph1"] = {"ph": inp["ph1"]["ph"].copy()}
    bad["ph1"]["ph"][[1, 5, 9], 2] = np.nan
    with pytest.raises(StageError, match="3 NaN"):
        gamma.run(bad, p, ks)
    empty = _subset(inp, np.zeros(0, dtype=np.int64))
    with pytest.raises(StageError, match="no PS candidates"):
        gamma.run(empty, p, ks)
    xy = inp["ps1"]["xy"]
    small = (xy[:, 1] - xy[:, 1].min() < 1000) & (xy[:, 2] - xy[:, 2].min() < 3000)
    with pytest.raises(StageError, match=r"grid is \d+ x 19 cells of 50 m; CLAP needs at least 24 x 24"):
        gamma.run(_subset(inp, np.flatnonzero(small)), p, ks)
