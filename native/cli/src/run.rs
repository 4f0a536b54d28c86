//! `pystamps-native run`: plan units, skip what is complete, run the rest with the native
//! stage implementations, publish atomically, write the completion markers, report.
//!
//! The semantics are `pystamps_batch.runner.Runner`'s (see that module): the same units,
//! skip rules, invalidation of dependent units, `psver.mat` / `no_ps_info.mat` updates,
//! per-unit log lines on stderr (`[PATCH_1 1] ps_load_initial ... (reason)`,
//! `[PATCH_1 1] completed in 0.12 s`) and `--json` report shape. A plan that would run a
//! stage without a native implementation is refused before anything is written (exit 2).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Map, Value};

use pystamps_core::stages::arrays::{MatArray, MatData, StageOutputs};
use pystamps_io::config::{self, RunConfig};
use pystamps_io::layout::{self, Layout};
use pystamps_io::markers;
use pystamps_io::mat;
use pystamps_io::units::{
    self, dependents, mat_path, rel, select_units, StateOracle, Unit, UnitResult, BLOCKED, COMPLETED, FAILED, MERGED,
    NO_PS, PATCH, SKIPPED,
};

use crate::args::{self, Kind};
use crate::lock;
use crate::membudget;
use crate::stages::{self, Ctx};

pub const HELP: &str = "\
usage: pystamps-native run --dataset DIR [--start-step A] [--end-step B] [--dry-run] [--force]
                           [--patch NAME ...] [--json] [--config FILE] [--native-only]
                           [--backend auto|native] [--stage2-kernel-backend auto|native]
                           [--cpu-workers N] [--stage2-native-threads N] [--patch-workers N]

Run a stage range (1-8) on a dataset, as `pystamps run` does, with the stages compiled
into this binary (no Python interpreter is started).

