//! `stage7_scla`: the per-pixel least squares of `ps_calc_scla` (spec C.7.1 steps 5-8, K.9).
//!
//! Sequential differences `dPhi = diff(ph)`, `dB = diff(B)` (f32), `dt = diff(day)`; one
//! design matrix `A = [1, mean_p dB, dt]` (the dt column only with >= 4 images, the column
//! mean of dB summed sequentially in f32 as StaMPS) shared by all pixels; `K = (A \ dPhi)[1]`
//! in f64 (Householder QR once, NumPy's rank test, the pseudo-inverse when rank deficient),
//! optionally refined per pixel by Nelder-Mead on `sum |A x - dPhi|` (L1, scipy `fmin`
//! step for step).  Then `C` = intercept of the generalised least-squares line
//! `ph - f32(K) B ~ c + r (t - t_master)` over the non-master images with the variances
//! `(ifg_std pi / 180)^2`, as Octave's `lscov` evaluates it for single data: whitening, the
//! double pseudo-inverse rounded to f32 and applied in f32 (here a sequential fused
//! multiply-add dot product).
//!
//! Precision: K agrees with the python backend to ~1e-15 relative (both solve the same
//! small f64 problem, different but backward-stable orders); C is f32, within a few ulps of
//! the python backend's BLAS sgemm.

use crate::num::{fma32, pairwise_sum_f64, pinv, qr_solve_operator, Mat};
use ndarray::{ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Options of [`scla_fit`].
pub struct SclaOptions<'a> {
    /// Position of the master within the used images (its column is left out of the C fit).
    pub master_pos: Option<usize>,
    /// ifg noise in degrees (one per used image), `None` = identity covariance.
    pub ifg_std: Option<&'a [f64]>,
    /// L1 refinement (`scla_method = L1`).
    pub l1: bool,
    /// Master date, used when `master_pos` is `None`.
    pub master_day: f64,
}

/// `(ifg_std pi / 180)^2` in single precision (the python `ifg_variance`).
pub fn ifg_variance(std: &[f64]) -> Vec<f32> {
    std.iter()
        .map(|&s| {
            let v = (s as f32 * std::f32::consts::PI) / 180f32;
            v * v
        })
        .collect()
}

/// Solution operator X = P Y of the shared design matrix (as the python `_solve_many`).
fn ls_operator(a: &Mat) -> Mat {
    if a.rows >= a.cols {
        let (p, d) = qr_solve_operator(a);
        let dmax = d.iter().copied().fold(0.0, f64::max);
        let dmin = d.iter().copied().fold(f64::INFINITY, f64::min);
        if !d.is_empty() && dmin > dmax * a.rows as f64 * f64::EPSILON {
            return p;
        }
    }
    pinv(a, 1e-15)
}

