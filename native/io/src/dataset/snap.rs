//! SNAP / GAMMA-flavour roots (mt_prep_snap, mt_prep_gamma; spec A.1-A.2, C.1.2), as
//! `pystamps_batch.dataset.snap`: `rsc.txt` -> master `.rslc.par`, `pscphase.in` (width, one
//! `<...>/<master>_<slave>.diff` path per line) -> dates and one `.base` file per interferogram.
//!
//! `.par` / `.base` values are read with StaMPS' `readparm` semantics: the key must be the
//! prefix of exactly one whitespace token; the values are the tokens that follow it.
//! Recorded absolute paths that do not exist are looked up relative to the dataset root
//! ([`PathResolver`]).

use std::path::{Path, PathBuf};

use pystamps_core::stages::load::{RslcPar, SnapInputs};

use super::files::{parse_float, read_binary_f32, read_complex, read_ij, read_numbers, read_text, valid_date};

/// `readparm`: the `nvals` tokens after the one token of `text` starting with `key`.
pub fn readparm(path: &Path, text: &str, key: &str, nvals: usize) -> Result<Vec<String>, String> {
    let toks: Vec<&str> = text.split_whitespace().collect();
    let hits: Vec<usize> = (0..toks.len()).filter(|&i| toks[i].starts_with(key)).collect();
    if hits.is_empty() {
        return Err(format!("{}: no '{key}' entry", path.display()));
    }
    if hits.len() > 1 {
        let shown: Vec<&str> = hits.iter().take(3).map(|&i| toks[i]).collect();
        return Err(format!(
            "{}: '{key}' matches {} entries ({}), expected exactly one",
            path.display(),
            hits.len(),
            shown.join(", ")
        ));
    }
    let i = hits[0];
    let vals: Vec<String> = toks[i + 1..].iter().take(nvals).map(|s| s.to_string()).collect();
    if vals.len() < nvals {
        return Err(format!("{}: '{key}' has {} value(s), expected {nvals}", path.display(), vals.len()));
    }
    Ok(vals)
}

/// [`readparm`] values as numbers.
pub fn readparm_numbers(path: &Path, text: &str, key: &str, nvals: usize) -> Result<Vec<f64>, String> {
    let vals = readparm(path, text, key, nvals)?;
    vals.iter()
        .map(|v| parse_float(v))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| format!("{}: '{key}' value '{}' is not numeric", path.display(), vals.join(" ")))
}

/// Parse the master `.rslc.par`; a missing, ambiguous or implausible value is an error.
pub fn read_rslc_par(path: &Path) -> Result<RslcPar, String> {
    let text = read_text(path)?;
    let num = |k: &str| -> Result<f64, String> { Ok(readparm_numbers(path, &text, k, 1)?[0]) };
    let freq = num("radar_frequency:")?;
    if !(freq > 0.0) {
        return Err(format!("{}: radar_frequency {} Hz is not positive", path.display(), super::files::fmt_g(freq)));
    }
    let heading = num("heading:")?;
    readparm(path, &text, "sensor:", 1)?;
    let par = RslcPar {
        heading,
        range_pixel_spacing: num("range_pixel_spacing")?,
        near_range_slc: num("near_range_slc")?,
        sar_to_earth_center: num("sar_to_earth_center")?,
        earth_radius_below_sensor: num("earth_radius_below_sensor")?,
        center_range_slc: num("center_range_slc")?,
        azimuth_lines: num("azimuth_lines")?.trunc(),
        prf: num("prf")?,
    };
    let range_samples = num("range_samples")?.trunc();
    for (name, v) in [
        ("range_pixel_spacing", par.range_pixel_spacing),
        ("near_range_slc", par.near_range_slc),
        ("sar_to_earth_center", par.sar_to_earth_center),
        ("earth_radius_below_sensor", par.earth_radius_below_sensor),
        ("prf", par.prf),
        ("azimuth_lines", par.azimuth_lines),
        ("range_samples", range_samples),
    ] {
        if !(v > 0.0) {
            return Err(format!("{}: {name} = {} is not positive", path.display(), super::files::fmt_g(v)));
        }
    }
    if par.sar_to_earth_center <= par.earth_radius_below_sensor {
        return Err(format!(
            "{}: sar_to_earth_center {} m is not above earth_radius_below_sensor {} m",
            path.display(),
            super::files::fmt_g(par.sar_to_earth_center),
            super::files::fmt_g(par.earth_radius_below_sensor)
        ));
    }
    Ok(par)
}

