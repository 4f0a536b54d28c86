//! MAT v5 files: read (MATLAB, Octave and scipy files, compressed or not) and write
//! (as `pystamps_batch.io.matfile.save_mat` does: uncompressed, little-endian).
//!
//! Format (MathWorks "MAT-File Format", level 5): a 128-byte header (116 bytes of text,
//! 8 bytes subsystem offset, version 0x0100, endian indicator "IM"), then data elements.
//! Each element is a tag (type, byte count) and its data padded to 8 bytes; a tag whose
//! byte count is at most 4 may be packed with its data into 8 bytes ("small element").
//! A variable is a `miMATRIX` element (array flags, dimensions, name, real part,
//! imaginary part), possibly wrapped in a zlib-compressed `miCOMPRESSED` element.
//!
//! What the writer produces, per [`MatData`] variant (so that `scipy.io.loadmat` gives the
//! same dtype as for the Python side's files): `F64` double, `F32` single, `C64` complex
//! single, `C128` complex double, `I32` int32, `U8` uint8, `Bool` uint8 (the Python side
//! stores booleans as uint8 too), `Char` a char row (UTF-16 code units).
//!
//! What the reader returns: double/single (real or complex), int32, uint8 as is; a
//! logical array as `Bool`; other integer classes (int8/16/64, uint16/32/64) as `F64`;
//! char arrays as `Char` (rows joined). Structs, cells, sparse and function handles are
//! listed in [`MatFile::unsupported`] and not decoded. Duplicate names (Octave appends)
//! resolve to the last copy, as MATLAB's `load` does.

use std::io::Read;
use std::path::Path;

use num_complex::{Complex32, Complex64};
use pystamps_core::stages::arrays::{Artifact, MatArray, MatData, SparseF64};

use crate::publish;

// data types (miXXX)
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

// array classes (mxXXX_CLASS)
const MX_CELL: u8 = 1;
const MX_STRUCT: u8 = 2;
const MX_OBJECT: u8 = 3;
const MX_CHAR: u8 = 4;
const MX_SPARSE: u8 = 5;
const MX_DOUBLE: u8 = 6;
const MX_SINGLE: u8 = 7;
const MX_INT8: u8 = 8;
const MX_UINT8: u8 = 9;
const MX_INT16: u8 = 10;
const MX_UINT16: u8 = 11;
const MX_INT32: u8 = 12;
const MX_UINT32: u8 = 13;
const MX_INT64: u8 = 14;
const MX_UINT64: u8 = 15;

const FLAG_COMPLEX: u32 = 0x0800;
const FLAG_LOGICAL: u32 = 0x0200;

/// Largest variable the v5 writer stores (bytes of data): MAT v5 byte counts are 32-bit.
/// The Python side switches to MAT v7.3 (HDF5) from 2 GiB on; not yet here.
pub const V5_LIMIT: usize = 1 << 31;

/// A .mat file problem; the message is one line naming the file.
#[derive(Debug, Clone, PartialEq)]
pub struct MatError(pub String);

impl std::fmt::Display for MatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MatError {}

/// The variables of a .mat file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatFile {
    /// decoded variables in file order (a duplicate name keeps the position of its first copy,
    /// the value of its last)
    pub vars: Vec<(String, MatArray)>,
    /// (name, class) of variables of a class this reader does not decode (struct, cell, sparse, ...)
    pub unsupported: Vec<(String, String)>,
    /// MATLAB dimensions of the N-d (more than 2-D) variables, kept in `vars` as
    /// rows x (product of the other dimensions); pass them to [`write_mat_dims`] to write back
    pub nd_dims: Vec<(String, Vec<usize>)>,
}

impl MatFile {
    /// The variable `name`, if present and decoded.
    pub fn get(&self, name: &str) -> Option<&MatArray> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The variable `name`, or an error naming the file.
    pub fn require(&self, name: &str, path: &Path) -> Result<&MatArray, MatError> {
        self.get(name).ok_or_else(|| MatError(format!("{}: missing variable(s) {name}", path.display())))
    }

    /// Move the variables out as an [`Artifact`].
    pub fn into_artifact(self) -> Artifact {
        self.vars
    }
}

// ---------------------------------------------------------------------------------------
// reading
// ---------------------------------------------------------------------------------------

