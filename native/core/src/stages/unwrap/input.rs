//! Step 6 set-up, as the helpers of `pystamps_batch/stages/unwrap/__init__.py` (spec C.6.1):
//! the wrapped phasors w, the terms added back after unwrapping, the mean incidence, the
//! number of trial wraps and the interferograms to unwrap.

use super::f32ops::{angle, cmul, cmul_conj, expi32, unit_or_zero};
use crate::stages::arrays::{Artifact, MatArray, MatData};
use crate::stages::scla::reference::var;
use crate::stages::select::mat::{to_c64, to_f32_2d, to_f64};
use crate::stages::params::ParamMap;
use ndarray::Array2;
use num_complex::Complex32;

/// Satellite range (m) used for the maximum look-angle error, as in StaMPS.
pub const RHO: f64 = 830000.0;

/// The wrapped phasors and what to add back to the unwrapped phase afterwards.
pub struct Wrapped {
    /// (n, N) complex64 unit phasors (0 stays 0)
    pub w: Array2<Complex32>,
    /// (name, (n, N) f32 phase) in the order they are added back
    pub addback: Vec<(&'static str, Array2<f32>)>,
}

fn present<'a>(art: &'a Artifact, name: &str) -> Option<&'a MatArray> {
    art.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// w (C.6.1 steps 2-3): `ph_rc * exp(+i K_ps B~)` normalised (or the patch phase with
