"""Stage 6: single-master 3-D phase unwrapping, StaMPS ``ps_unwrap`` -> ``uw_3d`` ('3D_FULL').

Spec C.6.1-C.6.7 (pitfalls J.14-J.19, J.27; pseudocode K.7, K.8). Pipeline:

1. :func:`wrapped_input` - w = ph_rc * exp(+i K_ps B~), normalised; minus scla_smooth2's
   K_uw B~ + C_uw (+ ramp) when that file is present with n rows (C.6.1).
2. :mod:`.grid` - gridding and Goldstein filter -> ``uw_grid``.
3. :mod:`.arcs` - nearest-node labelling and arc network -> ``uw_interp``.
4. :mod:`.space_time` - arc look-angle error, 3D_FULL smoothing -> ``uw_space_time``.
5. :mod:`.costs` + :mod:`.snaphu` - one snaphu run per ifg -> ``uw_phaseuw``.
6. :mod:`.from_grid` - back to the PS, terms added back -> ``phuw2``.

The spatial step treats interferograms independently: :func:`.snaphu.solve_ifg`
``(k, problem) -> (node_uw, msd)`` is pure apart from its private scratch folder.
By default the ifgs run on a thread pool of ``kernels.runtime.cpu_workers`` threads
(0 = :func:`pystamps_batch.resources.cpu_budget`). A driver (e.g. MPI) can pass
``ifg_executor``: a callable ``(fn, ks) -> results`` that returns
``[fn(k) for k in ks]`` in order, however it distributes them; ``fn`` is a picklable
``functools.partial`` of :func:`.snaphu.solve_ifg`.
"""
from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ...errors import StageError
from ...matlab import datestr
from ...resources import resolve_workers
from .arcs import uw_interp
from .costs import cost_model
from .f32 import angle, cmul, expi, unit
from .from_grid import uw_unwrap_from_grid
from .grid import uw_grid_wrapped
from .snaphu import SnaphuProblem, locate_snaphu, solve_ifg
from .space_time import uw_space_time

READS = ("ps2", "rc2", "pm2", "bp2")
OPTIONAL = ("la2", "scla_smooth2", "ifgstd2")   # ifgstd2 is accepted but not used by step 6
WRITES = ("uw_grid", "uw_interp", "uw_space_time", "uw_phaseuw", "phuw2")

#: Satellite range (m) used for the maximum look-angle error, as in StaMPS.
RHO = 830000.0
F32 = np.float32
_3D_METHODS = ("3D", "3D_NEW", "3D_FULL")


def _scalar(d: dict, name: str) -> float:
    return float(np.asarray(d[name]).ravel()[0])


def _check_params(params) -> None:
    """Reject settings this single-master '3D_FULL' implementation does not cover (one line each)."""
    if params.flag("small_baseline_flag"):
        raise StageError("ps_unwrap: small_baseline_flag='y' is not supported (single-master PS only)")
    method = str(params["unwrap_method"]).upper()
    if method not in _3D_METHODS:
        raise StageError(f"ps_unwrap: unwrap_method={params['unwrap_method']!r} is not supported "
                         f"(expected one of {', '.join(_3D_METHODS)}; single master runs '3D_FULL')")
    if params.flag("unwrap_spatial_cost_func_flag"):
        raise StageError("ps_unwrap: unwrap_spatial_cost_func_flag='y' is not supported (use 'n', the default)")


def baselines_with_master(bperp_mat: np.ndarray, master_ix: int) -> np.ndarray:
    """B~: per-PS baselines (n, M) float32 with a zero master column inserted -> (n, N)."""
    b = np.asarray(bperp_mat, dtype=F32)
    return np.insert(b, master_ix - 1, F32(0), axis=1)


