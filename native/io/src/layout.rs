//! The small files of a StaMPS dataset root, as `pystamps_batch.dataset.layout.open_dataset`
//! reads them: flavour, patch list, image size, dates, candidate counts, and (snap/gamma)
//! the `pscphase.in` / `rsc.txt` bookkeeping and the recorded-path resolver.
//!
//! This is what the runner needs to plan units and fingerprint inputs; reading the patch
//! binaries for stage 1 is [`crate::dataset`]'s job, and the text-file parsers, the snap
//! stack and the recorded-path resolver are [`crate::dataset`]'s (one implementation).
//! Every error is one line naming the file.

use std::path::{Path, PathBuf};

pub use crate::dataset::{PathResolver, SnapStack};

/// A dataset input problem (the Python side's `InputError`); exit status 2.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError(pub String);

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

fn err<T>(msg: String) -> Result<T, InputError> {
    Err(InputError(msg))
}

pub const FLAVOURS: [&str; 3] = ["doris", "snap", "gamma"];

/// One `PATCH_n` folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub name: String,
    pub path: PathBuf,
    /// patch.in (rg0, rg1, az0, az1), 1-based inclusive
    pub window: Option<[i64; 4]>,
    /// patch_noover.in
    pub noover: Option<[i64; 4]>,
    /// non-empty lines of pscands.1.ij (None if the file is absent)
    pub n_cand: Option<usize>,
}

/// A dataset root and what its small files say.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    pub flavour: String,
    pub patches: Vec<Patch>,
    pub width: Option<i64>,
    pub length: Option<i64>,
    pub master_day: Option<String>,
    pub slave_days: Vec<String>,
    /// "patch.list" or "PATCH_* folders"
    pub patch_list_source: String,
    pub stack: Option<SnapStack>,
}

impl Layout {
    pub fn n_ifg(&self) -> usize {
        self.slave_days.len()
    }

    pub fn is_gamma_like(&self) -> bool {
        self.flavour == "snap" || self.flavour == "gamma"
    }

    pub fn patch(&self, name: &str) -> Result<&Patch, InputError> {
        self.patches
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| InputError(format!("{}: no patch named {name}", self.root.display())))
    }

    /// snap/gamma: the master .rslc.par and every used .base file, resolved (unresolvable ones
    /// left out, as the Python side does). [] for doris.
    pub fn step1_recorded_inputs(&self) -> Vec<PathBuf> {
        let Some(st) = &self.stack else { return vec![] };
        if !self.is_gamma_like() {
            return vec![];
        }
        let mut res = PathResolver::new(&self.root);
        let mut out = Vec::new();
        if let Ok(rsc) = read_rsc(&self.root) {
            if let Ok(p) = res.resolve(&rsc, &self.root.join("rsc.txt"), "file") {
                out.push(p);
            }
        }
        for &i in &st.used {
            if let Ok(p) = res.resolve(&st.entries[i].base_recorded(), &self.root.join("pscphase.in"), "file") {
                out.push(p);
            }
        }
        out
    }
}

fn read_text(path: &Path) -> Result<String, InputError> {
    if !path.is_file() {
        return err(format!("{}: file not found", path.display()));
    }
    match std::fs::read(path) {
        Ok(b) => String::from_utf8(b).map_err(|_| InputError(format!("{}: not a text file", path.display()))),
        Err(e) => err(format!("{}: cannot read ({e})", path.display())),
    }
}

/// Python's `float()` of a token (accepts inf/nan spellings).
pub fn parse_float(t: &str) -> Option<f64> {
    let s = t.trim();
    let l = s.to_ascii_lowercase();
    let (sign, body) = match l.strip_prefix('-') {
        Some(b) => (-1.0, b),
        None => (1.0, l.strip_prefix('+').unwrap_or(&l)),
    };
    match body {
        "inf" | "infinity" => Some(sign * f64::INFINITY),
        "nan" => Some(f64::NAN),
        _ => s.replace('_', "").parse::<f64>().ok().filter(|_| !s.contains("__")),
    }
}

/// All whitespace-separated numbers of a text file (`crate::dataset::read_numbers`).
pub fn read_numbers(path: &Path, expect: Option<usize>, what: &str) -> Result<Vec<f64>, InputError> {
    crate::dataset::read_numbers(path, expect, what).map_err(InputError)
}

