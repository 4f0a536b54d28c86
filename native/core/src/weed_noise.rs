//! `stage4_edge_stats`: arc (edge) noise of ps_weed (spec C.4 step 4, appendix K.6).
//!
//! Per arc `e = (a, b)` with phase `s_k = z_b,k conj(z_a,k)` over the U used images and for
//! every image j: Gaussian time weights `w_k` (sigma `time_win`, normalised to sum 1),
//! `mu = sum w_k s_k`, `e_k = angle(s_k conj(mu))`, a weighted LS line `e ~ m0 + m1 dt`,
//! `e2 = wrap(e - line)`, a second line on e2 with intercept `m0'`; the smoothed value
//! `mu exp(i (m0 + m0'))` and the leave-one-out sum `sum_{k != j} w_k s_k`.  Then the
//! noise `n = angle(s conj(smoothed))`, the leave-one-out noise `n2`, its variance over the
//! arcs per image, a per-arc weighted fit `n ~ K B` (weights 1/var) removed from n, and the
//! per-arc std (ddof 1) and max |n|.
//!
//! Precision as the python backend (StaMPS single precision, J.27): arc phases, means,
//! angles, variance, std and max in f32 (NumPy's complex64 product and pairwise sums, see
//! [`crate::num`]); the weights, the line fits and K in f64.  The weighted means are summed
//! in f64 and rounded once (NumPy uses BLAS there: the two agree to a few f32 ulps); the
//! f32 angles and phasors are the f64 [`crate::vmath`] values rounded once (glibc's
//! `atan2f`/`sinf`/`cosf`, used by NumPy, differ from those by one ulp in ~1 % of cases);
//! the re-wrapped line residual `angle(exp(i x))` is `x` itself when `x` is already in
//! (-pi, pi] (NumPy's f32 round trip differs from `x` by up to 2 ulps there).

use crate::num::{cmul32, cmul32_conj, max_abs_nan, pairwise_sum_f64, std_ddof1_f32};
use crate::vmath::{atan2, sincos};
use ndarray::{ArrayView1, ArrayView2};
use num_complex::Complex32;
use rayon::prelude::*;

/// Everything that depends only on the output image j.
struct ImagePlan {
    w: Vec<f64>,
    w32: Vec<f32>,
    /// w32 with the image's own weight zeroed (the leave-one-out sum)
    w32_loo: Vec<f32>,
    wdt: Vec<f64>,
    dt: Vec<f64>,
    lu: Lu2,
}

/// LU factors (partial pivoting) of the 2x2 normal matrix of the weighted line fit.
#[derive(Clone, Copy)]
struct Lu2 {
    swap: bool,
    u00: f64,
    u01: f64,
    l10: f64,
    u11: f64,
}

impl Lu2 {
    fn new(a00: f64, a01: f64, a10: f64, a11: f64) -> Self {
        let (swap, r0, r1) = if a10.abs() > a00.abs() { (true, (a10, a11), (a00, a01)) } else { (false, (a00, a01), (a10, a11)) };
        let l10 = r1.0 / r0.0;
        Lu2 { swap, u00: r0.0, u01: r0.1, l10, u11: r1.1 - l10 * r0.1 }
    }

    /// Solve for the right-hand side (b0, b1): (intercept, slope).
    #[inline]
    fn solve(&self, b0: f64, b1: f64) -> (f64, f64) {
        let (c0, c1) = if self.swap { (b1, b0) } else { (b0, b1) };
        let y1 = c1 - self.l10 * c0;
        let x1 = y1 / self.u11;
        let x0 = (c0 - self.u01 * x1) / self.u00;
        (x0, x1)
    }
}

fn plans(day: &[f64], time_win: f64) -> Vec<ImagePlan> {
    let u = day.len();
    (0..u)
        .map(|j| {
            let dt: Vec<f64> = day.iter().map(|&t| day[j] - t).collect();
            let den = 2.0 * time_win * time_win;
            let raw: Vec<f64> = dt.iter().map(|&d| (-(d * d) / den).exp()).collect();
            let tot = pairwise_sum_f64(&raw);
            let w: Vec<f64> = raw.iter().map(|&x| x / tot).collect();
            let w32: Vec<f32> = w.iter().map(|&x| x as f32).collect();
            let mut w32_loo = w32.clone();
            w32_loo[j] = 0.0;
            let wdt: Vec<f64> = dt.iter().zip(&w).map(|(&d, &x)| d * x).collect();
            let a00: f64 = w.iter().sum();
            let a01: f64 = wdt.iter().sum();
            let a11: f64 = dt.iter().zip(&wdt).map(|(&d, &x)| d * x).sum();
            ImagePlan { w, w32, w32_loo, wdt, dt, lu: Lu2::new(a00, a01, a01, a11) }
        })
        .collect()
}