options:
  --dataset DIR          dataset root (PATCH_n folders, patch.list, ...)
  --start-step A         first stage (1-8, default 1)
  --end-step B           last stage (1-8, default 8)
  --dry-run              list the plan (planned/skipped_existing and files); write nothing
  --force                rerun stages whose artifacts already exist
  --patch NAME           only this patch's units (repeatable); merged stages are not run
  --json                 print the unit reports as a JSON array
  --config FILE          YAML run configuration (same schema as pystamps)
  --native-only          never start Python (always true here; accepted for scripts)
  --backend B            kernel backend: auto or native (python kernels need `pystamps run`)
  --stage2-kernel-backend B   the same for the stage-2 kernels
  --cpu-workers N        override runtime.cpu_workers (0 = all cores)
  --stage2-native-threads N   override runtime.stage2_native_threads (0 = all cores)
  --patch-workers N      patches processed at the same time (default 1: one after the
                         other, the Python driver's log order; 0 = one per core); the
                         kernel threads are shared out among them, and patches start
                         only while their estimated memory (96 B per candidate x image
                         + 64 MiB) fits in 80 % of the available memory (cgroup-aware;
                         $PYSTAMPS_MEMORY_BUDGET_MB overrides)

every stage is native: 1 (ps_load_initial), 2 (ps_est_gamma_quick), 3 (ps_select),
4 (ps_weed), 5a (ps_correct_phase), 5b (ps_merge_patches with the ifg std), 6 (ps_unwrap,
3D_FULL, with the snaphu executable of $PYSTAMPS_SNAPHU, the `snaphu` wheel of the active
Python environment or PATH; scratch under $PYSTAMPS_SCRATCH, else $TMPDIR or /tmp),
7 (ps_calc_scla), 8 (ps_scn_filt with mean_v and the ps_plot_v-* products).
The artifacts and completion markers are those of `pystamps run`, so either runner
resumes where the other stopped. Not covered: what `pystamps run` refuses as well
(small-baseline networks, unwrap methods other than 3D/3D_FULL), MAT v7.3 inputs.";

const SPEC: &[(&str, Kind)] = &[
    ("--dataset", Kind::Value),
    ("--start-step", Kind::Value),
    ("--end-step", Kind::Value),
    ("--dry-run", Kind::Flag),
    ("--force", Kind::Flag),
    ("--patch", Kind::Repeat),
    ("--json", Kind::Flag),
    ("--config", Kind::Value),
    ("--native-only", Kind::Flag),
    ("--backend", Kind::Value),
    ("--stage2-kernel-backend", Kind::Value),
    ("--cpu-workers", Kind::Value),
    ("--stage2-native-threads", Kind::Value),
    ("--patch-workers", Kind::Value),
    ("--no-mpi", Kind::Flag),
    ("--help", Kind::Flag),
    ("-h", Kind::Flag),
];

fn eprint(msg: &str) {
    eprintln!("{msg}");
}

/// Entry point of `run`; `global_config` is a `--config` given before the command.
pub fn main(argv: &[String], global_config: Option<&str>) -> ExitCode {
    let a = match args::parse(argv, SPEC) {
        Ok(a) => a,
        Err(e) => {
            eprint!("{}", HELP.lines().next().map(|l| format!("{l}\n")).unwrap_or_default());
            eprint(&format!("pystamps-native run: error: {e}"));
            return ExitCode::from(2);
        }
    };
    if a.flag("--help") || a.flag("-h") {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    match run(&a, global_config) {
        Ok(code) => code,
        Err(e) => {
            eprint(&format!("pystamps-native: error: {e}"));
            ExitCode::from(2)
        }
    }
}

/// Build the effective config from the file and the command-line overrides.
fn effective_config(a: &args::Parsed, global_config: Option<&str>) -> Result<RunConfig, String> {
    let cfg_path = a.value("--config").or(global_config).map(PathBuf::from);
    let mut cfg = config::load_config(cfg_path.as_deref()).map_err(|e| e.0)?;
    if let Some(n) = a.int("--cpu-workers")? {
        if n < 0 {
            return Err(format!("--cpu-workers: got {n}, expected an integer >= 0"));
        }
        cfg.runtime.cpu_workers = n;
    }
    if let Some(n) = a.int("--stage2-native-threads")? {
        if n < 0 {
            return Err(format!("--stage2-native-threads: got {n}, expected an integer >= 0"));
        }
        cfg.runtime.stage2_native_threads = n;
    }
    for (opt, slot) in [("--backend", 0), ("--stage2-kernel-backend", 1)] {
        if let Some(b) = a.value(opt) {
            if !config::BACKENDS.contains(&b) {
                return Err(format!("{opt}: got '{b}', expected one of {}", config::BACKENDS.join(", ")));
            }
            if slot == 0 {
                cfg.runtime.backend = b.to_string();
            } else {
                cfg.runtime.stage2_kernel_backend = b.to_string();
            }
        }
    }
    // The native runner has native kernels only: python kernels are a `pystamps run` matter.
    let wants_python = cfg.runtime.backend == "python"
        || cfg.runtime.stage2_kernel_backend == "python"
        || cfg.runtime.kernel_backend_overrides.values().any(|b| b == "python");
    if wants_python {
        return Err("the native runner has native kernels only; the config or options select python kernels \
                    (use `pystamps run` for those, or backend auto/native)"
            .into());
    }
    Ok(cfg)
}

fn run(a: &args::Parsed, global_config: Option<&str>) -> Result<ExitCode, String> {
    let cfg = effective_config(a, global_config)?;
    let start = a.int("--start-step")?.unwrap_or(1);
    let end = a.int("--end-step")?.unwrap_or(8);
    if !(1 <= start && start <= end && end <= 8) {
        return Err(format!("invalid stage range {start}..{end}: expected 1 <= --start-step <= --end-step <= 8"));
    }
    let Some(dir) = a.value("--dataset") else {
        return Err("the following arguments are required: --dataset".into());
    };
    let ds = layout::open_layout(Path::new(dir)).map_err(|e| e.0)?;
    let patches = a.all("--patch");
    if start == 1 {
        validate_inputs(&ds)?; // every stage-1 input checked before anything is written, as `pystamps run`
    }
    let plan = units::plan(&ds, start, end, a.flag("--force"), patches.as_deref(), &cfg).map_err(|e| e.to_string())?;
    if a.flag("--dry-run") {
        report(&plan, a.flag("--json"));
        return Ok(ExitCode::SUCCESS);
    }
    // refuse before writing anything when a planned unit has no native implementation
    let missing: Vec<String> = plan
        .iter()
        .filter(|r| r.status == units::PLANNED)
        .filter_map(|r| r.details.get("label").and_then(Value::as_str))
        .filter(|l| stages::native_stage(l).is_none())
        .map(str::to_string)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "stage(s) {} not implemented natively yet (native: {}); nothing was run (use `pystamps run` for these stages)",
            missing.join(", "),
            stages::NATIVE_LABELS.join(", ")
        ));
    }
    let threads = if cfg.runtime.stage2_native_threads > 0 {
        cfg.runtime.stage2_native_threads as usize
    } else {
        cfg.runtime.cpu_workers.max(0) as usize
    };
    let folders: Vec<PathBuf> = match &patches {
        None => std::iter::once(ds.root.clone()).chain(ds.patches.iter().map(|p| p.path.clone())).collect(),
        Some(names) => names
            .iter()
            .map(|n| ds.patch(n).map(|p| p.path.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| e.0)?,
    };
    let _guards = lock::lock_all(&folders, &eprint)?;
    let patch_workers = match a.int("--patch-workers")? {
        None => 1,
        Some(n) if n < 0 => return Err(format!("--patch-workers: got {n}, expected an integer >= 0")),
        Some(0) => pystamps_core::pool::cpu_budget().max(1),
        Some(n) => n as usize,
    };
    let mut runner =
        Runner { ds: &ds, cfg: &cfg, force: a.flag("--force"), threads, why: String::new(), patch_workers };
    let results = runner.run(start, end, patches.as_deref());
    report(&results, a.flag("--json"));
    Ok(if results.iter().any(|r| r.status == FAILED) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Check every patch's stage-1 inputs (sizes, ids, windows, root files) by parsing them as
/// the native loader does; the first problem is returned as one line naming the file.
/// One patch is held in memory at a time.
fn validate_inputs(ds: &Layout) -> Result<(), String> {
    if ds.width.is_none() {
        return Err(format!("{}: file not found", ds.root.join("width.txt").display()));
    }
    if ds.length.is_none() {
        return Err(format!("{}: file not found", ds.root.join("len.txt").display()));
    }
    if ds.patches.is_empty() {
        return Err(format!("{}: no patches (expected patch.list or PATCH_* folders)", ds.root.display()));
    }
    for p in &ds.patches {
        if !p.path.is_dir() {
            return Err(format!("{}: patch folder listed in {} does not exist", p.path.display(), ds.patch_list_source));
        }
        pystamps_io::dataset::read_load_inputs(&ds.root, &p.name)?;
    }
    Ok(())
}

/// Free bytes of the file system holding `folder` (None when unknown).
fn free_bytes(folder: &Path) -> Option<u64> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(folder.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// `pystamps_batch.diskspace.check`: refuse a unit when the file system cannot hold an upper
/// estimate of what it writes (n candidates, n_images acquisitions).
fn check_disk(folder: &Path, label: &str, n: usize, n_images: usize) -> Result<(), String> {
    let (per_cell, per_pixel): (f64, f64) = match label {
        "1" => (12.0, 80.0),
        "2" => (28.0, 72.0),
        "3" => (12.0, 48.0),
        "4" => (24.0, 96.0),
        "5a" => (16.0, 0.0),
        "5b" => (40.0, 96.0),
        "6" => (20.0, 16.0),
        "7" => (8.0, 48.0),
        "8" => (20.0, 48.0),
        _ => (16.0, 64.0),
    };
    let need = (1.5 * (n as f64 * n_images as f64 * per_cell + n as f64 * per_pixel)) as u64 + (16u64 << 20);
    if let Some(free) = free_bytes(folder) {
        if free < need {
            return Err(format!(
                "{}: not enough free space for stage {label}: needs about {:.0} MiB, {:.0} MiB free",
                folder.display(),
                need as f64 / 1048576.0,
                free as f64 / 1048576.0
            ));
        }
    }
    Ok(())
}

/// Print the unit reports: a JSON array (`--json`) or the Python CLI's table.
pub fn report(results: &[UnitResult], json: bool) {
    if json {
        let v = Value::Array(results.iter().map(UnitResult::to_json).collect());
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return;
    }
    println!("{:<6}{:<8}{:<16}{:<18}{:>8}  details", "stage", "scope", "target", "status", "seconds");
    for r in results {
        let d = &r.details;
        let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let info = match r.status.as_str() {
            "failed" => s("error"),
            "planned" => {
                let mut i = s("reason");
                if let Some(Value::Array(rm)) = d.get("would_remove") {
                    i += &format!("; would remove {} dependent file(s)", rm.len());
                }
                i
            }
            "completed" => {
                let mut ks: Vec<String> = d
                    .get("kernels")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect())
                    .unwrap_or_default();
                ks.sort();
                let mut i = ks.join(", ");
                if let Some(Value::Array(rm)) = d.get("removed") {
                    i = format!("removed {} dependent file(s); {i}", rm.len());
                }
                i
            }
            _ => {
                let r = s("reason");
                if r.is_empty() { s("note") } else { r }
            }
        };
        let label = d.get("label").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| r.stage.to_string());
        println!(
            "{}",
            format!("{label:<6}{:<8}{:<16}{:<18}{:>8.2}  {info}", r.scope, r.target, r.status, r.duration_sec).trim_end()
        );
    }
}

/// Progress over patches: a bar on a TTY, else a line every 10 %.
struct Progress {
    total: usize,
    done: usize,
    tty: bool,
    last_pct: i64,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress { total, done: 0, tty: std::io::stderr().is_terminal(), last_pct: -1 }
    }
    fn advance(&mut self) {
        self.done = (self.done + 1).min(self.total);
        let pct = if self.total == 0 { 100 } else { (100 * self.done / self.total) as i64 };
        if self.tty {
            let bar = format!("{}{}", "#".repeat((pct / 5) as usize), " ".repeat(20 - (pct / 5) as usize));
            eprint!("\r[{bar}] {pct:3}% {}/{} patches done", self.done, self.total);
            if self.done == self.total {
                eprintln!();
            }
        } else if (pct / 10 > self.last_pct / 10 || self.done == self.total) && pct != self.last_pct {
            eprintln!("patches done: {pct}% ({}/{})", self.done, self.total);
            self.last_pct = pct;
        }
    }
}

