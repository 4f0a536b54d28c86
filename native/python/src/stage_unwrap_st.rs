//! PyO3 binding of `pystamps_core::stages::unwrap::space_time` (stage 6, `uw_space_time`),
//! for parity tests against `pystamps_batch/stages/unwrap/space_time.py`. Converts only.

use crate::convert::artifact_dict;
use ndarray::Array2;
use num_complex::Complex32;
use numpy::{Element, IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::unwrap::space_time;

/// `np.ascontiguousarray(obj, dtype=dtype)`.
fn contiguous<'py>(obj: &Bound<'py, PyAny>, dtype: &str) -> PyResult<Bound<'py, PyAny>> {
    let kw = PyDict::new(obj.py());
    kw.set_item("dtype", dtype)?;
    obj.py().import("numpy")?.call_method("ascontiguousarray", (obj,), Some(&kw))
}

/// Any array-like as an owned 2-D array of `dtype`.
fn arr2<T: Element + Copy>(obj: &Bound<'_, PyAny>, dtype: &str, what: &str) -> PyResult<Array2<T>> {
    let a = contiguous(obj, dtype)?;
    let v: PyReadonlyArray2<T> =
        a.extract().map_err(|_| PyValueError::new_err(format!("{what}: expected a 2-D array")))?;
    Ok(v.as_array().to_owned())
}

/// Any array-like, raveled, as a vector of `dtype`.
fn vec1<T: Element + Copy>(obj: &Bound<'_, PyAny>, dtype: &str) -> PyResult<Vec<T>> {
    let a = contiguous(obj, dtype)?.call_method0("ravel")?;
    let v: PyReadonlyArray1<T> = a.extract()?;
    Ok(v.as_array().to_vec())
}

/// An (n, 2) integer array as index pairs (negative values rejected).
fn pairs(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<[usize; 2]>> {
    let a: Array2<i64> = arr2(obj, "int64", what)?;
    if a.ncols() != 2 && a.nrows() > 0 {
        return Err(PyValueError::new_err(format!("{what}: expected shape (n, 2), got {:?}", a.dim())));
    }
    a.outer_iter()
        .map(|r| {
            if r[0] < 0 || r[1] < 0 {
                Err(PyValueError::new_err(format!("{what}: negative index")))
            } else {
                Ok([r[0] as usize, r[1] as usize])
            }
        })
        .collect()
}

/// `uw_space_time` in Rust: the `uw_space_time.mat` variables (`spread` a scipy sparse
/// matrix) plus `K` and `coh` ((n_edge,) float32).
#[pyfunction]
#[pyo3(signature = (node_ph, edges, day, ifgday_ix, bperp, n_trial_wraps, time_win, la_flag = true, threads = 0))]
#[allow(clippy::too_many_arguments)]
fn unwrap_space_time<'py>(
    py: Python<'py>,
    node_ph: &Bound<'py, PyAny>,
    edges: &Bound<'py, PyAny>,
    day: &Bound<'py, PyAny>,
    ifgday_ix: &Bound<'py, PyAny>,
    bperp: &Bound<'py, PyAny>,
    n_trial_wraps: f64,
    time_win: f64,
    la_flag: bool,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let ph: Array2<Complex32> = arr2(node_ph, "complex64", "node_ph")?;
    let edges = pairs(edges, "edges")?;
    let ifg = pairs(ifgday_ix, "ifgday_ix")?;
    let day: Vec<f64> = vec1(day, "float64")?;
    let bperp: Vec<f64> = vec1(bperp, "float64")?;
    let st = py
        .allow_threads(|| {
            space_time::uw_space_time(ph.view(), &edges, &day, &ifg, &bperp, n_trial_wraps, time_win, la_flag, threads)
        })
        .map_err(PyValueError::new_err)?;
    let d = artifact_dict(py, st.to_mat())?;
    d.set_item("K", st.k.into_pyarray(py))?;
    d.set_item("coh", st.coh.into_pyarray(py))?;
    Ok(d)
}

/// `arc_look_angle(chain, b, n_trial_wraps)` in Rust: `(K, coh)`, (n_edge,) float32 each.
#[pyfunction]
#[pyo3(signature = (chain, b, n_trial_wraps, threads = 0))]
fn unwrap_arc_look_angle<'py>(
    py: Python<'py>,
    chain: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>)> {
    let chain: Array2<Complex32> = arr2(chain, "complex64", "chain")?;
    let b: Vec<f64> = vec1(b, "float64")?;
    let (k, c) = py
        .allow_threads(|| {
            pystamps_core::pool::install(threads, || space_time::arc_look_angle(chain.view(), &b, n_trial_wraps))
        })
        .map_err(PyValueError::new_err)?;
    Ok((k.into_pyarray(py), c.into_pyarray(py)))
}

/// `_wls_intercept(td, y, w)` in Rust: (n_rhs,) float64 intercepts (y: (n, n_rhs)).
#[pyfunction]
fn unwrap_wls_intercept<'py>(
    py: Python<'py>,
    td: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let td: Vec<f64> = vec1(td, "float64")?;
    let w: Vec<f64> = vec1(w, "float64")?;
    let y: Array2<f64> = arr2(y, "float64", "y")?;
    let m0 = space_time::wls_intercepts(&td, y.view(), &w).map_err(PyValueError::new_err)?;
    Ok(m0.into_pyarray(py))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unwrap_space_time, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_arc_look_angle, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_wls_intercept, m)?)?;
    Ok(())
}
