//! Reading the input variables of [`super::gamma`] out of artifacts ([`Artifact`]), with
//! NumPy's casts (`astype`) and C-order (row-major) layout, and writing MATLAB-shaped outputs.

use crate::stages::arrays::{Artifact, MatArray, MatData};
use num_complex::Complex32;

/// The variable `var` of artifact `name` (error: "<name>.mat has no variable '<var>'").
pub fn var<'a>(a: &'a Artifact, var: &str, name: &str) -> Result<&'a MatArray, String> {
    a.iter()
        .find(|(k, _)| k == var)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("{name}.mat has no variable '{var}'"))
}

/// Whether artifact `a` holds `var`.
pub fn has(a: &Artifact, var: &str) -> bool {
    a.iter().any(|(k, _)| k == var)
}

/// Column-major index -> row-major order of a `rows x cols` array.
fn to_c_order<T: Copy>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    if rows <= 1 || cols <= 1 {
        return v.to_vec();
    }
    let mut out = Vec::with_capacity(v.len());
    for r in 0..rows {
        for c in 0..cols {
            out.push(v[c * rows + r]);
        }
    }
    out
}

/// Row-major `n x m` data back to column-major.
pub fn to_f_order<T: Copy>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    if rows <= 1 || cols <= 1 {
        return v.to_vec();
    }
    let mut out = Vec::with_capacity(v.len());
    for c in 0..cols {
        for r in 0..rows {
            out.push(v[r * cols + c]);
        }
    }
    out
}

/// Real values as f64 (`astype(float64)`), C order.
pub fn f64_c(a: &MatArray, what: &str) -> Result<Vec<f64>, String> {
    let v: Vec<f64> = match &a.data {
        MatData::F64(v) => v.clone(),
        MatData::F32(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::I32(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::U8(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::Bool(v) => v.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect(),
        _ => return Err(format!("{what} must be real numeric")),
    };
    Ok(to_c_order(&v, a.rows, a.cols))
}

/// Real values as f32 (`astype(float32)`: f64 rounded once), C order.
pub fn f32_c(a: &MatArray, what: &str) -> Result<Vec<f32>, String> {
    Ok(match &a.data {
        MatData::F32(v) => to_c_order(v, a.rows, a.cols),
        _ => f64_c(a, what)?.into_iter().map(|x| x as f32).collect(),
    })
}

/// Whether the array is stored in single precision (float32).
pub fn is_single(a: &MatArray) -> bool {
    matches!(a.data, MatData::F32(_))
}

/// Complex (or real) values as complex64 (`astype(complex64)`), C order.
pub fn c64_c(a: &MatArray, what: &str) -> Result<Vec<Complex32>, String> {
    let v: Vec<Complex32> = match &a.data {
        MatData::C64(v) => v.clone(),
        MatData::C128(v) => v.iter().map(|z| Complex32::new(z.re as f32, z.im as f32)).collect(),
        _ => {
            return Ok(f64_c(a, what)?.into_iter().map(|x| Complex32::new(x as f32, 0.0)).collect());
        }
    };
    Ok(to_c_order(&v, a.rows, a.cols))
}

/// An n x 1 double column.
pub fn col_f64(v: &[f64]) -> MatArray {
    MatArray::column(MatData::F64(v.to_vec()))
}

/// A 1 x n double row.
pub fn row_f64(v: &[f64]) -> MatArray {
    MatArray::new(1, v.len(), MatData::F64(v.to_vec()))
}
