//! Stage 1, `ps_load_initial` (DORIS flavour) and `ps_load_initial_gamma` (snap / gamma
//! flavour): the arithmetic of `pystamps_batch.stages.load` / `load_gamma` (spec C.1).
//!
//! Input: a [`LoadInputs`] with the parsed contents of the dataset root and one patch
//! (read by `pystamps_io::dataset::read_load_inputs`; no file I/O here, paths are only
//! used in error messages). Output: the artifacts `ps1 ph1 bp1 la1 da1 hgt1` with the
//! variables, MATLAB shapes and types of the Python stage.
//!
//! Parity: every value is bit-identical to the Python stage except, for the DORIS flavour
//! with `look_angle.1.in` / `bperp_*.1.in` grids, `la` and `bperp_mat`: Python interpolates
//! on SciPy's (qhull's) Delaunay triangulation of the regular 50 x 50 grid, whose diagonal
//! in each cell is decided by qhull's round-off (cocircular points); here each cell is
//! split along a fixed diagonal (see [`GridInterp`]). Both are exact linear interpolants
//! of the grid on a triangle; they differ by the grid's curvature inside one cell.

use std::path::PathBuf;

use num_complex::Complex32;

use super::arrays::{Artifact, MatArray, MatData, StageOutputs};
use crate::geo;

/// Everything stage 1 reads, parsed.
#[derive(Debug, Clone)]
pub enum LoadInputs {
    Doris(DorisInputs),
    Snap(SnapInputs),
}

/// DORIS flavour (mt_prep) inputs of one patch.
#[derive(Debug, Clone)]
pub struct DorisInputs {
    /// dataset root and patch folder (for messages only)
    pub root: PathBuf,
    pub patch_dir: PathBuf,
    pub patch_name: String,
    /// width.txt, len.txt (pixels)
    pub width: f64,
    pub length: f64,
    /// day.1.in (YYYYMMDD, file order) and master_day.1.in
    pub slave_days: Vec<String>,
    pub master_day: String,
    /// bperp.1.in (m), one per slave in day.1.in order
    pub bperp_in: Vec<f64>,
    /// calamp.out lines (path, constant), None when the file is absent
    pub calamp: Option<Vec<(String, f64)>>,
    /// heading.1.in (degrees)
    pub heading: f64,
    /// pscands.1.ij rows [id, az, rg] (n)
    pub ij: Vec<[f64; 3]>,
    /// pscands.1.ph, little-endian complex64 in file order: M blocks of n (ifg-major)
    pub ph: Vec<Complex32>,
    /// pscands.1.ll (lon, lat) float32 (n)
    pub lonlat: Vec<[f32; 2]>,
    /// pscands.1.da (n), None when absent
    pub da: Option<Vec<f64>>,
    /// pscands.1.hgt float32 (n), None when absent
    pub hgt: Option<Vec<f32>>,
    /// look_angle.1.in as (value at h=0, at h=1000 m), each 50 x 50 row-major (rows = azimuth)
    pub look_angle: Option<(Vec<f64>, Vec<f64>)>,
    /// bperp_<date>.1.in grids for each slave in day.1.in order (None when absent)
    pub bperp_grids: Vec<Option<(Vec<f64>, Vec<f64>)>>,
}

/// The master `.rslc.par` values stage 1 uses (m, Hz, degrees).
#[derive(Debug, Clone)]
pub struct RslcPar {
    pub heading: f64,
    pub range_pixel_spacing: f64,
    pub near_range_slc: f64,
    pub sar_to_earth_center: f64,
    pub earth_radius_below_sensor: f64,
    pub center_range_slc: f64,
    pub azimuth_lines: f64,
    pub prf: f64,
}

