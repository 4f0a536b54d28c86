//! Weighted gridding of step 2 (`stage2_grid_accumulate`): sum pixel rows into cells.
//!
//! Sums are accumulated in f64 in pixel order (as the python backend's `bincount`) and
//! rounded to complex64, so the result is bit-identical to it; a NaN in a row makes its
//! cell NaN in that column.  The pixels are first counting-sorted by cell (stable), then
//! every output row is one pass over its pixels' rows (cache-friendly, parallel over cells).
//!
//! Speed: a complex row is handled as `2 M` interleaved f32 (re, im, re, ...), so the f64
//! accumulation and the final rounding are plain element-wise loops that LLVM vectorises
//! (the AVX2 build through [`avx2_dispatch!`]).  A typical call is ~1 ms of work, which a
//! second thread cannot shorten reliably (waking rayon workers, a busy sibling core), so
//! small inputs are summed on the calling thread.

use ndarray::{Array2, ArrayView1, ArrayView2};
use num_complex::Complex32;
use rayon::prelude::*;

/// Below this many input values (complex) the cells are summed on the calling thread.
const PARALLEL_MIN_VALUES: usize = 1 << 22;

/// Output cells per parallel task.
const CELLS_PER_TASK: usize = 256;

/// How many pixel rows ahead of the summation [`prefetch`] requests them.
const PREFETCH_AHEAD: usize = 8;

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
    if n > u32::MAX as usize {
        return Err(format!("{n} pixels: at most {} per call", u32::MAX));
    }
    let mut out = Array2::<Complex32>::zeros((n_cells, m));
    if n == 0 || m == 0 {
        return Ok(out);
    }
    let order = CellOrder::new(cell, n_cells);
    let values = values.as_standard_layout(); // a copy only for strided input
    let src = as_f32(values.as_slice().expect("standard layout"));
    let dst = as_f32_mut(out.as_slice_mut().expect("fresh array"));
    let parallel = n * m >= PARALLEL_MIN_VALUES && threads != 1;
    sum_all_cells(&order, src, 2 * m, dst, parallel.then_some(threads));
    Ok(out)
}

/// Every output row of `dst` (`width` f32 each, see [`sum_cells_body`]): on the calling
/// thread, or in parallel over blocks of cells in a pool of `Some(threads)`.
fn sum_all_cells(
    order: &CellOrder,
    src: &[f32],
    width: usize,
    dst: &mut [f32],
    pool: Option<usize>,
) {
    match pool {
        None => sum_cells(order, src, width, 0, dst),
        Some(threads) => crate::pool::install(threads, || {
            dst.par_chunks_mut(CELLS_PER_TASK * width)
                .enumerate()
                .for_each(|(t, chunk)| sum_cells(order, src, width, t * CELLS_PER_TASK, chunk));
        }),
    }
}

/// The pixels grouped by cell, each group in pixel order (a stable counting sort).
/// Indices are u32 (half the memory traffic of usize; checked by the caller).
struct CellOrder {
    /// `pixels[start[c]..start[c + 1]]` are the pixels of cell `c`.
    start: Vec<u32>,
    pixels: Vec<u32>,
}

impl CellOrder {
    /// Counting sort of `cell` (values already checked to lie in `0..n_cells`, at most
    /// `u32::MAX` pixels).
    fn new(cell: ArrayView1<i64>, n_cells: usize) -> Self {
        let mut start = vec![0u32; n_cells + 1];
        for &c in cell.iter() {
            start[c as usize + 1] += 1;
        }
        for c in 0..n_cells {
            start[c + 1] += start[c];
        }
        let mut fill = start[..n_cells].to_vec();
        let mut pixels = vec![0u32; cell.len()];
        for (p, &c) in cell.iter().enumerate() {
            let f = &mut fill[c as usize];
            pixels[*f as usize] = p as u32;
            *f += 1;
        }
        CellOrder { start, pixels }
    }

    /// Positions in `pixels` of the pixels of cell `c`.
    fn range(&self, c: usize) -> std::ops::Range<usize> {
        self.start[c] as usize..self.start[c + 1] as usize
    }
}

avx2_dispatch!(fn sum_cells(order: &CellOrder, src: &[f32], width: usize, first: usize, dst: &mut [f32]) -> ()
    => sum_cells_body);

