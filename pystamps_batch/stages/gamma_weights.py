"""Step-2 helpers: random-phase reference histogram and pixel weights (spec C.2.1, C.2.2, K.4).

* :func:`random_phase_reference` - the coherence histogram ``Nr`` of pure-noise pixels
  (``rand('state', 2005)`` under Octave, reproduced by NumPy's legacy ``RandomState``).
* :func:`psquare_weights` - the default 'P-square' weighting, ``w = (1 - P_rand(gamma))**2``,
  with Octave's ``interp`` (``fir1(81, 0.05)``, zero padded, half-sample shift).
* :func:`snr_weights` - the alternative signal-to-noise weighting.
"""
from __future__ import annotations

import numpy as np
from scipy import signal

from ..matlab import COH_BINS, gausswin, mround

#: Number of random-phase simulations of the reference distribution.
N_RAND = 300000
#: ``rand('state', SEED)`` seed used by StaMPS.
RAND_SEED = 2005
#: Bins 1..LOW_BINS (gamma < 0.31) scale the random histogram to the data.
LOW_BINS = 31


def random_draws(n_rand: int, m: int, seed: int = RAND_SEED) -> np.ndarray:
    """``rand('state', seed); rand(n_rand, m)`` as Octave produces it, shape (n_rand, m) float64.

    Octave's legacy 'state' seeding equals NumPy's ``RandomState([seed])`` Mersenne Twister;
    the matrix is filled column-major (the first ``n_rand`` draws form column 1).
    """
    draws = np.random.RandomState([int(seed)]).random_sample(int(n_rand) * int(m))
    return draws.reshape(int(m), int(n_rand)).T


def random_phase_reference(bperp: np.ndarray, n_trial_wraps: float, kernels, *,
                           n_rand: int = N_RAND, seed: int = RAND_SEED) -> tuple[np.ndarray, int]:
    """Histogram of topofit coherence of random phases (spec C.2.1).

    ``bperp``: (M,) mean perpendicular baselines (m), master removed. Kernel
    ``stage2_random_phase_coh``: the double-precision coherence-only topofit of
    ``exp(2 pi i U)``, U the ``rand('state', seed)`` draws (n_rand, M) of :func:`random_draws`.
    Returns ``(Nr, Nr_max_nz_ix)``: Nr (100,) float64 counts over :data:`COH_BINS` and the
    **1-based** index of the last non-empty bin (0 if all empty).
    """
    bperp = np.asarray(bperp, dtype=np.float64).ravel()
    coh = kernels.call("stage2_random_phase_coh", bperp, n_trial_wraps, int(n_rand), int(seed))
    nr = np.asarray(kernels.call("stage2_histogram", coh, COH_BINS), dtype=np.float64)
    nz = np.flatnonzero(nr)
    return nr, int(nz[-1] + 1) if nz.size else 0


def octave_fir1_lowpass(n: int, wc: float, grid_n: int = 512, ramp_n: int = 2) -> np.ndarray:
    """octave-signal ``fir1(n, wc)`` low-pass: ``n + 1`` taps, float64, unit DC gain.

    Octave designs ``fir1`` by **frequency sampling** (its ``fir2``), not as a windowed sinc
    (scipy's ``firwin`` differs by ~1e-3 per tap): the ideal response 1 on [0, wc], 0 on
    (wc, 1] (right-continuous at wc) gets a linear transition ramp of ``ramp_n`` grid points
    centred on wc, is sampled at ``grid_n + 1`` frequencies in [0, 1] (Nyquist = 1), made
    Hermitian and inverse-transformed; for odd n (even tap count) the response is
    interpolated by a half sample through zero-padding the spectrum. The centred impulse
    response is multiplied by ``hamming(n + 1)`` and scaled to unit gain at DC.
    Verified against the Octave golden P-square weights (C.2.2).
    """
    n = int(n)
    if n + 1 >= 1024:
        grid_n = int(2 ** np.ceil(np.log2(n + 1)))
    half = ramp_n / grid_n / 2.0
    f = np.array([0.0, wc - half, wc, wc + half, 1.0])
    m = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    grid = np.interp(np.linspace(0.0, 1.0, grid_n + 1), np.clip(f, 0.0, 1.0), m)
    mirror = grid[grid_n - 1:0:-1]
    if n % 2 == 0:
        h = np.fft.ifft(np.concatenate([grid, mirror]))
        mid = (n + 1) / 2.0
        b = np.real(np.concatenate([h[h.size - int(np.floor(mid)):], h[:int(np.ceil(mid))]]))
    else:
        h = np.fft.ifft(np.concatenate([grid, np.zeros(2 * grid_n), mirror]))
        b = 2.0 * np.real(np.concatenate([h[h.size - n::2], h[1:n + 1:2]]))
    b = b * np.hamming(n + 1)
    return b / abs(b.sum())


