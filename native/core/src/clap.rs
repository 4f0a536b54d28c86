//! CLAP adaptive phase filter (Combined Low-pass and Adaptive Phase), spec C.2.4 / K.2 / C.3.
//!
//! For a window with 2-D spectrum `F`, the gain is
//! `G = beta * max((S(|F|) / median(S(|F|)))^alpha - 1, 0) + LP`, where `S` is the 7x7
//! Gaussian (`gausswin(7)` outer product) 'same' correlation with zero boundary applied to
//! the fft-shifted magnitude, and `LP` the Butterworth low-pass (DC at [0, 0]).
//! Step 2 filters overlapping `n_win` windows zero-padded to `n_win + n_pad`, weighted by a
//! pyramid taper and added up; step 3 filters whole `P x P` blocks without padding or taper
//! and, in [`patch_phase`], only needs the filtered value at one cell per block.
//! Generic over `f32` / `f64` so that each step keeps StaMPS' precision.
//!
//! Speed (see BENCHMARKS.md): the 2-D FFT of a window is a batched rustfft pass over its
//! rows plus a radix-2 pass *across* rows (every butterfly adds or rotates whole rows, so
//! all columns are transformed at once and nothing is transposed).  The forward column
//! pass is decimation-in-frequency (natural order in, bit-reversed rows out) and the
//! inverse is decimation-in-time (bit-reversed in, natural out), so no permutation is ever
//! applied: the response reads the spectrum through the row map.  Zero rows of a padded
//! window are not transformed, and only the rows that are kept are inverse-transformed.
//! Step 3's single output value is a two-stage inverse DFT at that cell (separable
//! twiddles), with the gain folded in.  Workers own their buffers; one task filters all
//! windows of one interferogram (step 2) or a batch of blocks (step 3).

use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Axis};
use num_complex::{Complex, Complex32};
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

fn bitrev(x: usize, bits: u32) -> usize {
    if bits == 0 {
        0
    } else {
        x.reverse_bits() >> (usize::BITS - bits)
    }
}

/// Order-preserving integer keys of non-negative floats (their IEEE bits), so that the
/// median is an integer selection (NaN sorts above +inf).
pub trait Bits: Copy {
    fn key(self) -> u64;
    fn from_key(k: u64) -> Self;
}
impl Bits for f32 {
    #[inline(always)]
    fn key(self) -> u64 {
        self.to_bits() as u64
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        f32::from_bits(k as u32)
    }
}
impl Bits for f64 {
    #[inline(always)]
    fn key(self) -> u64 {
        self.to_bits()
    }
    #[inline(always)]
    fn from_key(k: u64) -> Self {
        f64::from_bits(k)
    }
}

/// Everything shared by the windows of one call: FFT plans, twiddles, row maps, low-pass.
pub struct Plan<T: FftNum> {
    n: usize,
    bits: u32,
    fwd: Arc<dyn Fft<T>>,
    inv: Arc<dyn Fft<T>>,
    /// forward twiddles exp(-2 pi i j / s) per stage size s (concatenated, stage by stage)
    tw: Vec<Vec<Complex<T>>>,
    /// buffer row -> frequency of that row after the forward column pass (bit reversal)
    row_freq: Vec<usize>,
    /// low-pass in the shifted layout: lp_sh[i'][j'] = LP[(i'+n/2)%n][(j'+n/2)%n]
    lp_sh: Vec<T>,
    g: [T; 7],
    alpha: T,
    beta: T,
    scratch_len: usize,
}

impl<T: FftNum + Float + Bits> Plan<T> {
    /// `n` must be a power of two (StaMPS' clap_win is 32: windows of 24 + 8 padding).
    pub fn new(n: usize, low_pass: ArrayView2<T>, alpha: T, beta: T) -> Result<Self, String> {
        if n == 0 || !n.is_power_of_two() {
            return Err(format!("CLAP window size {n} is not a power of two"));
        }
        if low_pass.dim() != (n, n) {
            return Err(format!("low_pass shape {:?} != ({n}, {n})", low_pass.dim()));
        }
        let bits = n.trailing_zeros();
        let mut planner = FftPlanner::<T>::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch_len = fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len());
        let mut tw = Vec::new();
        let mut sz = n;
        while sz >= 2 {
            let half = sz / 2;
            tw.push(
                (0..half)
                    .map(|j| {
                        let a = -2.0 * std::f64::consts::PI * j as f64 / sz as f64;
                        Complex::new(T::from(a.cos()).unwrap(), T::from(a.sin()).unwrap())
                    })
                    .collect(),
            );
            sz /= 2;
        }
        let h = n / 2;
        let lp_sh = (0..n * n).map(|k| low_pass[[(k / n + h) % n, (k % n + h) % n]]).collect();
        let mut g = [T::zero(); 7];
        for (d, v) in g.iter_mut().zip(gausswin7()) {
            *d = T::from(v).unwrap();
        }
        Ok(Plan {
            n,
            bits,
            fwd,
            inv,
            tw,
            row_freq: (0..n).map(|r| bitrev(r, bits)).collect(),
            lp_sh,
            g,
            alpha,
            beta,
            scratch_len,
        })
    }
}