/// Read every variable of the MAT v5 file at `path`.
pub fn read_mat(path: &Path) -> Result<MatFile, MatError> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            MatError(format!("{}: file not found", path.display()))
        } else {
            MatError(format!("{}: cannot read ({e})", path.display()))
        }
    })?;
    parse_mat(&bytes).map_err(|e| MatError(format!("{}: not a readable MATLAB file ({e})", path.display())))
}

/// Read the listed variables of `path`; an absent one is an error naming the file.
pub fn read_vars(path: &Path, names: &[&str]) -> Result<Vec<(String, MatArray)>, MatError> {
    let f = read_mat(path)?;
    let missing: Vec<&str> = names.iter().copied().filter(|n| f.get(n).is_none()).collect();
    if !missing.is_empty() {
        return Err(MatError(format!("{}: missing variable(s) {}", path.display(), missing.join(", "))));
    }
    Ok(names.iter().map(|n| (n.to_string(), f.get(n).cloned().expect("checked above"))).collect())
}

/// Parse a whole MAT v5 file held in memory.
pub fn parse_mat(bytes: &[u8]) -> Result<MatFile, String> {
    if bytes.len() < 128 {
        return Err("shorter than the 128-byte MAT v5 header".into());
    }
    if bytes[..10].starts_with(b"MATLAB 7.3") || bytes.get(512..520) == Some(b"\x89HDF\r\n\x1a\n") {
        return Err("MAT v7.3 (HDF5) files are not read by pystamps-native yet".into());
    }
    let big = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ => return Err("no MAT v5 endian indicator (a MAT v4 or text file?)".into()),
    };
    let rd = Rd { big };
    let mut out = MatFile::default();
    let mut pos = 128;
    while pos + 8 <= bytes.len() {
        let (ty, n, data_at, next) = rd.tag(bytes, pos)?;
        let body = bytes.get(data_at..data_at + n).ok_or("truncated data element")?;
        match ty {
            MI_MATRIX => rd.matrix(body, &mut out)?,
            MI_COMPRESSED => {
                let mut z = flate2::read::ZlibDecoder::new(body);
                let mut raw = Vec::new();
                // a truncated stream with a complete element inside is accepted (MATLAB writes some so)
                if let Err(e) = z.read_to_end(&mut raw) {
                    if raw.len() < 8 {
                        return Err(format!("corrupt compressed element ({e})"));
                    }
                }
                let (ty2, n2, at2, _) = rd.tag(&raw, 0)?;
                if ty2 == MI_MATRIX {
                    let b2 = raw.get(at2..at2 + n2).ok_or("truncated compressed element")?;
                    rd.matrix(b2, &mut out)?;
                }
            }
            _ => {} // other top-level elements carry no variables
        }
        pos = next;
    }
    Ok(out)
}

/// Byte-order aware reader of tags and numbers.
struct Rd {
    big: bool,
}

impl Rd {
    fn u32(&self, b: &[u8], at: usize) -> Result<u32, String> {
        let s: [u8; 4] = b.get(at..at + 4).ok_or("truncated tag")?.try_into().map_err(|_| "truncated tag")?;
        Ok(if self.big { u32::from_be_bytes(s) } else { u32::from_le_bytes(s) })
    }

    /// (type, byte count, offset of the data, offset of the next element)
    fn tag(&self, b: &[u8], at: usize) -> Result<(u32, usize, usize, usize), String> {
        let first = self.u32(b, at)?;
        if first >> 16 != 0 {
            // small data element: count in the upper 16 bits, data in the next 4 bytes
            let n = (first >> 16) as usize;
            if n > 4 {
                return Err("bad small data element".into());
            }
            return Ok((first & 0xffff, n, at + 4, at + 8));
        }
        let n = self.u32(b, at + 4)? as usize;
        let data = at + 8;
        let padded = if first == MI_COMPRESSED { n } else { (n + 7) / 8 * 8 };
        Ok((first, n, data, data + padded))
    }

