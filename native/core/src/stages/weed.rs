//! Stage 4, `ps_weed` (spec C.4, J.12, K.6), single master, `all_da_flag = 0`: the Rust twin
//! of `pystamps_batch/stages/weed.py::run`, using the same arc-noise kernel as the Python
//! stage's native backend (`weed_noise::edge_stats`).
//!
//! From the pixels kept by step 3, S = `select1.ix(keep_ix)`:
//! 1. adjacent weeding (`weed_neighbours`): each group of linked neighbours keeps its
//!    highest-γ2 pixel;
//! 2. zero elevation (`weed_zero_elevation`, needs hgt1): drop hgt < 1e-6;
//! 3. duplicates: identical (x, y) keep the highest γ2;
//! 4. noise weeding (unless both thresholds are >= pi): Delaunay arcs of the survivors,
//!    arc noise per arc, per-pixel minimum over its arcs, keep `ps_std < weed_standard_dev`
//!    and `ps_max < weed_max_noise`.
//!
//! Returns weed1 and the version-2 set (ps2, ph2, pm2, bp2, la2, hgt2 and inc2 when inc1
//! is given) in the Python stage's order, names, shapes and dtypes.

#[path = "weed_graph.rs"]
pub mod graph;

use self::graph::{best_per_group, delaunay_edges, duplicate_groups, neighbour_groups};
use super::arrays::{Artifact, MatArray, MatData, StageOutputs};
use super::select::mat::{col_u8, empty, row_f64, scalar, take_rows, to_bool, to_c64, to_f64};
use super::params::ParamMap;
use super::select::{artifact_var, unit_phasor, Artifacts};
use ndarray::parallel::prelude::*;
use ndarray::{Array2, ArrayView2, Axis};
use num_complex::{Complex32, Complex64};

/// The arrays `ps_weed` reads, as stored (dtypes are kept in the outputs).
#[derive(Debug, Clone)]
pub struct WeedInputs {
    /// every ps1 variable, in file order (ps2 copies them; n_ps, n_ifg, master_ix, ij, xy,
    /// bperp and day are read)
    pub ps1: Artifact,
    /// select1: ix, keep_ix, K_ps2, C_ps2, coh_ps2, ph_res2 are read
    pub select1: Artifact,
    /// ph1.ph (n x N)
    pub ph: MatArray,
    /// pm1.ph_patch (n x M)
    pub ph_patch: MatArray,
    /// bp1.bperp_mat (n x M)
    pub bperp_mat: MatArray,
    /// hgt1.hgt, la1.la, inc1.inc (n x 1) when the files exist
    pub hgt: Option<MatArray>,
    pub la: Option<MatArray>,
    pub inc: Option<MatArray>,
}

impl WeedInputs {
    /// The inputs from the artifacts `ps1`, `select1`, `ph1`, `pm1`, `bp1` and, when
    /// present, `hgt1`, `la1`, `inc1` (as read from the patch's .mat files).
    pub fn from_artifacts(arts: &Artifacts) -> Result<Self, String> {
        let whole = |a: &str| arts.get(a).cloned().ok_or_else(|| format!("input artifact {a} is missing"));
        let one = |a: &str, n: &str| artifact_var(arts, a, n).cloned();
        let opt = |a: &str, n: &str| if arts.contains_key(a) { one(a, n).map(Some) } else { Ok(None) };
        Ok(WeedInputs {
            ps1: whole("ps1")?,
            select1: whole("select1")?,
            ph: one("ph1", "ph")?,
            ph_patch: one("pm1", "ph_patch")?,
            bperp_mat: one("bp1", "bperp_mat")?,
            hgt: opt("hgt1", "hgt")?,
            la: opt("la1", "la")?,
            inc: opt("inc1", "inc")?,
        })
    }
}

/// The parameters `ps_weed` uses.
#[derive(Debug, Clone)]
pub struct WeedParams {
    pub weed_neighbours: bool,
    pub weed_zero_elevation: bool,
    pub weed_standard_dev: f64,
    pub weed_max_noise: f64,
    pub weed_time_win: f64,
    pub drop_ifg_index: Vec<i64>,
}

impl WeedParams {
    pub fn from_map(p: &ParamMap) -> Result<Self, String> {
        Ok(WeedParams {
            weed_neighbours: p.flag("weed_neighbours")?,
            weed_zero_elevation: p.flag("weed_zero_elevation")?,
            weed_standard_dev: p.float("weed_standard_dev")?,
            weed_max_noise: p.float("weed_max_noise")?,
            weed_time_win: p.float("weed_time_win")?,
            drop_ifg_index: p.index_list("drop_ifg_index")?,
        })
    }
}

