//! PyO3 binding of `pystamps_core::stages::correct` (step 5a) and
//! `pystamps_core::stages::merge` (step 5b with ifgstd2), for parity tests against the
//! Python stages. Converts only.

use crate::convert::{artifacts, outputs_dict, run_logged};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pystamps_core::stages::correct::{self, CorrectInputs};
use pystamps_core::stages::merge::{self, PatchArrays, PATCH_OPTIONAL, PATCH_READS};
use pystamps_core::stages::select::Artifacts;

fn whole<'a>(arts: &'a Artifacts, a: &str) -> PyResult<&'a pystamps_core::stages::arrays::Artifact> {
    arts.get(a).ok_or_else(|| PyValueError::new_err(format!("input artifact {a} is missing")))
}

/// Step 5a (`ps_correct_phase`) in Rust: `({"rc2": {...}}, log lines)` from
/// `{ps2, pm2, bp2, ph2}` (each `{variable: ndarray}`).
#[pyfunction]
fn stage5a_correct<'py>(py: Python<'py>, inputs: &Bound<'py, PyDict>) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let arts = artifacts(inputs, &[("ps2", &["master_ix"]), ("ph2", &["ph"]), ("pm2", &["ph_patch", "K_ps", "C_ps"]), ("bp2", &["bperp_mat"])])?;
    let inp = CorrectInputs::from_artifacts(whole(&arts, "ps2")?, whole(&arts, "ph2")?, whole(&arts, "pm2")?, whole(&arts, "bp2")?)
        .map_err(PyValueError::new_err)?;
    let (out, lines) = run_logged(py, |log| correct::run(&inp, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((outputs_dict(py, out)?, lines))
}

/// Step 5b (`ps_merge_patches` + `ps_calc_ifg_std`) in Rust: `(outputs, log lines)`.
///
/// `patches`: a list of objects with `name`, `noover` (4 ints), `arrays`
/// (`{artifact: {variable: ndarray}}`) and `empty` (as `pystamps_batch.stages.merge.PatchArrays`);
/// `heading` in degrees (NaN: no rotation).
#[pyfunction]
fn stage5b_merge<'py>(py: Python<'py>, patches: &Bound<'py, PyList>, heading: f64) -> PyResult<(Bound<'py, PyDict>, Vec<String>)> {
    let spec: Vec<(&str, &[&str])> = PATCH_READS.iter().chain(PATCH_OPTIONAL).map(|a| (*a, &[] as &[&str])).collect();
    let mut ps = Vec::new();
    for p in patches.try_iter()? {
        let p = p?;
        let noover: Vec<i64> = p.getattr("noover")?.extract()?;
        if noover.len() != 4 {
            return Err(PyValueError::new_err("noover must have 4 values"));
        }
        let arrays = p.getattr("arrays")?;
        let arrays = arrays.downcast::<PyDict>()?;
        ps.push(PatchArrays {
            name: p.getattr("name")?.extract()?,
            noover: [noover[0], noover[1], noover[2], noover[3]],
            arrays: artifacts(arrays, &spec)?,
            empty: p.getattr("empty")?.extract()?,
        });
    }
    let (out, lines) = run_logged(py, |log| merge::run(ps, heading, log));
    let out = out.map_err(PyValueError::new_err)?;
    Ok((outputs_dict(py, out)?, lines))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(stage5a_correct, m)?)?;
    m.add_function(wrap_pyfunction!(stage5b_merge, m)?)?;
    Ok(())
}
