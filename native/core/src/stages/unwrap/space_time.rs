//! `uw_sb_unwrap_space_time` for a single master, method '3D_FULL' (spec C.6.5, K.7, J.16,
//! J.17), as `pystamps_batch/stages/unwrap/space_time.py` (the reference; each function
//! here mirrors the Python function of the same name, operation for operation).
//!
//! For every arc (edge) e and interferogram k: the arc phase s = ph_hi * conj(ph_lo),
//! an arc look-angle error K_e (daisy-chain periodogram with a unique-peak test),
//! a Gaussian-in-time smoothing of s around the master, its temporal unwrapping U
//! anchored near the master, the noise nu = angle(s e^{-iU}) and the arc unwrapped
//! phase estimate D = U + nu + K_e B_k.
//!
//! Precision follows StaMPS (J.27): arc phasors, K_e, coherences, smoothed phasors,
//! U, nu and D are float32 (through [`super::f32ops`]); only the line fits and trial
//! phases are double. The weighted line fit of the smoothing (`_wls_intercept`, NumPy's
//! SVD `pinv` then a BLAS product) is reproduced in f64 but not bit for bit.
//!
//! Work is split over arcs (rayon); every arc's arithmetic is independent of the others,
//! so results do not depend on the thread count.

use super::f32ops::{angle, cabs, cmul, cmul_conj, cmul_real, csum, expi32, expi64, mod_octave32, rsum, std, unit};
use crate::num::{pairwise_sum_f64, pinv, Mat};
use crate::pool;
use crate::stages::arrays::{Artifact, MatArray, MatData};
use crate::stages::select::mat::{empty, mat_f32};
use ndarray::{Array2, ArrayView2};
use num_complex::Complex32;
use rayon::prelude::*;
use std::cmp::Ordering;

/// Peak-uniqueness margin for K_e (C.6.5(a)).
pub const PEAK_MARGIN: f32 = 0.1;
/// Minimum arc coherence for K_e (C.6.5(a)).
pub const MIN_ARC_COH: f32 = 0.31;
/// Arcs whose noise std exceeds this (rad) get no statistics (nu := NaN).
pub const MAX_NOISE_STD: f32 = 1.2;
/// `F32(np.pi)`.
const PI32: f32 = std::f32::consts::PI;
/// `F32(2 * np.pi)`.
const TWO_PI32: f32 = std::f32::consts::TAU;
/// NumPy `pinv`'s default relative cut-off of singular values.
const PINV_RCOND: f64 = 1e-15;

/// Result of the space-time step (content of `uw_space_time.mat`).
///
/// `dph_space_uw` (D) and `dph_noise` (nu): (n_edge, M_U) float32 (NaN rows = no
/// statistics); `g`: (M_U, n_used) float64 design matrix (-1 master, +1 slave, unused
/// images removed); `k`: (n_edge,) arc look-angle errors (rad/m); `coh`: (n_edge,).
#[derive(Debug, Clone)]
pub struct SpaceTime {
    pub dph_space_uw: Array2<f32>,
    pub dph_noise: Array2<f32>,
    pub g: Array2<f64>,
    pub k: Vec<f32>,
    pub coh: Vec<f32>,
}

impl SpaceTime {
    /// Variables of `uw_space_time.mat` with StaMPS' names and types, in the Python order.
    pub fn to_mat(&self) -> Artifact {
        let (n_edge, m_u) = self.dph_noise.dim();
        vec![
            ("dph_space_uw".to_string(), mat_f32(&self.dph_space_uw)),
            ("dph_noise".to_string(), mat_f32(&self.dph_noise)),
            ("G".to_string(), mat_f64(&self.g)),
            ("spread".to_string(), MatArray::sparse_zeros(n_edge, m_u)),
            ("ifreq_ij".to_string(), empty()),
            ("jfreq_ij".to_string(), empty()),
            ("shaky_ix".to_string(), empty()),
            ("predef_ix".to_string(), empty()),
        ]
    }
}

