//! Stage 8, `ps_scn_filt` plus the velocity products, as `pystamps_batch/stages/scn.py`
//! and `pystamps_batch/products.py` (read them for the algorithm and the documented
//! deviations from StaMPS).
//!
//! Inputs: `ps2`, `phuw2`, optionally `scla2` and `ifgstd2` (merged root).  Outputs:
//! `scn2` (`ph_scn_slave` n x N f64, `ph_hpt` n x N_U f32, `ph_ramp` n x #deramped f64),
//! `mean_v` (`m` 2 x n f32) and `ps_plot_v-d`, `ps_plot_v-do`, `ps_plot_v-dso`
//! (`ph_disp` n x 1 f32 mm/yr, `ifg_list` 1).  The arc high-pass is the kernel
//! [`crate::scn::edge_highpass`] (the one the Python driver calls with native kernels).
//!
//! Parity with the Python stage (not bit-equal): the arc integration is solved by a
//! sparse Cholesky factorisation here and a sparse LU there, the low-pass sums its f64 terms in
//! another order, the planar and velocity ramps use a Householder QR instead of LAPACK's
//! SVD, and the velocity fit's f32 dot products run sequentially instead of in BLAS.
//! Measured differences are at the f32 rounding level (see tests/test_native_stage78.py).

#[path = "scn_chol.rs"]
pub mod chol;
#[path = "scn_graph.rs"]
pub mod graph;
#[path = "scn_velocity.rs"]
pub mod velocity;

use crate::stages::scla::reference::{delaunay_edges, deramp_plane, mat_f64, master_index, used_ifgs, var};
use crate::stages::arrays::{Artifact, MatArray, MatData, StageOutputs};
use crate::stages::select::mat::{mat_f32, to_f32_2d, to_f64};
use crate::stages::params::{ParamMap, ParamValue};
use ndarray::{Array1, Array2};

/// The artifacts stage 8 reads.
pub struct ScnInputs {
    pub ps2: Artifact,
    pub phuw2: Artifact,
    pub scla2: Option<Artifact>,
    pub ifgstd2: Option<Artifact>,
}

/// Step 1: `ph_uw[:, U]` minus the scla2 terms (f32), NaN -> 0.
fn corrected_phase(phuw2: &Artifact, scla2: Option<&Artifact>, u: &[usize]) -> Result<Array2<f32>, String> {
    let ph = to_f32_2d(var(phuw2, "ph_uw", "phuw2")?, "phuw2.ph_uw")?;
    let n = ph.nrows();
    let mut psi = Array2::from_shape_fn((n, u.len()), |(i, j)| ph[[i, u[j]]]);
    if let Some(s) = scla2 {
        let sp = to_f32_2d(var(s, "ph_scla", "scla2")?, "scla2.ph_scla")?;
        if sp.nrows() != n {
            return Err(format!("step 8: scla2 has {} rows, phuw2 has {n} (stale scla2.mat: re-run step 7)", sp.nrows()));
        }
        let c = to_f32_2d(var(s, "C_ps_uw", "scla2")?, "scla2.C_ps_uw")?;
        let ramp = var(s, "ph_ramp", "scla2")?;
        let ramp = if ramp.data.is_empty() { None } else { Some(to_f32_2d(ramp, "scla2.ph_ramp")?) };
        for i in 0..n {
            for (j, &k) in u.iter().enumerate() {
                let mut v = psi[[i, j]] - sp[[i, k]];
                v -= c[[i, 0]];
                if let Some(r) = &ramp {
                    v -= r[[i, k]];
                }
                psi[[i, j]] = v;
            }
        }
    }
    psi.mapv_inplace(|v| if v.is_nan() { 0.0 } else { v });
    Ok(psi)
}

