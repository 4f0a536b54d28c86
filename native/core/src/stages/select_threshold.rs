//! The coherence threshold of `ps_select` (spec C.3 steps 2-4, appendix K.5), as
//! `pystamps_batch/stages/select.py` computes it: D_A bins, the allowed random-phase
//! count per bin, the per-bin threshold from the random-phase histogram `Nr`, and the
//! constant or D_A-linear threshold over all bins.
//!
//! Sums follow NumPy's order (pairwise `sum`/`mean`, sequential `cumsum`), so the
//! threshold agrees with the Python stage to the last bit or within a few ulps where a
//! least-squares fit is involved (LAPACK's SVD there, a Jacobi SVD here).

use crate::histogram::hist_centres;
use crate::num::{pairwise_sum_f64, pinv, Mat};

/// Number of low-coherence bins (γ < 0.31) over which `Nr` is scaled to the data.
pub const LOW_COH_BINS: usize = 31;

/// The 100 coherence histogram centres `(k + 0.5) / 100`.
pub fn coh_bins() -> Vec<f64> {
    (0..100).map(|k| (k as f64 + 0.5) / 100.0).collect()
}

/// Allowed random-phase count per bin: DENSITY (float32, as StaMPS) or PERCENT (double).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxRand {
    Density(f32),
    Percent(f64),
}

impl MaxRand {
    /// The value as a double (NumPy compares float64 arrays with it exactly).
    pub fn value(&self) -> f64 {
        match *self {
            MaxRand::Density(v) => v as f64,
            MaxRand::Percent(v) => v,
        }
    }
}

/// The threshold of C.3 step 4: one value, or one per pixel (linear in D_A).
#[derive(Debug, Clone, PartialEq)]
pub enum Threshold {
    Constant(f64),
    PerPixel(Vec<f64>),
}

impl Threshold {
    /// The threshold of pixel `p`.
    #[inline]
    pub fn at(&self, p: usize) -> f64 {
        match self {
            Threshold::Constant(t) => *t,
            Threshold::PerPixel(v) => v[p],
        }
    }
}

/// Sorted copy with NaN last (NumPy `sort`).
fn sorted_nan_last(v: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = v.iter().map(|&x| if x.is_nan() { f64::NAN } else { x }).collect();
    s.sort_unstable_by(|a, b| a.total_cmp(b));
    s
}

/// `(edges, D_A)` of C.3 step 2: bin i holds `edges[i] < D_A <= edges[i+1]`.  With D_A of
/// at least 10000 values: bins of 2000 (10000 from 50000 values) sorted values, the last
/// taking the remainder; otherwise one bin (0, 1] and D_A replaced by ones (`n` of them).
pub fn da_bin_edges(d_a: Option<&[f64]>, n: usize) -> (Vec<f64>, Vec<f64>) {
    match d_a {
        Some(d) if d.len() >= 10000 => {
            let s = if d.len() >= 50000 { 10000 } else { 2000 };
            let srt = sorted_nan_last(d);
            let mut edges = vec![0.0];
            let mut k = s - 1;
            while k < d.len() - s {
                edges.push(srt[k]);
                k += s;
            }
            edges.push(srt[srt.len() - 1]);
            (edges, d.to_vec())
        }
        _ => (vec![0.0, 1.0], vec![1.0; n]),
    }
}

/// Max of a float32 column with NaN propagation (NumPy `max`).
fn max_nan(v: impl Iterator<Item = f32>) -> f32 {
    let mut m = f32::NEG_INFINITY;
    for x in v {
        if x.is_nan() {
            return f32::NAN;
        }
        if x > m {
            m = x;
        }
    }
    m
}

fn min_nan(v: impl Iterator<Item = f32>) -> f32 {
    -max_nan(v.map(|x| -x))
}

