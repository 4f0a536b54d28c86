//! Floating-point building blocks that reproduce the python backend's arithmetic.
//!
//! The python backend is NumPy; to stay within a few float32 ulps of it (often bit-equal)
//! the kernels use the same operation order where it is cheap to do so:
//!
//! * [`pairwise_sum_f32`] / [`pairwise_sum_f64`]: NumPy's pairwise summation, used by
//!   `sum`/`mean`/`std` along a contiguous axis (8 accumulators, blocks of 128);
//! * [`cmul32`]: NumPy's complex64 multiply on FMA hardware,
//!   `re = fma(ar, br, -(ai bi))`, `im = fma(ar, bi, ai br)` (emulated through f64, which
//!   is exact for the product; the final double rounding differs from a true fma with
//!   probability ~2^-29);
//! * [`std_ddof1_f32`]: `x.std(ddof=1, dtype=float32)` of a contiguous row.
//!
//! Plus the small dense linear algebra of the least-squares kernels (Householder QR,
//! one-sided Jacobi SVD for a pseudo-inverse), in f64.

use num_complex::Complex32;

/// NumPy's pairwise summation block size.
const PW_BLOCKSIZE: usize = 128;

macro_rules! pairwise {
    ($name:ident, $t:ty) => {
        /// NumPy's `add.reduce` of a contiguous slice (pairwise, 8 partial sums).
        pub fn $name(a: &[$t]) -> $t {
            let n = a.len();
            if n < 8 {
                let mut res: $t = 0.0;
                for &x in a {
                    res += x;
                }
                res
            } else if n <= PW_BLOCKSIZE {
                let mut r = [0 as $t; 8];
                r.copy_from_slice(&a[..8]);
                let mut i = 8;
                while i < n - (n % 8) {
                    for j in 0..8 {
                        r[j] += a[i + j];
                    }
                    i += 8;
                }
                let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
                while i < n {
                    res += a[i];
                    i += 1;
                }
                res
            } else {
                let mut n2 = n / 2;
                n2 -= n2 % 8;
                $name(&a[..n2]) + $name(&a[n2..])
            }
        }
    };
}
pairwise!(pairwise_sum_f32, f32);
pairwise!(pairwise_sum_f64, f64);

/// `fma(a, b, c)` in f32 through f64 (the product of two f32 is exact in f64).
#[inline(always)]
pub fn fma32(a: f32, b: f32, c: f32) -> f32 {
    ((a as f64) * (b as f64) + c as f64) as f32
}

/// NumPy's complex64 product on FMA hardware.
#[inline(always)]
pub fn cmul32(a: Complex32, b: Complex32) -> Complex32 {
    Complex32::new(fma32(a.re, b.re, -(a.im * b.im)), fma32(a.re, b.im, a.im * b.re))
}

/// `a * conj(b)` with NumPy's complex64 product.
#[inline(always)]
pub fn cmul32_conj(a: Complex32, b: Complex32) -> Complex32 {
    cmul32(a, Complex32::new(b.re, -b.im))
}

/// NumPy `angle` of a complex64 value (float32 `atan2`).
#[inline(always)]
pub fn angle32(z: Complex32) -> f32 {
    z.im.atan2(z.re)
}

/// `x.std(ddof=1, dtype=float32)` of a contiguous row, as NumPy evaluates it: pairwise
/// f32 sums, the divisions by the counts in f64 rounded to f32.  `tmp` is scratch of
/// `x.len()` values.
pub fn std_ddof1_f32(x: &[f32], tmp: &mut Vec<f32>) -> f32 {
    let n = x.len();
    let mean = (pairwise_sum_f32(x) as f64 / n as f64) as f32;
    tmp.clear();
    tmp.extend(x.iter().map(|&v| {
        let d = v - mean;
        d * d
    }));
    let ss = pairwise_sum_f32(tmp);
    let var = (ss as f64 / (n as f64 - 1.0).max(0.0)) as f32;
    var.sqrt()
}

/// Max of |x| with NaN propagation (NumPy `abs(x).max()`); -inf for an empty row.
pub fn max_abs_nan(x: &[f32]) -> f32 {
    let mut m = f32::NEG_INFINITY;
    for &v in x {
        let a = v.abs();
        if a.is_nan() {
            return f32::NAN;
        }
        if a > m {
            m = a;
        }
    }
    m
}

/// Dense row-major matrix (small: design matrices of the least-squares kernels).
#[derive(Clone, Debug)]
pub struct Mat {
    pub rows: usize,
    pub cols: usize,
    pub a: Vec<f64>,
}

impl Mat {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Mat { rows, cols, a: vec![0.0; rows * cols] }
    }
    #[inline]
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.a[i * self.cols + j]
    }
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.a[i * self.cols + j] = v;
    }
}

