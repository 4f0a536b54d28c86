//! Conversions between [`MatArray`] (column-major MATLAB arrays) and the typed arrays the
//! `select` / `weed` stages compute with, following NumPy's `astype` rules.

use crate::stages::arrays::{MatArray, MatData};
use ndarray::{Array2, ShapeBuilder};
use num_complex::Complex32;

/// An n x 1 double column.
pub fn col_f64(v: Vec<f64>) -> MatArray {
    MatArray::column(MatData::F64(v))
}

/// A 1 x n double row.
pub fn row_f64(v: Vec<f64>) -> MatArray {
    MatArray::new(1, v.len(), MatData::F64(v))
}

/// An n x 1 uint8 column of 0/1 (StaMPS' logical columns as the Python stages write them).
pub fn col_u8(v: &[bool]) -> MatArray {
    MatArray::column(MatData::U8(v.iter().map(|&b| b as u8).collect()))
}

/// A 0 x 0 double (MATLAB `[]`).
pub fn empty() -> MatArray {
    MatArray::new(0, 0, MatData::F64(Vec::new()))
}

/// Column-major values of a 2-D array.
fn col_major<T: Copy>(a: &Array2<T>) -> Vec<T> {
    a.t().iter().copied().collect()
}

pub fn mat_c64(a: &Array2<Complex32>) -> MatArray {
    MatArray::new(a.nrows(), a.ncols(), MatData::C64(col_major(a)))
}

pub fn mat_f32(a: &Array2<f32>) -> MatArray {
    MatArray::new(a.nrows(), a.ncols(), MatData::F32(col_major(a)))
}

/// `a.astype(float64)` of any numeric array, column-major (text is an error).
pub fn to_f64(a: &MatArray, what: &str) -> Result<Vec<f64>, String> {
    Ok(match &a.data {
        MatData::F64(v) => v.clone(),
        MatData::F32(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::C64(v) => v.iter().map(|x| x.re as f64).collect(),
        MatData::C128(v) => v.iter().map(|x| x.re).collect(),
        MatData::I32(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::U8(v) => v.iter().map(|&x| x as f64).collect(),
        MatData::Bool(v) => v.iter().map(|&x| x as u8 as f64).collect(),
        MatData::Char(_) => return Err(format!("{what} is text, expected numbers")),
        MatData::Sparse(_) => return Err(format!("{what} is sparse, expected a full array")),
    })
}

/// First element as a double (`float(np.asarray(a).reshape(-1)[0])`).
pub fn scalar(a: &MatArray, what: &str) -> Result<f64, String> {
    to_f64(a, what)?.first().copied().ok_or_else(|| format!("{what} is empty"))
}

/// `a.astype(bool)` (nonzero), column-major.
pub fn to_bool(a: &MatArray, what: &str) -> Result<Vec<bool>, String> {
    Ok(match &a.data {
        MatData::Bool(v) => v.clone(),
        MatData::U8(v) => v.iter().map(|&x| x != 0).collect(),
        MatData::C64(v) => v.iter().map(|x| x.re != 0.0 || x.im != 0.0).collect(),
        MatData::C128(v) => v.iter().map(|x| x.re != 0.0 || x.im != 0.0).collect(),
        _ => to_f64(a, what)?.into_iter().map(|x| x != 0.0).collect(),
    })
}

/// `a.astype(complex64)` as an (rows x cols) array.
pub fn to_c64(a: &MatArray, what: &str) -> Result<Array2<Complex32>, String> {
    let v: Vec<Complex32> = match &a.data {
        MatData::C64(v) => v.clone(),
        MatData::C128(v) => v.iter().map(|x| Complex32::new(x.re as f32, x.im as f32)).collect(),
        MatData::F32(v) => v.iter().map(|&x| Complex32::new(x, 0.0)).collect(),
        _ => to_f64(a, what)?.into_iter().map(|x| Complex32::new(x as f32, 0.0)).collect(),
    };
    Array2::from_shape_vec((a.rows, a.cols).f(), v).map_err(|e| format!("{what}: {e}"))
}

/// `a.astype(float32)` as an (rows x cols) array.
pub fn to_f32_2d(a: &MatArray, what: &str) -> Result<Array2<f32>, String> {
    let v: Vec<f32> = match &a.data {
        MatData::F32(v) => v.clone(),
        _ => to_f64(a, what)?.into_iter().map(|x| x as f32).collect(),
    };
    Array2::from_shape_vec((a.rows, a.cols).f(), v).map_err(|e| format!("{what}: {e}"))
}

fn take<T: Copy>(v: &[T], rows: usize, cols: usize, idx: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(idx.len() * cols);
    for c in 0..cols {
        let base = c * rows;
        out.extend(idx.iter().map(|&r| v[base + r]));
    }
    out
}

/// `a[idx]` (rows `idx`, 0-based, all columns), dtype kept.  Indices must be < rows.
pub fn take_rows(a: &MatArray, idx: &[usize], what: &str) -> Result<MatArray, String> {
    if let Some(&bad) = idx.iter().find(|&&r| r >= a.rows) {
        return Err(format!("{what}: row {bad} outside 0..{}", a.rows));
    }
    let (r, c) = (a.rows, a.cols);
    let data = match &a.data {
        MatData::F64(v) => MatData::F64(take(v, r, c, idx)),
        MatData::F32(v) => MatData::F32(take(v, r, c, idx)),
        MatData::C64(v) => MatData::C64(take(v, r, c, idx)),
        MatData::C128(v) => MatData::C128(take(v, r, c, idx)),
        MatData::I32(v) => MatData::I32(take(v, r, c, idx)),
        MatData::U8(v) => MatData::U8(take(v, r, c, idx)),
        MatData::Bool(v) => MatData::Bool(take(v, r, c, idx)),
        MatData::Char(_) => return Err(format!("{what} is text, cannot select rows")),
        MatData::Sparse(_) => return Err(format!("{what} is sparse, cannot select rows")),
    };
    Ok(MatArray::new(idx.len(), c, data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_taken_column_major() {
        // 3 x 2 [[1, 4], [2, 5], [3, 6]]
        let a = MatArray::new(3, 2, MatData::F64(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        let b = take_rows(&a, &[2, 0], "a").unwrap();
        assert_eq!((b.rows, b.cols), (2, 2));
        assert_eq!(b.data, MatData::F64(vec![3.0, 1.0, 6.0, 4.0]));
        assert!(take_rows(&a, &[3], "a").is_err());
        let m = mat_f32(&ndarray::array![[1f32, 2.0], [3.0, 4.0]]);
        assert_eq!(m.data, MatData::F32(vec![1.0, 3.0, 2.0, 4.0]));
    }
}
