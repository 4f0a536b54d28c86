//! Stage 5b, `ps_merge_patches` (spec C.5.2, `merge_resample_size = 0`): the Rust twin of
//! `pystamps_batch/stages/merge.py::merge`, followed by `ps_calc_ifg_std`
//! ([`super::correct::ifg_std`]) as the Python runner's 5b executor does.
//!
//! Per patch (patch-list order, patches without PS skipped):
//! 1. `core` = pixels whose (az, rg) lie in `patch_noover.in` (1-based, inclusive);
//! 2. merged pixels with the (az, rg) of a core pixel are marked for removal;
//! 3. selected = core + non-core pixels whose (az, rg) is not merged yet;
//! 4. the selected rows of every per-pixel array are appended (`phuw2` shifted per ifg by
//!    the 2*pi-rounded mean difference over the already merged copies, `scla2`/`scn2` by
//!    the unrounded one).
//!
//! Then the marked rows are dropped, lon/lat duplicates keep the highest `coh_ps` (the
//! first in merged order on ties), `xy` is recomputed (`geo::local_xy`, heading rotation,
//! y-then-x sort, mm rounding), `ij = [1..n, az, rg]`, and `ph_rc` is normalised to unit
//! modulus. Every other `ps2` variable (ll0 included, spec J.3) is the last merged patch's.
//! Outputs, names, order, shapes and dtypes are the Python stage's.

use std::collections::{HashMap, HashSet};

use super::arrays::{Artifact, MatArray, MatData, StageOutputs};
use super::correct::{ifg_std, CorrectInputs};
use super::select::mat::{take_rows, to_f64};
use super::select::Artifacts;
use num_complex::Complex32;

/// Artifacts read from each patch (required) and when present.
pub const PATCH_READS: &[&str] = &["ps2", "ph2", "rc2", "pm2", "bp2", "la2", "hgt2"];
pub const PATCH_OPTIONAL: &[&str] = &["inc2", "phuw2", "scla2", "scn2"];

/// (artifact, variable) of the per-pixel arrays that are merged row-wise.
const ROW_VARS: &[(&str, &str)] = &[
    ("ph2", "ph"),
    ("rc2", "ph_rc"),
    ("rc2", "ph_reref"),
    ("pm2", "ph_patch"),
    ("pm2", "ph_res"),
    ("pm2", "K_ps"),
    ("pm2", "C_ps"),
    ("pm2", "coh_ps"),
    ("bp2", "bperp_mat"),
    ("la2", "la"),
    ("hgt2", "hgt"),
];

/// The row variables of scla2 and scn2 (shifted by overlap offsets).
const EXTRA: &[(&str, &[&str])] = &[("scla2", &["ph_scla", "K_ps_uw", "C_ps_uw"]), ("scn2", &["ph_scn_slave"])];

/// One patch's inputs to the merge.
#[derive(Debug, Clone)]
pub struct PatchArrays {
    pub name: String,
    /// `patch_noover.in`: 1-based (rg_start, rg_end, az_start, az_end)
    pub noover: [i64; 4],
    /// the loaded artifacts (PATCH_READS and the PATCH_OPTIONAL that exist)
    pub arrays: Artifacts,
    /// the patch has no PS (no_ps_info flags): skipped
    pub empty: bool,
}

fn var<'a>(p: &'a PatchArrays, art: &str, name: &str) -> Result<&'a MatArray, String> {
    let a = p.arrays.get(art).ok_or_else(|| format!("merge: patch {} lacks {art}.mat", p.name))?;
    a.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("merge: patch {}: {art}.mat lacks variable {name}", p.name))
}

fn has_var(p: &PatchArrays, art: &str, name: &str) -> bool {
    p.arrays.get(art).is_some_and(|a| a.iter().any(|(k, _)| k == name))
}

impl PatchArrays {
    /// Number of PS (0 for an empty patch); an error when ps2 or its ij is missing.
    pub fn n_ps(&self) -> Result<usize, String> {
        if self.empty {
            return Ok(0);
        }
        if !self.arrays.contains_key("ps2") {
            return Err(format!("merge: patch {} lacks ps2.mat", self.name));
        }
        if !has_var(self, "ps2", "ij") {
            return Err(format!("merge: patch {}: ps2.mat lacks variable ij", self.name));
        }
        Ok(var(self, "ps2", "ij")?.rows)
    }
}