/// Allowed random count per bin (C.3 step 3).  `method` as `str(select_method).strip().upper()`;
/// `x`, `y` the rotated local coordinates (m, float32); the area is their bounding box in km^2.
pub fn max_random(
    method: &str,
    density_rand: f64,
    percent_rand: f64,
    x: &[f32],
    y: &[f32],
    n_bins: usize,
) -> Result<MaxRand, String> {
    match method {
        "DENSITY" => {
            if x.is_empty() {
                return Ok(MaxRand::Density(0.0));
            }
            let ex = max_nan(x.iter().copied()) - min_nan(x.iter().copied());
            let ey = max_nan(y.iter().copied()) - min_nan(y.iter().copied());
            let area = (ex * ey) / 1e6f32;
            Ok(MaxRand::Density((density_rand as f32) * area / (n_bins as f32)))
        }
        "PERCENT" => Ok(MaxRand::Percent(percent_rand)),
        other => Err(format!("select_method {other:?} is not DENSITY or PERCENT")),
    }
}

/// NumPy `mean` of a slice (pairwise sum / count).
fn np_mean(v: &[f64]) -> f64 {
    pairwise_sum_f64(v) / v.len() as f64
}

/// Minimum-norm least squares `argmin |A p - y|` (NumPy `lstsq` with cutoff `rcond`).
fn lstsq(a: &Mat, y: &[f64], rcond: f64) -> Vec<f64> {
    let p = pinv(a, rcond);
    (0..a.cols).map(|i| (0..a.rows).fold(0.0, |s, k| s + p.at(i, k) * y[k])).collect()
}

/// MATLAB `[p, S, mu] = polyfit(x, y, deg)`: (p highest power first, (mean, std)).
pub fn polyfit_centered(x: &[f64], y: &[f64], deg: usize) -> (Vec<f64>, (f64, f64)) {
    let n = x.len();
    let mean = np_mean(x);
    let sq: Vec<f64> = x.iter().map(|&v| (v - mean) * (v - mean)).collect();
    let std = (pairwise_sum_f64(&sq) / (n as f64 - 1.0)).sqrt();
    let mut a = Mat::zeros(n, deg + 1);
    for (i, &v) in x.iter().enumerate() {
        let xs = (v - mean) / std;
        let mut pw = 1.0;
        a.set(i, deg, 1.0);
        for k in 1..=deg {
            pw *= xs;
            a.set(i, deg - k, pw);
        }
    }
    let p = lstsq(&a, y, f64::EPSILON * n.max(deg + 1) as f64);
    (p, (mean, std))
}

/// MATLAB `polyval(p, x, [], mu)`, in single precision for a DENSITY (float32) `x` as MATLAB.
pub fn polyval_centered(p: &[f64], x: MaxRand, mu: (f64, f64)) -> f64 {
    match x {
        MaxRand::Density(x) => {
            let xs = (x - mu.0 as f32) / mu.1 as f32;
            let mut y = p[0] as f32;
            for &c in &p[1..] {
                y = y * xs + c as f32;
            }
            y as f64
        }
        MaxRand::Percent(x) => {
            let xs = (x - mu.0) / mu.1;
            let mut y = p[0];
            for &c in &p[1..] {
                y = y * xs + c;
            }
            y
        }
    }
}

