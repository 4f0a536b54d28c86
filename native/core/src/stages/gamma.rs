//! Stage 2, StaMPS `ps_est_gamma_quick` (spec C.2, K.3): the phase-noise (gamma) estimation
//! of one patch, as the python stage `pystamps_batch.stages.gamma.run`.
//!
//! Iteratively: grid the weighted phase of every candidate (cells of `filter_grid_size` m),
//! CLAP-filter the grids to get each pixel's patch phase, fit the look-angle error K per
//! pixel against the patch-phase residual (`ps_topofit`), and re-weight the pixels from their
//! coherence gamma (P-square weights against a random-phase reference), until the rms change
//! of gamma stabilises.
//!
//! Inputs: `ps1` (xy, bperp, master_ix), `ph1` (ph n x N), `bp1` (bperp_mat n x M); optional
//! `da1` (D_A, initial weights 1/D_A), `la1` / `inc1` (mean incidence). Output: the `pm1`
//! variables with StaMPS' names, shapes and types (spec C.0). The master column is removed
//! everywhere (M = N - 1) and `drop_ifg_index` is not applied (as the python stage).
//!
//! Kernels are the shared ones of this crate ([`crate::gridding`], [`crate::clap`],
//! [`crate::topofit`], [`crate::histogram`]), called exactly as the python stage calls them
//! through its native kernel set. The element-wise glue reproduces NumPy's float32 arithmetic
//! (complex64 products with FMA via [`crate::num::cmul32`], complex division by a real as
//! NumPy's Smith division, `exp(-i x)` through libm `cosf`/`sinf` as glibc's `cexpf`), so
//! the outputs equal the python stage's bit for bit (tests/test_native_stage2.py); the one
//! different float sequence is the P-square curve's f64 FIR arithmetic (see [`weights`]),
//! whose last-bit differences vanish when the weights are rounded to f32.

#[path = "gamma_vars.rs"]
pub mod vars;
#[path = "gamma_weights.rs"]
pub mod weights;

use super::arrays::{Artifact, MatArray, MatData};
use crate::num::{cmul32, pairwise_sum_f64};
use crate::topofit::{self, Baselines};
use crate::vmath::cabs32;
use ndarray::{Array2, Array3, ArrayView1, ArrayView2};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use vars::{c64_c, col_f64, f32_c, f64_c, has, is_single, row_f64, to_f_order, var};

/// Slant range used by StaMPS to convert max_topo_err into K (m).
pub const RHO: f64 = 830000.0;
/// Default mean incidence when neither inc1 nor la1 exists (rad).
pub const DEFAULT_INCIDENCE: f64 = 21.0 * std::f64::consts::PI / 180.0;
/// la1 holds the look angle; StaMPS adds ~3 degrees to get the incidence (rad).
pub const LOOK_TO_INCIDENCE: f64 = 0.052;

/// The StaMPS parameters stage 2 reads (names as in `parms.mat`; defaults of `params.py`).
#[derive(Debug, Clone, PartialEq)]
pub struct GammaParams {
    /// cell size of the phase grid (m)
    pub filter_grid_size: f64,
    /// "P-square" (default) or anything else for SNR weights
    pub filter_weighting: String,
    /// CLAP window (cells); step 2 uses round(0.75 clap_win) data + round(0.25 clap_win) padding
    pub clap_win: i64,
    pub clap_alpha: f64,
    pub clap_beta: f64,
    /// Butterworth low-pass cut-off wavelength (m)
    pub clap_low_pass_wavelength: f64,
    /// stop when |change of the rms gamma change| falls below this
    pub gamma_change_convergence: f64,
    pub gamma_max_iterations: i64,
    /// maximum DEM error (m), sets the topofit trial range
    pub max_topo_err: f64,
    /// radar wavelength (m); NaN = not set (an error)
    pub lambda: f64,
}

impl Default for GammaParams {
    fn default() -> Self {
        GammaParams {
            filter_grid_size: 50.0,
            filter_weighting: "P-square".into(),
            clap_win: 32,
            clap_alpha: 1.0,
            clap_beta: 0.3,
            clap_low_pass_wavelength: 800.0,
            gamma_change_convergence: 0.005,
            gamma_max_iterations: 3,
            max_topo_err: 20.0,
            lambda: f64::NAN,
        }
    }
}

/// The stage-1 artifacts stage 2 reads (variables as the python stage reads them).
#[derive(Debug, Clone, Default)]
pub struct GammaInputs {
    pub ps1: Artifact,
    pub ph1: Artifact,
    pub bp1: Artifact,
    pub da1: Option<Artifact>,
    pub la1: Option<Artifact>,
    pub inc1: Option<Artifact>,
}

