//! The StaMPS dataset root (mt_prep / mt_prep_snap layout) and the inputs of stage 1.
//!
//! Mirrors `pystamps_batch.dataset.{layout,mtprep,snap}`: the same files, the same parsing
//! rules (StaMPS' `readparm` prefix matching, recorded absolute paths resolved relative to
//! a relocated dataset root) and one-line errors naming the file, worded as the Python side.
//!
//! Entry points:
//! - [`read_flavour`], [`patch_names`]: what the root holds;
//! - [`read_load_inputs`]: everything stage 1 reads for one patch, parsed into
//!   [`pystamps_core::stages::load::LoadInputs`];
//! - [`load_patch`]: read + `pystamps_core::stages::load::run`, i.e. stage 1 of one patch.

mod files;
mod snap;

use std::path::{Path, PathBuf};

use pystamps_core::stages::arrays::StageOutputs;
use pystamps_core::stages::load::{self, DorisInputs, LoadInputs};

pub use files::{read_binary_f32, read_calamp, read_dates, read_grid_file, read_ij, read_numbers, read_scalar};
pub use snap::{read_stack, PathResolver, SnapStack};

/// Dataset flavour from `processor.txt` (StaMPS' default `doris` when absent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Doris,
    Snap,
    Gamma,
}

impl Flavour {
    /// True for snap and gamma (`ps_load_initial_gamma`, big-endian patch files).
    pub fn is_gamma_like(self) -> bool {
        matches!(self, Flavour::Snap | Flavour::Gamma)
    }
}

/// First word of `processor.txt`, lower case; `doris` when the file is absent or empty.
pub fn read_flavour(root: &Path) -> Result<Flavour, String> {
    let f = root.join("processor.txt");
    if !f.is_file() {
        return Ok(Flavour::Doris);
    }
    let text = files::read_text(&f)?;
    let word = text.split_whitespace().next().map(|w| w.to_lowercase()).unwrap_or_else(|| "doris".into());
    match word.as_str() {
        "doris" => Ok(Flavour::Doris),
        "snap" => Ok(Flavour::Snap),
        "gamma" => Ok(Flavour::Gamma),
        _ => Err(format!("{}: unknown processor '{word}', expected one of doris, snap, gamma", f.display())),
    }
}

fn natural_key(name: &str) -> Vec<(u8, u128, String)> {
    // digits compare as numbers, other runs as text
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    let flush = |cur: &mut String, digits: bool, out: &mut Vec<(u8, u128, String)>| {
        if !cur.is_empty() {
            if digits {
                out.push((0, cur.parse().unwrap_or(u128::MAX), String::new()));
            } else {
                out.push((1, 0, cur.clone()));
            }
            cur.clear();
        }
    };
    for ch in name.chars() {
        let d = ch.is_ascii_digit();
        if d != digits {
            flush(&mut cur, digits, &mut out);
            digits = d;
        }
        cur.push(ch);
    }
    flush(&mut cur, digits, &mut out);
    out
}

/// Patch folder names: the lines of `patch.list`, else the `PATCH_*` folders in numeric order.
pub fn patch_names(root: &Path) -> Result<Vec<String>, String> {
    let pl = root.join("patch.list");
    if pl.is_file() {
        let text = files::read_text(&pl)?;
        return Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect());
    }
    let rd = std::fs::read_dir(root).map_err(|e| format!("{}: cannot list ({e})", root.display()))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("PATCH_"))
        .collect();
    names.sort_by_key(|n| natural_key(n));
    Ok(names)
}

