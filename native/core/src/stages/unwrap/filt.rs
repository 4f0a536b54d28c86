//! StaMPS `wrap_filt`: the Goldstein adaptive filter of the gridded interferograms (spec
//! C.6.3), as `wrap_filt` in `pystamps_batch/stages/unwrap/grid.py`.
//!
//! Every interferogram (one n_i x n_j plane of the grid) is filtered on its own: windows of
//! `n_win` cells with 50 % overlap (edge windows moved inside the grid, their taper shifted),
//! zero-padded to `n_fft = n_win + n_pad`; the |2-D FFT| is fft-shifted, correlated with the
//! 7x7 `gausswin(7)` outer product (zero boundary, `scipy.ndimage.correlate`), shifted back,
//! divided by its median and raised to `alpha`; the spectrum times that response is
//! transformed back, weighted by the pyramid taper and summed. The output keeps the input
//! magnitude and takes the phase of the sum.
//!
//! Precision: float64 throughout, as the Python function; every elementwise step is the same
//! IEEE operation in the same order (libm `hypot`, `pow`, `atan2`, `cos`, `sin` as NumPy's
//! float64 loops), the correlation sums its 49 terms in SciPy's order. Only the FFTs differ:
//! rustfft and NumPy's pocketfft round differently in the last bits of a float64, which
//! after the final rounding to float32 changes a tiny fraction of the outputs by one ulp.
//! The planes are independent, so the result does not depend on the thread count.

use crate::stages::gamma::weights::gausswin;
use crate::stages::unwrap::f32ops::{cabs, cmul_real};
use ndarray::{Array3, ArrayView2, ArrayView3, Axis};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// MATLAB `round` of a non-negative value (halves away from zero), as `matlab.mround`.
fn mround_pos(x: f64) -> f64 {
    (x + 0.5).floor()
}

/// The default zero padding `round(n_win / 4)`.
pub fn default_pad(n_win: usize) -> usize {
    mround_pos(n_win as f64 * 0.25) as usize
}

/// Goldstein window taper (n_win x n_win, row-major, f64): the quadrant `x_a + x_b`
/// (x = 1..n_win/2) mirrored to the right and down, as `_taper` (`n_win` even).
pub fn taper(n_win: usize) -> Vec<f64> {
    let half = n_win / 2;
    let t = |x: usize| if x < half { x + 1 } else { n_win - x };
    (0..n_win * n_win).map(|k| (t(k / n_win) + t(k % n_win)) as f64).collect()
}

/// (0-based start, taper shift) of each window along an axis of `n` cells, as
/// `_window_starts`: `ceil(n / n_inc) - 1` windows every `n_inc` cells, a window running past
/// the end moved back to end at `n` with its taper shifted by the overshoot. Needs `n >= n_win`.
pub fn window_starts(n: usize, n_win: usize, n_inc: usize) -> Vec<(usize, usize)> {
    let count = (n as f64 / n_inc as f64).ceil() as usize;
    (0..count.saturating_sub(1))
        .map(|w| {
            let i1 = w * n_inc;
            if i1 + n_win > n {
                (n - n_win, i1 + n_win - n)
            } else {
                (i1, 0)
            }
        })
        .collect()
}

/// NumPy `fftshift` of a square n x n row-major plane (both axes): `dst[k] = src[(k - n/2) mod n]`.
pub fn fftshift2(src: &[f64], dst: &mut [f64], n: usize) {
    shift2(src, dst, n, n - n / 2);
}

/// NumPy `ifftshift` of a square n x n row-major plane (both axes): `dst[k] = src[(k + n/2) mod n]`.
pub fn ifftshift2(src: &[f64], dst: &mut [f64], n: usize) {
    shift2(src, dst, n, n / 2);
}

/// `dst[i][j] = src[(i + off) % n][(j + off) % n]`.
fn shift2(src: &[f64], dst: &mut [f64], n: usize, off: usize) {
    for i in 0..n {
        let si = (i + off) % n;
        for j in 0..n {
            dst[i * n + j] = src[si * n + (j + off) % n];
        }
    }
}

