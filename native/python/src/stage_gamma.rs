//! PyO3 binding of `pystamps_core::stages::gamma` (parity tests against the Python stage).
//!
//! `stage2_gamma(inputs, params, threads)` converts NumPy arrays (1-D or 2-D, any dtype the
//! stage reads) into column-major [`MatArray`]s, runs the core with the GIL released, and
//! returns the `pm1` variables as NumPy arrays with MATLAB shapes (`ph_grid` 3-D).

use numpy::{Complex32, Complex64, IntoPyArray, PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pystamps_core::stages::arrays::{Artifact, MatArray, MatData};
use pystamps_core::stages::gamma::{self, GammaInputs, GammaParams};

/// `arr` (0-, 1- or 2-D NumPy array) as a column-major MatArray (1-D -> n x 1).
fn to_mat(arr: &Bound<'_, PyAny>, what: &str) -> PyResult<MatArray> {
    let np = arr.py().import("numpy")?;
    let a = np.call_method1("asarray", (arr,))?;
    let ndim: usize = a.getattr("ndim")?.extract()?;
    let shape: Vec<usize> = a.getattr("shape")?.extract()?;
    let (rows, cols) = match ndim {
        0 => (1, 1),
        1 => (shape[0], 1),
        2 => (shape[0], shape[1]),
        _ => return Err(PyValueError::new_err(format!("{what}: expected at most 2 dimensions, got {ndim}"))),
    };
    // column-major flat copy: ravel(order='F')
    let flat = a.call_method1("ravel", ("F",))?;
    let kind: String = a.getattr("dtype")?.getattr("kind")?.extract()?;
    let size: usize = a.getattr("dtype")?.getattr("itemsize")?.extract()?;
    let cast = |dt: &str| -> PyResult<Bound<'_, PyAny>> { flat.call_method1("astype", (dt,)) };
    let data = match (kind.as_str(), size) {
        ("c", 8) => MatData::C64(cast("complex64")?.downcast::<PyArrayDyn<Complex32>>()?.to_vec()?),
        ("c", _) => MatData::C128(cast("complex128")?.downcast::<PyArrayDyn<Complex64>>()?.to_vec()?),
        ("f", 4) => MatData::F32(cast("float32")?.downcast::<PyArrayDyn<f32>>()?.to_vec()?),
        ("f", _) | ("i", _) | ("u", _) | ("b", _) => MatData::F64(cast("float64")?.downcast::<PyArrayDyn<f64>>()?.to_vec()?),
        _ => return Err(PyTypeError::new_err(format!("{what}: unsupported dtype kind {kind:?}"))),
    };
    Ok(MatArray::new(rows, cols, data))
}

/// A dict of arrays as an Artifact (in the dict's order).
fn to_artifact(d: &Bound<'_, PyAny>, name: &str) -> PyResult<Artifact> {
    let d = d.downcast::<PyDict>()?;
    let mut out = Artifact::new();
    for (k, v) in d.iter() {
        let k: String = k.extract()?;
        let what = format!("{name}.{k}");
        out.push((k, to_mat(&v, &what)?));
    }
    Ok(out)
}

/// A MatArray as a NumPy array of its MATLAB shape (`dims` overrides it, column-major).
fn to_numpy<'py>(py: Python<'py>, a: MatArray, dims: Option<Vec<usize>>) -> PyResult<Bound<'py, PyAny>> {
    let shape = dims.unwrap_or_else(|| vec![a.rows, a.cols]);
    let flat: Bound<'py, PyAny> = match a.data {
        MatData::F64(v) => v.into_pyarray(py).into_any(),
        MatData::F32(v) => v.into_pyarray(py).into_any(),
        MatData::C64(v) => v.into_pyarray(py).into_any(),
        MatData::C128(v) => v.into_pyarray(py).into_any(),
        MatData::I32(v) => v.into_pyarray(py).into_any(),
        MatData::U8(v) => v.into_pyarray(py).into_any(),
        MatData::Bool(v) => v.into_pyarray(py).into_any(),
        MatData::Char(s) => return Ok(PyString::new(py, &s).into_any()),
        MatData::Sparse(sp) => return crate::convert::sparse_to_scipy(py, a.rows, a.cols, sp),
    };
    let kw = PyDict::new(py);
    kw.set_item("order", "F")?;
    flat.call_method("reshape", (shape,), Some(&kw))
}