/// Reusable buffers of one worker (no allocation per window).
pub struct Work<T: FftNum> {
    buf: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
    mag: Vec<T>,
    tmp: Vec<T>,
    gain: Vec<T>,
    sel: Vec<T>,
    pad: Vec<T>,
    keys: Vec<u64>,
    re: Vec<T>,
    im: Vec<T>,
    tw_r: Vec<T>,
    tw_i: Vec<T>,
}

impl<T: FftNum + Float + Bits> Work<T> {
    pub fn new(plan: &Plan<T>) -> Self {
        let n = plan.n;
        let z = Complex::new(T::zero(), T::zero());
        Work {
            buf: vec![z; n * n],
            scratch: vec![z; plan.scratch_len.max(1)],
            mag: vec![T::zero(); n * n],
            tmp: vec![T::zero(); n * n],
            gain: vec![T::zero(); n * n],
            sel: vec![T::zero(); n * n],
            pad: vec![T::zero(); n + 6],
            keys: Vec::with_capacity(n * n),
            re: vec![T::zero(); n * n],
            im: vec![T::zero(); n * n],
            tw_r: Vec::new(),
            tw_i: Vec::new(),
        }
    }
}

/// One butterfly pair of rows in split (re, im) planes: `(a, b) -> (a + b, (a - b) w)`.
#[inline(always)]
fn bfly_dif<T: Float, const KIND: u8>(ar: &mut [T], ai: &mut [T], br: &mut [T], bi: &mut [T], w: Complex<T>) {
    for (((xr, xi), yr), yi) in ar.iter_mut().zip(ai.iter_mut()).zip(br.iter_mut()).zip(bi.iter_mut()) {
        let (pr, pi, qr, qi) = (*xr, *xi, *yr, *yi);
        *xr = pr + qr;
        *xi = pi + qi;
        let (dr, di) = (pr - qr, pi - qi);
        match KIND {
            0 => {
                *yr = dr;
                *yi = di;
            }
            1 => {
                // w = -i
                *yr = di;
                *yi = -dr;
            }
            _ => {
                *yr = dr * w.re - di * w.im;
                *yi = dr * w.im + di * w.re;
            }
        }
    }
}

/// One inverse butterfly pair: `(a, b) -> (a + b w*, a - b w*)`.
#[inline(always)]
fn bfly_dit_inv<T: Float, const KIND: u8>(ar: &mut [T], ai: &mut [T], br: &mut [T], bi: &mut [T], w: Complex<T>) {
    for (((xr, xi), yr), yi) in ar.iter_mut().zip(ai.iter_mut()).zip(br.iter_mut()).zip(bi.iter_mut()) {
        let (pr, pi) = (*xr, *xi);
        let (qr, qi) = match KIND {
            0 => (*yr, *yi),
            1 => (-*yi, *yr), // w* = +i
            _ => (*yr * w.re + *yi * w.im, *yi * w.re - *yr * w.im),
        };
        *xr = pr + qr;
        *xi = pi + qi;
        *yr = pr - qr;
        *yi = pi - qi;
    }
}

/// Rows `r0` and `r1 > r0` of an n x n plane as two mutable slices.
#[inline(always)]
fn two_rows<T>(p: &mut [T], n: usize, r0: usize, r1: usize) -> (&mut [T], &mut [T]) {
    let (lo, hi) = p.split_at_mut(r1 * n);
    (&mut lo[r0 * n..(r0 + 1) * n], &mut hi[..n])
}

