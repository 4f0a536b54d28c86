//! PyO3 binding of `pystamps_core::stages::select` (parity tests against the Python stage).

use pyo3::prelude::*;

/// Adds this module's functions to `_native`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
