//! Stage 7, `ps_calc_scla(0, 1)` then `ps_smooth_scla`, as `pystamps_batch/stages/scla.py`
//! (read it for the algorithm and the documented deviations from StaMPS).
//!
//! Inputs: `ps2`, `bp2`, `phuw2` and optionally `ifgstd2` (merged root); outputs
//! `scla2` (`ph_scla` n x N f32, `K_ps_uw` n x 1 f64, `C_ps_uw` n x 1 f32, `ph_ramp`
//! 0 x 0 or n x N f32, `ifg_vcm` N x N f64) and `scla_smooth2` (K and C clamped to their
//! Delaunay neighbours' range).  The per-pixel fit is the kernel
//! [`crate::scla::scla_fit`] (the same one the Python driver calls with native kernels).
//!
//! Parity with the Python stage: bit-equal for `scla_method = L2` without `scla_deramp`
//! (the same f32 operations in the same order); the deramp ramps come from a Householder
//! QR here and LAPACK's SVD least squares there (f32 ramps within an ulp or so).

#[path = "scla_ref.rs"]
pub mod reference;

use self::reference::{
    delaunay_edges, deramp, expand_bperp, mat_f64, master_index, reference_phase, setref, used_ifgs, var,
};
use crate::scla::{ifg_variance, scla_fit, SclaOptions};
use crate::stages::arrays::{Artifact, MatArray, MatData, StageOutputs};
use crate::stages::select::mat::{col_f64, empty, mat_f32, scalar, to_f32_2d, to_f64};
use crate::stages::params::ParamMap;
use ndarray::{Array1, Array2};

/// The artifacts stage 7 reads.
pub struct SclaInputs {
    pub ps2: Artifact,
    pub bp2: Artifact,
    pub phuw2: Artifact,
    pub ifgstd2: Option<Artifact>,
}

/// Per-pixel (min, max) of f32 values over arc neighbours (+Inf / -Inf without arcs).
fn neighbour_bounds(v: &[f32], edges: &[[usize; 2]]) -> (Vec<f32>, Vec<f32>) {
    let n = v.len();
    let mut lo = vec![f32::INFINITY; n];
    let mut hi = vec![f32::NEG_INFINITY; n];
    for &[a, b] in edges {
        // np.minimum/maximum.at propagate NaN
        let upd = |lo: &mut [f32], hi: &mut [f32], i: usize, x: f32| {
            lo[i] = if lo[i].is_nan() || x.is_nan() { f32::NAN } else { lo[i].min(x) };
            hi[i] = if hi[i].is_nan() || x.is_nan() { f32::NAN } else { hi[i].max(x) };
        };
        upd(&mut lo, &mut hi, a, v[b]);
        upd(&mut lo, &mut hi, b, v[a]);
    }
    (lo, hi)
}

/// `ps_smooth_scla` clamp of f64 values (bounds are the f32-rounded neighbour values).
fn clamp_f64(vals: &[f64], edges: &[[usize; 2]]) -> Vec<f64> {
    let v32: Vec<f32> = vals.iter().map(|&x| x as f32).collect();
    let (lo, hi) = neighbour_bounds(&v32, edges);
    vals.iter()
        .enumerate()
        .map(|(i, &x)| {
            let (l, h) = (lo[i] as f64, hi[i] as f64);
            if l <= h && x > h {
                h
            } else if l <= h && x < l {
                l
            } else {
                x
            }
        })
        .collect()
}

/// The same clamp for f32 values.
fn clamp_f32(vals: &[f32], edges: &[[usize; 2]]) -> Vec<f32> {
    let (lo, hi) = neighbour_bounds(vals, edges);
    vals.iter()
        .enumerate()
        .map(|(i, &x)| if lo[i] <= hi[i] && x > hi[i] { hi[i] } else if lo[i] <= hi[i] && x < lo[i] { lo[i] } else { x })
        .collect()
}

/// `f32(K) * B~` (n x N f32).
fn scla_phase(k: &[f64], b: &Array2<f32>) -> Array2<f32> {
    Array2::from_shape_fn(b.dim(), |(i, j)| k[i] as f32 * b[[i, j]])
}