/// Threshold of one D_A bin (K.5): the γ at which the expected random count reaches
/// `max_rand`.  `coh` the bin's γ values (zeros are left out, NaN not counted), `nr` (100,)
/// the random-phase histogram of pm1.  1.0 when no bin qualifies, NaN when the qualifying
/// bin is among the first three.
pub fn bin_min_coh(coh: &[f64], nr: &[f64], max_rand: MaxRand, threads: usize) -> f64 {
    let vals: Vec<f64> = coh.iter().copied().filter(|&c| c != 0.0).collect();
    let mut na = hist_centres(&vals, &coh_bins(), threads);
    let s_na = pairwise_sum_f64(&na[..LOW_COH_BINS]);
    let s_nr = pairwise_sum_f64(&nr[..LOW_COH_BINS]);
    let nr: Vec<f64> = nr.iter().map(|&v| v * s_na / s_nr).collect();
    na.iter_mut().filter(|v| **v == 0.0).for_each(|v| *v = 1.0);
    let nb = nr.len();
    let rev_cumsum = |v: &[f64]| {
        let mut out = vec![0.0; v.len()];
        let mut acc = 0.0;
        for i in (0..v.len()).rev() {
            acc += v[i];
            out[i] = acc;
        }
        out
    };
    let nr_cum = rev_cumsum(&nr);
    let r: Vec<f64> = match max_rand {
        MaxRand::Density(_) => nr_cum,
        MaxRand::Percent(_) => {
            let na_cum = rev_cumsum(&na);
            nr_cum.iter().zip(&na_cum).map(|(&a, &b)| 100.0 * a / b).collect()
        }
    };
    let mr = max_rand.value();
    let Some(first) = r.iter().position(|&v| v < mr) else { return 1.0 };
    let b0 = first as i64 + 1;
    let (lo, hi) = (b0 - 3, (b0 + 2).min(nb as i64));
    if lo <= 0 {
        return f64::NAN;
    }
    let xs = &r[(lo - 1) as usize..hi as usize];
    let ys: Vec<f64> = (lo..=hi).map(|k| k as f64 * 0.01).collect();
    let (p, mu) = polyfit_centered(xs, &ys, 3);
    polyval_centered(&p, max_rand, mu)
}

/// NumPy `polyfit(x, y, 1)`: columns scaled to unit norm, min-norm least squares.
fn polyfit_line(x: &[f64], y: &[f64]) -> [f64; 2] {
    let n = x.len();
    let mut a = Mat::zeros(n, 2);
    let (mut s0, mut s1) = (0.0f64, 0.0f64);
    for (i, &v) in x.iter().enumerate() {
        a.set(i, 0, v);
        a.set(i, 1, 1.0);
        s0 += v * v;
        s1 += 1.0;
    }
    let (s0, s1) = (s0.sqrt(), s1.sqrt());
    for i in 0..n {
        a.set(i, 0, a.at(i, 0) / s0);
        a.set(i, 1, a.at(i, 1) / s1);
    }
    let c = lstsq(&a, y, n as f64 * f64::EPSILON);
    [c[0] / s0, c[1] / s1]
}

/// NumPy `polyval([c0, c1], x)`.
#[inline]
fn polyval_line(c: &[f64; 2], x: f64) -> f64 {
    (0.0 * x + c[0]) * x + c[1]
}

/// Bin of each pixel (`edges[i] < D_A <= edges[i+1]`), None outside every bin.
fn bin_index(edges: &[f64], d: f64) -> Option<usize> {
    let j = edges.partition_point(|&e| e < d);
    (j >= 1 && j < edges.len() && d <= edges[j]).then(|| j - 1)
}

