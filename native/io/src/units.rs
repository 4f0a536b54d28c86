//! Units of work, their state and the run plan, as `pystamps_batch.runner` and
//! `pystamps_batch.dataset.artifacts` define them.
//!
//! Units: stages 1, 2, 3, 4 and 5a per patch (patch list order, all of a patch's stages
//! before the next patch), then 5b, 6, 7 and 8 once at the dataset root ("merged").
//! A unit is `skipped_existing` when complete (all artifacts, marker matching inputs and
//! parameters) unless forced or an upstream unit reruns; the plan lists the files a
//! rerun would write and the dependent files it would remove.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::config::{ConfigError, RunConfig};
use crate::layout::{InputError, Layout};
use crate::markers::{self, State};
use crate::params::{self, Params};

pub const PATCH: &str = "patch";
pub const MERGED: &str = "merged";

/// Which files a stage writes and which parameters it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSpec {
    pub stage: u8,
    pub scope: &'static str,
    pub label: &'static str,
    pub name: &'static str,
    pub writes: &'static [&'static str],
    pub optional_writes: &'static [&'static str],
    pub params: &'static [&'static str],
}

const P2: &[&str] = &[
    "filter_grid_size", "filter_weighting", "clap_win", "clap_low_pass_wavelength", "clap_alpha", "clap_beta",
    "max_topo_err", "lambda", "gamma_change_convergence", "gamma_max_iterations", "small_baseline_flag",
];
const P3: &[&str] = &[
    "slc_osf", "clap_alpha", "clap_beta", "clap_win", "select_method", "density_rand", "percent_rand",
    "gamma_stdev_reject", "drop_ifg_index", "select_reest_gamma_flag", "quick_est_gamma_flag",
];
const P4: &[&str] = &[
    "weed_time_win", "weed_standard_dev", "weed_max_noise", "weed_zero_elevation", "weed_neighbours", "drop_ifg_index",
];
const P6: &[&str] = &[
    "unwrap_method", "unwrap_patch_phase", "unwrap_la_error_flag", "unwrap_spatial_cost_func_flag",
    "unwrap_prefilter_flag", "unwrap_grid_size", "unwrap_gold_n_win", "unwrap_time_win", "unwrap_gold_alpha",
    "unwrap_hold_good_values", "drop_ifg_index", "max_topo_err", "lambda", "scla_deramp", "subtr_tropo", "tropo_method",
];
const P7: &[&str] = &[
    "drop_ifg_index", "scla_drop_index", "scla_method", "scla_deramp", "subtr_tropo", "tropo_method",
    "ref_lon", "ref_lat", "ref_centre_lonlat", "ref_radius",
];
const P8: &[&str] = &[
    "scn_time_win", "scn_deramp_ifg", "scn_wavelength", "drop_ifg_index", "scn_kriging_flag", "lambda",
    "ref_lon", "ref_lat", "ref_centre_lonlat", "ref_radius",
];

/// `pystamps_batch.dataset.artifacts.STAGES`, in the same order.
pub const STAGES: &[StageSpec] = &[
    StageSpec { stage: 1, scope: PATCH, label: "1", name: "ps_load_initial",
        writes: &["ps1", "ph1", "bp1", "la1", "da1", "hgt1"], optional_writes: &[], params: &[] },
    StageSpec { stage: 2, scope: PATCH, label: "2", name: "ps_est_gamma_quick",
        writes: &["pm1"], optional_writes: &[], params: P2 },
    StageSpec { stage: 3, scope: PATCH, label: "3", name: "ps_select",
        writes: &["select1"], optional_writes: &[], params: P3 },
    StageSpec { stage: 4, scope: PATCH, label: "4", name: "ps_weed",
        writes: &["weed1", "ps2", "ph2", "pm2", "bp2", "la2", "hgt2"], optional_writes: &["inc2"], params: P4 },
    StageSpec { stage: 5, scope: PATCH, label: "5a", name: "ps_correct_phase",
        writes: &["rc2"], optional_writes: &[], params: &[] },
    StageSpec { stage: 5, scope: MERGED, label: "5b", name: "ps_merge_patches",
        writes: &["ps2", "ph2", "rc2", "pm2", "bp2", "la2", "hgt2", "inc2", "ifgstd2"],
        optional_writes: &["phuw2", "scla2", "scn2"],
        params: &["merge_resample_size", "merge_standard_dev", "heading"] },
    StageSpec { stage: 6, scope: MERGED, label: "6", name: "ps_unwrap",
        writes: &["uw_grid", "uw_interp", "uw_space_time", "uw_phaseuw", "phuw2"], optional_writes: &[], params: P6 },
    StageSpec { stage: 7, scope: MERGED, label: "7", name: "ps_calc_scla",
        writes: &["scla2", "scla_smooth2"], optional_writes: &[], params: P7 },
    StageSpec { stage: 8, scope: MERGED, label: "8", name: "ps_scn_filt",
        writes: &["scn2", "mean_v", "ps_plot_v-d", "ps_plot_v-do", "ps_plot_v-dso"], optional_writes: &[], params: P8 },
];