/// `n_trial_wraps` in the precision of `ps1.bperp` (f32 arithmetic when single, as StaMPS).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrialWraps {
    Single(f32),
    Double(f64),
}

impl TrialWraps {
    pub fn value(self) -> f64 {
        match self {
            TrialWraps::Single(v) => v as f64,
            TrialWraps::Double(v) => v,
        }
    }
}

/// Mean incidence angle (rad): non-zero mean of inc1.inc, else mean(la1.la) + 0.052, else 21 deg.
pub fn mean_incidence(inp: &GammaInputs) -> Result<f64, String> {
    if let Some(inc) = inp.inc1.as_ref().filter(|a| has(a, "inc")) {
        let v: Vec<f64> = f64_c(var(inc, "inc", "inc1")?, "inc1.inc")?.into_iter().filter(|&x| x != 0.0).collect();
        if !v.is_empty() {
            return Ok(pairwise_sum_f64(&v) / v.len() as f64);
        }
    }
    if let Some(la) = inp.la1.as_ref().filter(|a| has(a, "la")) {
        let v = f64_c(var(la, "la", "la1")?, "la1.la")?;
        // NumPy: the mean of an empty array is NaN
        return Ok(pairwise_sum_f64(&v) / v.len() as f64 + LOOK_TO_INCIDENCE);
    }
    Ok(DEFAULT_INCIDENCE)
}

/// `n_trial_wraps = range(B) K_max / (2 pi)`, `K_max = max_topo_err / (lambda rho sin(inc) / (4 pi))`.
pub fn trial_wraps(bperp: &[f64], single: bool, max_topo_err: f64, wavelength: f64, incidence: f64) -> TrialWraps {
    let k_max = max_topo_err / (wavelength * RHO * incidence.sin() / (4.0 * std::f64::consts::PI));
    let two_pi = 2.0 * std::f64::consts::PI;
    if single {
        let (lo, hi) = minmax(bperp.iter().map(|&x| x as f32));
        let rng = hi - lo;
        TrialWraps::Single((rng * k_max as f32) / two_pi as f32)
    } else {
        let (lo, hi) = minmax(bperp.iter().copied());
        TrialWraps::Double((hi - lo) * k_max / two_pi)
    }
}

/// NumPy min/max (NaN propagates).
fn minmax<T: num_traits::Float>(it: impl Iterator<Item = T>) -> (T, T) {
    let (mut lo, mut hi) = (T::infinity(), T::neg_infinity());
    for x in it {
        if x.is_nan() {
            return (x, x);
        }
        lo = lo.min(x);
        hi = hi.max(x);
    }
    (lo, hi)
}

/// 1-based cell indices (n x 2, row-major [row (y), column (x)]) in f32 as StaMPS computes
/// them: `ceil((c - min c + 1e-6) / grid_size)`, the last index merged into the previous one.
/// `xy`: n x 3 row-major f32.
pub fn grid_indices(xy: &[f32], n: usize, grid_size: f64) -> Vec<f32> {
    let mut out = vec![0f32; 2 * n];
    for (k, col) in [2usize, 1].into_iter().enumerate() {
        let c: Vec<f32> = (0..n).map(|p| xy[p * 3 + col]).collect();
        let (cmin, _) = minmax(c.iter().copied());
        let g: Vec<f32> = c.iter().map(|&v| ((v - cmin + 1e-6f32) / grid_size as f32).ceil()).collect();
        let (_, gmax) = minmax(g.iter().copied());
        for (p, &v) in g.iter().enumerate() {
            out[p * 2 + k] = if v == gmax { gmax - 1.0 } else { v };
        }
    }
    out
}

/// Butterworth low-pass (`clap_win` x `clap_win`, DC at [0, 0]) of the python
/// `low_pass_filter`; the one implementation is [`crate::clap::low_pass`].
pub fn low_pass_filter(grid_size: f64, clap_win: usize, wavelength: f64) -> Array2<f64> {
    crate::clap::low_pass(grid_size, clap_win, wavelength)
}

/// Python's `round` (halves to even) of a non-negative value, as usize.
fn round_half_even(x: f64) -> usize {
    let f = x.floor();
    let r = if x - f == 0.5 { if f % 2.0 == 0.0 { f } else { f + 1.0 } } else { x.round() };
    r.max(0.0) as usize
}