/// Least-squares operator of a full-column-rank `A` (m x n, m >= n) by Householder QR:
/// returns `(P, diag|R|)` with `P = R^-1 Q^T` (n x m), so that `x = P y` solves
/// `min |A x - y|`.  `diag|R|` lets the caller apply NumPy's rank test.
pub fn qr_solve_operator(a: &Mat) -> (Mat, Vec<f64>) {
    let (m, n) = (a.rows, a.cols);
    let mut r = a.clone();
    // Q^T accumulated by applying the reflectors to the identity
    let mut qt = Mat::zeros(m, m);
    for i in 0..m {
        qt.set(i, i, 1.0);
    }
    for k in 0..n.min(m) {
        let mut norm = 0.0;
        for i in k..m {
            norm += r.at(i, k) * r.at(i, k);
        }
        let norm = norm.sqrt();
        if norm == 0.0 {
            continue;
        }
        let alpha = if r.at(k, k) > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (k..m).map(|i| r.at(i, k)).collect();
        v[0] -= alpha;
        let vn: f64 = v.iter().map(|x| x * x).sum();
        if vn == 0.0 {
            continue;
        }
        for j in 0..n {
            let d: f64 = (k..m).map(|i| v[i - k] * r.at(i, j)).sum::<f64>() * 2.0 / vn;
            for i in k..m {
                let x = r.at(i, j) - d * v[i - k];
                r.set(i, j, x);
            }
        }
        for j in 0..m {
            let d: f64 = (k..m).map(|i| v[i - k] * qt.at(i, j)).sum::<f64>() * 2.0 / vn;
            for i in k..m {
                let x = qt.at(i, j) - d * v[i - k];
                qt.set(i, j, x);
            }
        }
    }
    let diag: Vec<f64> = (0..n.min(m)).map(|k| r.at(k, k).abs()).collect();
    // P = R^-1 (Q^T)[:n, :] by back substitution, column by column of Q^T
    let mut p = Mat::zeros(n, m);
    for c in 0..m {
        for i in (0..n).rev() {
            let mut s = qt.at(i, c);
            for j in i + 1..n {
                s -= r.at(i, j) * p.at(j, c);
            }
            p.set(i, c, s / r.at(i, i));
        }
    }
    (p, diag)
}

/// Moore-Penrose pseudo-inverse (n x m) of `a` (m x n) by one-sided Jacobi SVD, singular
/// values below `rcond * max(s)` dropped (NumPy `pinv`, rcond 1e-15).
pub fn pinv(a: &Mat, rcond: f64) -> Mat {
    let (m, n) = (a.rows, a.cols);
    if m == 0 || n == 0 {
        return Mat::zeros(n, m);
    }
    // work on columns of U = A V; V accumulates the rotations
    let mut u: Vec<Vec<f64>> = (0..n).map(|j| (0..m).map(|i| a.at(i, j)).collect()).collect();
    let mut v = Mat::zeros(n, n);
    for i in 0..n {
        v.set(i, i, 1.0);
    }
    for _sweep in 0..60 {
        let mut rotated = false;
        for p in 0..n {
            for q in p + 1..n {
                let alpha: f64 = u[p].iter().map(|x| x * x).sum();
                let beta: f64 = u[q].iter().map(|x| x * x).sum();
                let gamma: f64 = u[p].iter().zip(&u[q]).map(|(x, y)| x * y).sum();
                if gamma == 0.0 || gamma.abs() <= 1e-300 || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt() {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let t = if zeta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for i in 0..m {
                    let (x, y) = (u[p][i], u[q][i]);
                    u[p][i] = c * x - s * y;
                    u[q][i] = s * x + c * y;
                }
                for i in 0..n {
                    let (x, y) = (v.at(i, p), v.at(i, q));
                    v.set(i, p, c * x - s * y);
                    v.set(i, q, s * x + c * y);
                }
            }
        }
        if !rotated {
            break;
        }
    }
    let sv: Vec<f64> = u.iter().map(|c| c.iter().map(|x| x * x).sum::<f64>().sqrt()).collect();
    let smax = sv.iter().copied().fold(0.0, f64::max);
    let mut out = Mat::zeros(n, m);
    for k in 0..n {
        if !(sv[k] > rcond * smax) || sv[k] == 0.0 {
            continue;
        }
        // contribution v_k (1/s_k) u_k^T with u_k = U[:, k] / s_k
        let inv2 = 1.0 / (sv[k] * sv[k]);
        for i in 0..n {
            let vik = v.at(i, k) * inv2;
            for j in 0..m {
                let x = out.at(i, j) + vik * u[k][j];
                out.set(i, j, x);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_small_and_large() {
        let a: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
        assert_eq!(pairwise_sum_f64(&a), 0.5 * 999.0 * 1000.0 / 2.0);
        assert_eq!(pairwise_sum_f32(&[1.0, 2.0, 3.0]), 6.0);
        assert_eq!(pairwise_sum_f32(&[]), 0.0);
    }

    #[test]
    fn qr_operator_solves_least_squares() {
        let mut a = Mat::zeros(4, 2);
        for i in 0..4 {
            a.set(i, 0, 1.0);
            a.set(i, 1, i as f64);
        }
        let (p, d) = qr_solve_operator(&a);
        assert!(d.iter().all(|&x| x > 0.0));
        let y = [1.0, 3.0, 5.0, 7.0];
        let x0: f64 = (0..4).map(|k| p.at(0, k) * y[k]).sum();
        let x1: f64 = (0..4).map(|k| p.at(1, k) * y[k]).sum();
        assert!((x0 - 1.0).abs() < 1e-12 && (x1 - 2.0).abs() < 1e-12);
    }

    #[test]
    fn pinv_of_rank_deficient_matrix() {
        let mut a = Mat::zeros(3, 2);
        for i in 0..3 {
            a.set(i, 0, 1.0);
            a.set(i, 1, 2.0);
        }
        let p = pinv(&a, 1e-15);
        // pinv of the rank-1 matrix 1 [1 2]: [1 2]^T 1^T / (3 * 5)
        for j in 0..3 {
            assert!((p.at(0, j) - 1.0 / 15.0).abs() < 1e-14);
            assert!((p.at(1, j) - 2.0 / 15.0).abs() < 1e-14);
        }
    }

    #[test]
    fn complex_product_matches_plain_when_exact() {
        let a = Complex32::new(1.5, -2.0);
        let b = Complex32::new(0.25, 4.0);
        assert_eq!(cmul32(a, b), a * b);
    }
}