/// `ps_scn_filt`: the `scn2` variables plus `ph_scn_slave` as an array (for the products).
pub fn scn_filter(inp: &ScnInputs, p: &ParamMap, threads: usize) -> Result<(Artifact, Array2<f64>), String> {
    let ps = &inp.ps2;
    let phv = var(&inp.phuw2, "ph_uw", "phuw2")?;
    let (n, nn) = (phv.rows, phv.cols);
    let m = master_index(ps)?;
    let u = used_ifgs(nn, p, None)?;
    let day = to_f64(var(ps, "day", "ps2")?, "ps2.day")?;
    if day.len() != nn {
        return Err(format!("step 8: ps2.day has {} dates for {nn} images", day.len()));
    }
    let xy = var(ps, "xy", "ps2")?;
    let mut psi = corrected_phase(&inp.phuw2, inp.scla2.as_ref(), &u)?;
    let edges = delaunay_edges(xy)?;
    let dcols: Vec<usize> = match p.0.get("scn_deramp_ifg") {
        Some(ParamValue::Text(s)) if s.trim().eq_ignore_ascii_case("all") => (0..u.len()).collect(),
        _ => {
            let want = p.index_list("scn_deramp_ifg")?;
            u.iter().enumerate().filter(|(_, &k)| want.contains(&(k as i64 + 1))).map(|(j, _)| j).collect()
        }
    };
    let ramps = deramp_plane(xy, &mut psi, &dcols)?;
    let mpos = if m < u.len() { Some(m) } else { u.iter().position(|&k| k == m) };
    let e = Array2::from_shape_fn((edges.len(), 2), |(i, j)| edges[i][j] as i64);
    let du = Array1::from_iter(u.iter().map(|&k| day[k]));
    let hp = crate::scn::edge_highpass(psi.view(), e.view(), du.view(), p.float("scn_time_win")?, mpos, threads)?;
    let xv = to_f64(xy, "ps2.xy")?;
    let x = graph::integrate_arcs(&edges, &hp, n, &xv[n..2 * n], &xv[2 * n..3 * n], threads)?;
    let mut ph_hpt = x.mapv(|v| v as f32);
    for (j, &c) in dcols.iter().enumerate() {
        for i in 0..n {
            ph_hpt[[i, c]] = (ph_hpt[[i, c]] as f64 + ramps[[i, j]]) as f32;
        }
    }
    let xs: Vec<f32> = xv[n..2 * n].iter().map(|&v| v as f32).collect();
    let ys: Vec<f32> = xv[2 * n..3 * n].iter().map(|&v| v as f32).collect();
    let mut ph_scn = graph::spatial_lowpass(&xs, &ys, &ph_hpt, p.float("scn_wavelength")?, threads);
    if n > 0 {
        let r0 = ph_scn.row(0).to_owned();
        for mut row in ph_scn.rows_mut() {
            row.iter_mut().zip(&r0).for_each(|(v, r)| *v -= r);
        }
    }
    let mut slave = Array2::<f64>::zeros((n, nn));
    for (j, &k) in u.iter().enumerate() {
        for i in 0..n {
            slave[[i, k]] = ph_scn[[i, j]] as f64;
        }
    }
    if m < nn {
        slave.column_mut(m).fill(0.0);
    }
    let art = vec![
        ("ph_scn_slave".into(), mat_f64(&slave)),
        ("ph_hpt".into(), mat_f32(&ph_hpt)),
        ("ph_ramp".into(), mat_f64(&ramps)),
    ];
    Ok((art, slave))
}

/// Stage 8 on the merged root: `scn2`, `mean_v` and the three `ps_plot_v-*` products.
pub fn run(inp: &ScnInputs, p: &ParamMap, threads: usize, log: &dyn Fn(&str)) -> Result<StageOutputs, String> {
    let (scn2, slave) = scn_filter(inp, p, threads)?;
    let scla = inp.scla2.as_ref();
    let ifgstd = inp.ifgstd2.as_ref();
    let kind = if scla.is_some() { "v-dso" } else { "v-so" };
    let mfit = velocity::velocity_fit(&inp.ps2, &inp.phuw2, scla, Some(&slave), ifgstd, p, kind, threads)?;
    let n = slave.nrows();
    let nu = match &scn2[1].1.data {
        MatData::F32(_) => scn2[1].1.cols,
        _ => 0,
    };
    let mut out: StageOutputs = vec![("scn2".into(), scn2), ("mean_v".into(), vec![("m".into(), mat_f32(&mfit))])];
    for kind in ["v-d", "v-do", "v-dso"] {
        let mf = velocity::velocity_fit(&inp.ps2, &inp.phuw2, scla, Some(&slave), ifgstd, p, kind, threads)?;
        let v = velocity::velocity(&mf, &inp.ps2, p)?;
        out.push((
            format!("ps_plot_{kind}"),
            vec![
                ("ph_disp".into(), MatArray::column(MatData::F32(v))),
                ("ifg_list".into(), MatArray::scalar(1.0)),
            ],
        ));
    }
    log(&format!("ps_scn_filt: {n} PS, {nu} images"));
    Ok(out)
}