fn get<'a>(art: &'a Artifact, name: &str, what: &str) -> Result<&'a MatArray, String> {
    art.iter().find(|(k, _)| k == name).map(|(_, v)| v).ok_or_else(|| format!("{what}.{name} is missing"))
}

/// 0-based columns of setdiff(1..N, drop_ifg_index) (master included).
pub fn used_ifgs(n_ifg: usize, drop: &[i64]) -> Vec<usize> {
    (0..n_ifg).filter(|&k| !drop.contains(&(k as i64 + 1))).collect()
}

/// NumPy's complex128 product (FMA form, as [`crate::num::cmul32`] for complex64).
#[inline]
fn cmul64(a: Complex64, b: Complex64) -> Complex64 {
    Complex64::new(a.re.mul_add(b.re, -(a.im * b.im)), a.re.mul_add(b.im, a.im * b.re))
}

/// Unit phasors (n x N complex64) of the pixels' phases `ph` (n x N) with K removed by the
/// mean baselines and the master column set to exp(iC), evaluated as `weed.noise_phasors`
/// does in NumPy: complex128 `ph * exp(-1j K bperp)` rounded to complex64, then `v / |v|`
/// in complex64.  Rows in parallel (`threads`, 0 = the CPU budget).
pub fn noise_phasors(
    ph: ArrayView2<Complex32>,
    k: &[f64],
    c: &[f64],
    bperp: &[f64],
    master0: usize,
    threads: usize,
) -> Array2<Complex32> {
    let n_ifg = bperp.len();
    let mut v = Array2::<Complex32>::zeros((ph.nrows(), n_ifg));
    crate::pool::install(threads, || {
        v.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(r, mut row)| {
            for j in 0..n_ifg {
                let (s, co) = (-(k[r] * bperp[j])).sin_cos();
                let z = ph[[r, j]];
                let w = cmul64(Complex64::new(z.re as f64, z.im as f64), Complex64::new(co, s));
                row[j] = unit_phasor(Complex32::new(w.re as f32, w.im as f32));
            }
            let (s, co) = c[r].sin_cos();
            row[master0] = Complex32::new(co as f32, s as f32);
        })
    });
    v
}

/// Per pixel minimum of `values` over its edges (NumPy `minimum.at`: NaN propagates), Inf
/// for a pixel without edges.
pub fn pixel_min_over_edges(n: usize, edges: &[[usize; 2]], values: &[f32]) -> Vec<f32> {
    let mut out = vec![f32::INFINITY; n];
    let m = |a: f32, b: f32| if a.is_nan() || b.is_nan() { f32::NAN } else { a.min(b) };
    for (e, &v) in edges.iter().zip(values) {
        out[e[0]] = m(out[e[0]], v);
        out[e[1]] = m(out[e[1]], v);
    }
    out
}

