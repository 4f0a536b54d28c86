//! Stage 3, `ps_select` (spec C.3, J.7, J.8, K.5), single master: the Rust twin of
//! `pystamps_batch/stages/select.py::run`, using the same kernels as the Python stage's
//! native backend (`clap::patch_phase`, `topofit::topofit_f32`, `histogram::hist_centres`).
//!
//! 1. `ifg_index`: the used interferograms in the master-removed numbering;
//! 2. D_A bins and the allowed random count per bin ([`threshold`]);
//! 3. initial selection `coh_ps > threshold`;
//! 4. re-estimation of the selected pixels: patch phase P2 per unique grid cell (window of
//!    the step-2 cell sums with the own cell zeroed, CLAP-filtered), then topofit of
//!    `ph conj(P2)` normalised over `ifg_index`;
//! 5. threshold recomputed with γ2 for the selected pixels; keep `γ2 > thr` and
//!    `|K - K2| < 2 pi / range(bperp)`.
//!
//! Returns the `select1` variables with StaMPS' names, MATLAB shapes and dtypes.

#[path = "select_mat.rs"]
pub mod mat;
#[path = "select_threshold.rs"]
pub mod threshold;

use self::mat::{col_f64, col_u8, mat_c64, mat_f32, row_f64, scalar, to_c64, to_f32_2d, to_f64};
use super::params::ParamMap;
use self::threshold::{da_bin_edges, gamma_threshold, max_random, MaxRand, Threshold};
use super::arrays::{Artifact, MatArray, MatData};
use crate::topofit::{self, Baselines};
use crate::vmath::cabs32;
use ndarray::parallel::prelude::*;
use ndarray::{Array2, Array3, Axis, ShapeBuilder};
use num_complex::Complex32;
use std::collections::HashMap;

/// The arrays `ps_select` reads (ps1, ph1, pm1, bp1 and optional da1), typed as the Python
/// stage casts them.  n candidates, N acquisitions, M = N - 1 interferograms.
#[derive(Debug, Clone)]
pub struct SelectInputs {
    /// ps1.n_ps
    pub n_ps: usize,
    /// ps1.n_ifg (N, master included)
    pub n_ifg: usize,
    /// ps1.master_ix, 1-based
    pub master_ix: usize,
    /// ps1.xy columns 2 and 3: rotated local x, y (m), n x 2 float32
    pub xy: Array2<f32>,
    /// ps1.bperp: mean perpendicular baselines (m), (N,), master included
    pub bperp: Vec<f64>,
    /// ph1.ph: n x N complex64 (master column included)
    pub ph: Array2<Complex32>,
    /// bp1.bperp_mat: n x M float32 per-pixel baselines (m)
    pub bperp_mat: Array2<f32>,
    /// pm1.coh_ps, pm1.K_ps, pm1.C_ps: (n,) float64
    pub coh_ps: Vec<f64>,
    pub k_ps: Vec<f64>,
    pub c_ps: Vec<f64>,
    /// pm1.Nr: (100,) random-phase coherence histogram
    pub nr: Vec<f64>,
    /// pm1.ph_grid: n_i x n_j x M complex64 step-2 cell sums
    pub ph_grid: Array3<Complex32>,
    /// pm1.grid_ij: n x 2 1-based grid cells (`astype(int64)` of the stored values)
    pub grid_ij: Array2<i64>,
    /// pm1.low_pass: clap_win x clap_win float32
    pub low_pass: Array2<f32>,
    /// pm1.n_trial_wraps
    pub n_trial_wraps: f64,
    /// pm1.ph_patch (n x M complex64) and pm1.ph_res (n x M float32): copied when the
    /// re-estimation is off
    pub ph_patch: Array2<Complex32>,
    pub ph_res: Array2<f32>,
    /// da1.D_A (n,), when da1 exists
    pub d_a: Option<Vec<f64>>,
}

/// The parameters `ps_select` uses, converted as the Python stage does.
#[derive(Debug, Clone)]
pub struct SelectParams {
    pub small_baseline_flag: String,
    pub gamma_stdev_reject: f64,
    /// 0 when both `select_reest_gamma_flag` and `quick_est_gamma_flag` are set, else 1
    pub reest_flag: u8,
    pub drop_ifg_index: Vec<i64>,
    /// `str(select_method).strip().upper()`
    pub select_method: String,
    pub density_rand: f64,
    pub percent_rand: f64,
    /// `int(clap_win)` and `float(clap_win)` (written as n_win)
    pub clap_win: i64,
    pub clap_win_f: f64,
    /// `int(round(float(slc_osf)))` (round half to even, as Python)
    pub slc_osf: i64,
    pub clap_alpha: f64,
    pub clap_beta: f64,
}

