//! CLAP adaptive phase filter (Combined Low-pass and Adaptive Phase), spec C.2.4 / K.2 / C.3.
//!
//! For a window with 2-D spectrum `F`, the gain is
//! `G = beta * max((S(|F|) / median(S(|F|)))^alpha - 1, 0) + LP`, where `S` is the 7x7
//! Gaussian (`gausswin(7)` outer product) 'same' correlation with zero boundary applied to
//! the fft-shifted magnitude, and `LP` the Butterworth low-pass (DC at [0, 0]).
//! Step 2 filters overlapping `n_win` windows zero-padded to `n_win + n_pad`, weighted by a
//! pyramid taper and added up; step 3 filters whole `P x P` blocks without padding or taper.
//! Generic over `f32` / `f64` so that each step keeps StaMPS' precision.

use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Axis};
use num_complex::Complex;
use num_traits::Float;
use rayon::prelude::*;
use rustfft::{Fft, FftNum, FftPlanner};
use std::sync::Arc;

/// `gausswin(7)` (alpha 2.5), the separable smoothing kernel.
fn gausswin7() -> [f64; 7] {
    let mut g = [0.0; 7];
    for (i, v) in g.iter_mut().enumerate() {
        let k = i as f64 - 3.0;
        *v = (-0.5 * (2.5 * k / 3.0).powi(2)).exp();
    }
    g
}

/// Reusable buffers of one worker thread (no allocation per window).
struct Work<T: FftNum> {
    n: usize,
    buf: Vec<Complex<T>>,
    tmp: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
    gain: Vec<T>,
    sh: Vec<T>,
    a: Vec<T>,
    sorted: Vec<T>,
    g: [T; 7],
}

impl<T: FftNum + Float> Work<T> {
    fn new(n: usize, fwd: &Arc<dyn Fft<T>>, inv: &Arc<dyn Fft<T>>) -> Self {
        let z = Complex::new(T::zero(), T::zero());
        let sl = fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len());
        let mut g = [T::zero(); 7];
        for (d, v) in g.iter_mut().zip(gausswin7()) {
            *d = T::from(v).unwrap();
        }
        Work {
            n,
            buf: vec![z; n * n],
            tmp: vec![z; n * n],
            scratch: vec![z; sl],
            gain: vec![T::zero(); n * n],
            sh: vec![T::zero(); n * n],
            a: vec![T::zero(); n * n],
            sorted: vec![T::zero(); n * n],
            g,
        }
    }

    /// In-place 2-D FFT (unnormalised) of `buf`: all rows, transpose, all rows, transpose back.
    fn fft2(&mut self, fft: &Arc<dyn Fft<T>>) {
        let n = self.n;
        fft.process_with_scratch(&mut self.buf, &mut self.scratch);
        for i in 0..n {
            for j in 0..n {
                self.tmp[j * n + i] = self.buf[i * n + j];
            }
        }
        fft.process_with_scratch(&mut self.tmp, &mut self.scratch);
        for i in 0..n {
            for j in 0..n {
                self.buf[i * n + j] = self.tmp[j * n + i];
            }
        }
    }

    /// Multiply the spectrum in `buf` by its CLAP gain.
    fn apply_response(&mut self, alpha: T, beta: T, lp: &[T]) {
        let n = self.n;
        let half = n / 2;
        for i in 0..n {
            let si = ((i + half) % n) * n;
            for j in 0..n {
                let c = self.buf[si + (j + half) % n];
                self.sh[i * n + j] = (c.re * c.re + c.im * c.im).sqrt(); // fft-shifted |F|
            }
        }
        // separable 'same' correlation with zero boundary: along the row index, then the column index
        for i in 0..n {
            for j in 0..n {
                let mut acc = T::zero();
                for t in 0..7 {
                    let ii = i as isize + t as isize - 3;
                    if ii >= 0 && (ii as usize) < n {
                        acc = acc + self.g[t] * self.sh[ii as usize * n + j];
                    }
                }
                self.a[i * n + j] = acc;
            }
        }
        for i in 0..n {
            let di = ((i + half) % n) * n;
            for j in 0..n {
                let mut acc = T::zero();
                for t in 0..7 {
                    let jj = j as isize + t as isize - 3;
                    if jj >= 0 && (jj as usize) < n {
                        acc = acc + self.g[t] * self.a[i * n + jj as usize];
                    }
                }
                self.gain[di + (j + half) % n] = acc; // un-shift
            }
        }
        self.sorted.copy_from_slice(&self.gain);
        let m = self.sorted.len();
        let cmp = |x: &T, y: &T| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal);
        let hi = *self.sorted.select_nth_unstable_by(m / 2, cmp).1;
        let med = if m % 2 == 1 {
            hi
        } else {
            let lo = self.sorted[..m / 2].iter().copied().fold(T::neg_infinity(), T::max);
            (lo + hi) / T::from(2.0).unwrap()
        };
        let one = T::one();
        let unit_alpha = alpha == one;
        for k in 0..m {
            let v = self.gain[k];
            let mut h = if med != T::zero() { v / med } else { v };
            h = if unit_alpha { h - one } else { h.powf(alpha) - one };
            if h < T::zero() {
                h = T::zero(); // NaN stays NaN, as numpy's maximum
            }
            self.buf[k] = self.buf[k] * (h * beta + lp[k]);
        }
    }
}