/// Prepared-dataset files stage 1 reads at the root (besides the patch's pscands.1.*).
pub const ROOT_INPUTS: &[&str] = &[
    "width.txt", "len.txt", "day.1.in", "master_day.1.in", "bperp.1.in", "look_angle.1.in", "heading.1.in",
    "lambda.1.in", "slc_osfactor.1.in", "calamp.out", "processor.txt", "parms.mat", "rsc.txt", "pscphase.in",
];
pub const PATCH_INPUTS: &[&str] = &["pscands.1.ij", "pscands.1.ph", "pscands.1.ll", "pscands.1.hgt", "pscands.1.da", "patch.in"];

/// `folder/name.mat`
pub fn mat_path(folder: &Path, name: &str) -> PathBuf {
    folder.join(format!("{name}.mat"))
}

/// One unit: a stage on one patch or at the root.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub spec: &'static StageSpec,
    pub target: String,
    pub folder: PathBuf,
    /// index into `Layout::patches` for a patch unit
    pub patch: Option<usize>,
}

impl Unit {
    pub fn label(&self) -> &'static str {
        self.spec.label
    }
    pub fn outputs(&self) -> Vec<PathBuf> {
        self.spec.writes.iter().map(|n| mat_path(&self.folder, n)).collect()
    }
    pub fn optional_outputs(&self) -> Vec<PathBuf> {
        self.spec.optional_writes.iter().map(|n| mat_path(&self.folder, n)).collect()
    }
    fn same(&self, o: &Unit) -> bool {
        self.spec.label == o.spec.label && self.target == o.target && self.spec.scope == o.spec.scope
    }
}

/// Python's `Path.name or str(path)` of the root: the merged units' target.
pub fn root_target(root: &Path) -> String {
    root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| root.display().to_string())
}

/// Every unit of the dataset in execution order.
pub fn all_units(ds: &Layout) -> Vec<Unit> {
    let mut units = Vec::new();
    for (i, p) in ds.patches.iter().enumerate() {
        for s in STAGES.iter().filter(|s| s.scope == PATCH) {
            units.push(Unit { spec: s, target: p.name.clone(), folder: p.path.clone(), patch: Some(i) });
        }
    }
    for s in STAGES.iter().filter(|s| s.scope == MERGED) {
        units.push(Unit { spec: s, target: root_target(&ds.root), folder: ds.root.clone(), patch: None });
    }
    units
}

/// The units of stages `start..=end`.
pub fn select_units(ds: &Layout, start: i64, end: i64) -> Result<Vec<Unit>, ConfigError> {
    if !(1 <= start && start <= end && end <= 8) {
        return Err(ConfigError(format!(
            "invalid stage range {start}..{end}: expected 1 <= start-step <= end-step <= 8"
        )));
    }
    Ok(all_units(ds).into_iter().filter(|u| (start..=end).contains(&(u.spec.stage as i64))).collect())
}

/// Does unit `u` read what unit `d` wrote?
pub fn depends_on(u: &Unit, d: &Unit) -> bool {
    if u.spec.scope == PATCH {
        return d.spec.scope == PATCH && d.target == u.target && d.spec.stage < u.spec.stage;
    }
    if d.spec.scope == PATCH {
        return true;
    }
    d.spec.stage < u.spec.stage || (d.spec.stage == u.spec.stage && d.spec.label < u.spec.label)
}

/// Units whose outputs depend on `unit`.
pub fn dependents<'a>(unit: &Unit, every: &'a [Unit]) -> Vec<&'a Unit> {
    every.iter().filter(|u| !u.same(unit) && depends_on(u, unit)).collect()
}

/// `path` relative to the dataset root (as text), else the path itself.
pub fn rel(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).map(|r| r.display().to_string()).unwrap_or_else(|_| p.display().to_string())
}

/// Completeness of units from artifacts and markers (parameters cached per folder).
pub struct StateOracle<'a> {
    pub ds: &'a Layout,
    pub cfg: &'a RunConfig,
    pub every: Vec<Unit>,
    params: HashMap<PathBuf, Params>,
}