/// Threshold T of C.3 step 4 for pixels with γ `coh` and `d_a` (n each).  Returns the
/// threshold (clipped at 0) and the line coefficients `[slope, intercept]` when it is
/// linear in D_A.  Logs as the Python stage (`label` "initial" or "re-estimated").
#[allow(clippy::too_many_arguments)]
pub fn gamma_threshold(
    coh: &[f64],
    d_a: &[f64],
    edges: &[f64],
    nr: &[f64],
    max_rand: MaxRand,
    threads: usize,
    log: &dyn Fn(&str),
    label: &str,
) -> (Threshold, Option<[f64; 2]>) {
    let n_bins = edges.len() - 1;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); n_bins];
    for (p, &d) in d_a.iter().enumerate() {
        if let Some(b) = bin_index(edges, d) {
            members[b].push(p);
        }
    }
    let mut min_coh = vec![f64::NAN; n_bins];
    let mut da_mean = vec![f64::NAN; n_bins];
    for (b, m) in members.iter().enumerate() {
        if !m.is_empty() {
            let d: Vec<f64> = m.iter().map(|&p| d_a[p]).collect();
            da_mean[b] = np_mean(&d);
        }
        let c: Vec<f64> = m.iter().map(|&p| coh[p]).collect();
        min_coh[b] = bin_min_coh(&c, nr, max_rand, threads);
    }
    let good: Vec<usize> = (0..n_bins).filter(|&b| !min_coh[b].is_nan()).collect();
    let mut coeffs = None;
    let thr = if good.is_empty() {
        log(&format!(
            "ps_select: WARNING not enough random phase pixels to set the {label} gamma threshold - using the default threshold of 0.3"
        ));
        Threshold::Constant(0.3)
    } else if good.len() > 1 {
        let x: Vec<f64> = good.iter().map(|&b| da_mean[b]).collect();
        let y: Vec<f64> = good.iter().map(|&b| min_coh[b]).collect();
        let c = polyfit_line(&x, &y);
        if c[0] > 0.0 {
            coeffs = Some(c);
            log(&format!(
                "ps_select: {label} gamma threshold: {:.3} at D_A=0.15 to {:.3} at D_A=0.40",
                polyval_line(&c, 0.15),
                polyval_line(&c, 0.40)
            ));
            Threshold::PerPixel(d_a.iter().map(|&d| polyval_line(&c, d)).collect())
        } else {
            let t = polyval_line(&c, 0.35);
            log(&format!("ps_select: {label} gamma threshold: {t:.3}"));
            Threshold::Constant(t)
        }
    } else {
        let t = min_coh[good[0]];
        log(&format!("ps_select: {label} gamma threshold: {t:.3}"));
        Threshold::Constant(t)
    };
    let thr = match thr {
        // np.maximum(thr, 0): NaN stays NaN
        Threshold::PerPixel(v) => Threshold::PerPixel(v.into_iter().map(|t| if t < 0.0 { 0.0 } else { t }).collect()),
        // Python max(thr, 0.0): NaN stays NaN
        Threshold::Constant(t) => Threshold::Constant(if t < 0.0 { 0.0 } else { t }),
    };
    (thr, coeffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_of_2000_sorted_values() {
        let d: Vec<f64> = (0..12500).map(|i| ((i * 7919) % 12500) as f64 / 12500.0).collect();
        let (edges, da) = da_bin_edges(Some(&d), d.len());
        assert_eq!(edges.len() - 1, 6);
        assert_eq!(da.len(), d.len());
        let mut counts = vec![0; 6];
        for &v in &d {
            if let Some(b) = bin_index(&edges, v) {
                counts[b] += 1;
            }
        }
        // the smallest value (0) is in no bin: (0, e1]
        assert_eq!(counts, vec![1999, 2000, 2000, 2000, 2000, 2500]);
        let (e1, d1) = da_bin_edges(None, 5);
        assert_eq!((e1, d1), (vec![0.0, 1.0], vec![1.0; 5]));
    }

    #[test]
    fn bin_min_coh_edge_rules() {
        let nr: Vec<f64> = (0..100).map(|i| if i < 40 { 1000.0 } else { 0.0 }).collect();
        let coh: Vec<f64> = (0..5000).map(|i| ((i * 37) % 5000) as f64 / 5000.0).collect();
        assert_eq!(bin_min_coh(&coh, &nr, MaxRand::Percent(0.0), 1), 1.0);
        assert!(bin_min_coh(&coh, &nr, MaxRand::Density(1e12), 1).is_nan());
        let t = bin_min_coh(&coh, &nr, MaxRand::Density(500.0), 1);
        assert!(t > 0.30 && t < 0.41, "{t}");
    }

    #[test]
    fn line_fit_and_cubic_fit() {
        let c = polyfit_line(&[0.1, 0.2, 0.3], &[0.3, 0.4, 0.5]);
        assert!((c[0] - 1.0).abs() < 1e-12 && (c[1] - 0.2).abs() < 1e-12);
        let x = [300.0, 200.0, 150.0, 90.0, 60.0, 40.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| 1e-9 * v * v * v - 2e-6 * v * v + 0.5).collect();
        let (p, mu) = polyfit_centered(&x, &y, 3);
        let v = polyval_centered(&p, MaxRand::Percent(120.0), mu);
        assert!((v - (1e-9 * 120f64.powi(3) - 2e-6 * 14400.0 + 0.5)).abs() < 1e-12);
    }
}
