//! The table of native stage implementations the runner dispatches to, and the file
//! reading around the pure stage functions of `pystamps_core::stages`.
//!
//! Native now: stage 1 (`ps_load_initial`, both flavours, via `pystamps_io::dataset`),
//! stage 2 (`ps_est_gamma_quick`, `pystamps_core::stages::gamma`), stage 3 (`ps_select`,
//! `pystamps_core::stages::select`), stage 4 (`ps_weed`, `pystamps_core::stages::weed`),
//! stage 5a (`ps_correct_phase`, `pystamps_core::stages::correct`), 5b
//! (`ps_merge_patches` + `ps_calc_ifg_std`, `pystamps_core::stages::merge`), stage 7
//! (`ps_calc_scla`, `pystamps_core::stages::scla`) and stage 8 (`ps_scn_filt` + the
//! velocity products, `pystamps_core::stages::scn`), stage 6 (`ps_unwrap`,
//! `pystamps_core::stages::unwrap`, running the same snaphu executable as the Python side).
//! A stage missing from [`native_stage`] is refused by the runner (one line, exit 2);
//! it never falls back to Python.

use std::path::{Path, PathBuf};

use pystamps_core::stages::arrays::{Artifact, StageOutputs};
use pystamps_io::mat;
use pystamps_io::params::Params;
use pystamps_io::units::mat_path;

/// What a native stage gets for one unit.
pub struct Ctx<'a> {
    pub root: &'a Path,
    pub folder: &'a Path,
    /// the patch name for a patch unit
    pub patch: Option<&'a str>,
    pub params: &'a Params,
    /// kernel threads (0 = the CPU budget)
    pub threads: usize,
    pub log: &'a mut dyn FnMut(&str),
}

/// A stage's artifacts plus N-d dimensions to write for some variables (artifact, variable, dims).
pub struct Produced {
    pub outputs: StageOutputs,
    pub dims: Vec<(String, String, Vec<usize>)>,
    /// kernel registry names this stage ran natively
    pub kernels: &'static [&'static str],
}

pub type StageFn = fn(&mut Ctx) -> Result<Produced, String>;

/// The native implementation of a stage label, if there is one.
pub fn native_stage(label: &str) -> Option<StageFn> {
    match label {
        "1" => Some(stage1),
        "2" => Some(stage2),
        "3" => Some(stage3),
        "4" => Some(stage4),
        "5a" => Some(stage5a),
        "5b" => Some(stage5b),
        "6" => Some(stage6),
        "7" => Some(stage7),
        "8" => Some(stage8),
        _ => None,
    }
}

/// Labels implemented natively (for messages and --help).
pub const NATIVE_LABELS: &[&str] = &["1", "2", "3", "4", "5a", "5b", "6", "7", "8"];

fn stage1(ctx: &mut Ctx) -> Result<Produced, String> {
    let patch = ctx.patch.ok_or("stage 1 runs per patch")?;
    let (outputs, notes) = pystamps_io::dataset::load_patch(ctx.root, patch)?;
    for n in notes {
        (ctx.log)(&n);
    }
    Ok(Produced { outputs, dims: vec![], kernels: &[] })
}

fn read_artifact(folder: &Path, name: &str) -> Result<Artifact, String> {
    mat::read_mat(&mat_path(folder, name)).map(|f| f.into_artifact()).map_err(|e| e.0)
}

fn read_optional(folder: &Path, name: &str) -> Result<Option<Artifact>, String> {
    let p: PathBuf = mat_path(folder, name);
    if p.is_file() { read_artifact(folder, name).map(Some) } else { Ok(None) }
}

fn num(p: &Params, name: &str) -> Result<f64, String> {
    p.f64(name).ok_or_else(|| format!("parameter {name}: expected a number"))
}

