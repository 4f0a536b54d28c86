//! Stage 6 as one function from named arrays to named arrays: `pystamps_batch.stages.unwrap.run`.

use super::arcs::uw_interp;
use super::costs::cost_model;
use super::from_grid::uw_unwrap_from_grid;
use super::grid::uw_grid_wrapped;
use super::input::{datestr, incidence_mean, trial_wraps, unwrap_index, wrapped_input};
use super::snaphu::{solve_all, SnaphuProblem};
use super::space_time::uw_space_time;
use crate::stages::arrays::{MatArray, MatData, StageOutputs};
use crate::stages::scla::reference::{expand_bperp, var};
use crate::stages::select::mat::{col_f64, mat_f32, scalar, to_f32_2d, to_f64};
use crate::stages::params::ParamMap;
use ndarray::{s, Array2};
use std::path::Path;

/// The artifacts stage 6 reads (merged root): `ps2 rc2 pm2 bp2`, optionally `la2` and
/// `scla_smooth2` (the caller drops a `scla_smooth2` of another PS set, as StaMPS deletes it).
pub struct UnwrapInputs {
    pub ps2: crate::stages::arrays::Artifact,
    pub rc2: crate::stages::arrays::Artifact,
    pub pm2: crate::stages::arrays::Artifact,
    pub bp2: crate::stages::arrays::Artifact,
    pub la2: Option<crate::stages::arrays::Artifact>,
    pub scla_smooth2: Option<crate::stages::arrays::Artifact>,
}

/// How stage 6 runs snaphu.
pub struct SnaphuRun<'a> {
    /// the snaphu executable (see [`super::snaphu::locate_snaphu`])
    pub exe: &'a Path,
    /// parent of the per-interferogram scratch folders (None = the system temp)
    pub scratch_dir: Option<&'a Path>,
    /// interferograms unwrapped at once (0 = all cores)
    pub workers: usize,
}

const METHODS_3D: [&str; 3] = ["3D", "3D_NEW", "3D_FULL"];

/// Settings this single-master '3D_FULL' implementation does not cover (one line each).
fn check_params(p: &ParamMap) -> Result<(), String> {
    let flag = |k: &str| -> Result<bool, String> { if p.0.contains_key(k) { p.flag(k) } else { Ok(false) } };
    if flag("small_baseline_flag")? {
        return Err("ps_unwrap: small_baseline_flag='y' is not supported (single-master PS only)".into());
    }
    let method = p.text("unwrap_method")?;
    if !METHODS_3D.contains(&method.to_uppercase().as_str()) {
        return Err(format!(
            "ps_unwrap: unwrap_method='{method}' is not supported (expected one of {}; single master runs '3D_FULL')",
            METHODS_3D.join(", ")
        ));
    }
    if flag("unwrap_spatial_cost_func_flag")? {
        return Err("ps_unwrap: unwrap_spatial_cost_func_flag='y' is not supported (use 'n', the default)".into());
    }
    Ok(())
}