def wrapped_input(inputs: dict, params, btil: np.ndarray, master_ix: int,
                  log: Callable[[str], None]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The wrapped phasors w (n, N) complex64 (C.6.1 steps 2-3) and the terms to add back later.

    Returns (w, addback) where addback holds float32 (n, N) phase arrays to add to ph_uw.
    """
    ps_n = btil.shape[0]
    addback: dict[str, np.ndarray] = {}
    rc = np.asarray(inputs["rc2"]["ph_rc"], dtype=np.complex64)
    if params.flag("unwrap_patch_phase"):
        patch = np.asarray(inputs["pm2"]["ph_patch"], dtype=np.complex64)
        patch = np.insert(patch, master_ix - 1, np.complex64(1), axis=1)
        w = patch
        addback["patch"] = angle(cmul(rc, np.conj(np.where(patch != 0, unit(patch), patch))))
    else:
        K_ps = np.asarray(inputs["pm2"]["K_ps"], dtype=np.float64).reshape(-1, 1)
        w = cmul(rc, expi(K_ps.astype(F32) * btil))
    w = np.where(w != 0, unit(w), w).astype(np.complex64)
    scla = inputs.get("scla_smooth2")
    if scla is not None:
        K_uw = np.asarray(scla.get("K_ps_uw", np.zeros((0, 1))))
        if K_uw.shape[0] == ps_n:
            log("subtracting scla_smooth2 (K_ps_uw, C_ps_uw) before unwrapping")
            kb = (K_uw.reshape(-1, 1).astype(F32) * btil).astype(F32)
            c = np.asarray(scla["C_ps_uw"], dtype=F32).reshape(-1, 1)
            w = cmul(w, expi(-kb))
            w = cmul(w, expi(-c))
            addback["scla_K"] = kb
            addback["scla_C"] = np.broadcast_to(c, w.shape).astype(F32)
            ramp = np.asarray(scla.get("ph_ramp", np.zeros((0, 0))))
            if params.flag("scla_deramp") and ramp.shape[0] == ps_n and ramp.size:
                w = cmul(w, expi(-ramp.astype(F32)))
                addback["ramp"] = ramp.astype(F32)
        else:
            log(f"scla_smooth2 has {K_uw.shape[0]} rows, not {ps_n}: subtraction skipped "
                "(StaMPS deletes that file)")
    if params.flag("subtr_tropo"):
        log("subtr_tropo='y': no tca2 input, tropospheric correction not subtracted")
    return w.astype(np.complex64), addback


def incidence_mean(inputs: dict) -> float:
    """Mean incidence (rad): ps2.mean_incidence, else mean(la2.la) + 0.052, else 21 degrees."""
    ps = inputs["ps2"]
    if "mean_incidence" in ps and np.asarray(ps["mean_incidence"]).size:
        return _scalar(ps, "mean_incidence")
    la = inputs.get("la2")
    if la is not None and "la" in la and np.asarray(la["la"]).size:
        return float(np.mean(np.asarray(la["la"], dtype=np.float64))) + 0.052
    return 21.0 * math.pi / 180.0


def trial_wraps(params, bperp: np.ndarray, inc_mean: float) -> float:
    """n_trial_wraps = range(ps.bperp incl. master) * K_max / 2pi (C.6.1 step 5)."""
    lam = float(params["lambda"])
    if not np.isfinite(lam):
        raise StageError("ps_unwrap: parameter 'lambda' is not set (needed for n_trial_wraps)")
    max_k = float(params["max_topo_err"]) / (lam * RHO * math.sin(inc_mean) / 4 / math.pi)
    return float(bperp.max() - bperp.min()) * max_k / (2 * math.pi)


def unwrap_index(n_ifg: int, master_day: float, day: np.ndarray, drop: Sequence[int]) -> list[int]:
    """U: 1-based ifg columns to unwrap (all but the master and drop_ifg_index)."""
    master = int(np.sum(master_day > day)) + 1
    return [k for k in range(1, n_ifg + 1) if k != master and k not in set(drop)]


def _default_map(workers: int) -> Callable[[Callable[[int], Any], list[int]], list[Any]]:
    def run_all(fn, ks):
        if workers <= 1 or len(ks) <= 1:
            return [fn(k) for k in ks]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, ks))
    return run_all


def _counting(fn: Callable[[int], Any], total: int, log: Callable[[str], None]) -> Callable[[int], Any]:
    """``fn`` that logs progress (every 10 % of the interferograms), safe across threads."""
    import threading

    lock = threading.Lock()
    state = {"done": 0, "last": -1}

    def run(k: int) -> Any:
        out = fn(k)
        with lock:
            state["done"] += 1
            pct = 100 * state["done"] // max(1, total)
            if pct // 10 > state["last"] // 10 or state["done"] == total:
                state["last"] = pct
                log(f"snaphu: {state['done']}/{total} interferograms unwrapped ({pct}%)")
        return out
    return run


def _workers(kernels) -> int:
    rt = getattr(kernels, "runtime", None)
    return resolve_workers(int(getattr(rt, "cpu_workers", 0) or 0))


def run(inputs: dict, params, kernels, *, log: Callable[[str], None] | None = None,
        scratch_dir: str | None = None, ifg_executor: Callable | None = None) -> dict[str, dict[str, Any]]:
    """StaMPS step 6 on the merged root (spec C.6). See the module docstring for ``ifg_executor``."""
    log = log or (lambda _msg: None)
    t0 = time.perf_counter()
    _check_params(params)
    exe = locate_snaphu()                                  # fail fast when snaphu is missing
    ps = inputs["ps2"]
    n_ps = int(_scalar(ps, "n_ps"))
    n_ifg = int(_scalar(ps, "n_ifg"))
    master_ix = int(_scalar(ps, "master_ix"))
    days = np.asarray(ps["day"], dtype=np.float64).ravel()
    master_day = _scalar(ps, "master_day")
    if np.any(np.diff(days) < 0):
        raise StageError("ps_unwrap: ps2.day is not in ascending date order; StaMPS' 3D_FULL anchoring "
                         "requires date-sorted interferograms (re-run stage 1 with a sorted file list)")
    day = days - master_day
    bperp = np.asarray(ps["bperp"], dtype=np.float64).ravel()
    btil = baselines_with_master(inputs["bp2"]["bperp_mat"], master_ix)
    if btil.shape != (n_ps, n_ifg) or np.asarray(inputs["rc2"]["ph_rc"]).shape != (n_ps, n_ifg):
        raise StageError(f"ps_unwrap: inconsistent inputs: ps2 has {n_ps} PS x {n_ifg} ifgs, rc2.ph_rc "
                         f"{np.asarray(inputs['rc2']['ph_rc']).shape}, bp2.bperp_mat "
                         f"{np.asarray(inputs['bp2']['bperp_mat']).shape}")
    w, addback = wrapped_input(inputs, params, btil, master_ix, log)
    U = unwrap_index(n_ifg, master_day, days, params.index_list("drop_ifg_index"))
    ui0 = np.asarray(U, dtype=np.int64) - 1
    ntw = trial_wraps(params, bperp, incidence_mean(inputs))
    log(f"unwrapping {len(U)} interferograms of {n_ps} PS (n_trial_wraps {ntw:.4f})")

    grid = uw_grid_wrapped(w[:, ui0], np.asarray(ps["xy"], dtype=F32)[:, 1:3],
                           float(params["unwrap_grid_size"]), int(params["unwrap_gold_n_win"]),
                           params.flag("unwrap_prefilter_flag"), float(params["unwrap_gold_alpha"]))
    log(f"grid {grid.n_i} x {grid.n_j}, {grid.n_nodes} nodes")
    interp = uw_interp(grid.nzix)
    log(f"{interp.n_edge} arcs")
    ifgday = np.column_stack([np.full(len(U), master_ix), np.asarray(U)])
    st = uw_space_time(grid.ph, interp.edges, day, ifgday, bperp[ui0], ntw,
                       float(params["unwrap_time_win"]), params.flag("unwrap_la_error_flag"))
    n_nostats = int(np.isnan(st.dph_noise[:, 0]).sum()) if st.dph_noise.size else 0
    log(f"space-time: {int((st.K != 0).sum())} arcs with look-angle error, {n_nostats} without statistics")

    labels = tuple(f"interferogram {k} ({datestr(days[k - 1])})" for k in U)
    problem = SnaphuProblem(node_ph=grid.ph, Z=interp.Z, node_cells=grid.node_cells,
                            model=cost_model(interp, st.dph_noise), D=st.dph_space_uw,
                            noise=st.dph_noise, labels=labels, exe=exe,
                            scratch_dir=None if scratch_dir is None else str(scratch_dir))
    fn = functools.partial(solve_ifg, problem=problem)
    if ifg_executor is None:
        results = list(_default_map(_workers(kernels))(_counting(fn, len(U), log), list(range(len(U)))))
    else:
        results = list(ifg_executor(fn, list(range(len(U)))))
    node_uw = np.stack([r[0] for r in results], axis=1).astype(F32)
    msd_u = np.array([r[1] for r in results], dtype=np.float64)

    ph_u = uw_unwrap_from_grid(grid.ph_in, grid.grid_ij, grid.nzix, node_uw)
    ph_uw = np.zeros((n_ps, n_ifg), dtype=F32)
    ph_uw[:, ui0] = ph_u
    for term in addback.values():
        ph_uw = (ph_uw + term).astype(F32)
    ph_uw[:, np.setdiff1d(np.arange(n_ifg), ui0)] = 0
    msd = np.zeros((n_ifg, 1), dtype=F32)
    msd[ui0, 0] = msd_u
    log(f"stage 6 done in {time.perf_counter() - t0:.2f} s")
    return {
        "uw_grid": grid.to_mat(),
        "uw_interp": interp.to_mat(),
        "uw_space_time": st.to_mat(),
        "uw_phaseuw": {"ph_uw": node_uw, "msd": msd_u.reshape(-1, 1)},
        "phuw2": {"ph_uw": ph_uw, "msd": msd},
    }
