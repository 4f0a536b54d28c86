"""Kernel registry: name -> {backend: implementation}, selection from the config.

Implementations are named as ``"module:function"`` strings and imported on first
use, so that importing the registry stays cheap and a missing native extension
only matters when a native kernel is actually selected.

Kernel contracts (all arrays NumPy; n pixels, M interferograms, E arcs):

``stage2_grid_accumulate(values, cell, n_cells) -> (n_cells, M) complex64``
    Sum the rows of ``values`` (n x M complex64) into cells; ``cell`` (n,) int64
    holds 0-based linear cell indices. NaN in a row poisons its cell.
``stage2_histogram(values, centres) -> (len(centres),) float64``
    MATLAB ``hist`` counts (right-closed mid-point edges, NaN ignored).
``stage2_topofit(ph, bperp, n_trial_wraps) -> (K, C, coh, ph_res)``
    ps_topofit per pixel (spec C.2.3/K.1) with per-pixel baselines: ``ph`` n x M
    complex64, ``bperp`` n x M float32. Float32 semantics as StaMPS (J.27).
    K, C, coh are float64 (n,), ph_res float32 (n x M, 0 where ph == 0).
``stage2_topofit_row_invariant(ph, bperp, n_trial_wraps)``
    The same with one baseline row ``bperp`` (M,) shared by all pixels.
``stage2_topofit_coh_row_invariant(ph, bperp, n_trial_wraps) -> coh (n,) float64``
    Coherence only, double precision (the random-phase reference of C.2.1).
``stage2_clap_filter(grid, alpha, beta, n_win, n_pad, low_pass) -> (n_i, n_j, M) complex128``
    Step-2 CLAP of a grid stack (spec C.2.4), see :mod:`pystamps_batch.filters.clap`.
``stage3_clap_filt_patch(blocks, alpha, beta, low_pass) -> blocks``
    Step-3 CLAP of (..., P, P) blocks (spec C.3 step 6), in the blocks' precision.
``stage2_random_phase_coh(bperp, n_trial_wraps, n_rand, seed) -> (n_rand,) float64``
    Coherence of the simulated random-phase pixels of spec C.2.1 (the draws of
    ``rand('state', seed)``), see :mod:`pystamps_batch.kernels.random_phase`.
``stage3_patch_phase(ph_grid, cells, win, osf, alpha, beta, low_pass) -> (P2, fits)``
    Step-3 patch phase of unique cells (window, own cell zeroed, CLAP, value at the
    cell), see :mod:`pystamps_batch.kernels.patch_phase`.
``stage4_edge_stats(...)``, ``stage7_scla(...)``, ``stage8_edge_noise(...)``
    See the python implementations' docstrings.

Selection for kernel ``k`` (first rule that applies):
1. ``runtime.kernel_backend_overrides[k]``;
2. for ``stage2_*`` kernels, ``runtime.stage2_kernel_backend`` unless ``auto``;
3. ``runtime.backend`` unless ``auto``;
4. ``auto``: native if the kernel has a native implementation and the extension
   loaded, else python.
An explicit ``native`` that cannot be honoured is an error, never a silent fall-back.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..config import RuntimeConfig
from ..errors import ConfigError
from ..resources import resolve_workers
from .names import KERNEL_NAMES

PYTHON_IMPL: dict[str, str] = {
    "stage2_grid_accumulate": "pystamps_batch.kernels.gridding:grid_accumulate",
    "stage2_histogram": "pystamps_batch.kernels.histogram:histogram",
    "stage2_topofit": "pystamps_batch.kernels.topofit:topofit",
    "stage2_topofit_row_invariant": "pystamps_batch.kernels.topofit:topofit_row_invariant",
    "stage2_topofit_coh_row_invariant": "pystamps_batch.kernels.topofit:topofit_coh_row_invariant",
    "stage4_edge_stats": "pystamps_batch.kernels.weed_noise:edge_stats",
    "stage7_scla": "pystamps_batch.kernels.scla:scla_fit",
    "stage8_edge_noise": "pystamps_batch.kernels.scn:edge_highpass",
    "stage2_clap_filter": "pystamps_batch.filters.clap:clap_filt_stack",
    "stage3_clap_filt_patch": "pystamps_batch.filters.clap:clap_filt_patch",
    "stage2_random_phase_coh": "pystamps_batch.kernels.random_phase:random_phase_coh",
    "stage3_patch_phase": "pystamps_batch.kernels.patch_phase:patch_phase",
}

#: Native implementations: thin adapters in ``kernels/native.py`` over ``pystamps_batch._native``.
NATIVE_IMPL: dict[str, str] = {
    "stage2_histogram": "pystamps_batch.kernels.native:histogram",
    "stage2_topofit": "pystamps_batch.kernels.native:topofit",
    "stage2_topofit_row_invariant": "pystamps_batch.kernels.native:topofit_row_invariant",
    "stage2_topofit_coh_row_invariant": "pystamps_batch.kernels.native:topofit_coh_row_invariant",
    "stage2_grid_accumulate": "pystamps_batch.kernels.native:grid_accumulate",
    "stage2_clap_filter": "pystamps_batch.kernels.native:clap_filt_stack",
    "stage3_clap_filt_patch": "pystamps_batch.kernels.native:clap_filt_patch",
    "stage4_edge_stats": "pystamps_batch.kernels.native:edge_stats",
    "stage7_scla": "pystamps_batch.kernels.native:scla_fit",
    "stage8_edge_noise": "pystamps_batch.kernels.native:edge_highpass",
    "stage2_random_phase_coh": "pystamps_batch.kernels.native:random_phase_coh",
    "stage3_patch_phase": "pystamps_batch.kernels.native:patch_phase",
}


def _import(spec: str) -> Callable[..., Any]:
    mod, attr = spec.split(":")
    return getattr(importlib.import_module(mod), attr)


_native_state: dict[str, Any] = {}


def native_available() -> tuple[bool, str | None]:
    """(loaded, reason-if-not) for the compiled extension ``pystamps_batch._native``."""
    if "ok" not in _native_state:
        try:
            importlib.import_module("pystamps_batch._native")
            _native_state.update(ok=True, reason=None)
        except ImportError as exc:
            _native_state.update(ok=False, reason=f"{exc}")
    return _native_state["ok"], _native_state["reason"]


def backends_of(name: str) -> list[str]:
    out = []
    if name in PYTHON_IMPL:
        out.append("python")
    if name in NATIVE_IMPL:
        out.append("native")
    return out


def select_backend(name: str, rt: RuntimeConfig) -> tuple[str, str]:
    """(backend, rule) chosen for kernel ``name`` under ``rt``; raises ConfigError if impossible."""
    if name not in KERNEL_NAMES:
        raise ConfigError(f"unknown kernel {name!r}, expected one of {', '.join(KERNEL_NAMES)}")
    if name in rt.kernel_backend_overrides:
        want, rule = rt.kernel_backend_overrides[name], "runtime.kernel_backend_overrides"
    elif name.startswith("stage2_") and rt.stage2_kernel_backend != "auto":
        want, rule = rt.stage2_kernel_backend, "runtime.stage2_kernel_backend"
    elif rt.backend != "auto":
        want, rule = rt.backend, "runtime.backend"
    else:
        ok, _ = native_available()
        return ("native" if ok and name in NATIVE_IMPL else "python"), "auto"
    if want == "native":
        ok, reason = native_available()
        if name not in NATIVE_IMPL:
            raise ConfigError(f"{rule}: kernel {name} has no native implementation yet (available: python)")
        if not ok:
            raise ConfigError(f"{rule}: native backend requested for {name} but the extension did not load ({reason})")
    return want, rule


class KernelSet:
    """The kernels as selected by one runtime config; records which backend ran.

    ``ks.call("stage2_topofit", ph, bperp, ntw)`` or ``ks.stage2_topofit(...)``.
    Native kernels receive ``threads=`` (from ``stage2_native_threads`` for stage-2
    kernels, else ``cpu_workers``; 0 means the process's CPU budget).
    """

    def __init__(self, runtime: RuntimeConfig | None = None):
        self.runtime = runtime or RuntimeConfig()
        self._fns: dict[str, Callable[..., Any]] = {}
        self._backend: dict[str, str] = {}
        self.used: dict[str, str] = {}
        for name in KERNEL_NAMES:  # validate every selection up front
            self._backend[name] = select_backend(name, self.runtime)[0]

    @classmethod
    def python(cls) -> "KernelSet":
        return cls(RuntimeConfig(backend="python", stage2_kernel_backend="python"))

    def backend(self, name: str) -> str:
        return self._backend[name]

    def threads(self, name: str) -> int:
        req = self.runtime.stage2_native_threads if name.startswith("stage2_") else self.runtime.cpu_workers
        return resolve_workers(req)

    def get(self, name: str) -> Callable[..., Any]:
        fn = self._fns.get(name)
        if fn is None:
            backend = self._backend[name]
            impl = _import((NATIVE_IMPL if backend == "native" else PYTHON_IMPL)[name])
            if backend == "native":
                threads = self.threads(name)

                def fn(*a: Any, _impl=impl, _t=threads, **kw: Any) -> Any:
                    kw.setdefault("threads", _t)
                    return _impl(*a, **kw)
            else:
                fn = impl
            self._fns[name] = fn
        self.used[name] = self._backend[name]
        return fn

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.get(name)(*args, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name in KERNEL_NAMES:
            return self.get(name)
        raise AttributeError(name)

    def take_report(self) -> dict[str, str]:
        """Kernels used since the last call, with their backend; resets the record."""
        rep, self.used = dict(self.used), {}
        return rep


def describe_backends(rt: RuntimeConfig) -> dict[str, Any]:
    """The registry as a JSON-able dict (for ``pystamps describe-backends``)."""
    ok, reason = native_available()
    kernels = {}
    for name in KERNEL_NAMES:
        try:
            sel, rule = select_backend(name, rt)
            err = None
        except ConfigError as exc:
            sel, rule, err = None, None, str(exc)
        kernels[name] = {"backends": backends_of(name), "selected": sel, "rule": rule}
        if err:
            kernels[name]["error"] = err
    return {
        "native_extension": {"loaded": ok, "reason": reason},
        "runtime": {"backend": rt.backend, "stage2_kernel_backend": rt.stage2_kernel_backend,
                    "stage2_native_threads": rt.stage2_native_threads, "cpu_workers": rt.cpu_workers},
        "kernels": kernels,
    }