/// Radix-2 decimation-in-frequency pass across the rows of the split planes (n x n,
/// row-major): natural row order in, bit-reversed row order out; every column at once.
#[inline(always)]
fn column_dif<T: FftNum + Float + Bits>(plan: &Plan<T>, re: &mut [T], im: &mut [T], rows_in: usize) {
    let n = plan.n;
    let mut sz = n;
    let mut stage = 0;
    if rows_in < n && n >= 2 {
        // first stage with zero rows >= rows_in: (a, 0) -> (a, a w); both zero: nothing
        let half = n / 2;
        let tw = &plan.tw[0];
        for j in 0..half {
            if j + half < rows_in {
                let kind = if j == 0 { 0 } else if 4 * j == n { 1 } else { 2 };
                let (ar, br) = two_rows(re, n, j, j + half);
                let (ai, bi) = two_rows(im, n, j, j + half);
                match kind {
                    0 => bfly_dif::<T, 0>(ar, ai, br, bi, tw[j]),
                    1 => bfly_dif::<T, 1>(ar, ai, br, bi, tw[j]),
                    _ => bfly_dif::<T, 2>(ar, ai, br, bi, tw[j]),
                }
            } else if j < rows_in {
                let (ar, br) = two_rows(re, n, j, j + half);
                let (ai, bi) = two_rows(im, n, j, j + half);
                let w = tw[j];
                for (((x, y), u), v) in ar.iter().zip(ai.iter()).zip(br.iter_mut()).zip(bi.iter_mut()) {
                    *u = *x * w.re - *y * w.im;
                    *v = *x * w.im + *y * w.re;
                }
            }
        }
        sz = half;
        stage = 1;
    }
    while sz >= 2 {
        let half = sz / 2;
        let tw = &plan.tw[stage];
        for g in (0..n).step_by(sz) {
            for j in 0..half {
                let kind = if j == 0 { 0 } else if 4 * j == sz { 1 } else { 2 };
                let (ar, br) = two_rows(re, n, g + j, g + j + half);
                let (ai, bi) = two_rows(im, n, g + j, g + j + half);
                match kind {
                    0 => bfly_dif::<T, 0>(ar, ai, br, bi, tw[j]),
                    1 => bfly_dif::<T, 1>(ar, ai, br, bi, tw[j]),
                    _ => bfly_dif::<T, 2>(ar, ai, br, bi, tw[j]),
                }
            }
        }
        sz /= 2;
        stage += 1;
    }
}

/// Radix-2 decimation-in-time inverse pass across rows of the split planes: bit-reversed
/// rows in, natural out (unnormalised).
#[inline(always)]
fn column_dit_inv<T: FftNum + Float + Bits>(plan: &Plan<T>, re: &mut [T], im: &mut [T]) {
    let n = plan.n;
    let mut sz = 2;
    let mut stage = plan.tw.len();
    while sz <= n {
        stage -= 1;
        let half = sz / 2;
        let tw = &plan.tw[stage];
        for g in (0..n).step_by(sz) {
            for j in 0..half {
                let kind = if j == 0 { 0 } else if 4 * j == sz { 1 } else { 2 };
                let (ar, br) = two_rows(re, n, g + j, g + j + half);
                let (ai, bi) = two_rows(im, n, g + j, g + j + half);
                match kind {
                    0 => bfly_dit_inv::<T, 0>(ar, ai, br, bi, tw[j]),
                    1 => bfly_dit_inv::<T, 1>(ar, ai, br, bi, tw[j]),
                    _ => bfly_dit_inv::<T, 2>(ar, ai, br, bi, tw[j]),
                }
            }
        }
        sz *= 2;
    }
}

/// Split the first `rows` rows of the interleaved buffer into the planes.
#[inline(always)]
fn split<T: Float>(buf: &[Complex<T>], re: &mut [T], im: &mut [T], n: usize, rows: usize) {
    for ((c, r), i) in buf[..rows * n].iter().zip(re.iter_mut()).zip(im.iter_mut()) {
        *r = c.re;
        *i = c.im;
    }
    for (r, i) in re[rows * n..].iter_mut().zip(im[rows * n..].iter_mut()) {
        *r = T::zero();
        *i = T::zero();
    }
}

