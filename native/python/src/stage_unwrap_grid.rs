//! PyO3 binding of `pystamps_core::stages::unwrap::{grid, filt, from_grid}` (stage 6:
//! gridding, Goldstein filter, transfer back to the PS), for parity tests against the
//! Python stage. Converts only.

use crate::convert::artifact_dict;
use numpy::{IntoPyArray, PyArray2, PyArray3, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::unwrap::{filt, from_grid, grid};
use pystamps_core::Complex32;

/// `uw_grid_wrapped` in Rust: the `uw_grid.mat` variables (`UwGrid.to_mat()`) as a dict.
/// `ph`: (n, M_U) complex64; `xy`: (n, 2) float32. Errors raise ValueError with the stage text.
#[pyfunction]
#[pyo3(signature = (ph, xy, pix_size, prefilt_win, goldfilt, gold_alpha, threads = 0))]
#[allow(clippy::too_many_arguments)]
fn unwrap_grid_wrapped<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex32>,
    xy: PyReadonlyArray2<'py, f32>,
    pix_size: f64,
    prefilt_win: usize,
    goldfilt: bool,
    gold_alpha: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let (p, x) = (ph.as_array(), xy.as_array());
    let g = py
        .allow_threads(|| grid::uw_grid_wrapped(p, x, pix_size, prefilt_win, goldfilt, gold_alpha, threads))
        .map_err(PyValueError::new_err)?;
    artifact_dict(py, g.to_mat())
}

/// `wrap_filt` in Rust: Goldstein filter of (n_i, n_j, M) complex64 -> (n_i, n_j, M) complex64.
#[pyfunction]
#[pyo3(signature = (grid3d, n_win, alpha, threads = 0))]
fn unwrap_wrap_filt<'py>(
    py: Python<'py>,
    grid3d: PyReadonlyArray3<'py, Complex32>,
    n_win: usize,
    alpha: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyArray3<Complex32>>> {
    let g = grid3d.as_array();
    let (n_i, n_j, _) = g.dim();
    if n_win < 2 || !n_win.is_multiple_of(2) || n_i < n_win || n_j < n_win {
        return Err(PyValueError::new_err(format!(
            "wrap_filt: window {n_win} must be even and fit the grid {n_i} x {n_j}"
        )));
    }
    let out = py.allow_threads(|| filt::wrap_filt(g, n_win, alpha, None, threads));
    Ok(out.into_pyarray(py))
}

/// `uw_unwrap_from_grid` in Rust: (n, M_U) float32 PS phase from the node phase.
#[pyfunction]
fn unwrap_from_grid<'py>(
    py: Python<'py>,
    ph_in: PyReadonlyArray2<'py, Complex32>,
    grid_ij: PyReadonlyArray2<'py, f32>,
    nzix: PyReadonlyArray2<'py, bool>,
    node_uw: PyReadonlyArray2<'py, f32>,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let (w, gij, nz, uw) = (ph_in.as_array(), grid_ij.as_array(), nzix.as_array(), node_uw.as_array());
    if gij.nrows() != w.nrows() || gij.ncols() != 2 || uw.ncols() != w.ncols() {
        return Err(PyValueError::new_err(format!(
            "unwrap_from_grid: ph_in {:?}, grid_ij {:?}, node_uw {:?} do not fit",
            w.dim(),
            gij.dim(),
            uw.dim()
        )));
    }
    let n_nodes = nz.iter().filter(|&&b| b).count();
    if uw.nrows() != n_nodes {
        return Err(PyValueError::new_err(format!("unwrap_from_grid: node_uw has {} rows, nzix {n_nodes} nodes", uw.nrows())));
    }
    let out = py.allow_threads(|| from_grid::uw_unwrap_from_grid(w, gij, nz, uw));
    Ok(out.into_pyarray(py))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unwrap_grid_wrapped, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_wrap_filt, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_from_grid, m)?)?;
    Ok(())
}