impl<'a> StateOracle<'a> {
    pub fn new(ds: &'a Layout, cfg: &'a RunConfig) -> Self {
        StateOracle { ds, cfg, every: all_units(ds), params: HashMap::new() }
    }

    /// Effective parameters of a unit's folder.
    pub fn params(&mut self, u: &Unit) -> Result<Params, InputError> {
        if !self.params.contains_key(&u.folder) {
            let p = params::load_params(&self.ds.root, &u.folder, &self.cfg.stamps)?;
            self.params.insert(u.folder.clone(), p);
        }
        Ok(self.params[&u.folder].clone())
    }

    /// Raw dataset files a unit reads (stage 1: root and patch inputs; 5b: patch_noover.in).
    pub fn raw_inputs(&self, u: &Unit) -> Vec<PathBuf> {
        let r = &self.ds.root;
        if u.spec.label == "1" {
            let mut files: Vec<PathBuf> = ROOT_INPUTS.iter().map(|n| r.join(n)).collect();
            let mut bp: Vec<PathBuf> = std::fs::read_dir(r)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| {
                            let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                            n.starts_with("bperp_") && n.ends_with(".1.in")
                        })
                        .collect()
                })
                .unwrap_or_default();
            bp.sort();
            files.extend(bp);
            files.extend(self.ds.step1_recorded_inputs());
            files.extend(PATCH_INPUTS.iter().map(|n| u.folder.join(n)));
            return files;
        }
        if u.spec.label == "5b" {
            return self.ds.patches.iter().map(|p| p.path.join("patch_noover.in")).collect();
        }
        vec![]
    }

    /// Fingerprints of what `u` reads now: raw files and its upstream units' outputs.
    pub fn current_inputs(&self, u: &Unit, digest: bool) -> std::io::Result<Map<String, Value>> {
        let mut out = Map::new();
        for p in self.raw_inputs(u) {
            if p.is_file() {
                out.insert(rel(&self.ds.root, &p), markers::file_fp(&p, digest)?);
            }
        }
        let mut owned: BTreeSet<&str> = BTreeSet::new();
        if u.spec.scope == MERGED {
            for w in &self.every {
                if w.spec.scope == MERGED && w.spec.stage >= u.spec.stage {
                    owned.extend(w.spec.writes.iter().copied());
                }
            }
        }
        for d in &self.every {
            if !depends_on(u, d) {
                continue;
            }
            let rec = markers::read_done(&d.folder, d.spec.label);
            for p in d.outputs().into_iter().chain(d.optional_outputs()) {
                let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                if !p.is_file() || (d.folder == u.folder && owned.contains(stem.as_str())) {
                    continue;
                }
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let fp = rec.as_ref().and_then(|r| r.get("outputs")).and_then(|o| o.get(&name)).cloned();
                let v = match fp {
                    Some(fp) if markers::same_file(&p, &fp) => fp,
                    _ => markers::file_fp(&p, digest)?,
                };
                out.insert(rel(&self.ds.root, &p), v);
            }
        }
        Ok(out)
    }

    /// The unit's state (complete | missing | interrupted | stale, with the reason).
    pub fn state(&mut self, u: &Unit) -> Result<State, InputError> {
        if markers::running_path(&u.folder, u.spec.label).is_file() {
            return Ok(State::new("interrupted", "a previous run stopped inside this stage"));
        }
        let missing: Vec<String> = u
            .outputs()
            .iter()
            .filter(|p| !p.is_file())
            .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect();
        if !missing.is_empty() {
            return Ok(State::new("missing", format!("missing {}", missing.join(", "))));
        }
        let Some(rec) = markers::read_done(&u.folder, u.spec.label) else {
            let mut s = State::new("complete", "artifacts without a pystamps marker (trusted)");
            s.foreign = true;
            return Ok(s);
        };
        let empty = Map::new();
        let outs = rec.get("outputs").and_then(Value::as_object).unwrap_or(&empty);
        for (name, fp) in outs {
            if !markers::same_file(&u.folder.join(name), fp) {
                return Ok(State::new("stale", format!("{name} changed since the stage wrote it")));
            }
        }
        let cur = self
            .current_inputs(u, false)
            .map_err(|e| InputError(format!("{}: cannot read input fingerprints ({e})", u.folder.display())))?;
        let recorded = rec.get("inputs").and_then(Value::as_object).unwrap_or(&empty);
        if let Some(why) = markers::inputs_changed(recorded, &cur, &self.ds.root) {
            return Ok(State::new("stale", why));
        }
        let p = self.params(u)?;
        let rp = rec.get("params").and_then(Value::as_object).unwrap_or(&empty);
        if let Some(why) = markers::params_changed(rp, &p.subset_json(u.spec.params)) {
            return Ok(State::new("stale", why));
        }
        Ok(State::new("complete", ""))
    }
}

