//! PyO3 binding of part of `pystamps_core::stages::unwrap` (stage 6), for parity tests
//! against the Python stage. Converts only.

use pyo3::prelude::*;

pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