/// ps_weed: `[("weed1", ..), ("ps2", ..), ("ph2", ..), ("pm2", ..), ("bp2", ..), ("la2", ..),
/// ("hgt2", ..)(, ("inc2", ..))]`.
///
/// `threads` sizes the kernels' rayon pool (0 = the process's CPU budget); `log` receives
/// the Python stage's log lines.
pub fn run(inp: &WeedInputs, params: &ParamMap, threads: usize, log: &dyn Fn(&str)) -> Result<StageOutputs, String> {
    let p = WeedParams::from_map(params)?;
    let ps1 = &inp.ps1;
    let sel = &inp.select1;
    let n_cand = scalar(get(ps1, "n_ps", "ps1")?, "ps1.n_ps")? as i64;
    let ix: Vec<i64> = to_f64(get(sel, "ix", "select1")?, "select1.ix")?.iter().map(|&v| v as i64 - 1).collect();
    let keep_ix = to_bool(get(sel, "keep_ix", "select1")?, "select1.keep_ix")?;
    if ix.len() != keep_ix.len() {
        return Err(format!("select1: ix has {} rows but keep_ix {}", ix.len(), keep_ix.len()));
    }
    if ix.iter().any(|&i| i < 0 || i >= n_cand) {
        return Err(format!("select1.ix outside 1..{n_cand} (ps1.n_ps)"));
    }
    let kw_all: Vec<usize> = (0..ix.len()).filter(|&r| keep_ix[r]).collect();
    let s_idx: Vec<usize> = kw_all.iter().map(|&r| ix[r] as usize).collect();
    let n1 = s_idx.len();
    let pick = |name: &str| -> Result<Vec<f64>, String> {
        let v = to_f64(get(sel, name, "select1")?, name)?;
        if v.len() != ix.len() {
            return Err(format!("select1.{name} has {} values, ix {}", v.len(), ix.len()));
        }
        Ok(kw_all.iter().map(|&r| v[r]).collect())
    };
    let (k2, c2, coh2) = (pick("K_ps2")?, pick("C_ps2")?, pick("coh_ps2")?);
    let n_ifg = scalar(get(ps1, "n_ifg", "ps1")?, "ps1.n_ifg")? as usize;
    let master0 = (scalar(get(ps1, "master_ix", "ps1")?, "ps1.master_ix")? as i64 - 1) as usize;
    let bperp = to_f64(get(ps1, "bperp", "ps1")?, "ps1.bperp")?;
    let day = to_f64(get(ps1, "day", "ps1")?, "ps1.day")?;
    if bperp.len() != n_ifg || day.len() != n_ifg || master0 >= n_ifg {
        return Err(format!(
            "ps1: bperp ({}) and day ({}) must have n_ifg = {n_ifg} values, master_ix within them",
            bperp.len(),
            day.len()
        ));
    }
    let ij = get(ps1, "ij", "ps1")?;
    let xy = get(ps1, "xy", "ps1")?;
    for (name, a) in [("ij", ij), ("xy", xy)] {
        if a.rows != n_cand as usize || a.cols < 3 {
            return Err(format!("ps1.{name} is {} x {}, expected {n_cand} x 3", a.rows, a.cols));
        }
    }
    let (ijv, xyv) = (to_f64(ij, "ps1.ij")?, to_f64(xy, "ps1.xy")?);
    let nr = n_cand as usize;
    let col = |v: &[f64], c: usize| -> Vec<f64> { s_idx.iter().map(|&q| v[c * nr + q]).collect() };

    let mut ix_weed = vec![true; n1];
    // 1. adjacent pixels
    if p.weed_neighbours {
        let az: Vec<i64> = col(&ijv, 1).iter().map(|&v| v as i64).collect();
        let rg: Vec<i64> = col(&ijv, 2).iter().map(|&v| v as i64).collect();
        let best = best_per_group(&neighbour_groups(&az, &rg), &coh2);
        ix_weed.iter_mut().zip(&best).for_each(|(w, &b)| *w &= b);
        log(&format!("ps_weed: {} adjacent pixels weeded", n1 - ix_weed.iter().filter(|&&w| w).count()));
    }
    // 2. zero elevation
    if p.weed_zero_elevation {
        match &inp.hgt {
            None => log("ps_weed: weed_zero_elevation='y' but no hgt1: zero-elevation weeding skipped"),
            Some(h) => {
                let hv = to_f64(h, "hgt1.hgt")?;
                // NumPy compares a float32 array with the Python float 1e-6 in float32
                let zero: Vec<bool> = s_idx
                    .iter()
                    .map(|&q| if matches!(h.data, MatData::F32(_)) { (hv[q] as f32) < 1e-6f32 } else { hv[q] < 1e-6 })
                    .collect();
                let n_zero = ix_weed.iter().zip(&zero).filter(|(&w, &z)| w && z).count();
                log(&format!("ps_weed: {n_zero} zero-elevation pixels weeded"));
                ix_weed.iter_mut().zip(&zero).for_each(|(w, &z)| *w &= !z);
            }
        }
    }
    // 3. duplicates on xy
    let (xs, ys) = (col(&xyv, 1), col(&xyv, 2));
    let surv: Vec<usize> = (0..n1).filter(|&i| ix_weed[i]).collect();
    if !surv.is_empty() {
        let sx: Vec<f64> = surv.iter().map(|&i| xs[i]).collect();
        let sy: Vec<f64> = surv.iter().map(|&i| ys[i]).collect();
        let sc: Vec<f64> = surv.iter().map(|&i| coh2[i]).collect();
        let best = best_per_group(&duplicate_groups(&sx, &sy), &sc);
        let n_dup = best.iter().filter(|&&b| !b).count();
        for (j, &i) in surv.iter().enumerate() {
            if !best[j] {
                ix_weed[i] = false;
            }
        }
        if n_dup > 0 {
            log(&format!("ps_weed: {n_dup} pixels with duplicate xy weeded"));
        }
    }
    // 4. noise
    let surv: Vec<usize> = (0..n1).filter(|&i| ix_weed[i]).collect();
    let use_ = used_ifgs(n_ifg, &p.drop_ifg_index);
    let (ix_weed2, ps_std, ps_max);
    if p.weed_standard_dev >= std::f64::consts::PI && p.weed_max_noise >= std::f64::consts::PI {
        ix_weed2 = vec![true; surv.len()];
        ps_std = Vec::new();
        ps_max = Vec::new();
    } else {
        let sx: Vec<f64> = surv.iter().map(|&i| xs[i]).collect();
        let sy: Vec<f64> = surv.iter().map(|&i| ys[i]).collect();
        let (edges, note) = delaunay_edges(&sx, &sy)?;
        if !note.is_empty() {
            log(&format!("ps_weed: {note}"));
        }
        if (inp.ph.rows, inp.ph.cols) != (nr, n_ifg) {
            return Err(format!("ph1.ph is {} x {}, expected {nr} x {n_ifg}", inp.ph.rows, inp.ph.cols));
        }
        let rows: Vec<usize> = surv.iter().map(|&i| s_idx[i]).collect();
        let ph = to_c64(&take_rows(&inp.ph, &rows, "ph1.ph")?, "ph1.ph")?;
        let ks: Vec<f64> = surv.iter().map(|&i| k2[i]).collect();
        let cs: Vec<f64> = surv.iter().map(|&i| c2[i]).collect();
        let v = noise_phasors(ph.view(), &ks, &cs, &bperp, master0, threads);
        let vu = v.select(ndarray::Axis(1), &use_);
        let e = Array2::from_shape_fn((edges.len(), 2), |(r, c)| edges[r][c] as i64);
        let du: Vec<f64> = use_.iter().map(|&k| day[k]).collect();
        let bu: Vec<f64> = use_.iter().map(|&k| bperp[k]).collect();
        let (e_std, e_max) = crate::weed_noise::edge_stats(
            vu.view(),
            e.view(),
            ndarray::ArrayView1::from(&du),
            ndarray::ArrayView1::from(&bu),
            p.weed_time_win,
            threads,
        )?;
        ps_std = pixel_min_over_edges(surv.len(), &edges, &e_std);
        ps_max = pixel_min_over_edges(surv.len(), &edges, &e_max);
        ix_weed2 = ps_std
            .iter()
            .zip(&ps_max)
            .map(|(&s, &m)| (s as f64) < p.weed_standard_dev && (m as f64) < p.weed_max_noise)
            .collect::<Vec<bool>>();
        for (j, &i) in surv.iter().enumerate() {
            ix_weed[i] = ix_weed2[j];
        }
        log(&format!(
            "ps_weed: {} noisy pixels weeded, {} of {n1} left",
            ix_weed2.iter().filter(|&&w| !w).count(),
            ix_weed.iter().filter(|&&w| w).count()
        ));
    }
    if n1 > 0 && !ix_weed.iter().any(|&w| w) {
        log("ps_weed: no PS left after weeding");
    }
    outputs(inp, &s_idx, &kw_all, &ix_weed, &ix_weed2, ps_std, ps_max, &use_)
}