/// Output rows `first..` (as many as `dst` holds, `width` f32 each): for each cell the f64
/// sum, in pixel order, of its pixels' rows of `src`, rounded to f32.  Empty cells are
/// left as they are (zero).
///
/// The rows are read in cell order, i.e. scattered over `src`: each is prefetched
/// [`PREFETCH_AHEAD`] rows before it is summed, which hides most of the memory latency
/// (without, the random reads take two thirds of the time).
#[inline(always)]
fn sum_cells_body(order: &CellOrder, src: &[f32], width: usize, first: usize, dst: &mut [f32]) {
    let rows = dst.len() / width;
    let pixels = &order.pixels[..order.start[first + rows] as usize];
    let mut acc = vec![0f64; width];
    for (r, out) in dst.chunks_exact_mut(width).enumerate() {
        let range = order.range(first + r);
        if range.is_empty() {
            continue;
        }
        acc.fill(0.0);
        for j in range {
            if let Some(&q) = pixels.get(j + PREFETCH_AHEAD) {
                let q = q as usize;
                prefetch(&src[q * width..(q + 1) * width]);
            }
            let p = pixels[j] as usize;
            for (a, &x) in acc.iter_mut().zip(&src[p * width..(p + 1) * width]) {
                *a += x as f64;
            }
        }
        for (o, &a) in out.iter_mut().zip(&acc) {
            *o = a as f32;
        }
    }
}

/// Ask the CPU to bring `row` into cache (a hint: no effect on results; none off x86-64).
#[inline(always)]
fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64 / std::mem::size_of::<f32>();
        let last = row.len().saturating_sub(1);
        for i in (0..row.len()).step_by(LINE).chain(std::iter::once(last)) {
            // SAFETY: a prefetch never faults, and the address lies inside `row` anyway
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().add(i).cast::<i8>())
            };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// The interleaved (re, im) f32 values of a complex slice.
fn as_f32(z: &[Complex32]) -> &[f32] {
    // SAFETY: Complex32 is #[repr(C)] { re: f32, im: f32 }: 2 f32, same alignment
    unsafe { std::slice::from_raw_parts(z.as_ptr().cast::<f32>(), 2 * z.len()) }
}

/// Mutable [`as_f32`].
fn as_f32_mut(z: &mut [Complex32]) -> &mut [f32] {
    // SAFETY: as in `as_f32`; the borrow of `z` is handed on
    unsafe { std::slice::from_raw_parts_mut(z.as_mut_ptr().cast::<f32>(), 2 * z.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array2};

    fn reference(v: &Array2<Complex32>, cell: &[i64], n_cells: usize) -> Array2<Complex32> {
        let m = v.ncols();
        let mut re = vec![0f64; n_cells * m];
        let mut im = vec![0f64; n_cells * m];
        for (p, &c) in cell.iter().enumerate() {
            for k in 0..m {
                re[c as usize * m + k] += v[[p, k]].re as f64;
                im[c as usize * m + k] += v[[p, k]].im as f64;
            }
        }
        Array2::from_shape_fn((n_cells, m), |(c, k)| {
            Complex32::new(re[c * m + k] as f32, im[c * m + k] as f32)
        })
    }

    #[test]
    fn matches_pixel_order_f64_sums_serial_parallel_strided() {
        let (n, m, nc) = (3000, 7, 600);
        let v = Array2::from_shape_fn((n, m), |(p, k)| {
            Complex32::new(
                ((p * 31 + k * 7) % 97) as f32 * 0.37 - 11.0,
                1.0 / (1.0 + (p + k) as f32),
            )
        });
        let cell: Vec<i64> = (0..n).map(|p| ((p * 17) % nc) as i64).collect();
        let want = reference(&v, &cell, nc + 3);
        let got = grid_accumulate(v.view(), arr1(&cell).view(), nc + 3, 0).unwrap();
        assert_eq!(got, want);
        // the parallel path (normally only for large inputs), blocks of cells on 2 threads
        let order = CellOrder::new(arr1(&cell).view(), nc + 3);
        let mut par = Array2::<Complex32>::zeros((nc + 3, m));
        let src = as_f32(v.as_slice().unwrap());
        sum_all_cells(
            &order,
            src,
            2 * m,
            as_f32_mut(par.as_slice_mut().unwrap()),
            Some(2),
        );
        assert_eq!(par, want);
        // strided input (a transposed copy viewed back) gives the same sums
        let vt = v.t().to_owned();
        let got = grid_accumulate(vt.t(), arr1(&cell).view(), nc + 3, 1).unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn nan_poisons_its_cell_and_column_only() {
        let mut v = Array2::from_elem((4, 2), Complex32::new(1.0, 2.0));
        v[[1, 1]] = Complex32::new(f32::NAN, 0.0);
        let got = grid_accumulate(v.view(), arr1(&[0i64, 0, 1, 2]).view(), 3, 1).unwrap();
        assert!(got[[0, 1]].re.is_nan() && got[[0, 1]].im == 2.0); // 2 + 0
        assert_eq!(got[[0, 0]], Complex32::new(2.0, 4.0));
        assert_eq!(got[[1, 1]], Complex32::new(1.0, 2.0));
    }

    #[test]
    fn rejects_cells_out_of_range() {
        let v = Array2::from_elem((2, 1), Complex32::new(1.0, 0.0));
        assert!(grid_accumulate(v.view(), arr1(&[0i64, 5]).view(), 3, 1).is_err());
    }
}