    /// One sub-element of a matrix: (type, data bytes); advances `pos`.
    fn sub<'a>(&self, b: &'a [u8], pos: &mut usize) -> Result<(u32, &'a [u8]), String> {
        let (ty, n, at, next) = self.tag(b, *pos)?;
        let d = b.get(at..at + n).ok_or("truncated matrix element")?;
        *pos = next;
        Ok((ty, d))
    }

    /// Numbers of any miXXX type as f64.
    fn numbers(&self, ty: u32, d: &[u8]) -> Result<Vec<f64>, String> {
        macro_rules! conv {
            ($t:ty, $w:expr) => {
                d.chunks_exact($w)
                    .map(|c| {
                        let a: [u8; $w] = c.try_into().expect("chunk width");
                        (if self.big { <$t>::from_be_bytes(a) } else { <$t>::from_le_bytes(a) }) as f64
                    })
                    .collect()
            };
        }
        Ok(match ty {
            MI_INT8 => d.iter().map(|&x| x as i8 as f64).collect(),
            MI_UINT8 | MI_UTF8 => d.iter().map(|&x| x as f64).collect(),
            MI_INT16 => conv!(i16, 2),
            MI_UINT16 | MI_UTF16 => conv!(u16, 2),
            MI_INT32 => conv!(i32, 4),
            MI_UINT32 | MI_UTF32 => conv!(u32, 4),
            MI_SINGLE => conv!(f32, 4),
            MI_DOUBLE => conv!(f64, 8),
            MI_INT64 => conv!(i64, 8),
            MI_UINT64 => conv!(u64, 8),
            other => return Err(format!("unknown numeric data type {other}")),
        })
    }

    /// Numbers kept exactly for single precision (f32 data stays f32, no round trip through f64
    /// changes it, but the direct path avoids the allocation).
    fn singles(&self, ty: u32, d: &[u8]) -> Result<Vec<f32>, String> {
        if ty == MI_SINGLE {
            return Ok(d
                .chunks_exact(4)
                .map(|c| {
                    let a: [u8; 4] = c.try_into().expect("chunk width");
                    if self.big { f32::from_be_bytes(a) } else { f32::from_le_bytes(a) }
                })
                .collect());
        }
        Ok(self.numbers(ty, d)?.into_iter().map(|x| x as f32).collect())
    }

    fn matrix(&self, b: &[u8], out: &mut MatFile) -> Result<(), String> {
        if b.is_empty() {
            return Ok(()); // an empty miMATRIX: MATLAB's placeholder for an empty cell
        }
        let mut pos = 0;
        let (_, flags) = self.sub(b, &mut pos)?;
        let f0 = self.u32(flags, 0)?;
        let class = (f0 & 0xff) as u8;
        let complex = f0 & FLAG_COMPLEX != 0;
        let logical = f0 & FLAG_LOGICAL != 0;
        let (dty, dims_b) = self.sub(b, &mut pos)?;
        let dims: Vec<usize> = self.numbers(dty, dims_b)?.into_iter().map(|x| x as usize).collect();
        let (_, name_b) = self.sub(b, &mut pos)?;
        let name = String::from_utf8_lossy(name_b).trim_end_matches('\0').to_string();
        if class == MX_SPARSE && !complex && dims.len() == 2 {
            // real (or logical) sparse: ir (row indices), jc (column pointers), pr (values)
            let (ity, ir_b) = self.sub(b, &mut pos)?;
            let (jty, jc_b) = self.sub(b, &mut pos)?;
            let (pty, pr_b) = if pos < b.len() { self.sub(b, &mut pos)? } else { (MI_DOUBLE, &b[0..0]) };
            let jc: Vec<usize> = self.numbers(jty, jc_b)?.into_iter().map(|x| x as usize).collect();
            let (rows, cols) = (dims[0], dims[1]);
            if jc.len() != cols + 1 {
                return Err(format!("sparse variable {name}: {} column pointers for {cols} columns", jc.len()));
            }
            let nnz = jc[cols];
            let ir: Vec<usize> = self.numbers(ity, ir_b)?.into_iter().take(nnz).map(|x| x as usize).collect();
            let mut pr = self.numbers(pty, pr_b)?;
            pr.truncate(nnz);
            if ir.len() != nnz || pr.len() != nnz || ir.iter().any(|&r| r >= rows.max(1)) {
                return Err(format!("sparse variable {name}: inconsistent indices ({nnz} values)"));
            }
            out.nd_dims.retain(|(n, _)| n != &name);
            out.unsupported.retain(|(n, _)| n != &name);
            let arr = MatArray::new(rows, cols, MatData::Sparse(SparseF64 { ir, jc, pr }));
            return Self::push(out, name, arr);
        }
        let cname = match class {
            MX_CELL => Some("cell"),
            MX_STRUCT => Some("struct"),
            MX_OBJECT => Some("object"),
            MX_SPARSE => Some("sparse"),
            MX_DOUBLE | MX_SINGLE | MX_CHAR | MX_INT8 | MX_UINT8 | MX_INT16 | MX_UINT16 | MX_INT32 | MX_UINT32
            | MX_INT64 | MX_UINT64 => None,
            _ => Some("unknown"),
        };
        if let Some(c) = cname {
            out.unsupported.retain(|(n, _)| n != &name);
            out.vars.retain(|(n, _)| n != &name);
            out.nd_dims.retain(|(n, _)| n != &name);
            out.unsupported.push((name, c.to_string()));
            return Ok(());
        }
        out.nd_dims.retain(|(n, _)| n != &name);
        if dims.len() > 2 && class != MX_CHAR {
            out.nd_dims.push((name.clone(), dims.clone()));
        }
        let (rows, cols) = match dims.len() {
            0 => (0, 0),
            1 => (dims[0], 1),
            2 => (dims[0], dims[1]),
            _ => {
                // N-d: kept as rows x (product of the other dimensions), MATLAB's reshape(a, rows, [])
                (dims[0], dims[1..].iter().product())
            }
        };
        let count = rows * cols;
        let (rty, real) = if pos < b.len() { self.sub(b, &mut pos)? } else { (MI_DOUBLE, &b[0..0]) };
        let data = if class == MX_CHAR {
            let codes = self.numbers(rty, real)?;
            let text: Vec<char> = if rty == MI_UTF8 {
                String::from_utf8_lossy(real).chars().collect()
            } else {
                codes.iter().map(|&c| char::from_u32(c as u32).unwrap_or('\u{fffd}')).collect()
            };
            // column-major rows x cols -> rows joined (row-major), as scipy's chars_as_strings does
            let mut s = String::with_capacity(text.len());
            for r in 0..rows {
                for c in 0..cols {
                    if let Some(ch) = text.get(c * rows + r) {
                        s.push(*ch);
                    }
                }
            }
            let n = s.chars().count();
            let arr = MatArray::new(if n == 0 { 0 } else { 1 }, n, MatData::Char(s));
            return Self::push(out, name, arr);
        } else if complex {
            let (ity, imag) = self.sub(b, &mut pos)?;
            if class == MX_SINGLE {
                let re = self.singles(rty, real)?;
                let im = self.singles(ity, imag)?;
                MatData::C64(re.into_iter().zip(im).map(|(r, i)| Complex32::new(r, i)).collect())
            } else {
                let re = self.numbers(rty, real)?;
                let im = self.numbers(ity, imag)?;
                MatData::C128(re.into_iter().zip(im).map(|(r, i)| Complex64::new(r, i)).collect())
            }
        } else {
            match class {
                MX_SINGLE => MatData::F32(self.singles(rty, real)?),
                MX_INT32 if !logical => MatData::I32(self.numbers(rty, real)?.into_iter().map(|x| x as i32).collect()),
                MX_UINT8 if logical => MatData::Bool(self.numbers(rty, real)?.into_iter().map(|x| x != 0.0).collect()),
                MX_UINT8 => MatData::U8(self.numbers(rty, real)?.into_iter().map(|x| x as u8).collect()),
                _ if logical => MatData::Bool(self.numbers(rty, real)?.into_iter().map(|x| x != 0.0).collect()),
                _ => MatData::F64(self.numbers(rty, real)?),
            }
        };
        let n = data.len();
        if n != count {
            return Err(format!("variable {name}: {rows} x {cols} needs {count} values, found {n}"));
        }
        Self::push(out, name, MatArray::new(rows, cols, data))
    }

    fn push(out: &mut MatFile, name: String, arr: MatArray) -> Result<(), String> {
        out.unsupported.retain(|(n, _)| n != &name);
        if let Some(slot) = out.vars.iter_mut().find(|(n, _)| n == &name) {
            slot.1 = arr; // last copy wins (Octave's appended saves)
        } else {
            out.vars.push((name, arr));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------

fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_le_bytes());
}

