//! Conversions shared by the per-stage bindings: `{artifact: {variable: ndarray}}` dicts to
//! and from the core's [`Artifacts`] (dtype-preserving [`MatArray`]s, as a .mat reader gives
//! them), a `Params` mapping to a [`ParamMap`], and running a stage with the GIL released
//! while collecting its log lines. Converts only; no stage logic.

use ndarray::{Array2, ShapeBuilder};
use num_complex::{Complex32, Complex64};
use numpy::{Element, IntoPyArray, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pystamps_core::stages::arrays::{Artifact, MatArray, MatData, SparseF64, StageOutputs};
use pystamps_core::stages::params::{ParamMap, ParamValue};
use pystamps_core::stages::select::Artifacts;
use std::sync::Mutex;

/// `inputs[art][var]` as a NumPy array (`np.asarray`).
pub(crate) fn var<'py>(inputs: &Bound<'py, PyDict>, art: &str, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let a = inputs
        .get_item(art)?
        .filter(|a| !a.is_none())
        .ok_or_else(|| PyValueError::new_err(format!("input artifact {art} is missing")))?;
    let v = a.get_item(name).map_err(|_| PyValueError::new_err(format!("{art}.{name} is missing")))?;
    inputs.py().import("numpy")?.call_method1("asarray", (v,))
}

/// `inputs[art]` when present and not None.
pub(crate) fn optional<'py>(inputs: &Bound<'py, PyDict>, art: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(inputs.get_item(art)?.filter(|a| !a.is_none()))
}

/// A NumPy array (any dtype StaMPS files hold) as a column-major [`MatArray`]; 0-D and
/// 1-D numeric arrays become n x 1, text arrays a char row of their first element.
pub(crate) fn to_mat(a: &Bound<'_, PyAny>, what: &str) -> PyResult<MatArray> {
    let np = a.py().import("numpy")?;
    let a = np.call_method1("asarray", (a,))?;
    let kind: String = a.getattr("dtype")?.getattr("kind")?.extract()?;
    if kind == "U" || kind == "S" {
        let s: String = a.call_method0("ravel")?.get_item(0)?.call_method0("__str__")?.extract()?;
        return Ok(MatArray::text(&s));
    }
    let nd: usize = a.getattr("ndim")?.extract()?;
    let a = match nd {
        2 => a,
        0 | 1 => a.call_method1("reshape", ((-1i64, 1i64),))?,
        // n_i x n_j x M -> n_i x (n_j M): the same column-major data (pm1.ph_grid)
        3 => {
            let kw = PyDict::new(a.py());
            kw.set_item("order", "F")?;
            let rows = a.getattr("shape")?.get_item(0)?;
            a.call_method("reshape", ((rows, -1i64),), Some(&kw))?
        }
        _ => return Err(PyValueError::new_err(format!("{what} has {nd} dimensions, expected at most 3"))),
    };
    fn cm<T: Element + Copy>(a: &Bound<'_, PyAny>) -> PyResult<(usize, usize, Vec<T>)> {
        let v: PyReadonlyArray2<T> = a.extract()?;
        let s = v.shape();
        Ok((s[0], s[1], v.as_array().t().iter().copied().collect()))
    }
    let dt = a.getattr("dtype")?;
    let name: String = dt.getattr("name")?.extract()?;
    let (r, c, data) = match name.as_str() {
        "float64" => {
            let (r, c, v) = cm::<f64>(&a)?;
            (r, c, MatData::F64(v))
        }
        "float32" => {
            let (r, c, v) = cm::<f32>(&a)?;
            (r, c, MatData::F32(v))
        }
        "complex64" => {
            let (r, c, v) = cm::<Complex32>(&a)?;
            (r, c, MatData::C64(v))
        }
        "complex128" => {
            let (r, c, v) = cm::<Complex64>(&a)?;
            (r, c, MatData::C128(v))
        }
        "int32" => {
            let (r, c, v) = cm::<i32>(&a)?;
            (r, c, MatData::I32(v))
        }
        "uint8" => {
            let (r, c, v) = cm::<u8>(&a)?;
            (r, c, MatData::U8(v))
        }
        "bool" => {
            let (r, c, v) = cm::<bool>(&a)?;
            (r, c, MatData::Bool(v))
        }
        other => return Err(PyValueError::new_err(format!("{what}: dtype {other} is not supported"))),
    };
    Ok(MatArray::new(r, c, data))
}

/// A [`MatArray`] as a NumPy array of its MATLAB shape (a char row as `np.array([text])`).
pub(crate) fn from_mat<'py>(py: Python<'py>, m: MatArray) -> PyResult<Bound<'py, PyAny>> {
    fn f<'py, T: Element>(py: Python<'py>, r: usize, c: usize, v: Vec<T>) -> PyResult<Bound<'py, PyAny>> {
        let a = Array2::from_shape_vec((r, c).f(), v).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(a.into_pyarray(py).into_any())
    }
    let (r, c) = (m.rows, m.cols);
    match m.data {
        MatData::F64(v) => f(py, r, c, v),
        MatData::F32(v) => f(py, r, c, v),
        MatData::C64(v) => f(py, r, c, v),
        MatData::C128(v) => f(py, r, c, v),
        MatData::I32(v) => f(py, r, c, v),
        MatData::U8(v) => f(py, r, c, v),
        MatData::Bool(v) => f(py, r, c, v),
        MatData::Char(s) => py.import("numpy")?.call_method1("array", (PyList::new(py, [s])?,)),
        MatData::Sparse(sp) => sparse_to_scipy(py, r, c, sp),
    }
}