/// A 2-D double array as a column-major [`MatArray`].
fn mat_f64(a: &Array2<f64>) -> MatArray {
    MatArray::new(a.nrows(), a.ncols(), MatData::F64(a.t().iter().copied().collect()))
}

// ----------------------------------------------------------------------------- small NumPy semantics

/// `np.argmax` of a float slice: index of the first maximum, or of the first NaN (0 if empty).
fn argmax<T: num_traits::Float>(x: &[T]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// `np.max` of a non-empty float slice (NaN propagates).
fn max_nan_f32(x: &[f32]) -> f32 {
    let mut m = x[0];
    for &v in x {
        if v.is_nan() {
            return v;
        }
        if v > m {
            m = v;
        }
    }
    m
}

/// NumPy's sort order of floats: NaN after everything, otherwise numeric (-0 == 0).
fn nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// `np.argsort(x, kind='stable')`.
fn argsort_stable(x: &[f64]) -> Vec<usize> {
    let mut o: Vec<usize> = (0..x.len()).collect();
    o.sort_by(|&i, &j| nan_last(x[i], x[j]));
    o
}

/// `float(x.max() - x.min())` of a slice (NaN propagates; error when empty, as NumPy).
fn range_f64(x: &[f64], what: &str) -> Result<f64, String> {
    if x.is_empty() {
        return Err(format!("{what}: zero-size array to reduction operation maximum which has no identity"));
    }
    let mut lo = x[0];
    let mut hi = x[0];
    for &v in x {
        if v.is_nan() {
            return Ok(f64::NAN);
        }
        lo = lo.min(v);
        hi = hi.max(v);
    }
    Ok(hi - lo)
}

/// 1-based image of interferogram `row` other than `image0` (0-based):
/// `ifgday_ix[row].sum() - (image0 + 1)`.
fn other_image(ifg: &[usize; 2], image0: usize) -> Result<usize, String> {
    let o = (ifg[0] + ifg[1]) as i64 - (image0 as i64 + 1);
    if o < 1 {
        return Err(format!("space-time: interferogram {:?} has no image other than {}", ifg, image0 + 1));
    }
    Ok(o as usize)
}

// ----------------------------------------------------------------------------- set-up

/// [`design`]'s result: (G (M_U, n_used), remapped 1-based ifgday_ix, used images).
pub type Design = (Array2<f64>, Vec<[usize; 2]>, Vec<bool>);

/// StaMPS G for ifgs [first, second] (1-based image indices), unused images removed.
///
/// Returns (G (M_U, n_used) float64, remapped ifgday_ix (M_U, 2) 1-based, used (n_image,)).
pub fn design(ifgday_ix: &[[usize; 2]], n_image: usize) -> Result<Design, String> {
    let m_u = ifgday_ix.len();
    for (r, p) in ifgday_ix.iter().enumerate() {
        if p[0] < 1 || p[0] > n_image || p[1] < 1 || p[1] > n_image {
            return Err(format!(
                "space-time: ifgday_ix row {r} = {:?} is not a pair of 1-based image indices in 1..{n_image}",
                p
            ));
        }
    }
    let mut g = Array2::<f64>::zeros((m_u, n_image));
    for (r, p) in ifgday_ix.iter().enumerate() {
        g[[r, p[0] - 1]] = -1.0;
        g[[r, p[1] - 1]] = 1.0;
    }
    let used: Vec<bool> = (0..n_image).map(|c| (0..m_u).any(|r| g[[r, c]] != 0.0)).collect();
    let mut remap = vec![0usize; n_image];
    let mut acc = 0;
    for c in 0..n_image {
        acc += used[c] as usize;
        remap[c] = acc;
    }
    let cols: Vec<usize> = (0..n_image).filter(|&c| used[c]).collect();
    let g_used = Array2::from_shape_fn((m_u, cols.len()), |(r, j)| g[[r, cols[j]]]);
    let ifg_r = ifgday_ix.iter().map(|p| [remap[p[0] - 1], remap[p[1] - 1]]).collect();
    Ok((g_used, ifg_r, used))
}

/// s = ph[hi] * conj(ph[lo]) normalised, (n_edge, M_U) complex64; `edges` 0-based (lo, hi).
pub fn arc_phasors(node_ph: ArrayView2<Complex32>, edges: &[[usize; 2]]) -> Result<Array2<Complex32>, String> {
    let (n_node, m_u) = node_ph.dim();
    if let Some(e) = edges.iter().find(|e| e[0] >= n_node || e[1] >= n_node) {
        return Err(format!("space-time: edge {:?} refers to a node outside 0..{n_node}", e));
    }
    let mut s = Array2::<Complex32>::zeros((edges.len(), m_u));
    s.outer_iter_mut().into_par_iter().zip(edges.par_iter()).for_each(|(mut row, e)| {
        for k in 0..m_u {
            row[k] = unit(cmul_conj(node_ph[[e[1], k]], node_ph[[e[0], k]]));
        }
    });
    Ok(s)
}

// ----------------------------------------------------------------------------- (a) arc look-angle error

/// Arc phasors and baselines the K_e search runs on (C.6.5(a), Python `_chain_inputs`):
/// (s' (n_edge, n_sub) complex64, b' (n_sub,) float64).
///
/// `g` (M_U, n_image), `ifgday_ix` remapped 1-based, `day` (n_image,), `bperp` (M_U,).
pub fn chain_inputs(
    s: ArrayView2<Complex32>,
    g: &Array2<f64>,
    ifgday_ix: &[[usize; 2]],
    day: &[f64],
    bperp: &[f64],
) -> Result<(Array2<Complex32>, Vec<f64>), String> {
    let (n_edge, m_u) = s.dim();
    let n_image = g.ncols();
    let adjacent: Vec<usize> =
        (0..m_u).filter(|&r| (ifgday_ix[r][1] as i64 - ifgday_ix[r][0] as i64).abs() == 1).collect();
    if adjacent.len() as i64 >= n_image as i64 - 1 {
        // consecutive-index chain (M_U <= 2 in PS)
        let chain = Array2::from_shape_fn((n_edge, adjacent.len()), |(e, j)| s[[e, adjacent[j]]]);
        return Ok((chain, adjacent.iter().map(|&r| bperp[r]).collect()));
    }
    let per_image: Vec<f64> = (0..n_image).map(|c| (0..m_u).map(|r| g[[r, c]].abs()).sum()).collect();
    let hub = argmax(&per_image);
    if per_image[hub] < n_image as f64 - 2.0 {
        return Err("arc look-angle estimation: no image common to all but two interferograms \
                    (small-baseline networks are not supported)"
            .to_string());
    }
    let ix: Vec<usize> = (0..m_u).filter(|&r| g[[r, hub]] != 0.0).collect();
    let n_sub = ix.len();
    let flip: Vec<bool> = ix.iter().map(|&r| g[[r, hub]] > 0.0).collect();
    let mut day_sub = Vec::with_capacity(n_sub + 1);
    for &r in &ix {
        day_sub.push(day[other_image(&ifgday_ix[r], hub)? - 1]);
    }
    day_sub.push(day[hub]);
    let order = argsort_stable(&day_sub);
    let mut b_all: Vec<f64> = ix.iter().map(|&r| bperp[r]).collect();
    b_all.push(0.0);
    let b_sorted: Vec<f64> = order.iter().map(|&o| b_all[o]).collect();
    let b: Vec<f64> = b_sorted.windows(2).map(|w| w[1] - w[0]).collect();
    let n_out = order.len().saturating_sub(1);
    let mut chain = Array2::<Complex32>::zeros((n_edge, n_out));
    chain.outer_iter_mut().into_par_iter().enumerate().for_each(|(e, mut out)| {
        let mut sub: Vec<Complex32> =
            ix.iter().zip(&flip).map(|(&r, &f)| if f { s[[e, r]].conj() } else { s[[e, r]] }).collect();
        // zero-phase hub entry: mean(abs)
        let refv = rsum(sub.iter().map(|&z| cabs(z))) / n_sub as f32;
        sub.push(Complex32::new(refv, 0.0));
        let sorted: Vec<Complex32> = order.iter().map(|&o| sub[o]).collect();
        for j in 0..n_out {
            out[j] = unit(cmul_conj(sorted[j + 1], sorted[j]));
        }
    });
    Ok((chain, b))
}

/// Main lobe of a row of `coh` around `peak` (C.6.5(a), Python `_peak_mask`): from after
/// the last fall before it to the first rise after it. Returns (start, end), inclusive.
pub fn peak_mask(coh: &[f32], peak: usize) -> (usize, usize) {
    let t = coh.len();
    let nd = t.saturating_sub(1);
    let d = |q: usize| coh[q + 1] - coh[q];
    let start = (0..nd.min(peak)).rev().find(|&q| d(q) < 0.0).map_or(0, |q| q + 1);
    let end = (peak..nd).find(|&q| d(q) > 0.0).unwrap_or(t.saturating_sub(1));
    (start, end)
}

/// Trial phasors of the K_e periodogram: `exp(-1j * outer(trial_phase, trial))` in complex128
/// rounded to complex64, (n_sub, T) row-major, with `trial = -n_t..=n_t`.
fn trial_phasors(b: &[f64], rng: f64, trial: &[f64]) -> Vec<Complex32> {
    let mut tpm = Vec::with_capacity(b.len() * trial.len());
    for &bq in b {
        let tp = bq / rng * std::f64::consts::PI / 4.0;
        for &t in trial {
            // -1j * x = (+0, -x): complex exp of a purely imaginary argument
            let y = -(tp * t);
            tpm.push(Complex32::new(y.cos() as f32, y.sin() as f32));
        }
    }
    tpm
}

/// K_e and its coherence of one arc (`z`: (n_sub,) chain phasors), or None when the
/// periodogram peak is not unique.
fn arc_look_angle_one(z: &[Complex32], tpm: &[Complex32], trial: &[f64], b: &[f64], b32: &[f32], rng: f64) -> Option<(f32, f32)> {
    let n_sub = z.len();
    let nt = trial.len();
    let denom = rsum(z.iter().map(|&v| cabs(v)));
    let ct: Vec<f32> = (0..nt)
        .map(|t| cabs(csum((0..n_sub).map(|q| cmul(z[q], tpm[q * nt + t])))) / denom)
        .collect();
    let peak = argmax(&ct);
    let cmax = ct[peak];
    let (start, end) = peak_mask(&ct, peak);
    let masked: Vec<f32> = ct.iter().enumerate().map(|(c, &v)| if c >= start && c <= end { 0.0 } else { v }).collect();
    let rest = max_nan_f32(&masked);
    let unique = (cmax - rest) > PEAK_MARGIN; // false for NaN, as NumPy's comparison
    if !unique {
        return None;
    }
    let k0 = std::f64::consts::PI / 4.0 / rng * trial[peak];
    let res: Vec<Complex32> = (0..n_sub).map(|q| cmul(z[q], expi64(-(k0 * b[q])))).collect();
    let off = csum(res.iter().copied());
    let mut xy = Vec::with_capacity(n_sub);
    let mut xx = Vec::with_capacity(n_sub);
    for q in 0..n_sub {
        let ang = angle(cmul_conj(res[q], off));
        let w = cabs(z[q]);
        let x = (w * b32[q]) as f64;
        let y = (w * ang) as f64;
        xy.push(x * y);
        xx.push(x * x);
    }
    let mopt = pairwise_sum_f64(&xy) / pairwise_sum_f64(&xx);
    let k = (k0 + mopt) as f32;
    let r: Vec<Complex32> = (0..n_sub).map(|q| cmul(z[q], expi32(-(k * b32[q])))).collect();
    let c = cabs(csum(r.iter().copied())) / rsum(r.iter().map(|&v| cabs(v)));
    Some((k, c))
}

/// Unique-peak periodogram estimate of K_e per arc (C.6.5(a)).
///
/// `chain`: (n_edge, n_sub) complex64 unit phasors; `b`: (n_sub,) baselines (m);
/// `n_trial_wraps`: already rescaled to range(b). Returns (K (n_edge,) rad/m, coh (n_edge,));
/// both 0 where the peak is not unique, K also 0 where coh < 0.31.
pub fn arc_look_angle(chain: ArrayView2<Complex32>, b: &[f64], n_trial_wraps: f64) -> Result<(Vec<f32>, Vec<f32>), String> {
    let (n_edge, n_sub) = chain.dim();
    if b.len() != n_sub {
        return Err(format!("arc look-angle estimation: {} baselines for {n_sub} chain interferograms", b.len()));
    }
    let mut kk = vec![0f32; n_edge];
    let mut coh = vec![0f32; n_edge];
    let rng = range_f64(b, "arc look-angle estimation")?;
    if n_edge == 0 || rng == 0.0 {
        return Ok((kk, coh));
    }
    let n_t = (8.0 * n_trial_wraps).ceil() as i64;
    if n_t <= 0 {
        // the Python reference fails here too (NumPy argmax of an empty sequence)
        return Err(format!(
            "arc look-angle estimation: n_trial_wraps = {n_trial_wraps} leaves no trial look-angle errors \
             besides zero (attempt to get argmax of an empty sequence)"
        ));
    }
    let trial: Vec<f64> = (-n_t..=n_t).map(|t| t as f64).collect();
    let tpm = trial_phasors(b, rng, &trial);
    let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
    let rows: Vec<Option<(f32, f32)>> = (0..n_edge)
        .into_par_iter()
        .map(|e| {
            let z: Vec<Complex32> = chain.row(e).iter().copied().collect();
            arc_look_angle_one(&z, &tpm, &trial, b, &b32, rng)
        })
        .collect();
    for (e, r) in rows.into_iter().enumerate() {
        if let Some((k, c)) = r {
            kk[e] = k;
            coh[e] = c;
        }
    }
    for e in 0..n_edge {
        if coh[e] < MIN_ARC_COH {
            kk[e] = 0.0;
        }
    }
    Ok((kk, coh))
}

// ----------------------------------------------------------------------------- (b) 3D_FULL smoothing

/// The smoothing kernel of output date j of one image: float32 weights and the
/// intercept row of the weighted line fit (`_wls_intercept`: `pinv(A)[0]` and `sqrt(w)`).
struct DateKernel {
    w32: Vec<f32>,
    p0: Vec<f64>,
    sw: Vec<f64>,
}

/// Gaussian weights around date j (`w / w.sum()`, f64) and their line-fit operator.
fn date_kernel(day_sub: &[f64], j: usize, time_win: f64) -> DateKernel {
    let td: Vec<f64> = day_sub.iter().map(|&d| day_sub[j] - d).collect();
    let w: Vec<f64> = td.iter().map(|&t| (-(t * t) / 2.0 / (time_win * time_win)).exp()).collect();
    let wsum = pairwise_sum_f64(&w);
    let w: Vec<f64> = w.iter().map(|&v| v / wsum).collect();
    let (p0, sw) = intercept_operator(&td, &w);
    DateKernel { w32: w.iter().map(|&v| v as f32).collect(), p0, sw }
}

/// `(pinv(A)[0], sqrt(w))` of the weighted line fit y ~ m0 + m1 td, A = [1, td] * sqrt(w)
/// (NumPy `pinv`: SVD, singular values below 1e-15 of the largest dropped, so that
/// rank-deficient fits (one non-negligible weight) give the minimum-norm solution).
fn intercept_operator(td: &[f64], w: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = td.len();
    let sw: Vec<f64> = w.iter().map(|&v| v.sqrt()).collect();
    let mut a = Mat::zeros(n, 2);
    for i in 0..n {
        a.set(i, 0, sw[i]);
        a.set(i, 1, td[i] * sw[i]);
    }
    let p = pinv(&a, PINV_RCOND);
    ((0..n).map(|i| p.at(0, i)).collect(), sw)
}

/// Intercept of the weighted line fit for one right-hand side: `pinv(A)[0] @ (y * sw)`
/// (sequential f64 dot; NumPy's goes through BLAS, so the last bits may differ).
fn wls_intercept(k: &DateKernel, y: &[f64]) -> f64 {
    let mut acc = 0.0;
    for ((&yi, &p), &sw) in y.iter().zip(&k.p0).zip(&k.sw) {
        acc += p * (yi * sw);
    }
    acc
}

/// Python `_wls_intercept(td, y, w)`: intercepts of the weighted LS lines y ~ m0 + m1 td
/// (MATLAB lscov) for many right-hand sides. `td`, `w`: (n,); `y`: (n, n_rhs). Returns (n_rhs,).
pub fn wls_intercepts(td: &[f64], y: ArrayView2<f64>, w: &[f64]) -> Result<Vec<f64>, String> {
    if td.len() != w.len() || y.nrows() != td.len() {
        return Err(format!("wls intercept: td {}, w {} and y {:?} do not match", td.len(), w.len(), y.dim()));
    }
    let (p0, sw) = intercept_operator(td, w);
    let k = DateKernel { w32: Vec::new(), p0, sw };
    Ok((0..y.ncols()).map(|c| wls_intercept(&k, &y.column(c).to_vec())).collect())
}

/// 3D_FULL temporal smoothing and unwrapping of the ifgs that share `image` (0-based).
///
/// Returns (columns (n_sub,) of the ifgs, U (n_edge, n_sub) float32) with U already anchored
/// near the image and written in StaMPS' order (date-sorted values into the input-order
/// positions, J.17).
pub fn smooth_image(
    s: ArrayView2<Complex32>,
    g: &Array2<f64>,
    ifgday_ix: &[[usize; 2]],
    day: &[f64],
    image: usize,
    time_win: f64,
) -> Result<(Vec<usize>, Array2<f32>), String> {
    let n_edge = s.nrows();
    let ix: Vec<usize> = (0..g.nrows()).filter(|&r| g[[r, image]] != 0.0).collect();
    let n_sub = ix.len();
    // -sign(G): +1 where the image is the first of the pair
    let sign: Vec<f32> = ix.iter().map(|&r| -(g[[r, image]].signum() as f32)).collect();
    let mut slave = Vec::with_capacity(n_sub);
    for &r in &ix {
        slave.push(other_image(&ifgday_ix[r], image)?);
    }
    let day_in: Vec<f64> = slave.iter().map(|&o| day[o - 1]).collect();
    let order = argsort_stable(&day_in);
    let day_sub: Vec<f64> = order.iter().map(|&o| day_in[o]).collect();
    let kernels: Vec<DateKernel> = (0..n_sub).map(|j| date_kernel(&day_sub, j, time_win)).collect();
    // anchor columns, input order as StaMPS (J.17)
    let close: Vec<usize> = match slave.iter().position(|&o| o as i64 - (image as i64 + 1) > 0) {
        None => vec![n_sub.saturating_sub(1)],
        Some(0) => vec![0],
        Some(c) => vec![c - 1, c],
    };
    let mut u_out = Array2::<f32>::zeros((n_edge, n_sub));
    if n_sub == 0 {
        return Ok((ix, u_out));
    }
    u_out.outer_iter_mut().into_par_iter().enumerate().for_each(|(e, mut out)| {
        let sub: Vec<Complex32> = order
            .iter()
            .map(|&o| {
                let z = s[[e, ix[o]]];
                if sign[o] < 0.0 {
                    z.conj()
                } else {
                    z
                }
            })
            .collect();
        let ang: Vec<f32> = sub.iter().map(|&z| angle(z)).collect();
        let mut y = vec![0f64; n_sub];
        let sm: Vec<Complex32> = kernels
            .iter()
            .map(|k| {
                let mean = csum(sub.iter().zip(&k.w32).map(|(&z, &w)| cmul_real(z, w)));
                let am = angle(mean);
                for i in 0..n_sub {
                    y[i] = (mod_octave32(ang[i] - am + PI32, TWO_PI32) - PI32) as f64;
                }
                cmul(mean, expi64(wls_intercept(k, &y)))
            })
            .collect();
        let mut u = vec![0f32; n_sub];
        let mut acc = angle(sm[0]);
        u[0] = acc;
        for j in 1..n_sub {
            acc += angle(cmul_conj(sm[j], sm[j - 1]));
            u[j] = acc;
        }
        let refv = rsum(close.iter().map(|&c| u[c])) / close.len() as f32;
        let shift = refv - angle(expi32(refv));
        for j in 0..n_sub {
            out[j] = (u[j] - shift) * sign[j];
        }
    });
    Ok((ix, u_out))
}

/// Column-wise `std32(angle(s[:, c] * exp(-1i U[:, c])), axis=0)` (sequential over arcs).
fn noise_std_col(s: ArrayView2<Complex32>, sc: usize, u: ArrayView2<f32>, uc: usize) -> f32 {
    let v: Vec<f32> = (0..s.nrows()).map(|e| angle(cmul(s[[e, sc]], expi32(-u[[e, uc]])))).collect();
    std(&v)
}

/// Smoothed, unwrapped arc phase U (n_edge, M_U) float32 (NaN where no image qualifies).
pub fn smooth_3d_full(
    s: ArrayView2<Complex32>,
    g: &Array2<f64>,
    ifgday_ix: &[[usize; 2]],
    day: &[f64],
    time_win: f64,
) -> Result<Array2<f32>, String> {
    let (n_edge, m_u) = s.dim();
    let n_image = g.ncols();
    let mut u = Array2::<f32>::from_elem((n_edge, m_u), f32::NAN);
    for image in 0..n_image {
        let nnz = (0..g.nrows()).filter(|&r| g[[r, image]] != 0.0).count();
        if (nnz as i64) < n_image as i64 - 2 {
            continue;
        }
        let (cols, ui) = smooth_image(s, g, ifgday_ix, day, image, time_win)?;
        let mut keep = vec![true; cols.len()];
        let done: Vec<usize> =
            if n_edge > 0 { (0..cols.len()).filter(|&c| !u[[0, cols[c]]].is_nan()).collect() } else { Vec::new() };
        if !done.is_empty() {
            // a later image replaces an estimate only where its noise is lower
            let stds: Vec<(f32, f32)> = done
                .par_iter()
                .map(|&c| (noise_std_col(s, cols[c], u.view(), cols[c]), noise_std_col(s, cols[c], ui.view(), c)))
                .collect();
            for (&c, &(old, new)) in done.iter().zip(&stds) {
                if old < new {
                    keep[c] = false;
                }
            }
        }
        for (c, &col) in cols.iter().enumerate() {
            if keep[c] {
                for e in 0..n_edge {
                    u[[e, col]] = ui[[e, c]];
                }
            }
        }
    }
    Ok(u)
}

// ----------------------------------------------------------------------------- driver

/// Single-master '3D_FULL' space-time step (spec C.6.5).
///
/// `node_ph`: (n_nodes, M_U) complex64 filtered node phasors; `edges`: (n_edge) 0-based
/// (lo, hi); `day`: (N,) days relative to the master; `ifgday_ix`: (M_U) 1-based
/// [master, slave] image indices; `bperp`: (M_U,) mean baselines (m); `threads`: rayon
/// workers (0 = all cores; results do not depend on it).
#[allow(clippy::too_many_arguments)]
pub fn uw_space_time(
    node_ph: ArrayView2<Complex32>,
    edges: &[[usize; 2]],
    day: &[f64],
    ifgday_ix: &[[usize; 2]],
    bperp: &[f64],
    n_trial_wraps: f64,
    time_win: f64,
    la_flag: bool,
    threads: usize,
) -> Result<SpaceTime, String> {
    let m_u = node_ph.ncols();
    if ifgday_ix.len() != m_u || bperp.len() != m_u {
        return Err(format!(
            "space-time: node_ph has {m_u} interferograms but ifgday_ix has {} and bperp {}",
            ifgday_ix.len(),
            bperp.len()
        ));
    }
    pool::install(threads, || {
        let (g, ifgday_r, used) = design(ifgday_ix, day.len())?;
        let day_r: Vec<f64> = day.iter().zip(&used).filter(|(_, &u)| u).map(|(&d, _)| d).collect();
        let mut s = arc_phasors(node_ph, edges)?;
        let n_edge = s.nrows();
        let bperp32: Vec<f32> = bperp.iter().map(|&v| v as f32).collect();
        let (kk, coh) = if la_flag {
            let (chain, b) = chain_inputs(s.view(), &g, &ifgday_r, &day_r, bperp)?;
            let b_rng = range_f64(bperp, "space-time")?;
            let ntw = if b_rng > 0.0 { n_trial_wraps * (range_f64(&b, "space-time")? / b_rng) } else { 0.0 };
            let (kk, coh) = arc_look_angle(chain.view(), &b, ntw)?;
            s.outer_iter_mut().into_par_iter().zip(kk.par_iter()).for_each(|(mut row, &k)| {
                for (z, &bp) in row.iter_mut().zip(&bperp32) {
                    *z = cmul(*z, expi32(-(k * bp)));
                }
            });
            (kk, coh)
        } else {
            (vec![0f32; n_edge], vec![0f32; n_edge])
        };
        let u = smooth_3d_full(s.view(), &g, &ifgday_r, &day_r, time_win)?;
        let mut noise = Array2::<f32>::zeros((n_edge, m_u));
        let mut d = Array2::<f32>::zeros((n_edge, m_u));
        noise
            .outer_iter_mut()
            .into_par_iter()
            .zip(d.outer_iter_mut().into_par_iter())
            .enumerate()
            .for_each(|(e, (mut nrow, mut drow))| {
                for k in 0..m_u {
                    nrow[k] = angle(cmul(s[[e, k]], expi32(-u[[e, k]])));
                }
                let v: Vec<f32> = nrow.iter().copied().collect();
                if std(&v) > MAX_NOISE_STD {
                    nrow.fill(f32::NAN);
                }
                for k in 0..m_u {
                    let mut x = u[[e, k]] + nrow[k];
                    if la_flag {
                        x += kk[e] * bperp32[k];
                    }
                    drow[k] = x;
                }
            });
        Ok(SpaceTime { dph_space_uw: d, dph_noise: noise, g, k: kk, coh })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_removes_unused_images() {
        let (g, r, used) = design(&[[2, 1], [2, 4]], 4).unwrap();
        assert_eq!(used, vec![true, true, false, true]);
        assert_eq!(g.dim(), (2, 3));
        assert_eq!(g.row(0).to_vec(), vec![1.0, -1.0, 0.0]);
        assert_eq!(g.row(1).to_vec(), vec![0.0, -1.0, 1.0]);
        assert_eq!(r, vec![[2, 1], [2, 3]]);
        assert!(design(&[[0, 1]], 2).is_err());
    }

    #[test]
    fn peak_mask_lobe() {
        let c = [0.1f32, 0.5, 0.3, 0.6, 0.9, 0.4, 0.2, 0.5];
        // as Python `_peak_mask` (checked there): lobes [2, 6], [0, 0], [6, 7]
        assert_eq!(peak_mask(&c, 4), (2, 6));
        assert_eq!(peak_mask(&c, 0), (0, 0));
        assert_eq!(peak_mask(&c, 7), (6, 7));
        assert_eq!(peak_mask(&[1.0f32], 0), (0, 0));
        assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
        assert_eq!(argmax(&[1.0, f32::NAN, 3.0]), 1);
    }
}
