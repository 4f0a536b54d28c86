//! Step-2 helpers of [`super::gamma`]: the random-phase reference histogram and the pixel
//! weights (spec C.2.1, C.2.2, K.4); mirrors `pystamps_batch/stages/gamma_weights.py`.
//!
//! * [`random_phase_reference`]: coherence histogram `Nr` of pure-noise pixels
//!   (`rand('state', 2005)`), through the shared kernels [`crate::topofit::random_phase_coh`]
//!   and [`crate::histogram::hist_centres`];
//! * [`psquare_weights`]: the default 'P-square' weighting `w = (1 - P_rand(gamma))^2` with
//!   Octave's `interp` (`fir1(81, 0.05)` by frequency sampling, zero padded);
//! * [`snr_weights`]: the signal-to-noise alternative.
//!
//! Precision: everything is f64. The tiny FIR designs and convolutions of the P-square curve
//! (1001 samples) are evaluated directly (a DFT sum instead of NumPy's FFT, sequential sums
//! instead of BLAS dot products), so the curve may differ from the python stage's in the last
//! bits of an f64 (not measured directly); the weights are rounded to f32 before use, which
//! absorbs such differences (the pm1 outputs are bit-equal in tests/test_native_stage2.py).

use crate::num::pairwise_sum_f64;

/// Random-phase simulations of the reference distribution.
pub const N_RAND: usize = 300_000;
/// `rand('state', SEED)` seed used by StaMPS.
pub const RAND_SEED: u32 = 2005;
/// Bins 1..LOW_BINS (gamma < 0.31) scale the random histogram to the data.
pub const LOW_BINS: usize = 31;

/// StaMPS' coherence bin centres `0.005, 0.015, ..., 0.995` (100 values).
pub fn coh_bins() -> Vec<f64> {
    (0..100).map(|k| (k as f64 + 0.5) / 100.0).collect()
}

/// `gausswin(n, alpha)` (float64), as `pystamps_batch.matlab.gausswin`.
pub fn gausswin(n: usize, alpha: f64) -> Vec<f64> {
    let half = (n as f64 - 1.0) / 2.0;
    (0..n)
        .map(|i| {
            let x = alpha * (i as f64 - half) / half;
            (-0.5 * (x * x)).exp()
        })
        .collect()
}

/// Histogram `Nr` (100,) of the topofit coherence of `N_RAND` random-phase pixels over
/// [`coh_bins`] and the 1-based index of its last non-empty bin (0 if all empty).
/// `bperp`: (M,) baselines (m) as f64; `ntw`: n_trial_wraps.
pub fn random_phase_reference(bperp: &[f64], ntw: f64, threads: usize) -> (Vec<f64>, usize) {
    let coh = crate::topofit::random_phase_coh(bperp, ntw, N_RAND, RAND_SEED, threads);
    let nr = crate::histogram::hist_centres(&coh, &coh_bins(), threads);
    let ix = nr.iter().rposition(|&v| v != 0.0).map(|i| i + 1).unwrap_or(0);
    (nr, ix)
}