/// `unwrap_patch_phase`), minus scla_smooth2's `K_uw B~ + C_uw` (+ ramp) when that artifact
/// has n rows. `btil`: (n, N) f32; `master_ix` 1-based.
pub fn wrapped_input(
    rc2: &Artifact,
    pm2: &Artifact,
    scla: Option<&Artifact>,
    p: &ParamMap,
    btil: &Array2<f32>,
    master_ix: usize,
    log: &dyn Fn(&str),
) -> Result<Wrapped, String> {
    let (n, nn) = btil.dim();
    let rc = to_c64(var(rc2, "ph_rc", "rc2")?, "rc2.ph_rc")?;
    let mut addback: Vec<(&'static str, Array2<f32>)> = Vec::new();
    let mut w: Array2<Complex32>;
    if p.0.contains_key("unwrap_patch_phase") && p.flag("unwrap_patch_phase")? {
        let patch = to_c64(var(pm2, "ph_patch", "pm2")?, "pm2.ph_patch")?;
        if patch.nrows() != n || patch.ncols() + 1 != nn {
            return Err(format!("ps_unwrap: pm2.ph_patch is {:?}, expected ({n}, {})", patch.dim(), nn - 1));
        }
        let mc = master_ix - 1;
        let full = Array2::from_shape_fn((n, nn), |(i, k)| match k.cmp(&mc) {
            std::cmp::Ordering::Less => patch[[i, k]],
            std::cmp::Ordering::Equal => Complex32::new(1.0, 0.0),
            std::cmp::Ordering::Greater => patch[[i, k - 1]],
        });
        let add = Array2::from_shape_fn((n, nn), |(i, k)| angle(cmul_conj(rc[[i, k]], unit_or_zero(full[[i, k]]))));
        addback.push(("patch", add));
        w = full;
    } else {
        let k_ps = to_f64(var(pm2, "K_ps", "pm2")?, "pm2.K_ps")?;
        if k_ps.len() != n {
            return Err(format!("ps_unwrap: pm2.K_ps has {} values for {n} PS", k_ps.len()));
        }
        w = Array2::from_shape_fn((n, nn), |(i, k)| cmul(rc[[i, k]], expi32(k_ps[i] as f32 * btil[[i, k]])));
    }
    w.mapv_inplace(unit_or_zero);
    if let Some(scla) = scla {
        let k_uw = match present(scla, "K_ps_uw") {
            Some(a) => to_f64(a, "scla_smooth2.K_ps_uw")?,
            None => vec![],
        };
        if k_uw.len() == n && n > 0 {
            log("subtracting scla_smooth2 (K_ps_uw, C_ps_uw) before unwrapping");
            let kb = Array2::from_shape_fn((n, nn), |(i, k)| k_uw[i] as f32 * btil[[i, k]]);
            let c: Vec<f32> = match &var(scla, "C_ps_uw", "scla_smooth2")?.data {
                MatData::F32(v) => v.clone(),
                _ => to_f64(var(scla, "C_ps_uw", "scla_smooth2")?, "scla_smooth2.C_ps_uw")?.iter().map(|&x| x as f32).collect(),
            };
            if c.len() != n {
                return Err(format!("ps_unwrap: scla_smooth2.C_ps_uw has {} values for {n} PS", c.len()));
            }
            w.indexed_iter_mut().for_each(|((i, k), z)| *z = cmul(*z, expi32(-kb[[i, k]])));
            w.indexed_iter_mut().for_each(|((i, _), z)| *z = cmul(*z, expi32(-c[i])));
            addback.push(("scla_K", kb));
            addback.push(("scla_C", Array2::from_shape_fn((n, nn), |(i, _)| c[i])));
            let deramp = p.0.contains_key("scla_deramp") && p.flag("scla_deramp")?;
            if let Some(r) = present(scla, "ph_ramp") {
                if deramp && r.rows == n && r.rows * r.cols > 0 {
                    let ramp = to_f32_2d(r, "scla_smooth2.ph_ramp")?;
                    if ramp.dim() != (n, nn) {
                        return Err(format!("ps_unwrap: scla_smooth2.ph_ramp is {:?}, expected ({n}, {nn})", ramp.dim()));
                    }
                    w.indexed_iter_mut().for_each(|((i, k), z)| *z = cmul(*z, expi32(-ramp[[i, k]])));
                    addback.push(("ramp", ramp));
                }
            }
        } else {
            log(&format!(
                "scla_smooth2 has {} rows, not {n}: subtraction skipped (StaMPS deletes that file)",
                k_uw.len()
            ));
        }
    }
    if p.0.contains_key("subtr_tropo") && p.flag("subtr_tropo")? {
        log("subtr_tropo='y': no tca2 input, tropospheric correction not subtracted");
    }
    Ok(Wrapped { w, addback })
}

/// Mean incidence (rad): `ps2.mean_incidence`, else `mean(la2.la) + 0.052`, else 21 degrees.
pub fn incidence_mean(ps2: &Artifact, la2: Option<&Artifact>) -> Result<f64, String> {
    if let Some(a) = present(ps2, "mean_incidence") {
        if a.rows * a.cols > 0 {
            return Ok(to_f64(a, "ps2.mean_incidence")?[0]);
        }
    }
    if let Some(la) = la2.and_then(|l| present(l, "la")) {
        if la.rows * la.cols > 0 {
            let v = to_f64(la, "la2.la")?;
            return Ok(crate::num::pairwise_sum_f64(&v) / v.len() as f64 + 0.052);
        }
    }
    Ok(21.0 * std::f64::consts::PI / 180.0)
}

/// `n_trial_wraps = range(ps.bperp) * K_max / 2 pi` (C.6.1 step 5).
pub fn trial_wraps(p: &ParamMap, bperp: &[f64], inc_mean: f64) -> Result<f64, String> {
    let lam = p.float("lambda")?;
    if !lam.is_finite() {
        return Err("ps_unwrap: parameter 'lambda' is not set (needed for n_trial_wraps)".into());
    }
    let pi = std::f64::consts::PI;
    let max_k = p.float("max_topo_err")? / (lam * RHO * inc_mean.sin() / 4.0 / pi);
    let (lo, hi) = bperp.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &b| (l.min(b), h.max(b)));
    Ok((hi - lo) * max_k / (2.0 * pi))
}

/// U: 1-based ifg columns to unwrap (all but the master and `drop_ifg_index`).
pub fn unwrap_index(n_ifg: usize, master_day: f64, day: &[f64], drop: &[i64]) -> Vec<usize> {
    let master = day.iter().filter(|&&d| master_day > d).count() + 1;
    (1..=n_ifg).filter(|&k| k != master && !drop.contains(&(k as i64))).collect()
}

/// `datestr(dn)` as `YYYYMMDD` for a MATLAB datenum (proleptic Gregorian).
pub fn datestr(dn: f64) -> String {
    // days since 1970-01-01 (datenum 719529), then the civil-from-days conversion
    let z = dn.round_ties_even() as i64 - 719529 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}{m:02}{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datestr_of_known_datenums() {
        assert_eq!(datestr(737426.0), "20190101"); // datenum(2019,1,1)
        assert_eq!(datestr(730486.0), "20000101");
        assert_eq!(datestr(730545.0), "20000229");
        assert_eq!(datestr(719529.0), "19700101");
    }

    #[test]
    fn unwrap_index_skips_master_and_drops() {
        let day = [10.0, 20.0, 30.0, 40.0];
        assert_eq!(unwrap_index(4, 20.0, &day, &[4]), vec![1, 3]);
    }

}
