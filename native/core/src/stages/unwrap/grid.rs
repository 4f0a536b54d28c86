//! `uw_grid_wrapped`: resample the wrapped PS phase to a grid and Goldstein-filter it
//! (spec C.6.3), as `pystamps_batch/stages/unwrap/grid.py`.
//!
//! Shapes: n PS, M_U interferograms to unwrap, an n_i x n_j grid of `pix_size` m cells whose
//! non-empty cells (in the first ifg) are the `n_nodes` nodes, listed in MATLAB
//! column-major order. The cell indices are computed in float32 and the cell sums are
//! sequential complex64 sums in PS order, as StaMPS; the filter is [`super::filt::wrap_filt`].

use super::filt::wrap_filt;
use crate::stages::arrays::{Artifact, MatArray, MatData};
use crate::stages::select::mat::{empty, mat_c64, mat_f32};
use ndarray::{Array2, ArrayView2};
use num_complex::Complex32;

/// Offset (m) added before the ceil in the cell index (1e-3 in step 6, 1e-6 in step 2), as float32.
pub const GRID_EPS: f32 = 1e-3;

/// The gridded, filtered interferograms (the content of `uw_grid.mat`).
///
/// `ph`: (n_nodes, M_U) filtered node phasors (magnitude = cell-sum magnitude);
/// `ph_in`: (n, M_U) input phasors; `nzix`: (n_i, n_j) node mask;
/// `grid_ij`: (n, 2) 1-based (row, column) cell of each PS;
/// `node_ij`/`node_xy`: the node cells (n_nodes, 2) and (number, x, y) of their centres in m
/// (n_nodes, 3) as saved; `grid_x_min`/`grid_y_min`: origin (m); `pix_size`: cell size (m).
#[derive(Debug, Clone, PartialEq)]
pub struct UwGrid {
    pub ph: Array2<Complex32>,
    pub ph_in: Array2<Complex32>,
    pub nzix: Array2<bool>,
    pub grid_ij: Array2<f32>,
    pub node_ij: Array2<f64>,
    pub node_xy: Array2<f64>,
    pub grid_x_min: f32,
    pub grid_y_min: f32,
    pub pix_size: f64,
}

/// A 2-D double array in MATLAB (column-major) layout.
fn mat_f64(a: &Array2<f64>) -> MatArray {
    MatArray::new(a.nrows(), a.ncols(), MatData::F64(a.t().iter().copied().collect()))
}

/// A 1 x 1 single.
fn scalar_f32(v: f32) -> MatArray {
    MatArray::new(1, 1, MatData::F32(vec![v]))
}

impl UwGrid {
    /// Grid rows.
    pub fn n_i(&self) -> usize {
        self.nzix.nrows()
    }

    /// Grid columns.
    pub fn n_j(&self) -> usize {
        self.nzix.ncols()
    }

    /// Number of nodes (rows of `ph`).
    pub fn n_nodes(&self) -> usize {
        self.ph.nrows()
    }

    /// 0-based column-major linear cell index of each node, in node order.
    pub fn node_cells(&self) -> Vec<usize> {
        // the transposed view iterates nzix column by column: the index is column-major
        self.nzix.t().iter().enumerate().filter(|(_, &b)| b).map(|(k, _)| k).collect()
    }

    /// Variables of `uw_grid.mat` with StaMPS' names, shapes and dtypes (as `UwGrid.to_mat`).
    pub fn to_mat(&self) -> Artifact {
        let nzix = MatArray::new(self.n_i(), self.n_j(), MatData::U8(self.nzix.t().iter().map(|&b| b as u8).collect()));
        vec![
            ("ph".into(), mat_c64(&self.ph)),
            ("ph_in".into(), mat_c64(&self.ph_in)),
            ("ph_lowpass".into(), empty()),
            ("ph_uw_predef".into(), empty()),
            ("ph_in_predef".into(), empty()),
            ("xy".into(), mat_f64(&self.node_xy)),
            ("ij".into(), mat_f64(&self.node_ij)),
            ("nzix".into(), nzix),
            ("grid_x_min".into(), scalar_f32(self.grid_x_min)),
            ("grid_y_min".into(), scalar_f32(self.grid_y_min)),
            ("n_i".into(), scalar_f32(self.n_i() as f32)),
            ("n_j".into(), scalar_f32(self.n_j() as f32)),
            ("n_ifg".into(), MatArray::scalar(self.ph.ncols() as f64)),
            ("n_ps".into(), MatArray::scalar(self.n_nodes() as f64)),
            ("grid_ij".into(), mat_f32(&self.grid_ij)),
            ("pix_size".into(), MatArray::scalar(self.pix_size)),
        ]
    }
}