/// snap / gamma flavour (mt_prep_snap) inputs of one patch.
#[derive(Debug, Clone)]
pub struct SnapInputs {
    pub root: PathBuf,
    pub patch_dir: PathBuf,
    pub patch_name: String,
    pub par: RslcPar,
    /// master date YYYYMMDD (pscphase.in)
    pub master: String,
    /// slave dates of the real interferograms, ascending
    pub slaves: Vec<String>,
    /// 0-based position of the master among the N = slaves + 1 acquisitions
    pub master_pos: usize,
    /// number of blocks in pscands.1.ph (pscphase.in lines, a null ifg included)
    pub n_blocks: usize,
    /// block index of each real interferogram in pscands.1.ph
    pub used: Vec<usize>,
    /// ((T, C, N), (dT, dC, dN)) of each used interferogram's .base file (m, m/s)
    pub baselines: Vec<([f64; 3], [f64; 3])>,
    pub ij: Vec<[f64; 3]>,
    /// pscands.1.ph decoded from big-endian: n_blocks blocks of n
    pub ph: Vec<Complex32>,
    /// pscands.1.ll decoded from big-endian (may hold NaN)
    pub lonlat: Vec<[f32; 2]>,
    pub da: Option<Vec<f64>>,
    pub hgt: Option<Vec<f32>>,
}

/// MATLAB `datenum` of a `YYYYMMDD` date: days since 0-Jan-0000 (1-Jan-0000 = 1).
pub fn datenum(yyyymmdd: &str) -> Result<f64, String> {
    let bad = || format!("{yyyymmdd:?} is not a YYYYMMDD date");
    let s = yyyymmdd.trim();
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let y: i64 = s[0..4].parse().map_err(|_| bad())?;
    let m: i64 = s[4..6].parse().map_err(|_| bad())?;
    let d: i64 = s[6..8].parse().map_err(|_| bad())?;
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if y < 1 || !(1..=12).contains(&m) || d < 1 || d > mdays[(m - 1) as usize] {
        return Err(bad());
    }
    // proleptic Gregorian ordinal (1-Jan-0001 = 1), as Python's date.toordinal
    let py = y - 1;
    let mut ord = py * 365 + py / 4 - py / 100 + py / 400;
    ord += mdays[..(m - 1) as usize].iter().sum::<i64>();
    ord += d;
    Ok((ord + 366) as f64)
}

/// Linear interpolation of 50 x 50 grids on `linspace(0, length) x linspace(0, width)` at
/// fixed points (the look angle and per-ifg baselines of the DORIS flavour).
///
/// Each grid cell is split along its diagonal from (row i, col j) to (i+1, j+1); a point
/// is interpolated linearly on the triangle holding it. Points outside the grid give NaN.
pub struct GridInterp {
    /// per point: (cell row, cell col, u in the cell along range, v along azimuth), or None
    cells: Vec<Option<(usize, usize, f64, f64)>>,
}

const GRID: usize = 50;

/// NumPy `linspace(0, stop, 50)`.
fn linspace50(stop: f64) -> Vec<f64> {
    let step = stop / (GRID as f64 - 1.0);
    let mut v: Vec<f64> = (0..GRID).map(|k| k as f64 * step).collect();
    v[GRID - 1] = stop;
    v
}

/// Index j with g[j] <= x <= g[j+1] (last cell for x = g[end]); None outside.
fn cell_of(g: &[f64], x: f64) -> Option<usize> {
    if !(x >= g[0] && x <= g[GRID - 1]) {
        return None;
    }
    let j = g.partition_point(|&v| v <= x).saturating_sub(1);
    Some(j.min(GRID - 2))
}

impl GridInterp {
    /// Locate points (range `rg`, azimuth `az`, pixels) in the grid of a `width` x `length` image.
    pub fn new(width: f64, length: f64, rg: &[f64], az: &[f64]) -> Self {
        let gx = linspace50(width);
        let gy = linspace50(length);
        let cells = rg
            .iter()
            .zip(az)
            .map(|(&x, &y)| {
                let j = cell_of(&gx, x)?;
                let i = cell_of(&gy, y)?;
                let u = (x - gx[j]) / (gx[j + 1] - gx[j]);
                let v = (y - gy[i]) / (gy[i + 1] - gy[i]);
                Some((i, j, u, v))
            })
            .collect();
        GridInterp { cells }
    }

    /// Interpolate a 50 x 50 row-major grid (rows = azimuth) at the points.
    pub fn apply(&self, grid: &[f64]) -> Vec<f64> {
        let g = |i: usize, j: usize| grid[i * GRID + j];
        self.cells
            .iter()
            .map(|c| match *c {
                None => f64::NAN,
                Some((i, j, u, v)) => {
                    let g00 = g(i, j);
                    let g11 = g(i + 1, j + 1);
                    if u >= v {
                        let g01 = g(i, j + 1);
                        g00 + u * (g01 - g00) + v * (g11 - g01)
                    } else {
                        let g10 = g(i + 1, j);
                        g00 + v * (g10 - g00) + u * (g11 - g10)
                    }
                }
            })
            .collect()
    }
}