/// Nelder-Mead minimisation as scipy's `fmin(func, x0, xtol=1e-4, ftol=1e-4)`.
pub fn fmin(f: &dyn Fn(&[f64]) -> f64, x0: &[f64]) -> Vec<f64> {
    let n = x0.len();
    let (xatol, fatol) = (1e-4, 1e-4);
    let maxfun = 200 * n;
    let maxiter = 200 * n;
    let mut sim: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    sim.push(x0.to_vec());
    for k in 0..n {
        let mut y = x0.to_vec();
        y[k] = if y[k] != 0.0 {
            (1.0 + 0.05) * y[k]
        } else {
            0.00025
        };
        sim.push(y);
    }
    let ncalls = std::cell::Cell::new(0usize);
    let call = |x: &[f64]| -> Option<f64> {
        if ncalls.get() >= maxfun {
            return None;
        }
        ncalls.set(ncalls.get() + 1);
        Some(f(x))
    };
    let mut fsim = vec![f64::INFINITY; n + 1];
    for k in 0..=n {
        match call(&sim[k]) {
            Some(v) => fsim[k] = v,
            None => break,
        }
    }
    let sort = |sim: &mut Vec<Vec<f64>>, fsim: &mut Vec<f64>| {
        let mut idx: Vec<usize> = (0..fsim.len()).collect();
        idx.sort_by(|&a, &b| {
            let (x, y) = (fsim[a], fsim[b]);
            match (x.is_nan(), y.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                _ => x.partial_cmp(&y).unwrap(),
            }
        });
        *sim = idx.iter().map(|&i| sim[i].clone()).collect();
        *fsim = idx.iter().map(|&i| fsim[i]).collect();
    };
    sort(&mut sim, &mut fsim);
    let mut iterations = 1usize;
    while ncalls.get() < maxfun && iterations < maxiter {
        // convergence test (NaN compares false, as np.max propagates it)
        let mut dx = f64::NEG_INFINITY;
        let mut nan = false;
        for s in &sim[1..] {
            for j in 0..n {
                let d = (s[j] - sim[0][j]).abs();
                nan |= d.is_nan();
                dx = dx.max(d);
            }
        }
        let mut df = f64::NEG_INFINITY;
        for &v in &fsim[1..] {
            let d = (fsim[0] - v).abs();
            nan |= d.is_nan();
            df = df.max(d);
        }
        if !nan && dx <= xatol && df <= fatol {
            break;
        }
        let step = (|| -> Option<()> {
            let mut xbar = sim[0].clone();
            for s in &sim[1..n] {
                for j in 0..n {
                    xbar[j] += s[j];
                }
            }
            xbar.iter_mut().for_each(|v| *v /= n as f64);
            let last = sim[n].clone();
            let xr: Vec<f64> = xbar.iter().zip(&last).map(|(&b, &l)| 2.0 * b - l).collect();
            let fxr = call(&xr)?;
            let mut doshrink = false;
            if fxr < fsim[0] {
                let xe: Vec<f64> = xbar
                    .iter()
                    .zip(&last)
                    .map(|(&b, &l)| 3.0 * b - 2.0 * l)
                    .collect();
                let fxe = call(&xe)?;
                if fxe < fxr {
                    sim[n] = xe;
                    fsim[n] = fxe;
                } else {
                    sim[n] = xr;
                    fsim[n] = fxr;
                }
            } else if fxr < fsim[n - 1] {
                sim[n] = xr;
                fsim[n] = fxr;
            } else {
                if fxr < fsim[n] {
                    let xc: Vec<f64> = xbar
                        .iter()
                        .zip(&last)
                        .map(|(&b, &l)| 1.5 * b - 0.5 * l)
                        .collect();
                    let fxc = call(&xc)?;
                    if fxc <= fxr {
                        sim[n] = xc;
                        fsim[n] = fxc;
                    } else {
                        doshrink = true;
                    }
                } else {
                    let xcc: Vec<f64> = xbar
                        .iter()
                        .zip(&last)
                        .map(|(&b, &l)| 0.5 * b + 0.5 * l)
                        .collect();
                    let fxcc = call(&xcc)?;
                    if fxcc < fsim[n] {
                        sim[n] = xcc;
                        fsim[n] = fxcc;
                    } else {
                        doshrink = true;
                    }
                }
                if doshrink {
                    for j in 1..=n {
                        let s0 = sim[0].clone();
                        sim[j] = s0
                            .iter()
                            .zip(&sim[j])
                            .map(|(&a, &b)| a + 0.5 * (b - a))
                            .collect();
                        fsim[j] = call(&sim[j])?;
                    }
                }
            }
            Some(())
        })();
        if step.is_some() {
            iterations += 1;
        }
        sort(&mut sim, &mut fsim);
    }
    sim[0].clone()
}

