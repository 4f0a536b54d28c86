//! `pystamps_batch._native`: the PyO3 binding of pystamps-core.
//!
//! This layer only converts: NumPy arrays in (read-only views, any strides),
//! NumPy arrays out, the GIL released while the core runs. Python-facing
//! argument checks raise `ValueError`.

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pystamps_core::topofit::{self, Baselines};
use pystamps_core::{Complex32, Complex64};

/// MATLAB `hist(values, centres)` counts (float64).
#[pyfunction]
#[pyo3(signature = (values, centres, threads = 0))]
fn hist_centres<'py>(
    py: Python<'py>,
    values: PyReadonlyArray1<'py, f64>,
    centres: PyReadonlyArray1<'py, f64>,
    threads: usize,
) -> Bound<'py, PyArray1<f64>> {
    let c = centres.as_array().to_vec();
    let out = match values.as_slice() {
        Ok(v) => py.allow_threads(|| pystamps_core::histogram::hist_centres(v, &c, threads)),
        Err(_) => {
            let v = values.as_array().to_vec();
            py.allow_threads(|| pystamps_core::histogram::hist_centres(&v, &c, threads))
        }
    };
    out.into_pyarray(py)
}

type FitOut<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray2<f32>>,
);

/// ps_topofit with per-pixel baselines (n x M float32) in single precision.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn topofit_f32<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex32>,
    bperp: PyReadonlyArray2<'py, f32>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<FitOut<'py>> {
    if ph.shape() != bperp.shape() {
        return Err(PyValueError::new_err(format!(
            "ph {:?} and bperp {:?} must have the same shape",
            ph.shape(),
            bperp.shape()
        )));
    }
    let z = ph.as_array();
    let b = bperp.as_array();
    let (k, c, g, r) = py.allow_threads(|| topofit::topofit_f32(z, Baselines::PerPixel(b), n_trial_wraps, threads));
    Ok((k.into_pyarray(py), c.into_pyarray(py), g.into_pyarray(py), r.into_pyarray(py)))
}

/// ps_topofit with one baseline row (M,) shared by all pixels, single precision.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn topofit_row_f32<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex32>,
    bperp: PyReadonlyArray1<'py, f32>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<FitOut<'py>> {
    if ph.shape()[1] != bperp.len() {
        return Err(PyValueError::new_err(format!(
            "ph has {} columns but bperp has {} values",
            ph.shape()[1],
            bperp.len()
        )));
    }
    let z = ph.as_array();
    let b = bperp.as_array();
    let (k, c, g, r) = py.allow_threads(|| topofit::topofit_f32(z, Baselines::Shared(b), n_trial_wraps, threads));
    Ok((k.into_pyarray(py), c.into_pyarray(py), g.into_pyarray(py), r.into_pyarray(py)))
}

/// Coherence-only ps_topofit in double precision with one shared baseline row.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn topofit_coh_f64<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex64>,
    bperp: PyReadonlyArray1<'py, f64>,
    n_trial_wraps: f64,
    threads: usize,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if ph.shape()[1] != bperp.len() {
        return Err(PyValueError::new_err("ph columns and bperp length differ"));
    }
    let z = ph.as_array();
    let b = bperp.as_array();
    let g = py.allow_threads(|| topofit::topofit_coh_f64(z, b, n_trial_wraps, threads));
    Ok(g.into_pyarray(py))
}

/// Coherence of `n_rand` simulated random-phase pixels (`rand('state', seed)`), f64.
#[pyfunction]
#[pyo3(signature = (bperp, n_trial_wraps, n_rand, seed, threads = 0))]
fn random_phase_coh<'py>(
    py: Python<'py>,
    bperp: PyReadonlyArray1<'py, f64>,
    n_trial_wraps: f64,
    n_rand: usize,
    seed: u32,
    threads: usize,
) -> Bound<'py, PyArray1<f64>> {
    let b = bperp.as_array().to_vec();
    let g = py.allow_threads(|| topofit::random_phase_coh(&b, n_trial_wraps, n_rand, seed, threads));
    g.into_pyarray(py)
}

/// Peak complex multiply-add rate (CMAC/s, all threads) of the topofit inner loop in L1.
#[pyfunction]
#[pyo3(signature = (m, n_trials, threads = 0))]
fn bench_peak_cmac(py: Python<'_>, m: usize, n_trials: usize, threads: usize) -> f64 {
    py.allow_threads(|| topofit::peak_cmac_rate(m, n_trials, threads))
}