/// NumPy `median` of float64 values: the middle value, or the mean `(a + b) / 2` of the two
/// middle values for an even count; NaN if any value is NaN. Reorders `v`.
pub fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 || v.iter().any(|x| x.is_nan()) {
        return f64::NAN;
    }
    let (lo, mid, _) = v.select_nth_unstable_by(n / 2, |a, b| a.total_cmp(b));
    let hi = *mid;
    if !n.is_multiple_of(2) {
        hi
    } else {
        let lo = lo.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

/// `scipy.ndimage.correlate(h, outer(g, g), mode='constant', cval=0)` of an n x n plane with
/// the 7x7 kernel `w` (row-major): per output, `tmp = 0; tmp += w[a, b] * h[i+a-3, j+b-3]`
/// over the kernel in C order (terms outside the plane add `w * 0 = +0`, skipped).
pub fn correlate7(h: &[f64], w: &[f64; 49], out: &mut [f64], n: usize) {
    for i in 0..n {
        let a0 = 3usize.saturating_sub(i);
        let a1 = (n + 3 - i).min(7);
        for j in 0..n {
            let b0 = 3usize.saturating_sub(j);
            let b1 = (n + 3 - j).min(7);
            let mut tmp = 0.0f64;
            for a in a0..a1 {
                let row = &h[(i + a - 3) * n..(i + a - 3 + 1) * n];
                for b in b0..b1 {
                    tmp += w[a * 7 + b] * row[j + b - 3];
                }
            }
            out[i * n + j] = tmp;
        }
    }
}

/// `h ** alpha` as NumPy's `array ** scalar` computes it (its fast paths for 0, 0.5, 1, 2, -1,
/// otherwise libm `pow`).
fn power(h: f64, alpha: f64) -> f64 {
    if alpha == 1.0 {
        h
    } else if alpha == 2.0 {
        h * h
    } else if alpha == 0.5 {
        h.sqrt()
    } else if alpha == 0.0 {
        1.0
    } else if alpha == -1.0 {
        1.0 / h
    } else {
        h.powf(alpha)
    }
}

/// `complex * real` as NumPy multiplies a complex128 by a float64 cast to complex: `(ar r - ai 0, ar 0 + ai r)`.
#[inline]
fn cmul_r(z: Complex64, r: f64) -> Complex64 {
    Complex64::new(z.re * r - z.im * 0.0, z.re * 0.0 + z.im * r)
}

/// `np.nan_to_num` of one float32: NaN -> 0, +-inf -> +-max.
#[inline]
fn nan_to_num(x: f32) -> f32 {
    if x.is_nan() {
        0.0
    } else if x == f32::INFINITY {
        f32::MAX
    } else if x == f32::NEG_INFINITY {
        f32::MIN
    } else {
        x
    }
}

/// What the windows of one call share: plans, kernel, taper, sizes.
struct Plan {
    n_win: usize,
    n_fft: usize,
    alpha: f64,
    fwd: Arc<dyn Fft<f64>>,
    inv: Arc<dyn Fft<f64>>,
    scratch_len: usize,
    kernel: [f64; 49],
    taper: Vec<f64>,
    wi: Vec<(usize, usize)>,
    wj: Vec<(usize, usize)>,
}

/// Per-worker buffers (no allocation per window).
struct Work {
    block: Vec<Complex64>,
    tbuf: Vec<Complex64>,
    scratch: Vec<Complex64>,
    a: Vec<f64>,
    b: Vec<f64>,
    sel: Vec<f64>,
    acc: Vec<Complex64>,
    plane: Vec<Complex64>,
}

impl Work {
    fn new(p: &Plan, n_cells: usize) -> Self {
        let z = Complex64::new(0.0, 0.0);
        let nn = p.n_fft * p.n_fft;
        Work {
            block: vec![z; nn],
            tbuf: vec![z; nn],
            scratch: vec![z; p.scratch_len.max(1)],
            a: vec![0.0; nn],
            b: vec![0.0; nn],
            sel: vec![0.0; nn],
            acc: vec![z; n_cells],
            plane: vec![z; n_cells],
        }
    }
}

/// Transpose an n x n row-major complex plane from `src` into `dst`.
fn transpose(src: &[Complex64], dst: &mut [Complex64], n: usize) {
    for i in 0..n {
        for j in 0..n {
            dst[j * n + i] = src[i * n + j];
        }
    }
}

/// 2-D FFT of the n x n plane in `w.block` as NumPy's `fft2`/`ifft2` over axes (0, 1): the
/// last axis first, then the first; the inverse multiplies each axis' output by `1/n`.
fn fft2(fft: &dyn Fft<f64>, w: &mut Work, n: usize, inverse: bool) {
    let fct = 1.0 / n as f64;
    fft.process_with_scratch(&mut w.block, &mut w.scratch);
    if inverse {
        w.block.iter_mut().for_each(|c| *c = Complex64::new(c.re * fct, c.im * fct));
    }
    transpose(&w.block, &mut w.tbuf, n);
    fft.process_with_scratch(&mut w.tbuf, &mut w.scratch);
    if inverse {
        w.tbuf.iter_mut().for_each(|c| *c = Complex64::new(c.re * fct, c.im * fct));
    }
    transpose(&w.tbuf, &mut w.block, n);
}

/// Filter one window at (i1, j1) of the plane in `w.plane` (n_i x n_j row-major) and add it,
/// weighted by the taper shifted by (si, sj), to `w.acc`.
fn filter_window(p: &Plan, w: &mut Work, n_j: usize, (i1, si): (usize, usize), (j1, sj): (usize, usize)) {
    let (nw, n) = (p.n_win, p.n_fft);
    let nn = n * n;
    let zero = Complex64::new(0.0, 0.0);
    w.block.iter_mut().for_each(|c| *c = zero);
    for a in 0..nw {
        w.block[a * n..a * n + nw].copy_from_slice(&w.plane[(i1 + a) * n_j + j1..][..nw]);
    }
    fft2(p.fwd.as_ref(), w, n, false);
    // |F| (hypot, as NumPy's complex abs), fft-shifted, smoothed, shifted back
    for (m, c) in w.a.iter_mut().zip(&w.block) {
        *m = c.re.hypot(c.im);
    }
    fftshift2(&w.a, &mut w.b, n);
    correlate7(&w.b, &p.kernel, &mut w.a, n);
    ifftshift2(&w.a, &mut w.b, n);
    w.sel.copy_from_slice(&w.b);
    let med = median(&mut w.sel);
    let div = if med != 0.0 { med } else { 1.0 };
    for k in 0..nn {
        let h = power(w.b[k] / div, p.alpha);
        w.block[k] = cmul_r(w.block[k], h);
    }
    fft2(p.inv.as_ref(), w, n, true);
    for a in 0..nw {
        let ta = a as isize - si as isize;
        for b in 0..nw {
            let tb = b as isize - sj as isize;
            let wt = if ta < 0 || tb < 0 { 0.0 } else { p.taper[ta as usize * nw + tb as usize] };
            let acc = &mut w.acc[(i1 + a) * n_j + j1 + b];
            *acc += cmul_r(w.block[a * n + b], wt);
        }
    }
}

/// Filter plane `k` of `grid` (nan_to_num'd f32 cast to f64) into `out` (n_i x n_j row-major):
/// `abs(grid32) * complex64(exp(i angle(acc)))` with f32 products.
fn filter_plane(p: &Plan, w: &mut Work, grid: &ArrayView3<Complex32>, k: usize, out: &mut [Complex32]) {
    let (_, n_j, _) = grid.dim();
    let g32: Vec<Complex32> =
        grid.index_axis(Axis(2), k).iter().map(|v| Complex32::new(nan_to_num(v.re), nan_to_num(v.im))).collect();
    for (d, s) in w.plane.iter_mut().zip(&g32) {
        *d = Complex64::new(s.re as f64, s.im as f64);
    }
    w.acc.iter_mut().for_each(|c| *c = Complex64::new(0.0, 0.0));
    for &wi in &p.wi {
        for &wj in &p.wj {
            filter_window(p, w, n_j, wi, wj);
        }
    }
    for ((o, a), g) in out.iter_mut().zip(&w.acc).zip(&g32) {
        let ang = a.im.atan2(a.re);
        let u = Complex32::new(ang.cos() as f32, ang.sin() as f32);
        *o = cmul_real(u, cabs(*g));
    }
}

/// Goldstein filter of every plane of `grid` (n_i x n_j x M complex64, NaN treated as 0) with
/// windows of `n_win` cells (even, at most n_i and n_j), exponent `alpha` and zero padding
/// `n_pad` (default `round(n_win / 4)`); returns (n_i, n_j, M) complex64, the filtered phase
/// with the input magnitude. `threads`: rayon workers over the planes (0 = all cores).
///
/// Panics if `n_win` is odd or zero or larger than the grid (the Python function fails there
/// too; `uw_grid_wrapped` checks the grid size first).
pub fn wrap_filt(grid: ArrayView3<Complex32>, n_win: usize, alpha: f64, n_pad: Option<usize>, threads: usize) -> Array3<Complex32> {
    let (n_i, n_j, m) = grid.dim();
    assert!(n_win >= 2 && n_win.is_multiple_of(2), "wrap_filt: window size {n_win} must be even and positive");
    assert!(n_i >= n_win && n_j >= n_win, "wrap_filt: grid {n_i} x {n_j} is smaller than the window {n_win}");
    let n_pad = n_pad.unwrap_or_else(|| default_pad(n_win));
    let n_fft = n_win + n_pad;
    let n_inc = n_win / 2;
    let mut planner = FftPlanner::<f64>::new();
    let fwd = planner.plan_fft_forward(n_fft);
    let inv = planner.plan_fft_inverse(n_fft);
    let scratch_len = fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len());
    let g = gausswin(7, 2.5);
    let mut kernel = [0.0; 49];
    for (k, v) in kernel.iter_mut().enumerate() {
        *v = g[k / 7] * g[k % 7];
    }
    let plan = Plan {
        n_win,
        n_fft,
        alpha,
        fwd,
        inv,
        scratch_len,
        kernel,
        taper: taper(n_win),
        wi: window_starts(n_i, n_win, n_inc),
        wj: window_starts(n_j, n_win, n_inc),
    };
    let mut out = Array3::<Complex32>::zeros((m, n_i, n_j));
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(
            || Work::new(&plan, n_i * n_j),
            |w, (k, mut dst)| {
                let d = dst.as_slice_mut().expect("fresh array is contiguous");
                filter_plane(&plan, w, &grid, k, d);
            },
        )
    });
    out.permuted_axes([1, 2, 0]).as_standard_layout().to_owned()
}