/// The CLAP gain of the spectrum in the planes `w.re`, `w.im` (rows in bit-reversed order),
/// written to `w.gain` in the planes' layout.
#[inline(always)]
fn response<T: FftNum + Float + Bits>(plan: &Plan<T>, w: &mut Work<T>) {
    let n = plan.n;
    let h = n / 2;
    // |F| in the fft-shifted layout: shifted row i' holds frequency u = (i' + h) % n
    for i in 0..n {
        let u = (i + h) % n;
        let r0 = bitrev(u, plan.bits) * n;
        let (sr, si) = (&w.re[r0..r0 + n], &w.im[r0..r0 + n]);
        let dst = &mut w.mag[i * n..(i + 1) * n];
        let (d0, d1) = dst.split_at_mut(h);
        for ((d, &a), &b) in d0.iter_mut().zip(&sr[h..]).zip(&si[h..]) {
            *d = (a * a + b * b).sqrt();
        }
        for ((d, &a), &b) in d1.iter_mut().zip(&sr[..h]).zip(&si[..h]) {
            *d = (a * a + b * b).sqrt();
        }
    }
    let g = plan.g;
    // 7-tap correlation along each row (zero boundary): via a padded row
    for i in 0..n {
        w.pad[3..3 + n].copy_from_slice(&w.mag[i * n..(i + 1) * n]);
        let out = &mut w.tmp[i * n..(i + 1) * n];
        let p = &w.pad[..n + 6];
        for (j, o) in out.iter_mut().enumerate() {
            *o = g[0] * p[j] + g[1] * p[j + 1] + g[2] * p[j + 2] + g[3] * p[j + 3] + g[4] * p[j + 4] + g[5] * p[j + 5] + g[6] * p[j + 6];
        }
    }
    // then along the columns: output row i sums rows i-3..i+3 that exist
    for i in 0..n {
        let out = &mut w.sel[i * n..(i + 1) * n];
        out.iter_mut().for_each(|x| *x = T::zero());
        for t in 0..7 {
            let r = i as isize + t as isize - 3;
            if r < 0 || r >= n as isize {
                continue;
            }
            let src = &w.tmp[r as usize * n..(r as usize + 1) * n];
            let gt = g[t];
            for (o, &x) in out.iter_mut().zip(src) {
                *o = *o + gt * x;
            }
        }
    }
    // median of the smoothed magnitudes (NumPy: mean of the two middle values); the values
    // are >= 0, so their bit patterns order like the values and the selection is on integers
    let m = n * n;
    w.keys.clear();
    w.keys.extend(w.sel.iter().map(|&x| x.key()));
    let (lo_part, hi, _) = w.keys.select_nth_unstable(m / 2);
    let hi = T::from_key(*hi);
    let med = if m % 2 == 1 {
        hi
    } else {
        let lo = T::from_key(lo_part.iter().copied().max().unwrap_or(0));
        (lo + hi) / T::from(2.0).unwrap()
    };
    let inv = if med != T::zero() { med } else { T::one() };
    let one = T::one();
    let rinv = one / inv;
    let unit = plan.alpha == one;
    // gain in the shifted layout, then the row map of the buffer
    // (two loops: a select between x - 1 and powf would make the vectoriser call powf always)
    if unit {
        for (x, &lp) in w.sel.iter_mut().zip(&plan.lp_sh) {
            let h = *x * rinv - one; // (NumPy divides: within an ulp)
            let h = if h < T::zero() { T::zero() } else { h }; // NaN stays NaN (np.maximum)
            *x = h * plan.beta + lp;
        }
    } else {
        for (x, &lp) in w.sel.iter_mut().zip(&plan.lp_sh) {
            let h = (*x * rinv).powf(plan.alpha) - one;
            let h = if h < T::zero() { T::zero() } else { h };
            *x = h * plan.beta + lp;
        }
    }
    for r in 0..n {
        let u = plan.row_freq[r];
        let i = (u + h) % n;
        let src = &w.sel[i * n..(i + 1) * n];
        let dst = &mut w.gain[r * n..(r + 1) * n];
        // column v sits at shifted column (v + h) % n
        dst[..h].copy_from_slice(&src[h..]);
        dst[h..].copy_from_slice(&src[..h]);
    }
}

/// Forward 2-D FFT of the window in `w.buf` whose rows `>= rows_in` are zero.
#[inline(always)]
fn fft2_forward<T: FftNum + Float + Bits>(plan: &Plan<T>, w: &mut Work<T>, rows_in: usize) {
    let n = plan.n;
    plan.fwd.process_with_scratch(&mut w.buf[..rows_in * n], &mut w.scratch);
    split(&w.buf, &mut w.re, &mut w.im, n, rows_in);
    column_dif(plan, &mut w.re, &mut w.im, rows_in);
}

/// Filter the window in `w.buf` (rows `>= rows_in` zero) in place: forward FFT, gain,
/// inverse FFT of the first `rows_out` rows (unnormalised).
#[inline(always)]
fn filter_window<T: FftNum + Float + Bits>(plan: &Plan<T>, w: &mut Work<T>, rows_in: usize, rows_out: usize) {
    let n = plan.n;
    fft2_forward(plan, w, rows_in);
    response(plan, w);
    for ((r, i), &g) in w.re.iter_mut().zip(w.im.iter_mut()).zip(&w.gain) {
        *r = *r * g;
        *i = *i * g;
    }
    column_dit_inv(plan, &mut w.re, &mut w.im);
    for ((c, &r), &i) in w.buf[..rows_out * n].iter_mut().zip(&w.re).zip(&w.im) {
        *c = Complex::new(r, i);
    }
    plan.inv.process_with_scratch(&mut w.buf[..rows_out * n], &mut w.scratch);
}