fn stage2(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::gamma::{self, GammaInputs, GammaParams};
    let f = ctx.folder;
    let inp = GammaInputs {
        ps1: read_artifact(f, "ps1")?,
        ph1: read_artifact(f, "ph1")?,
        bp1: read_artifact(f, "bp1")?,
        da1: read_optional(f, "da1")?,
        la1: read_optional(f, "la1")?,
        inc1: read_optional(f, "inc1")?,
    };
    let p = ctx.params;
    let gp = GammaParams {
        filter_grid_size: num(p, "filter_grid_size")?,
        filter_weighting: p.get("filter_weighting").and_then(|v| v.as_str()).unwrap_or("P-square").to_string(),
        clap_win: num(p, "clap_win")? as i64,
        clap_alpha: num(p, "clap_alpha")?,
        clap_beta: num(p, "clap_beta")?,
        clap_low_pass_wavelength: num(p, "clap_low_pass_wavelength")?,
        gamma_change_convergence: num(p, "gamma_change_convergence")?,
        gamma_max_iterations: num(p, "gamma_max_iterations")? as i64,
        max_topo_err: num(p, "max_topo_err")?,
        lambda: num(p, "lambda")?,
    };
    let pm1 = gamma::run(&inp, &gp, ctx.threads, ctx.log)?;
    let mut dims = vec![];
    if let Some((a, b, c)) = gamma::ph_grid_dims(&pm1) {
        dims.push(("pm1".to_string(), "ph_grid".to_string(), vec![a, b, c]));
    }
    Ok(Produced {
        outputs: vec![("pm1".to_string(), pm1)],
        dims,
        kernels: &[
            "stage2_grid_accumulate",
            "stage2_clap_filter",
            "stage2_topofit",
            "stage2_histogram",
            "stage2_random_phase_coh",
        ],
    })
}

/// The effective parameters as the stage modules' [`ParamMap`] (Python types kept).
fn param_map(p: &Params) -> pystamps_core::stages::params::ParamMap {
    use pystamps_core::stages::params::{ParamMap, ParamValue};
    use pystamps_io::params::Value;
    let mut m = ParamMap::new();
    for (k, v) in &p.values {
        let pv = match v {
            Value::Int(i) => ParamValue::Int(*i),
            Value::Float(x) => ParamValue::Float(*x),
            Value::Str(s) => ParamValue::Text(s.clone()),
            Value::All => ParamValue::Text("all".into()),
            Value::List(xs, ints) => ParamValue::List(
                xs.iter()
                    .map(|&x| if *ints && x.fract() == 0.0 { ParamValue::Int(x as i64) } else { ParamValue::Float(x) })
                    .collect(),
            ),
        };
        m.0.insert(k.clone(), pv);
    }
    m
}

fn get<'a>(art: &'a Artifact, name: &str, what: &str) -> Result<&'a pystamps_core::stages::arrays::MatArray, String> {
    art.iter().find(|(k, _)| k == name).map(|(_, v)| v).ok_or_else(|| format!("{what}.mat: missing variable {name}"))
}

