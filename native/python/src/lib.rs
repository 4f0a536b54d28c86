//! `pystamps_batch._native`: the PyO3 binding of pystamps-core.
//!
//! This layer only converts: NumPy arrays in (read-only views, any strides),
//! NumPy arrays out, the GIL released while the core runs. Python-facing
//! argument checks raise `ValueError`.

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pystamps_core::topofit::{self, Baselines};
use pystamps_core::{Complex32, Complex64};

/// MATLAB `hist(values, centres)` counts (float64).
#[pyfunction]
#[pyo3(signature = (values, centres, threads = 0))]
fn hist_centres<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    centres: PyReadonlyArray1<'py, f64>,
    threads: usize,
) -> Bound<'py, PyArray1<f64>> {
    let v = values.as_array().to_vec();
    let c = centres.as_array().to_vec();
    let out = py.allow_threads(|| pystamps_core::histogram::hist_centres(&v, &c, threads));
    out.into_pyarray(py)
}

type FitOut<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f32>>,
);

/// ps_topofit with per-pixel baselines (n x M float32) in single precision.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn topofit_f32<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex32>,
    bperp: PyReadonlyArray2<'py, f32>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<FitOut<'py>> {
    if ph.shape() != bperp.shape() {
        return Err(PyValueError::new_err(format!(
            "ph {:?} and bperp {:?} must have the same shape",
            ph.shape(),
            bperp.shape()
        )));
    }
    let z = ph.as_array();
    let b = bperp.as_array();
    let (k, c, g, r) = py.allow_threads(|| topofit::topofit_f32(z, Baselines::PerPixel(b), n_trial_wraps, threads));
    Ok((k.into_pyarray(py), c.into_pyarray(py), g.into_pyarray(py), r.into_pyarray(py)))
}

/// ps_topofit with one baseline row (M,) shared by all pixels, single precision.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn topofit_row_f32<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex32>,
    bperp: PyReadonlyArray1<'py, f32>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<FitOut<'py>> {
    if ph.shape()[1] != bperp.len() {
        return Err(PyValueError::new_err(format!(
            "ph has {} columns but bperp has {} values",
            ph.shape()[1],
            bperp.len()
        )));
    }
    let z = ph.as_array();
    let b = bperp.as_array();
    let (k, c, g, r) = py.allow_threads(|| topofit::topofit_f32(z, Baselines::Shared(b), n_trial_wraps, threads));
    Ok((k.into_pyarray(py), c.into_pyarray(py), g.into_pyarray(py), r.into_pyarray(py)))
}

/// Coherence-only ps_topofit in double precision with one shared baseline row.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn topofit_coh_f64<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex64>,
    bperp: PyReadonlyArray1<'py, f64>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if ph.shape()[1] != bperp.len() {
        return Err(PyValueError::new_err("ph columns and bperp length differ"));
    }
    let z = ph.as_array();
    let b = bperp.as_array();
    let g = py.allow_threads(|| topofit::topofit_coh_f64(z, b, n_trial_wraps, threads));
    Ok(g.into_pyarray(py))
}

/// Weighted gridding: sum rows of `values` (n x M complex64) into `n_cells` cells.
#[pyfunction]
#[pyo3(signature = (values, cell, n_cells, threads = 0))]
fn grid_accumulate<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, Complex32>,
    cell: PyReadonlyArray1<'py, i64>,
    n_cells: usize,
    threads: usize,
) -> PyResult<Bound<'py, PyArray2<Complex32>>> {
    let v = values.as_array();
    let c = cell.as_array();
    let out = py
        .allow_threads(|| pystamps_core::gridding::grid_accumulate(v, c, n_cells, threads))
        .map_err(PyValueError::new_err)?;
    Ok(out.into_pyarray(py))
}

macro_rules! clap_fns {
    ($stack:ident, $patch:ident, $t:ty) => {
        /// Step-2 CLAP of a grid stack (n_i x n_j x M).
        #[pyfunction]
        #[pyo3(signature = (grid, alpha, beta, n_win, n_pad, low_pass, threads = 0))]
        #[allow(clippy::too_many_arguments)]
        fn $stack<'py>(
            py: Python<'py>,
            grid: PyReadonlyArray3<'py, num_complex::Complex<$t>>,
            alpha: $t,
            beta: $t,
            n_win: usize,
            n_pad: usize,
            low_pass: PyReadonlyArray2<'py, $t>,
            threads: usize,
        ) -> PyResult<Bound<'py, PyArray3<num_complex::Complex<$t>>>> {
            let g = grid.as_array();
            let lp = low_pass.as_array();
            let out = py
                .allow_threads(|| pystamps_core::clap::clap_filt_stack(g, alpha, beta, n_win, n_pad, lp, threads))
                .map_err(PyValueError::new_err)?;
            Ok(out.into_pyarray(py))
        }

        /// Step-3 CLAP of square blocks (n_blocks x P x P).
        #[pyfunction]
        #[pyo3(signature = (blocks, alpha, beta, low_pass, threads = 0))]
        fn $patch<'py>(
            py: Python<'py>,
            blocks: PyReadonlyArray3<'py, num_complex::Complex<$t>>,
            alpha: $t,
            beta: $t,
            low_pass: PyReadonlyArray2<'py, $t>,
            threads: usize,
        ) -> PyResult<Bound<'py, PyArray3<num_complex::Complex<$t>>>> {
            let b = blocks.as_array();
            let lp = low_pass.as_array();
            let out = py
                .allow_threads(|| pystamps_core::clap::clap_filt_patch(b, alpha, beta, lp, threads))
                .map_err(PyValueError::new_err)?;
            Ok(out.into_pyarray(py))
        }
    };
}

clap_fns!(clap_filt_stack_f64, clap_filt_patch_f64, f64);
clap_fns!(clap_filt_stack_f32, clap_filt_patch_f32, f32);

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(hist_centres, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_f32, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_row_f32, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_coh_f64, m)?)?;
    m.add_function(wrap_pyfunction!(grid_accumulate, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_stack_f64, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_stack_f32, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_patch_f64, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_patch_f32, m)?)?;
    Ok(())
}
