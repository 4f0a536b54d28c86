//! Referencing helpers shared by stages 7 and 8 and the velocity product, as
//! `pystamps_batch/stages/reference.py` and `stages/scla.py` define them: the image set U,
//! `ps_setref`, the nanmean re-referencing, `ps_deramp` (polynomial ramps in km), the
//! Delaunay arcs of `ps.xy` and a tall least-squares solver (Householder QR, f64).

use crate::geo::llh2local;
use crate::stages::arrays::{Artifact, MatArray, MatData};
use crate::stages::select::mat::{scalar, to_f32_2d, to_f64};
use crate::stages::params::{ParamMap, ParamValue};
use ndarray::{Array2, ShapeBuilder};
use rayon::prelude::*;

/// A variable of an artifact, or an error naming the file.
pub fn var<'a>(art: &'a Artifact, name: &str, what: &str) -> Result<&'a MatArray, String> {
    art.iter().find(|(k, _)| k == name).map(|(_, v)| v).ok_or_else(|| format!("{what}.mat: missing variable {name}"))
}

/// An n x N f64 MatArray from a row-major (n, N) array.
pub fn mat_f64(a: &Array2<f64>) -> MatArray {
    MatArray::new(a.nrows(), a.ncols(), MatData::F64(a.t().iter().copied().collect()))
}

/// `(n, N)` f64 array from any numeric MatArray.
pub fn to_f64_2d(a: &MatArray, what: &str) -> Result<Array2<f64>, String> {
    Array2::from_shape_vec((a.rows, a.cols).f(), to_f64(a, what)?).map_err(|e| format!("{what}: {e}"))
}

/// 0-based master column from `ps.master_ix` (1-based).
pub fn master_index(ps: &Artifact) -> Result<usize, String> {
    let m = scalar(var(ps, "master_ix", "ps2")?, "ps2.master_ix")?;
    if m < 1.0 {
        return Err(format!("ps2.master_ix = {m} is not a 1-based index"));
    }
    Ok(m as usize - 1)
}

/// `B~`: `bperp_mat` (n x M f32) with a zero master column inserted -> (n, M + 1) f32.
pub fn expand_bperp(bp: &MatArray, master: usize) -> Result<Array2<f32>, String> {
    let b = to_f32_2d(bp, "bp2.bperp_mat")?;
    let (n, m) = b.dim();
    if master > m {
        return Err(format!("master column {master} outside bperp_mat with {m} columns"));
    }
    Ok(Array2::from_shape_fn((n, m + 1), |(i, k)| match k.cmp(&master) {
        std::cmp::Ordering::Less => b[[i, k]],
        std::cmp::Ordering::Equal => 0.0,
        std::cmp::Ordering::Greater => b[[i, k - 1]],
    }))
}

/// 0-based `setdiff(1..N, drop_ifg_index [, extra_drop])`.
pub fn used_ifgs(n_img: usize, p: &ParamMap, extra_drop: Option<&str>) -> Result<Vec<usize>, String> {
    let mut drop = p.index_list("drop_ifg_index")?;
    if let Some(e) = extra_drop {
        drop.extend(p.index_list(e)?);
    }
    Ok((0..n_img).filter(|&k| !drop.contains(&(k as i64 + 1))).collect())
}

/// A parameter as a list of floats (`np.asarray(v, float).ravel()`); `None` when absent.
pub fn float_list(p: &ParamMap, key: &str) -> Result<Option<Vec<f64>>, String> {
    match p.0.get(key) {
        None => Ok(None),
        Some(ParamValue::List(xs)) => {
            xs.iter().map(|x| x.py_float().map_err(|e| format!("parameter {key}: {e}"))).collect::<Result<_, _>>().map(Some)
        }
        Some(v) => Ok(Some(vec![v.py_float().map_err(|e| format!("parameter {key}: {e}"))?])),
    }
}