/// Rate (CMAC/s) of the topofit periodogram alone over `ph` with the shared basis of `bperp`.
#[pyfunction]
#[pyo3(signature = (ph, bperp, n_trial_wraps, threads = 0))]
fn bench_trial_search_rate<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, Complex32>,
    bperp: PyReadonlyArray1<'py, f32>,
    n_trial_wraps: f64,
    threads: usize,
) -> f64 {
    let (z, b) = (ph.as_array(), bperp.as_array());
    py.allow_threads(|| topofit::trial_search_rate(z, b, n_trial_wraps, threads))
}

/// Weighted gridding: sum rows of `values` (n x M complex64) into `n_cells` cells.
#[pyfunction]
#[pyo3(signature = (values, cell, n_cells, threads = 0))]
fn grid_accumulate<'py>(
    py: Python<'py>,
    values: PyReadonlyArray2<'py, Complex32>,
    cell: PyReadonlyArray1<'py, i64>,
    n_cells: usize,
    threads: usize,
) -> PyResult<Bound<'py, PyArray2<Complex32>>> {
    let v = values.as_array();
    let c = cell.as_array();
    let out = py
        .allow_threads(|| pystamps_core::gridding::grid_accumulate(v, c, n_cells, threads))
        .map_err(PyValueError::new_err)?;
    Ok(out.into_pyarray(py))
}

macro_rules! clap_fns {
    ($stack:ident, $patch:ident, $t:ty) => {
        /// Step-2 CLAP of a grid stack (n_i x n_j x M).
        #[pyfunction]
        #[pyo3(signature = (grid, alpha, beta, n_win, n_pad, low_pass, threads = 0))]
        #[allow(clippy::too_many_arguments)]
        fn $stack<'py>(
            py: Python<'py>,
            grid: PyReadonlyArray3<'py, num_complex::Complex<$t>>,
            alpha: $t,
            beta: $t,
            n_win: usize,
            n_pad: usize,
            low_pass: PyReadonlyArray2<'py, $t>,
            threads: usize,
        ) -> PyResult<Bound<'py, PyArray3<num_complex::Complex<$t>>>> {
            let g = grid.as_array();
            let lp = low_pass.as_array();
            let out = py
                .allow_threads(|| pystamps_core::clap::clap_filt_stack(g, alpha, beta, n_win, n_pad, lp, threads))
                .map_err(PyValueError::new_err)?;
            Ok(out.into_pyarray(py))
        }

        /// Step-3 CLAP of square blocks (n_blocks x P x P).
        #[pyfunction]
        #[pyo3(signature = (blocks, alpha, beta, low_pass, threads = 0))]
        fn $patch<'py>(
            py: Python<'py>,
            blocks: PyReadonlyArray3<'py, num_complex::Complex<$t>>,
            alpha: $t,
            beta: $t,
            low_pass: PyReadonlyArray2<'py, $t>,
            threads: usize,
        ) -> PyResult<Bound<'py, PyArray3<num_complex::Complex<$t>>>> {
            let b = blocks.as_array();
            let lp = low_pass.as_array();
            let out = py
                .allow_threads(|| pystamps_core::clap::clap_filt_patch(b, alpha, beta, lp, threads))
                .map_err(PyValueError::new_err)?;
            Ok(out.into_pyarray(py))
        }
    };
}

/// Step-3 patch phase of unique 1-based cells: (P2 (n_c x M) complex64, fits (n_c,) bool).
#[pyfunction]
#[pyo3(signature = (grid, cells, win, osf, alpha, beta, low_pass, threads = 0))]
#[allow(clippy::too_many_arguments)]
fn patch_phase<'py>(
    py: Python<'py>,
    grid: PyReadonlyArray3<'py, Complex32>,
    cells: PyReadonlyArray2<'py, i64>,
    win: usize,
    osf: usize,
    alpha: f32,
    beta: f32,
    low_pass: PyReadonlyArray2<'py, f32>,
    threads: usize,
) -> PyResult<(Bound<'py, PyArray2<Complex32>>, Bound<'py, PyArray1<bool>>)> {
    let (g, c, lp) = (grid.as_array(), cells.as_array(), low_pass.as_array());
    let (p2, fits) = py
        .allow_threads(|| pystamps_core::clap::patch_phase(g, c, win, osf, alpha, beta, lp, threads))
        .map_err(PyValueError::new_err)?;
    Ok((p2.into_pyarray(py), fits.into_pyarray(py)))
}

clap_fns!(clap_filt_stack_f64, clap_filt_patch_f64, f64);
clap_fns!(clap_filt_stack_f32, clap_filt_patch_f32, f32);

