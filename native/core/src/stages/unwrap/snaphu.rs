//! Locating and running SNAPHU for one interferogram (spec C.6.6 steps 5-6, E.1), as
//! `pystamps_batch/stages/unwrap/snaphu.py`.
//!
//! The executable is found by [`locate_snaphu`] (search order documented there; normally the
//! one bundled in the `snaphu` PyPI wheel, SNAPHU 2.0.7). It is run with an argument list (no
//! shell) as `snaphu -d -f snaphu.conf <n_cols>` in a fresh scratch folder holding
//! `snaphu.conf`, `snaphu.in` and `snaphu.costinfile`; stdout and stderr go to `snaphu.log`
//! there, stdin is null. The folder is deleted on success and kept on failure.

use super::costs::{cost_file_bytes, CostModel};
use crate::pool;
use ndarray::{Array2, ArrayView2};
use num_complex::Complex32;
use rayon::prelude::*;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Environment variable overriding the snaphu executable.
pub const SNAPHU_ENV: &str = "PYSTAMPS_SNAPHU";

/// `snaphu.conf` as StaMPS writes it. NSHORTCYCLE and COSTSCALE are deliberately absent:
/// the cost file's scaling assumes snaphu's defaults (200 and 100).
pub const SNAPHU_CONF: &str = "INFILE  snaphu.in\n\
OUTFILE snaphu.out\n\
COSTINFILE snaphu.costinfile\n\
STATCOSTMODE  DEFO\n\
INFILEFORMAT  COMPLEX_DATA\n\
OUTFILEFORMAT FLOAT_DATA\n";

/// A regular file with at least one execute bit (the `os.access(p, X_OK)` test, without
/// the effective-uid subtleties).
fn is_executable(p: &Path) -> bool {
    fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// An explicitly named executable (`what` says where the name came from, e.g.
/// `PYSTAMPS_SNAPHU=/x/snaphu`): it must exist and be executable.
fn checked(p: &Path, what: &str) -> Result<PathBuf, String> {
    if !p.is_file() {
        return Err(format!("snaphu executable not found: {what} does not exist"));
    }
    if !is_executable(p) {
        return Err(format!("snaphu executable not usable: {what} is not executable"));
    }
    Ok(p.to_path_buf())
}

/// `<prefix>/lib*/python3*/site-packages/snaphu/snaphu` when executable.
fn wheel_snaphu(prefix: &Path) -> Option<PathBuf> {
    for lib in ["lib", "lib64"] {
        let Ok(rd) = fs::read_dir(prefix.join(lib)) else { continue };
        let mut pys: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path())
            .collect();
        pys.sort();
        for py in pys.iter().rev() {
            let p = py.join("site-packages").join("snaphu").join("snaphu");
            if is_executable(&p) {
                return Some(p);
            }
        }
    }
    None
}

/// Python prefixes to look in for the wheel: `$VIRTUAL_ENV`, then for every ancestor
/// folder A of the running executable (nearest first): A itself (the executable lives in
/// `<prefix>/bin`), `A/.venv` and `A/venv` (e.g. a `.venv` beside `target/release`'s parent).
fn python_prefixes() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(v) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
        out.push(PathBuf::from(v));
    }
    if let Ok(exe) = std::env::current_exe() {
        for a in exe.ancestors().skip(1) {
            out.push(a.to_path_buf());
            out.push(a.join(".venv"));
            out.push(a.join("venv"));
        }
    }
    out
}

/// `snaphu` on `$PATH` (first executable match).
fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("snaphu")).find(|p| is_executable(p))
}

/// The snaphu executable to run, searched in this order:
///
/// 1. `$PYSTAMPS_SNAPHU` when set and not blank (must exist and be executable, else an error);
/// 2. `config_path` when given (likewise an error if unusable);
/// 3. the executable bundled in an installed `snaphu` Python wheel,
///    `<prefix>/lib/python3*/site-packages/snaphu/snaphu`, found without running Python, for
///    the prefixes `$VIRTUAL_ENV`, then each ancestor folder of the running executable and
///    its `.venv` / `venv` child (nearest first);
/// 4. `snaphu` on `$PATH`.
///
/// Errors with one line (naming `PYSTAMPS_SNAPHU`) when none is usable.
pub fn locate_snaphu(config_path: Option<&Path>) -> Result<PathBuf, String> {
    let env = std::env::var(SNAPHU_ENV).unwrap_or_default();
    let env = env.trim();
    if !env.is_empty() {
        return checked(Path::new(env), &format!("{SNAPHU_ENV}={env}"));
    }
    if let Some(p) = config_path {
        return checked(p, &format!("configured path {}", p.display()));
    }
    if let Some(p) = python_prefixes().iter().find_map(|pre| wheel_snaphu(pre)) {
        return Ok(p);
    }
    if let Some(p) = on_path() {
        return Ok(p);
    }
    Err(format!(
        "snaphu executable not found: install the 'snaphu' Python package (pip install snaphu) \
         or set {SNAPHU_ENV} to the executable"
    ))
}