/// [`wrap_filt`] of a single plane (n_i x n_j), for tests.
pub fn wrap_filt_plane(plane: ArrayView2<Complex32>, n_win: usize, alpha: f64) -> ndarray::Array2<Complex32> {
    let g = plane.insert_axis(Axis(2));
    wrap_filt(g, n_win, alpha, None, 1).index_axis_move(Axis(2), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn window_starts_move_the_last_window_inside() {
        // numpy: ceil(50/16) - 1 = 3 windows; the third (32..64) is moved to 18 with shift 14
        assert_eq!(window_starts(50, 32, 16), vec![(0, 0), (16, 0), (18, 14)]);
        assert_eq!(window_starts(64, 32, 16), vec![(0, 0), (16, 0), (32, 0)]);
        assert_eq!(window_starts(32, 32, 16), vec![(0, 0)]);
    }

    #[test]
    fn taper_is_mirrored_pyramid() {
        let t = taper(4);
        let want = [2., 3., 3., 2., 3., 4., 4., 3., 3., 4., 4., 3., 2., 3., 3., 2.];
        assert_eq!(t, want.to_vec());
        assert_eq!(default_pad(32), 8);
        assert_eq!(default_pad(10), 3); // round(2.5) away from zero
    }

    #[test]
    fn median_even_and_odd() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&mut [1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn fftshift_matches_numpy_roll() {
        // numpy: fftshift(arange(5)) = [3 4 0 1 2], ifftshift(arange(5)) = [2 3 4 0 1]
        let n = 5;
        let src: Vec<f64> = (0..n * n).map(|k| k as f64).collect();
        let mut dst = vec![0.0; n * n];
        fftshift2(&src, &mut dst, n);
        assert_eq!(&dst[..5], &[18., 19., 15., 16., 17.]);
        let mut back = vec![0.0; n * n];
        ifftshift2(&dst, &mut back, n);
        assert_eq!(back, src);
        let n = 4;
        let src: Vec<f64> = (0..n * n).map(|k| k as f64).collect();
        let mut dst = vec![0.0; n * n];
        fftshift2(&src, &mut dst, n);
        assert_eq!(&dst[..4], &[10., 11., 8., 9.]);
    }

    #[test]
    fn correlate_zero_boundary() {
        // a single 1 at (0, 0) of a 5x5 plane: output (i, j) = w[3 - i, 3 - j] for i, j <= 3
        let n = 5;
        let mut h = vec![0.0; n * n];
        h[0] = 1.0;
        let mut w = [0.0; 49];
        for (k, v) in w.iter_mut().enumerate() {
            *v = (k + 1) as f64;
        }
        let mut out = vec![0.0; n * n];
        correlate7(&h, &w, &mut out, n);
        assert_eq!(out[0], w[3 * 7 + 3]);
        assert_eq!(out[n + 2], w[2 * 7 + 1]);
        assert_eq!(out[4], 0.0);
    }

    #[test]
    fn constant_phase_is_kept_and_threads_agree() {
        let g = Array3::from_shape_fn((40, 36, 3), |(i, j, k)| {
            let a = 0.3 * k as f32 + 0.01 * (i * j) as f32;
            Complex32::new(a.cos(), a.sin()) * (1.0 + (i % 3) as f32)
        });
        let one = wrap_filt(g.view(), 16, 0.8, None, 1);
        let two = wrap_filt(g.view(), 16, 0.8, None, 2);
        assert_eq!(one, two);
        for ((i, j, k), v) in one.indexed_iter() {
            let r = cabs(g[[i, j, k]]);
            assert!((cabs(*v) - r).abs() <= 2e-7 * r, "magnitude kept");
        }
        let c = Array2::from_elem((20, 20), Complex32::new(0.6f32.cos(), 0.6f32.sin()));
        let f = wrap_filt_plane(c.view(), 8, 0.8);
        assert!((f[[10, 10]].arg() - 0.6).abs() < 1e-6);
    }
}