/// The first number of a one-value text file (`crate::dataset::read_scalar`).
pub fn read_scalar(path: &Path, integer: bool) -> Result<f64, InputError> {
    crate::dataset::read_scalar(path, integer).map_err(InputError)
}

/// YYYYMMDD tokens (`crate::dataset::read_dates`).
pub fn read_dates(path: &Path, expect: Option<usize>) -> Result<Vec<String>, InputError> {
    crate::dataset::read_dates(path, expect).map_err(InputError)
}

/// patch.in / patch_noover.in
pub fn read_patch_window(path: &Path) -> Result<[i64; 4], InputError> {
    let v = read_numbers(path, Some(4), "integers")?;
    let ok = v.iter().all(|x| x.fract() == 0.0 && *x >= 1.0) && v[0] <= v[1] && v[2] <= v[3];
    if !ok {
        return err(format!(
            "{}: expected 4 positive integers rg_start rg_end az_start az_end, got {v:?}",
            path.display()
        ));
    }
    Ok([v[0] as i64, v[1] as i64, v[2] as i64, v[3] as i64])
}

/// Non-empty lines (candidates in pscands.1.ij).
pub fn count_lines(path: &Path) -> Result<usize, InputError> {
    let b = std::fs::read(path).map_err(|_| InputError(format!("{}: file not found", path.display())))?;
    Ok(b.split(|&c| c == b'\n').filter(|l| l.iter().any(|c| !c.is_ascii_whitespace())).count())
}

fn natural_key(name: &str) -> Vec<(u8, u64, String)> {
    // digits runs compare as numbers, the rest as text
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut digits = false;
    for ch in name.chars() {
        let d = ch.is_ascii_digit();
        if !cur.is_empty() && d != digits {
            out.push(if digits { (0, cur.parse().unwrap_or(u64::MAX), String::new()) } else { (1, 0, cur.clone()) });
            cur.clear();
        }
        digits = d;
        cur.push(ch);
    }
    if !cur.is_empty() {
        out.push(if digits { (0, cur.parse().unwrap_or(u64::MAX), String::new()) } else { (1, 0, cur) });
    }
    out
}

/// Patch names from patch.list, else PATCH_* folders in numeric order.
pub fn discover_patches(root: &Path) -> (Vec<String>, String) {
    let pl = root.join("patch.list");
    if pl.is_file() {
        let text = std::fs::read_to_string(&pl).unwrap_or_default();
        let names = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
        return (names, "patch.list".into());
    }
    let mut names: Vec<String> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("PATCH_"))
                .collect()
        })
        .unwrap_or_default();
    names.sort_by_key(|n| natural_key(n));
    (names, "PATCH_* folders".into())
}

/// First word of processor.txt, lower case; "doris" when absent or empty.
pub fn read_flavour(root: &Path) -> Result<String, InputError> {
    let f = root.join("processor.txt");
    if !f.is_file() {
        return Ok("doris".into());
    }
    let text = read_text(&f)?;
    let flav = text.split_whitespace().next().map(|w| w.to_lowercase()).unwrap_or_else(|| "doris".into());
    if !FLAVOURS.contains(&flav.as_str()) {
        return err(format!("{}: unknown processor '{flav}', expected one of {}", f.display(), FLAVOURS.join(", ")));
    }
    Ok(flav)
}

/// The master .rslc.par path recorded in rsc.txt.
pub fn read_rsc(root: &Path) -> Result<String, InputError> {
    let f = root.join("rsc.txt");
    let text = read_text(&f)?;
    text.split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or_else(|| InputError(format!("{}: empty, expected the path of the master .rslc.par", f.display())))
}