/// The artifacts of a patch folder as read from its .mat files: name (`ps1`, ...) -> variables.
pub type Artifacts = HashMap<String, Artifact>;

/// `arts[art][name]`, or an error naming what is missing.
pub fn artifact_var<'a>(arts: &'a Artifacts, art: &str, name: &str) -> Result<&'a MatArray, String> {
    let a = arts.get(art).ok_or_else(|| format!("input artifact {art} is missing"))?;
    a.iter().find(|(k, _)| k == name).map(|(_, v)| v).ok_or_else(|| format!("{art}.{name} is missing"))
}

impl SelectInputs {
    /// The typed inputs from the artifacts `ps1`, `ph1`, `pm1`, `bp1` (and `da1` when
    /// present), cast as the Python stage casts them (NumPy `astype`).  `pm1.ph_grid`
    /// (n_i x n_j x M) is given as its n_i x (n_j M) flattening, which has the same
    /// column-major data (M = n_ifg - 1).
    pub fn from_artifacts(arts: &Artifacts) -> Result<Self, String> {
        let sc = |a: &str, n: &str| -> Result<f64, String> { scalar(artifact_var(arts, a, n)?, &format!("{a}.{n}")) };
        let n_ifg = sc("ps1", "n_ifg")? as usize;
        let xy = to_f32_2d(artifact_var(arts, "ps1", "xy")?, "ps1.xy")?;
        if xy.ncols() < 3 {
            return Err(format!("ps1.xy has {} columns, expected 3", xy.ncols()));
        }
        let g = artifact_var(arts, "pm1", "ph_grid")?;
        let m = n_ifg.max(1) - 1;
        if m == 0 || g.cols % m != 0 {
            return Err(format!("pm1.ph_grid is {} x {}: not n_i x (n_j x {m})", g.rows, g.cols));
        }
        let gv = to_c64(g, "pm1.ph_grid")?;
        let ph_grid = Array3::from_shape_vec((g.rows, g.cols / m, m).f(), gv.t().iter().copied().collect())
            .map_err(|e| format!("pm1.ph_grid: {e}"))?;
        let gij = artifact_var(arts, "pm1", "grid_ij")?;
        let grid_ij = Array2::from_shape_vec(
            (gij.rows, gij.cols).f(),
            to_f64(gij, "pm1.grid_ij")?.iter().map(|&v| v as i64).collect(),
        )
        .map_err(|e| format!("pm1.grid_ij: {e}"))?;
        let col =
            |a: &str, n: &str| -> Result<Vec<f64>, String> { to_f64(artifact_var(arts, a, n)?, &format!("{a}.{n}")) };
        Ok(SelectInputs {
            n_ps: sc("ps1", "n_ps")? as usize,
            n_ifg,
            master_ix: sc("ps1", "master_ix")? as usize,
            xy: xy.slice(ndarray::s![.., 1..3]).to_owned(),
            bperp: col("ps1", "bperp")?,
            ph: to_c64(artifact_var(arts, "ph1", "ph")?, "ph1.ph")?,
            bperp_mat: to_f32_2d(artifact_var(arts, "bp1", "bperp_mat")?, "bp1.bperp_mat")?,
            coh_ps: col("pm1", "coh_ps")?,
            k_ps: col("pm1", "K_ps")?,
            c_ps: col("pm1", "C_ps")?,
            nr: col("pm1", "Nr")?,
            ph_grid,
            grid_ij,
            low_pass: to_f32_2d(artifact_var(arts, "pm1", "low_pass")?, "pm1.low_pass")?,
            n_trial_wraps: sc("pm1", "n_trial_wraps")?,
            ph_patch: to_c64(artifact_var(arts, "pm1", "ph_patch")?, "pm1.ph_patch")?,
            ph_res: to_f32_2d(artifact_var(arts, "pm1", "ph_res")?, "pm1.ph_res")?,
            d_a: if arts.contains_key("da1") { Some(col("da1", "D_A")?) } else { None },
        })
    }
}