fn pair(v: &[f64], key: &str) -> Result<(f64, f64), String> {
    if v.len() < 2 {
        return Err(format!("parameter {key}: expected 2 values, got {}", v.len()));
    }
    Ok((v[0], v[1]))
}

/// `ps_setref`: 0-based reference pixels (ref_x/ref_y window, else lon/lat window and
/// radius about `ref_centre_lonlat` in llh2local metres); an empty set is an error.
pub fn setref(ps: &Artifact, p: &ParamMap) -> Result<Vec<usize>, String> {
    let ll = to_f64(var(ps, "lonlat", "ps2")?, "ps2.lonlat")?;
    let n = var(ps, "lonlat", "ps2")?.rows;
    if let (Some(rx), Some(ry)) = (float_list(p, "ref_x")?, float_list(p, "ref_y")?) {
        let (x0, x1) = pair(&rx, "ref_x")?;
        let (y0, y1) = pair(&ry, "ref_y")?;
        let xy = var(ps, "xy", "ps2")?;
        let v = to_f64(xy, "ps2.xy")?;
        let r = xy.rows;
        let ix: Vec<usize> =
            (0..r).filter(|&i| v[r + i] > x0 && v[r + i] < x1 && v[2 * r + i] > y0 && v[2 * r + i] < y1).collect();
        if ix.is_empty() {
            return Err(format!("reference set is empty: no PS inside ref_x=[{x0}, {x1}] ref_y=[{y0}, {y1}] (of {r} PS)"));
        }
        return Ok(ix);
    }
    let (lo0, lo1) = pair(&float_list(p, "ref_lon")?.unwrap_or(vec![f64::NEG_INFINITY, f64::INFINITY]), "ref_lon")?;
    let (la0, la1) = pair(&float_list(p, "ref_lat")?.unwrap_or(vec![f64::NEG_INFINITY, f64::INFINITY]), "ref_lat")?;
    let radius = match p.0.get("ref_radius") {
        Some(v) => v.py_float().map_err(|e| format!("parameter ref_radius: {e}"))?,
        None => f64::INFINITY,
    };
    if radius == f64::NEG_INFINITY {
        return Err("ref_radius = -Inf means 'no reference' in StaMPS; steps 7 and the 'v' products need one".into());
    }
    let mut ix: Vec<usize> =
        (0..n).filter(|&i| ll[i] > lo0 && ll[i] < lo1 && ll[n + i] > la0 && ll[n + i] < la1).collect();
    if radius < f64::INFINITY && !ix.is_empty() {
        let c = float_list(p, "ref_centre_lonlat")?.unwrap_or(vec![0.0, 0.0]);
        let (cx, cy) = pair(&c, "ref_centre_lonlat")?;
        let ll0 = to_f64(var(ps, "ll0", "ps2")?, "ps2.ll0")?;
        if ll0.len() < 2 {
            return Err("ps2.ll0 must have 2 values".into());
        }
        let org = [ll0[0], ll0[1]];
        let cc = llh2local(&[[cx, cy]], org)[0];
        let pts: Vec<[f64; 2]> = ix.iter().map(|&i| [ll[i], ll[n + i]]).collect();
        let loc = llh2local(&pts, org);
        ix = ix
            .into_iter()
            .zip(loc)
            .filter(|(_, q)| (q[0] - cc[0]).powi(2) + (q[1] - cc[1]).powi(2) <= radius * radius)
            .map(|(i, _)| i)
            .collect();
    }
    if ix.is_empty() {
        return Err(format!("reference set is empty: no PS inside ref_lon=[{lo0}, {lo1}] ref_lat=[{la0}, {la1}] (of {n} PS)"));
    }
    Ok(ix)
}