struct Runner<'a> {
    ds: &'a Layout,
    cfg: &'a RunConfig,
    force: bool,
    /// kernel threads per stage (0 = the CPU budget)
    threads: usize,
    why: String,
    /// patches processed at the same time (1 = one after the other, as the Python driver)
    patch_workers: usize,
}

fn no_ps_flags(folder: &Path) -> Option<Vec<f64>> {
    let p = mat_path(folder, "no_ps_info");
    if !p.is_file() {
        return None;
    }
    let f = mat::read_mat(&p).ok()?;
    match &f.get("stamps_step_no_ps")?.data {
        MatData::F64(v) => Some(v.clone()),
        MatData::F32(v) => Some(v.iter().map(|&x| x as f64).collect()),
        MatData::U8(v) => Some(v.iter().map(|&x| x as f64).collect()),
        MatData::I32(v) => Some(v.iter().map(|&x| x as f64).collect()),
        MatData::Bool(v) => Some(v.iter().map(|&x| x as u8 as f64).collect()),
        _ => None,
    }
}

fn sum_of(a: &MatArray) -> f64 {
    match &a.data {
        MatData::F64(v) => v.iter().sum(),
        MatData::F32(v) => v.iter().map(|&x| x as f64).sum(),
        MatData::U8(v) => v.iter().map(|&x| x as f64).sum(),
        MatData::I32(v) => v.iter().map(|&x| x as f64).sum(),
        MatData::Bool(v) => v.iter().filter(|&&x| x).count() as f64,
        _ => 0.0,
    }
}