impl SelectParams {
    pub fn from_map(p: &ParamMap) -> Result<Self, String> {
        let reest = p.flag("select_reest_gamma_flag")? && p.flag("quick_est_gamma_flag")?;
        Ok(SelectParams {
            small_baseline_flag: p.text("small_baseline_flag")?,
            gamma_stdev_reject: p.float("gamma_stdev_reject")?,
            reest_flag: if reest { 0 } else { 1 },
            drop_ifg_index: p.index_list("drop_ifg_index")?,
            select_method: p.text("select_method")?.trim().to_uppercase(),
            density_rand: p.float("density_rand")?,
            percent_rand: p.float("percent_rand")?,
            clap_win: p.int("clap_win")?,
            clap_win_f: p.float("clap_win")?,
            slc_osf: p.float("slc_osf")?.round_ties_even() as i64,
            clap_alpha: p.float("clap_alpha")?,
            clap_beta: p.float("clap_beta")?,
        })
    }
}

/// 1-based used interferograms in the master-removed numbering (C.3 step 1).
pub fn select_ifg_index(n_ifg: usize, master_ix: usize, drop: &[i64]) -> Vec<usize> {
    (1..=n_ifg)
        .filter(|&k| !drop.contains(&(k as i64)) && k != master_ix)
        .map(|k| if k > master_ix { k - 1 } else { k })
        .collect()
}

/// NumPy's complex64 `z / abs(z)` (the float32 modulus promoted to complex; NumPy's
/// complex division by a real divisor multiplies by its reciprocal).
#[inline]
pub fn unit_phasor(z: Complex32) -> Complex32 {
    let a = cabs32(z.re, z.im);
    if a == 0.0 || a.is_nan() {
        // 0 / 0 or NaN: NumPy gives re / 0, im / 0 (or NaN)
        return Complex32::new(z.re / a, z.im / a);
    }
    let rat = 0.0f32 / a;
    let scl = 1.0f32 / (a + 0.0 * rat);
    Complex32::new((z.re + z.im * rat) * scl, (z.im - z.re * rat) * scl)
}

/// Re-estimated values for the selected pixels (C.3 step 6).
struct Reest {
    ph_patch2: Array2<Complex32>,
    ph_res2: Array2<f32>,
    k2: Vec<f64>,
    c2: Vec<f64>,
    coh2: Vec<f64>,
}

fn reestimate(
    inp: &SelectInputs,
    p: &SelectParams,
    ix: &[usize],
    ifg0: &[usize],
    threads: usize,
    log: &dyn Fn(&str),
) -> Result<Reest, String> {
    let n0 = ix.len();
    let master0 = inp.master_ix - 1;
    let m = inp.n_ifg - 1;
    let win = usize::try_from(p.clap_win).map_err(|_| format!("clap_win {} must be positive", p.clap_win))?;
    let osf = usize::try_from(p.slc_osf).unwrap_or(0);
    // unique cells (sorted as np.unique) and each pixel's cell
    let mut cells: Vec<(i64, i64)> = ix.iter().map(|&q| (inp.grid_ij[[q, 0]], inp.grid_ij[[q, 1]])).collect();
    let pix_cells = cells.clone();
    cells.sort_unstable();
    cells.dedup();
    let inv: Vec<usize> = pix_cells.iter().map(|c| cells.binary_search(c).unwrap_or(0)).collect();
    let ucells = Array2::from_shape_fn((cells.len(), 2), |(r, c)| if c == 0 { cells[r].0 } else { cells[r].1 });
    let (p2u, fits) = crate::clap::patch_phase(
        inp.ph_grid.view(),
        ucells.view(),
        win,
        osf,
        p.clap_alpha as f32,
        p.clap_beta as f32,
        inp.low_pass.view(),
        threads,
    )?;
    if fits.iter().any(|&f| !f) {
        let (n_i, n_j, _) = inp.ph_grid.dim();
        let bad = inv.iter().filter(|&&u| !fits[u]).count();
        log(&format!(
            "ps_select: WARNING grid {n_i} x {n_j} cells is narrower than the {win}-cell window for {bad} of {n0} pixels: their patch phase is 0 and they are rejected"
        ));
    }
    let mp = p2u.ncols();
    if mp != m {
        return Err(format!("pm1.ph_grid has {mp} interferograms, expected {m}"));
    }
    let ph_patch2 = Array2::from_shape_fn((n0, m), |(r, c)| p2u[[inv[r], c]]);
    // d = ph (master removed) * conj(P2), complex64 as NumPy (rows in parallel)
    let mut d = Array2::<Complex32>::zeros((n0, m));
    crate::pool::install(threads, || {
        d.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(r, mut row)| {
            for c in 0..m {
                let col = if c >= master0 { c + 1 } else { c };
                row[c] = crate::num::cmul32_conj(inp.ph[[ix[r], col]], ph_patch2[[r, c]]);
            }
        })
    });
    let good: Vec<usize> = (0..n0).filter(|&r| d.row(r).iter().all(|v| v.re != 0.0 || v.im != 0.0)).collect();
    let mut k2 = vec![f64::NAN; n0];
    let mut c2 = vec![0.0; n0];
    let mut coh2 = vec![f64::NAN; n0];
    let mut ph_res2 = Array2::<f32>::zeros((n0, m));
    if !good.is_empty() {
        let nu = ifg0.len();
        let mut dg = Array2::<Complex32>::zeros((good.len(), nu));
        crate::pool::install(threads, || {
            dg.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(r, mut row)| {
                for (c, &col) in ifg0.iter().enumerate() {
                    row[c] = unit_phasor(d[[good[r], col]]);
                }
            })
        });
        let bg = Array2::from_shape_fn((good.len(), nu), |(r, c)| inp.bperp_mat[[ix[good[r]], ifg0[c]]]);
        let (k, c, g, res) =
            topofit::topofit_f32(dg.view(), Baselines::PerPixel(bg.view()), inp.n_trial_wraps, threads);
        for (j, &r) in good.iter().enumerate() {
            k2[r] = k[j];
            c2[r] = c[j];
            coh2[r] = g[j];
            for (u, &col) in ifg0.iter().enumerate() {
                ph_res2[[r, col]] = res[[j, u]];
            }
        }
    }
    Ok(Reest { ph_patch2, ph_res2, k2, c2, coh2 })
}