/// NumPy's complex64 division by a real `d` (cast to complex): Smith's algorithm with a zero
/// imaginary part, i.e. `((a + b*0) / d, (b - a*0) / d)` through the reciprocal `1/d`.
#[inline(always)]
fn cdiv_real(z: Complex32, d: f32) -> Complex32 {
    let rat = 0.0f32 / d;
    let scl = 1.0f32 / (d + 0.0f32 * rat);
    Complex32::new((z.re + z.im * rat) * scl, (z.im - z.re * rat) * scl)
}

/// NumPy's complex64 `exp(-1j * x)` for real x: glibc `cexpf(0 - i x)` = (cosf(-x), sinf(-x)).
#[inline(always)]
fn cis_neg32(x: f32) -> Complex32 {
    let y = -x;
    Complex32::new(y.cos(), y.sin())
}

/// NumPy's evaluation of `named * temporary` for complex64 arrays of `nbytes` bytes.
///
/// NumPy's complex64 product `x * y` (FMA loops) is [`cmul32`]`(x, y)`:
/// `re = fma(x.re, y.re, -(x.im y.im))`, `im = fma(x.re, y.im, x.im y.re)` (the imaginary
/// part is not symmetric in the operands). For an expression `named * temporary` NumPy
/// elides the temporary once it holds at least 256 KiB (`NPY_MIN_ELIDE_BYTES`): it
/// computes `temporary *= named`, i.e. with the operands swapped. The python stage's
/// `psi * exp(...)` and `psi * conj(ph_patch)` are of that form, so the order depends on the
/// array size (measured: bit-equal to NumPy 2.4 on both sides of the threshold).
#[inline(always)]
fn np_cmul_temp(named: Complex32, temp: Complex32, elided: bool) -> Complex32 {
    if elided {
        cmul32(temp, named)
    } else {
        cmul32(named, temp)
    }
}

/// Pixels per parallel task of the element-wise loops.
const ROWS: usize = 256;

/// NumPy's temporary-elision threshold (`NPY_MIN_ELIDE_BYTES`).
const MIN_ELIDE_BYTES: usize = 256 * 1024;

/// Whether NumPy elides a complex64 temporary of `len` elements (see [`np_cmul_temp`]).
fn elided(len: usize) -> bool {
    len * std::mem::size_of::<Complex32>() >= MIN_ELIDE_BYTES
}

/// Everything the iteration needs, derived once from the inputs and parameters.
struct Setup {
    n: usize,
    m: usize,
    /// n x M amplitudes (0 replaced by 1), row-major
    amp: Vec<f32>,
    /// n x M unit phasors (or 0), row-major
    psi: Vec<Complex32>,
    /// n x M baselines, row-major
    bperp_mat: Vec<f32>,
    /// (M,) ps1.bperp without the master, as f64 (exact for either precision)
    bperp: Vec<f64>,
    row_invariant: bool,
    grid_size: f64,
    grid_ij: Vec<f32>,
    gi: Vec<usize>,
    gj: Vec<usize>,
    cell: Vec<i64>,
    n_i: usize,
    n_j: usize,
    n_win: usize,
    n_pad: usize,
    weights0: Vec<f64>,
    low_pass: Array2<f64>,
    ntw: TrialWraps,
    alpha: f64,
    beta: f64,
    psquare: bool,
    conv: f64,
    max_it: i64,
}