/// Subtracts from each column the nanmean over the reference rows (f32, the sum sequential
/// in `ref_ix` order as MATLAB's `sum` of single data).
pub fn reference_phase(ph: &mut Array2<f32>, ref_ix: &[usize]) {
    let k = ph.ncols();
    let mut mu = vec![0f32; k];
    for (c, m) in mu.iter_mut().enumerate() {
        let (mut s, mut cnt) = (0f32, 0usize);
        for &r in ref_ix {
            let v = ph[[r, c]];
            if !v.is_nan() {
                s += v;
                cnt += 1;
            }
        }
        *m = s / cnt as f32;
    }
    for mut row in ph.rows_mut() {
        for (v, m) in row.iter_mut().zip(&mu) {
            *v -= m;
        }
    }
}

/// Householder QR of a tall design matrix (n x p, given by columns), for many right-hand sides.
pub struct TallQr {
    /// reflectors v_j (length n - j) and their squared norms
    v: Vec<(Vec<f64>, f64)>,
    /// R, p x p, row-major
    r: Vec<f64>,
    p: usize,
}

impl TallQr {
    pub fn new(cols: &[Vec<f64>]) -> Self {
        let p = cols.len();
        let mut a: Vec<Vec<f64>> = cols.to_vec();
        let n = a.first().map_or(0, |c| c.len());
        let mut v = Vec::with_capacity(p);
        for j in 0..p.min(n) {
            let norm = a[j][j..].iter().map(|x| x * x).sum::<f64>().sqrt();
            let alpha = if a[j][j] > 0.0 { -norm } else { norm };
            let mut vj: Vec<f64> = a[j][j..].to_vec();
            vj[0] -= alpha;
            let vn: f64 = vj.iter().map(|x| x * x).sum();
            if vn > 0.0 {
                for col in a.iter_mut().skip(j) {
                    let d: f64 = vj.iter().zip(&col[j..]).map(|(x, y)| x * y).sum::<f64>() * 2.0 / vn;
                    for (c, x) in col[j..].iter_mut().zip(&vj) {
                        *c -= d * x;
                    }
                }
            }
            v.push((vj, vn));
        }
        let mut r = vec![0.0; p * p];
        for i in 0..p.min(n) {
            for (j, col) in a.iter().enumerate().skip(i) {
                r[i * p + j] = col[i];
            }
        }
        TallQr { v, r, p }
    }

    /// Least-squares coefficients for one right-hand side (a coefficient whose R diagonal
    /// is negligible is set to 0: not yet the minimum-norm solution of a rank-deficient A).
    pub fn solve(&self, y: &[f64]) -> Vec<f64> {
        let mut y = y.to_vec();
        for (j, (vj, vn)) in self.v.iter().enumerate() {
            if *vn > 0.0 {
                let d: f64 = vj.iter().zip(&y[j..]).map(|(a, b)| a * b).sum::<f64>() * 2.0 / vn;
                for (c, x) in y[j..].iter_mut().zip(vj) {
                    *c -= d * x;
                }
            }
        }
        let p = self.p;
        let dmax = (0..p).map(|i| self.r[i * p + i].abs()).fold(0.0, f64::max);
        let tol = dmax * y.len().max(1) as f64 * f64::EPSILON;
        let mut x = vec![0.0; p];
        for i in (0..self.v.len()).rev() {
            let d = self.r[i * p + i];
            if d.abs() <= tol {
                continue;
            }
            let mut s = y[i];
            for j in i + 1..p {
                s -= self.r[i * p + j] * x[j];
            }
            x[i] = s / d;
        }
        x
    }
}

/// `A @ coef` for a design given by columns.
fn apply(cols: &[Vec<f64>], coef: &[f64], row: usize) -> f64 {
    cols.iter().zip(coef).map(|(c, k)| c[row] * k).sum()
}