fn check(inp: &SelectInputs) -> Result<(), String> {
    let n = inp.n_ps;
    let n_ifg = inp.n_ifg;
    if inp.master_ix < 1 || inp.master_ix > n_ifg {
        return Err(format!("ps1.master_ix {} outside 1..{n_ifg}", inp.master_ix));
    }
    let m = n_ifg - 1;
    if inp.coh_ps.len() != n {
        return Err(format!("pm1.coh_ps has {} rows, ps1.n_ps is {n}", inp.coh_ps.len()));
    }
    let shapes = [
        ("pm1.K_ps", (inp.k_ps.len(), 1), (n, 1)),
        ("pm1.C_ps", (inp.c_ps.len(), 1), (n, 1)),
        ("ps1.xy", inp.xy.dim(), (n, 2)),
        ("ps1.bperp", (inp.bperp.len(), 1), (n_ifg, 1)),
        ("ph1.ph", inp.ph.dim(), (n, n_ifg)),
        ("bp1.bperp_mat", inp.bperp_mat.dim(), (n, m)),
        ("pm1.grid_ij", inp.grid_ij.dim(), (n, 2)),
        ("pm1.ph_patch", inp.ph_patch.dim(), (n, m)),
        ("pm1.ph_res", inp.ph_res.dim(), (n, m)),
        ("pm1.Nr", (inp.nr.len(), 1), (100, 1)),
    ];
    for (name, got, want) in shapes {
        if got != want {
            return Err(format!("{name} is {} x {}, expected {} x {}", got.0, got.1, want.0, want.1));
        }
    }
    if let Some(d) = &inp.d_a {
        if d.len() != n {
            return Err(format!("da1.D_A has {} rows, ps1.n_ps is {n}", d.len()));
        }
    }
    Ok(())
}