fn pad8(buf: &mut Vec<u8>) {
    while buf.len() % 8 != 0 {
        buf.push(0);
    }
}

/// One data element (tag + data + padding); small-element format when it fits in 4 bytes.
fn element(buf: &mut Vec<u8>, ty: u32, data: &[u8]) {
    if data.len() <= 4 && ty != MI_MATRIX {
        put_u32(buf, ((data.len() as u32) << 16) | ty);
        buf.extend_from_slice(data);
        buf.resize(buf.len() + 4 - data.len(), 0);
    } else {
        put_u32(buf, ty);
        put_u32(buf, data.len() as u32);
        buf.extend_from_slice(data);
        pad8(buf);
    }
}

/// A real sparse matrix as a miMATRIX element: array flags (class mxSPARSE, nzmax in the
/// second word), dimensions, name, then ir (int32 row indices), jc (int32 column pointers)
/// and pr (double values).
fn encode_sparse(buf: &mut Vec<u8>, name: &str, rows: usize, cols: usize, sp: &SparseF64) -> Result<(), String> {
    let nnz = sp.pr.len();
    if sp.jc.len() != cols + 1 || sp.ir.len() != nnz || sp.jc[cols] != nnz {
        return Err(format!("sparse variable {name}: inconsistent storage"));
    }
    if nnz > i32::MAX as usize || rows > i32::MAX as usize || cols > i32::MAX as usize {
        return Err(format!("sparse variable {name} is too large for MAT v5"));
    }
    let mut m = Vec::new();
    let mut fl = Vec::new();
    put_u32(&mut fl, MX_SPARSE as u32);
    put_u32(&mut fl, nnz as u32);
    element(&mut m, MI_UINT32, &fl);
    let mut dimb = Vec::new();
    for d in [rows, cols] {
        dimb.extend_from_slice(&(d as i32).to_le_bytes());
    }
    element(&mut m, MI_INT32, &dimb);
    element(&mut m, MI_INT8, name.as_bytes());
    let ir: Vec<u8> = sp.ir.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect();
    let jc: Vec<u8> = sp.jc.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect();
    let pr: Vec<u8> = sp.pr.iter().flat_map(|x| x.to_le_bytes()).collect();
    element(&mut m, MI_INT32, &ir);
    element(&mut m, MI_INT32, &jc);
    element(&mut m, MI_DOUBLE, &pr);
    put_u32(buf, MI_MATRIX);
    put_u32(buf, m.len() as u32);
    buf.extend_from_slice(&m);
    Ok(())
}