/// K (f64 rad/m) and C (f32 rad) per pixel; see the module docs.
///
/// `ph` (n x U) f32 referenced unwrapped phase, `bperp` (n x U) f32, `day` (U,).
pub fn scla_fit(
    ph: ArrayView2<f32>,
    bperp: ArrayView2<f32>,
    day: ArrayView1<f64>,
    opt: &SclaOptions,
    threads: usize,
) -> Result<(Vec<f64>, Vec<f32>), String> {
    let (n, nu) = ph.dim();
    check_inputs(&ph, &bperp, &day, opt)?;
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    // row-major slices (a copy only for strided input): rows are read whole, contiguously
    let (ph, bperp) = (ph.as_standard_layout(), bperp.as_standard_layout());
    let (ph, bperp) = (
        ph.as_slice().expect("standard layout"),
        bperp.as_slice().expect("standard layout"),
    );
    let model = Model::new(&mean_db_column(bperp, nu), &day.to_vec(), opt);
    let mut kout = vec![0f64; n];
    let mut cout = vec![0f32; n];
    let run = |first: usize, k: &mut [f64], c: &mut [f32]| {
        let rows = first * nu..(first + k.len()) * nu;
        fit_pixels(&model, &ph[rows.clone()], &bperp[rows], k, c)
    };
    if threads == 1 || (n < PARALLEL_MIN_PIXELS && !opt.l1) {
        run(0, &mut kout, &mut cout);
    } else {
        crate::pool::install(threads, || {
            kout.par_chunks_mut(PIXELS_PER_TASK)
                .zip(cout.par_chunks_mut(PIXELS_PER_TASK))
                .enumerate()
                .for_each(|(t, (k, c))| run(t * PIXELS_PER_TASK, k, c))
        });
    }
    Ok((kout, cout))
}

/// Pixels fitted together, one per vector lane (see [`fit_block`]).
const LANES: usize = 8;

/// Pixels per parallel task (a multiple of [`LANES`]).
const PIXELS_PER_TASK: usize = 2048;

/// Below this many pixels the (L2) fit runs on the calling thread: ~10 ns a pixel is too
/// little work to pay for waking a second thread.
const PARALLEL_MIN_PIXELS: usize = 1 << 18;

/// The argument checks of [`scla_fit`].
fn check_inputs(
    ph: &ArrayView2<f32>,
    bperp: &ArrayView2<f32>,
    day: &ArrayView1<f64>,
    opt: &SclaOptions,
) -> Result<(), String> {
    let (n, nu) = ph.dim();
    if bperp.dim() != (n, nu) {
        return Err(format!(
            "bperp {:?} does not match ph {:?}",
            bperp.dim(),
            (n, nu)
        ));
    }
    if day.len() != nu {
        return Err(format!("day has {} values for {nu} images", day.len()));
    }
    if nu < 2 {
        return Err(format!("stage7_scla needs at least 2 images, got {nu}"));
    }
    if let Some(m) = opt.master_pos {
        if m >= nu {
            return Err(format!("master_pos {m} outside 0..{nu}"));
        }
    }
    if let Some(s) = opt.ifg_std {
        if s.len() != nu {
            return Err(format!("ifg_std has {} values for {nu} images", s.len()));
        }
    }
    Ok(())
}

/// Column mean of `dB = diff(bperp)` over the pixels (rows of `nu` values), summed
/// sequentially in f32 as StaMPS, divided in f32.  The loop runs along a row, so it
/// vectorises without changing any pixel's summation order.
fn mean_db_column(bperp: &[f32], nu: usize) -> Vec<f32> {
    let mut sum = vec![0f32; nu - 1];
    for row in bperp.chunks_exact(nu) {
        for (s, w) in sum.iter_mut().zip(row.windows(2)) {
            *s += w[1] - w[0];
        }
    }
    let n = (bperp.len() / nu) as f32;
    sum.iter().map(|&s| s / n).collect()
}

/// What every pixel's fit shares: the design of the K fit and its solution operator, and
/// the whitened C fit over the kept (non-master) images.
struct Model {
    /// Sequential differences per pixel (`U - 1`).
    m: usize,
    /// Columns of the K design (2, or 3 with the dt column).
    ncol: usize,
    /// The K design `[1, mean dB, dt]` (m x ncol), for the L1 objective.
    a: Mat,
    /// Its least-squares operator (ncol x m).
    op: Mat,
    /// Images of the C fit, with the first row of the whitened pseudo-inverse and the
    /// standard deviations, both in f32.
    keep: Vec<usize>,
    p0: Vec<f32>,
    sig32: Vec<f32>,
    l1: bool,
}

