//! PyO3 binding of `pystamps_core::stages::unwrap::{arcs, costs, snaphu}` (stage 6: the arc
//! network, the snaphu cost files and the per-ifg snaphu runs), for parity tests against
//! the Python stage. Converts only.

use crate::convert::artifact_dict;
use ndarray::{Array2, Axis};
use num_complex::Complex32;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use pystamps_core::stages::unwrap::{arcs, costs, snaphu};
use std::path::{Path, PathBuf};

fn err(e: String) -> PyErr {
    PyValueError::new_err(e)
}

/// Checks that `(n_edge, M)` arrays `noise` and `d` agree with each other and the network.
fn check_edges(interp: &arcs::UwInterp, noise: &Array2<f32>, d: &Array2<f32>) -> PyResult<()> {
    if noise.dim() != d.dim() || noise.nrows() != interp.n_edge() {
        return Err(err(format!(
            "noise {:?} and D {:?} must both be (n_edge = {}, M)",
            noise.dim(),
            d.dim(),
            interp.n_edge()
        )));
    }
    Ok(())
}

/// `arcs.nearest_node(nzix)`: (n_i, n_j) int64 0-based nearest node of every cell.
#[pyfunction]
fn unwrap_nearest_node<'py>(py: Python<'py>, nzix: PyReadonlyArray2<'py, bool>) -> PyResult<Bound<'py, PyArray2<i64>>> {
    let m = nzix.as_array().to_owned();
    let z = py.allow_threads(|| arcs::nearest_node(m.view())).map_err(err)?;
    Ok(z.mapv(|v| v as i64).into_pyarray(py))
}

/// `arcs.uw_interp(nzix).to_mat()`: the `uw_interp.mat` variables (float64, 1-based).
#[pyfunction]
fn unwrap_interp<'py>(py: Python<'py>, nzix: PyReadonlyArray2<'py, bool>) -> PyResult<Bound<'py, PyDict>> {
    let m = nzix.as_array().to_owned();
    let interp = py.allow_threads(|| arcs::uw_interp(m.view())).map_err(err)?;
    artifact_dict(py, interp.to_mat())
}

/// The `snaphu.costinfile` content of every ifg column: `cost_file_bytes(cost_model(
/// uw_interp(nzix), noise), D[:, k], noise[:, k])` for k in 0..M. `noise`, `D`: (n_edge, M) float32.
#[pyfunction]
#[allow(non_snake_case)]
fn unwrap_cost_files<'py>(
    py: Python<'py>,
    nzix: PyReadonlyArray2<'py, bool>,
    noise: PyReadonlyArray2<'py, f32>,
    D: PyReadonlyArray2<'py, f32>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let m = nzix.as_array().to_owned();
    let noise = noise.as_array().to_owned();
    let d = D.as_array().to_owned();
    let interp = py.allow_threads(|| arcs::uw_interp(m.view())).map_err(err)?;
    check_edges(&interp, &noise, &d)?;
    let files = py.allow_threads(|| {
        let model = costs::cost_model(&interp, noise.view());
        (0..d.ncols())
            .map(|k| costs::cost_file_bytes(&model, &d.column(k).to_vec(), &noise.column(k).to_vec()))
            .collect::<Vec<_>>()
    });
    Ok(files.iter().map(|b| PyBytes::new(py, b)).collect())
}

/// `snaphu.grid_msd(out)` of an (n_i, n_j) float32 snaphu output.
#[pyfunction]
fn unwrap_grid_msd(out: PyReadonlyArray2<'_, f32>) -> f64 {
    snaphu::grid_msd(out.as_array())
}

/// `snaphu.locate_snaphu()` (with an optional configured path): the executable's path.
#[pyfunction]
#[pyo3(signature = (config_path = None))]
fn unwrap_locate_snaphu(config_path: Option<PathBuf>) -> PyResult<String> {
    let p = snaphu::locate_snaphu(config_path.as_deref()).map_err(err)?;
    Ok(p.to_string_lossy().into_owned())
}

/// Every ifg column through snaphu (`solve_ifg` for k in 0..M, `threads` at a time):
/// `(node_uw (n_nodes, M) float32, msd (M,) float64)`. `node_ph`: (n_nodes, M) complex64;
/// `nzix`: (n_i, n_j) node mask; `noise`, `D`: (n_edge, M) float32; `labels`: M texts.
#[pyfunction]
#[pyo3(signature = (node_ph, nzix, noise, D, labels, exe, scratch_dir = None, threads = 0))]
#[allow(non_snake_case, clippy::too_many_arguments, clippy::type_complexity)]
fn unwrap_solve<'py>(
    py: Python<'py>,
    node_ph: PyReadonlyArray2<'py, Complex32>,
    nzix: PyReadonlyArray2<'py, bool>,
    noise: PyReadonlyArray2<'py, f32>,
    D: PyReadonlyArray2<'py, f32>,
    labels: Vec<String>,
    exe: PathBuf,
    scratch_dir: Option<PathBuf>,
    threads: usize,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray1<f64>>)> {
    let node_ph = node_ph.as_array().to_owned();
    let m = nzix.as_array().to_owned();
    let noise = noise.as_array().to_owned();
    let d = D.as_array().to_owned();
    let n_ifg = node_ph.ncols();
    if labels.len() != n_ifg || d.ncols() != n_ifg {
        return Err(err(format!("node_ph has {n_ifg} ifgs, D {}, labels {}", d.ncols(), labels.len())));
    }
    let node_cells: Vec<usize> = m.t().iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect();
    if node_cells.len() != node_ph.nrows() {
        return Err(err(format!("node_ph has {} rows, nzix {} nodes", node_ph.nrows(), node_cells.len())));
    }
    let interp = py.allow_threads(|| arcs::uw_interp(m.view())).map_err(err)?;
    check_edges(&interp, &noise, &d)?;
    let res = py.allow_threads(|| {
        let model = costs::cost_model(&interp, noise.view());
        let p = snaphu::SnaphuProblem {
            node_ph: node_ph.view(),
            z: interp.z.view(),
            node_cells: &node_cells,
            model: &model,
            d: d.view(),
            noise: noise.view(),
            labels: &labels,
            exe: Path::new(&exe),
            scratch_dir: scratch_dir.as_deref(),
        };
        snaphu::solve_all(&p, threads, &|_, _| {})
    });
    let res = res.map_err(err)?;
    let mut node_uw = Array2::<f32>::zeros((node_cells.len(), n_ifg));
    for (mut col, (v, _)) in node_uw.axis_iter_mut(Axis(1)).zip(&res) {
        col.iter_mut().zip(v).for_each(|(o, &x)| *o = x);
    }
    let msd: Vec<f64> = res.iter().map(|r| r.1).collect();
    Ok((node_uw.into_pyarray(py), msd.into_pyarray(py)))
}

/// Adds this module's functions to `_native`.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(unwrap_nearest_node, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_interp, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_cost_files, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_grid_msd, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_locate_snaphu, m)?)?;
    m.add_function(wrap_pyfunction!(unwrap_solve, m)?)?;
    Ok(())
}