/// A sparse double as `scipy.sparse.csc_matrix((pr, ir, jc), shape=(rows, cols))`.
pub(crate) fn sparse_to_scipy<'py>(py: Python<'py>, r: usize, c: usize, sp: SparseF64) -> PyResult<Bound<'py, PyAny>> {
    let ir: Vec<i64> = sp.ir.iter().map(|&x| x as i64).collect();
    let jc: Vec<i64> = sp.jc.iter().map(|&x| x as i64).collect();
    let data = (sp.pr.into_pyarray(py), ir.into_pyarray(py), jc.into_pyarray(py));
    let kw = PyDict::new(py);
    kw.set_item("shape", (r, c))?;
    py.import("scipy.sparse")?.getattr("csc_matrix")?.call((data,), Some(&kw))
}

/// A stage's outputs as `{artifact: {name: ndarray}}` (insertion order = write order).
pub(crate) fn outputs_dict<'py>(py: Python<'py>, out: StageOutputs) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, art) in out {
        d.set_item(name, artifact_dict(py, art)?)?;
    }
    Ok(d)
}

/// One artifact as `{name: ndarray}` (insertion order = write order).
pub(crate) fn artifact_dict<'py>(py: Python<'py>, art: Artifact) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in art {
        d.set_item(k, from_mat(py, v)?)?;
    }
    Ok(d)
}

fn param_value(v: &Bound<'_, PyAny>) -> PyResult<Option<ParamValue>> {
    if v.is_none() {
        return Ok(None);
    }
    if v.is_instance_of::<PyBool>() {
        return Ok(Some(ParamValue::Bool(v.extract()?)));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(Some(ParamValue::Int(v.extract()?)));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(Some(ParamValue::Float(v.extract()?)));
    }
    if v.is_instance_of::<PyString>() {
        return Ok(Some(ParamValue::Text(v.extract()?)));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() || v.hasattr("tolist")? {
        let items = if v.hasattr("tolist")? { v.call_method0("tolist")? } else { v.clone() };
        if !(items.is_instance_of::<PyList>() || items.is_instance_of::<PyTuple>()) {
            return param_value(&items); // a NumPy scalar
        }
        let mut out = Vec::new();
        for x in items.try_iter()? {
            if let Some(p) = param_value(&x?)? {
                out.push(p);
            }
        }
        return Ok(Some(ParamValue::List(out)));
    }
    Ok(Some(ParamValue::Text(v.str()?.extract()?)))
}

/// A `Params` (or any mapping) as a [`ParamMap`]; None values are left out.
pub(crate) fn param_map(params: &Bound<'_, PyAny>) -> PyResult<ParamMap> {
    let mut m = ParamMap::new();
    for kv in params.call_method0("items")?.try_iter()? {
        let kv = kv?;
        let k: String = kv.get_item(0)?.extract()?;
        if let Some(v) = param_value(&kv.get_item(1)?)? {
            m.0.insert(k, v);
        }
    }
    Ok(m)
}

/// The named artifacts of `inputs` as [`Artifacts`]: for each `(artifact, variables)`,
/// the listed variables (all of them for an empty list); absent artifacts are left out
/// (the core reports the required ones).
pub(crate) fn artifacts(inputs: &Bound<'_, PyDict>, spec: &[(&str, &[&str])]) -> PyResult<Artifacts> {
    let mut out = Artifacts::new();
    for &(art, names) in spec {
        let Some(a) = optional(inputs, art)? else { continue };
        let mut vars: Artifact = Vec::new();
        if names.is_empty() {
            for kv in a.call_method0("items")?.try_iter()? {
                let kv = kv?;
                let k: String = kv.get_item(0)?.extract()?;
                let m = to_mat(&kv.get_item(1)?, &format!("{art}.{k}"))?;
                vars.push((k, m));
            }
        } else {
            for &n in names {
                if a.contains(n)? {
                    vars.push((n.to_string(), to_mat(&var(inputs, art, n)?, &format!("{art}.{n}"))?));
                }
            }
        }
        out.insert(art.to_string(), vars);
    }
    Ok(out)
}

/// Runs a stage with the GIL released and collects its log lines (the stage may log from
/// worker threads); returns the stage's result and the lines in order.
pub fn run_logged<T: Send>(py: Python<'_>, f: impl FnOnce(&(dyn Fn(&str) + Sync)) -> T + Send) -> (T, Vec<String>) {
    let lines = Mutex::new(Vec::<String>::new());
    let out = py.allow_threads(|| {
        let log = |s: &str| lines.lock().expect("log lock").push(s.to_string());
        f(&log)
    });
    (out, lines.into_inner().unwrap_or_default())
}