fn var<'o>(outputs: &'o StageOutputs, art: &str, name: &str) -> Option<&'o MatArray> {
    outputs.iter().find(|(a, _)| a == art)?.1.iter().find(|(n, _)| n == name).map(|(_, a)| a)
}

fn obj(label: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("label".into(), Value::from(label));
    m
}

impl<'a> Runner<'a> {
    fn say(u: &Unit, msg: &str) {
        eprint(&format!("[{} {}] {msg}", u.target, u.spec.label));
    }

    /// The StaMPS step after which a patch had no PS left (blocking `u`), else None.
    fn no_ps_before(&self, u: &Unit) -> Option<usize> {
        if u.spec.scope != PATCH {
            return None;
        }
        if u.patch.and_then(|i| self.ds.patches[i].n_cand) == Some(0) {
            return Some(0);
        }
        if u.spec.label == "1" {
            return None;
        }
        let flags = no_ps_flags(&u.folder)?;
        (1..u.spec.stage as usize).find(|&k| flags.get(k - 1).is_some_and(|&f| f != 0.0))
    }

    fn remove_stale_temporaries(folder: &Path) {
        let clean = |dir: &Path, mat_only: bool| {
            if let Ok(rd) = std::fs::read_dir(dir) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let hit = n.starts_with('.') && n.ends_with(".tmp") && (!mat_only || n.contains(".mat."));
                    if hit {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        };
        clean(folder, true);
        clean(&markers::marker_dir(folder), false);
    }

    fn invalidate_dependents(&self, u: &Unit, every: &[Unit]) -> Vec<String> {
        let mut removed = std::collections::BTreeSet::new();
        for d in dependents(u, every) {
            for p in d.outputs().into_iter().chain(d.optional_outputs()) {
                if p.is_file() {
                    let _ = std::fs::remove_file(&p);
                    removed.insert(rel(&self.ds.root, &p));
                }
            }
            markers::clear(&d.folder, d.spec.label);
        }
        removed.into_iter().collect()
    }

    fn publish(&self, u: &Unit, produced: &stages::Produced) -> Result<Vec<String>, String> {
        let outputs = &produced.outputs;
        let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
        let missing: Vec<&str> = u.spec.writes.iter().copied().filter(|n| !names.contains(n)).collect();
        if !missing.is_empty() {
            return Err(format!("stage {} did not produce {}", u.spec.label, missing.join(", ")));
        }
        let unexpected: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !u.spec.writes.contains(n) && !u.spec.optional_writes.contains(n))
            .collect();
        if !unexpected.is_empty() {
            return Err(format!("stage {} produced unexpected artifact(s) {}", u.spec.label, unexpected.join(", ")));
        }
        let _ = std::fs::remove_file(markers::done_path(&u.folder, u.spec.label));
        for p in u.optional_outputs() {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            if !names.contains(&stem.as_str()) {
                let _ = std::fs::remove_file(&p);
            }
        }
        let mut written = Vec::new();
        for (name, vars) in outputs {
            let path = mat_path(&u.folder, name);
            let dims: Vec<(String, Vec<usize>)> =
                produced.dims.iter().filter(|(a, _, _)| a == name).map(|(_, v, d)| (v.clone(), d.clone())).collect();
            mat::write_mat_dims(&path, vars, &dims).map_err(|e| format!("{e}; previous files left intact"))?;
            written.push(rel(&self.ds.root, &path));
        }
        let psver = match u.spec.label {
            "1" => Some(1.0),
            "4" | "5b" => Some(2.0),
            _ => None,
        };
        if let Some(v) = psver {
            mat::write_mat(&mat_path(&u.folder, "psver"), &[("psver".into(), MatArray::scalar(v))])
                .map_err(|e| format!("{}: cannot write psver/no_ps_info ({e})", u.folder.display()))?;
        }
        self.update_no_ps_info(u, outputs)
            .map_err(|e| format!("{}: cannot write psver/no_ps_info ({e})", u.folder.display()))?;
        Ok(written)
    }