static SCRATCH_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh private (0700) folder `pystamps_uw_<tag>_XXXX` for one snaphu run, under
/// `scratch_dir` (created if needed) or the system temp folder. The suffix mixes the process
/// id, a process-wide counter and the clock; a name collision is retried.
pub fn make_scratch(scratch_dir: Option<&Path>, tag: &str) -> Result<PathBuf, String> {
    let parent = match scratch_dir {
        Some(d) => {
            fs::create_dir_all(d).map_err(|e| format!("cannot create scratch folder {}: {}", d.display(), os_text(&e)))?;
            d.to_path_buf()
        }
        None => std::env::temp_dir(),
    };
    let pid = std::process::id() as u64;
    for _ in 0..1000 {
        let n = SCRATCH_COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let mix = (pid << 40) ^ (n << 20) ^ t as u64;
        let dir = parent.join(format!("pystamps_uw_{tag}_{mix:x}"));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create scratch folder in {}: {}", parent.display(), os_text(&e))),
        }
    }
    Err(format!("cannot create scratch folder in {}: too many name collisions", parent.display()))
}

/// An I/O error as its C `strerror` text (Rust's " (os error N)" suffix removed), as Python's
/// `exc.strerror`.
fn os_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if e.raw_os_error().is_some() => s[..i].to_string(),
        _ => s,
    }
}

/// Writes one file in `workdir`, mapping an error to a one-line message.
fn write_file(workdir: &Path, name: &str, data: &[u8], label: &str) -> Result<(), String> {
    let p = workdir.join(name);
    fs::write(&p, data).map_err(|e| format!("cannot write {} for {label}: {}", p.display(), os_text(&e)))
}

/// Writes the inputs into `workdir`, runs snaphu there and reads its output.
///
/// `grid_in`: (n_i, n_j) wrapped grid (written row-major, native complex64); `cost`: the cost
/// file bytes; `label`: names the ifg in errors. Returns (n_i, n_j) float32 unwrapped phase.
/// Errors (one line) name `label` and `workdir`, which is kept.
pub fn run_snaphu(exe: &Path, workdir: &Path, grid_in: ArrayView2<Complex32>, cost: &[u8], label: &str) -> Result<Array2<f32>, String> {
    let (n_i, n_j) = grid_in.dim();
    write_file(workdir, "snaphu.conf", SNAPHU_CONF.as_bytes(), label)?;
    let mut inp = Vec::with_capacity(8 * n_i * n_j);
    for z in grid_in.iter() {
        inp.extend_from_slice(&z.re.to_ne_bytes());
        inp.extend_from_slice(&z.im.to_ne_bytes());
    }
    write_file(workdir, "snaphu.in", &inp, label)?;
    write_file(workdir, "snaphu.costinfile", cost, label)?;
    let log_path = workdir.join("snaphu.log");
    let log = fs::File::create(&log_path).map_err(|e| format!("cannot write {} for {label}: {}", log_path.display(), os_text(&e)))?;
    let log2 = log.try_clone().map_err(|e| format!("cannot write {} for {label}: {}", log_path.display(), os_text(&e)))?;
    let status = Command::new(exe)
        .args(["-d", "-f", "snaphu.conf", &n_j.to_string()])
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .status()
        .map_err(|e| {
            format!(
                "snaphu could not be started for {label}: {} (executable {}; scratch kept in {})",
                os_text(&e),
                exe.display(),
                workdir.display()
            )
        })?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        // Python's returncode: the exit code, or -signal when killed by a signal
        let code = status.code().map(|c| c as i64).or_else(|| status.signal().map(|s| -(s as i64))).unwrap_or(-1);
        return Err(format!("snaphu failed for {label} with exit status {code}; see {} (scratch kept)", log_path.display()));
    }
    let out = workdir.join("snaphu.out");
    let want = 4 * n_i * n_j;
    let size: i64 = match fs::metadata(&out) {
        Ok(m) if m.is_file() => m.len() as i64,
        _ => -1,
    };
    if size != want as i64 {
        let got = if size < 0 { "no snaphu.out".to_string() } else { format!("snaphu.out has {size} bytes") };
        return Err(format!(
            "snaphu produced bad output for {label}: {got}, expected {want} ({n_i} x {n_j} float32); see {} (scratch kept)",
            log_path.display()
        ));
    }
    let bytes = fs::read(&out).map_err(|e| format!("cannot read {} for {label}: {}", out.display(), os_text(&e)))?;
    let v: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])).collect();
    Array2::from_shape_vec((n_i, n_j), v).map_err(|e| format!("snaphu output for {label}: {e}"))
}

