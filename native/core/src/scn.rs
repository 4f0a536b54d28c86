//! `stage8_edge_noise`: arc phase differences and their temporal Gaussian high-pass
//! (`ps_scn_filt`, spec C.8 steps 4-5).
//!
//! `d = ph[b] - ph[a]` (f32); for every output image k the weights
//! `w_j = exp(-(t_k - t_j)^2 / (2 time_win^2))`, `w[master_pos] = 0`, normalised to sum 1
//! in f64 and rounded to f32; `lp_k = sum_j w_j d_j` accumulated in f32 in j order
//! (zero weights skipped); `hp = d - lp`.  Bit-identical to the python backend, which
//! evaluates the same f32 operations in the same order.

use crate::num::pairwise_sum_f64;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;

/// (N_U x N_U) f32 weights, row k for output image k (the python `temporal_weights`).
pub fn temporal_weights(day: &[f64], time_win: f64, master_pos: Option<usize>) -> Vec<f32> {
    let nu = day.len();
    let tw2 = time_win * time_win;
    let mut out = vec![0f32; nu * nu];
    let mut row = vec![0f64; nu];
    for k in 0..nu {
        for j in 0..nu {
            let d = day[k] - day[j];
            row[j] = (-(d * d) / 2.0 / tw2).exp();
        }
        if let Some(m) = master_pos {
            row[m] = 0.0;
        }
        let s = pairwise_sum_f64(&row);
        for j in 0..nu {
            out[k * nu + j] = (row[j] / s) as f32;
        }
    }
    out
}

/// High-passed arc differences (E x N_U) f32.
pub fn edge_highpass(
    ph: ArrayView2<f32>,
    edges: ArrayView2<i64>,
    day: ArrayView1<f64>,
    time_win: f64,
    master_pos: Option<usize>,
    threads: usize,
) -> Result<Array2<f32>, String> {
    let (n, nu) = ph.dim();
    if edges.ncols() != 2 {
        return Err(format!("edges must have 2 columns, got {}", edges.ncols()));
    }
    if day.len() != nu {
        return Err(format!("day has {} values for {nu} columns of ph", day.len()));
    }
    if let Some(m) = master_pos {
        if m >= nu {
            return Err(format!("master_pos {m} outside 0..{nu}"));
        }
    }
    if let Some(bad) = edges.iter().find(|&&i| i < 0 || i as usize >= n) {
        return Err(format!("edge index {bad} outside 0..{n}"));
    }
    let n_e = edges.nrows();
    let day: Vec<f64> = day.to_vec();
    let w = temporal_weights(&day, time_win, master_pos);
    // per output image, the non-zero weights in j order
    let taps: Vec<Vec<(usize, f32)>> =
        (0..nu).map(|k| (0..nu).filter(|&j| w[k * nu + j] != 0.0).map(|j| (j, w[k * nu + j])).collect()).collect();
    let mut out = Array2::<f32>::zeros((n_e, nu));
    const LANES: usize = 16;
    crate::pool::install(threads, || {
        out.axis_chunks_iter_mut(Axis(0), 256).into_par_iter().enumerate().for_each(|(c, mut blk)| {
            let e0 = c * 256;
            let rows = blk.nrows();
            // d laid out image-major in groups of LANES arcs so that the tap loop vectorises
            let mut d = vec![0f32; nu * LANES];
            let mut acc = [0f32; LANES];
            for g in (0..rows).step_by(LANES) {
                let m = LANES.min(rows - g);
                for l in 0..m {
                    let (a, b) = (edges[[e0 + g + l, 0]] as usize, edges[[e0 + g + l, 1]] as usize);
                    for j in 0..nu {
                        d[j * LANES + l] = ph[[b, j]] - ph[[a, j]];
                    }
                }
                for k in 0..nu {
                    acc.iter_mut().for_each(|x| *x = 0.0);
                    for &(j, wj) in &taps[k] {
                        let dj = &d[j * LANES..(j + 1) * LANES];
                        for l in 0..LANES {
                            acc[l] += dj[l] * wj;
                        }
                    }
                    for l in 0..m {
                        blk[[g + l, k]] = d[k * LANES + l] - acc[l];
                    }
                }
            }
        })
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array2};

    #[test]
    fn constant_difference_is_removed() {
        let ph = Array2::from_shape_fn((2, 5), |(i, j)| if i == 0 { 0.1 * j as f32 } else { 0.1 * j as f32 + 0.5 });
        let edges = Array2::from_shape_vec((1, 2), vec![0i64, 1]).unwrap();
        let day = arr1(&[0.0, 12.0, 24.0, 36.0, 48.0]);
        let hp = edge_highpass(ph.view(), edges.view(), day.view(), 30.0, Some(0), 1).unwrap();
        assert!(hp.iter().all(|&v| v.abs() < 1e-6), "{hp:?}");
    }
}
