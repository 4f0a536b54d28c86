//! PyO3 binding of `pystamps_core::stages::unwrap::run` (the whole stage 6, the function
//! the native runner calls), for parity tests against the Python stage. Converts only.

use crate::convert::{artifacts, outputs_dict, param_map, run_logged};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pystamps_core::stages::unwrap::{self, SnaphuRun, UnwrapInputs};
use std::path::PathBuf;

const READS: &[(&str, &[&str])] =
    &[("ps2", &[]), ("rc2", &["ph_rc"]), ("pm2", &[]), ("bp2", &["bperp_mat"]), ("la2", &[]), ("scla_smooth2", &[])];

/// Stage 6 in Rust: `({uw_grid, uw_interp, uw_space_time, uw_phaseuw, phuw2}, log lines)`.
/// `exe`: the snaphu executable; `scratch_dir`: parent of the per-ifg scratch folders.
#[pyfunction]
#[pyo3(signature = (inputs, params, exe, scratch_dir = None, threads = 0))]
fn stage6_unwrap<'py>(
    py: Python<'py>,
    inputs: &Bound<'py, PyDict>,
    params: &Bound<'py, PyAny>,
    exe: PathBuf,
    scratch_dir: Option<PathBuf>,
    threads: usize,
) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let mut a = artifacts(inputs, READS)?;
    let mut take = |k: &str| a.remove(k).ok_or_else(|| PyValueError::new_err(format!("{k}: required input missing")));
    let inp = UnwrapInputs {
        ps2: take("ps2")?,
        rc2: take("rc2")?,
        pm2: take("pm2")?,
        bp2: take("bp2")?,
        la2: a.remove("la2"),
        scla_smooth2: a.remove("scla_smooth2"),
    };
    let pm = param_map(params)?;
    let how = SnaphuRun { exe: &exe, scratch_dir: scratch_dir.as_deref(), workers: threads };
    let (out, lines) = run_logged(py, |log| unwrap::run(&inp, &pm, &how, threads, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((outputs_dict(py, out)?, lines))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage6_unwrap, m)?)?;
    Ok(())
}