/// Run stage 1 on parsed inputs. Returns the artifacts `ps1 ph1 bp1 la1 da1 hgt1`.
pub fn run(inputs: &LoadInputs) -> Result<StageOutputs, String> {
    match inputs {
        LoadInputs::Doris(d) => run_doris(d),
        LoadInputs::Snap(s) => run_snap(s),
    }
}

fn col_f64(v: Vec<f64>) -> MatArray {
    MatArray::column(MatData::F64(v))
}

fn scalar(v: f64) -> MatArray {
    MatArray::scalar(v)
}

/// n x k f64 matrix from rows.
fn rows_f64<const K: usize>(rows: &[[f64; K]]) -> MatArray {
    let n = rows.len();
    let mut v = Vec::with_capacity(n * K);
    for c in 0..K {
        v.extend(rows.iter().map(|r| r[c]));
    }
    MatArray::new(n, K, MatData::F64(v))
}

fn rows_f32<const K: usize>(rows: &[[f32; K]]) -> MatArray {
    let n = rows.len();
    let mut v = Vec::with_capacity(n * K);
    for c in 0..K {
        v.extend(rows.iter().map(|r| r[c]));
    }
    MatArray::new(n, K, MatData::F32(v))
}

fn art(vars: Vec<(&str, MatArray)>) -> Artifact {
    vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Stable argsort of f64 keys (ascending, no NaN expected).
fn argsort(keys: &[f64]) -> Vec<usize> {
    let mut ix: Vec<usize> = (0..keys.len()).collect();
    ix.sort_by(|&a, &b| keys[a].partial_cmp(&keys[b]).unwrap_or(std::cmp::Ordering::Equal));
    ix
}

/// calamp.out date of a path: first 8 characters of the last path component if numeric,
/// else of the second-to-last (spec C.1.1 step 4).
pub fn calamp_date(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let last = parts.len().checked_sub(1).map(|k| parts[k]);
    let prev = parts.len().checked_sub(2).map(|k| parts[k]);
    for comp in [last, prev].into_iter().flatten() {
        if comp.len() >= 8 && comp.is_char_boundary(8) && comp[..8].bytes().all(|b| b.is_ascii_digit()) {
            return Some(comp[..8].to_string());
        }
    }
    None
}

fn check_len<T>(v: &[T], want: usize, what: &str) -> Result<(), String> {
    if v.len() != want {
        return Err(format!("{what}: {} values, expected {want}", v.len()));
    }
    Ok(())
}

fn run_doris(d: &DorisInputs) -> Result<StageOutputs, String> {
    let big_m = d.slave_days.len();
    let n = d.ij.len();
    let pdir = &d.patch_dir;
    // dates (C.1.1 steps 1-2)
    let slave_dn = d
        .slave_days
        .iter()
        .map(|s| datenum(s).map_err(|e| format!("{}: {e}", d.root.join("day.1.in").display())))
        .collect::<Result<Vec<f64>, String>>()?;
    let day_ix = argsort(&slave_dn);
    let master_dn = datenum(&d.master_day).map_err(|e| format!("{}: {e}", d.root.join("master_day.1.in").display()))?;
    let sorted_dn: Vec<f64> = day_ix.iter().map(|&i| slave_dn[i]).collect();
    let m = sorted_dn.iter().filter(|&&x| x < master_dn).count();
    let mut day = sorted_dn.clone();
    day.insert(m, master_dn);
    check_len(&d.bperp_in, big_m, &d.root.join("bperp.1.in").display().to_string())?;
    let mut bperp: Vec<f64> = day_ix.iter().map(|&i| d.bperp_in[i]).collect();
    bperp.insert(m, 0.0);
    let slave_sorted: Vec<&String> = day_ix.iter().map(|&i| &d.slave_days[i]).collect();

    // calibration constants in sorted slave order
    let calconst: Vec<f64> = match &d.calamp {
        None => vec![1.0; big_m],
        Some(lines) => {
            let f = d.root.join("calamp.out");
            let mut by_date: Vec<(String, f64)> = Vec::new();
            for (p, c) in lines {
                if let Some(dt) = calamp_date(p) {
                    match by_date.iter_mut().find(|(k, _)| *k == dt) {
                        Some(e) => e.1 = *c,
                        None => by_date.push((dt, *c)),
                    }
                }
            }
            let mut out = Vec::with_capacity(big_m);
            for s in &slave_sorted {
                let c = by_date
                    .iter()
                    .find(|(k, _)| k == *s)
                    .map(|(_, c)| *c)
                    .ok_or_else(|| format!("{}: no calibration constant for {s}", f.display()))?;
                if c == 0.0 {
                    return Err(format!("{}: calibration constant of {s} is 0", f.display()));
                }
                out.push(c);
            }
            out
        }
    };

    if n == 0 {
        return Err(format!("{}: no candidates in this patch", pdir.join("pscands.1.ij").display()));
    }
    check_len(&d.ph, n * big_m, &pdir.join("pscands.1.ph").display().to_string())?;
    // sorted slave k is file block day_ix[k], divided part-wise by its single calibration
    // constant (as MATLAB divides a complex single by a real scalar)
    let big_n = big_m + 1;
    let c32: Vec<f32> = calconst.iter().map(|&c| c as f32).collect();
    let mut n_bad = 0usize;
    let mut first_bad: Option<usize> = None;
    for (k, &blk) in day_ix.iter().enumerate() {
        let c = c32[k];
        for (i, z) in d.ph[blk * n..(blk + 1) * n].iter().enumerate() {
            if !((z.re / c).is_finite() && (z.im / c).is_finite()) {
                n_bad += 1;
                first_bad = Some(first_bad.map_or(i, |f: usize| f.min(i)));
            }
        }
    }
    if n_bad > 0 {
        return Err(format!(
            "{}: {n_bad} NaN/Inf phase values (first at candidate {})",
            pdir.join("pscands.1.ph").display(),
            first_bad.unwrap_or(0) + 1
        ));
    }
    check_len(&d.lonlat, n, &pdir.join("pscands.1.ll").display().to_string())?;
    let lonlat: Vec<[f64; 2]> = d.lonlat.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
    if lonlat.iter().any(|p| !(p[0].is_finite() && p[1].is_finite())) {
        return Err(format!("{}: NaN/Inf coordinates", pdir.join("pscands.1.ll").display()));
    }
    let loc = geo::local_xy(&lonlat, d.heading, None)?;
    let order = &loc.order;
    let ij: Vec<[f64; 3]> = order
        .iter()
        .enumerate()
        .map(|(k, &i)| [(k + 1) as f64, d.ij[i][1], d.ij[i][2]])
        .collect();
    // n x N complex64 column-major in the sorted pixel order, master column = 1
    let mut ph = vec![Complex32::new(1.0, 0.0); n * big_n];
    for (k, &blk) in day_ix.iter().enumerate() {
        let col = if k < m { k } else { k + 1 };
        let (src, c) = (&d.ph[blk * n..(blk + 1) * n], c32[k]);
        for (dst, &i) in ph[col * n..(col + 1) * n].iter_mut().zip(order.iter()) {
            *dst = Complex32::new(src[i].re / c, src[i].im / c);
        }
    }
    let lonlat: Vec<[f64; 2]> = order.iter().map(|&i| lonlat[i]).collect();
    let da: Vec<f64> = match &d.da {
        Some(v) => {
            check_len(v, n, &pdir.join("pscands.1.da").display().to_string())?;
            order.iter().map(|&i| v[i]).collect()
        }
        None => vec![1.0; n],
    };
    let hgt: Vec<f64> = match &d.hgt {
        Some(v) => {
            check_len(v, n, &pdir.join("pscands.1.hgt").display().to_string())?;
            order.iter().map(|&i| v[i] as f64).collect()
        }
        None => vec![0.0; n],
    };
    let rg: Vec<f64> = ij.iter().map(|r| r[2]).collect();
    let az: Vec<f64> = ij.iter().map(|r| r[1]).collect();
    let interp = GridInterp::new(d.width, d.length, &rg, &az);
    let la: Option<Vec<f64>> = d.look_angle.as_ref().map(|(g0, g1)| {
        let (l0, l1) = (interp.apply(g0), interp.apply(g1));
        (0..n).map(|i| geo::radians(l0[i] + (l1[i] - l0[i]) * hgt[i] / 1000.0)).collect()
    });
    check_len(&d.bperp_grids, big_m, "bperp grids")?;
    let mut bperp_mat = vec![0f32; n * big_m];
    for (k, &src) in day_ix.iter().enumerate() {
        let col = &mut bperp_mat[k * n..(k + 1) * n];
        match &d.bperp_grids[src] {
            Some((g0, g1)) => {
                let (v0, v1) = (interp.apply(g0), interp.apply(g1));
                for i in 0..n {
                    col[i] = (v0[i] + (v1[i] - v0[i]) * hgt[i] / 1000.0) as f32;
                }
            }
            None => col.fill(bperp[if k < m { k } else { k + 1 }] as f32),
        }
    }
    if bperp_mat.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{}: per-pixel baselines are NaN for some candidates (candidate outside the bperp_*.1.in grid, or a NaN in those files)",
            d.root.display()
        ));
    }
    let xy: Vec<[f32; 3]> = loc.xy.clone();
    let ps1 = art(vec![
        ("ij", rows_f64(&ij)),
        ("lonlat", rows_f64(&lonlat)),
        ("xy", rows_f32(&xy)),
        ("bperp", col_f64(bperp)),
        ("day", col_f64(day)),
        ("master_day", scalar(master_dn)),
        ("master_ix", scalar(m as f64 + 1.0)),
        ("n_ifg", scalar(big_n as f64)),
        ("n_image", scalar(big_n as f64)),
        ("n_ps", scalar(n as f64)),
        ("sort_ix", col_f64(order.iter().map(|&i| i as f64 + 1.0).collect())),
        ("ll0", MatArray::new(1, 2, MatData::F64(loc.ll0.to_vec()))),
        ("calconst", col_f64(calconst)),
        ("day_ix", col_f64(day_ix.iter().map(|&i| i as f64 + 1.0).collect())),
    ]);
    let la = match la {
        Some(v) => col_f64(v),
        None => MatArray::new(0, 0, MatData::F64(vec![])),
    };
    Ok(vec![
        ("ps1".to_string(), ps1),
        ("ph1".to_string(), art(vec![("ph", MatArray::new(n, big_n, MatData::C64(ph)))])),
        ("bp1".to_string(), art(vec![("bperp_mat", MatArray::new(n, big_m, MatData::F32(bperp_mat)))])),
        ("la1".to_string(), art(vec![("la", la)])),
        ("da1".to_string(), art(vec![("D_A", col_f64(da))])),
        ("hgt1".to_string(), art(vec![("hgt", col_f64(hgt))])),
    ])
}