/// Window starts along one axis (0-based) and the shift of each window; Err when a
/// shifted window would start before 0 (StaMPS errors there).
pub fn window_starts(n: usize, n_win: usize, n_inc: usize) -> Result<Vec<(usize, usize)>, String> {
    let n_w = n.div_ceil(n_inc.max(1)).saturating_sub(3);
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

/// All windows of one interferogram plane (`src` n_i x n_j, NaN already 0) into `dst`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn stack_plane_body<T: FftNum + Float + Bits>(
    plan: &Plan<T>,
    w: &mut Work<T>,
    src: &[Complex<T>],
    dst: &mut [Complex<T>],
    nj: usize,
    n_win: usize,
    wi: &[(usize, usize)],
    wj: &[(usize, usize)],
    taper: &[T],
) {
    let n = plan.n;
    let zero = Complex::new(T::zero(), T::zero());
    let norm = T::one() / T::from((n * n) as f64).unwrap();
    for &(i1, si) in wi {
        for &(j1, sj) in wj {
            for a in 0..n {
                let row = &mut w.buf[a * n..(a + 1) * n];
                if a < n_win {
                    row[..n_win].copy_from_slice(&src[(i1 + a) * nj + j1..][..n_win]);
                    row[n_win..].iter_mut().for_each(|c| *c = zero);
                } else {
                    row.iter_mut().for_each(|c| *c = zero);
                }
            }
            filter_window(plan, w, n_win, n_win);
            for a in si..n_win {
                let trow = &taper[(a - si) * n_win..][..n_win - sj];
                let o = &mut dst[(i1 + a) * nj + j1 + sj..][..n_win - sj];
                let v = &w.buf[a * n + sj..][..n_win - sj];
                for ((o, &x), &t) in o.iter_mut().zip(v).zip(trow) {
                    let f = norm * t;
                    *o = Complex::new(o.re + x.re * f, o.im + x.im * f);
                }
            }
        }
    }
}

macro_rules! plane_dispatch {
    ($name:ident, $t:ty) => {
        avx2_dispatch!(fn $name(
            plan: &Plan<$t>,
            w: &mut Work<$t>,
            src: &[Complex<$t>],
            dst: &mut [Complex<$t>],
            nj: usize,
            n_win: usize,
            wi: &[(usize, usize)],
            wj: &[(usize, usize)],
            taper: &[$t],
        ) -> () => stack_plane_body);
    };
}
plane_dispatch!(stack_plane_f32, f32);
plane_dispatch!(stack_plane_f64, f64);

/// Precision dispatch for the generic kernels (the AVX2 builds are per concrete type).
pub trait ClapFloat: FftNum + Float + Bits {
    #[allow(clippy::too_many_arguments)]
    fn stack_plane(
        plan: &Plan<Self>,
        w: &mut Work<Self>,
        src: &[Complex<Self>],
        dst: &mut [Complex<Self>],
        nj: usize,
        n_win: usize,
        wi: &[(usize, usize)],
        wj: &[(usize, usize)],
        taper: &[Self],
    );
    fn block(plan: &Plan<Self>, w: &mut Work<Self>, src: &[Complex<Self>], dst: &mut [Complex<Self>]);
}

/// One step-3 block: filter it whole and write the normalised result.
#[inline(always)]
fn block_body<T: FftNum + Float + Bits>(plan: &Plan<T>, w: &mut Work<T>, src: &[Complex<T>], dst: &mut [Complex<T>]) {
    let n = plan.n;
    let zero = Complex::new(T::zero(), T::zero());
    for (d, v) in w.buf.iter_mut().zip(src) {
        *d = if v.re.is_nan() || v.im.is_nan() { zero } else { *v };
    }
    filter_window(plan, w, n, n);
    let norm = T::one() / T::from((n * n) as f64).unwrap();
    for (o, v) in dst.iter_mut().zip(&w.buf) {
        *o = Complex::new(v.re * norm, v.im * norm);
    }
}

avx2_dispatch!(fn block_f32(plan: &Plan<f32>, w: &mut Work<f32>, src: &[Complex<f32>], dst: &mut [Complex<f32>]) -> () => block_body);
avx2_dispatch!(fn block_f64(plan: &Plan<f64>, w: &mut Work<f64>, src: &[Complex<f64>], dst: &mut [Complex<f64>]) -> () => block_body);

impl ClapFloat for f32 {
    fn stack_plane(
        plan: &Plan<f32>,
        w: &mut Work<f32>,
        src: &[Complex<f32>],
        dst: &mut [Complex<f32>],
        nj: usize,
        n_win: usize,
        wi: &[(usize, usize)],
        wj: &[(usize, usize)],
        taper: &[f32],
    ) {
        stack_plane_f32(plan, w, src, dst, nj, n_win, wi, wj, taper)
    }
    fn block(plan: &Plan<f32>, w: &mut Work<f32>, src: &[Complex<f32>], dst: &mut [Complex<f32>]) {
        block_f32(plan, w, src, dst)
    }
}

impl ClapFloat for f64 {
    fn stack_plane(
        plan: &Plan<f64>,
        w: &mut Work<f64>,
        src: &[Complex<f64>],
        dst: &mut [Complex<f64>],
        nj: usize,
        n_win: usize,
        wi: &[(usize, usize)],
        wj: &[(usize, usize)],
        taper: &[f64],
    ) {
        stack_plane_f64(plan, w, src, dst, nj, n_win, wi, wj, taper)
    }
    fn block(plan: &Plan<f64>, w: &mut Work<f64>, src: &[Complex<f64>], dst: &mut [Complex<f64>]) {
        block_f64(plan, w, src, dst)
    }
}

