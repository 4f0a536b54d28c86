//! Generated kernel inputs (seeded, no external crates): phasor stacks with a look-angle
//! term, baselines, grids, arcs.

use ndarray::{Array1, Array2, Array3};
use num_complex::{Complex32, Complex64};

/// SplitMix64: small, seeded, good enough for benchmark inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.uniform().max(1e-300);
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }
}

/// Baseline row (M,) of perpendicular baselines (m).
pub fn baselines(rng: &mut Rng, m: usize) -> Vec<f32> {
    (0..m).map(|_| (rng.normal() * 150.0) as f32).collect()
}

/// Phasors `exp(i (K b + noise))` (n x M) for per-pixel baselines `b` (n x M).
pub fn phasors(rng: &mut Rng, b: &Array2<f32>, noise: f64) -> Array2<Complex32> {
    let (n, m) = b.dim();
    let mut z = Array2::<Complex32>::zeros((n, m));
    for p in 0..n {
        let k = (rng.uniform() - 0.5) * 0.01;
        for j in 0..m {
            let ph = k * b[[p, j]] as f64 + noise * rng.normal();
            z[[p, j]] = Complex32::new(ph.cos() as f32, ph.sin() as f32);
        }
    }
    z
}

/// Per-pixel baselines: the row plus a small per-pixel variation.
pub fn baseline_matrix(rng: &mut Rng, row: &[f32], n: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, row.len()), |(_, j)| row[j] + (rng.normal() * 2.0) as f32)
}

/// Complex grid stack (n_i x n_j x M) of cell sums with a smooth phase and noise.
pub fn grid(rng: &mut Rng, ni: usize, nj: usize, m: usize) -> Array3<Complex64> {
    Array3::from_shape_fn((ni, nj, m), |(i, j, k)| {
        let ph = 0.05 * i as f64 + 0.03 * j as f64 * (k as f64 + 1.0) + 0.8 * rng.normal();
        let a = 1.0 + 3.0 * rng.uniform();
        Complex64::new(a * ph.cos(), a * ph.sin())
    })
}

/// Arcs between nearby pixels: each pixel to its next 3 (E = 3 n).
pub fn edges(rng: &mut Rng, n: usize) -> Array2<i64> {
    let e = 3 * n.saturating_sub(1);
    let mut out = Array2::<i64>::zeros((e, 2));
    for r in 0..e {
        let a = rng.below(n - 1);
        let b = (a + 1 + rng.below(3)).min(n - 1);
        out[[r, 0]] = a as i64;
        out[[r, 1]] = b as i64;
    }
    out
}

/// Acquisition dates (days), roughly every 12 days.
pub fn days(rng: &mut Rng, u: usize) -> Array1<f64> {
    let mut t = 737_000.0;
    Array1::from_shape_fn(u, |_| {
        t += 12.0 * (1.0 + rng.below(3) as f64);
        t
    })
}
