//! Weighted gridding of step 2 (`stage2_grid_accumulate`): sum pixel rows into cells.
//!
//! Sums are accumulated in f64 in pixel order (as the python backend's `bincount`) and
//! rounded to complex64; a NaN in a row makes its cell NaN in that column.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use num_complex::Complex32;
use rayon::prelude::*;

/// `values` (n x M), `cell` (n,) 0-based cell index -> (n_cells x M).
pub fn grid_accumulate(
    values: ArrayView2<Complex32>,
    cell: ArrayView1<i64>,
    n_cells: usize,
    threads: usize,
) -> Result<Array2<Complex32>, String> {
    let (n, m) = values.dim();
    if cell.len() != n {
        return Err(format!("cell has {} entries for {} rows", cell.len(), n));
    }
    if let Some(bad) = cell.iter().find(|&&c| c < 0 || c as usize >= n_cells) {
        return Err(format!("cell index {bad} outside 0..{n_cells}"));
    }
    let mut out = Array2::<Complex32>::zeros((n_cells, m));
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(1)).into_par_iter().enumerate().for_each(|(k, mut col)| {
            let mut re = vec![0f64; n_cells];
            let mut im = vec![0f64; n_cells];
            for p in 0..n {
                let v = values[[p, k]];
                let c = cell[p] as usize;
                re[c] += v.re as f64;
                im[c] += v.im as f64;
            }
            for c in 0..n_cells {
                col[c] = Complex32::new(re[c] as f32, im[c] as f32);
            }
        })
    });
    Ok(out)
}