/// NumPy's `min` of float32 values (NaN propagates); +inf for none.
fn min_nan(v: impl Iterator<Item = f32>) -> f32 {
    v.fold(f32::INFINITY, |m, x| if m.is_nan() || x.is_nan() { f32::NAN } else { m.min(x) })
}

/// NumPy's `max` of float32 values (NaN propagates); -inf for none.
fn max_nan(v: impl Iterator<Item = f32>) -> f32 {
    v.fold(f32::NEG_INFINITY, |m, x| if m.is_nan() || x.is_nan() { f32::NAN } else { m.max(x) })
}

/// 1-based (row, column) cell of every PS, in float32 as StaMPS (J.5, J.27), as `grid_indices`.
///
/// `xy`: (n, 2) local (x, y) in m. Row = ceil((y - min y + 1e-3)/g), column likewise from x;
/// the largest index of each axis is merged into the one before it.
/// Returns (grid_ij (n, 2), grid_x_min, grid_y_min).
pub fn grid_indices(xy: ArrayView2<f32>, pix_size: f64) -> (Array2<f32>, f32, f32) {
    let n = xy.nrows();
    let x_min = min_nan(xy.column(0).iter().copied());
    let y_min = min_nan(xy.column(1).iter().copied());
    let g = pix_size as f32;
    let mut gi: Vec<f32> = xy.column(1).iter().map(|&y| (((y - y_min) + GRID_EPS) / g).ceil()).collect();
    let mut gj: Vec<f32> = xy.column(0).iter().map(|&x| (((x - x_min) + GRID_EPS) / g).ceil()).collect();
    for a in [&mut gi, &mut gj] {
        let top = max_nan(a.iter().copied());
        for v in a.iter_mut() {
            if *v == top {
                *v = top - 1.0;
            }
        }
    }
    let grid_ij = Array2::from_shape_fn((n, 2), |(p, c)| if c == 0 { gi[p] } else { gj[p] });
    (grid_ij, x_min, y_min)
}

