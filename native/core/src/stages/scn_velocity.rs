//! The mean-velocity products of step 8 (`pystamps_batch/products.py`): `mean_v.m`
//! (2 x n f32: intercept rad, rate rad/day) and `ps_plot_<kind>.ph_disp` (n x 1 f32 mm/yr,
//! display-referenced) for kinds `v-d`, `v-do`, `v-dso`, `v-so`.

use crate::stages::scla::reference::{deramp, master_index, reference_phase, setref, used_ifgs, var};
use crate::num::{pinv, Mat};
use crate::stages::arrays::Artifact;
use crate::stages::select::mat::{to_f32_2d, to_f64};
use crate::stages::params::ParamMap;
use ndarray::Array2;

/// The phase the 'v' fit uses: ph_uw minus the terms of `kind` (n x N f32).
pub fn velocity_phase(
    ps2: &Artifact,
    phuw2: &Artifact,
    scla2: Option<&Artifact>,
    ph_scn_slave: Option<&Array2<f64>>,
    kind: &str,
    threads: usize,
) -> Result<Array2<f32>, String> {
    let k = kind.trim().to_lowercase();
    if !k.starts_with('v') || (k.len() > 1 && !k.starts_with("v-")) {
        return Err(format!("velocity kind must be 'v' or 'v-<letters>' (d, s, o), got {kind:?}"));
    }
    let letters: &str = if k.len() > 1 { &k[2..] } else { "" };
    if let Some(bad) = letters.chars().find(|c| !"dso".contains(*c)) {
        return Err(format!("velocity kind {kind:?}: unsupported term {bad} (d, s, o)"));
    }
    let mut ph = to_f32_2d(var(phuw2, "ph_uw", "phuw2")?, "phuw2.ph_uw")?;
    if letters.contains('d') {
        let s = scla2.ok_or_else(|| format!("velocity {kind}: needs scla2 (run step 7)"))?;
        let ps = to_f32_2d(var(s, "ph_scla", "scla2")?, "scla2.ph_scla")?;
        if ps.dim() != ph.dim() {
            return Err(format!("scla2.ph_scla {:?} does not match ph_uw {:?}", ps.dim(), ph.dim()));
        }
        ph -= &ps;
        if k == "v-d" {
            let c = to_f32_2d(var(s, "C_ps_uw", "scla2")?, "scla2.C_ps_uw")?;
            for (mut row, cv) in ph.rows_mut().into_iter().zip(c.iter()) {
                row.iter_mut().for_each(|v| *v -= cv);
            }
        }
    }
    if letters.contains('s') {
        let s = ph_scn_slave.ok_or_else(|| format!("velocity {kind}: needs scn2 (run step 8)"))?;
        if s.dim() != ph.dim() {
            return Err(format!("scn2.ph_scn_slave {:?} does not match ph_uw {:?}", s.dim(), ph.dim()));
        }
        ph.zip_mut_with(s, |a, &b| *a -= b as f32);
    }
    if letters.contains('o') {
        deramp(var(ps2, "xy", "ps2")?, &mut ph, 1.0, threads)?;
    }
    Ok(ph)
}

/// `mean_v.m`: 2 x n f32 (row-major (2, n)), generalised LS of the referenced phase on time.
#[allow(clippy::too_many_arguments)]
pub fn velocity_fit(
    ps2: &Artifact,
    phuw2: &Artifact,
    scla2: Option<&Artifact>,
    ph_scn_slave: Option<&Array2<f64>>,
    ifgstd2: Option<&Artifact>,
    p: &ParamMap,
    kind: &str,
    threads: usize,
) -> Result<Array2<f32>, String> {
    if let Some(v) = p.0.get("platform") {
        let s = v.py_str().to_uppercase();
        if s == "ENVISAT" || s == "ASAR" {
            return Err("velocity: the Envisat oscillator-drift correction is not implemented".into());
        }
    }
    let ph = velocity_phase(ps2, phuw2, scla2, ph_scn_slave, kind, threads)?;
    let (n, nn) = ph.dim();
    let m = master_index(ps2)?;
    let u: Vec<usize> = used_ifgs(nn, p, None)?.into_iter().filter(|&k| k != m).collect();
    if u.len() < 2 {
        return Err(format!("velocity: {} interferogram(s) left after drop_ifg_index, need >= 2", u.len()));
    }
    let refi = setref(ps2, p)?;
    let mut phu = Array2::from_shape_fn((n, u.len()), |(i, j)| ph[[i, u[j]]]);
    reference_phase(&mut phu, &refi);
    let day = to_f64(var(ps2, "day", "ps2")?, "ps2.day")?;
    let std = match ifgstd2.and_then(|a| a.iter().find(|(k, _)| k == "ifg_std")) {
        Some((_, s)) => Some(to_f64(s, "ifgstd2.ifg_std")?),
        None => None,
    };
    let sig32: Vec<f32> = match &std {
        Some(s) => {
            if s.len() != nn {
                return Err(format!("ifgstd2 has {} entries, expected {nn}", s.len()));
            }
            u.iter().map(|&k| (s[k] as f32 * std::f32::consts::PI) / 181f32).collect()
        }
        None => vec![1.0; u.len()],
    };
    let mut aw = Mat::zeros(u.len(), 2);
    for (i, &k) in u.iter().enumerate() {
        let s = sig32[i] as f64;
        aw.set(i, 0, 1.0 / s);
        aw.set(i, 1, (day[k] - day[m]) / s);
    }
    let pw = pinv(&aw, 1e-15);
    let p32: Vec<f32> = (0..2 * u.len()).map(|x| pw.at(x / u.len(), x % u.len()) as f32).collect();
    let mut out = Array2::<f32>::zeros((2, n));
    for i in 0..n {
        for r in 0..2 {
            let mut acc = 0f32;
            for j in 0..u.len() {
                let yw = phu[[i, j]] / sig32[j];
                acc += p32[r * u.len() + j] * yw;
            }
            out[[r, i]] = acc;
        }
    }
    Ok(out)
}

/// Mean LOS velocity (n,) f32 mm/yr minus its mean over the reference pixels.
pub fn velocity(mfit: &Array2<f32>, ps2: &Artifact, p: &ParamMap) -> Result<Vec<f32>, String> {
    let lam = p.float("lambda")?;
    if !lam.is_finite() {
        return Err("velocity: parameter lambda is not set".into());
    }
    let mut v: Vec<f32> = mfit
        .row(1)
        .iter()
        .map(|&r| (-(r as f64) * 365.25 / (4.0 * std::f64::consts::PI) * lam * 1000.0) as f32)
        .collect();
    let refi = setref(ps2, p)?;
    let vr: Vec<f64> = refi.iter().map(|&i| v[i] as f64).filter(|x| !x.is_nan()).collect();
    if !vr.is_empty() {
        let mean = (crate::num::pairwise_sum_f64(&vr) / vr.len() as f64) as f32;
        v.iter_mut().for_each(|x| *x -= mean);
    }
    Ok(v)
}
