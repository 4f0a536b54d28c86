//! Stage 5a, `ps_correct_phase` (spec C.5.1), and the interferogram noise of
//! `ps_calc_ifg_std` (spec C.5.3, the second half of 5b): the Rust twins of
//! `pystamps_batch/stages/correct.py` and `pystamps_batch/stages/ifgstd.py`.
//!
//! With `B~` = `bperp_mat` with a zero column inserted at the master (n x N):
//! * `ph_rc = ph * exp(-1j*(K_ps*B~ + C_ps))` in single precision (K, C rounded to f32,
//!   the argument `-(k*b) - c` in f32, cos/sin evaluated in f64 of the f32 argument and
//!   rounded once, a plain unfused f32 complex product), complex64 n x N;
//! * `ph_reref` = `pm2.ph_patch` with a column of ones at the master, complex64 n x N.
//!
//! The arithmetic is the Python stage's (`pystamps_batch.matlab` `expj_single`,
//! `cmul_single`, `angle_single`, `sum_single`) operation by operation, so the results
//! are bit-identical.

use super::arrays::{Artifact, MatArray, MatData, StageOutputs};
use super::select::mat::{scalar, to_c64, to_f32_2d, to_f64};
use num_complex::Complex32;

/// The arrays `ps_correct_phase` (and the ifg-std computation) read.
#[derive(Debug, Clone)]
pub struct CorrectInputs {
    /// ps2.master_ix (1-based)
    pub master_ix: MatArray,
    /// ph2.ph (n x N)
    pub ph: MatArray,
    /// pm2.ph_patch (n x N-1), pm2.K_ps (rad/m), pm2.C_ps (rad) (n x 1)
    pub ph_patch: MatArray,
    pub k_ps: MatArray,
    pub c_ps: MatArray,
    /// bp2.bperp_mat (n x N-1, m)
    pub bperp_mat: MatArray,
}

impl CorrectInputs {
    /// The inputs from the loaded artifacts ps2, ph2, pm2, bp2.
    pub fn from_artifacts(ps2: &Artifact, ph2: &Artifact, pm2: &Artifact, bp2: &Artifact) -> Result<Self, String> {
        let get = |a: &Artifact, art: &str, n: &str| -> Result<MatArray, String> {
            a.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()).ok_or_else(|| format!("{art}.{n} is missing"))
        };
        Ok(CorrectInputs {
            master_ix: get(ps2, "ps2", "master_ix")?,
            ph: get(ph2, "ph2", "ph")?,
            ph_patch: get(pm2, "pm2", "ph_patch")?,
            k_ps: get(pm2, "pm2", "K_ps")?,
            c_ps: get(pm2, "pm2", "C_ps")?,
            bperp_mat: get(bp2, "bp2", "bperp_mat")?,
        })
    }
}

/// `exp(1j*a)` of an f32 argument: cos/sin in f64, each rounded once to f32.
#[inline]
pub fn expj32(a: f32) -> Complex32 {
    let x = a as f64;
    Complex32::new(x.cos() as f32, x.sin() as f32)
}

/// `x * y` in f32 without fused multiply-add: `(xr*yr - xi*yi) + 1j*(xr*yi + xi*yr)`.
#[inline]
pub fn cmul_plain(x: Complex32, y: Complex32) -> Complex32 {
    Complex32::new(x.re * y.re - x.im * y.im, x.re * y.im + x.im * y.re)
}

/// `angle(z)` of a complex64 value: `atan2` in f64, rounded once to f32.
#[inline]
pub fn angle_f64(z: Complex32) -> f32 {
    (z.im as f64).atan2(z.re as f64) as f32
}

/// Checked shapes and typed views of [`CorrectInputs`]: (master 0-based, n, N, ph
/// column-major, bperp (n x M, column-major, f32), K f32, C f32, ph_patch column-major).
struct Typed {
    master: usize,
    n: usize,
    big_n: usize,
    ph: Vec<Complex32>,
    bperp: Vec<f32>,
    k: Vec<f32>,
    c: Vec<f32>,
    ph_patch: Vec<Complex32>,
}

fn typed(inp: &CorrectInputs, what: &str) -> Result<Typed, String> {
    let mix = scalar(&inp.master_ix, "ps2.master_ix")?;
    let (n, big_n) = (inp.ph.rows, inp.ph.cols);
    let bs = (inp.bperp_mat.rows, inp.bperp_mat.cols);
    let ps = (inp.ph_patch.rows, inp.ph_patch.cols);
    if big_n == 0 || bs != (n, big_n - 1) || ps != (n, big_n.saturating_sub(1)) {
        return Err(format!(
            "{what}: inconsistent shapes ph ({n}, {big_n}), bperp_mat ({}, {}), ph_patch ({}, {})",
            bs.0, bs.1, ps.0, ps.1
        ));
    }
    let m = mix as i64 - 1;
    if m < 0 || m as usize >= big_n || !mix.is_finite() {
        return Err(format!("{what}: master_ix {mix} outside 1..{big_n}"));
    }
    let k: Vec<f32> = to_f64(&inp.k_ps, "pm2.K_ps")?.into_iter().map(|x| x as f32).collect();
    let c: Vec<f32> = to_f64(&inp.c_ps, "pm2.C_ps")?.into_iter().map(|x| x as f32).collect();
    if k.len() != n || c.len() != n {
        return Err(format!("{what}: K_ps has {} values, C_ps {}, expected {n}", k.len(), c.len()));
    }
    let cm = |a: ndarray::Array2<Complex32>| -> Vec<Complex32> { a.t().iter().copied().collect() };
    let bp = to_f32_2d(&inp.bperp_mat, "bp2.bperp_mat")?;
    Ok(Typed {
        master: m as usize,
        n,
        big_n,
        ph: cm(to_c64(&inp.ph, "ph2.ph")?),
        bperp: bp.t().iter().copied().collect(),
        k,
        c,
        ph_patch: cm(to_c64(&inp.ph_patch, "pm2.ph_patch")?),
    })
}

