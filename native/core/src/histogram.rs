//! MATLAB `hist(y, centres)` counts.
//!
//! Edges are the mid-points between consecutive centres; bin b is right-closed
//! `(e[b-1], e[b]]`; the first and last bins extend to -inf and +inf; NaN values
//! are not counted (spec section 0).

use rayon::prelude::*;

/// Bin index of `y` for the sorted `edges` (len = n_bins - 1): the number of edges `< y`.
#[inline]
fn bin_of(edges: &[f64], y: f64) -> usize {
    edges.partition_point(|&e| e < y)
}

/// Bin finder: a direct guess on (nearly) uniformly spaced edges, corrected against the
/// true edges so that the result equals the binary search exactly.
struct Binner<'a> {
    edges: &'a [f64],
    e0: f64,
    inv_step: f64,
    uniform: bool,
}

impl<'a> Binner<'a> {
    fn new(edges: &'a [f64]) -> Self {
        let ne = edges.len();
        if ne < 2 {
            return Binner { edges, e0: 0.0, inv_step: 0.0, uniform: false };
        }
        let step = (edges[ne - 1] - edges[0]) / (ne - 1) as f64;
        let uniform = step > 0.0
            && step.is_finite()
            && edges.iter().enumerate().all(|(i, &e)| (e - (edges[0] + i as f64 * step)).abs() < 0.25 * step);
        Binner { edges, e0: edges[0], inv_step: if uniform { 1.0 / step } else { 0.0 }, uniform }
    }

    #[inline(always)]
    fn bin(&self, y: f64) -> usize {
        if !self.uniform {
            return bin_of(self.edges, y);
        }
        let ne = self.edges.len();
        let g = ((y - self.e0) * self.inv_step).ceil();
        // clamp in float first (also maps +-inf), then fix up against the real edges
        let mut b = if g <= 0.0 { 0 } else if g >= ne as f64 { ne } else { g as usize };
        while b > 0 && self.edges[b - 1] >= y {
            b -= 1;
        }
        while b < ne && self.edges[b] < y {
            b += 1;
        }
        b
    }
}

/// Counts of `values` over the bins centred at `centres` (float64, MATLAB semantics).
pub fn hist_centres(values: &[f64], centres: &[f64], threads: usize) -> Vec<f64> {
    let nb = centres.len();
    if nb == 0 {
        return Vec::new();
    }
    let edges: Vec<f64> = centres.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    let binner = Binner::new(&edges);
    let count = |chunk: &[f64]| {
        let mut c = vec![0u64; nb];
        for &y in chunk {
            if !y.is_nan() {
                c[binner.bin(y)] += 1;
            }
        }
        c
    };
    if values.len() < 1 << 16 {
        return count(values).into_iter().map(|c| c as f64).collect();
    }
    let counts = crate::pool::install(threads, || {
        values
            .par_chunks(1 << 16)
            .map(count)
            .reduce(|| vec![0u64; nb], |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            })
    });
    counts.into_iter().map(|c| c as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn right_closed_and_nan_ignored() {
        let centres = [0.5, 1.5, 2.5];
        // edges 1.0, 2.0: 1.0 falls in bin 0 (right-closed), 2.0 in bin 1
        let v = [-5.0, 1.0, 1.0000001, 2.0, 9.0, f64::NAN];
        assert_eq!(hist_centres(&v, &centres, 1), vec![2.0, 2.0, 1.0]);
    }

    #[test]
    fn direct_guess_equals_binary_search() {
        let centres: Vec<f64> = (0..100).map(|i| 0.005 + 0.01 * i as f64).collect();
        let edges: Vec<f64> = centres.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
        let b = Binner::new(&edges);
        assert!(b.uniform);
        for i in -2000..3000 {
            let y = i as f64 * 0.0005;
            assert_eq!(b.bin(y), bin_of(&edges, y), "{y}");
        }
        for &y in &edges {
            assert_eq!(b.bin(y), bin_of(&edges, y));
        }
        assert_eq!(b.bin(f64::INFINITY), 99);
        assert_eq!(b.bin(f64::NEG_INFINITY), 0);
    }

    #[test]
    fn empty_input() {
        assert_eq!(hist_centres(&[], &[0.5, 1.5], 2), vec![0.0, 0.0]);
    }
}
