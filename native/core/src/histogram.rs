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

/// Counts of `values` over the bins centred at `centres` (float64, MATLAB semantics).
pub fn hist_centres(values: &[f64], centres: &[f64], threads: usize) -> Vec<f64> {
    let nb = centres.len();
    if nb == 0 {
        return Vec::new();
    }
    let edges: Vec<f64> = centres.windows(2).map(|w| (w[0] + w[1]) / 2.0).collect();
    let count = |chunk: &[f64]| {
        let mut c = vec![0u64; nb];
        for &y in chunk {
            if !y.is_nan() {
                c[bin_of(&edges, y)] += 1;
            }
        }
        c
    };
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
    fn empty_input() {
        assert_eq!(hist_centres(&[], &[0.5, 1.5], 2), vec![0.0, 0.0]);
    }
}
