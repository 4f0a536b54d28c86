"""Native kernels equal the python reference kernels (property tests on random inputs).

Every kernel is run through the registry's two backends on the same hypothesis-drawn
inputs, including empty inputs, a single pixel, NaN values and non-contiguous views.

Bounds (documented in the kernels' modules):

* float64 paths agree to 1e-10 relative: ``stage2_topofit_coh_row_invariant``,
  ``stage2_random_phase_coh``, ``stage7_scla`` K; for the f64 CLAP (``stage2_clap_filter``)
  the FFTs differ (pocketfft vs radix-2 passes) and the bound is 1e-10 of the largest
  output value;
* exact: ``stage2_histogram``, ``stage2_grid_accumulate`` (f64 sums in pixel order),
  ``stage8_edge_noise`` (the same f32 operations in the same order);
* float32 paths: values agree to a few f32 ulps.  The python backend sums through BLAS
  (order and fused multiply-adds unknown) and uses glibc's f32 sin/cos/atan2, the native
  one sums in a fixed order and rounds f64 sin/cos/atan2 once; so ``stage2_topofit*``
  trial coherences can tie differently only where two trials are equal to f32 precision
  (such rows are excluded by requiring a clear peak), K/C/gamma/residuals agree to 1e-5;
  CLAP in f32 and ``stage3_patch_phase`` to 2e-5 of the largest value;
  ``stage4_edge_stats`` to 1e-5 rad (inputs keep the arc noise away from +-pi, where an
  ulp decides the wrap); ``stage7_scla`` C to 1e-6 of the scale.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pystamps_batch.config import RuntimeConfig
from pystamps_batch.kernels.registry import NATIVE_IMPL, PYTHON_IMPL, KernelSet, native_available

pytestmark = pytest.mark.skipif(not native_available()[0], reason="native extension not built")

PY = KernelSet.python()
NAT = KernelSet(RuntimeConfig(backend="native", stage2_kernel_backend="native")) if native_available()[0] else None
SET = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def both(name, *args, **kw):
    """(python result, native result) of kernel ``name``; native with 2 threads."""
    return PY.call(name, *args, **kw), NAT.get(name)(*args, threads=2, **kw)


def layout(a: np.ndarray, how: str) -> np.ndarray:
    """The same values as a C array, a Fortran array or a strided view."""
    if how == "F":
        return np.asfortranarray(a)
    if how == "strided":
        big = np.zeros((a.shape[0], 2 * a.shape[1]) if a.ndim == 2 else (2 * a.shape[0],), a.dtype)
        if a.ndim == 2:
            big[:, ::2] = a
            return big[:, ::2]
        big[::2] = a
        return big[::2]
    return a


LAYOUTS = st.sampled_from(["C", "F", "strided"])


def test_every_kernel_has_both_backends():
    assert set(NATIVE_IMPL) == set(PYTHON_IMPL)


# ------------------------------------------------------------------------- stage 2 small
@SET
@given(st.lists(st.one_of(st.floats(-2, 3, allow_nan=False), st.just(float("nan")),
                          st.sampled_from([0.01, 0.02, 0.995, 0.0, 1.0, np.inf, -np.inf])), max_size=300),
       LAYOUTS)
def test_histogram_equal(values, how):
    v = layout(np.array(values, dtype=np.float64), how)
    p, n = both("stage2_histogram", v)
    np.testing.assert_array_equal(n, p)


def test_histogram_large_input_parallel_path():
    v = np.random.default_rng(1).uniform(-0.1, 1.1, 300_000)
    v[::97] = np.nan
    p, n = both("stage2_histogram", v)
    np.testing.assert_array_equal(n, p)


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(0, 120), m=st.integers(1, 7), nc=st.integers(1, 40),
       nan=st.booleans(), how=LAYOUTS)
def test_grid_accumulate_equal(seed, n, m, nc, nan, how):
    rng = np.random.default_rng(seed)
    v = (rng.normal(size=(n, m)) + 1j * rng.normal(size=(n, m))).astype(np.complex64)
    if nan and n:
        v[rng.integers(0, n), rng.integers(0, m)] = np.nan
    cell = rng.integers(0, nc, n)
    p, q = both("stage2_grid_accumulate", layout(v, how), cell, nc)
    assert q.dtype == np.complex64 and q.shape == (nc, m)
    np.testing.assert_array_equal(q, p)


# ------------------------------------------------------------------------- topofit
def _random_case(seed, n, m, zeros):
    rng = np.random.default_rng(seed)
    b = rng.normal(0, 100, size=(n, m)).astype(np.float32)
    K = rng.uniform(-0.01, 0.01, n)
    ph = np.exp(1j * (K[:, None] * b + rng.normal(0, 0.3, (n, m)))).astype(np.complex64)
    if zeros:
        ph[rng.random((n, m)) < 0.1] = 0
    return ph, b


def _clear_peak(ph, b, ntw, margin=1e-4):
    """Rows whose best trial beats the second best by ``margin`` (float64 evaluation)."""
    h = int(np.ceil(8 * ntw))
    t = np.arange(-h, h + 1)
    ok = np.zeros(ph.shape[0], bool)
    for p in range(ph.shape[0]):
        bp = b[p] if b.ndim == 2 else b
        keep = (ph[p] != 0) & np.isfinite(ph[p])
        z, bb = ph[p, keep].astype(complex), bp[keep].astype(float)
        if z.size == 0 or np.ptp(bb) == 0:
            ok[p] = True
            continue
        kt = t * np.pi / 4 / np.ptp(bb)
        g = np.sort(np.abs(np.exp(-1j * np.outer(bb, kt)).T @ z) / np.abs(z).sum())
        ok[p] = g.size < 2 or g[-1] - g[-2] > margin
    return ok


def _check_fit(P, N, clear):
    Kp, Cp, gp, rp = P
    Kn, Cn, gn, rn = N
    assert Kn.shape == Kp.shape and rn.shape == rp.shape and rn.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(Kn), np.isnan(Kp))
    np.testing.assert_allclose(gn[clear], gp[clear], atol=2e-5, equal_nan=True)
    np.testing.assert_allclose(Kn[clear], Kp[clear], atol=1e-6, equal_nan=True)
    same = clear & np.isfinite(Kp)
    dC = np.angle(np.exp(1j * (Cn[same] - Cp[same])))
    assert np.all(np.abs(dC) < 1e-4)
    dr = np.angle(np.exp(1j * (rn[same] - rp[same])))
    assert np.all(np.abs(dr) < 1e-4)
    np.testing.assert_array_equal(rn[~np.isfinite(Kp)] == 0, rp[~np.isfinite(Kp)] == 0)


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(0, 40), m=st.integers(1, 25), zeros=st.booleans(),
       ntw=st.floats(0.1, 2.0), how=LAYOUTS)
def test_topofit_native_matches_python(seed, n, m, zeros, ntw, how):
    ph, b = _random_case(seed, n, m, zeros)
    P, N = both("stage2_topofit", layout(ph, how), layout(b, how), ntw)
    _check_fit(P, N, _clear_peak(ph, b, ntw))


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(0, 40), m=st.integers(1, 25), zeros=st.booleans(),
       ntw=st.floats(0.1, 2.0), how=LAYOUTS)
def test_topofit_row_invariant_native_matches_python(seed, n, m, zeros, ntw, how):
    ph, b = _random_case(seed, n, m, zeros)
    row = b[0] if n else np.random.default_rng(seed).normal(0, 100, m).astype(np.float32)
    P, N = both("stage2_topofit_row_invariant", layout(ph, how), row, ntw)
    _check_fit(P, N, _clear_peak(ph, row, ntw))


def test_topofit_all_zero_nan_and_single_pixel_rows():
    ph, b = _random_case(3, 4, 9, False)
    ph[0] = 0                       # no information: K = C = NaN, gamma 0
    ph[1, 2] = np.nan + 0j          # NaN propagates to that pixel's fit
    for name, bb in (("stage2_topofit", b), ("stage2_topofit_row_invariant", b[0])):
        P, N = both(name, ph, bb, 0.7)
        assert np.isnan(N[0][0]) and N[2][0] == 0 and np.all(N[3][0] == 0)
        np.testing.assert_array_equal(np.isnan(N[2]), np.isnan(P[2]))
        _check_fit(P, N, _clear_peak(ph, bb, 0.7) & np.isfinite(ph).all(axis=1))
        P1, N1 = both(name, ph[3:4], bb[3:4] if bb.ndim == 2 else bb, 0.7)
        _check_fit(P1, N1, np.ones(1, bool))


def test_topofit_row_invariant_equals_generic_with_repeated_rows():
    ph, b = _random_case(3, 30, 12, False)
    row = b[0]
    K1, C1, g1, r1 = NAT.stage2_topofit_row_invariant(ph, row, 0.7)
    K2, C2, g2, r2 = NAT.stage2_topofit(ph, np.tile(row, (30, 1)), 0.7)
    np.testing.assert_array_equal(K1, K2)
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(r1, r2)


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(0, 60), m=st.integers(1, 25), ntw=st.floats(0.1, 2.0),
       zeros=st.booleans(), how=LAYOUTS)
def test_topofit_coh_float64_matches_python(seed, n, m, ntw, zeros, how):
    rng = np.random.default_rng(seed)
    ph = np.exp(2j * np.pi * rng.random((n, m)))
    if zeros:
        ph[rng.random((n, m)) < 0.15] = 0
    b = rng.normal(0, 100, m)
    p, q = both("stage2_topofit_coh_row_invariant", layout(ph, how), b, ntw)
    np.testing.assert_allclose(q, p, rtol=1e-10, atol=1e-12)


@SET
@given(n=st.integers(0, 700), m=st.integers(1, 25), ntw=st.floats(0.1, 2.0), seed=st.integers(1, 5000))
def test_random_phase_coh_float64_matches_python(n, m, ntw, seed):
    b = np.random.default_rng(seed).normal(0, 100, m)
    p, q = both("stage2_random_phase_coh", b, ntw, n, seed)
    assert q.shape == (n,)
    np.testing.assert_allclose(q, p, rtol=1e-10, atol=1e-12)


def test_random_phase_coh_stamps_size():
    """The StaMPS reference (300000 draws of rand('state', 2005)): the same histogram."""
    from pystamps_batch.matlab import COH_BINS, hist_centres

    b = np.linspace(-300, 400, 20)
    p, q = both("stage2_random_phase_coh", b, 0.41, 300000, 2005)
    np.testing.assert_allclose(q, p, rtol=1e-10)
    np.testing.assert_array_equal(hist_centres(q, COH_BINS), hist_centres(p, COH_BINS))


# ------------------------------------------------------------------------- CLAP
def _lp(n=32):
    from pystamps_batch.filters.clap import low_pass_filter

    return low_pass_filter(50.0, n, 800.0)


@SET
@given(seed=st.integers(0, 10**6), ni=st.integers(18, 50), nj=st.integers(18, 50), m=st.integers(0, 3),
       nan=st.booleans(), how=st.sampled_from(["C", "F", "flip"]), alpha=st.sampled_from([1.0, 0.6]))
def test_clap_stack_float64(seed, ni, nj, m, nan, how, alpha):
    rng = np.random.default_rng(seed)
    g = (rng.normal(size=(ni, nj, m)) + 1j * rng.normal(size=(ni, nj, m))).astype(np.complex64)
    if nan and m:
        g[rng.integers(0, ni), rng.integers(0, nj), 0] = np.nan
    gv = np.asfortranarray(g) if how == "F" else (g[::-1, ::-1][::-1, ::-1] if how == "flip" else g)
    try:
        p = PY.call("stage2_clap_filter", gv, alpha, 0.3, 24, 8, _lp())
    except ValueError as exc:                   # grids of n_win-5 .. n_win-1 cells: StaMPS errors
        with pytest.raises(ValueError, match="smaller than the window"):
            NAT.get("stage2_clap_filter")(gv, alpha, 0.3, 24, 8, _lp(), threads=2)
        assert "smaller than the window" in str(exc)
        return
    q = NAT.get("stage2_clap_filter")(gv, alpha, 0.3, 24, 8, _lp(), threads=2)
    assert q.shape == p.shape == (ni, nj, m) and q.dtype == np.complex128
    scale = np.abs(p).max() if p.size else 0.0
    np.testing.assert_allclose(q, p, rtol=0, atol=1e-10 * scale + 1e-300)


def test_clap_stack_float32_and_error_message():
    rng = np.random.default_rng(4)
    g = (rng.normal(size=(40, 44, 2)) + 1j * rng.normal(size=(40, 44, 2))).astype(np.complex64)
    p, q = both("stage2_clap_filter", g, 1.0, 0.3, 24, 8, _lp().astype(np.float32), dtype=np.complex64)
    assert q.dtype == np.complex64
    np.testing.assert_allclose(q, p, rtol=0, atol=2e-5 * np.abs(p).max())
    for name in ("python", "native"):
        ks = PY if name == "python" else NAT
        with pytest.raises(ValueError, match="smaller than the window"):
            ks.call("stage2_clap_filter", g[:20], 1.0, 0.3, 24, 8, _lp())


@SET
@given(seed=st.integers(0, 10**6), nb=st.integers(0, 6), single=st.booleans(), nan=st.booleans(),
       alpha=st.sampled_from([1.0, 0.8]))
def test_clap_patch(seed, nb, single, nan, alpha):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(nb, 2, 32, 32)) + 1j * rng.normal(size=(nb, 2, 32, 32))
    b = b.astype(np.complex64 if single else np.complex128)
    if nan and nb:
        b[0, 1, 3, 4] = np.nan
    p, q = both("stage3_clap_filt_patch", b, alpha, 0.3, _lp())
    assert q.shape == p.shape and q.dtype == p.dtype
    if p.size:
        tol = 2e-5 if single else 1e-10
        np.testing.assert_allclose(q, p, rtol=0, atol=tol * np.abs(p).max())


@SET
@given(seed=st.integers(0, 10**6), ni=st.integers(20, 45), nj=st.integers(20, 45), m=st.integers(0, 3),
       nc=st.integers(0, 12), osf=st.sampled_from([1, 1, 2]), nan=st.booleans(), how=st.sampled_from(["C", "F"]))
def test_patch_phase(seed, ni, nj, m, nc, osf, nan, how):
    assume(m > 0 or osf == 1)          # (the python backend indexes ifg 0 for osf > 1)
    rng = np.random.default_rng(seed)
    g = (rng.normal(size=(ni, nj, m)) + 1j * rng.normal(size=(ni, nj, m))).astype(np.complex64)
    if nan and m:
        g[rng.integers(0, ni), rng.integers(0, nj), rng.integers(0, m)] = np.nan
    cells = np.unique(np.stack([rng.integers(1, ni + 1, nc), rng.integers(1, nj + 1, nc)], axis=1), axis=0)
    gv = np.asfortranarray(g) if how == "F" else g
    (P, fp), (Q, fq) = both("stage3_patch_phase", gv, cells, 32, osf, 1.0, 0.3, _lp())
    np.testing.assert_array_equal(fq, fp)
    assert Q.shape == P.shape == (cells.shape[0], m) and Q.dtype == np.complex64
    assert np.all(Q[~fq] == 0)
    if P.size:
        np.testing.assert_allclose(Q, P, rtol=0, atol=2e-5 * max(np.abs(P).max(), 1e-30))


# ------------------------------------------------------------------------- stages 4, 7, 8
def _arc_case(seed, n, u, noise=0.3):
    """Phasors with a smooth phase history plus small noise: the arc noise stays far from +-pi."""
    rng = np.random.default_rng(seed)
    day = 737000.0 + np.cumsum(rng.integers(6, 48, u)).astype(np.float64)
    bp = rng.normal(0, 120, u)
    bp[u // 2] = 0
    trend = rng.normal(0, 0.01, n)[:, None] * (day - day[0])[None, :] / 30
    ph = np.exp(1j * (trend + rng.normal(0, noise, (n, u)))).astype(np.complex64)
    return ph, day, bp


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(2, 60), u=st.integers(3, 24), ne=st.integers(0, 150),
       tw=st.floats(20, 400), how=LAYOUTS)
def test_edge_stats(seed, n, u, ne, tw, how):
    ph, day, bp = _arc_case(seed, n, u)
    rng = np.random.default_rng(seed + 1)
    a = rng.integers(0, n, ne)
    edges = np.stack([a, (a + 1 + rng.integers(0, n - 1, ne)) % n], axis=1)
    (sp, mp), (sn, mn) = both("stage4_edge_stats", layout(ph, how), edges, day, bp, tw)
    assert sn.dtype == mn.dtype == np.float32 and sn.shape == (ne,)
    np.testing.assert_allclose(sn, sp, rtol=0, atol=1e-5, equal_nan=True)
    np.testing.assert_allclose(mn, mp, rtol=0, atol=1e-5, equal_nan=True)


def test_edge_stats_single_arc_and_nan():
    ph, day, bp = _arc_case(5, 6, 8)
    (sp, mp), (sn, mn) = both("stage4_edge_stats", ph, np.array([[0, 1]]), day, bp, 100.0)
    np.testing.assert_array_equal(np.isnan(sn), np.isnan(sp))       # one arc: variance NaN
    ph[2, 3] = np.nan
    e = np.array([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
    (sp, mp), (sn, mn) = both("stage4_edge_stats", ph, e, day, bp, 100.0)
    np.testing.assert_array_equal(np.isnan(sn), np.isnan(sp))
    np.testing.assert_array_equal(np.isnan(mn), np.isnan(mp))


def _scla_case(seed, n, u):
    rng = np.random.default_rng(seed)
    day = 737000.0 + np.cumsum(rng.integers(6, 48, u)).astype(np.float64)
    B = (rng.normal(0, 150, u)[None, :] + rng.normal(0, 3, (n, u))).astype(np.float32)
    mpos = int(rng.integers(0, u))
    B[:, mpos] = 0
    ph = (rng.uniform(-0.003, 0.003, n)[:, None] * B + rng.normal(0, 0.5, (n, u))).astype(np.float32)
    return ph, B, day, mpos, rng.uniform(5, 40, u)


def _check_scla(P, N):
    (Kp, Cp), (Kn, Cn) = P, N
    assert Kn.dtype == np.float64 and Cn.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(Kn), np.isnan(Kp))
    sk = np.nanmax(np.abs(Kp)) if np.isfinite(Kp).any() else 0.0
    np.testing.assert_allclose(Kn, Kp, rtol=1e-10, atol=1e-12 * sk, equal_nan=True)
    sc = np.nanmax(np.abs(Cp)) if np.isfinite(Cp).any() else 0.0
    np.testing.assert_allclose(Cn, Cp, rtol=0, atol=1e-6 * (1 + sc), equal_nan=True)


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(1, 80), u=st.integers(3, 20), with_std=st.booleans(),
       master=st.booleans(), nan=st.booleans(), how=LAYOUTS)
def test_scla_l2(seed, n, u, with_std, master, nan, how):
    ph, B, day, mpos, std = _scla_case(seed, n, u)
    if nan and n:
        ph[n // 2, 1] = np.nan
    args = (layout(ph, how), layout(B, how), day, mpos if master else None, std if with_std else None, "L2")
    P, N = both("stage7_scla", *args, master_day=float(day[0]) - 10.0)
    _check_scla(P, N)


def test_scla_l1_follows_fminsearch():
    """L1 refines each pixel by Nelder-Mead step for step as scipy's fmin.  The objective
    (sum |A x - y|) is summed in another order than NumPy/BLAS, so where two simplex
    vertices tie to rounding the paths can part; the bound is then fmin's own tolerance
    (xtol 1e-4 on the parameters).  Most pixels follow the same path exactly."""
    ph, B, day, mpos, std = _scla_case(11, 40, 9)
    (Kp, Cp), (Kn, Cn) = both("stage7_scla", ph, B, day, mpos, std, "L1")
    same = np.isclose(Kn, Kp, rtol=1e-8, atol=1e-15)
    assert same.mean() >= 0.75, same.mean()
    np.testing.assert_allclose(Kn, Kp, rtol=0, atol=1e-4)
    np.testing.assert_allclose(Cn[same], Cp[same], atol=1e-5)


@SET
@given(seed=st.integers(0, 10**6), n=st.integers(1, 60), u=st.integers(1, 20), ne=st.integers(0, 200),
       tw=st.floats(5, 500), master=st.booleans(), nan=st.booleans(), how=LAYOUTS)
def test_edge_noise_exact(seed, n, u, ne, tw, master, nan, how):
    rng = np.random.default_rng(seed)
    ph = rng.normal(0, 2, (n, u)).astype(np.float32)
    if nan:
        ph[rng.integers(0, n), rng.integers(0, u)] = np.nan
    day = 737000.0 + np.cumsum(rng.integers(1, 60, u)).astype(np.float64)
    edges = rng.integers(0, n, (ne, 2))
    mpos = int(rng.integers(0, u)) if master and u > 1 else None
    p, q = both("stage8_edge_noise", layout(ph, how), edges, day, tw, mpos)
    assert q.dtype == np.float32 and q.shape == (ne, u)
    np.testing.assert_array_equal(q, p)


# ------------------------------------------------------------------------- whole pipeline
#: Variables where ``verify --profile strict`` may differ between the backends, and why:
#: * ``ph_res`` / ``ph_res2`` / ``C_ps2`` (wrapped angles after the step-3 re-estimation):
#:   the patch phase P2 of a few pixels is a near-cancelling float32 CLAP sum (|P2| ~ 1e-3
#:   of the typical value); both backends evaluate it in single precision with different
#:   FFTs, so its angle, and the residuals built on it, differ by up to a few 1e-5 rad on
#:   ~1e-4 of the values (strict allows 1e-5);
#: * ``msd`` (stage 6): snaphu's costs are integers rounded from float32 inputs, so an ulp
#:   can move snaphu's solution in cells without PS, which changes this grid-wide mean
#:   square difference by ~1 % (the unwrapped phase of every PS agrees to 2e-6 rad).
STRICT_EXCEPTIONS = {"ph_res": 1e-4, "ph_res2": 1e-4, "C_ps2": 1e-4, "msd": None}


def test_pipeline_native_equals_python(tmp_path_factory, tmp_path):
    """Stages 1-8 with ``backend: native`` against ``backend: python`` on a small generated
    dataset: the PS sets and every per-pixel decision are identical and every variable passes
    ``verify --profile strict`` except the documented float32 ones above (within their
    bounds); the whole tree passes ``--profile scientific``."""
    from datasets import SINGLE, synth_dataset

    from pystamps_batch.config import RunConfig
    from pystamps_batch.dataset.layout import open_dataset
    from pystamps_batch.runner import Runner
    from pystamps_batch.verify import verify_trees

    runs = {}
    for be in ("python", "native"):
        d = synth_dataset(tmp_path_factory, tmp_path / be, **SINGLE)
        cfg = RunConfig(runtime=RuntimeConfig(backend=be, stage2_kernel_backend=be))
        res = Runner(open_dataset(d, strict=True), cfg, log=lambda m: None).run(1, 8)
        assert all(r.status == "completed" for r in res), [(r.stage, r.details) for r in res]
        used = {b for r in res for b in (r.details.get("kernels") or {}).values()}
        assert used == {be}
        runs[be] = d
    strict = verify_trees(runs["native"], runs["python"], profile="strict")
    assert strict["files"]
    for f in strict["files"]:
        for s in f.get("sets", []):
            assert s["ok"], (f["path"], s)                     # identical PS sets
        for v in f["variables"]:
            if v["ok"]:
                continue
            name = v["name"]
            assert name in STRICT_EXCEPTIONS, (f["path"], v)
            bound = STRICT_EXCEPTIONS[name]
            if bound is not None:
                assert v["max_abs"] <= bound and v["outlier_fraction"] <= 1e-3, (f["path"], v)
    sci = verify_trees(runs["native"], runs["python"], profile="scientific")
    # msd is the grid-wide diagnostic of STRICT_EXCEPTIONS (snaphu's integer costs): exempt here too
    assert sci["ok"] or set(sci["failed"]) <= {"phuw2.mat:msd", "uw_phaseuw.mat:msd"}, sci["failed"]