/// Encode one variable as a miMATRIX element (appended to `buf`).
pub fn encode_var(buf: &mut Vec<u8>, name: &str, a: &MatArray) -> Result<(), String> {
    encode_var_dims(buf, name, a, None)
}

/// [`encode_var`] with explicit MATLAB dimensions (an N-d array kept as rows x (other dims)
/// in a [`MatArray`], e.g. stage 2's `ph_grid` n_i x n_j x M); their product must be
/// `rows * cols` and the first must be `rows`.
pub fn encode_var_dims(buf: &mut Vec<u8>, name: &str, a: &MatArray, dims: Option<&[usize]>) -> Result<(), String> {
    if name.is_empty() || name.len() > 63 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("'{name}' is not a MATLAB variable name"));
    }
    let mut m = Vec::new();
    let (class, flags, real, imag, rty): (u8, u32, Vec<u8>, Option<Vec<u8>>, u32) = match &a.data {
        MatData::F64(v) => (MX_DOUBLE, 0, v.iter().flat_map(|x| x.to_le_bytes()).collect(), None, MI_DOUBLE),
        MatData::F32(v) => (MX_SINGLE, 0, v.iter().flat_map(|x| x.to_le_bytes()).collect(), None, MI_SINGLE),
        MatData::C64(v) => (
            MX_SINGLE,
            FLAG_COMPLEX,
            v.iter().flat_map(|x| x.re.to_le_bytes()).collect(),
            Some(v.iter().flat_map(|x| x.im.to_le_bytes()).collect()),
            MI_SINGLE,
        ),
        MatData::C128(v) => (
            MX_DOUBLE,
            FLAG_COMPLEX,
            v.iter().flat_map(|x| x.re.to_le_bytes()).collect(),
            Some(v.iter().flat_map(|x| x.im.to_le_bytes()).collect()),
            MI_DOUBLE,
        ),
        MatData::I32(v) => (MX_INT32, 0, v.iter().flat_map(|x| x.to_le_bytes()).collect(), None, MI_INT32),
        MatData::U8(v) => (MX_UINT8, 0, v.clone(), None, MI_UINT8),
        // as the Python side's save_mat: booleans stored as (non-logical) uint8
        MatData::Bool(v) => (MX_UINT8, 0, v.iter().map(|&x| x as u8).collect(), None, MI_UINT8),
        MatData::Char(s) => {
            let units: Vec<u16> = s.encode_utf16().collect();
            (MX_CHAR, 0, units.iter().flat_map(|u| u.to_le_bytes()).collect(), None, MI_UTF16)
        }
        MatData::Sparse(sp) => return encode_sparse(buf, name, a.rows, a.cols, sp),
    };
    if real.len() >= V5_LIMIT {
        return Err(format!(
            "variable {name} has {} bytes: MAT v7.3 (HDF5) output of variables of 2 GiB or more is not yet written by pystamps-native",
            real.len()
        ));
    }
    let (rows, cols) = match &a.data {
        // a char row: 1 x n (an empty string is 0 x 0, as MATLAB's '')
        MatData::Char(s) => {
            let n = s.encode_utf16().count();
            if n == 0 { (0, 0) } else { (1, n) }
        }
        _ => (a.rows, a.cols),
    };
    let mut fl = Vec::new();
    put_u32(&mut fl, flags | class as u32);
    put_u32(&mut fl, 0);
    element(&mut m, MI_UINT32, &fl);
    let shape: Vec<usize> = match dims {
        Some(d) => {
            if d.len() < 2 || d[0] != rows || d.iter().product::<usize>() != rows * cols {
                return Err(format!("variable {name}: dimensions {d:?} do not fit {rows} x {cols}"));
            }
            d.to_vec()
        }
        None => vec![rows, cols],
    };
    let mut dimb = Vec::new();
    for d in &shape {
        dimb.extend_from_slice(&(*d as i32).to_le_bytes());
    }
    element(&mut m, MI_INT32, &dimb);
    element(&mut m, MI_INT8, name.as_bytes());
    element(&mut m, rty, &real);
    if let Some(im) = imag {
        element(&mut m, rty, &im);
    }
    put_u32(buf, MI_MATRIX);
    put_u32(buf, m.len() as u32);
    buf.extend_from_slice(&m);
    Ok(())
}