/// `ps_calc_scla(0, 1)`: the `scla2` variables.
pub fn calc_scla(inp: &SclaInputs, p: &ParamMap, threads: usize) -> Result<Artifact, String> {
    if p.0.contains_key("subtr_tropo") && p.flag("subtr_tropo")? {
        return Err("step 7: subtr_tropo = 'y' (TRAIN tropospheric correction) is not supported".into());
    }
    let ps = &inp.ps2;
    let m = master_index(ps)?;
    let mut ph = to_f32_2d(var(&inp.phuw2, "ph_uw", "phuw2")?, "phuw2.ph_uw")?;
    let (n, nn) = ph.dim();
    let b = expand_bperp(var(&inp.bp2, "bperp_mat", "bp2")?, m)?;
    if b.dim() != (n, nn) {
        return Err(format!("step 7: bperp_mat {:?} does not match ph_uw {:?}", b.dim(), (n, nn)));
    }
    let day = to_f64(var(ps, "day", "ps2")?, "ps2.day")?;
    if day.len() != nn {
        return Err(format!("step 7: ps2.day has {} dates for {nn} images", day.len()));
    }
    let deramp_on = p.0.contains_key("scla_deramp") && p.flag("scla_deramp")?;
    let ph_ramp = if deramp_on {
        let deg = match p.0.get("deramp_degree") {
            Some(v) => {
                let d = v.py_float()?;
                if d == 0.0 || d.is_nan() {
                    1.0
                } else {
                    d
                }
            }
            None => 1.0,
        };
        Some(deramp(var(ps, "xy", "ps2")?, &mut ph, deg, threads)?)
    } else {
        None
    };
    let u = used_ifgs(nn, p, Some("scla_drop_index"))?;
    if u.len() < 2 {
        return Err(format!("step 7: {} image(s) left after drop_ifg_index/scla_drop_index, need >= 2", u.len()));
    }
    let ref_ix = setref(ps, p)?;
    reference_phase(&mut ph, &ref_ix);
    let std: Option<Vec<f64>> = match &inp.ifgstd2 {
        Some(a) => match a.iter().find(|(k, _)| k == "ifg_std") {
            Some((_, s)) => {
                let s = to_f64(s, "ifgstd2.ifg_std")?;
                if s.len() != nn {
                    return Err(format!("step 7: ifgstd2 has {} entries, expected {nn}", s.len()));
                }
                Some(s)
            }
            None => None,
        },
        None => None,
    };
    let mpos = u.iter().position(|&k| k == m);
    let phu = Array2::from_shape_fn((n, u.len()), |(i, j)| ph[[i, u[j]]]);
    let bu = Array2::from_shape_fn((n, u.len()), |(i, j)| b[[i, u[j]]]);
    let du = Array1::from_iter(u.iter().map(|&k| day[k]));
    let stdu: Option<Vec<f64>> = std.as_ref().map(|s| u.iter().map(|&k| s[k]).collect());
    let method = match p.0.get("scla_method") {
        Some(v) => v.py_str().to_uppercase(),
        None => "L2".into(),
    };
    if method != "L1" && method != "L2" {
        return Err(format!("scla_method {method:?} is not L1 or L2"));
    }
    let master_day = scalar(var(ps, "master_day", "ps2")?, "ps2.master_day")?;
    let opt = SclaOptions { master_pos: mpos, ifg_std: stdu.as_deref(), l1: method == "L1", master_day };
    let (k, c) = scla_fit(phu.view(), bu.view(), du.view(), &opt, threads)?;
    let ph_scla = scla_phase(&k, &b);
    let vcm = match &std {
        Some(s) => {
            let v = ifg_variance(s);
            Array2::from_shape_fn((nn, nn), |(i, j)| if i == j { v[i] as f64 } else { 0.0 })
        }
        None => Array2::from_shape_fn((nn, nn), |(i, j)| if i == j { 1.0 } else { 0.0 }),
    };
    Ok(vec![
        ("ph_scla".into(), mat_f32(&ph_scla)),
        ("K_ps_uw".into(), col_f64(k)),
        ("C_ps_uw".into(), MatArray::column(MatData::F32(c))),
        ("ph_ramp".into(), ph_ramp.map_or_else(empty, |r| mat_f32(&r))),
        ("ifg_vcm".into(), mat_f64(&vcm)),
    ])
}

/// `ps_smooth_scla`: K and C clamped to their Delaunay neighbours' range.
pub fn smooth_scla(inp: &SclaInputs, scla2: &Artifact) -> Result<Artifact, String> {
    let m = master_index(&inp.ps2)?;
    let b = expand_bperp(var(&inp.bp2, "bperp_mat", "bp2")?, m)?;
    let edges = delaunay_edges(var(&inp.ps2, "xy", "ps2")?)?;
    let k = to_f64(var(scla2, "K_ps_uw", "scla2")?, "scla2.K_ps_uw")?;
    let c: Vec<f32> = match &var(scla2, "C_ps_uw", "scla2")?.data {
        MatData::F32(v) => v.clone(),
        _ => to_f64(var(scla2, "C_ps_uw", "scla2")?, "scla2.C_ps_uw")?.into_iter().map(|x| x as f32).collect(),
    };
    if k.len() != b.nrows() || c.len() != b.nrows() {
        return Err(format!("scla2 has {} pixels, bp2 has {}", k.len(), b.nrows()));
    }
    let ks = clamp_f64(&k, &edges);
    let cs = clamp_f32(&c, &edges);
    let ph_scla = scla_phase(&ks, &b);
    Ok(vec![
        ("K_ps_uw".into(), col_f64(ks)),
        ("C_ps_uw".into(), MatArray::column(MatData::F32(cs))),
        ("ph_scla".into(), mat_f32(&ph_scla)),
        ("ph_ramp".into(), var(scla2, "ph_ramp", "scla2")?.clone()),
    ])
}

/// Stage 7 on the merged root: `[("scla2", ..), ("scla_smooth2", ..)]`.
pub fn run(inp: &SclaInputs, p: &ParamMap, threads: usize, log: &dyn Fn(&str)) -> Result<StageOutputs, String> {
    let scla2 = calc_scla(inp, p, threads)?;
    let smooth = smooth_scla(inp, &scla2)?;
    let k0 = to_f64(var(&scla2, "K_ps_uw", "scla2")?, "K")?;
    let k1 = to_f64(var(&smooth, "K_ps_uw", "scla_smooth2")?, "K")?;
    let n_cl = k0.iter().zip(&k1).filter(|(a, b)| a != b).count();
    log(&format!("ps_calc_scla: {} PS; ps_smooth_scla clamped K of {n_cl}", k0.len()));
    Ok(vec![("scla2".into(), scla2), ("scla_smooth2".into(), smooth)])
}