/// Arc noise std and max of ps_weed (`stage4_edge_stats`).
#[pyfunction]
#[pyo3(signature = (ph_unit, edges, day, bperp, time_win, threads = 0))]
fn edge_stats<'py>(
    py: Python<'py>,
    ph_unit: PyReadonlyArray2<'py, Complex32>,
    edges: PyReadonlyArray2<'py, i64>,
    day: PyReadonlyArray1<'py, f64>,
    bperp: PyReadonlyArray1<'py, f64>,
    time_win: f64,
    threads: usize,
) -> PyResult<(Bound<'py, PyArray1<f32>>, Bound<'py, PyArray1<f32>>)> {
    let (z, e, d, b) = (ph_unit.as_array(), edges.as_array(), day.as_array(), bperp.as_array());
    let (s, m) = py
        .allow_threads(|| pystamps_core::weed_noise::edge_stats(z, e, d, b, time_win, threads))
        .map_err(PyValueError::new_err)?;
    Ok((s.into_pyarray(py), m.into_pyarray(py)))
}

/// Temporal high-pass of arc phase differences (`stage8_edge_noise`).
#[pyfunction]
#[pyo3(signature = (ph, edges, day, time_win, master_pos = None, threads = 0))]
fn edge_highpass<'py>(
    py: Python<'py>,
    ph: PyReadonlyArray2<'py, f32>,
    edges: PyReadonlyArray2<'py, i64>,
    day: PyReadonlyArray1<'py, f64>,
    time_win: f64,
    master_pos: Option<usize>,
    threads: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let (p, e, d) = (ph.as_array(), edges.as_array(), day.as_array());
    let out = py
        .allow_threads(|| pystamps_core::scn::edge_highpass(p, e, d, time_win, master_pos, threads))
        .map_err(PyValueError::new_err)?;
    Ok(out.into_pyarray(py))
}

/// Per-pixel SCLA least squares (`stage7_scla`): (K f64, C f32).
#[pyfunction]
#[pyo3(signature = (ph_uw, bperp, day, master_pos, ifg_std, l1, master_day, threads = 0))]
#[allow(clippy::too_many_arguments)]
fn scla_fit<'py>(
    py: Python<'py>,
    ph_uw: PyReadonlyArray2<'py, f32>,
    bperp: PyReadonlyArray2<'py, f32>,
    day: PyReadonlyArray1<'py, f64>,
    master_pos: Option<usize>,
    ifg_std: Option<PyReadonlyArray1<'py, f64>>,
    l1: bool,
    master_day: f64,
    threads: usize,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f32>>)> {
    let (p, b, d) = (ph_uw.as_array(), bperp.as_array(), day.as_array());
    let std: Option<Vec<f64>> = ifg_std.map(|s| s.as_array().to_vec());
    let (k, c) = py
        .allow_threads(|| {
            let opt = pystamps_core::scla::SclaOptions { master_pos, ifg_std: std.as_deref(), l1, master_day };
            pystamps_core::scla::scla_fit(p, b, d, &opt, threads)
        })
        .map_err(PyValueError::new_err)?;
    Ok((k.into_pyarray(py), c.into_pyarray(py)))
}

mod convert;
mod stage_gamma;
mod stage_load;
mod stage_merge;
mod stage_scla_scn;
mod stage_select;
mod stage_unwrap;
mod stage_unwrap_arcs;
mod stage_unwrap_grid;
mod stage_unwrap_st;
mod stage_weed;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    stage_gamma::register(m)?;
    stage_load::register(m)?;
    stage_merge::register(m)?;
    stage_scla_scn::register(m)?;
    stage_select::register(m)?;
    stage_unwrap::register(m)?;
    stage_unwrap_arcs::register(m)?;
    stage_unwrap_grid::register(m)?;
    stage_unwrap_st::register(m)?;
    stage_weed::register(m)?;
    m.add_function(wrap_pyfunction!(hist_centres, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_f32, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_row_f32, m)?)?;
    m.add_function(wrap_pyfunction!(topofit_coh_f64, m)?)?;
    m.add_function(wrap_pyfunction!(grid_accumulate, m)?)?;
    m.add_function(wrap_pyfunction!(random_phase_coh, m)?)?;
    m.add_function(wrap_pyfunction!(bench_peak_cmac, m)?)?;
    m.add_function(wrap_pyfunction!(bench_trial_search_rate, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_stack_f64, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_stack_f32, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_patch_f64, m)?)?;
    m.add_function(wrap_pyfunction!(clap_filt_patch_f32, m)?)?;
    m.add_function(wrap_pyfunction!(patch_phase, m)?)?;
    m.add_function(wrap_pyfunction!(edge_stats, m)?)?;
    m.add_function(wrap_pyfunction!(edge_highpass, m)?)?;
    m.add_function(wrap_pyfunction!(scla_fit, m)?)?;
    Ok(())
}