/// `.base` file: ((T, C, N), (dT, dC, dN)) of `initial_baseline(TCN):` and `initial_baseline_rate:`.
pub fn read_base(path: &Path) -> Result<([f64; 3], [f64; 3]), String> {
    let text = read_text(path)?;
    let b = readparm_numbers(path, &text, "initial_baseline(TCN):", 3)?;
    let r = readparm_numbers(path, &text, "initial_baseline_rate:", 3)?;
    Ok(([b[0], b[1], b[2]], [r[0], r[1], r[2]]))
}

/// Components of a POSIX path as Python's `PurePosixPath.parts` ("/" first when absolute).
fn posix_parts(p: &str) -> Vec<String> {
    let mut parts = Vec::new();
    if p.starts_with('/') {
        parts.push("/".to_string());
    }
    parts.extend(p.split('/').filter(|c| !c.is_empty() && *c != ".").map(String::from));
    parts
}

/// Opens the absolute paths mt_prep_snap recorded, also in a relocated dataset.
///
/// A recorded path that exists is used as is; otherwise its tails (longest first, at least
/// `folder/file`) are tried below the dataset root. The first relocation of each recorded
/// prefix is noted once (in [`PathResolver::notes`]).
pub struct PathResolver {
    root: PathBuf,
    announced: Vec<String>,
    /// messages for the log, in order
    pub notes: Vec<String>,
}

impl PathResolver {
    pub fn new(root: &Path) -> Self {
        PathResolver { root: root.to_path_buf(), announced: Vec::new(), notes: Vec::new() }
    }

    /// The existing file for `recorded` (listed in `source`); an error if none.
    pub fn resolve(&mut self, recorded: &str, source: &Path, what: &str) -> Result<PathBuf, String> {
        let p = Path::new(recorded);
        let p = if p.is_absolute() { p.to_path_buf() } else { self.root.join(p) };
        if p.is_file() {
            return Ok(p);
        }
        let parts = posix_parts(recorded);
        let mut tried: Vec<PathBuf> = Vec::new();
        let upper = parts.len().saturating_sub(1).max(1);
        for k in 1..upper {
            let tail = &parts[k..];
            if tail.len() < 2 || tail[0] == "/" {
                continue;
            }
            let cand = tail.iter().fold(self.root.clone(), |acc, c| acc.join(c));
            tried.push(cand.clone());
            if cand.is_file() {
                let head = &parts[..k];
                let prefix = if head.first().map(String::as_str) == Some("/") {
                    format!("/{}", head[1..].join("/"))
                } else {
                    head.join("/")
                };
                if !self.announced.contains(&prefix) {
                    self.notes.push(format!(
                        "recorded paths under {prefix} do not exist here: resolved relative to the dataset root {} (relocated dataset)",
                        self.root.display()
                    ));
                    self.announced.push(prefix);
                }
                return Ok(cand);
            }
        }
        let name = parts.last().cloned().unwrap_or_default();
        let last = tried.pop().unwrap_or_else(|| self.root.join(name));
        Err(format!(
            "{}: {what} {recorded} does not exist, nor does {} (relocated dataset without it?)",
            source.display(),
            last.display()
        ))
    }
}

/// One line of pscphase.in.
#[derive(Debug, Clone)]
pub struct IfgEntry {
    pub line: usize,
    pub recorded: String,
    pub master: String,
    pub slave: String,
}

impl IfgEntry {
    /// `<path minus 'diff'>base`.
    pub fn base_recorded(&self) -> String {
        format!("{}base", &self.recorded[..self.recorded.len() - 4])
    }
}

/// The acquisition bookkeeping of `ps_load_initial_gamma` (C.1.2 steps 1-2).
#[derive(Debug, Clone)]
pub struct SnapStack {
    pub width: i64,
    pub entries: Vec<IfgEntry>,
    pub master: String,
    /// indices of the real interferograms among `entries`
    pub used: Vec<usize>,
    /// 0-based master position among the N acquisitions
    pub master_pos: usize,
    pub notes: Vec<String>,
}