fn ramp_design(xy: &MatArray, degree: f64) -> Result<Vec<Vec<f64>>, String> {
    let v = to_f64(xy, "ps2.xy")?;
    let n = xy.rows;
    if xy.cols < 3 {
        return Err("ps2.xy must have 3 columns".into());
    }
    let x: Vec<f64> = (0..n).map(|i| v[n + i] / 1000.0).collect();
    let y: Vec<f64> = (0..n).map(|i| v[2 * n + i] / 1000.0).collect();
    let f = |g: &dyn Fn(f64, f64) -> f64| -> Vec<f64> { x.iter().zip(&y).map(|(&a, &b)| g(a, b)).collect() };
    let one = vec![1.0; n];
    Ok(if degree == 1.0 {
        vec![x.clone(), y.clone(), one]
    } else if degree == 1.5 {
        vec![x.clone(), y.clone(), f(&|a, b| a * b), one]
    } else if degree == 2.0 {
        vec![f(&|a, _| a * a), f(&|_, b| b * b), f(&|a, b| a * b), one]
    } else if degree == 3.0 {
        vec![
            f(&|a, _| a * a * a),
            f(&|_, b| b * b * b),
            f(&|a, b| a * a * b),
            f(&|a, b| b * b * a),
            f(&|a, _| a * a),
            f(&|_, b| b * b),
            f(&|a, b| a * b),
            one,
        ]
    } else {
        return Err(format!("ps_deramp: unsupported degree {degree} (1, 1.5, 2 or 3)"));
    })
}

/// `ps_deramp`: per column, the LS polynomial ramp over the non-NaN pixels (when more than 5)
/// removed; returns the ramps (f32, NaN for columns not fitted), `ph` modified in place.
pub fn deramp(xy: &MatArray, ph: &mut Array2<f32>, degree: f64, threads: usize) -> Result<Array2<f32>, String> {
    let design = ramp_design(xy, degree)?;
    let (n, k) = ph.dim();
    if xy.rows != n {
        return Err(format!("ps2.xy has {} rows, phase has {n}", xy.rows));
    }
    let full_qr = TallQr::new(&design);
    let cols: Vec<Option<Vec<f32>>> = crate::pool::install(threads, || {
        (0..k)
            .into_par_iter()
            .map(|c| {
                let valid: Vec<usize> = (0..n).filter(|&i| !ph[[i, c]].is_nan()).collect();
                if valid.len() <= 5 {
                    return None;
                }
                let coef = if valid.len() == n {
                    let y: Vec<f64> = (0..n).map(|i| ph[[i, c]] as f64).collect();
                    full_qr.solve(&y)
                } else {
                    let sub: Vec<Vec<f64>> = design.iter().map(|d| valid.iter().map(|&i| d[i]).collect()).collect();
                    let y: Vec<f64> = valid.iter().map(|&i| ph[[i, c]] as f64).collect();
                    TallQr::new(&sub).solve(&y)
                };
                Some((0..n).map(|i| apply(&design, &coef, i) as f32).collect())
            })
            .collect()
    });
    let mut ramp = Array2::<f32>::from_elem((n, k), f32::NAN);
    for (c, r) in cols.into_iter().enumerate() {
        if let Some(r) = r {
            if r.iter().all(|v| v.is_nan()) {
                continue;
            }
            for i in 0..n {
                ramp[[i, c]] = r[i];
                ph[[i, c]] -= r[i];
            }
        }
    }
    Ok(ramp)
}

/// Least-squares planar ramps `c0 + c1 x + c2 y` (x, y in m, from ps.xy) of the given
/// columns of `ph` (f64 data), removed in place (f32); returns the ramps (n x cols) f64.
pub fn deramp_plane(xy: &MatArray, ph: &mut Array2<f32>, cols: &[usize]) -> Result<Array2<f64>, String> {
    let n = ph.nrows();
    let v = to_f64(xy, "ps2.xy")?;
    if xy.rows != n || xy.cols < 3 {
        return Err(format!("ps2.xy is {} x {}, expected {n} x 3", xy.rows, xy.cols));
    }
    let mut ramps = Array2::<f64>::zeros((n, cols.len()));
    if cols.is_empty() {
        return Ok(ramps);
    }
    let design = vec![vec![1.0; n], v[n..2 * n].to_vec(), v[2 * n..3 * n].to_vec()];
    let qr = TallQr::new(&design);
    for (j, &c) in cols.iter().enumerate() {
        let y: Vec<f64> = (0..n).map(|i| ph[[i, c]] as f64).collect();
        let coef = qr.solve(&y);
        for i in 0..n {
            let r = apply(&design, &coef, i);
            ramps[[i, j]] = r;
            ph[[i, c]] = (ph[[i, c]] as f64 - r) as f32;
        }
    }
    Ok(ramps)
}