/// StaMPS step 6 on the merged root (spec C.6): `uw_grid uw_interp uw_space_time uw_phaseuw phuw2`.
pub fn run(
    inp: &UnwrapInputs,
    p: &ParamMap,
    snaphu: &SnaphuRun,
    threads: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<StageOutputs, String> {
    let t0 = std::time::Instant::now();
    check_params(p)?;
    let ps = &inp.ps2;
    let n_ps = scalar(var(ps, "n_ps", "ps2")?, "ps2.n_ps")? as usize;
    let n_ifg = scalar(var(ps, "n_ifg", "ps2")?, "ps2.n_ifg")? as usize;
    let master_ix = scalar(var(ps, "master_ix", "ps2")?, "ps2.master_ix")? as usize;
    let days = to_f64(var(ps, "day", "ps2")?, "ps2.day")?;
    let master_day = scalar(var(ps, "master_day", "ps2")?, "ps2.master_day")?;
    if days.windows(2).any(|w| w[1] - w[0] < 0.0) {
        return Err("ps_unwrap: ps2.day is not in ascending date order; StaMPS' 3D_FULL anchoring requires \
                    date-sorted interferograms (re-run stage 1 with a sorted file list)"
            .into());
    }
    let day: Vec<f64> = days.iter().map(|d| d - master_day).collect();
    let bperp = to_f64(var(ps, "bperp", "ps2")?, "ps2.bperp")?;
    if master_ix < 1 {
        return Err(format!("ps_unwrap: ps2.master_ix = {master_ix} is not a 1-based index"));
    }
    let bmat = var(&inp.bp2, "bperp_mat", "bp2")?;
    let btil = expand_bperp(bmat, master_ix - 1)?;
    let rc = var(&inp.rc2, "ph_rc", "rc2")?;
    if btil.dim() != (n_ps, n_ifg) || (rc.rows, rc.cols) != (n_ps, n_ifg) {
        return Err(format!(
            "ps_unwrap: inconsistent inputs: ps2 has {n_ps} PS x {n_ifg} ifgs, rc2.ph_rc ({}, {}), bp2.bperp_mat ({}, {})",
            rc.rows,
            rc.cols,
            bmat.rows,
            bmat.cols
        ));
    }
    let wrapped = wrapped_input(&inp.rc2, &inp.pm2, inp.scla_smooth2.as_ref(), p, &btil, master_ix, log)?;
    let drop = p.index_list("drop_ifg_index")?;
    let u = unwrap_index(n_ifg, master_day, &days, &drop);
    let ui0: Vec<usize> = u.iter().map(|k| k - 1).collect();
    let ntw = trial_wraps(p, &bperp, incidence_mean(ps, inp.la2.as_ref())?)?;
    log(&format!("unwrapping {} interferograms of {n_ps} PS (n_trial_wraps {ntw:.4})", u.len()));

    let w_u = Array2::from_shape_fn((n_ps, ui0.len()), |(i, j)| wrapped.w[[i, ui0[j]]]);
    let xy_all = to_f32_2d(var(ps, "xy", "ps2")?, "ps2.xy")?;
    if xy_all.ncols() < 3 || xy_all.nrows() != n_ps {
        return Err(format!("ps2.xy is {:?}, expected ({n_ps}, 3)", xy_all.dim()));
    }
    let xy = xy_all.slice(s![.., 1..3]).to_owned();
    let goldfilt = p.flag("unwrap_prefilter_flag")?;
    let grid = uw_grid_wrapped(
        w_u.view(),
        xy.view(),
        p.float("unwrap_grid_size")?,
        p.int("unwrap_gold_n_win")? as usize,
        goldfilt,
        p.float("unwrap_gold_alpha")?,
        threads,
    )?;
    log(&format!("grid {} x {}, {} nodes", grid.n_i(), grid.n_j(), grid.n_nodes()));
    let interp = uw_interp(grid.nzix.view())?;
    log(&format!("{} arcs", interp.n_edge()));
    let ifgday: Vec<[usize; 2]> = u.iter().map(|&k| [master_ix, k]).collect();
    let bperp_u: Vec<f64> = ui0.iter().map(|&k| bperp[k]).collect();
    let la_flag = p.flag("unwrap_la_error_flag")?;
    let st = uw_space_time(
        grid.ph.view(),
        &interp.edges,
        &day,
        &ifgday,
        &bperp_u,
        ntw,
        p.float("unwrap_time_win")?,
        la_flag,
        threads,
    )?;
    let n_nostats = st.dph_noise.rows().into_iter().filter(|r| r.first().is_some_and(|v| v.is_nan())).count();
    let n_la = st.k.iter().filter(|&&k| k != 0.0).count();
    log(&format!("space-time: {n_la} arcs with look-angle error, {n_nostats} without statistics"));

    let labels: Vec<String> = u.iter().map(|&k| format!("interferogram {k} ({})", datestr(days[k - 1]))).collect();
    let model = cost_model(&interp, st.dph_noise.view());
    let node_cells = grid.node_cells();
    let problem = SnaphuProblem {
        node_ph: grid.ph.view(),
        z: interp.z.view(),
        node_cells: &node_cells,
        model: &model,
        d: st.dph_space_uw.view(),
        noise: st.dph_noise.view(),
        labels: &labels,
        exe: snaphu.exe,
        scratch_dir: snaphu.scratch_dir,
    };
    let total = u.len();
    let last = std::sync::Mutex::new(-1i64);
    let progress = |done: usize, total: usize| {
        let pct = (100 * done / total.max(1)) as i64;
        if let Ok(mut l) = last.lock() {
            if pct.div_euclid(10) > l.div_euclid(10) || done == total {
                *l = pct;
                log(&format!("snaphu: {done}/{total} interferograms unwrapped ({pct}%)"));
            }
        }
    };
    let results = solve_all(&problem, snaphu.workers, &progress)?;
    debug_assert_eq!(results.len(), total);
    let n_nodes = grid.n_nodes();
    let node_uw = Array2::from_shape_fn((n_nodes, total), |(i, j)| results[j].0[i]);
    let msd_u: Vec<f64> = results.iter().map(|r| r.1).collect();

    let ph_u = uw_unwrap_from_grid(grid.ph_in.view(), grid.grid_ij.view(), grid.nzix.view(), node_uw.view());
    let mut ph_uw = Array2::<f32>::zeros((n_ps, n_ifg));
    for (j, &k) in ui0.iter().enumerate() {
        ph_uw.column_mut(k).assign(&ph_u.column(j));
    }
    for (_, term) in &wrapped.addback {
        ph_uw.zip_mut_with(term, |a, &b| *a += b);
    }
    for k in 0..n_ifg {
        if !ui0.contains(&k) {
            ph_uw.column_mut(k).fill(0.0);
        }
    }
    let mut msd = vec![0f32; n_ifg];
    for (j, &k) in ui0.iter().enumerate() {
        msd[k] = msd_u[j] as f32;
    }
    log(&format!("stage 6 done in {:.2} s", t0.elapsed().as_secs_f64()));
    Ok(vec![
        ("uw_grid".into(), grid.to_mat()),
        ("uw_interp".into(), interp.to_mat()),
        ("uw_space_time".into(), st.to_mat()),
        ("uw_phaseuw".into(), vec![("ph_uw".into(), mat_f32(&node_uw)), ("msd".into(), col_f64(msd_u))]),
        (
            "phuw2".into(),
            vec![("ph_uw".into(), mat_f32(&ph_uw)), ("msd".into(), MatArray::column(MatData::F32(msd)))],
        ),
    ])
}