impl Model {
    fn new(mean_db: &[f32], t: &[f64], opt: &SclaOptions) -> Self {
        let nu = t.len();
        let m = nu - 1;
        let ncol = if nu >= 4 { 3 } else { 2 };
        let mut a = Mat::zeros(m, ncol);
        for k in 0..m {
            a.set(k, 0, 1.0);
            a.set(k, 1, mean_db[k] as f64);
            if ncol == 3 {
                a.set(k, 2, t[k + 1] - t[k]);
            }
        }
        let op = ls_operator(&a);
        // the C fit: whitened design over the kept images
        let keep: Vec<usize> = (0..nu).filter(|&k| Some(k) != opt.master_pos).collect();
        let t0 = match opt.master_pos {
            Some(mp) => t[mp],
            None => opt.master_day,
        };
        let sig: Vec<f64> = match opt.ifg_std {
            Some(s) => {
                let v = ifg_variance(s);
                keep.iter().map(|&k| (v[k] as f64).sqrt()).collect()
            }
            None => vec![1.0; keep.len()],
        };
        let mut aw = Mat::zeros(keep.len(), 2);
        for (i, &k) in keep.iter().enumerate() {
            aw.set(i, 0, 1.0 / sig[i]);
            aw.set(i, 1, (t[k] - t0) / sig[i]);
        }
        let pw = pinv(&aw, 1e-15);
        let p0 = (0..keep.len()).map(|i| pw.at(0, i) as f32).collect();
        let sig32 = sig.iter().map(|&s| s as f32).collect();
        Model {
            m,
            ncol,
            a,
            op,
            keep,
            p0,
            sig32,
            l1: opt.l1,
        }
    }
}

/// Per-lane scratch of [`fit_block`]: the block's rows transposed (image-major), so that
/// each operation runs over the [`LANES`] pixels at once.
struct Lanes {
    ph: Vec<[f32; LANES]>,
    b: Vec<[f32; LANES]>,
    y: Vec<[f64; LANES]>,
}

avx2_dispatch!(fn fit_pixels(model: &Model, ph: &[f32], bperp: &[f32], k: &mut [f64], c: &mut [f32]) -> ()
    => fit_pixels_body);

/// K and C of the pixels whose rows are `ph` and `bperp` (row-major, `U` values a row),
/// [`LANES`] pixels at a time.
#[inline(always)]
fn fit_pixels_body(model: &Model, ph: &[f32], bperp: &[f32], k: &mut [f64], c: &mut [f32]) {
    let nu = model.m + 1;
    let mut w = Lanes {
        ph: vec![[0.0; LANES]; nu],
        b: vec![[0.0; LANES]; nu],
        y: vec![[0.0; LANES]; model.m],
    };
    let rows = LANES * nu;
    for (((ph, b), k), c) in ph
        .chunks(rows)
        .zip(bperp.chunks(rows))
        .zip(k.chunks_mut(LANES))
        .zip(c.chunks_mut(LANES))
    {
        transpose(ph, nu, &mut w.ph);
        transpose(b, nu, &mut w.b);
        fit_block(model, &mut w, k, c);
    }
}

/// Row `l` of `rows` (row-major, `nu` a row; at most [`LANES`] rows) into lane `l` of
/// `lanes`; missing rows become zero lanes (computed, then dropped).
#[inline(always)]
fn transpose(rows: &[f32], nu: usize, lanes: &mut [[f32; LANES]]) {
    for l in 0..LANES {
        match rows.get(l * nu..(l + 1) * nu) {
            Some(row) => row
                .iter()
                .zip(lanes.iter_mut())
                .for_each(|(&v, lane)| lane[l] = v),
            None => lanes.iter_mut().for_each(|lane| lane[l] = 0.0),
        }
    }
}

