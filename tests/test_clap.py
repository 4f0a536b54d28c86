"""CLAP filter (spec C.2.4 / K.2 / C.3 step 6): golden parity and an independent per-window reference."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from golden import golden_dir
from pystamps_batch.filters.clap import (clap_filt, clap_filt_patch, clap_filt_stack, clap_taper,
                                         low_pass_filter)
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.matlab import gausswin

LP = low_pass_filter(50.0, 32, 800.0)


def _ref_response(spec, alpha, beta, lp):
    """Spec formula, written directly: 2-D correlation on the fft-shifted |spec|."""
    b = np.outer(gausswin(7), gausswin(7))
    h = np.fft.ifftshift(ndimage.correlate(np.fft.fftshift(np.abs(spec)), b, mode="constant", cval=0.0))
    med = np.median(h)
    if med != 0:
        h = h / med
    h = np.maximum(h ** alpha - 1, 0)
    return beta * h + lp


def _ref_clap(grid, alpha, beta, n_win, n_pad, lp):
    """Straight per-window transcription of appendix K.2 (slow, for small grids)."""
    grid = np.nan_to_num(grid.astype(np.complex128))
    out = np.zeros_like(grid)
    ni, nj = grid.shape
    inc = n_win // 4
    x = np.arange(n_win // 2)
    q = x[:, None] + x[None, :]
    taper = np.block([[q, np.fliplr(q)], [np.flipud(q), np.flipud(np.fliplr(q))]]) + 1e-6
    for ii in range(math.ceil(ni / inc) - 3):
        i1, wf = ii * inc, taper
        if i1 + n_win > ni:
            s = i1 + n_win - ni
            i1, wf = ni - n_win, np.vstack([np.zeros((s, n_win)), taper[:n_win - s]])
        for jj in range(math.ceil(nj / inc) - 3):
            j1, wf2 = jj * inc, wf
            if j1 + n_win > nj:
                s = j1 + n_win - nj
                j1, wf2 = nj - n_win, np.hstack([np.zeros((n_win, s)), wf[:, :n_win - s]])
            blk = np.zeros((n_win + n_pad,) * 2, complex)
            blk[:n_win, :n_win] = grid[i1:i1 + n_win, j1:j1 + n_win]
            f = np.fft.fft2(blk)
            out[i1:i1 + n_win, j1:j1 + n_win] += np.fft.ifft2(f * _ref_response(f, alpha, beta, lp))[:n_win, :n_win] * wf2
    return out


def _rand_grid(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def test_low_pass_equals_golden():
    pm1 = load_mat(golden_dir("small-1patch") / "stamps" / "PATCH_1" / "pm1.mat")
    np.testing.assert_allclose(LP, pm1["low_pass"], rtol=0, atol=1e-12)


def test_low_pass_shape_and_cutoff():
    assert LP.shape == (32, 32) and LP[0, 0] == 1.0
    # cut-off at |j| = g*32/L = 2 bins: b = 1/2 there
    assert LP[0, 2] == pytest.approx(0.5) and LP[2, 0] == pytest.approx(0.5)
    np.testing.assert_allclose(LP, LP.T)


def test_taper_pyramid():
    t = clap_taper(24)
    assert t.shape == (24, 24)
    assert t.min() == pytest.approx(1e-6) and t.max() == pytest.approx(22 + 1e-6)
    np.testing.assert_array_equal(t, t[::-1, ::-1])


@pytest.mark.parametrize("shape", [(24, 24), (30, 41), (43, 29)])
def test_stack_matches_per_window_reference(shape):
    rng = np.random.default_rng(1)
    g = _rand_grid(rng, shape + (2,))
    g[3, 5, 1] = np.nan
    got = clap_filt_stack(g, 1.0, 0.3, 24, 8, LP)
    for k in range(2):
        ref = _ref_clap(g[:, :, k], 1.0, 0.3, 24, 8, LP)
        np.testing.assert_allclose(got[:, :, k], ref, rtol=0, atol=1e-9 * np.abs(ref).max())


def test_single_grid_equals_stack_slice():
    rng = np.random.default_rng(2)
    g = _rand_grid(rng, (35, 30, 3))
    st = clap_filt_stack(g, 1.0, 0.3, 24, 8, LP)
    np.testing.assert_array_equal(clap_filt(g[:, :, 1], 1.0, 0.3, 24, 8, LP), st[:, :, 1])


def test_tiny_grids():
    rng = np.random.default_rng(3)
    # <= 18 cells: no window runs, all-zero output (StaMPS behaviour)
    assert not clap_filt(_rand_grid(rng, (18, 40)), 1.0, 0.3, 24, 8, LP).any()
    assert not clap_filt(_rand_grid(rng, (40, 5)), 1.0, 0.3, 24, 8, LP).any()
    # 19..23 cells: StaMPS errors (block start < 1)
    for n in (19, 23):
        with pytest.raises(ValueError, match="smaller than the window"):
            clap_filt(_rand_grid(rng, (n, 40)), 1.0, 0.3, 24, 8, LP)
    assert clap_filt(_rand_grid(rng, (24, 24)), 1.0, 0.3, 24, 8, LP).any()


def test_clap_reproduces_golden_patch_phase():
    """The last step-2 ph_grid filtered and read at grid_ij gives the golden ph_patch."""
    pm1 = load_mat(golden_dir("small-1patch") / "stamps" / "PATCH_1" / "pm1.mat")
    f = clap_filt_stack(pm1["ph_grid"], 1.0, 0.3, 24, 8, pm1["low_pass"])
    ij = pm1["grid_ij"].astype(np.int64) - 1
    p = f[ij[:, 0], ij[:, 1], :]
    p = (p / np.abs(p)).astype(np.complex64)
    assert np.abs(p - pm1["ph_patch"]).max() < 1e-6


def test_patch_variant_matches_formula():
    rng = np.random.default_rng(4)
    blocks = _rand_grid(rng, (3, 2, 32, 32)).astype(np.complex128)
    got = clap_filt_patch(blocks, 1.0, 0.3, LP)
    assert got.shape == blocks.shape and got.dtype == np.complex128
    for idx in np.ndindex(3, 2):
        f = np.fft.fft2(blocks[idx])
        ref = np.fft.ifft2(f * _ref_response(f, 1.0, 0.3, LP))
        np.testing.assert_allclose(got[idx], ref, rtol=0, atol=1e-10 * np.abs(ref).max())


def test_patch_variant_single_precision_and_pure_lowpass():
    rng = np.random.default_rng(5)
    blocks = _rand_grid(rng, (4, 32, 32))
    got = clap_filt_patch(blocks, 1.0, 0.0, LP)           # beta = 0: pure low-pass
    assert got.dtype == np.complex64
    ref = np.fft.ifft2(np.fft.fft2(blocks.astype(np.complex128)) * LP)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4 * np.abs(ref).max())
    with pytest.raises(ValueError):
        clap_filt_patch(blocks[:, :16, :16], 1.0, 0.3, LP)