/// ps_select: the `select1` variables (spec C.0) in StaMPS' order.
///
/// `threads` sizes the rayon pool of the kernels (0 = the process's CPU budget); `log`
/// receives the same lines as the Python stage's log.
pub fn run(inp: &SelectInputs, params: &ParamMap, threads: usize, log: &dyn Fn(&str)) -> Result<Artifact, String> {
    let p = SelectParams::from_map(params)?;
    if p.small_baseline_flag.trim().to_lowercase() == "y" {
        return Err("ps_select: small_baseline_flag='y' is not supported (single master only)".into());
    }
    if p.gamma_stdev_reject > 0.0 {
        return Err("ps_select: gamma_stdev_reject > 0 is not supported (the StaMPS bootstrap path is broken, spec J.24); set it to 0".into());
    }
    check(inp)?;
    let n = inp.n_ps;
    let ifg_index = select_ifg_index(inp.n_ifg, inp.master_ix, &p.drop_ifg_index);
    let ifg0: Vec<usize> = ifg_index.iter().map(|&k| k - 1).collect();
    let (edges, d_a) = da_bin_edges(inp.d_a.as_deref(), n);
    let n_bins = edges.len() - 1;
    let xs: Vec<f32> = inp.xy.column(0).to_vec();
    let ys: Vec<f32> = inp.xy.column(1).to_vec();
    let max_rand = max_random(&p.select_method, p.density_rand, p.percent_rand, &xs, &ys, n_bins)?;

    let (thr, coeffs) = gamma_threshold(&inp.coh_ps, &d_a, &edges, &inp.nr, max_rand, threads, log, "initial");
    let ix: Vec<usize> = (0..n).filter(|&q| inp.coh_ps[q] > thr.at(q)).collect();
    log(&format!("ps_select: {} of {n} candidates selected initially", ix.len()));

    if p.reest_flag == 1 {
        let m = inp.n_ifg - 1;
        let thr_out: Vec<f64> = (0..n).map(|q| thr.at(q)).collect();
        let r = Reest {
            ph_patch2: inp.ph_patch.select(Axis(0), &ix),
            ph_res2: inp.ph_res.select(Axis(0), &ix),
            k2: ix.iter().map(|&q| inp.k_ps[q]).collect(),
            c2: ix.iter().map(|&q| inp.c_ps[q]).collect(),
            coh2: ix.iter().map(|&q| inp.coh_ps[q]).collect(),
        };
        debug_assert_eq!(r.ph_res2.ncols(), m);
        let keep = vec![true; ix.len()];
        return Ok(assemble(&ix, &keep, r, col_f64(thr_out), coeffs, max_rand, &ifg_index, &p));
    }

    let r = reestimate(inp, &p, &ix, &ifg0, threads, log)?;
    let mut coh_all = inp.coh_ps.clone();
    for (j, &q) in ix.iter().enumerate() {
        coh_all[q] = r.coh2[j];
    }
    let (thr2, coeffs2) = gamma_threshold(&coh_all, &d_a, &edges, &inp.nr, max_rand, threads, log, "re-estimated");
    let mut bp: Vec<f64> = inp.bperp.clone();
    bp.remove(inp.master_ix - 1);
    let k_tol = if bp.is_empty() {
        f64::INFINITY
    } else {
        let (lo, hi) = bp.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        2.0 * std::f64::consts::PI / (hi - lo)
    };
    let keep: Vec<bool> =
        ix.iter().enumerate().map(|(j, &q)| r.coh2[j] > thr2.at(q) && (inp.k_ps[q] - r.k2[j]).abs() < k_tol).collect();
    let n_keep = keep.iter().filter(|&&k| k).count();
    log(&format!("ps_select: {n_keep} of {} pixels kept after re-estimation", ix.len()));
    if !ix.is_empty() && n_keep == 0 {
        log("ps_select: no PS left after selection");
    }
    let thr_out = match &thr2 {
        Threshold::PerPixel(v) => col_f64(ix.iter().map(|&q| v[q]).collect()),
        Threshold::Constant(t) => MatArray::scalar(*t),
    };
    Ok(assemble(&ix, &keep, r, thr_out, coeffs2, max_rand, &ifg_index, &p))
}

