//! Weighted gridding of step 2 (`stage2_grid_accumulate`): sum pixel rows into cells.
//!
//! Sums are accumulated in f64 in pixel order (as the python backend's `bincount`) and
//! rounded to complex64, so the result is bit-identical to it; a NaN in a row makes its
//! cell NaN in that column.  The pixels are first counting-sorted by cell (stable), then
//! every output row is one pass over its pixels' rows (cache-friendly, parallel over cells).

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
    if n == 0 || m == 0 {
        return Ok(out);
    }
    // stable counting sort of the pixels by cell: each cell's rows are then summed in pixel
    // order (the order of the python backend's bincount), one output row per cell
    let mut start = vec![0usize; n_cells + 1];
    for &c in cell.iter() {
        start[c as usize + 1] += 1;
    }
    for c in 0..n_cells {
        start[c + 1] += start[c];
    }
    let mut fill = start.clone();
    let mut perm = vec![0usize; n];
    for (p, &c) in cell.iter().enumerate() {
        perm[fill[c as usize]] = p;
        fill[c as usize] += 1;
    }
    let contiguous = values.as_slice();
    crate::pool::install(threads, || {
        out.axis_chunks_iter_mut(Axis(0), 256).into_par_iter().enumerate().for_each_init(
            || (vec![0f64; m], vec![0f64; m]),
            |(re, im), (b, mut blk)| {
                for r in 0..blk.nrows() {
                    let c = b * 256 + r;
                    re.iter_mut().for_each(|x| *x = 0.0);
                    im.iter_mut().for_each(|x| *x = 0.0);
                    for &p in &perm[start[c]..start[c + 1]] {
                        match contiguous {
                            Some(v) => {
                                for ((a, b), z) in re.iter_mut().zip(im.iter_mut()).zip(&v[p * m..(p + 1) * m]) {
                                    *a += z.re as f64;
                                    *b += z.im as f64;
                                }
                            }
                            None => {
                                for ((a, b), z) in re.iter_mut().zip(im.iter_mut()).zip(values.row(p).iter()) {
                                    *a += z.re as f64;
                                    *b += z.im as f64;
                                }
                            }
                        }
                    }
                    for ((o, &a), &b) in blk.row_mut(r).iter_mut().zip(re.iter()).zip(im.iter()) {
                        *o = Complex32::new(a as f32, b as f32);
                    }
                }
            },
        )
    });
    Ok(out)
}