/// Dates at the end of a `.diff` path: `...(\d{8})_(\d{8})\.diff`.
fn diff_dates(path: &str) -> Option<(String, String)> {
    let stem = path.strip_suffix(".diff")?;
    let b = stem.as_bytes();
    if b.len() < 17 || b[b.len() - 9] != b'_' {
        return None;
    }
    let (m, s) = (&stem[stem.len() - 17..stem.len() - 9], &stem[stem.len() - 8..]);
    if m.bytes().chain(s.bytes()).all(|c| c.is_ascii_digit()) {
        Some((m.to_string(), s.to_string()))
    } else {
        None
    }
}

fn read_rsc(root: &Path) -> Result<String, String> {
    let f = root.join("rsc.txt");
    read_text(&f)?
        .split_whitespace()
        .next()
        .map(String::from)
        .ok_or_else(|| format!("{}: empty, expected the path of the master .rslc.par", f.display()))
}

/// rsc.txt + pscphase.in -> [`SnapStack`] with the checks StaMPS assumes.
pub fn read_stack(root: &Path) -> Result<SnapStack, String> {
    let f = root.join("pscphase.in");
    let text = read_text(&f)?;
    let lines: Vec<(usize, &str)> =
        text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty()).collect();
    let (l0, first) = *lines
        .first()
        .ok_or_else(|| format!("{}: empty, expected the width and one .diff path per line", f.display()))?;
    let width: i64 = first
        .split_whitespace()
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("{}: line {l0}: '{first}' is not the width", f.display()))?;
    let mut entries = Vec::new();
    for &(i, ln) in &lines[1..] {
        let path = ln.split_whitespace().next().unwrap_or("");
        match diff_dates(path) {
            Some((m, s)) if valid_date(&m) && valid_date(&s) => {
                entries.push(IfgEntry { line: i, recorded: path.to_string(), master: m, slave: s })
            }
            _ => {
                return Err(format!(
                    "{}: line {i}: '{path}' does not end in <YYYYMMDD>_<YYYYMMDD>.diff (StaMPS reads the dates from these positions)",
                    f.display()
                ))
            }
        }
    }
    if entries.is_empty() {
        return Err(format!("{}: lists no interferograms", f.display()));
    }
    let master = entries[0].master.clone();
    for e in &entries {
        if e.master != master {
            return Err(format!(
                "{}: line {}: master date {} differs from {master} of the first interferogram (single-master stacks only)",
                f.display(),
                e.line,
                e.master
            ));
        }
    }
    if root.join("rsc.txt").is_file() {
        let rsc = read_rsc(root)?;
        let name = posix_parts(&rsc).last().cloned().unwrap_or_default();
        if !name.starts_with(&master) {
            return Err(format!(
                "{}: master parameter file {name} is not of the master date {master} of pscphase.in",
                root.join("rsc.txt").display()
            ));
        }
    }
    let used: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].master != entries[i].slave).collect();
    let nulls: Vec<&IfgEntry> = entries.iter().filter(|e| e.master == e.slave).collect();
    if nulls.len() > 1 {
        return Err(format!("{}: {} null (master-master) interferograms listed", f.display(), nulls.len()));
    }
    if used.is_empty() {
        return Err(format!("{}: lists only the null (master-master) interferogram", f.display()));
    }
    for w in used.windows(2) {
        let (a, b) = (&entries[w[0]].slave, &entries[w[1]].slave);
        if b <= a {
            return Err(format!(
                "{}: line {}: date {b} does not follow {a} (the interferograms must be listed in ascending date order, as `ls` writes them)",
                f.display(),
                entries[w[1]].line
            ));
        }
    }
    let master_pos = used.iter().filter(|&&i| entries[i].slave < master).count();
    let mut notes = Vec::new();
    if let Some(nl) = nulls.first() {
        notes.push(format!("{}: null interferogram {} dropped (the master is inserted instead)", f.display(), nl.recorded));
    }
    Ok(SnapStack { width, entries, master, used, master_pos, notes })
}

