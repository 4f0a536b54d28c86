//! `pystamps_batch._native`: the PyO3 binding of pystamps-core.
//!
//! This layer only converts: NumPy arrays in (read-only views, any strides),
//! NumPy arrays out, the GIL released while the core runs. Python-facing
//! argument checks raise `ValueError`.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
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

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(hist_centres, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_f32, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_row_f32, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_coh_f64, m)?)?;
    Ok(())
}