fn stage3(ctx: &mut Ctx) -> Result<Produced, String> {
    use ndarray::{s, Array3, ShapeBuilder};
    use pystamps_core::stages::select::mat::{scalar, to_c64, to_f32_2d, to_f64};
    use pystamps_core::stages::select::{self, SelectInputs};
    let f = ctx.folder;
    let ps1 = read_artifact(f, "ps1")?;
    let ph1 = read_artifact(f, "ph1")?;
    let bp1 = read_artifact(f, "bp1")?;
    let pm1f = mat::read_mat(&mat_path(f, "pm1")).map_err(|e| e.0)?;
    let nd = pm1f.nd_dims.clone();
    let pm1 = pm1f.into_artifact();
    let da1 = read_optional(f, "da1")?;
    let xy = to_f32_2d(get(&ps1, "xy", "ps1")?, "ps1.xy")?;
    if xy.ncols() < 3 {
        return Err("ps1.xy must have 3 columns".into());
    }
    let g = get(&pm1, "ph_grid", "pm1")?;
    let gdims = nd.iter().find(|(n, _)| n == "ph_grid").map(|(_, d)| d.clone()).unwrap_or_else(|| vec![g.rows, g.cols, 1]);
    if gdims.len() != 3 {
        return Err(format!("pm1.ph_grid: expected 3 dimensions, found {gdims:?}"));
    }
    let gflat = to_c64(g, "pm1.ph_grid")?;
    let gvec: Vec<_> = gflat.t().iter().copied().collect(); // column-major order of the 2-D view
    let ph_grid = Array3::from_shape_vec((gdims[0], gdims[1], gdims[2]).f(), gvec).map_err(|e| format!("pm1.ph_grid: {e}"))?;
    let grid_ij = to_f64(get(&pm1, "grid_ij", "pm1")?, "pm1.grid_ij")?;
    let gij = get(&pm1, "grid_ij", "pm1")?;
    let grid_ij = ndarray::Array2::from_shape_vec((gij.rows, gij.cols).f(), grid_ij.into_iter().map(|x| x as i64).collect())
        .map_err(|e| format!("pm1.grid_ij: {e}"))?;
    let inp = SelectInputs {
        n_ps: scalar(get(&ps1, "n_ps", "ps1")?, "ps1.n_ps")? as usize,
        n_ifg: scalar(get(&ps1, "n_ifg", "ps1")?, "ps1.n_ifg")? as usize,
        master_ix: scalar(get(&ps1, "master_ix", "ps1")?, "ps1.master_ix")? as usize,
        xy: xy.slice(s![.., 1..3]).to_owned(),
        bperp: to_f64(get(&ps1, "bperp", "ps1")?, "ps1.bperp")?,
        ph: to_c64(get(&ph1, "ph", "ph1")?, "ph1.ph")?,
        bperp_mat: to_f32_2d(get(&bp1, "bperp_mat", "bp1")?, "bp1.bperp_mat")?,
        coh_ps: to_f64(get(&pm1, "coh_ps", "pm1")?, "pm1.coh_ps")?,
        k_ps: to_f64(get(&pm1, "K_ps", "pm1")?, "pm1.K_ps")?,
        c_ps: to_f64(get(&pm1, "C_ps", "pm1")?, "pm1.C_ps")?,
        nr: to_f64(get(&pm1, "Nr", "pm1")?, "pm1.Nr")?,
        ph_grid,
        grid_ij,
        low_pass: to_f32_2d(get(&pm1, "low_pass", "pm1")?, "pm1.low_pass")?,
        n_trial_wraps: scalar(get(&pm1, "n_trial_wraps", "pm1")?, "pm1.n_trial_wraps")?,
        ph_patch: to_c64(get(&pm1, "ph_patch", "pm1")?, "pm1.ph_patch")?,
        ph_res: to_f32_2d(get(&pm1, "ph_res", "pm1")?, "pm1.ph_res")?,
        d_a: match &da1 {
            Some(a) => Some(to_f64(get(a, "D_A", "da1")?, "da1.D_A")?),
            None => None,
        },
    };
    let pm = param_map(ctx.params);
    let threads = ctx.threads;
    let out = with_logged(ctx, |log| select::run(&inp, &pm, threads, log));
    Ok(Produced {
        outputs: vec![("select1".to_string(), out?)],
        dims: vec![],
        kernels: &["stage2_histogram", "stage3_patch_phase", "stage2_topofit"],
    })
}

fn stage4(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::weed::{self, WeedInputs};
    let f = ctx.folder;
    let one = |art: &str, var: &str| -> Result<pystamps_core::stages::arrays::MatArray, String> {
        let a = read_artifact(f, art)?;
        get(&a, var, art).cloned()
    };
    let maybe = |art: &str, var: &str| -> Result<Option<pystamps_core::stages::arrays::MatArray>, String> {
        match read_optional(f, art)? {
            Some(a) => get(&a, var, art).cloned().map(Some),
            None => Ok(None),
        }
    };
    let inp = WeedInputs {
        ps1: read_artifact(f, "ps1")?,
        select1: read_artifact(f, "select1")?,
        ph: one("ph1", "ph")?,
        ph_patch: one("pm1", "ph_patch")?,
        bperp_mat: one("bp1", "bperp_mat")?,
        hgt: maybe("hgt1", "hgt")?,
        la: maybe("la1", "la")?,
        inc: maybe("inc1", "inc")?,
    };
    let pm = param_map(ctx.params);
    let threads = ctx.threads;
    let out = with_logged(ctx, |log| weed::run(&inp, &pm, threads, log));
    Ok(Produced { outputs: out?, dims: vec![], kernels: &["stage4_edge_stats"] })
}