/// weed1 and the version-2 files (C.4 steps 5-6) for the final set S[ix_weed].
#[allow(clippy::too_many_arguments)]
fn outputs(
    inp: &WeedInputs,
    s_idx: &[usize],
    kw_all: &[usize],
    ix_weed: &[bool],
    ix_weed2: &[bool],
    ps_std: Vec<f32>,
    ps_max: Vec<f32>,
    use_: &[usize],
) -> Result<StageOutputs, String> {
    let f: Vec<usize> = s_idx.iter().zip(ix_weed).filter(|(_, &w)| w).map(|(&q, _)| q).collect();
    let kw: Vec<usize> = kw_all.iter().zip(ix_weed).filter(|(_, &w)| w).map(|(&r, _)| r).collect();
    let weed1: Artifact = vec![
        ("ix_weed".into(), col_u8(ix_weed)),
        ("ix_weed2".into(), col_u8(ix_weed2)),
        ("ps_std".into(), MatArray::column(MatData::F32(ps_std))),
        ("ps_max".into(), MatArray::column(MatData::F32(ps_max))),
        ("ifg_index".into(), row_f64(use_.iter().map(|&k| (k + 1) as f64).collect())),
    ];
    let mut names: Vec<&String> = inp.ps1.iter().map(|(k, _)| k).collect();
    names.sort();
    let mut ps2: Artifact = Vec::new();
    for k in names {
        let v = get(&inp.ps1, k, "ps1")?;
        let out = match k.as_str() {
            "sort_ix" | "ph" => continue,
            "ij" | "lonlat" | "xy" => take_rows(v, &f, &format!("ps1.{k}"))?,
            "n_ps" => MatArray::scalar(f.len() as f64),
            _ => v.clone(),
        };
        ps2.push((k.clone(), out));
    }
    let sel = &inp.select1;
    let mut out: StageOutputs = vec![
        ("weed1".into(), weed1),
        ("ps2".into(), ps2),
        ("ph2".into(), vec![("ph".into(), take_rows(&inp.ph, &f, "ph1.ph")?)]),
        (
            "pm2".into(),
            vec![
                ("ph_patch".into(), take_rows(&inp.ph_patch, &f, "pm1.ph_patch")?),
                ("ph_res".into(), take_rows(get(sel, "ph_res2", "select1")?, &kw, "select1.ph_res2")?),
                ("coh_ps".into(), take_rows(get(sel, "coh_ps2", "select1")?, &kw, "select1.coh_ps2")?),
                ("K_ps".into(), take_rows(get(sel, "K_ps2", "select1")?, &kw, "select1.K_ps2")?),
                ("C_ps".into(), take_rows(get(sel, "C_ps2", "select1")?, &kw, "select1.C_ps2")?),
            ],
        ),
        ("bp2".into(), vec![("bperp_mat".into(), take_rows(&inp.bperp_mat, &f, "bp1.bperp_mat")?)]),
    ];
    for (src, dst, var) in [(&inp.la, "la2", "la"), (&inp.hgt, "hgt2", "hgt"), (&inp.inc, "inc2", "inc")] {
        match src {
            Some(a) => out.push((dst.into(), vec![(var.into(), take_rows(a, &f, var)?)])),
            None if dst != "inc2" => out.push((dst.into(), vec![(var.into(), empty())])),
            None => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn used_ifgs_and_min_over_edges() {
        assert_eq!(used_ifgs(5, &[2, 5]), vec![0, 2, 3]);
        let m = pixel_min_over_edges(4, &[[0, 1], [1, 2]], &[0.5, f32::NAN]);
        assert_eq!(m[0], 0.5);
        assert!(m[1].is_nan() && m[2].is_nan());
        assert_eq!(m[3], f32::INFINITY);
    }

    #[test]
    fn select_then_weed_on_a_synthetic_patch() {
        use crate::stages::select::{
            self,
            tests::{defaults, synthetic},
            SelectInputs,
        };
        let mut arts = synthetic(80, 40, 40);
        let sel = select::run(&SelectInputs::from_artifacts(&arts).unwrap(), &defaults(), 1, &|_| {}).unwrap();
        arts.insert("select1".into(), sel);
        let inp = WeedInputs::from_artifacts(&arts).unwrap();
        for (std_thr, nb) in [(1.0, "n"), (4.0, "y"), (10.0, "n")] {
            let p = defaults()
                .with("weed_standard_dev", crate::stages::params::ParamValue::Float(std_thr))
                .with("weed_neighbours", crate::stages::params::ParamValue::Text(nb.into()));
            let out = run(&inp, &p, 2, &|_| {}).unwrap();
            let names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["weed1", "ps2", "ph2", "pm2", "bp2", "la2", "hgt2"]);
            let w = &out[0].1;
            let MatData::U8(ix_weed) = &w[0].1.data else { panic!() };
            let n_final = ix_weed.iter().filter(|&&v| v == 1).count();
            let ph2 = &out[2].1[0].1;
            assert_eq!((ph2.rows, ph2.cols), (n_final, 8));
            let ps2_n = out[1].1.iter().find(|(k, _)| k == "n_ps").unwrap();
            assert_eq!(ps2_n.1, MatArray::scalar(n_final as f64));
            // ps_std is the per-pixel minimum over Delaunay arcs: finite for every survivor
            let MatData::F32(ps_std) = &w[2].1.data else { panic!() };
            if std_thr < std::f64::consts::PI {
                assert!(!ps_std.is_empty() && ps_std.iter().all(|v| v.is_finite()));
            } else {
                assert!(ps_std.is_empty() && n_final > 0);
            }
        }
    }
}