/// Step-2 CLAP of every slice of `grid` (n_i x n_j x M). NaN is treated as 0.
pub fn clap_filt_stack<T: ClapFloat>(
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
    let plan = Plan::new(n, low_pass, alpha, beta)?;
    let half = n_win / 2;
    let t = |x: usize| if x < half { x } else { n_win - 1 - x };
    let taper: Vec<T> = (0..n_win * n_win).map(|k| T::from((t(k / n_win) + t(k % n_win)) as f64 + 1e-6).unwrap()).collect();
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(
            || (Work::new(&plan), Vec::new()),
            |(w, src), (k, mut dst)| {
                let zero = Complex::new(T::zero(), T::zero());
                src.clear();
                src.extend(grid.index_axis(Axis(2), k).iter().map(|v| if v.re.is_nan() || v.im.is_nan() { zero } else { *v }));
                let d = dst.as_slice_mut().expect("fresh array is contiguous");
                T::stack_plane(&plan, w, src, d, n_j, n_win, &wi, &wj, &taper);
            },
        )
    });
    Ok(out.permuted_axes([1, 2, 0]).as_standard_layout().to_owned())
}

/// Step-3 CLAP of square blocks (n_blocks x P x P), no padding and no taper.
pub fn clap_filt_patch<T: ClapFloat>(
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
    let mut out = Array3::<Complex<T>>::zeros((nb, p, p));
    if nb == 0 {
        return Ok(out);
    }
    let plan = Plan::new(p, low_pass, alpha, beta)?;
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(
            || (Work::new(&plan), Vec::new()),
            |(w, src), (k, mut dst)| {
                src.clear();
                src.extend(blocks.slice(s![k, .., ..]).iter().copied());
                T::block(&plan, w, src, dst.as_slice_mut().expect("contiguous"));
            },
        )
    });
    Ok(out)
}

/// Step-3 window starts along one axis for 1-based cells (`max(cell - win/2, 1)`, moved to
/// end at `n`), 0-based; negative when the window does not fit.
fn patch_start(cell: i64, n: usize, win: usize) -> i64 {
    let mut s = (cell - (win / 2) as i64).max(1);
    let over = s + win as i64 - 1 - n as i64;
    if over > 0 {
        s -= over;
    }
    s - 1
}

/// One cell's patch phase for every interferogram (f32, see [`patch_phase`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn patch_cell_body(
    plan: &Plan<f32>,
    w: &mut Work<f32>,
    planes: &[Complex32],
    n_i: usize,
    n_j: usize,
    i0: usize,
    j0: usize,
    oi: usize,
    oj: usize,
    osf: usize,
    out: &mut [Complex32],
    cu: &mut [(f64, f64)],
    cv: &mut [(f64, f64)],
) {
    let n = plan.n;
    let plane = n_i * n_j;
    // separable inverse-DFT twiddles of the own cell: exp(+2 pi i u oi / n), exp(+2 pi i v oj / n)
    // (cu is indexed by buffer row r, which holds row frequency row_freq[r])
    let (mut cvr, mut cvi) = (std::mem::take(&mut w.tw_r), std::mem::take(&mut w.tw_i));
    cvr.resize(n, 0.0);
    cvi.resize(n, 0.0);
    for r in 0..n {
        let a = 2.0 * std::f64::consts::PI * ((plan.row_freq[r] * oi) % n) as f64 / n as f64;
        cu[r] = (a.cos(), a.sin());
        let b = 2.0 * std::f64::consts::PI * ((r * oj) % n) as f64 / n as f64;
        cv[r] = (b.cos(), b.sin());
        cvr[r] = cv[r].0 as f32;
        cvi[r] = cv[r].1 as f32;
    }
    let norm = 1.0 / (n * n) as f64;
    for (k, o) in out.iter_mut().enumerate() {
        let src = &planes[k * plane..(k + 1) * plane];
        for a in 0..n {
            w.buf[a * n..(a + 1) * n].copy_from_slice(&src[(i0 + a) * n_j + j0..][..n]);
        }
        w.buf[oi * n + oj] = Complex32::new(0.0, 0.0);
        if k == 0 && osf > 1 {
            let r = osf as isize - 1;
            for di in -r..=r {
                for dj in -r..=r {
                    let (ii, jj) = (oi as isize + di, oj as isize + dj);
                    if ii >= 0 && ii < n as isize && jj >= 0 && jj < n as isize {
                        w.buf[ii as usize * n + jj as usize] = Complex32::new(0.0, 0.0);
                    }
                }
            }
        }
        fft2_forward(plan, w, n);
        response(plan, w);
        // value at (oi, oj) of ifft2(F G): sum_r cu[r] sum_v (F G)[r, v] cv[v]; the inner sums
        // in f32 with eight partial sums (vectorises), the outer one in f64
        let (mut pr, mut pi) = (0f64, 0f64);
        for r in 0..n {
            let (rre, rim) = (&w.re[r * n..(r + 1) * n], &w.im[r * n..(r + 1) * n]);
            let grow = &w.gain[r * n..(r + 1) * n];
            let (mut ar, mut ai) = ([0f32; 8], [0f32; 8]);
            for (((xr8, xi8), gc), (wrc, wic)) in rre
                .chunks_exact(8)
                .zip(rim.chunks_exact(8))
                .zip(grow.chunks_exact(8))
                .zip(cvr.chunks_exact(8).zip(cvi.chunks_exact(8)))
            {
                for l in 0..8 {
                    let (xr, xi) = (xr8[l] * gc[l], xi8[l] * gc[l]);
                    ar[l] += xr * wrc[l] - xi * wic[l];
                    ai[l] += xr * wic[l] + xi * wrc[l];
                }
            }
            for v in (n - n % 8)..n {
                let (xr, xi) = (rre[v] * grow[v], rim[v] * grow[v]);
                ar[0] += xr * cvr[v] - xi * cvi[v];
                ai[0] += xr * cvi[v] + xi * cvr[v];
            }
            let sr = ar.iter().map(|&x| x as f64).sum::<f64>();
            let si = ai.iter().map(|&x| x as f64).sum::<f64>();
            let (wr, wi) = cu[r];
            pr += sr * wr - si * wi;
            pi += sr * wi + si * wr;
        }
        *o = Complex32::new((pr * norm) as f32, (pi * norm) as f32);
    }
    w.tw_r = cvr;
    w.tw_i = cvi;
}