/// Parse `patch_noover.in` text (4 numbers, whitespace separated, truncated to integers).
pub fn parse_noover(text: &str, what: &str) -> Result<[i64; 4], String> {
    let mut vals = Vec::new();
    for t in text.split_whitespace() {
        let v: f64 = t.parse().map_err(|_| format!("{what}: cannot read patch_noover.in (bad number '{t}')"))?;
        vals.push(v.trunc() as i64);
    }
    if vals.len() != 4 {
        return Err(format!("{what}: expected 4 integers (rg_start rg_end az_start az_end), got {}", vals.len()));
    }
    Ok([vals[0], vals[1], vals[2], vals[3]])
}

fn check_patch(p: &PatchArrays, n_img: Option<usize>) -> Result<(), String> {
    for art in PATCH_READS {
        if !p.arrays.contains_key(*art) {
            return Err(format!("merge: patch {} lacks {art}.mat", p.name));
        }
    }
    let n = p.n_ps()?;
    for &(art, v) in ROW_VARS.iter().chain(&[("ps2", "lonlat")]) {
        let a = var(p, art, v)?;
        if a.rows != n {
            return Err(format!("merge: patch {}: {art}.{v} has {} rows, ps2 has {n} PS", p.name, a.rows));
        }
    }
    let cols = var(p, "ph2", "ph")?.cols;
    if let Some(nn) = n_img {
        if cols != nn {
            return Err(format!("merge: patch {} has {cols} images, earlier patches {nn}", p.name));
        }
    }
    Ok(())
}

/// Row-wise concatenation of same-typed arrays with the same column count.
fn concat_rows(parts: &[MatArray], what: &str) -> Result<MatArray, String> {
    let first = parts.first().ok_or_else(|| format!("{what}: nothing to concatenate"))?;
    let cols = first.cols;
    let rows: usize = parts.iter().map(|p| p.rows).sum();
    if let Some(b) = parts.iter().find(|p| p.cols != cols) {
        return Err(format!("{what}: {} columns in one patch, {cols} in another", b.cols));
    }
    macro_rules! cat {
        ($variant:ident) => {{
            let mut out = Vec::with_capacity(rows * cols);
            for c in 0..cols {
                for p in parts {
                    match &p.data {
                        MatData::$variant(v) => out.extend_from_slice(&v[c * p.rows..(c + 1) * p.rows]),
                        _ => return Err(format!("{what}: different data types across patches")),
                    }
                }
            }
            MatData::$variant(out)
        }};
    }
    let data = match &first.data {
        MatData::F64(_) => cat!(F64),
        MatData::F32(_) => cat!(F32),
        MatData::C64(_) => cat!(C64),
        MatData::C128(_) => cat!(C128),
        MatData::I32(_) => cat!(I32),
        MatData::U8(_) => cat!(U8),
        MatData::Bool(_) => cat!(Bool),
        MatData::Char(_) => return Err(format!("{what} is text")),
        MatData::Sparse(_) => return Err(format!("{what} is sparse, cannot be merged")),
    };
    Ok(MatArray::new(rows, cols, data))
}

/// Column-major f64 values of rows `rows` (all columns) of `a`.
fn rows_f64(a: &MatArray, rows: &[usize], what: &str) -> Result<Vec<f64>, String> {
    to_f64(&take_rows(a, rows, what)?, what)
}

/// Per-column mean of (merged - patch) over the overlap rows (f64, NumPy's summation
/// order: sequential over rows, pairwise for a single column); 2*pi-rounded when
/// `rounded`; None when there is no overlap (the offset is then 0).
fn overlap_offset(
    cur: &MatArray,
    ov_new: &[usize],
    prev: &[MatArray],
    ov_old: &[usize],
    rounded: bool,
    what: &str,
) -> Result<Option<Vec<f64>>, String> {
    if ov_new.is_empty() || prev.is_empty() {
        return Ok(None);
    }
    let merged = concat_rows(prev, what)?;
    let old = rows_f64(&merged, ov_old, what)?;
    let new = rows_f64(cur, ov_new, what)?;
    let m = ov_new.len();
    let cols = cur.cols;
    let mut out = Vec::with_capacity(cols);
    let mut diff = vec![0f64; m];
    for c in 0..cols {
        for (r, d) in diff.iter_mut().enumerate() {
            *d = old[c * m + r] - new[c * m + r];
        }
        let s = if cols == 1 { crate::num::pairwise_sum_f64(&diff) } else { diff.iter().fold(0.0, |a, &x| a + x) };
        let mut d = s / m as f64;
        if rounded {
            let x = d / (2.0 * std::f64::consts::PI);
            let r = if x.is_nan() { f64::NAN } else { x.signum() * (x.abs() + 0.5).floor() };
            let r = if x == 0.0 { 0.0 * x } else { r };
            d = 2.0 * std::f64::consts::PI * r;
        }
        out.push(d);
    }
    Ok(Some(out))
}