/// Window starts along one axis (0-based) and the shift of each window; Err when a
/// shifted window would start before 0 (StaMPS errors there).
pub fn window_starts(n: usize, n_win: usize, n_inc: usize) -> Result<Vec<(usize, usize)>, String> {
    let n_w = ((n + n_inc - 1) / n_inc).saturating_sub(3);
    let mut out = Vec::with_capacity(n_w);
    for k in 0..n_w {
        let start = k * n_inc;
        let shift = (start + n_win).saturating_sub(n);
        if shift > start {
            return Err(format!("CLAP grid dimension {n} is smaller than the window ({n_win} cells)"));
        }
        out.push((start - shift, shift));
    }
    Ok(out)
}

/// Step-2 CLAP of every slice of `grid` (n_i x n_j x M). NaN is treated as 0.
pub fn clap_filt_stack<T: FftNum + Float>(
    grid: ArrayView3<Complex<T>>,
    alpha: T,
    beta: T,
    n_win: usize,
    n_pad: usize,
    low_pass: ArrayView2<T>,
    threads: usize,
) -> Result<Array3<Complex<T>>, String> {
    let (n_i, n_j, m) = grid.dim();
    let n = n_win + n_pad;
    if low_pass.dim() != (n, n) {
        return Err(format!("low_pass shape {:?} != ({n}, {n})", low_pass.dim()));
    }
    let n_inc = n_win / 4;
    let wi = window_starts(n_i, n_win, n_inc)?;
    let wj = window_starts(n_j, n_win, n_inc)?;
    let mut out = Array3::<Complex<T>>::zeros((m, n_i, n_j));
    if wi.is_empty() || wj.is_empty() || m == 0 {
        return Ok(out.permuted_axes([1, 2, 0]).as_standard_layout().to_owned());
    }
    let lp: Vec<T> = low_pass.iter().copied().collect();
    let half = n_win / 2;
    let taper = |a: usize, b: usize| -> T {
        let t = |x: usize| if x < half { x } else { n_win - 1 - x };
        T::from((t(a) + t(b)) as f64 + 1e-6).unwrap()
    };
    let mut planner = FftPlanner::<T>::new();
    let fwd = planner.plan_fft_forward(n);
    let inv = planner.plan_fft_inverse(n);
    let norm = T::from((n * n) as f64).unwrap();
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each_init(
                || Work::new(n, &fwd, &inv),
                |w, (k, mut dst)| {
                    let slice = grid.index_axis(Axis(2), k);
                    let zero = Complex::new(T::zero(), T::zero());
                    for &(i1, si) in &wi {
                        for &(j1, sj) in &wj {
                            w.buf.iter_mut().for_each(|c| *c = zero);
                            for a in 0..n_win {
                                for b in 0..n_win {
                                    let v = slice[[i1 + a, j1 + b]];
                                    w.buf[a * n + b] = if v.re.is_nan() || v.im.is_nan() { zero } else { v };
                                }
                            }
                            w.fft2(&fwd);
                            w.apply_response(alpha, beta, &lp);
                            w.fft2(&inv);
                            for a in si..n_win {
                                for b in sj..n_win {
                                    let v = w.buf[a * n + b] / norm * taper(a - si, b - sj);
                                    let o = &mut dst[[i1 + a, j1 + b]];
                                    *o = *o + v;
                                }
                            }
                        }
                    }
                },
            )
    });
    Ok(out.permuted_axes([1, 2, 0]).as_standard_layout().to_owned())
}