avx2_dispatch!(fn patch_cell(
    plan: &Plan<f32>,
    w: &mut Work<f32>,
    planes: &[Complex32],
    n_i: usize,
    n_j: usize,
    i0: usize,
    j0: usize,
    oi: usize,
    oj: usize,
    osf: usize,
    out: &mut [Complex32],
    cu: &mut [(f64, f64)],
    cv: &mut [(f64, f64)],
) -> () => patch_cell_body);

/// Step-3 patch-phase re-estimation (spec C.3 step 6) for unique 1-based `cells` (n_c x 2)
/// of the step-2 cell sums `grid` (n_i x n_j x M complex64): per cell, the `win` x `win`
/// window around it with the cell zeroed in every ifg (and its +-(osf-1) neighbourhood in
/// the first ifg), CLAP-filtered in single precision; the value at the cell.  Returns
/// (P2 (n_c x M) complex64, fits (n_c,)): a window that does not fit the grid gives
/// `fits = false` and P2 = 0.  NaN cell sums are treated as 0.
#[allow(clippy::too_many_arguments)]
pub fn patch_phase(
    grid: ArrayView3<Complex32>,
    cells: ArrayView2<i64>,
    win: usize,
    osf: usize,
    alpha: f32,
    beta: f32,
    low_pass: ArrayView2<f32>,
    threads: usize,
) -> Result<(Array2<Complex32>, Vec<bool>), String> {
    let (n_i, n_j, m) = grid.dim();
    if cells.ncols() != 2 {
        return Err(format!("cells must have 2 columns, got {}", cells.ncols()));
    }
    let nc = cells.nrows();
    let mut p2 = Array2::<Complex32>::zeros((nc, m));
    let starts: Vec<(i64, i64)> =
        (0..nc).map(|c| (patch_start(cells[[c, 0]], n_i, win), patch_start(cells[[c, 1]], n_j, win))).collect();
    let fits: Vec<bool> = starts.iter().map(|&(a, b)| a >= 0 && b >= 0).collect();
    if nc == 0 || m == 0 || !fits.iter().any(|&f| f) {
        return Ok((p2, fits));
    }
    let plan = Plan::new(win, low_pass, alpha, beta)?;
    // interferogram planes (M x n_i x n_j), NaN -> 0
    let zero = Complex32::new(0.0, 0.0);
    let mut planes = vec![zero; m * n_i * n_j];
    for ((i, j, k), v) in grid.indexed_iter() {
        planes[(k * n_i + i) * n_j + j] = if v.re.is_nan() || v.im.is_nan() { zero } else { *v };
    }
    crate::pool::install(threads, || {
        p2.axis_chunks_iter_mut(Axis(0), 8).into_par_iter().enumerate().for_each_init(
            || (Work::new(&plan), vec![(0f64, 0f64); win], vec![(0f64, 0f64); win]),
            |(w, cu, cv), (b, mut blk)| {
                for r in 0..blk.nrows() {
                    let c = b * 8 + r;
                    if !fits[c] {
                        continue;
                    }
                    let (i0, j0) = (starts[c].0 as usize, starts[c].1 as usize);
                    let oi = (cells[[c, 0]] - 1) as usize - i0;
                    let oj = (cells[[c, 1]] - 1) as usize - j0;
                    let mut row = blk.row_mut(r);
                    let o = row.as_slice_mut().expect("contiguous row");
                    patch_cell(&plan, w, &planes, n_i, n_j, i0, j0, oi, oj, osf, o, cu, cv);
                }
            },
        )
    });
    Ok((p2, fits))
}