/// Mean of the squared non-zero differences between vertically and horizontally adjacent
/// cells of the (n_i, n_j) snaphu output. Differences in float64 of the float32 values; sums
/// sequential in MATLAB's column-major order (vertical differences, then horizontal ones,
/// summed separately). NaN when every difference is zero.
pub fn grid_msd(out: ArrayView2<f32>) -> f64 {
    let (n_i, n_j) = out.dim();
    let o = |r: usize, c: usize| out[[r, c]] as f64;
    let (mut s1, mut s2, mut n) = (0.0f64, 0.0f64, 0usize);
    for c in 0..n_j {
        for r in 0..n_i.saturating_sub(1) {
            let d = o(r, c) - o(r + 1, c);
            if d != 0.0 {
                s1 += d * d;
                n += 1;
            }
        }
    }
    for c in 0..n_j.saturating_sub(1) {
        for r in 0..n_i {
            let d = o(r, c) - o(r, c + 1);
            if d != 0.0 {
                s2 += d * d;
                n += 1;
            }
        }
    }
    if n == 0 {
        return f64::NAN;
    }
    (s1 + s2) / n as f64
}

/// Everything the spatial unwrapping of the interferograms needs (read-only).
///
/// `node_ph`: (n_nodes, M_U) filtered node phasors; `z`: (n_i, n_j) 0-based nearest node per
/// cell; `node_cells`: (n_nodes,) column-major cell index of each node; `model`: the static
/// cost terms; `d`/`noise`: (n_edge, M_U) float32 from the space-time step; `labels`: one
/// text per ifg column for messages; `exe`: the snaphu executable; `scratch_dir`: parent of
/// the per-ifg folders (None = system temp).
pub struct SnaphuProblem<'a> {
    pub node_ph: ArrayView2<'a, Complex32>,
    pub z: ArrayView2<'a, usize>,
    pub node_cells: &'a [usize],
    pub model: &'a CostModel,
    pub d: ArrayView2<'a, f32>,
    pub noise: ArrayView2<'a, f32>,
    pub labels: &'a [String],
    pub exe: &'a Path,
    pub scratch_dir: Option<&'a Path>,
}

/// Spatially unwraps ifg column `k` (0-based among the M_U unwrapped ifgs) with snaphu.
///
/// Pure apart from its private scratch folder (`pystamps_uw_ifgKKK_*`, deleted on success).
/// Returns (node_uw (n_nodes,) float32 in node order, msd). Errors name the ifg.
pub fn solve_ifg(k: usize, p: &SnaphuProblem) -> Result<(Vec<f32>, f64), String> {
    let label = &p.labels[k];
    let d: Vec<f32> = p.d.column(k).to_vec();
    let nu: Vec<f32> = p.noise.column(k).to_vec();
    let cost = cost_file_bytes(p.model, &d, &nu);
    let ph = p.node_ph.column(k);
    let grid_in = p.z.map(|&node| ph[node]);
    let workdir = make_scratch(p.scratch_dir, &format!("ifg{:03}", k + 1))?;
    let out = run_snaphu(p.exe, &workdir, grid_in.view(), &cost, label)?;
    let _ = fs::remove_dir_all(&workdir);
    let n_i = out.nrows();
    let node_uw = p.node_cells.iter().map(|&cell| out[[cell % n_i, cell / n_i]]).collect();
    Ok((node_uw, grid_msd(out.view())))
}

/// [`solve_ifg`] for every ifg column, `threads` at a time (0 = all cores); results in ifg
/// order whatever the thread count. `progress(done, total)` is called after each ifg (calls
/// serialised, `done` increasing). The first error in ifg order is returned.
pub fn solve_all(p: &SnaphuProblem, threads: usize, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Vec<(Vec<f32>, f64)>, String> {
    let total = p.node_ph.ncols();
    let done = Mutex::new(0usize);
    let results: Vec<Result<(Vec<f32>, f64), String>> = pool::install(threads, || {
        (0..total)
            .into_par_iter()
            .with_max_len(1)
            .map(|k| {
                let r = solve_ifg(k, p);
                let mut n = done.lock().expect("progress counter poisoned");
                *n += 1;
                progress(*n, total);
                r
            })
            .collect()
    });
    results.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msd_sums_nonzero_differences() {
        let a = Array2::from_shape_vec((2, 2), vec![0.0f32, 1.0, 0.0, 3.0]).unwrap();
        // vertical: 0-0=0 (skipped), 1-3=-2; horizontal: 0-1=-1, 0-3=-3
        assert_eq!(grid_msd(a.view()), (4.0 + 1.0 + 9.0) / 3.0);
        assert!(grid_msd(Array2::<f32>::zeros((3, 3)).view()).is_nan());
    }

    #[test]
    fn scratch_folders_are_unique() {
        let base = std::env::temp_dir().join(format!("pystamps_scratch_test_{}", std::process::id()));
        let a = make_scratch(Some(&base), "t").unwrap();
        let b = make_scratch(Some(&base), "t").unwrap();
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().to_string_lossy().starts_with("pystamps_uw_t_"));
        fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn missing_executable_is_one_line() {
        let e = checked(Path::new("/no/such/snaphu"), "PYSTAMPS_SNAPHU=/no/such/snaphu").unwrap_err();
        assert_eq!(e, "snaphu executable not found: PYSTAMPS_SNAPHU=/no/such/snaphu does not exist");
    }
}