/// `sum_k a_k b_k` in f64 with four interleaved partial sums (vectorises).
#[inline(always)]
fn dot4(a: &[f64], b: &[f32]) -> f64 {
    let mut acc = [0f64; 4];
    let n4 = a.len() - a.len() % 4;
    for (ca, cb) in a[..n4].chunks_exact(4).zip(b[..n4].chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += ca[l] * cb[l] as f64;
        }
    }
    for k in n4..a.len() {
        acc[0] += a[k] * b[k] as f64;
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3])
}

/// `sum_k w_k s_k` (complex, f64 partial sums) for weights `w` (f32).
#[inline(always)]
fn wsum(sr: &[f32], si: &[f32], w: &[f32]) -> Complex32 {
    let (mut ar, mut ai) = ([0f64; 4], [0f64; 4]);
    let n = sr.len();
    let n4 = n - n % 4;
    for c in (0..n4).step_by(4) {
        for l in 0..4 {
            let x = w[c + l] as f64;
            ar[l] += sr[c + l] as f64 * x;
            ai[l] += si[c + l] as f64 * x;
        }
    }
    for k in n4..n {
        ar[0] += sr[k] as f64 * w[k] as f64;
        ai[0] += si[k] as f64 * w[k] as f64;
    }
    Complex32::new(((ar[0] + ar[2]) + (ar[1] + ar[3])) as f32, ((ai[0] + ai[2]) + (ai[1] + ai[3])) as f32)
}

/// f32 angle of `a conj(b)` with NumPy's complex64 product (atan2 evaluated in f64).
#[inline(always)]
fn angle_conj(ar: f32, ai: f32, b: Complex32) -> f32 {
    let d = cmul32_conj(Complex32::new(ar, ai), b);
    atan2(d.im as f64, d.re as f64) as f32
}

/// Per-thread scratch of [`arc_noise`].
#[derive(Default)]
struct ArcWork {
    sr: Vec<f32>,
    si: Vec<f32>,
    e: Vec<f32>,
    e2: Vec<f32>,
}

/// Smoothed and leave-one-out noise of one arc (phase in `w.sr/si`): writes `noise` and
/// `noise2` (U values).
#[inline(always)]
fn arc_noise_body(w: &mut ArcWork, plans: &[ImagePlan], noise: &mut [f32], noise2: &mut [f32]) {
    let u = w.sr.len();
    w.e.resize(u, 0.0);
    w.e2.resize(u, 0.0);
    let (sr, si) = (&w.sr[..u], &w.si[..u]);
    for (j, p) in plans.iter().enumerate() {
        let mu = wsum(sr, si, &p.w32);
        let sm2 = wsum(sr, si, &p.w32_loo);
        for ((e, &a), &b) in w.e.iter_mut().zip(sr).zip(si) {
            *e = angle_conj(a, b, mu);
        }
        let (m0, m1) = p.lu.solve(dot4(&p.w, &w.e), dot4(&p.wdt, &w.e));
        for ((e2, &e), &dt) in w.e2.iter_mut().zip(&w.e).zip(&p.dt) {
            let x = e - (m0 + m1 * dt) as f32;
            // angle(exp(i x)): x itself inside (-pi, pi] (NumPy's f32 round trip through
            // exp and angle agrees with x to 2 ulps), else the round trip
            *e2 = if x > -std::f32::consts::PI && x <= std::f32::consts::PI {
                x
            } else {
                let (sn, cs) = sincos(x as f64);
                atan2((sn as f32) as f64, (cs as f32) as f64) as f32
            };
        }
        let (m20, _) = p.lu.solve(dot4(&p.w, &w.e2), dot4(&p.wdt, &w.e2));
        let (sn, cs) = sincos(m0 + m20);
        let sm = cmul32(mu, Complex32::new(cs as f32, sn as f32));
        noise[j] = angle_conj(sr[j], si[j], sm);
        noise2[j] = angle_conj(sr[j], si[j], sm2);
    }
}

avx2_dispatch!(fn arc_noise(w: &mut ArcWork, plans: &[ImagePlan], noise: &mut [f32], noise2: &mut [f32]) -> () => arc_noise_body);