/// One unit's report: the `--json` shape `{stage, scope, target, status, duration_sec, details}`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitResult {
    pub stage: u8,
    pub scope: String,
    pub target: String,
    pub status: String,
    pub duration_sec: f64,
    pub details: Map<String, Value>,
}

impl UnitResult {
    pub fn new(u: &Unit, status: &str, duration_sec: f64, details: Map<String, Value>) -> Self {
        UnitResult {
            stage: u.spec.stage,
            scope: u.spec.scope.into(),
            target: u.target.clone(),
            status: status.into(),
            duration_sec,
            details,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("stage".into(), Value::from(self.stage));
        m.insert("scope".into(), Value::from(self.scope.clone()));
        m.insert("target".into(), Value::from(self.target.clone()));
        m.insert("status".into(), Value::from(self.status.clone()));
        m.insert("duration_sec".into(), Value::from(self.duration_sec));
        m.insert("details".into(), Value::Object(self.details.clone()));
        Value::Object(m)
    }
}

pub const PLANNED: &str = "planned";
pub const COMPLETED: &str = "completed";
pub const SKIPPED: &str = "skipped_existing";
pub const FAILED: &str = "failed";
pub const BLOCKED: &str = "blocked";
pub const NO_PS: &str = "skipped_no_ps";

fn strs(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::from).collect())
}

/// An error of planning: bad input (exit 2) or bad config (exit 2).
#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    Input(InputError),
    Config(ConfigError),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanError::Input(e) => e.fmt(f),
            PlanError::Config(e) => e.fmt(f),
        }
    }
}

impl From<InputError> for PlanError {
    fn from(e: InputError) -> Self {
        PlanError::Input(e)
    }
}

impl From<ConfigError> for PlanError {
    fn from(e: ConfigError) -> Self {
        PlanError::Config(e)
    }
}

/// What a run would do, without writing anything (`pystamps_batch.runner.plan`).
pub fn plan(
    ds: &Layout,
    start: i64,
    end: i64,
    force: bool,
    patches: Option<&[String]>,
    cfg: &RunConfig,
) -> Result<Vec<UnitResult>, PlanError> {
    let mut oracle = StateOracle::new(ds, cfg);
    let mut results = Vec::new();
    let mut will_run: Vec<Unit> = Vec::new();
    for name in patches.unwrap_or(&[]) {
        ds.patch(name)?;
    }
    for u in select_units(ds, start, end)? {
        if let Some(ps) = patches {
            if u.spec.scope == MERGED || !ps.contains(&u.target) {
                continue;
            }
        }
        let mut det = Map::new();
        det.insert("label".into(), Value::from(u.spec.label));
        det.insert("function".into(), Value::from(u.spec.name));
        let st = oracle.state(&u)?;
        let upstream: Vec<&Unit> = will_run.iter().filter(|w| depends_on(&u, w)).collect();
        if st.complete() && !force && upstream.is_empty() {
            det.insert("files".into(), strs(u.outputs().iter().map(|p| rel(&ds.root, p)).collect()));
            if st.foreign {
                det.insert("note".into(), Value::from(st.reason.clone()));
            }
            results.push(UnitResult::new(&u, SKIPPED, 0.0, det));
            continue;
        }
        det.insert("would_write".into(), strs(u.outputs().iter().map(|p| rel(&ds.root, p)).collect()));
        let reason = if st.complete() && force {
            "--force".to_string()
        } else if st.complete() {
            format!("upstream {} stage {} reruns", upstream[0].target, upstream[0].spec.label)
        } else {
            st.reason.clone()
        };
        det.insert("reason".into(), Value::from(reason));
        let mut rm: BTreeSet<String> = BTreeSet::new();
        for d in dependents(&u, &oracle.every) {
            if will_run.iter().any(|w| w.same(d)) {
                continue;
            }
            for p in d.outputs().into_iter().chain(d.optional_outputs()) {
                if p.is_file() {
                    rm.insert(rel(&ds.root, &p));
                }
            }
        }
        if !rm.is_empty() {
            det.insert("would_remove".into(), strs(rm.into_iter().collect()));
        }
        results.push(UnitResult::new(&u, PLANNED, 0.0, det));
        will_run.push(u);
    }
    Ok(results)
}