/// Step-3 CLAP of square blocks (n_blocks x P x P), no padding and no taper.
pub fn clap_filt_patch<T: FftNum + Float>(
    blocks: ArrayView3<Complex<T>>,
    alpha: T,
    beta: T,
    low_pass: ArrayView2<T>,
    threads: usize,
) -> Result<Array3<Complex<T>>, String> {
    let (nb, p, q) = blocks.dim();
    if p != q || low_pass.dim() != (p, p) {
        return Err(format!("blocks {:?} and low_pass {:?} must be square and equal", (p, q), low_pass.dim()));
    }
    let lp: Vec<T> = low_pass.iter().copied().collect();
    let mut planner = FftPlanner::<T>::new();
    let fwd = planner.plan_fft_forward(p);
    let inv = planner.plan_fft_inverse(p);
    let norm = T::from((p * p) as f64).unwrap();
    let mut out = Array3::<Complex<T>>::zeros((nb, p, p));
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each_init(
                || Work::new(p, &fwd, &inv),
                |w, (k, mut dst)| {
                    let zero = Complex::new(T::zero(), T::zero());
                    for (d, v) in w.buf.iter_mut().zip(blocks.slice(s![k, .., ..]).iter()) {
                        *d = if v.re.is_nan() || v.im.is_nan() { zero } else { *v };
                    }
                    w.fft2(&fwd);
                    w.apply_response(alpha, beta, &lp);
                    w.fft2(&inv);
                    for (o, v) in dst.iter_mut().zip(w.buf.iter()) {
                        *o = *v / norm;
                    }
                },
            )
    });
    Ok(out)
}

/// The 32x32 low-pass of spec C.2.1 (used by tests of the core only).
pub fn low_pass(grid_size: f64, n_win: usize, wavelength: f64) -> Array2<f64> {
    let b: Vec<f64> = (0..n_win)
        .map(|k| {
            let j = if k < n_win - n_win / 2 { k as f64 } else { k as f64 - n_win as f64 };
            let f = j / grid_size / n_win as f64;
            1.0 / (1.0 + (f * wavelength).powi(10))
        })
        .collect();
    Array2::from_shape_fn((n_win, n_win), |(i, j)| b[i] * b[j])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn window_rules() {
        assert_eq!(window_starts(18, 24, 6).unwrap(), vec![]);
        assert!(window_starts(20, 24, 6).is_err());
        let w = window_starts(30, 24, 6).unwrap();
        assert_eq!(w, vec![(0, 0), (6, 0)]);
        let w = window_starts(31, 24, 6).unwrap();
        assert_eq!(w.last(), Some(&(7, 5)));
    }

    #[test]
    fn constant_phase_is_preserved() {
        // a uniform phasor grid stays a uniform phase after filtering (away from edges)
        let ph = Complex::new(0.6f64.cos(), 0.6f64.sin());
        let g = Array3::from_elem((40, 40, 2), ph);
        let lp = low_pass(50.0, 32, 800.0);
        let out = clap_filt_stack(g.view(), 1.0, 0.3, 24, 8, lp.view(), 1).unwrap();
        let c = out[[20, 20, 1]];
        assert!((c.arg() - 0.6).abs() < 1e-9);
    }
}