/// Unique undirected Delaunay arcs (a < b, sorted) of `ps.xy[:, 1:3]`, as
/// `stages/scla.py::delaunay_edges`: fewer than 3 points give one arc for 2 distinct
/// points, else none; collinear points give none; duplicate points get no arc.  Not yet:
/// Qhull's choice of which member of a duplicate-xy group to triangulate (it is not simply
/// the first or the last index); here the first is kept, so with duplicate xy the clamp
/// bounds of the pixels around them can differ from the Python stage (ps_weed removes
/// duplicates, so stage-7/8 inputs normally have none).
pub fn delaunay_edges(xy: &MatArray) -> Result<Vec<[usize; 2]>, String> {
    let v = to_f64(xy, "ps2.xy")?;
    let n = xy.rows;
    if xy.cols < 3 {
        return Err("ps2.xy must have 3 columns".into());
    }
    let (x, y) = (&v[n..2 * n], &v[2 * n..3 * n]);
    if n < 3 {
        return Ok(if n == 2 && (x[0] != x[1] || y[0] != y[1]) { vec![[0, 1]] } else { vec![] });
    }
    let mut seen = std::collections::HashSet::with_capacity(n);
    let keep: Vec<usize> = (0..n).filter(|&i| seen.insert((x[i].to_bits(), y[i].to_bits()))).collect();
    let kx: Vec<f64> = keep.iter().map(|&i| x[i]).collect();
    let ky: Vec<f64> = keep.iter().map(|&i| y[i]).collect();
    let (e, note) = crate::stages::weed::graph::delaunay_edges(&kx, &ky)?;
    if !note.is_empty() {
        return Ok(vec![]); // fewer than 3 distinct points, or collinear: Qhull refuses
    }
    let mut out: Vec<[usize; 2]> = e.into_iter().map(|[a, b]| [keep[a], keep[b]]).collect();
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_column_inserted() {
        let b = MatArray::new(1, 2, MatData::F32(vec![5.0, 7.0]));
        let t = expand_bperp(&b, 1).unwrap();
        assert_eq!(t.row(0).to_vec(), vec![5.0, 0.0, 7.0]);
        assert!(expand_bperp(&b, 3).is_err());
    }

    #[test]
    fn tall_qr_recovers_a_plane() {
        let n = 20;
        let x: Vec<f64> = (0..n).map(|i| (i % 5) as f64).collect();
        let y: Vec<f64> = (0..n).map(|i| (i / 5) as f64 * 1.3).collect();
        let cols = vec![x.clone(), y.clone(), vec![1.0; n]];
        let obs: Vec<f64> = (0..n).map(|i| 0.5 * x[i] - 2.0 * y[i] + 3.0).collect();
        let c = TallQr::new(&cols).solve(&obs);
        assert!((c[0] - 0.5).abs() < 1e-12 && (c[1] + 2.0).abs() < 1e-12 && (c[2] - 3.0).abs() < 1e-12, "{c:?}");
    }

    #[test]
    fn reference_phase_skips_nan() {
        let mut ph = ndarray::array![[1.0f32, f32::NAN], [3.0, 2.0], [5.0, 4.0]];
        reference_phase(&mut ph, &[0, 1]);
        assert!(ph[[0, 1]].is_nan());
        ph[[0, 1]] = 9.0;
        assert_eq!(ph, ndarray::array![[-1.0f32, 9.0], [1.0, 0.0], [3.0, 2.0]]);
    }
}