fn setup(inp: &GammaInputs, p: &GammaParams) -> Result<Setup, String> {
    let ph_a = var(&inp.ph1, "ph", "ph1")?;
    let (n, n_all) = (ph_a.rows, ph_a.cols);
    if n == 0 || n_all == 0 {
        return Err(format!("no PS candidates in ph1 (ph has shape ({n}, {n_all})): nothing to estimate"));
    }
    let mix = f64_c(var(&inp.ps1, "master_ix", "ps1")?, "ps1.master_ix")?;
    let master_ix = *mix.first().ok_or("ps1.master_ix is empty")? as i64;
    if master_ix < 1 || master_ix as usize > n_all {
        return Err(format!("ps1.master_ix = {master_ix} is outside 1..{n_all} (columns of ph1.ph)"));
    }
    let mi = master_ix as usize - 1;
    let m = n_all - 1;
    let bp_a = var(&inp.bp1, "bperp_mat", "bp1")?;
    let bperp_mat = f32_c(bp_a, "bp1.bperp_mat")?;
    let ph_all = c64_c(ph_a, "ph1.ph")?;
    let nan = ph_all.iter().filter(|z| z.re.is_nan() || z.im.is_nan()).count();
    if nan > 0 {
        return Err(format!("ph1 holds {nan} NaN phase values; cannot estimate gamma"));
    }
    if (bp_a.rows, bp_a.cols) != (n, m) {
        return Err(format!("bp1.bperp_mat has shape ({}, {}), expected ({n}, {m})", bp_a.rows, bp_a.cols));
    }
    let mut amp = Vec::with_capacity(n * m);
    let mut psi = Vec::with_capacity(n * m);
    for r in 0..n {
        for (c, &z) in ph_all[r * n_all..(r + 1) * n_all].iter().enumerate() {
            if c == mi {
                continue;
            }
            let a = cabs32(z.re, z.im);
            let a = if a == 0.0 { 1.0 } else { a };
            amp.push(a);
            psi.push(cdiv_real(z, a));
        }
    }
    let bp_ps = var(&inp.ps1, "bperp", "ps1")?;
    let single = is_single(bp_ps);
    let bperp_all = f64_c(bp_ps, "ps1.bperp")?;
    if bperp_all.len() != n_all {
        return Err(format!("ps1.bperp has {} values for {n_all} interferograms", bperp_all.len()));
    }
    let bperp: Vec<f64> = bperp_all.iter().enumerate().filter(|(k, _)| *k != mi).map(|(_, &v)| v).collect();
    let row_invariant = (1..n).all(|r| bperp_mat[r * m..(r + 1) * m] == bperp_mat[..m]);

    let grid_size = p.filter_grid_size;
    let xy_a = var(&inp.ps1, "xy", "ps1")?;
    if xy_a.rows != n || xy_a.cols < 3 {
        return Err(format!(
            "ps1.xy has shape ({}, {}), expected ({n}, 3) for the {n} candidates of ph1",
            xy_a.rows, xy_a.cols
        ));
    }
    let xy_full = f32_c(xy_a, "ps1.xy")?;
    let xy: Vec<f32> = (0..n).flat_map(|r| xy_full[r * xy_a.cols..r * xy_a.cols + 3].to_vec()).collect();
    let grid_ij = grid_indices(&xy, n, grid_size);
    let gi: Vec<usize> = (0..n).map(|r| (grid_ij[2 * r] as i64 - 1).max(0) as usize).collect();
    let gj: Vec<usize> = (0..n).map(|r| (grid_ij[2 * r + 1] as i64 - 1).max(0) as usize).collect();
    let n_i = gi.iter().max().map_or(0, |v| v + 1);
    let n_j = gj.iter().max().map_or(0, |v| v + 1);
    if p.clap_win < 1 {
        return Err(format!("parameter clap_win = {} must be positive", p.clap_win));
    }
    let n_win = round_half_even(p.clap_win as f64 * 0.75);
    let n_pad = round_half_even(p.clap_win as f64 * 0.25);
    if n_i < n_win || n_j < n_win {
        return Err(format!(
            "patch grid is {n_i} x {n_j} cells of {} m; CLAP needs at least {n_win} x {n_win} (about {:.1} km in each direction)",
            fmt_g(grid_size),
            n_win as f64 * grid_size / 1000.0
        ));
    }
    let cell: Vec<i64> = gi.iter().zip(&gj).map(|(&i, &j)| (i * n_j + j) as i64).collect();

    let weights0 = match inp.da1.as_ref().filter(|a| has(a, "D_A")) {
        Some(da) => {
            let d = f64_c(var(da, "D_A", "da1")?, "da1.D_A")?;
            if d.len() != n {
                return Err(format!("da1.D_A has {} values for {n} candidates", d.len()));
            }
            d.iter().map(|v| 1.0 / v).collect()
        }
        None => vec![1.0; n],
    };
    let low_pass = low_pass_filter(grid_size, p.clap_win as usize, p.clap_low_pass_wavelength);
    if !p.lambda.is_finite() {
        return Err("parameter 'lambda' (radar wavelength) is not set".into());
    }
    let ntw = trial_wraps(&bperp, single, p.max_topo_err, p.lambda, mean_incidence(inp)?);
    Ok(Setup {
        n,
        m,
        amp,
        psi,
        bperp_mat,
        bperp,
        row_invariant,
        grid_size,
        grid_ij,
        gi,
        gj,
        cell,
        n_i,
        n_j,
        n_win,
        n_pad,
        weights0,
        low_pass,
        ntw,
        alpha: p.clap_alpha,
        beta: p.clap_beta,
        psquare: p.filter_weighting == "P-square",
        conv: p.gamma_change_convergence,
        max_it: p.gamma_max_iterations,
    })
}