/// Python's `format(x, 'g')` (6 significant digits, trailing zeros removed, exponent form
/// below 1e-4 or from 1e6 on), for the error texts.
pub fn fmt_g(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{x:.5e}");
    let (mant, exp) = e.split_once('e').expect("exponent form");
    let exp: i32 = exp.parse().expect("exponent");
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..6).contains(&exp) {
        strip(&format!("{x:.*}", (5 - exp) as usize))
    } else {
        format!("{}e{}{:02}", strip(mant), if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// One-line error text for a grid smaller than the Goldstein window (as `min_scene_message`).
pub fn min_scene_message(n_i: usize, n_j: usize, n_win: usize, pix_size: f64) -> String {
    let need = n_win as f64 * pix_size;
    format!(
        "unwrapping grid is {n_i} x {n_j} cells of {} m, smaller than the Goldstein window \
         unwrap_gold_n_win={n_win}: the PS must span more than about {} m \
         ({n_win} x unwrap_grid_size) in both rotated axes; reduce unwrap_grid_size for a smaller scene",
        fmt_g(pix_size),
        fmt_g(need)
    )
}

/// Complex64 sum of each cell's phasors in PS order (sequential float32, as `np.add.at`).
///
/// `ph`: (n, M); `cell`: (n,) 0-based linear cell index. Returns (n_cells, M).
pub fn accumulate_cells(ph: ArrayView2<Complex32>, cell: &[usize], n_cells: usize) -> Array2<Complex32> {
    let mut out = Array2::<Complex32>::zeros((n_cells, ph.ncols()));
    for (row, &c) in ph.rows().into_iter().zip(cell) {
        for (o, v) in out.row_mut(c).iter_mut().zip(row.iter()) {
            *o = Complex32::new(o.re + v.re, o.im + v.im);
        }
    }
    out
}

/// `z != 0` for a complex value (NaN counts as non-zero).
#[inline]
fn nonzero(z: Complex32) -> bool {
    !(z.re == 0.0 && z.im == 0.0)
}

/// Grid the wrapped phasors and filter them (spec C.6.3), as `uw_grid_wrapped`.
///
/// `ph`: (n, M_U) unit phasors; `xy`: (n, 2) (x, y) in m; `pix_size`: cell size (m);
/// `prefilt_win`: Goldstein window (cells); `goldfilt`: filter or keep the cell sums;
/// `gold_alpha`: filter exponent; `threads`: workers of the filter (0 = all cores).
/// Errors (the Python StageError texts): no interferograms, a phasor exactly 0, a grid
/// smaller than the window (`min_scene_message`); also an odd window when filtering (NumPy
/// fails on a shape mismatch there).
pub fn uw_grid_wrapped(
    ph: ArrayView2<Complex32>,
    xy: ArrayView2<f32>,
    pix_size: f64,
    prefilt_win: usize,
    goldfilt: bool,
    gold_alpha: f64,
    threads: usize,
) -> Result<UwGrid, String> {
    let (n, m) = ph.dim();
    if m == 0 {
        return Err("no interferograms to unwrap (all dropped or only the master)".into());
    }
    if xy.nrows() != n || xy.ncols() != 2 {
        return Err(format!("xy has shape {:?}, expected ({n}, 2)", xy.dim()));
    }
    if n == 0 {
        return Err("no PS to unwrap".into());
    }
    let zero: Vec<(usize, usize)> =
        ph.indexed_iter().filter(|(_, &z)| !nonzero(z)).map(|(ix, _)| ix).take(1).collect();
    if let Some(&(p, k)) = zero.first() {
        let count = ph.iter().filter(|&&z| !nonzero(z)).count();
        return Err(format!(
            "wrapped phase is exactly zero for {count} values (first: PS {}, interferogram column {}); cannot unwrap",
            p + 1,
            k + 1
        ));
    }
    let (grid_ij, x_min, y_min) = grid_indices(xy, pix_size);
    let n_i = max_nan(grid_ij.column(0).iter().copied()) as i64;
    let n_j = max_nan(grid_ij.column(1).iter().copied()) as i64;
    // (a grid of no cells cannot be indexed: refused even with a zero window)
    if n_i.min(n_j) < (prefilt_win as i64).max(1) {
        return Err(min_scene_message(n_i.max(0) as usize, n_j.max(0) as usize, prefilt_win, pix_size));
    }
    if goldfilt && !prefilt_win.is_multiple_of(2) {
        return Err(format!("unwrap_gold_n_win={prefilt_win} must be even"));
    }
    let (n_i, n_j) = (n_i as usize, n_j as usize);
    let cell: Vec<usize> = grid_ij
        .rows()
        .into_iter()
        .map(|r| {
            let (gi, gj) = (r[0] as i64 - 1, r[1] as i64 - 1);
            (gj * n_i as i64 + gi) as usize
        })
        .collect();
    let sums = accumulate_cells(ph, &cell, n_i * n_j);
    let nz_f: Vec<usize> = (0..n_i * n_j).filter(|&c| nonzero(sums[[c, 0]])).collect();
    let mut nzix = Array2::<bool>::from_elem((n_i, n_j), false);
    for &c in &nz_f {
        nzix[[c % n_i, c / n_i]] = true;
    }
    let node_ph = if goldfilt {
        let cube = ndarray::Array3::from_shape_fn((n_i, n_j, m), |(i, j, k)| sums[[j * n_i + i, k]]);
        let filt = wrap_filt(cube.view(), prefilt_win, gold_alpha, None, threads);
        Array2::from_shape_fn((nz_f.len(), m), |(r, k)| filt[[nz_f[r] % n_i, nz_f[r] / n_i, k]])
    } else {
        Array2::from_shape_fn((nz_f.len(), m), |(r, k)| sums[[nz_f[r], k]])
    };
    // saved xy/ij: the last ifg's non-zero cells (the first ifg's if their counts differ)
    let mut last_f: Vec<usize> = (0..n_i * n_j).filter(|&c| nonzero(sums[[c, m - 1]])).collect();
    if last_f.len() != nz_f.len() {
        last_f = nz_f.clone();
    }
    let nz_i: Vec<f64> = last_f.iter().map(|&c| (c % n_i + 1) as f64).collect();
    let nz_j: Vec<f64> = last_f.iter().map(|&c| (c / n_i + 1) as f64).collect();
    let node_xy = Array2::from_shape_fn((last_f.len(), 3), |(r, c)| match c {
        0 => (r + 1) as f64,
        1 => (nz_j[r] - 0.5) * pix_size,
        _ => (nz_i[r] - 0.5) * pix_size,
    });
    let node_ij = Array2::from_shape_fn((last_f.len(), 2), |(r, c)| if c == 0 { nz_i[r] } else { nz_j[r] });
    Ok(UwGrid {
        ph: node_ph,
        ph_in: ph.to_owned(),
        nzix,
        grid_ij,
        node_ij,
        node_xy,
        grid_x_min: x_min,
        grid_y_min: y_min,
        pix_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_indices_merge_the_top_index() {
        let xy = Array2::from_shape_vec((4, 2), vec![10.0f32, 5.0, 110.0, 5.0, 310.0, 205.0, 10.0, 305.0]).unwrap();
        let (ij, x0, y0) = grid_indices(xy.view(), 100.0);
        assert_eq!((x0, y0), (10.0, 5.0));
        // rows: ceil((0, 0, 200, 300) + 1e-3)/100 = 1, 1, 3, 4 -> top 4 merged into 3
        assert_eq!(ij.column(0).to_vec(), vec![1.0, 1.0, 3.0, 3.0]);
        // columns: 1, 2, 4, 1 -> 4 merged into 3
        assert_eq!(ij.column(1).to_vec(), vec![1.0, 2.0, 3.0, 1.0]);
    }

    #[test]
    fn python_g_format() {
        assert_eq!(fmt_g(100.0), "100");
        assert_eq!(fmt_g(3200.0), "3200");
        assert_eq!(fmt_g(12.5), "12.5");
        assert_eq!(fmt_g(1e6), "1e+06");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(0.0001), "0.0001");
        assert_eq!(fmt_g(0.00001), "1e-05");
        assert_eq!(fmt_g(1.0 / 3.0), "0.333333");
    }

    #[test]
    fn errors_and_unfiltered_nodes() {
        let xy = Array2::from_shape_fn((6, 2), |(p, c)| if c == 0 { 50.0 * p as f32 } else { 40.0 * p as f32 });
        let mut ph = Array2::from_elem((6, 2), Complex32::new(1.0, 0.0));
        let e = uw_grid_wrapped(ph.view(), xy.view(), 10.0, 64, false, 0.8, 1).unwrap_err();
        assert!(e.starts_with("unwrapping grid is 20 x 25 cells of 10 m"), "{e}");
        let g = uw_grid_wrapped(ph.view(), xy.view(), 10.0, 4, false, 0.8, 1).unwrap();
        assert_eq!(g.n_nodes(), 6);
        assert_eq!(g.node_cells().len(), 6);
        assert_eq!(g.to_mat().len(), 16);
        ph[[3, 1]] = Complex32::new(0.0, 0.0);
        let e = uw_grid_wrapped(ph.view(), xy.view(), 10.0, 4, false, 0.8, 1).unwrap_err();
        assert_eq!(e, "wrapped phase is exactly zero for 1 values (first: PS 4, interferogram column 2); cannot unwrap");
    }
}