def octave_interp(x: np.ndarray, q: int, n: int = 4, wc: float = 0.5) -> np.ndarray:
    """octave-signal ``interp(x, q, n, wc)``: length ``len(x) * q``.

    Zero-stuff ``x`` into ``len(x)*q + q*n + 1`` samples, filter causally with
    ``fir1(2 q n + 1, wc / q)`` (``fftfilt``, zero initial state), multiply by q and drop the
    first ``q n + 1`` outputs. Unlike MATLAB's ``interp`` the input samples are not preserved.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.zeros(x.size * q + q * n + 1)
    y[: x.size * q: q] = x
    b = octave_fir1_lowpass(2 * q * n + 1, wc / q)
    y = q * signal.lfilter(b, 1.0, y)
    return y[q * n + 1:]


def _smoothed_prand(nr: np.ndarray, na: np.ndarray, nr_max_nz_ix: int) -> np.ndarray:
    """P_rand per bin (100,): ratio, forced to 1 below bin 32 and 0 past the last random bin,
    clipped at 1, then the causal 7-tap Gaussian FIR with a run-in of seven ones."""
    na = np.where(na == 0, 1.0, na)
    pr = nr / na
    pr[:LOW_BINS] = 1.0
    pr[int(nr_max_nz_ix):] = 0.0
    pr = np.minimum(pr, 1.0)
    g = gausswin(7)
    sm = signal.lfilter(g, 1.0, np.concatenate([np.ones(7), pr])) / g.sum()
    return sm[7:]


def prand_curve(nr: np.ndarray, na: np.ndarray, nr_max_nz_ix: int) -> np.ndarray:
    """P_rand sampled at gamma = s/1000, s = 0..1000 (1001,), Octave ``interp`` variant (C.2.2)."""
    pr = _smoothed_prand(np.asarray(nr, dtype=np.float64), np.asarray(na, dtype=np.float64), nr_max_nz_ix)
    return octave_interp(np.concatenate([[1.0], pr]), 10)[:1001]


def psquare_weights(coh: np.ndarray, nr: np.ndarray, nr_max_nz_ix: int, kernels) -> tuple[np.ndarray, np.ndarray]:
    """'P-square' pixel weights (spec C.2.2 step 5, K.4).

    ``coh``: (n,) current gamma in [0, 1]; ``nr``: (100,) random histogram as stored so far.
    Returns ``(weights (n,) float64, nr_rescaled (100,))``: Nr is rescaled to the data over bins
    1..31 (this rescaled Nr replaces the stored one, cumulatively).
    """
    coh = np.asarray(coh, dtype=np.float64).ravel()
    na = np.asarray(kernels.call("stage2_histogram", coh, COH_BINS), dtype=np.float64)
    den = nr[:LOW_BINS].sum()
    nr = nr * (na[:LOW_BINS].sum() / den) if den != 0 else nr * np.nan
    curve = prand_curve(nr, na, nr_max_nz_ix)
    idx = mround(coh * 1000.0).astype(np.int64)
    return (1.0 - curve[idx]) ** 2, nr


def snr_weights(amp: np.ndarray, ph_res: np.ndarray) -> np.ndarray:
    """Signal-to-noise weights (``filter_weighting`` other than 'P-square').

    ``amp``: (n, M) amplitudes (0 replaced by 1), ``ph_res``: (n, M) residual phase (rad).
    ``g = mean(A cos r)``, ``sigma = sqrt(0.5 (mean(A^2) - g^2))``, ``w = g / sigma`` (0 where sigma = 0).
    Returns (n,) float64.
    """
    amp = np.asarray(amp, dtype=np.float64)
    g = np.mean(amp * np.cos(np.asarray(ph_res, dtype=np.float64)), axis=1)
    sigma = np.sqrt(0.5 * (np.mean(amp ** 2, axis=1) - g ** 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sigma == 0, 0.0, g / sigma)