/// Column `j` of the N-column view with the master column inserted: the source column
/// of the (N-1)-column array, or None for the master.
#[inline]
fn src_col(j: usize, master: usize) -> Option<usize> {
    match j.cmp(&master) {
        std::cmp::Ordering::Less => Some(j),
        std::cmp::Ordering::Equal => None,
        std::cmp::Ordering::Greater => Some(j - 1),
    }
}

/// `exp(-1j*(K*B~ + C))` of pixel `i`, column `j` (the f32 argument `-(k*b) - c`).
#[inline]
fn correction(t: &Typed, i: usize, j: usize) -> Complex32 {
    let b = src_col(j, t.master).map_or(0.0f32, |s| t.bperp[s * t.n + i]);
    let arg = -(t.k[i] * b) - t.c[i];
    expj32(arg)
}

/// `rc2` for one patch: `{ph_rc, ph_reref}` (complex64 n x N each).
pub fn run(inp: &CorrectInputs, log: &dyn Fn(&str)) -> Result<StageOutputs, String> {
    let t = typed(inp, "step 5a")?;
    let (n, big_n) = (t.n, t.big_n);
    let mut ph_rc = Vec::with_capacity(n * big_n);
    let mut ph_reref = Vec::with_capacity(n * big_n);
    for j in 0..big_n {
        for i in 0..n {
            ph_rc.push(cmul_plain(t.ph[j * n + i], correction(&t, i, j)));
        }
        match src_col(j, t.master) {
            Some(s) => ph_reref.extend_from_slice(&t.ph_patch[s * n..(s + 1) * n]),
            None => ph_reref.extend(std::iter::repeat_n(Complex32::new(1.0, 0.0), n)),
        }
    }
    log(&format!("ps_correct_phase: {n} PS, {big_n} images"));
    Ok(vec![(
        "rc2".to_string(),
        vec![
            ("ph_rc".to_string(), MatArray::new(n, big_n, MatData::C64(ph_rc))),
            ("ph_reref".to_string(), MatArray::new(n, big_n, MatData::C64(ph_reref))),
        ],
    )])
}

/// `ps_calc_ifg_std`: per-image phase noise in degrees, f32 N x 1 (NaN for n = 0).
///
/// `d = angle(ph * conj(P~) * exp(-1j*(K*B~ + C)))`; `std_k = sqrt(sum_p d^2 / n)`
/// accumulated in f32 pixel after pixel (as Octave and NumPy's axis-0 reduction; NumPy
/// sums pairwise when there is a single column, which is followed too), then
/// `(s * 180) / pi` in f32.
pub fn ifg_std(inp: &CorrectInputs) -> Result<MatArray, String> {
    let t = typed(inp, "ifgstd")?;
    let (n, big_n) = (t.n, t.big_n);
    let mut out = Vec::with_capacity(big_n);
    let mut col = vec![0f32; n];
    for j in 0..big_n {
        for (i, dst) in col.iter_mut().enumerate() {
            let p = match src_col(j, t.master) {
                Some(s) => t.ph_patch[s * n + i],
                None => Complex32::new(1.0, 0.0),
            };
            let z = cmul_plain(cmul_plain(t.ph[j * n + i], p.conj()), correction(&t, i, j));
            let d = angle_f64(z);
            *dst = d * d;
        }
        let s = if big_n == 1 {
            crate::num::pairwise_sum_f32(&col)
        } else {
            col.iter().fold(0f32, |a, &x| a + x)
        };
        let v = (s / n as f32).sqrt();
        out.push((v * 180f32) / (std::f64::consts::PI as f32));
    }
    Ok(MatArray::column(MatData::F32(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(master: f64) -> CorrectInputs {
        let n = 2;
        CorrectInputs {
            master_ix: MatArray::scalar(master),
            ph: MatArray::new(n, 3, MatData::C64((0..6).map(|k| Complex32::new(1.0 + k as f32, 0.5)).collect())),
            ph_patch: MatArray::new(n, 2, MatData::C64(vec![Complex32::new(0.0, 1.0); 4])),
            k_ps: MatArray::column(MatData::F64(vec![0.001, -0.002])),
            c_ps: MatArray::column(MatData::F64(vec![0.3, 0.0])),
            bperp_mat: MatArray::new(n, 2, MatData::F32(vec![100.0, 50.0, -20.0, 10.0])),
        }
    }

    #[test]
    fn master_column_has_c_only_and_ones() {
        let out = run(&inputs(2.0), &|_| {}).unwrap();
        let rc = &out[0].1;
        let MatData::C64(ref reref) = rc[1].1.data else { panic!() };
        assert_eq!(reref[2], Complex32::new(1.0, 0.0));
        assert_eq!(reref[3], Complex32::new(1.0, 0.0));
        assert_eq!(reref[0], Complex32::new(0.0, 1.0));
        let MatData::C64(ref phrc) = rc[0].1.data else { panic!() };
        // pixel 1 (C = 0) in the master column is unchanged
        assert_eq!(phrc[3], Complex32::new(4.0, 0.5));
        let s = ifg_std(&inputs(2.0)).unwrap();
        assert_eq!((s.rows, s.cols), (3, 1));
        assert!(run(&inputs(4.0), &|_| {}).is_err());
    }
}