/// Rows `order` of an n x k column-major matrix.
fn permute_rows<T: Copy>(a: &[T], n: usize, k: usize, order: &[usize]) -> Vec<T> {
    let mut out = Vec::with_capacity(order.len() * k);
    for c in 0..k {
        let col = &a[c * n..(c + 1) * n];
        out.extend(order.iter().map(|&i| col[i]));
    }
    out
}

/// Rows of an n x k column-major matrix where `keep` is true.
fn keep_rows<T: Copy>(a: &[T], n: usize, k: usize, keep: &[bool]) -> Vec<T> {
    let mut out = Vec::new();
    for c in 0..k {
        let col = &a[c * n..(c + 1) * n];
        out.extend(col.iter().zip(keep).filter(|(_, k)| **k).map(|(v, _)| *v));
    }
    out
}

fn run_snap(s: &SnapInputs) -> Result<StageOutputs, String> {
    let pdir = &s.patch_dir;
    let par = &s.par;
    let big_m = s.used.len();
    let big_n = big_m + 1;
    let m = s.master_pos;
    let n = s.ij.len();
    if n == 0 {
        return Err(format!("{}: no candidates in this patch", pdir.join("pscands.1.ij").display()));
    }
    check_len(&s.baselines, big_m, "baseline files")?;
    // slant geometry (C.1.2 step 4), file order
    let (rs, re) = (par.sar_to_earth_center, par.earth_radius_below_sensor);
    let (rs2, re2) = (rs.powf(2.0), re.powf(2.0));
    let mut look = Vec::with_capacity(n);
    let mut inc = Vec::with_capacity(n);
    for r in &s.ij {
        let rr = par.near_range_slc + r[2] * par.range_pixel_spacing;
        look.push(((rs2 + rr * rr - re2) / (2.0 * rs * rr)).acos());
        inc.push(((rs2 - re2 - rr * rr) / (2.0 * re * rr)).acos());
    }
    // per-pixel baselines (C.1.2 step 5), n x M single
    let mut bperp_mat = vec![0f32; n * big_m];
    let t0 = par.azimuth_lines / 2.0 - 0.5;
    for (k, (b, br)) in s.baselines.iter().enumerate() {
        for i in 0..n {
            let tau = (s.ij[i][1] - t0) / par.prf;
            let (c, sn) = (look[i].cos(), look[i].sin());
            bperp_mat[k * n + i] = ((b[1] + br[1] * tau) * c - (b[2] + br[2] * tau) * sn) as f32;
        }
    }
    // bperp = column means in single (sequential sum), master inserted
    let mut bperp: Vec<f32> = (0..big_m)
        .map(|k| {
            let mut acc = 0f32;
            for v in &bperp_mat[k * n..(k + 1) * n] {
                acc += *v;
            }
            acc / n as f32
        })
        .collect();
    bperp.insert(m, 0.0);
    let mut acc = 0f64;
    for v in &inc {
        acc += *v;
    }
    let mean_incidence = acc / n as f64;

    check_len(&s.ph, n * s.n_blocks, &pdir.join("pscands.1.ph").display().to_string())?;
    // a candidate is kept when its lon/lat and all its used phases are finite
    let mut ph_finite = vec![true; n];
    for &blk in &s.used {
        for (f, z) in ph_finite.iter_mut().zip(&s.ph[blk * n..(blk + 1) * n]) {
            *f &= z.re.is_finite() && z.im.is_finite();
        }
    }
    check_len(&s.lonlat, n, &pdir.join("pscands.1.ll").display().to_string())?;
    let lonlat: Vec<[f64; 2]> = s.lonlat.iter().map(|p| [p[0] as f64, p[1] as f64]).collect();
    let loc = geo::local_xy(&lonlat, par.heading, None)?;
    let order = &loc.order;
    let ij: Vec<[f64; 3]> = order.iter().map(|&i| s.ij[i]).collect();
    let lonlat: Vec<[f64; 2]> = order.iter().map(|&i| lonlat[i]).collect();
    let bperp_mat = permute_rows(&bperp_mat, n, big_m, order);
    let inc: Vec<f64> = order.iter().map(|&i| inc[i]).collect();
    let da: Vec<f64> = match &s.da {
        Some(v) => {
            check_len(v, n, &pdir.join("pscands.1.da").display().to_string())?;
            order.iter().map(|&i| v[i]).collect()
        }
        None => vec![1.0; n],
    };
    let hgt: Vec<f64> = match &s.hgt {
        Some(v) => {
            check_len(v, n, &pdir.join("pscands.1.hgt").display().to_string())?;
            order.iter().map(|&i| v[i] as f64).collect()
        }
        None => vec![0.0; n],
    };
    let keep: Vec<bool> = (0..n)
        .map(|k| lonlat[k][0].is_finite() && lonlat[k][1].is_finite() && ph_finite[order[k]])
        .collect();
    let n_keep = keep.iter().filter(|k| **k).count();
    if n_keep == 0 {
        return Err(format!("{}: every candidate has NaN coordinates or phase", pdir.display()));
    }
    let sel = |i: usize| keep[i];
    let ij: Vec<[f64; 3]> = (0..n)
        .filter(|&i| sel(i))
        .enumerate()
        .map(|(k, i)| [(k + 1) as f64, ij[i][1], ij[i][2]])
        .collect();
    let xy: Vec<[f32; 3]> = (0..n)
        .filter(|&i| sel(i))
        .enumerate()
        .map(|(k, i)| [(k + 1) as f32, loc.xy[i][1], loc.xy[i][2]])
        .collect();
    let lonlat: Vec<[f64; 2]> = (0..n).filter(|&i| sel(i)).map(|i| lonlat[i]).collect();
    // n_keep x N complex64 in the sorted order, master column = 1
    let rows: Vec<usize> = (0..n).filter(|&k| keep[k]).map(|k| order[k]).collect();
    let mut ph = vec![Complex32::new(1.0, 0.0); n_keep * big_n];
    for (k, &blk) in s.used.iter().enumerate() {
        let col = if k < m { k } else { k + 1 };
        let src = &s.ph[blk * n..(blk + 1) * n];
        for (dst, &i) in ph[col * n_keep..(col + 1) * n_keep].iter_mut().zip(&rows) {
            *dst = src[i];
        }
    }
    let bperp_mat = keep_rows(&bperp_mat, n, big_m, &keep);
    let inc = keep_rows(&inc, n, 1, &keep);
    let da = keep_rows(&da, n, 1, &keep);
    let hgt = keep_rows(&hgt, n, 1, &keep);

    let mut day = s
        .slaves
        .iter()
        .map(|d| datenum(d))
        .collect::<Result<Vec<f64>, String>>()
        .map_err(|e| format!("{}: {e}", s.root.join("pscphase.in").display()))?;
    let master_dn = datenum(&s.master).map_err(|e| format!("{}: {e}", s.root.join("pscphase.in").display()))?;
    day.insert(m, master_dn);
    let ps1 = art(vec![
        ("ij", rows_f64(&ij)),
        ("lonlat", rows_f64(&lonlat)),
        ("xy", rows_f32(&xy)),
        ("bperp", MatArray::column(MatData::F32(bperp))),
        ("day", col_f64(day)),
        ("master_day", scalar(master_dn)),
        ("master_ix", scalar(m as f64 + 1.0)),
        ("n_ifg", scalar(big_n as f64)),
        ("n_image", scalar(big_n as f64)),
        ("n_ps", scalar(n_keep as f64)),
        ("sort_ix", col_f64(order.iter().map(|&i| i as f64 + 1.0).collect())),
        ("ll0", MatArray::new(1, 2, MatData::F64(loc.ll0.to_vec()))),
        ("mean_incidence", scalar(mean_incidence)),
        ("mean_range", scalar(par.center_range_slc)),
    ]);
    Ok(vec![
        ("ps1".to_string(), ps1),
        ("ph1".to_string(), art(vec![("ph", MatArray::new(n_keep, big_n, MatData::C64(ph)))])),
        ("bp1".to_string(), art(vec![("bperp_mat", MatArray::new(n_keep, big_m, MatData::F32(bperp_mat)))])),
        ("la1".to_string(), art(vec![("la", col_f64(inc))])),
        ("da1".to_string(), art(vec![("D_A", col_f64(da))])),
        ("hgt1".to_string(), art(vec![("hgt", col_f64(hgt))])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datenum_matches_matlab() {
        assert_eq!(datenum("20000101").unwrap(), 730486.0);
        assert_eq!(datenum("19700101").unwrap(), 719529.0);
        assert!(datenum("20190230").is_err());
    }

    #[test]
    fn calamp_dates() {
        assert_eq!(calamp_date("/a/b/20180105/image.slc").as_deref(), Some("20180105"));
        assert_eq!(calamp_date("/a/b/20180105_x.slc").as_deref(), Some("20180105"));
        assert_eq!(calamp_date("/a/b/c.slc"), None);
    }

    #[test]
    fn grid_interp_is_exact_on_planes() {
        let grid: Vec<f64> = (0..2500).map(|k| (k / 50) as f64 * 2.0 + (k % 50) as f64).collect();
        let gi = GridInterp::new(490.0, 98.0, &[0.0, 10.0, 490.0, 15.0], &[0.0, 2.0, 98.0, 99.0]);
        let v = gi.apply(&grid);
        assert_eq!(v[0], 0.0);
        assert!((v[1] - (1.0 + 2.0)).abs() < 1e-12);
        assert!((v[2] - (49.0 + 98.0)).abs() < 1e-12);
        assert!(v[3].is_nan());
    }
}
