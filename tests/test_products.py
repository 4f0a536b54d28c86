"""Mean LOS velocity ('v-d', 'v-do', 'v-dso') against StaMPS' ps_plot outputs."""
from __future__ import annotations

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch import products
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.params import Params
from pystamps_batch.stages import scla, scn

KS = KernelSet.python()
ARTS = ("ps2", "phuw2", "scla2", "scn2", "ifgstd2")


@pytest.fixture(scope="module", params=["small-1patch", "multi-2x2"])
def gold(request):
    name = request.param
    g = golden_dir(name) / "stamps"
    return name, g, {a: load_mat(g / f"{a}.mat") for a in ARTS}


@pytest.mark.parametrize("kind", ["v-d", "v-do", "v-dso"])
def test_velocity_matches_ps_plot(gold, kind):
    name, g, a = gold
    v = products.velocity(*(a[k] for k in ARTS), golden_params(name), kind=kind)
    ref = load_mat(g / f"ps_plot_{kind}.mat")["ph_disp"].ravel()
    assert v.dtype == np.float32 and v.shape == ref.shape
    rms = float(np.sqrt(np.mean((v.astype(np.float64) - ref) ** 2)))
    assert rms < 1e-4                                    # mm/yr
    assert np.abs(v - ref).max() < 1e-4


def test_velocity_chain_from_our_steps_7_and_8(gold):
    """Our scla2 and scn2 (from the golden phuw2) give the golden velocities too."""
    name, g, a = gold
    params = golden_params(name)
    s7 = scla.run({k: a[k] for k in ("ps2", "phuw2", "ifgstd2")} | {"bp2": load_mat(g / "bp2.mat")}, params, KS)
    s8 = scn.run({"ps2": a["ps2"], "phuw2": a["phuw2"], "scla2": s7["scla2"], "ifgstd2": a["ifgstd2"]}, params, KS)
    v = products.velocity(a["ps2"], a["phuw2"], s7["scla2"], s8["scn2"], a["ifgstd2"], params, kind="v-dso")
    ref = load_mat(g / "ps_plot_v-dso.mat")["ph_disp"].ravel()
    assert np.abs(v - ref).max() < 1e-4


def test_velocity_sign_uplift_is_positive():
    """Range decrease (phase -4*pi/lambda*d growing in time) gives a positive velocity."""
    n, N, lam = 50, 10, 0.056
    day = 737000 + np.arange(N) * 36.0
    rng = np.random.default_rng(0)
    xy = np.column_stack([np.arange(1, n + 1), rng.uniform(0, 5000, n), np.sort(rng.uniform(0, 5000, n))])
    ps = {"master_ix": np.array([[1.0]]), "day": day[:, None], "xy": xy.astype(np.float32),
          "lonlat": np.column_stack([15 + xy[:, 1] / 1e5, 40 + xy[:, 2] / 1e5]), "ll0": np.array([[15.0, 40.0]])}
    rate_mm = np.where(np.arange(n) < 25, 10.0, 0.0)          # mm/yr uplift for half the pixels
    d = rate_mm[:, None] * (day - day[0])[None, :] / 365.25 / 1000
    phuw = {"ph_uw": (-4 * np.pi / lam * d).astype(np.float32)}
    v = products.velocity(ps, phuw, None, None, None, Params({"lambda": lam}), kind="v")
    np.testing.assert_allclose(v[:25] - v[25:].mean(), 10.0, atol=1e-3)
    assert v[:25].mean() > v[25:].mean()


def test_bad_kind_rejected():
    with pytest.raises(ValueError, match="unsupported"):
        products._parse_kind("v-dx")