/// `(a + off).astype(a.dtype)` with a per-column f64 offset (None: `a + 0.0` in its type).
fn add_offset(a: MatArray, off: &Option<Vec<f64>>, what: &str) -> Result<MatArray, String> {
    let (r, c) = (a.rows, a.cols);
    let data = match (a.data, off) {
        (MatData::F32(v), None) => MatData::F32(v.into_iter().map(|x| x + 0.0).collect()),
        (MatData::F64(v), None) => MatData::F64(v.into_iter().map(|x| x + 0.0).collect()),
        (MatData::F32(v), Some(o)) => {
            MatData::F32(v.into_iter().enumerate().map(|(k, x)| (x as f64 + o[k / r.max(1)]) as f32).collect())
        }
        (MatData::F64(v), Some(o)) => MatData::F64(v.into_iter().enumerate().map(|(k, x)| x + o[k / r.max(1)]).collect()),
        _ => return Err(format!("{what}: expected single or double values")),
    };
    Ok(MatArray::new(r, c, data))
}

/// `a` as f32 (`np.asarray(a, dtype=float32)`).
fn as_f32(a: &MatArray, what: &str) -> Result<MatArray, String> {
    Ok(match &a.data {
        MatData::F32(_) => a.clone(),
        _ => MatArray::new(a.rows, a.cols, MatData::F32(to_f64(a, what)?.into_iter().map(|x| x as f32).collect())),
    })
}

/// (keys, az, rg) of the rows of a patch's `ij`.
type Keys = (Vec<i64>, Vec<f64>, Vec<f64>);

/// (az, rg) key of each row of `ij` (n x 3: id, az, rg), as `int64` truncation.
fn keys_of(ij: &MatArray) -> Result<Keys, String> {
    if ij.cols < 3 {
        return Err("ps2.ij must have 3 columns".into());
    }
    let v = to_f64(ij, "ps2.ij")?;
    let n = ij.rows;
    let az = v[n..2 * n].to_vec();
    let rg = v[2 * n..3 * n].to_vec();
    let k = az.iter().zip(&rg).map(|(&a, &r)| (a as i64).wrapping_mul(1 << 32).wrapping_add(r as i64)).collect();
    Ok((k, az, rg))
}