/// Python's `{:g}` for the grid size in the error message (integers without a point).
fn fmt_g(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// (ph_weight n x M, ph_grid n_i x n_j x M, ph_patch n x M), row-major.
type PatchPhase = (Vec<Complex32>, Array3<Complex32>, Vec<Complex32>);

/// One patch-phase estimate: (ph_weight n x M, ph_grid n_i x n_j x M, ph_patch n x M), row-major.
fn patch_phase(s: &Setup, k: &[f64], w: &[f64], threads: usize) -> Result<PatchPhase, String> {
    let (n, m) = (s.n, s.m);
    let mut ph_weight = vec![Complex32::new(0.0, 0.0); n * m];
    let el = elided(n * m);
    if m > 0 {
        crate::pool::install(threads, || {
            ph_weight.par_chunks_mut(m * ROWS).enumerate().for_each(|(c, blk)| {
                for (r, out) in blk.chunks_mut(m).enumerate() {
                    let p = c * ROWS + r;
                    let kp = k[p] as f32;
                    let wp = Complex32::new(w[p] as f32, 0.0);
                    let row = p * m..(p + 1) * m;
                    for ((o, &z), &b) in out.iter_mut().zip(&s.psi[row.clone()]).zip(&s.bperp_mat[row]) {
                        // (psi * exp(-1j phase)) * w: the weight product is symmetric (w is real)
                        *o = cmul32(np_cmul_temp(z, cis_neg32(b * kp), el), wp);
                    }
                }
            })
        });
    }
    let values = ArrayView2::from_shape((n, m), &ph_weight).map_err(|e| e.to_string())?;
    let cells = crate::gridding::grid_accumulate(values, ArrayView1::from(&s.cell), s.n_i * s.n_j, threads)?;
    let ph_grid = cells.into_shape_with_order((s.n_i, s.n_j, m)).map_err(|e| e.to_string())?;
    let g64 = ph_grid.mapv(|z| Complex64::new(z.re as f64, z.im as f64));
    let filt = crate::clap::clap_filt_stack::<f64>(g64.view(), s.alpha, s.beta, s.n_win, s.n_pad, s.low_pass.view(), threads)?;
    let mut ph_patch = vec![Complex32::new(0.0, 0.0); n * m];
    if m > 0 {
        crate::pool::install(threads, || {
            ph_patch.par_chunks_mut(m * ROWS).enumerate().for_each(|(c, blk)| {
                for (r, out) in blk.chunks_mut(m).enumerate() {
                    let p = c * ROWS + r;
                    for (kk, o) in out.iter_mut().enumerate() {
                        let f = filt[[s.gi[p], s.gj[p], kk]];
                        let z = Complex32::new(f.re as f32, f.im as f32);
                        let mag = cabs32(z.re, z.im);
                        *o = if mag != 0.0 { cdiv_real(z, mag) } else { Complex32::new(0.0, 0.0) };
                    }
                }
            })
        });
    }
    Ok((ph_weight, ph_grid, ph_patch))
}

/// Topofit of `psi * conj(ph_patch)` for the rows with no zero value:
/// (rows, K, C, coh, ph_res rows x M).
#[allow(clippy::type_complexity)]
fn fit(
    s: &Setup,
    ph_patch: &[Complex32],
    threads: usize,
) -> Result<(Vec<usize>, Vec<f64>, Vec<f64>, Vec<f64>, Array2<f32>), String> {
    let (n, m) = (s.n, s.m);
    let el = elided(n * m);
    let mut d = vec![Complex32::new(0.0, 0.0); n * m];
    let mut full = vec![false; n];
    if m > 0 {
        crate::pool::install(threads, || {
            d.par_chunks_mut(m * ROWS).zip(full.par_chunks_mut(ROWS)).enumerate().for_each(|(c, (blk, ok))| {
                for (r, out) in blk.chunks_mut(m).enumerate() {
                    let p = c * ROWS + r;
                    let row = p * m..(p + 1) * m;
                    let mut all = true;
                    for (o, (&a, &b)) in out.iter_mut().zip(s.psi[row.clone()].iter().zip(&ph_patch[row])) {
                        *o = np_cmul_temp(a, b.conj(), el);
                        all &= o.re != 0.0 || o.im != 0.0;
                    }
                    ok[r] = all;
                }
            })
        });
    }
    let rows: Vec<usize> = (0..n).filter(|&p| full[p]).collect();
    let nr = rows.len();
    let ntw = s.ntw.value();
    if nr == n {
        // every row fits: no gathering copy
        let z = ArrayView2::from_shape((n, m), &d).map_err(|e| e.to_string())?;
        let (k, c, g, r) = if s.row_invariant {
            topofit::topofit_f32(z, Baselines::Shared(ArrayView1::from(&s.bperp_mat[..m])), ntw, threads)
        } else {
            let bv = ArrayView2::from_shape((n, m), &s.bperp_mat).map_err(|e| e.to_string())?;
            topofit::topofit_f32(z, Baselines::PerPixel(bv), ntw, threads)
        };
        return Ok((rows, k, c, g, r));
    }
    let zr: Vec<Complex32> = rows.iter().flat_map(|&p| d[p * m..(p + 1) * m].iter().copied()).collect();
    let z = ArrayView2::from_shape((nr, m), &zr).map_err(|e| e.to_string())?;
    let (k, c, g, r) = if s.row_invariant {
        topofit::topofit_f32(z, Baselines::Shared(ArrayView1::from(&s.bperp_mat[..m])), ntw, threads)
    } else {
        let b: Vec<f32> = rows.iter().flat_map(|&p| s.bperp_mat[p * m..(p + 1) * m].iter().copied()).collect();
        let bv = ArrayView2::from_shape((nr, m), &b).map_err(|e| e.to_string())?;
        topofit::topofit_f32(z, Baselines::PerPixel(bv), ntw, threads)
    };
    Ok((rows, k, c, g, r))
}

/// Stage 2 of one patch: returns the `pm1` variables (StaMPS names, MATLAB shapes, column-major)
/// in the python stage's order. `threads`: kernel threads (0 = the CPU budget); `log` gets the
/// python stage's lines (set-up line, one line per iteration).
///
/// `ph_grid` is 3-D in MATLAB (n_i x n_j x M); a [`MatArray`] is 2-D, so it is stored as
/// n_i x (n_j M) with the same column-major element order (see [`ph_grid_dims`]).
pub fn run(inp: &GammaInputs, p: &GammaParams, threads: usize, log: &mut dyn FnMut(&str)) -> Result<Artifact, String> {
    let s = setup(inp, p)?;
    let ntw_txt = match s.ntw {
        TrialWraps::Single(v) => format!("{:.4}", v as f64),
        TrialWraps::Double(v) => format!("{v:.4}"),
    };
    log(&format!("gamma: {} candidates, {} ifgs, grid {} x {}, n_trial_wraps {ntw_txt}", s.n, s.m, s.n_i, s.n_j));
    let (mut nr, nr_max_nz_ix) = weights::random_phase_reference(&s.bperp, s.ntw.value(), threads);

    let (n, m) = (s.n, s.m);
    let mut k = vec![0f64; n];
    let mut c = vec![0f64; n];
    let mut coh = vec![0f64; n];
    let mut n_opt = vec![0f64; n];
    let mut ph_res = vec![0f32; n * m];
    let mut w = s.weights0.clone();
    let mut coh_save = vec![0f64; n];
    let mut change_save = 0.0f64;
    let mut i_loop: i64 = 1;
    let (ph_weight, ph_grid, ph_patch) = loop {
        let (ph_weight, ph_grid, ph_patch) = patch_phase(&s, &k, &w, threads)?;
        let (rows, k_r, c_r, coh_r, res_r) = fit(&s, &ph_patch, threads)?;
        let mut good = vec![false; n];
        for &r in &rows {
            good[r] = true;
        }
        for q in 0..n {
            if !good[q] {
                k[q] = f64::NAN;
                coh[q] = 0.0;
            }
        }
        for (t, &q) in rows.iter().enumerate() {
            k[q] = k_r[t];
            c[q] = c_r[t];
            coh[q] = coh_r[t];
            ph_res[q * m..(q + 1) * m].iter_mut().zip(res_r.row(t)).for_each(|(o, &v)| *o = v);
            n_opt[q] = 1.0;
        }
        let sq: Vec<f64> = coh.iter().zip(&coh_save).map(|(a, b)| (a - b) * (a - b)).collect();
        let change = (pairwise_sum_f64(&sq) / n as f64).sqrt();
        let change_change = change - change_save;
        change_save = change;
        coh_save.copy_from_slice(&coh);
        log(&format!("gamma: iteration {i_loop}, rms change {change:.6}, change of change {change_change:.6}"));
        if change_change.abs() < s.conv || i_loop >= s.max_it {
            break (ph_weight, ph_grid, ph_patch);
        }
        i_loop += 1;
        if s.psquare {
            let (wn, nrn) = weights::psquare_weights(&coh, &nr, nr_max_nz_ix, threads)?;
            w = wn;
            nr = nrn;
        } else {
            w = weights::snr_weights(&s.amp, &ph_res, n, m);
        }
    };

    let (n_i, n_j) = (s.n_i, s.n_j);
    // column-major (n_i, n_j, M): index i + n_i (j + n_j k)
    let mut grid_f = Vec::with_capacity(n_i * n_j * m);
    for kk in 0..m {
        for j in 0..n_j {
            for i in 0..n_i {
                grid_f.push(ph_grid[[i, j, kk]]);
            }
        }
    }
    let lp = &s.low_pass;
    let lp_f: Vec<f64> = (0..lp.ncols()).flat_map(|j| (0..lp.nrows()).map(move |i| lp[[i, j]])).collect();
    let ntw_arr = match s.ntw {
        TrialWraps::Single(v) => MatArray::new(1, 1, MatData::F32(vec![v])),
        TrialWraps::Double(v) => MatArray::scalar(v),
    };
    let out: Artifact = vec![
        ("ph_patch".into(), MatArray::new(n, m, MatData::C64(to_f_order(&ph_patch, n, m)))),
        ("K_ps".into(), col_f64(&k)),
        ("C_ps".into(), col_f64(&c)),
        ("coh_ps".into(), col_f64(&coh)),
        ("N_opt".into(), col_f64(&n_opt)),
        ("ph_res".into(), MatArray::new(n, m, MatData::F32(to_f_order(&ph_res, n, m)))),
        ("step_number".into(), MatArray::scalar(1.0)),
        ("ph_grid".into(), MatArray::new(n_i, n_j * m, MatData::C64(grid_f))),
        ("n_trial_wraps".into(), ntw_arr),
        ("grid_ij".into(), MatArray::new(n, 2, MatData::F32(to_f_order(&s.grid_ij, n, 2)))),
        ("grid_size".into(), MatArray::scalar(s.grid_size)),
        ("low_pass".into(), MatArray::new(lp.nrows(), lp.ncols(), MatData::F64(lp_f))),
        ("i_loop".into(), MatArray::scalar(i_loop as f64)),
        ("ph_weight".into(), MatArray::new(n, m, MatData::C64(to_f_order(&ph_weight, n, m)))),
        ("Nr".into(), row_f64(&nr)),
        ("Nr_max_nz_ix".into(), MatArray::scalar(nr_max_nz_ix as f64)),
        ("coh_bins".into(), row_f64(&weights::coh_bins())),
        ("coh_ps_save".into(), col_f64(&coh_save)),
        ("gamma_change_save".into(), MatArray::scalar(change_save)),
    ];
    Ok(out)
}

/// MATLAB dimensions (n_i, n_j, M) of `ph_grid` in a `pm1` artifact from [`run`]
/// (M = columns of `ph_weight`).
pub fn ph_grid_dims(pm1: &Artifact) -> Option<(usize, usize, usize)> {
    let g = var(pm1, "ph_grid", "pm1").ok()?;
    let m = var(pm1, "ph_weight", "pm1").ok()?.cols;
    if m == 0 || g.cols % m != 0 {
        return None;
    }
    Some((g.rows, g.cols / m, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_indices_merge_the_last_cell() {
        // x = 0, 60, 130; y = 0, 0, 40 (m), 50 m cells
        let xy = [0.0, 0.0, 0.0, 1.0, 60.0, 0.0, 2.0, 130.0, 40.0];
        let g = grid_indices(&xy, 3, 50.0);
        // rows (y): ceil((0 + 1e-6)/50) = 1, 1, ceil(40/50) = 1 -> all max -> 0
        assert_eq!([g[0], g[2], g[4]], [0.0, 0.0, 0.0]);
        // columns (x): 1, 2, 3 -> last merged into 2
        assert_eq!([g[1], g[3], g[5]], [1.0, 2.0, 2.0]);
    }

    #[test]
    fn python_round_and_trial_wraps() {
        assert_eq!(round_half_even(22.5), 22);
        assert_eq!(round_half_even(24.0), 24);
        assert_eq!(round_half_even(6.5), 6);
        let b = [-100.0, 0.0, 250.0];
        let TrialWraps::Double(t) = trial_wraps(&b, false, 20.0, 0.056, 0.4) else { panic!() };
        let k_max = 20.0 / (0.056 * RHO * 0.4f64.sin() / (4.0 * std::f64::consts::PI));
        assert_eq!(t, 350.0 * k_max / (2.0 * std::f64::consts::PI));
        assert!(matches!(trial_wraps(&b, true, 20.0, 0.056, 0.4), TrialWraps::Single(_)));
    }

    #[test]
    fn division_by_a_real_is_numpys_reciprocal_product() {
        let z = Complex32::new(0.3, -0.7);
        let d = 0.76157731f32;
        let q = cdiv_real(z, d);
        assert_eq!(q, Complex32::new(0.3 * (1.0 / d), -0.7 * (1.0 / d)));
    }

    #[test]
    fn elision_threshold() {
        assert!(!elided(32767));
        assert!(elided(32768));
    }

    fn artifact(vars: Vec<(&str, MatArray)>) -> Artifact {
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }

    /// A small coherent patch: every pixel sees the same phase screen, so gamma is high,
    /// K is ~0 and the iteration stops by its rules; checks shapes and the error paths.
    #[test]
    fn coherent_patch_and_errors() {
        let (side, m_all) = (40usize, 16usize);
        let n = side * side;
        let mut xy = vec![0f64; n * 3];
        let mut ph = vec![Complex32::new(0.0, 0.0); n * m_all];
        for p in 0..n {
            let (x, y) = ((p % side) as f64 * 50.0, (p / side) as f64 * 50.0);
            // column-major n x 3
            xy[p] = p as f64;
            xy[n + p] = x;
            xy[2 * n + p] = y;
            // every third pixel is noise (an LCG's phases), the others see one smooth screen
            let mut st = (p as u64).wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            for k in 0..m_all {
                st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let noise = (st >> 40) as f32 / (1u64 << 24) as f32 * 6.283;
                let a = if p % 3 == 0 { noise } else { 0.3 * k as f32 + 1e-4 * x as f32 };
                ph[k * n + p] = Complex32::new(a.cos(), a.sin());
            }
        }
        let bperp: Vec<f64> = (0..m_all).map(|k| k as f64 * 50.0 - 400.0).collect();
        let m = m_all - 1;
        let mut bmat = Vec::with_capacity(n * m);
        for k in (0..m_all).filter(|&k| k != 2) {
            bmat.extend(std::iter::repeat(bperp[k] as f32).take(n));
        }
        let inp = GammaInputs {
            ps1: artifact(vec![
                ("xy", MatArray::new(n, 3, MatData::F64(xy))),
                ("bperp", MatArray::column(MatData::F64(bperp))),
                ("master_ix", MatArray::scalar(3.0)),
            ]),
            ph1: artifact(vec![("ph", MatArray::new(n, m_all, MatData::C64(ph)))]),
            bp1: artifact(vec![("bperp_mat", MatArray::new(n, m, MatData::F32(bmat)))]),
            ..Default::default()
        };
        let p = GammaParams { lambda: 0.0556, clap_win: 32, ..Default::default() };
        let mut lines = Vec::new();
        let out = run(&inp, &p, 2, &mut |l: &str| lines.push(l.to_string())).expect("stage 2 runs");
        assert!(lines[0].starts_with(&format!("gamma: {n} candidates, {m} ifgs, grid 38 x 38")), "{}", lines[0]);
        let i_loop = match &var(&out, "i_loop", "pm1").unwrap().data {
            MatData::F64(v) => v[0],
            _ => panic!(),
        };
        assert_eq!(lines.len(), 1 + i_loop as usize);
        assert_eq!(ph_grid_dims(&out), Some((38, 38, m)));
        let coh = match &var(&out, "coh_ps", "pm1").unwrap().data {
            MatData::F64(v) => v.clone(),
            _ => panic!(),
        };
        let mean = |r: usize| {
            let v: Vec<f64> = (0..n).filter(|p| (p % 3 == 0) == (r == 0)).map(|p| coh[p]).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        assert!(mean(1) > 0.9 && mean(0) < 0.7, "mean coherence {} / {}: {lines:?}", mean(1), mean(0));
        let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names[0], "ph_patch");
        assert_eq!(names.len(), 19);

        let mut bad = inp.clone();
        bad.ps1[2].1 = MatArray::scalar(99.0);
        let e = run(&bad, &p, 1, &mut |_: &str| {}).err().unwrap_or_default();
        assert!(e.contains("master_ix = 99"), "{e}");
        let e = run(&inp, &GammaParams::default(), 1, &mut |_: &str| {}).err().unwrap_or_default();
        assert!(e.contains("lambda"), "{e}");
        let small = GammaParams { filter_grid_size: 200.0, ..p };
        let e = run(&inp, &small, 1, &mut |_: &str| {}).err().unwrap_or_default();
        assert!(e.contains("CLAP needs at least 24 x 24"), "{e}");
    }
}