/// The `n_win` x `n_win` Butterworth low-pass of spec C.2.1 (DC at [0, 0]), as the python
/// `low_pass_filter`: `b_j = 1 / (1 + (f_j wavelength)^10)` with `f_j = j / grid_size / n_win`
/// (the power through libm `pow`, as NumPy's `**`, so the values are bit-equal), `LP = b b^T`.
pub fn low_pass(grid_size: f64, n_win: usize, wavelength: f64) -> Array2<f64> {
    let b: Vec<f64> = (0..n_win)
        .map(|k| {
            let j = if k < n_win - n_win / 2 { k as f64 } else { k as f64 - n_win as f64 };
            let f = j / grid_size / n_win as f64;
            1.0 / (1.0 + (f * wavelength).powf(10.0))
        })
        .collect();
    Array2::from_shape_fn((n_win, n_win), |(i, j)| b[i] * b[j])
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use num_complex::Complex64;

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
        let ph = Complex64::new(0.6f64.cos(), 0.6f64.sin());
        let g = Array3::from_elem((40, 40, 2), ph);
        let lp = low_pass(50.0, 32, 800.0);
        let out = clap_filt_stack(g.view(), 1.0, 0.3, 24, 8, lp.view(), 1).unwrap();
        let c = out[[20, 20, 1]];
        assert!((c.arg() - 0.6).abs() < 1e-9);
    }

    #[test]
    fn two_d_fft_matches_a_direct_dft() {
        let n = 8;
        let lp = Array2::<f64>::zeros((n, n));
        let plan = Plan::new(n, lp.view(), 1.0, 0.0).unwrap();
        let mut w = Work::new(&plan);
        let x: Vec<Complex64> = (0..n * n).map(|k| Complex64::new((k as f64 * 0.37).sin(), (k as f64 * 0.11).cos())).collect();
        w.buf.copy_from_slice(&x);
        fft2_forward(&plan, &mut w, n);
        for u in 0..n {
            for v in 0..n {
                let mut s = Complex64::new(0.0, 0.0);
                for a in 0..n {
                    for b in 0..n {
                        let ang = -2.0 * std::f64::consts::PI * ((u * a + v * b) % n) as f64 / n as f64;
                        s += x[a * n + b] * Complex64::new(ang.cos(), ang.sin());
                    }
                }
                let k = bitrev(u, plan.bits) * n + v;
                let got = Complex64::new(w.re[k], w.im[k]);
                assert!((got - s).norm() < 1e-12, "{u} {v} {got} {s}");
            }
        }
        // and back (unnormalised)
        column_dit_inv(&plan, &mut w.re, &mut w.im);
        for k in 0..n * n {
            w.buf[k] = Complex64::new(w.re[k], w.im[k]);
        }
        plan.inv.process_with_scratch(&mut w.buf, &mut w.scratch);
        for k in 0..n * n {
            assert!((w.buf[k] / (n * n) as f64 - x[k]).norm() < 1e-12);
        }
    }

    #[test]
    fn patch_phase_equals_the_filtered_block() {
        let (ni, nj, m) = (40, 40, 2);
        let g = Array3::from_shape_fn((ni, nj, m), |(i, j, k)| {
            let ph = 0.1 * i as f32 + 0.05 * j as f32 * (k + 1) as f32 + ((i * 7 + j * 3) % 5) as f32 * 0.3;
            Complex32::new(ph.cos(), ph.sin())
        });
        let lp = low_pass(50.0, 32, 800.0).mapv(|x| x as f32);
        let cells = Array2::from_shape_vec((2, 2), vec![20i64, 21, 3, 38]).unwrap();
        let (p2, fits) = patch_phase(g.view(), cells.view(), 32, 1, 1.0, 0.3, lp.view(), 2).unwrap();
        assert_eq!(fits, vec![true, true]);
        for c in 0..2 {
            let i0 = patch_start(cells[[c, 0]], ni, 32) as usize;
            let j0 = patch_start(cells[[c, 1]], nj, 32) as usize;
            let (oi, oj) = ((cells[[c, 0]] - 1) as usize - i0, (cells[[c, 1]] - 1) as usize - j0);
            for k in 0..m {
                let mut blk = Array3::<Complex32>::zeros((1, 32, 32));
                for a in 0..32 {
                    for b in 0..32 {
                        blk[[0, a, b]] = g[[i0 + a, j0 + b, k]];
                    }
                }
                blk[[0, oi, oj]] = Complex32::new(0.0, 0.0);
                let f = clap_filt_patch(blk.view(), 1.0, 0.3, lp.view(), 1).unwrap();
                let want = f[[0, oi, oj]];
                assert!((p2[[c, k]] - want).norm() < 1e-5 * (1.0 + want.norm()), "{} {}", p2[[c, k]], want);
            }
        }
    }
}