/// The 128-byte header.
fn header() -> Vec<u8> {
    let text = format!(
        "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created by pystamps-native {}",
        env!("CARGO_PKG_VERSION")
    );
    let mut h = text.into_bytes();
    h.truncate(116);
    h.resize(116, b' ');
    h.extend_from_slice(&[0u8; 8]);
    h.extend_from_slice(&0x0100u16.to_le_bytes());
    h.extend_from_slice(b"IM");
    h
}

/// The bytes of a MAT v5 file holding `vars` in order (uncompressed).
pub fn encode_mat(vars: &[(String, MatArray)]) -> Result<Vec<u8>, String> {
    encode_mat_dims(vars, &[])
}

/// [`encode_mat`] with explicit N-d dimensions for some variables (name, dims).
pub fn encode_mat_dims(vars: &[(String, MatArray)], dims: &[(String, Vec<usize>)]) -> Result<Vec<u8>, String> {
    let mut buf = header();
    for (n, a) in vars {
        let d = dims.iter().find(|(k, _)| k == n).map(|(_, d)| d.as_slice());
        encode_var_dims(&mut buf, n, a, d)?;
    }
    Ok(buf)
}

/// [`write_mat`] with explicit N-d dimensions for some variables.
pub fn write_mat_dims(path: &Path, vars: &[(String, MatArray)], dims: &[(String, Vec<usize>)]) -> Result<(), MatError> {
    let bytes = encode_mat_dims(vars, dims).map_err(|e| MatError(format!("{}: cannot write ({e})", path.display())))?;
    publish::write_atomic(path, &bytes).map_err(|e| MatError(format!("{}: cannot write ({e})", path.display())))
}

