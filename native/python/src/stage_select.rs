//! PyO3 binding of `pystamps_core::stages::select` (parity tests against the Python stage).
//!
//! Converts only: the `{artifact: {variable: ndarray}}` inputs into the core's
//! [`Artifacts`] (dtype-preserving [`MatArray`]s, as a .mat reader gives them; the core's
//! `SelectInputs::from_artifacts` applies the Python stage's casts), the parameter mapping
//! into a [`ParamMap`], and the `select1` [`MatArray`]s back into arrays.  The conversion
//! helpers live in `convert` (shared by every stage binding).

use crate::convert::{artifact_dict, artifacts, param_map, run_logged};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::select::{self, SelectInputs};

/// The variables `ps_select` reads.
const SELECT_READS: &[(&str, &[&str])] = &[
    ("ps1", &["n_ps", "n_ifg", "master_ix", "xy", "bperp"]),
    ("ph1", &["ph"]),
    ("pm1", &["coh_ps", "K_ps", "C_ps", "Nr", "ph_grid", "grid_ij", "low_pass", "n_trial_wraps", "ph_patch", "ph_res"]),
    ("bp1", &["bperp_mat"]),
    ("da1", &["D_A"]),
];

/// Stage 3 (`ps_select`) in Rust: `(select1 dict, log lines)`.
#[pyfunction]
#[pyo3(signature = (inputs, params, threads = 0))]
fn stage3_select<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyDict>,
    params: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let inp = SelectInputs::from_artifacts(&artifacts(inputs, SELECT_READS)?).map_err(PyValueError::new_err)?;
    let pm = param_map(params)?;
    let (out, lines) = run_logged(py, |log| select::run(&inp, &pm, threads, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((artifact_dict(py, out)?, lines))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage3_select, m)?)?;
    Ok(())
}