/// select1 variables in StaMPS' order, names, shapes and dtypes.
#[allow(clippy::too_many_arguments)]
fn assemble(
    ix: &[usize],
    keep: &[bool],
    r: Reest,
    coh_thresh: MatArray,
    coeffs: Option<[f64; 2]>,
    max_rand: MaxRand,
    ifg_index: &[usize],
    p: &SelectParams,
) -> Artifact {
    let coeffs = match coeffs {
        Some(c) => MatArray::new(1, 2, MatData::F64(c.to_vec())),
        None => MatArray::new(0, 0, MatData::F64(Vec::new())),
    };
    let mpr = match max_rand {
        MaxRand::Density(v) => MatArray::new(1, 1, MatData::F32(vec![v])),
        MaxRand::Percent(v) => MatArray::scalar(v),
    };
    vec![
        ("ix".into(), col_f64(ix.iter().map(|&q| (q + 1) as f64).collect())),
        ("keep_ix".into(), col_u8(keep)),
        ("ph_patch2".into(), mat_c64(&r.ph_patch2)),
        ("ph_res2".into(), mat_f32(&r.ph_res2)),
        ("K_ps2".into(), col_f64(r.k2)),
        ("C_ps2".into(), col_f64(r.c2)),
        ("coh_ps2".into(), col_f64(r.coh2)),
        ("coh_thresh".into(), coh_thresh),
        ("coh_thresh_coeffs".into(), coeffs),
        ("clap_alpha".into(), MatArray::scalar(p.clap_alpha)),
        ("clap_beta".into(), MatArray::scalar(p.clap_beta)),
        ("n_win".into(), MatArray::scalar(p.clap_win_f)),
        ("max_percent_rand".into(), mpr),
        ("gamma_stdev_reject".into(), MatArray::scalar(p.gamma_stdev_reject)),
        ("small_baseline_flag".into(), MatArray::text(&p.small_baseline_flag)),
        ("ifg_index".into(), row_f64(ifg_index.iter().map(|&k| k as f64).collect())),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::stages::params::ParamValue;

    #[test]
    fn ifg_index_master_removed_numbering() {
        assert_eq!(select_ifg_index(6, 3, &[1, 5]), vec![2, 3, 5]);
        assert_eq!(select_ifg_index(4, 1, &[]), vec![1, 2, 3]);
    }

    #[test]
    fn unit_phasor_of_real_divisor() {
        let z = unit_phasor(Complex32::new(3.0, -4.0));
        assert!((z.re - 0.6).abs() < 1e-7 && (z.im + 0.8).abs() < 1e-7);
        assert!(unit_phasor(Complex32::new(0.0, 0.0)).re.is_nan());
    }

    /// A small synthetic patch as artifacts (n pixels on an n_i x n_j grid, N = 8, master 4).
    pub(crate) fn synthetic(n: usize, n_i: usize, n_j: usize) -> Artifacts {
        let (nn, master, m) = (8usize, 4usize, 7usize);
        let mut h = 12345u64;
        let mut rnd = move || {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            (h % 1_000_000) as f64 / 1e6
        };
        let gi: Vec<f64> = (0..n).map(|_| (rnd() * n_i as f64).floor() + 1.0).collect();
        let gj: Vec<f64> = (0..n).map(|_| (rnd() * n_j as f64).floor() + 1.0).collect();
        let mut bperp: Vec<f64> = (0..nn).map(|k| -100.0 + 200.0 * k as f64 / 7.0).collect();
        bperp[master - 1] = 0.0;
        let cis = |x: f64| Complex32::new(x.cos() as f32, x.sin() as f32);
        let ph: Vec<Complex32> = (0..n * nn).map(|_| cis(rnd() * 6.0 - 3.0)).collect();
        let grid: Vec<Complex32> = (0..n_i * n_j * m).map(|_| cis(rnd() * 6.0 - 3.0)).collect();
        let mut xy = vec![0f32; n * 3];
        for q in 0..n {
            xy[q] = (q + 1) as f32;
            xy[n + q] = (gj[q] * 50.0) as f32;
            xy[2 * n + q] = (gi[q] * 50.0) as f32;
        }
        let bm: Vec<f32> = (0..m)
            .flat_map(|c| {
                let b = bperp[if c >= master - 1 { c + 1 } else { c }] as f32;
                std::iter::repeat_n(b, n)
            })
            .collect();
        let f = |r, c, v: Vec<f64>| MatArray::new(r, c, MatData::F64(v));
        let mut gij = gi.clone();
        gij.extend(&gj);
        let mut a = Artifacts::new();
        a.insert(
            "ps1".into(),
            vec![
                ("n_ps".into(), MatArray::scalar(n as f64)),
                ("n_ifg".into(), MatArray::scalar(nn as f64)),
                ("master_ix".into(), MatArray::scalar(master as f64)),
                ("bperp".into(), f(nn, 1, bperp)),
                ("xy".into(), MatArray::new(n, 3, MatData::F32(xy))),
                (
                    "ij".into(),
                    f(
                        n,
                        3,
                        (0..n)
                            .map(|q| (q + 1) as f64)
                            .chain(gi.iter().map(|v| v * 5.0))
                            .chain(gj.iter().map(|v| v * 5.0))
                            .collect(),
                    ),
                ),
                ("day".into(), f(nn, 1, (0..nn).map(|k| 737000.0 + 35.0 * k as f64).collect())),
            ],
        );
        a.insert("ph1".into(), vec![("ph".into(), MatArray::new(n, nn, MatData::C64(ph)))]);
        a.insert("bp1".into(), vec![("bperp_mat".into(), MatArray::new(n, m, MatData::F32(bm)))]);
        a.insert(
            "pm1".into(),
            vec![
                ("coh_ps".into(), f(n, 1, vec![0.9; n])),
                ("K_ps".into(), f(n, 1, vec![0.0; n])),
                ("C_ps".into(), f(n, 1, vec![0.0; n])),
                ("Nr".into(), f(1, 100, (0..100).map(|k| if k < 40 { 100.0 } else { 0.0 }).collect())),
                ("ph_grid".into(), MatArray::new(n_i, n_j * m, MatData::C64(grid))),
                ("grid_ij".into(), MatArray::new(n, 2, MatData::F32(gij.iter().map(|&v| v as f32).collect()))),
                ("low_pass".into(), f(32, 32, vec![1.0; 1024])),
                ("n_trial_wraps".into(), MatArray::scalar(0.5)),
                ("ph_patch".into(), MatArray::new(n, m, MatData::C64(vec![Complex32::new(1.0, 0.0); n * m]))),
                ("ph_res".into(), MatArray::new(n, m, MatData::F32(vec![0.0; n * m]))),
            ],
        );
        a
    }

    pub(crate) fn defaults() -> ParamMap {
        use ParamValue::*;
        ParamMap::new()
            .with("small_baseline_flag", Text("n".into()))
            .with("gamma_stdev_reject", Float(0.0))
            .with("select_reest_gamma_flag", Text("y".into()))
            .with("quick_est_gamma_flag", Text("y".into()))
            .with("drop_ifg_index", List(vec![]))
            .with("select_method", Text("DENSITY".into()))
            .with("density_rand", Float(20.0))
            .with("percent_rand", Float(20.0))
            .with("clap_win", Int(32))
            .with("slc_osf", Float(1.0))
            .with("clap_alpha", Float(1.0))
            .with("clap_beta", Float(0.3))
            .with("weed_neighbours", Text("n".into()))
            .with("weed_zero_elevation", Text("n".into()))
            .with("weed_standard_dev", Float(1.0))
            .with("weed_max_noise", Float(f64::INFINITY))
            .with("weed_time_win", Float(730.0))
    }

    fn get<'a>(a: &'a Artifact, k: &str) -> &'a MatArray {
        &a.iter().find(|(n, _)| n == k).unwrap().1
    }

    #[test]
    fn narrow_grid_rejects_everything_with_a_warning() {
        let inp = SelectInputs::from_artifacts(&synthetic(50, 20, 40)).unwrap();
        let lines = std::sync::Mutex::new(Vec::new());
        let log = |s: &str| lines.lock().unwrap().push(s.to_string());
        let out = run(&inp, &defaults(), 1, &log).unwrap();
        assert_eq!(get(&out, "ix").rows, 50); // threshold fallback 0.3: all selected
        assert_eq!(get(&out, "keep_ix").data, MatData::U8(vec![0; 50]));
        let lines = lines.into_inner().unwrap();
        assert!(lines.iter().any(|l| l.contains("narrower")) && lines.iter().any(|l| l.contains("0.3")));
    }

    #[test]
    fn wide_grid_reestimates_and_refusals() {
        let inp = SelectInputs::from_artifacts(&synthetic(50, 40, 40)).unwrap();
        let out = run(&inp, &defaults(), 2, &|_| {}).unwrap();
        let MatData::F64(coh) = &get(&out, "coh_ps2").data else { panic!() };
        assert!(coh.iter().all(|c| c.is_finite()));
        assert_eq!((get(&out, "ph_res2").rows, get(&out, "ph_res2").cols), (50, 7));
        let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names[..3], ["ix", "keep_ix", "ph_patch2"]);
        let bad = defaults().with("gamma_stdev_reject", ParamValue::Float(0.1));
        assert!(run(&inp, &bad, 1, &|_| {}).unwrap_err().contains("gamma_stdev_reject"));
    }
}