/// The fit of up to [`LANES`] pixels (`k.len()`), their rows transposed in `w`.
///
/// Each pixel's arithmetic is the scalar one, in the same order (the operator's dot
/// products summed over the differences in order, C accumulated over the kept images in
/// order); only independent pixels run side by side, which also overlaps the long
/// dependency chains of those sums.
#[inline(always)]
fn fit_block(model: &Model, w: &mut Lanes, k: &mut [f64], c: &mut [f32]) {
    let ncol = model.ncol;
    for (y, ph) in w.y.iter_mut().zip(w.ph.windows(2)) {
        for l in 0..LANES {
            y[l] = (ph[1][l] - ph[0][l]) as f64;
        }
    }
    let mut x = [[0f64; LANES]; 3];
    for (j, y) in w.y.iter().enumerate() {
        for (r, xr) in x.iter_mut().enumerate().take(ncol) {
            let o = model.op.at(r, j);
            for l in 0..LANES {
                xr[l] += o * y[l];
            }
        }
    }
    if model.l1 {
        for l in 0..k.len() {
            let y: Vec<f64> = w.y.iter().map(|y| y[l]).collect();
            if y.iter().all(|v| v.is_finite()) {
                let x0: Vec<f64> = x[..ncol].iter().map(|xr| xr[l]).collect();
                x[1][l] = l1_refine(&model.a, &y, &x0)[1];
            }
        }
    }
    let kk = x[1];
    let k32 = kk.map(|v| v as f32);
    let mut cc = [0f32; LANES];
    for ((&j, &p0), &sig) in model.keep.iter().zip(&model.p0).zip(&model.sig32) {
        let (ph, b) = (&w.ph[j], &w.b[j]);
        for l in 0..LANES {
            let res = ph[l] - k32[l] * b[l];
            cc[l] = fma32(p0, res / sig, cc[l]);
        }
    }
    k.copy_from_slice(&kk[..k.len()]);
    c.copy_from_slice(&cc[..c.len()]);
}

/// The L1 fit `min sum |A x - y|` by Nelder-Mead from the least-squares `x0`.
fn l1_refine(a: &Mat, y: &[f64], x0: &[f64]) -> Vec<f64> {
    let f = |x: &[f64]| -> f64 {
        let r: Vec<f64> = (0..a.rows)
            .map(|k| {
                let mut s = 0f64;
                for c in 0..a.cols {
                    s += a.at(k, c) * x[c];
                }
                (s - y[k]).abs()
            })
            .collect();
        pairwise_sum_f64(&r)
    };
    fmin(&f, x0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array2};

    #[test]
    fn recovers_a_linear_model() {
        let day = arr1(&[0.0, 30.0, 60.0, 100.0, 130.0, 170.0]);
        let b = Array2::from_shape_fn((3, 6), |(p, k)| {
            (k as f32 * 37.0 - 80.0) * (1.0 + 0.1 * p as f32) * ((k * 7 % 5) as f32 - 2.0)
        });
        let kt = [0.002f64, -0.001, 0.0005];
        let ph = Array2::from_shape_fn((3, 6), |(p, k)| (kt[p] * b[[p, k]] as f64 + 0.3) as f32);
        let opt = SclaOptions {
            master_pos: Some(2),
            ifg_std: None,
            l1: false,
            master_day: 60.0,
        };
        let (k, c) = scla_fit(ph.view(), b.view(), day.view(), &opt, 1).unwrap();
        // K is fitted on sequential differences with the mean dB column: not exact per pixel
        assert_eq!(k.len(), 3);
        assert!(c.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn fmin_finds_the_minimum_of_a_quadratic() {
        let f = |x: &[f64]| (x[0] - 1.0).powi(2) + (x[1] + 2.0).powi(2);
        let x = fmin(&f, &[0.0, 0.0]);
        assert!(
            (x[0] - 1.0).abs() < 1e-3 && (x[1] + 2.0).abs() < 1e-3,
            "{x:?}"
        );
    }
}