/// The merge proper (no ifgstd): `{artifact: variables}` in the Python stage's order.
///
/// Takes the patches by value: each patch's arrays are dropped as soon as its rows are
/// taken (all but the last patch's, whose ps2 and scla2/scn2 extras are kept), and the
/// pieces are moved, not copied, into the outputs, so the peak memory stays near one copy
/// of the merged arrays plus one patch.
pub fn merge(patches: Vec<PatchArrays>, heading: f64) -> Result<StageOutputs, String> {
    let mut used: Vec<PatchArrays> = Vec::new();
    for p in patches {
        if p.n_ps()? > 0 {
            used.push(p);
        }
    }
    if used.is_empty() {
        return Err("merge: no patch has any PS left".into());
    }
    let mut n_img = None;
    for p in &used {
        check_patch(p, n_img)?;
        n_img = Some(var(p, "ph2", "ph")?.cols);
    }
    let n_img = n_img.unwrap_or(0);
    let has_inc = used.iter().all(|p| p.arrays.get("inc2").and_then(|a| a.iter().find(|(k, _)| k == "inc")).is_some_and(|(_, v)| !v.data.is_empty()));
    let extra: Vec<(&str, &[&str])> =
        EXTRA.iter().copied().filter(|(a, _)| used.iter().all(|p| p.arrays.contains_key(*a))).collect();
    let any_phuw = used.iter().any(|p| p.arrays.contains_key("phuw2"));

    let mut keys: Vec<i64> = Vec::new();
    let mut remove: Vec<bool> = Vec::new();
    let mut pieces: HashMap<(String, String), Vec<MatArray>> = HashMap::new();
    let push = |pieces: &mut HashMap<(String, String), Vec<MatArray>>, a: &str, v: &str, m: MatArray| {
        pieces.entry((a.to_string(), v.to_string())).or_default().push(m);
    };
    let n_used = used.len();
    for pi in 0..n_used {
        let p = &used[pi];
        let ij = var(p, "ps2", "ij")?;
        let (k, az, rg) = keys_of(ij)?;
        let [rg0, rg1, az0, az1] = p.noover.map(|v| (v - 1) as f64);
        let core: Vec<bool> = az.iter().zip(&rg).map(|(&a, &r)| a >= az0 && a <= az1 && r >= rg0 && r <= rg1).collect();
        let all_keys: HashSet<i64> = keys.iter().copied().collect();
        let in_merged: Vec<bool> = k.iter().map(|x| all_keys.contains(x)).collect();
        // overlap rows: this patch's pixels already merged (first live copy)
        let mut live_first: HashMap<i64, usize> = HashMap::new();
        for (i, (&key, &rm)) in keys.iter().zip(&remove).enumerate() {
            if !rm {
                live_first.entry(key).or_insert(i);
            }
        }
        let (mut ov_new, mut ov_old) = (Vec::new(), Vec::new());
        for (i, key) in k.iter().enumerate() {
            if let Some(&j) = live_first.get(key) {
                ov_new.push(i);
                ov_old.push(j);
            }
        }
        let core_keys: HashSet<i64> = k.iter().zip(&core).filter(|(_, &c)| c).map(|(&x, _)| x).collect();
        for (rm, key) in remove.iter_mut().zip(&keys) {
            if core_keys.contains(key) {
                *rm = true;
            }
        }
        let sel: Vec<usize> = (0..k.len()).filter(|&i| core[i] || !in_merged[i]).collect();
        for &(a, v) in ROW_VARS.iter().chain(&[("ps2", "ij"), ("ps2", "lonlat")]) {
            push(&mut pieces, a, v, take_rows(var(p, a, v)?, &sel, &format!("{a}.{v}"))?);
        }
        if has_inc {
            push(&mut pieces, "inc2", "inc", take_rows(var(p, "inc2", "inc")?, &sel, "inc2.inc")?);
        }
        // (without any phuw2 the zero pieces are not needed: no phuw2 is written)
        if any_phuw {
            let uw_piece = if has_var(p, "phuw2", "ph_uw") {
                let uw = as_f32(var(p, "phuw2", "ph_uw")?, "phuw2.ph_uw")?;
                let prev = pieces.get(&("phuw2".to_string(), "ph_uw".to_string())).map_or(&[][..], |v| v.as_slice());
                let off = overlap_offset(&uw, &ov_new, prev, &ov_old, true, "phuw2.ph_uw")?;
                add_offset(take_rows(&uw, &sel, "phuw2.ph_uw")?, &off, "phuw2.ph_uw")?
            } else {
                MatArray::new(sel.len(), n_img, MatData::F32(vec![0.0; sel.len() * n_img]))
            };
            push(&mut pieces, "phuw2", "ph_uw", uw_piece);
        }
        for &(a, vars) in &extra {
            for v in vars {
                let cur = var(p, a, v)?;
                let what = format!("{a}.{v}");
                let prev = pieces.get(&(a.to_string(), v.to_string())).map_or(&[][..], |v| v.as_slice());
                let off = overlap_offset(cur, &ov_new, prev, &ov_old, false, &what)?;
                push(&mut pieces, a, v, add_offset(take_rows(cur, &sel, &what)?, &off, &what)?);
            }
        }
        keys.extend(sel.iter().map(|&i| k[i]));
        remove.extend(std::iter::repeat_n(false, sel.len()));
        if pi + 1 < n_used {
            used[pi].arrays = Artifacts::new(); // its rows are in `pieces` now
        }
    }

    let mut cat: HashMap<(String, String), MatArray> = HashMap::new();
    for (kv, parts) in pieces.drain() {
        let whole = concat_rows(&parts, &format!("{}.{}", kv.0, kv.1))?;
        drop(parts);
        cat.insert(kv, whole);
    }
    let getc = |a: &str, v: &str| -> Result<&MatArray, String> {
        cat.get(&(a.to_string(), v.to_string())).ok_or_else(|| format!("merge: {a}.{v} missing"))
    };
    let n_before = keys.len();
    let mut keep: Vec<bool> = remove.iter().map(|r| !r).collect();
    // lon/lat duplicates: keep the highest coh_ps (first in merged order on ties)
    let lonlat_all = getc("ps2", "lonlat")?;
    if lonlat_all.cols < 2 {
        return Err("ps2.lonlat must have 2 columns".into());
    }
    let ll = to_f64(lonlat_all, "ps2.lonlat")?;
    let nr = lonlat_all.rows;
    let coh = to_f64(getc("pm2", "coh_ps")?, "pm2.coh_ps")?;
    let mut best: HashMap<(u64, u64), usize> = HashMap::new();
    let kept_ix: Vec<usize> = (0..nr).filter(|&i| keep[i]).collect();
    for i in kept_ix {
        let key = (ll[i].to_bits(), ll[nr + i].to_bits());
        match best.get(&key).copied() {
            None => {
                best.insert(key, i);
            }
            Some(b) => {
                // lexsort on -coh: NaN sorts last, so a number beats NaN
                let better = !coh[i].is_nan() && (coh[b].is_nan() || coh[i] > coh[b]);
                if better {
                    keep[b] = false;
                    best.insert(key, i);
                } else {
                    keep[i] = false;
                }
            }
        }
    }
    let ix: Vec<usize> = (0..nr).filter(|&i| keep[i]).collect();
    let removed = n_before - ix.len();

    let lonlat: Vec<[f64; 2]> = ix.iter().map(|&i| [ll[i], ll[nr + i]]).collect();
    let lxy = crate::geo::local_xy(&lonlat, heading, None)?;
    let rows: Vec<usize> = lxy.order.iter().map(|&o| ix[o]).collect();
    let n = rows.len();
    let ij_all = to_f64(getc("ps2", "ij")?, "ps2.ij")?;
    let mut ij = Vec::with_capacity(3 * n);
    ij.extend((1..=n).map(|v| v as f64));
    for c in 1..3 {
        ij.extend(rows.iter().map(|&r| ij_all[c * nr + r]));
    }
    let xy: Vec<f32> = (0..3).flat_map(|c| lxy.xy.iter().map(move |p| p[c])).collect();
    let mut ll_out = Vec::with_capacity(2 * n);
    for c in 0..2 {
        ll_out.extend(rows.iter().map(|&r| ll[c * nr + r]));
    }
    let last = &used[used.len() - 1];
    let mut ps2: Artifact = last.arrays.get("ps2").cloned().unwrap_or_default();
    let set = |art: &mut Artifact, name: &str, v: MatArray| match art.iter_mut().find(|(k, _)| k == name) {
        Some(slot) => slot.1 = v,
        None => art.push((name.to_string(), v)),
    };
    set(&mut ps2, "ij", MatArray::new(n, 3, MatData::F64(ij)));
    set(&mut ps2, "xy", MatArray::new(n, 3, MatData::F32(xy)));
    set(&mut ps2, "lonlat", MatArray::new(n, 2, MatData::F64(ll_out)));
    set(&mut ps2, "n_ps", MatArray::scalar(n as f64));

    drop(ll);
    drop(coh);
    drop(ij_all);
    // each merged array is taken out of `cat` (and freed) as its output rows are made
    let mut g = |a: &str, v: &str| -> Result<MatArray, String> {
        let whole = cat.remove(&(a.to_string(), v.to_string())).ok_or_else(|| format!("merge: {a}.{v} missing"))?;
        take_rows(&whole, &rows, &format!("{a}.{v}"))
    };
    let ph_rc = normalise(g("rc2", "ph_rc")?)?;
    let named = |v: Vec<(&str, MatArray)>| -> Artifact { v.into_iter().map(|(k, m)| (k.to_string(), m)).collect() };
    let mut out: StageOutputs = vec![
        ("ps2".into(), ps2),
        ("ph2".into(), named(vec![("ph", g("ph2", "ph")?)])),
        ("rc2".into(), named(vec![("ph_rc", ph_rc), ("ph_reref", g("rc2", "ph_reref")?)])),
        (
            "pm2".into(),
            named(vec![
                ("ph_patch", g("pm2", "ph_patch")?),
                ("ph_res", g("pm2", "ph_res")?),
                ("K_ps", g("pm2", "K_ps")?),
                ("C_ps", g("pm2", "C_ps")?),
                ("coh_ps", g("pm2", "coh_ps")?),
            ]),
        ),
        ("bp2".into(), named(vec![("bperp_mat", g("bp2", "bperp_mat")?)])),
        ("la2".into(), named(vec![("la", g("la2", "la")?)])),
        ("hgt2".into(), named(vec![("hgt", g("hgt2", "hgt")?)])),
        (
            "inc2".into(),
            named(vec![("inc", if has_inc { g("inc2", "inc")? } else { MatArray::new(0, 0, MatData::F64(vec![])) })]),
        ),
    ];
    if any_phuw {
        out.push(("phuw2".into(), named(vec![("ph_uw", g("phuw2", "ph_uw")?)])));
    }
    if removed == 0 {
        for &(a, vars) in &extra {
            let mut art: Artifact = Vec::new();
            for v in vars {
                art.push((v.to_string(), g(a, v)?));
            }
            for (k, val) in last.arrays.get(a).into_iter().flatten() {
                if !art.iter().any(|(n, _)| n == k) {
                    art.push((k.clone(), val.clone()));
                }
            }
            out.push((a.to_string(), art));
        }
    }
    Ok(out)
}

