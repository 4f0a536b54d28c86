//! `uw_unwrap_from_grid`: transfer the unwrapped node phase back to the PS (spec C.6.7,
//! J.19), as `pystamps_batch/stages/unwrap/from_grid.py` (float32, the same operations).

use super::f32ops::{angle, cmul, expi32};
use ndarray::{Array2, ArrayView2};
use num_complex::Complex32;

/// 0-based node index of each PS's cell, -1 where the cell has no node (as `node_of_ps`).
///
/// `grid_ij`: (n, 2) 1-based (row, column) as float32 (truncated to integers as NumPy's
/// `astype(int64)`); `nzix`: (n_i, n_j) node mask, nodes numbered in column-major order.
/// A cell outside the grid also gives -1.
pub fn node_of_ps(grid_ij: ArrayView2<f32>, nzix: ArrayView2<bool>) -> Vec<i64> {
    let (n_i, n_j) = nzix.dim();
    let mut gridix = vec![-1i64; n_i * n_j];
    let mut next = 0i64;
    // the transposed view runs over nzix column by column: k is the column-major cell
    for (k, &b) in nzix.t().iter().enumerate() {
        if b {
            gridix[k] = next;
            next += 1;
        }
    }
    grid_ij
        .rows()
        .into_iter()
        .map(|r| {
            let (gi, gj) = (r[0] as i64 - 1, r[1] as i64 - 1);
            if gi < 0 || gj < 0 || gi >= n_i as i64 || gj >= n_j as i64 {
                -1
            } else {
                gridix[(gj * n_i as i64 + gi) as usize]
            }
        })
        .collect()
}

/// `ph_uw = Phi_node + angle(w * exp(-i Phi_node))` per PS and ifg, float32 (n, M_U), as
/// `uw_unwrap_from_grid`.
///
/// `ph_in`: (n, M_U) wrapped PS phasors; `grid_ij`: (n, 2) 1-based cells; `nzix`: (n_i, n_j)
/// node mask; `node_uw`: (n_nodes, M_U) unwrapped node phase. PS in a cell without a node get NaN.
pub fn uw_unwrap_from_grid(
    ph_in: ArrayView2<Complex32>,
    grid_ij: ArrayView2<f32>,
    nzix: ArrayView2<bool>,
    node_uw: ArrayView2<f32>,
) -> Array2<f32> {
    let node = node_of_ps(grid_ij, nzix);
    let (n, m) = ph_in.dim();
    Array2::from_shape_fn((n, m), |(p, k)| {
        let q = node[p];
        if q < 0 {
            return f32::NAN;
        }
        let phi = node_uw[[q as usize, k]];
        phi + angle(cmul(ph_in[[p, k]], expi32(-phi)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_column_major_and_missing_cells_are_nan() {
        let mut nzix = Array2::from_elem((2, 2), false);
        nzix[[0, 1]] = true; // node 1
        nzix[[1, 0]] = true; // node 0
        let gij = Array2::from_shape_vec((3, 2), vec![2.0f32, 1.0, 1.0, 2.0, 1.0, 1.0]).unwrap();
        assert_eq!(node_of_ps(gij.view(), nzix.view()), vec![0, 1, -1]);
        let ph = Array2::from_elem((3, 1), Complex32::new(0.0, 1.0));
        let node_uw = Array2::from_shape_vec((2, 1), vec![7.0f32, -3.0]).unwrap();
        let out = uw_unwrap_from_grid(ph.view(), gij.view(), nzix.view(), node_uw.view());
        // 7 + angle(i e^{-7i}) = 7 + wrap(pi/2 - 7)
        let want = 7.0f32 + angle(cmul(Complex32::new(0.0, 1.0), expi32(-7.0)));
        assert_eq!(out[[0, 0]], want);
        assert!((out[[0, 0]] - (std::f32::consts::FRAC_PI_2 + std::f32::consts::TAU)).abs() < 1e-5);
        assert!(out[[2, 0]].is_nan());
    }
}