/// Everything `ps_load_initial_gamma` reads for one patch (big-endian patch files).
pub(crate) fn read_snap_inputs(root: &Path, patch: &str, pdir: &Path) -> Result<(SnapInputs, Vec<String>), String> {
    if !root.join("pscphase.in").is_file() {
        return Err(format!("{}: file not found", root.join("pscphase.in").display()));
    }
    let stack = read_stack(root)?;
    let mut res = PathResolver::new(root);
    let rec = read_rsc(root)?;
    let par_path = res.resolve(&rec, &root.join("rsc.txt"), "master parameter file")?;
    let par = read_rslc_par(&par_path)?;
    let mut notes = stack.notes.clone();
    let mut baselines = Vec::with_capacity(stack.used.len());
    for &i in &stack.used {
        let p = res.resolve(&stack.entries[i].base_recorded(), &root.join("pscphase.in"), "baseline file")?;
        baselines.push(read_base(&p)?);
    }
    let ij = read_ij(&pdir.join("pscands.1.ij"))?;
    let n = ij.len();
    if n == 0 {
        return Err(format!("{}: no candidates in this patch", pdir.join("pscands.1.ij").display()));
    }
    let nb = stack.entries.len();
    let ph = read_complex(&pdir.join("pscands.1.ph"), n * nb, true, &format!("{n} candidates x {nb} ifgs x complex64"))?;
    let ll = read_binary_f32(&pdir.join("pscands.1.ll"), 2 * n, true, &format!("{n} (lon, lat) float32 pairs"))?;
    let da_f = pdir.join("pscands.1.da");
    let da = if da_f.is_file() { Some(read_numbers(&da_f, Some(n), "D_A values")?) } else { None };
    let hgt_f = pdir.join("pscands.1.hgt");
    let hgt = if hgt_f.is_file() { Some(read_binary_f32(&hgt_f, n, true, &format!("{n} heights float32"))?) } else { None };
    let mut all_notes = std::mem::take(&mut res.notes);
    all_notes.append(&mut notes);
    Ok((
        SnapInputs {
            root: root.to_path_buf(),
            patch_dir: pdir.to_path_buf(),
            patch_name: patch.to_string(),
            par,
            master: stack.master.clone(),
            slaves: stack.used.iter().map(|&i| stack.entries[i].slave.clone()).collect(),
            master_pos: stack.master_pos,
            n_blocks: nb,
            used: stack.used.clone(),
            baselines,
            ij,
            ph,
            lonlat: ll.chunks_exact(2).map(|c| [c[0], c[1]]).collect(),
            da,
            hgt,
        },
        all_notes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_dates_from_path_tail() {
        assert_eq!(
            diff_dates("/d/diff0/20190325_20190406.diff"),
            Some(("20190325".to_string(), "20190406".to_string()))
        );
        assert_eq!(diff_dates("/d/diff0/2019032_20190406.diff"), None);
        assert_eq!(diff_dates("/d/diff0/20190325-20190406.diff"), None);
    }

    #[test]
    fn posix_parts_like_python() {
        assert_eq!(posix_parts("/a//b/./c"), vec!["/", "a", "b", "c"]);
        assert_eq!(posix_parts("a/b"), vec!["a", "b"]);
    }

    #[test]
    fn readparm_key_must_match_one_token() {
        let p = Path::new("x.par");
        let t = "prf: 1679.9 Hz\nrange_samples: 200\nrange_samples_x: 3\n";
        assert_eq!(readparm_numbers(p, t, "prf:", 1).unwrap(), vec![1679.9]);
        let e = readparm(p, t, "range_samples", 1).unwrap_err();
        assert!(e.contains("matches 2 entries"), "{e}");
        assert!(readparm(p, t, "heading:", 1).unwrap_err().contains("no 'heading:' entry"));
    }

    #[test]
    fn resolver_relocates_recorded_paths() {
        let root = std::env::temp_dir().join(format!("pystamps-io-resolver-{}", std::process::id()));
        std::fs::create_dir_all(root.join("diff0")).unwrap();
        std::fs::write(root.join("diff0").join("a.base"), "x").unwrap();
        let mut r = PathResolver::new(&root);
        let got = r.resolve("/nowhere/data/diff0/a.base", &root.join("pscphase.in"), "baseline file").unwrap();
        assert_eq!(got, root.join("diff0").join("a.base"));
        assert_eq!(r.notes.len(), 1);
        assert!(r.notes[0].contains("under /nowhere/data do not exist"), "{}", r.notes[0]);
        let e = r.resolve("/nowhere/data/diff0/b.base", &root.join("pscphase.in"), "baseline file").unwrap_err();
        assert!(e.contains("does not exist, nor does") && e.contains("b.base"), "{e}");
        std::fs::remove_dir_all(&root).ok();
    }
}