/// Write `vars` to `path` atomically (temporary file in the same folder, fsync, rename,
/// fsync of the folder), as the Python side's `save_mat`. The folder is created if needed.
pub fn write_mat(path: &Path, vars: &[(String, MatArray)]) -> Result<(), MatError> {
    let bytes = encode_mat(vars).map_err(|e| MatError(format!("{}: cannot write ({e})", path.display())))?;
    publish::write_atomic(path, &bytes).map_err(|e| MatError(format!("{}: cannot write ({e})", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<(String, MatArray)> {
        vec![
            ("d".into(), MatArray::new(2, 3, MatData::F64(vec![1.0, 2.0, 3.0, -4.5, f64::NAN, f64::INFINITY]))),
            ("s".into(), MatArray::column(MatData::F32(vec![1.5, -2.25, 3.0]))),
            ("c".into(), MatArray::new(1, 2, MatData::C64(vec![Complex32::new(1.0, -1.0), Complex32::new(0.5, 2.0)]))),
            ("z".into(), MatArray::column(MatData::C128(vec![Complex64::new(1e-300, 3.0)]))),
            ("i".into(), MatArray::column(MatData::I32(vec![-7, 0, i32::MAX]))),
            ("u".into(), MatArray::new(1, 4, MatData::U8(vec![0, 1, 255, 7]))),
            ("t".into(), MatArray::text("P-square")),
            ("e".into(), MatArray::new(0, 0, MatData::F64(vec![]))),
            ("x".into(), MatArray::scalar(42.0)),
        ]
    }

    #[test]
    fn sparse_round_trip() {
        let sp = SparseF64 { ir: vec![0, 2, 1], jc: vec![0, 2, 2, 3], pr: vec![1.5, -2.0, 7.0] };
        let vars = vec![
            ("s".to_string(), MatArray::new(3, 3, MatData::Sparse(sp.clone()))),
            ("z".to_string(), MatArray::sparse_zeros(4, 2)),
        ];
        let back = parse_mat(&encode_mat(&vars).unwrap()).unwrap();
        assert_eq!(back.vars, vars);
        let bad = SparseF64 { ir: vec![0], jc: vec![0, 0], pr: vec![1.0] };
        assert!(encode_mat(&[("b".to_string(), MatArray::new(2, 1, MatData::Sparse(bad)))]).is_err());
    }

    #[test]
    fn round_trip_every_type() {
        let v = sample();
        let bytes = encode_mat(&v).expect("encode");
        assert_eq!(bytes.len() % 8, 0);
        let back = parse_mat(&bytes).expect("parse");
        assert_eq!(back.vars.len(), v.len());
        for ((n1, a1), (n2, a2)) in v.iter().zip(&back.vars) {
            assert_eq!(n1, n2);
            assert_eq!((a1.rows, a1.cols), (a2.rows, a2.cols), "{n1}");
            match (&a1.data, &a2.data) {
                (MatData::F64(x), MatData::F64(y)) => {
                    assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()), "{n1}")
                }
                _ => assert_eq!(a1.data, a2.data, "{n1}"),
            }
        }
    }

    #[test]
    fn bool_written_as_uint8() {
        let v = vec![("b".to_string(), MatArray::column(MatData::Bool(vec![true, false, true])))];
        let back = parse_mat(&encode_mat(&v).expect("encode")).expect("parse");
        assert_eq!(back.vars[0].1.data, MatData::U8(vec![1, 0, 1]));
    }

    #[test]
    fn compressed_and_duplicates() {
        // a compressed element holding "a" = 1, then an uncompressed "a" = 2: last wins
        let mut inner = Vec::new();
        encode_var(&mut inner, "a", &MatArray::scalar(1.0)).expect("encode");
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &inner).expect("zlib");
        let comp = z.finish().expect("zlib");
        let mut buf = header();
        put_u32(&mut buf, MI_COMPRESSED);
        put_u32(&mut buf, comp.len() as u32);
        buf.extend_from_slice(&comp);
        let first = parse_mat(&buf).expect("parse");
        assert_eq!(first.get("a"), Some(&MatArray::scalar(1.0)));
        encode_var(&mut buf, "a", &MatArray::scalar(2.0)).expect("encode");
        let both = parse_mat(&buf).expect("parse");
        assert_eq!(both.vars.len(), 1);
        assert_eq!(both.get("a"), Some(&MatArray::scalar(2.0)));
    }

    #[test]
    fn three_d_dims() {
        let a = MatArray::new(2, 6, MatData::F32((0..12).map(|x| x as f32).collect()));
        let bytes = encode_mat_dims(&[("g".into(), a.clone())], &[("g".into(), vec![2, 3, 2])]).expect("encode");
        let back = parse_mat(&bytes).expect("parse");
        assert_eq!(back.get("g"), Some(&a));
        assert_eq!(back.nd_dims, vec![("g".to_string(), vec![2, 3, 2])]);
        assert!(encode_mat_dims(&[("g".into(), a)], &[("g".into(), vec![3, 2, 2])]).is_err());
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_mat(b"hello").is_err());
        assert!(parse_mat(&[0u8; 200]).is_err());
        assert!(encode_mat(&[("bad name".into(), MatArray::scalar(1.0))]).is_err());
    }
}