/// octave-signal `fir1(n, wc)` low-pass by frequency sampling (`n + 1` taps, unit DC gain);
/// see the python `octave_fir1_lowpass` for the construction.
pub fn octave_fir1_lowpass(n: usize, wc: f64) -> Vec<f64> {
    let mut grid_n = 512usize;
    if n + 1 >= 1024 {
        grid_n = ((n + 1) as f64).log2().ceil().exp2() as usize;
    }
    let ramp_n = 2.0;
    let half = ramp_n / grid_n as f64 / 2.0;
    let fx = [0.0, wc - half, wc, wc + half, 1.0].map(|v: f64| v.clamp(0.0, 1.0));
    let fm = [1.0, 1.0, 0.0, 0.0, 0.0];
    // np.linspace(0, 1, grid_n + 1) and np.interp
    let g: Vec<f64> = (0..=grid_n)
        .map(|k| {
            let x = if k == grid_n { 1.0 } else { k as f64 * (1.0 / grid_n as f64) };
            interp1(x, &fx, &fm)
        })
        .collect();
    // the full real spectrum X (length L) whose inverse DFT gives the impulse response
    let mut spec: Vec<f64> = g.clone();
    if n % 2 == 1 {
        spec.resize(spec.len() + 2 * grid_n, 0.0);
    }
    spec.extend(g[1..grid_n].iter().rev());
    let l = spec.len();
    // real part of ifft(X)[k] = (1/L) sum_j X[j] cos(2 pi j k / L)
    let re_ifft = |k: usize| -> f64 {
        let mut s = 0.0;
        for (j, &x) in spec.iter().enumerate() {
            if x != 0.0 {
                let ph = 2.0 * std::f64::consts::PI * ((j * k) % l) as f64 / l as f64;
                s += x * ph.cos();
            }
        }
        s / l as f64
    };
    let mut b: Vec<f64> = if n & 1 == 0 {
        let mid = (n + 1) as f64 / 2.0;
        let lo = mid.floor() as usize;
        let hi = mid.ceil() as usize;
        (l - lo..l).chain(0..hi).map(re_ifft).collect()
    } else {
        (l - n..l).step_by(2).chain((1..n + 1).step_by(2)).map(|k| 2.0 * re_ifft(k)).collect()
    };
    // np.hamming(M): 0.54 + 0.46 cos(pi k / (M - 1)), k = 1-M, 3-M, ..., M-1
    let m = n + 1;
    for (i, v) in b.iter_mut().enumerate() {
        let k = (1 + 2 * i) as f64 - m as f64;
        let w = if m > 1 { 0.54 + 0.46 * (std::f64::consts::PI * k / (m - 1) as f64).cos() } else { 1.0 };
        *v *= w;
    }
    let s = pairwise_sum_f64(&b).abs();
    b.iter().map(|v| v / s).collect()
}

/// `np.interp(x, xp, fp)` for increasing `xp` (used on the 5-point fir1 response).
fn interp1(x: f64, xp: &[f64], fp: &[f64]) -> f64 {
    let last = xp.len() - 1;
    if x <= xp[0] {
        return fp[0];
    }
    if x >= xp[last] {
        return fp[last];
    }
    // last j with xp[j] <= x
    let mut j = 0;
    while j + 1 < xp.len() && xp[j + 1] <= x {
        j += 1;
    }
    if xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    slope * (x - xp[j]) + fp[j]
}

/// `scipy.signal.lfilter(b, 1, x)`: causal FIR, zero initial state, same length as `x`.
fn fir_filter(b: &[f64], x: &[f64]) -> Vec<f64> {
    (0..x.len())
        .map(|k| {
            let mut s = 0.0;
            for (j, &bj) in b.iter().enumerate().take(k + 1) {
                s += bj * x[k - j];
            }
            s
        })
        .collect()
}

/// octave-signal `interp(x, q, n=4, wc=0.5)`: length `len(x) * q` (see the python docstring).
pub fn octave_interp(x: &[f64], q: usize) -> Vec<f64> {
    let n = 4usize;
    let mut y = vec![0.0; x.len() * q + q * n + 1];
    for (i, &v) in x.iter().enumerate() {
        y[i * q] = v;
    }
    let b = octave_fir1_lowpass(2 * q * n + 1, 0.5 / q as f64);
    let f = fir_filter(&b, &y);
    f[q * n + 1..].iter().map(|v| q as f64 * v).collect()
}

/// P_rand per bin (100,): ratio Nr/Na forced to 1 below bin 32 and 0 past the last random
/// bin, clipped at 1, then the causal 7-tap Gaussian FIR with a run-in of seven ones.
fn smoothed_prand(nr: &[f64], na: &[f64], nr_max_nz_ix: usize) -> Vec<f64> {
    let mut pr: Vec<f64> = nr.iter().zip(na).map(|(&r, &a)| r / if a == 0.0 { 1.0 } else { a }).collect();
    for v in pr.iter_mut().take(LOW_BINS) {
        *v = 1.0;
    }
    for v in pr.iter_mut().skip(nr_max_nz_ix) {
        *v = 0.0;
    }
    for v in pr.iter_mut() {
        // np.minimum propagates NaN
        if !v.is_nan() && *v > 1.0 {
            *v = 1.0;
        }
    }
    let g = gausswin(7, 2.5);
    let gs = pairwise_sum_f64(&g);
    let mut x = vec![1.0; 7];
    x.extend_from_slice(&pr);
    fir_filter(&g, &x)[7..].iter().map(|v| v / gs).collect()
}