/// `ph_rc` as complex64 divided by its correctly rounded f32 modulus (non-zero entries).
fn normalise(a: MatArray) -> Result<MatArray, String> {
    let (r, c) = (a.rows, a.cols);
    let v: Vec<Complex32> = match a.data {
        MatData::C64(v) => v,
        MatData::C128(v) => v.into_iter().map(|z| Complex32::new(z.re as f32, z.im as f32)).collect(),
        other => {
            let m = MatArray::new(r, c, other);
            to_f64(&m, "rc2.ph_rc")?.into_iter().map(|x| Complex32::new(x as f32, 0.0)).collect()
        }
    };
    let v = v
        .into_iter()
        .map(|z| {
            let mag = (z.re as f64).hypot(z.im as f64) as f32;
            if mag != 0.0 { Complex32::new(z.re / mag, z.im / mag) } else { z }
        })
        .collect();
    Ok(MatArray::new(r, c, MatData::C64(v)))
}

/// The whole of step 5b: the merge, its log line, then `ifgstd2` from the merged arrays
/// (and its per-ifg log lines), as the Python runner's 5b executor.
pub fn run(patches: Vec<PatchArrays>, heading: f64, log: &dyn Fn(&str)) -> Result<StageOutputs, String> {
    let mut skipped = Vec::new();
    for p in &patches {
        if p.n_ps()? == 0 {
            skipped.push(p.name.clone());
        }
    }
    let n_patches = patches.len();
    let mut out = merge(patches, heading)?;
    let empty = Artifact::new();
    let find = |out: &StageOutputs, a: &str| -> usize { out.iter().position(|(k, _)| k == a).unwrap_or(usize::MAX) };
    let art = |i: usize| -> &Artifact { out.get(i).map_or(&empty, |(_, v)| v) };
    let ps2 = art(find(&out, "ps2"));
    let n = ps2.iter().find(|(k, _)| k == "n_ps").map(|(_, v)| to_f64(v, "n_ps")).transpose()?;
    let n = n.and_then(|v| v.first().copied()).unwrap_or(0.0) as i64;
    let mut line = format!("ps_merge_patches: {n} PS from {} patch(es)", n_patches - skipped.len());
    if !skipped.is_empty() {
        line += &format!(", skipped empty {}", skipped.join(", "));
    }
    log(&line);
    let inp = CorrectInputs::from_artifacts(ps2, art(find(&out, "ph2")), art(find(&out, "pm2")), art(find(&out, "bp2")))?;
    let s = ifg_std(&inp)?;
    drop(inp);
    if let MatData::F32(v) = &s.data {
        for (k, x) in v.iter().enumerate() {
            let txt = if x.is_nan() { "nan".to_string() } else { format!("{:.2}", *x as f64) };
            log(&format!("ifg {}: std {txt} deg", k + 1));
        }
    }
    out.push(("ifgstd2".into(), vec![("ifg_std".into(), s)]));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noover_parsing() {
        assert_eq!(parse_noover(" 1 10\n2 20.0 ", "x").unwrap(), [1, 10, 2, 20]);
        assert!(parse_noover("1 2 3", "x").is_err());
        assert!(parse_noover("1 2 3 a", "x").is_err());
    }

    #[test]
    fn concat_is_row_wise() {
        let a = MatArray::new(2, 2, MatData::F64(vec![1.0, 2.0, 3.0, 4.0]));
        let b = MatArray::new(1, 2, MatData::F64(vec![5.0, 6.0]));
        let c = concat_rows(&[a, b], "x").unwrap();
        assert_eq!(c.data, MatData::F64(vec![1.0, 2.0, 5.0, 3.0, 4.0, 6.0]));
    }
}