fn param<'py, T: FromPyObject<'py>>(p: &Bound<'py, PyAny>, key: &str, default: T) -> PyResult<T> {
    match p.get_item(key) {
        Ok(v) => v.extract().map_err(|e| PyValueError::new_err(format!("parameter {key}: {e}"))),
        Err(_) => Ok(default),
    }
}

/// Stage 2 (`ps_est_gamma_quick`) of one patch in Rust: `inputs` {artifact: {variable: array}}
/// (ps1, ph1, bp1 and optionally da1, la1, inc1), `params` a mapping of StaMPS parameters
/// (missing keys take the defaults), `threads` (0 = CPU budget), `log` an optional callable
/// given the stage's log lines (after the run). Returns the `pm1` variables dict; errors
/// raise ValueError with the stage's message.
#[pyfunction]
#[pyo3(signature = (inputs, params, threads = 0, log = None))]
fn stage2_gamma<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyDict>,
    params: &Bound<'py, PyAny>,
    threads: usize,
    log: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let get = |name: &str| -> PyResult<Option<Artifact>> {
        match inputs.get_item(name)? {
            Some(d) if !d.is_none() => Ok(Some(to_artifact(&d, name)?)),
            _ => Ok(None),
        }
    };
    let need = |name: &str| -> PyResult<Artifact> {
        get(name)?.ok_or_else(|| PyValueError::new_err(format!("stage 2 needs input {name}")))
    };
    let inp = GammaInputs {
        ps1: need("ps1")?,
        ph1: need("ph1")?,
        bp1: need("bp1")?,
        da1: get("da1")?,
        la1: get("la1")?,
        inc1: get("inc1")?,
    };
    let d = GammaParams::default();
    let p = GammaParams {
        filter_grid_size: param(params, "filter_grid_size", d.filter_grid_size)?,
        filter_weighting: param(params, "filter_weighting", d.filter_weighting.clone())?,
        clap_win: param::<f64>(params, "clap_win", d.clap_win as f64)? as i64,
        clap_alpha: param(params, "clap_alpha", d.clap_alpha)?,
        clap_beta: param(params, "clap_beta", d.clap_beta)?,
        clap_low_pass_wavelength: param(params, "clap_low_pass_wavelength", d.clap_low_pass_wavelength)?,
        gamma_change_convergence: param(params, "gamma_change_convergence", d.gamma_change_convergence)?,
        gamma_max_iterations: param::<f64>(params, "gamma_max_iterations", d.gamma_max_iterations as f64)? as i64,
        max_topo_err: param(params, "max_topo_err", d.max_topo_err)?,
        lambda: param(params, "lambda", d.lambda)?,
    };
    let (res, lines) = py.allow_threads(|| {
        let mut lines = Vec::new();
        let r = gamma::run(&inp, &p, threads, &mut |s: &str| lines.push(s.to_string()));
        (r, lines)
    });
    if let Some(f) = log.as_ref().filter(|f| !f.is_none()) {
        for l in &lines {
            f.call1((l.as_str(),))?;
        }
    }
    let pm1 = res.map_err(PyValueError::new_err)?;
    let dims = gamma::ph_grid_dims(&pm1);
    let out = PyDict::new(py);
    for (k, v) in pm1 {
        let shape = if k == "ph_grid" { dims.map(|(a, b, c)| vec![a, b, c]) } else { None };
        out.set_item(&k, to_numpy(py, v, shape)?)?;
    }
    Ok(out)
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage2_gamma, m)?)?;
    Ok(())
}
