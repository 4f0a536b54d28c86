//! PyO3 binding of stage 1 (`pystamps_io::dataset::load_patch` =
//! `pystamps_core::stages::load::run` on the parsed dataset files), for parity tests
//! against the Python stage (`pystamps_batch.stages.load` / `load_gamma`).

use ndarray::{Array2, ShapeBuilder};
use numpy::IntoPyArray;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::arrays::{MatArray, MatData};

/// One MATLAB-shaped array as a NumPy array of shape (rows, cols) (a char row as `str`).
fn to_numpy<'py>(py: Python<'py>, a: MatArray) -> PyResult<PyObject> {
    let shape = (a.rows, a.cols).f();
    let err = |e: ndarray::ShapeError| PyValueError::new_err(e.to_string());
    Ok(match a.data {
        MatData::F64(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::F32(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::C64(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::C128(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::I32(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::U8(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::Bool(v) => Array2::from_shape_vec(shape, v).map_err(err)?.into_pyarray(py).into_any().unbind(),
        MatData::Char(s) => s.into_pyobject(py)?.into_any().unbind(),
        MatData::Sparse(sp) => crate::convert::sparse_to_scipy(py, a.rows, a.cols, sp)?.unbind(),
    })
}

/// Stage 1 of patch `patch` of the dataset at `dataset_root`, both flavours.
///
/// Returns `{artifact: {variable: ndarray}}` (`ps1 ph1 bp1 la1 da1 hgt1`), MATLAB shapes;
/// with `with_notes`, a pair (that dict, list of the loader's log lines).
/// Bad input raises `ValueError` with the one-line message naming the file.
#[pyfunction]
#[pyo3(signature = (dataset_root, patch, with_notes = false))]
fn stage1_load(py: Python<'_>, dataset_root: &str, patch: &str, with_notes: bool) -> PyResult<PyObject> {
    let root = std::path::PathBuf::from(dataset_root);
    let (out, notes) = py
        .allow_threads(|| pystamps_io::dataset::load_patch(&root, patch))
        .map_err(PyValueError::new_err)?;
    let d = PyDict::new(py);
    for (art, vars) in out {
        let dv = PyDict::new(py);
        for (name, arr) in vars {
            dv.set_item(name, to_numpy(py, arr)?)?;
        }
        d.set_item(art, dv)?;
    }
    if with_notes {
        Ok((d, notes).into_pyobject(py)?.into_any().unbind())
    } else {
        Ok(d.into_any().unbind())
    }
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage1_load, m)?)?;
    Ok(())
}