    /// StaMPS' no_ps_info.mat (`stamps_step_no_ps`, 5 x 1), as the Python runner updates it.
    fn update_no_ps_info(&self, u: &Unit, outputs: &StageOutputs) -> Result<(), String> {
        let label = u.spec.label;
        let mut flags = match no_ps_flags(&u.folder) {
            Some(f) if f.len() == 5 && label != "1" && label != "5b" => f,
            _ => vec![0.0; 5],
        };
        match label {
            "3" => {
                for f in &mut flags[2..] {
                    *f = 0.0;
                }
                let keep = var(outputs, "select1", "keep_ix");
                flags[2] = (keep.is_none() || keep.map(sum_of) == Some(0.0)) as u8 as f64;
            }
            "4" => {
                for f in &mut flags[3..] {
                    *f = 0.0;
                }
                let n = var(outputs, "ps2", "n_ps").map(sum_of);
                flags[3] = (n.is_none() || n == Some(0.0)) as u8 as f64;
            }
            "1" | "5b" => {}
            _ => return Ok(()),
        }
        mat::write_mat(&mat_path(&u.folder, "no_ps_info"), &[("stamps_step_no_ps".into(), MatArray::column(MatData::F64(flags)))])
            .map_err(|e| e.0)
    }

    fn run_unit(&mut self, u: &Unit, oracle: &mut StateOracle) -> UnitResult {
        let t0 = Instant::now();
        let mut det = obj(u.spec.label);
        det.insert("function".into(), Value::from(u.spec.name));
        Self::remove_stale_temporaries(&u.folder);
        let mut started = false;
        let res: Result<(Vec<String>, Vec<String>, Map<String, Value>), String> = (|| {
            let n = match u.patch {
                Some(i) => self.ds.patches[i].n_cand.unwrap_or(0),
                None => self.ds.patches.iter().map(|p| p.n_cand.unwrap_or(0)).sum(),
            };
            let n_images = if self.ds.n_ifg() > 0 { self.ds.n_ifg() + 1 } else { 1 };
            check_disk(&u.folder, u.spec.label, n, n_images)?;
            let params = oracle.params(u).map_err(|e| e.0)?;
            let inputs = oracle
                .current_inputs(u, true)
                .map_err(|e| format!("{}: cannot fingerprint inputs ({e})", u.folder.display()))?;
            markers::mark_running(&u.folder, u.spec.label).map_err(|e| format!("{}: {e}", u.folder.display()))?;
            started = true;
            let f = stages::native_stage(u.spec.label)
                .ok_or_else(|| format!("stage {} is not implemented natively yet", u.spec.label))?;
            let patch_name = u.patch.map(|i| self.ds.patches[i].name.clone());
            let mut log = |m: &str| Self::say(u, m);
            let mut ctx = Ctx {
                root: &self.ds.root,
                folder: &u.folder,
                patch: patch_name.as_deref(),
                params: &params,
                threads: self.threads,
                log: &mut log,
            };
            let produced = f(&mut ctx)?;
            let removed = self.invalidate_dependents(u, &oracle.every);
            if !removed.is_empty() {
                Self::say(u, &format!("removed {} later-stage file(s) that depended on it", removed.len()));
            }
            let written = self.publish(u, &produced)?;
            let outs: Vec<PathBuf> = produced.outputs.iter().map(|(n, _)| mat_path(&u.folder, n)).collect();
            let kernels: Map<String, Value> =
                produced.kernels.iter().map(|k| (k.to_string(), Value::from("native"))).collect();
            markers::write_done(
                &u.folder,
                u.spec.label,
                u.spec.name,
                &outs,
                inputs,
                params.subset_json(u.spec.params),
                kernels.clone(),
            )
            .map_err(|e| format!("{}: cannot write the completion marker ({e})", u.folder.display()))?;
            Ok((removed, written, kernels))
        })();
        let status = match res {
            Ok((removed, written, kernels)) => {
                if !removed.is_empty() {
                    det.insert("removed".into(), Value::Array(removed.into_iter().map(Value::from).collect()));
                }
                det.insert("files".into(), Value::Array(written.into_iter().map(Value::from).collect()));
                det.insert("kernels".into(), Value::Object(kernels));
                COMPLETED
            }
            Err(e) => {
                det.insert("error".into(), Value::from(e));
                if started {
                    let _ = std::fs::remove_file(markers::running_path(&u.folder, u.spec.label));
                }
                FAILED
            }
        };
        let dt = (t0.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
        UnitResult::new(u, status, dt, det)
    }

    fn skip(&mut self, u: &Unit, upstream_changed: bool, oracle: &mut StateOracle) -> Option<UnitResult> {
        let st = match oracle.state(u) {
            Ok(s) => s,
            Err(e) => {
                self.why = e.0;
                return None;
            }
        };
        if st.complete() && !self.force && !upstream_changed {
            Self::say(u, "skipped_existing");
            let mut det = obj(u.spec.label);
            det.insert("function".into(), Value::from(u.spec.name));
            if st.foreign {
                det.insert("note".into(), Value::from(st.reason));
            }
            return Some(UnitResult::new(u, SKIPPED, 0.0, det));
        }
        self.why = if !st.complete() {
            st.reason
        } else if self.force {
            "--force".into()
        } else {
            "an upstream stage reran".into()
        };
        None
    }

    fn execute(&mut self, u: &Unit, oracle: &mut StateOracle) -> UnitResult {
        let why = self.why.clone();
        Self::say(u, &format!("{} ... ({why})", u.spec.name));
        let mut r = self.run_unit(u, oracle);
        if !why.is_empty() {
            r.details.insert("reason".into(), Value::from(why));
        }
        if r.status == FAILED {
            let e = r.details.get("error").and_then(Value::as_str).unwrap_or("").to_string();
            Self::say(u, &format!("FAILED: {e}"));
        } else {
            Self::say(u, &format!("completed in {:.2} s", r.duration_sec));
        }
        r
    }

    fn run_patch(&mut self, name: &str, units: &[Unit], oracle: &mut StateOracle) -> Vec<UnitResult> {
        let mut results = Vec::new();
        let (mut changed, mut failed) = (false, false);
        for u in units.iter().filter(|u| u.spec.scope == PATCH && u.target == name) {
            if failed {
                let mut d = obj(u.spec.label);
                d.insert("reason".into(), Value::from("an earlier stage of this patch failed"));
                results.push(UnitResult::new(u, BLOCKED, 0.0, d));
                continue;
            }
            if let Some(k) = self.no_ps_before(u) {
                let why = if k == 0 { "patch has no candidates".to_string() } else { format!("no PS left after step {k}") };
                let mut d = obj(u.spec.label);
                d.insert("reason".into(), Value::from(why));
                results.push(UnitResult::new(u, NO_PS, 0.0, d));
                if k == 0 && u.spec.label == "1" {
                    let _ = mat::write_mat(
                        &mat_path(&u.folder, "no_ps_info"),
                        &[("stamps_step_no_ps".into(), MatArray::column(MatData::F64(vec![1.0; 5])))],
                    );
                }
                continue;
            }
            let r = match self.skip(u, changed, oracle) {
                Some(r) => r,
                None => self.execute(u, oracle),
            };
            changed = changed || r.status != SKIPPED;
            failed = r.status == FAILED;
            results.push(r);
        }
        results
    }

    fn run_merged(&mut self, units: &[Unit], upstream_changed: bool, patches_failed: bool, oracle: &mut StateOracle) -> Vec<UnitResult> {
        let mut results = Vec::new();
        let (mut changed, mut blocked) = (upstream_changed, patches_failed);
        for u in units.iter().filter(|u| u.spec.scope == MERGED) {
            if blocked {
                let mut d = obj(u.spec.label);
                d.insert("reason".into(), Value::from("a patch or an earlier merged stage failed"));
                results.push(UnitResult::new(u, BLOCKED, 0.0, d));
                continue;
            }
            let r = match self.skip(u, changed, oracle) {
                Some(r) => r,
                None => self.execute(u, oracle),
            };
            changed = changed || r.status != SKIPPED;
            blocked = r.status == FAILED;
            results.push(r);
        }
        results
    }

    fn run(&mut self, start: i64, end: i64, patches: Option<&[String]>) -> Vec<UnitResult> {
        let mut oracle = StateOracle::new(self.ds, self.cfg);
        let units = match select_units(self.ds, start, end) {
            Ok(u) => u,
            Err(_) => return vec![],
        };
        let names: Vec<String> = match patches {
            Some(p) => p.to_vec(),
            None => self.ds.patches.iter().map(|p| p.name.clone()).collect(),
        };
        let bar = if names.len() > 1 && start <= 5 { Some(Progress::new(names.len())) } else { None };
        let workers = self.patch_workers.clamp(1, names.len().max(1));
        let mut results = Vec::new();
        if workers <= 1 {
            let mut bar = bar;
            for name in &names {
                results.extend(self.run_patch(name, &units, &mut oracle));
                if let Some(b) = bar.as_mut() {
                    b.advance();
                }
            }
        } else {
            results = self.run_patches_parallel(&names, &units, workers, bar);
        }
        if patches.is_none() {
            let upstream_changed = results.iter().any(|r| r.status == COMPLETED);
            let patches_failed = results.iter().any(|r| r.status == FAILED || r.status == BLOCKED);
            let merged = self.run_merged(&units, upstream_changed, patches_failed, &mut oracle);
            results.extend(merged);
        }
        results
    }

    /// Patches on `workers` threads (each patch's stages in order on one thread; kernel
    /// threads shared out); results in patch-list order. Log lines interleave across
    /// patches (each is prefixed with its patch).
    fn run_patches_parallel(&self, names: &[String], units: &[Unit], workers: usize, bar: Option<Progress>) -> Vec<UnitResult> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Mutex;
        let budget = if self.threads > 0 { self.threads } else { pystamps_core::pool::cpu_budget() };
        let kthreads = (budget / workers).max(1);
        let (ds, cfg, force) = (self.ds, self.cfg, self.force);
        let n_images = if ds.n_ifg() > 0 { ds.n_ifg() + 1 } else { 1 };
        let est: Vec<u64> = names
            .iter()
            .map(|n| membudget::patch_estimate(ds.patch(n).ok().and_then(|p| p.n_cand).unwrap_or(0), n_images))
            .collect();
        let mem = membudget::budget().unwrap_or(u64::MAX);
        let biggest = est.iter().copied().max().unwrap_or(0);
        if biggest.saturating_mul(workers as u64) > mem {
            eprint(&format!(
                "patch workers: {workers} requested; memory bound: {:.1} GiB available for patches, up to {:.1} GiB \
                 each, so fewer may run at once",
                mem as f64 / 1073741824.0,
                biggest as f64 / 1073741824.0
            ));
        }
        let pool = membudget::MemoryPool::new(mem);
        let next = AtomicUsize::new(0);
        let slots: Vec<Mutex<Vec<UnitResult>>> = names.iter().map(|_| Mutex::new(Vec::new())).collect();
        let bar = Mutex::new(bar);
        std::thread::scope(|sc| {
            for _ in 0..workers {
                sc.spawn(|| {
                    // a pool of its own: kernels of patches side by side must not share one
                    if let Ok(p) = rayon::ThreadPoolBuilder::new().num_threads(kthreads).build() {
                        pystamps_core::pool::set_local_pool(Some(std::sync::Arc::new(p)));
                    }
                    let mut r = Runner { ds, cfg, force, threads: kthreads, why: String::new(), patch_workers: 1 };
                    let mut oracle = StateOracle::new(ds, cfg);
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= names.len() {
                            break;
                        }
                        let ticket = pool.acquire(est[i]);
                        let res = r.run_patch(&names[i], units, &mut oracle);
                        drop(ticket);
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = res;
                        }
                        if let Ok(mut b) = bar.lock() {
                            if let Some(b) = b.as_mut() {
                                b.advance();
                            }
                        }
                    }
                });
            }
        });
        slots.into_iter().flat_map(|m| m.into_inner().unwrap_or_default()).collect()
    }
}