fn optional<T>(path: &Path, read: impl FnOnce(&Path) -> Result<T, String>) -> Result<Option<T>, String> {
    if path.is_file() {
        read(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Everything stage 1 reads for patch `patch` of the dataset at `root`, parsed.
///
/// Returns the inputs and the notes the Python loader logs (relocated recorded paths,
/// a dropped null interferogram). Errors are one line naming the bad file.
pub fn read_load_inputs(root: &Path, patch: &str) -> Result<(LoadInputs, Vec<String>), String> {
    if !root.is_dir() {
        return Err(format!("{}: dataset folder not found", root.display()));
    }
    let flavour = read_flavour(root)?;
    let names = patch_names(root)?;
    if !names.iter().any(|n| n == patch) {
        return Err(format!("{}: no patch named {patch}", root.display()));
    }
    let pdir = root.join(patch);
    if flavour.is_gamma_like() {
        return snap::read_snap_inputs(root, patch, &pdir).map(|(s, notes)| (LoadInputs::Snap(s), notes));
    }
    Ok((LoadInputs::Doris(read_doris_inputs(root, patch, &pdir)?), Vec::new()))
}

fn read_size(root: &Path, name: &str) -> Result<f64, String> {
    let f = root.join(name);
    if !f.is_file() {
        return Err(format!("{}: file not found", f.display()));
    }
    read_scalar(&f, true)
}

fn read_doris_inputs(root: &Path, patch: &str, pdir: &Path) -> Result<DorisInputs, String> {
    let width = read_size(root, "width.txt")?;
    let length = read_size(root, "len.txt")?;
    let master_day = read_dates(&root.join("master_day.1.in"), Some(1))?.remove(0);
    let slave_days = read_dates(&root.join("day.1.in"), None)?;
    let big_m = slave_days.len();
    let bperp_in = read_numbers(&root.join("bperp.1.in"), Some(big_m), "baselines")?;
    let calamp = optional(&root.join("calamp.out"), read_calamp)?;
    let ij = read_ij(&pdir.join("pscands.1.ij"))?;
    let n = ij.len();
    let ph = files::read_complex(&pdir.join("pscands.1.ph"), n * big_m, false,
        &format!("{n} candidates x {big_m} ifgs x complex64"))?;
    let ll = read_binary_f32(&pdir.join("pscands.1.ll"), 2 * n, false, &format!("{n} (lon, lat) float32 pairs"))?;
    let lonlat = ll.chunks_exact(2).map(|c| [c[0], c[1]]).collect();
    let heading = read_scalar(&root.join("heading.1.in"), false)?;
    let da = optional(&pdir.join("pscands.1.da"), |f| read_numbers(f, Some(n), "D_A values"))?;
    let hgt = optional(&pdir.join("pscands.1.hgt"), |f| {
        read_binary_f32(f, n, false, &format!("{n} heights float32"))
    })?;
    let look_angle = optional(&root.join("look_angle.1.in"), read_grid_file)?;
    let bperp_grids = slave_days
        .iter()
        .map(|d| optional(&root.join(format!("bperp_{d}.1.in")), read_grid_file))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(DorisInputs {
        root: root.to_path_buf(),
        patch_dir: pdir.to_path_buf(),
        patch_name: patch.to_string(),
        width,
        length,
        slave_days,
        master_day,
        bperp_in,
        calamp,
        heading,
        ij,
        ph,
        lonlat,
        da,
        hgt,
        look_angle,
        bperp_grids,
    })
}

/// Stage 1 of one patch: [`read_load_inputs`] then `pystamps_core::stages::load::run`.
/// Returns the artifacts `ps1 ph1 bp1 la1 da1 hgt1` and the loader's notes.
pub fn load_patch(root: &Path, patch: &str) -> Result<(StageOutputs, Vec<String>), String> {
    let (inputs, mut notes) = read_load_inputs(root, patch)?;
    let out = load::run(&inputs)?;
    let (n_ps, n_img) = summary(&out);
    let flav = match &inputs {
        LoadInputs::Doris(d) => format!("master {}", d.master_day),
        LoadInputs::Snap(s) => format!("master {}, {} flavour", s.master, read_flavour(root).map(|f| format!("{f:?}").to_lowercase()).unwrap_or_default()),
    };
    notes.push(format!("{patch}: loaded {n_ps} candidates, {n_img} images ({flav})"));
    Ok((out, notes))
}

fn summary(out: &StageOutputs) -> (usize, usize) {
    use pystamps_core::stages::arrays::MatData;
    let get = |k: &str| -> usize {
        out.iter()
            .find(|(a, _)| a == "ps1")
            .and_then(|(_, v)| v.iter().find(|(n, _)| n == k))
            .and_then(|(_, m)| match &m.data {
                MatData::F64(v) => v.first().map(|x| *x as usize),
                _ => None,
            })
            .unwrap_or(0)
    };
    (get("n_ps"), get("n_ifg"))
}

/// The patch folder path of `patch` under `root`.
pub fn patch_dir(root: &Path, patch: &str) -> PathBuf {
    root.join(patch)
}