/// P_rand sampled at gamma = s/1000, s = 0..1000 (1001,), Octave `interp` variant (C.2.2).
pub fn prand_curve(nr: &[f64], na: &[f64], nr_max_nz_ix: usize) -> Vec<f64> {
    let pr = smoothed_prand(nr, na, nr_max_nz_ix);
    let mut x = Vec::with_capacity(pr.len() + 1);
    x.push(1.0);
    x.extend_from_slice(&pr);
    let mut c = octave_interp(&x, 10);
    c.truncate(1001);
    c
}

/// 'P-square' pixel weights (spec C.2.2 step 5): returns (weights (n,), Nr rescaled to the
/// data over bins 1..31). `coh` (n,) current gamma, `nr` (100,) the stored histogram.
pub fn psquare_weights(coh: &[f64], nr: &[f64], nr_max_nz_ix: usize, threads: usize) -> Result<(Vec<f64>, Vec<f64>), String> {
    let na = crate::histogram::hist_centres(coh, &coh_bins(), threads);
    let den = pairwise_sum_f64(&nr[..LOW_BINS]);
    let nr: Vec<f64> = if den != 0.0 {
        let s = pairwise_sum_f64(&na[..LOW_BINS]) / den;
        nr.iter().map(|v| v * s).collect()
    } else {
        nr.iter().map(|v| v * f64::NAN).collect()
    };
    let curve = prand_curve(&nr, &na, nr_max_nz_ix);
    let mut w = Vec::with_capacity(coh.len());
    for &g in coh {
        let x = g * 1000.0;
        // MATLAB round: halves away from zero
        let r = x.signum() * (x.abs() + 0.5).floor();
        if !(r >= 0.0 && (r as usize) < curve.len()) {
            return Err(format!("gamma {g} outside [0, 1]: no P-square weight"));
        }
        let d = 1.0 - curve[r as usize];
        w.push(d * d);
    }
    Ok((w, nr))
}

/// Signal-to-noise weights: `g = mean(A cos r)`, `sigma = sqrt(0.5 (mean(A^2) - g^2))`,
/// `w = g / sigma` (0 where sigma = 0). `amp`, `ph_res`: n x M row-major.
pub fn snr_weights(amp: &[f32], ph_res: &[f32], n: usize, m: usize) -> Vec<f64> {
    let mut t1 = vec![0f64; m];
    let mut t2 = vec![0f64; m];
    (0..n)
        .map(|p| {
            let a = &amp[p * m..(p + 1) * m];
            let r = &ph_res[p * m..(p + 1) * m];
            for k in 0..m {
                let av = a[k] as f64;
                t1[k] = av * (r[k] as f64).cos();
                t2[k] = av * av;
            }
            let g = pairwise_sum_f64(&t1) / m as f64;
            let sigma = (0.5 * (pairwise_sum_f64(&t2) / m as f64 - g * g)).sqrt();
            if sigma == 0.0 {
                0.0
            } else {
                g / sigma
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fir1_has_unit_gain_and_symmetry() {
        let b = octave_fir1_lowpass(81, 0.05);
        assert_eq!(b.len(), 82);
        assert!((b.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for i in 0..41 {
            assert!((b[i] - b[81 - i]).abs() < 1e-12);
        }
    }

    #[test]
    fn interp_of_constant_is_constant_inside() {
        let y = octave_interp(&vec![1.0; 50], 10);
        assert_eq!(y.len(), 500);
        assert!((y[250] - 1.0).abs() < 1e-3);
    }
}
