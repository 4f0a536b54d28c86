//! Named MATLAB-shaped arrays: what a stage function returns and a .mat file holds.
//!
//! Every array is 2-D (MATLAB shapes: an n-vector is n x 1, a scalar 1 x 1) and stored in
//! column-major (MATLAB/Fortran) order, so it can be written to a MAT v5 file as is.
//! The element type follows StaMPS' variables (spec C.0): double, single, complex single
//! or double, integers, logical, or a char row.

use num_complex::{Complex32, Complex64};

/// Element storage of a [`MatArray`], column-major.
#[derive(Debug, Clone, PartialEq)]
pub enum MatData {
    F64(Vec<f64>),
    F32(Vec<f32>),
    C64(Vec<Complex32>),
    C128(Vec<Complex64>),
    I32(Vec<i32>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
    /// a char row vector (rows = 1, cols = number of characters)
    Char(String),
    /// a sparse double matrix (MATLAB's only sparse numeric class), compressed columns
    Sparse(SparseF64),
}

/// Compressed-sparse-column storage of a real sparse matrix, as MATLAB keeps it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseF64 {
    /// 0-based row index of each stored value, sorted within each column
    pub ir: Vec<usize>,
    /// column pointers: values of column c are `ir[jc[c]..jc[c + 1]]`, `jc.len() = cols + 1`
    pub jc: Vec<usize>,
    /// the stored values
    pub pr: Vec<f64>,
}

impl MatData {
    /// Number of elements (characters for `Char`).
    pub fn len(&self) -> usize {
        match self {
            MatData::F64(v) => v.len(),
            MatData::F32(v) => v.len(),
            MatData::C64(v) => v.len(),
            MatData::C128(v) => v.len(),
            MatData::I32(v) => v.len(),
            MatData::U8(v) => v.len(),
            MatData::Bool(v) => v.len(),
            MatData::Char(s) => s.chars().count(),
            MatData::Sparse(sp) => sp.pr.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One 2-D array with its MATLAB shape.
#[derive(Debug, Clone, PartialEq)]
pub struct MatArray {
    pub rows: usize,
    pub cols: usize,
    pub data: MatData,
}

impl MatArray {
    /// A `rows x cols` array from column-major data (panics if the length is wrong: a programming error).
    pub fn new(rows: usize, cols: usize, data: MatData) -> Self {
        if let MatData::Sparse(sp) = &data {
            assert_eq!(sp.jc.len(), cols + 1, "MatArray: sparse {rows} x {cols} needs {} column pointers", cols + 1);
            return MatArray { rows, cols, data };
        }
        let n = data.len();
        assert_eq!(n, rows * cols, "MatArray: {rows} x {cols} needs {} elements, got {n}", rows * cols);
        MatArray { rows, cols, data }
    }

    /// A 1 x 1 double.
    pub fn scalar(v: f64) -> Self {
        MatArray::new(1, 1, MatData::F64(vec![v]))
    }

    /// An n x 1 column.
    pub fn column(data: MatData) -> Self {
        MatArray::new(data.len(), 1, data)
    }

    /// An all-zero `rows x cols` sparse double (e.g. `uw_space_time.spread`).
    pub fn sparse_zeros(rows: usize, cols: usize) -> Self {
        MatArray { rows, cols, data: MatData::Sparse(SparseF64 { ir: vec![], jc: vec![0; cols + 1], pr: vec![] }) }
    }

    /// A char row vector.
    pub fn text(s: &str) -> Self {
        MatArray::new(1, s.chars().count(), MatData::Char(s.to_string()))
    }
}

/// The variables of one artifact (one .mat file), in the order they are written.
pub type Artifact = Vec<(String, MatArray)>;

/// A stage's outputs: artifact name (no `.mat`) -> its variables, in write order.
pub type StageOutputs = Vec<(String, Artifact)>;
