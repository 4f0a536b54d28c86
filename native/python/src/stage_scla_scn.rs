//! PyO3 binding of `pystamps_core::stages::scla` (stage 7) and `stages::scn` (stage 8),
//! for parity tests against the Python stages.
//!
//! Converts only: `{artifact: {variable: ndarray}}` inputs into the core's artifacts,
//! the outputs back into `{artifact: {variable: ndarray}}`.

use crate::convert::{artifacts, outputs_dict, param_map, run_logged};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::scla::{self, SclaInputs};
use pystamps_core::stages::scn::{self, ScnInputs};

const READS: &[(&str, &[&str])] =
    &[("ps2", &[]), ("bp2", &["bperp_mat"]), ("phuw2", &["ph_uw"]), ("ifgstd2", &[]), ("scla2", &[])];

fn required<T>(v: Option<T>, name: &str) -> PyResult<T> {
    v.ok_or_else(|| PyValueError::new_err(format!("{name}: required input missing")))
}

/// Stage 7 (`ps_calc_scla` + `ps_smooth_scla`) in Rust: `({scla2, scla_smooth2}, log lines)`.
#[pyfunction]
#[pyo3(signature = (inputs, params, threads = 0))]
fn stage7_scla<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyDict>,
    params: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let mut a = artifacts(inputs, READS)?;
    let inp = SclaInputs {
        ps2: required(a.remove("ps2"), "ps2")?,
        bp2: required(a.remove("bp2"), "bp2")?,
        phuw2: required(a.remove("phuw2"), "phuw2")?,
        ifgstd2: a.remove("ifgstd2"),
    };
    let pm = param_map(params)?;
    let (out, lines) = run_logged(py, |log| scla::run(&inp, &pm, threads, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((outputs_dict(py, out)?, lines))
}

/// Stage 8 (`ps_scn_filt` + velocity products) in Rust: `({scn2, mean_v, ps_plot_v-*}, log lines)`.
#[pyfunction]
#[pyo3(signature = (inputs, params, threads = 0))]
fn stage8_scn<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyDict>,
    params: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let mut a = artifacts(inputs, READS)?;
    let inp = ScnInputs {
        ps2: required(a.remove("ps2"), "ps2")?,
        phuw2: required(a.remove("phuw2"), "phuw2")?,
        scla2: a.remove("scla2"),
        ifgstd2: a.remove("ifgstd2"),
    };
    let pm = param_map(params)?;
    let (out, lines) = run_logged(py, |log| scn::run(&inp, &pm, threads, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((outputs_dict(py, out)?, lines))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage7_scla, m)?)?;
    m.add_function(wrap_pyfunction!(stage8_scn, m)?)?;
    Ok(())
}