/// Runs a stage whose log callback is `&(dyn Fn(&str) + Sync)` (it may be called from worker
/// threads) on a scoped thread and forwards its lines, as they come, to the unit's logger
/// (which is not thread-safe) on this thread, in the order they were sent.
fn with_logged<T: Send>(ctx: &mut Ctx, f: impl FnOnce(&(dyn Fn(&str) + Sync)) -> T + Send) -> T {
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let local = pystamps_core::pool::local_pool();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            pystamps_core::pool::set_local_pool(local);
            let tx = std::sync::Mutex::new(tx);
            let log = |m: &str| {
                if let Ok(t) = tx.lock() {
                    let _ = t.send(m.to_string());
                }
            };
            f(&log)
        });
        for line in rx {
            (ctx.log)(&line);
        }
        match worker.join() {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Stage 6 (`ps_unwrap`, `pystamps_core::stages::unwrap`) on the merged root: snaphu is the
/// one `locate_snaphu` finds (`$PYSTAMPS_SNAPHU`, the `snaphu` wheel of a Python environment,
/// or `snaphu` on PATH), scratch folders go under `$PYSTAMPS_SCRATCH` (else `$TMPDIR`, /tmp).
fn stage6(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::unwrap::{self, snaphu::locate_snaphu, SnaphuRun, UnwrapInputs};
    let exe = locate_snaphu(None)?; // fail fast, before reading anything
    let f = ctx.folder;
    let ps2 = read_artifact(f, "ps2")?;
    let mut scla_smooth2 = read_optional(f, "scla_smooth2")?;
    if let Some(sm) = &scla_smooth2 {
        let n_xy = get(&ps2, "xy", "ps2")?.rows;
        if let Some((_, k)) = sm.iter().find(|(k, _)| k == "K_ps_uw") {
            if k.rows != n_xy {
                // as ps_unwrap: a scla_smooth2 of another PS set (before a re-merge) is deleted, not used
                let _ = std::fs::remove_file(mat_path(f, "scla_smooth2"));
                scla_smooth2 = None;
                (ctx.log)("scla_smooth2.mat belonged to another PS set (row count differs): deleted");
            }
        }
    }
    let inp = UnwrapInputs {
        ps2,
        rc2: read_artifact(f, "rc2")?,
        pm2: read_artifact(f, "pm2")?,
        bp2: read_artifact(f, "bp2")?,
        la2: read_optional(f, "la2")?,
        scla_smooth2,
    };
    let scratch: PathBuf = match std::env::var_os("PYSTAMPS_SCRATCH").filter(|v| !v.is_empty()) {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(std::env::var_os("TMPDIR").unwrap_or_else(|| "/tmp".into())),
    };
    let pm = param_map(ctx.params);
    let threads = ctx.threads;
    let how = SnaphuRun { exe: &exe, scratch_dir: Some(&scratch), workers: threads };
    let out = with_logged(ctx, |log| unwrap::run(&inp, &pm, &how, threads, log));
    Ok(Produced { outputs: out?, dims: vec![], kernels: &[] })
}

/// Stage 5a (`ps_correct_phase`, per patch): `rc2` from ps2, pm2, bp2, ph2.
fn stage5a(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::correct::{self, CorrectInputs};
    let f = ctx.folder;
    let (ps2, ph2, pm2, bp2) =
        (read_artifact(f, "ps2")?, read_artifact(f, "ph2")?, read_artifact(f, "pm2")?, read_artifact(f, "bp2")?);
    let inp = CorrectInputs::from_artifacts(&ps2, &ph2, &pm2, &bp2)?;
    let out = with_logged(ctx, |log| correct::run(&inp, log));
    Ok(Produced { outputs: out?, dims: vec![], kernels: &[] })
}

/// One patch folder for the merge, as `pystamps_batch.stages.merge.load_patch`: a patch
/// whose no_ps_info.mat flags any step is empty; otherwise patch_noover.in and the
/// PATCH_READS artifacts are required, PATCH_OPTIONAL ones read when present.
fn merge_patch(name: &str, dir: &Path) -> Result<pystamps_core::stages::merge::PatchArrays, String> {
    use pystamps_core::stages::merge::{parse_noover, PatchArrays, PATCH_OPTIONAL, PATCH_READS};
    let info = mat_path(dir, "no_ps_info");
    if info.is_file() {
        let f = mat::read_mat(&info).map_err(|e| format!("merge: patch {name}: {}", e.0))?;
        let flagged = f.get("stamps_step_no_ps").map(|a| {
            pystamps_core::stages::select::mat::to_f64(a, "stamps_step_no_ps").map(|v| v.iter().any(|&x| x != 0.0))
        });
        if let Some(flag) = flagged {
            if flag? {
                return Ok(PatchArrays { name: name.into(), noover: [0; 4], arrays: Default::default(), empty: true });
            }
        }
    }
    let np = dir.join("patch_noover.in");
    if !np.is_file() {
        return Err(format!("merge: patch {name} lacks patch_noover.in ({})", np.display()));
    }
    let text = std::fs::read_to_string(&np).map_err(|e| format!("{}: cannot read patch_noover.in ({e})", np.display()))?;
    let noover = parse_noover(&text, &np.display().to_string())?;
    let mut arrays = pystamps_core::stages::select::Artifacts::new();
    for art in PATCH_READS.iter().chain(PATCH_OPTIONAL) {
        let p = mat_path(dir, art);
        if !p.is_file() {
            if PATCH_READS.contains(art) {
                return Err(format!("merge: patch {name} lacks {art}.mat ({})", p.display()));
            }
            continue;
        }
        let a = mat::read_mat(&p).map(|f| f.into_artifact()).map_err(|e| format!("merge: patch {name}: {}", e.0))?;
        arrays.insert(art.to_string(), a);
    }
    Ok(PatchArrays { name: name.into(), noover, arrays, empty: false })
}

/// Stage 5b (`ps_merge_patches` + `ps_calc_ifg_std`, at the root): every patch of the
/// dataset in patch-list order (empty ones skipped) -> ps2 ph2 rc2 pm2 bp2 la2 hgt2 inc2
/// (+ phuw2 / scla2 / scn2 as the Python stage) and ifgstd2.
fn stage5b(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::merge;
    let ds = pystamps_io::layout::open_layout(ctx.root).map_err(|e| e.0)?;
    let mut patches = Vec::with_capacity(ds.patches.len());
    for p in &ds.patches {
        let pa = merge_patch(&p.name, &p.path)?;
        if pa.empty {
            (ctx.log)(&format!("merge: {} has no PS left (no_ps_info.mat): skipped", p.name));
        }
        patches.push(pa);
    }
    let heading = ctx.params.f64("heading").unwrap_or(f64::NAN);
    let out = with_logged(ctx, |log| merge::run(patches, heading, log));
    Ok(Produced { outputs: out?, dims: vec![], kernels: &[] })
}

/// Stage 7 (`ps_calc_scla` + `ps_smooth_scla`, `pystamps_core::stages::scla`) on the merged root.
fn stage7(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::scla::{self, SclaInputs};
    let f = ctx.folder;
    let inp = SclaInputs {
        ps2: read_artifact(f, "ps2")?,
        bp2: read_artifact(f, "bp2")?,
        phuw2: read_artifact(f, "phuw2")?,
        ifgstd2: read_optional(f, "ifgstd2")?,
    };
    let pm = param_map(ctx.params);
    let threads = ctx.threads;
    let out = with_logged(ctx, |log| scla::run(&inp, &pm, threads, log));
    Ok(Produced { outputs: out?, dims: vec![], kernels: &["stage7_scla"] })
}

/// Stage 8 (`ps_scn_filt` + `mean_v` and the `ps_plot_v-*` products, `pystamps_core::stages::scn`).
fn stage8(ctx: &mut Ctx) -> Result<Produced, String> {
    use pystamps_core::stages::scn::{self, ScnInputs};
    let f = ctx.folder;
    let inp = ScnInputs {
        ps2: read_artifact(f, "ps2")?,
        phuw2: read_artifact(f, "phuw2")?,
        scla2: read_optional(f, "scla2")?,
        ifgstd2: read_optional(f, "ifgstd2")?,
    };
    let pm = param_map(ctx.params);
    let threads = ctx.threads;
    let out = with_logged(ctx, |log| scn::run(&inp, &pm, threads, log));
    Ok(Produced { outputs: out?, dims: vec![], kernels: &["stage8_edge_noise"] })
}
