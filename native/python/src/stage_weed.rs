//! PyO3 binding of `pystamps_core::stages::weed` (parity tests against the Python stage).
//!
//! Converts only: the `{artifact: {variable: ndarray}}` inputs into [`WeedInputs`]
//! (dtype-preserving [`MatArray`]s), and the outputs back into
//! `{artifact: {variable: ndarray}}`.

use crate::convert::{artifacts, outputs_dict, param_map, run_logged};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::weed::{self, WeedInputs};

/// The variables `ps_weed` reads (all of ps1, which ps2 copies).
const WEED_READS: &[(&str, &[&str])] = &[
    ("ps1", &[]),
    ("select1", &["ix", "keep_ix", "K_ps2", "C_ps2", "coh_ps2", "ph_res2"]),
    ("ph1", &["ph"]),
    ("pm1", &["ph_patch"]),
    ("bp1", &["bperp_mat"]),
    ("hgt1", &["hgt"]),
    ("la1", &["la"]),
    ("inc1", &["inc"]),
];

/// Stage 4 (`ps_weed`) in Rust: `({artifact: {variable: ndarray}}, log lines)`.
#[pyfunction]
#[pyo3(signature = (inputs, params, threads = 0))]
fn stage4_weed<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyDict>,
    params: &Bound<'py, PyAny>,
    threads: usize,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let inp = WeedInputs::from_artifacts(&artifacts(inputs, WEED_READS)?).map_err(PyValueError::new_err)?;
    let pm = param_map(params)?;
    let (out, lines) = run_logged(py, |log| weed::run(&inp, &pm, threads, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((outputs_dict(py, out)?, lines))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage4_weed, m)?)?;
    Ok(())
}