/// StaMPS' readparm: the `nvals` tokens after the one token starting with `key`.
pub fn readparm(path: &Path, text: &str, key: &str, nvals: usize) -> Result<Vec<String>, InputError> {
    let toks: Vec<&str> = text.split_whitespace().collect();
    let hits: Vec<usize> = (0..toks.len()).filter(|&i| toks[i].starts_with(key)).collect();
    match hits.len() {
        0 => return err(format!("{}: no '{key}' entry", path.display())),
        1 => {}
        n => {
            let some: Vec<&str> = hits.iter().take(3).map(|&i| toks[i]).collect();
            return err(format!(
                "{}: '{key}' matches {n} entries ({}), expected exactly one",
                path.display(),
                some.join(", ")
            ));
        }
    }
    let i = hits[0];
    let vals: Vec<String> = toks[i + 1..].iter().take(nvals).map(|s| s.to_string()).collect();
    if vals.len() < nvals {
        return err(format!("{}: '{key}' has {} value(s), expected {nvals}", path.display(), vals.len()));
    }
    Ok(vals)
}

/// One numeric readparm value.
pub fn readparm_number(path: &Path, text: &str, key: &str) -> Result<f64, InputError> {
    let v = readparm(path, text, key, 1)?;
    parse_float(&v[0]).ok_or_else(|| InputError(format!("{}: '{key}' value '{}' is not numeric", path.display(), v[0])))
}

/// The master .rslc.par values the parameters need: (wavelength m, heading deg, platform).
pub fn rslc_par_params(root: &Path) -> Result<(f64, f64, String), InputError> {
    let rec = read_rsc(root)?;
    let path = PathResolver::new(root).resolve(&rec, &root.join("rsc.txt"), "master parameter file").map_err(InputError)?;
    let text = read_text(&path)?;
    let freq = readparm_number(&path, &text, "radar_frequency:")?;
    if !(freq > 0.0) {
        return err(format!("{}: radar_frequency {freq} Hz is not positive", path.display()));
    }
    let heading = readparm_number(&path, &text, "heading:")?;
    let platform = readparm(&path, &text, "sensor:", 1)?.remove(0);
    Ok((299792458.0 / freq, heading, platform))
}

/// Read a dataset root's small files (what `open_dataset` reads; no validation of the binaries).
pub fn open_layout(root: &Path) -> Result<Layout, InputError> {
    if !root.is_dir() {
        return err(format!("{}: dataset folder not found", root.display()));
    }
    let flavour = read_flavour(root)?;
    let (names, src) = discover_patches(root);
    let mut patches = Vec::new();
    for nm in names {
        let pdir = root.join(&nm);
        let mut p = Patch { name: nm, path: pdir.clone(), window: None, noover: None, n_cand: None };
        if pdir.join("patch.in").is_file() {
            p.window = Some(read_patch_window(&pdir.join("patch.in"))?);
        }
        if pdir.join("patch_noover.in").is_file() {
            p.noover = Some(read_patch_window(&pdir.join("patch_noover.in"))?);
        }
        if pdir.join("pscands.1.ij").is_file() {
            p.n_cand = Some(count_lines(&pdir.join("pscands.1.ij"))?);
        }
        patches.push(p);
    }
    let mut ds = Layout {
        root: root.to_path_buf(),
        flavour,
        patches,
        width: None,
        length: None,
        master_day: None,
        slave_days: vec![],
        patch_list_source: src,
        stack: None,
    };
    if root.join("width.txt").is_file() {
        ds.width = Some(read_scalar(&root.join("width.txt"), true)? as i64);
    }
    if root.join("len.txt").is_file() {
        ds.length = Some(read_scalar(&root.join("len.txt"), true)? as i64);
    }
    if ds.is_gamma_like() {
        if root.join("pscphase.in").is_file() {
            let st = crate::dataset::read_stack(root).map_err(InputError)?;
            ds.master_day = Some(st.master.clone());
            ds.slave_days = st.used.iter().map(|&i| st.entries[i].slave.clone()).collect();
            ds.stack = Some(st);
        }
    } else {
        if root.join("master_day.1.in").is_file() {
            ds.master_day = Some(read_dates(&root.join("master_day.1.in"), Some(1))?.remove(0));
        }
        if root.join("day.1.in").is_file() {
            ds.slave_days = read_dates(&root.join("day.1.in"), None)?;
        }
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order() {
        let mut v = vec!["PATCH_10".to_string(), "PATCH_2".into(), "PATCH_1".into()];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["PATCH_1", "PATCH_2", "PATCH_10"]);
    }

    #[test]
    fn floats_like_python() {
        assert_eq!(parse_float("inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("x"), None);
    }

}