/// Arc noise std and max (f32, one per edge) of the python kernel `edge_stats`.
///
/// `ph` (n x U) unit phasors (master column exp(i C)), `edges` (E x 2) 0-based pixel
/// indices, `day` (U,) days, `bperp` (U,) mean baselines (m), `time_win` (days).
pub fn edge_stats(
    ph: ArrayView2<Complex32>,
    edges: ArrayView2<i64>,
    day: ArrayView1<f64>,
    bperp: ArrayView1<f64>,
    time_win: f64,
    threads: usize,
) -> Result<(Vec<f32>, Vec<f32>), String> {
    let (n, u) = ph.dim();
    if edges.ncols() != 2 {
        return Err(format!("edges must have 2 columns, got {}", edges.ncols()));
    }
    if day.len() != u || bperp.len() != u {
        return Err(format!("day ({}) and bperp ({}) must have one value per column of ph ({u})", day.len(), bperp.len()));
    }
    let n_e = edges.nrows();
    if n_e == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    if let Some(bad) = edges.iter().find(|&&i| i < 0 || i as usize >= n) {
        return Err(format!("edge index {bad} outside 0..{n}"));
    }
    let day: Vec<f64> = day.to_vec();
    let bperp: Vec<f64> = bperp.to_vec();
    let plans = plans(&day, time_win);
    let mut noise = vec![0f32; n_e * u];
    let mut noise2 = vec![0f32; n_e * u];
    const BLOCK: usize = 64;
    crate::pool::install(threads, || {
        noise
            .par_chunks_mut(BLOCK * u.max(1))
            .zip(noise2.par_chunks_mut(BLOCK * u.max(1)))
            .enumerate()
            .for_each_init(ArcWork::default, |w, (blk, (nz, nz2))| {
                for (r, (row, row2)) in nz.chunks_mut(u.max(1)).zip(nz2.chunks_mut(u.max(1))).enumerate() {
                    let ei = blk * BLOCK + r;
                    let (a, b) = (edges[[ei, 0]] as usize, edges[[ei, 1]] as usize);
                    w.sr.clear();
                    w.si.clear();
                    for k in 0..u {
                        let v = cmul32_conj(ph[[b, k]], ph[[a, k]]);
                        w.sr.push(v.re);
                        w.si.push(v.im);
                    }
                    arc_noise(w, &plans, row, row2);
                }
            })
    });
    // variance of the leave-one-out noise over the arcs (sequential f32 sums, as NumPy's axis-0 reduction)
    let var: Vec<f32> = (0..u)
        .map(|k| {
            if n_e < 2 {
                return f32::NAN;
            }
            let mut sum = 0f32;
            for e in 0..n_e {
                sum += noise2[e * u + k];
            }
            let mean = (sum as f64 / n_e as f64) as f32;
            let mut ss = 0f32;
            for e in 0..n_e {
                let d = noise2[e * u + k] - mean;
                ss += d * d;
            }
            (ss as f64 / (n_e - 1) as f64) as f32
        })
        .collect();
    drop(noise2);
    let wb: Vec<f64> = var.iter().zip(&bperp).map(|(&v, &b)| (1.0 / v as f64) * b).collect();
    let wbb: Vec<f64> = wb.iter().zip(&bperp).map(|(&x, &b)| x * b).collect();
    let den = pairwise_sum_f64(&wbb);
    let mut std = vec![0f32; n_e];
    let mut mx = vec![0f32; n_e];
    crate::pool::install(threads, || {
        noise
            .par_chunks_mut(u.max(1))
            .zip(std.par_iter_mut().zip(mx.par_iter_mut()))
            .for_each_init(Vec::new, |tmp, (row, (sd, m))| {
                let mut num = 0f64;
                for k in 0..u {
                    num += row[k] as f64 * wb[k];
                }
                let ke = num / den;
                for k in 0..u {
                    row[k] -= (ke * bperp[k]) as f32;
                }
                *sd = std_ddof1_f32(row, tmp);
                *m = max_abs_nan(row);
            })
    });
    Ok((std, mx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array2};

    #[test]
    fn identical_pixels_have_zero_noise() {
        // two pixels with the same phase history: every arc phase is 1, the noise 0
        let u = 6;
        let ph = Array2::from_shape_fn((3, u), |(_, k)| {
            let p = 0.3 * k as f32;
            Complex32::new(p.cos(), p.sin())
        });
        let edges = Array2::from_shape_vec((2, 2), vec![0i64, 1, 1, 2]).unwrap();
        let day = arr1(&[0.0, 35.0, 70.0, 105.0, 140.0, 175.0]);
        let bp = arr1(&[0.0, 50.0, -20.0, 80.0, 10.0, -60.0]);
        let (sd, mx) = edge_stats(ph.view(), edges.view(), day.view(), bp.view(), 180.0, 1).unwrap();
        // variance 0 -> weights inf -> K NaN (as the python backend)
        assert_eq!(sd.len(), 2);
        assert!(mx[0].is_nan() || mx[0] < 1e-6);
    }

    #[test]
    fn empty_edges() {
        let ph = Array2::<Complex32>::zeros((0, 3));
        let edges = Array2::<i64>::zeros((0, 2));
        let day = arr1(&[0.0, 1.0, 2.0]);
        let (sd, mx) = edge_stats(ph.view(), edges.view(), day.view(), day.view(), 10.0, 1).unwrap();
        assert!(sd.is_empty() && mx.is_empty());
    }
}
