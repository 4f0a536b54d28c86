"""The file-I/O edge of every stage: load its inputs, call the pure stage, return outputs.

Each executor takes a :class:`UnitContext` and returns ``{artifact: {var: array}}``
for the runner to publish atomically. Stage modules are imported lazily; a stage
whose module does not exist yet fails with :class:`NotImplementedStage`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .dataset.layout import Dataset, Patch
from .errors import NotImplementedStage, StageError
from .io.matfile import MatFileError, load_mat, mat_path
from .kernels.registry import KernelSet
from .params import Params


@dataclass
class UnitContext:
    """Everything one unit of work needs."""

    dataset: Dataset
    folder: Path                      # where the unit reads and writes (patch folder or root)
    params: Params
    kernels: KernelSet
    patch: Patch | None = None        # None for merged units
    log: Callable[[str], None] = lambda msg: None
    scratch: Path | None = None       # per-run scratch folder (stage 6)
    extra: dict[str, Any] = field(default_factory=dict)


def _module(name: str, stage_label: str):
    try:
        return importlib.import_module(f"pystamps_batch.stages.{name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("pystamps_batch.stages"):
            raise NotImplementedStage(f"stage {stage_label} is not implemented in this version "
                                      f"(module pystamps_batch.stages.{name} missing)") from None
        raise


def load_inputs(folder: Path, reads: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, dict]:
    """Load the named artifacts of ``folder``; a missing required one is a StageError."""
    out: dict[str, dict] = {}
    for name in reads:
        p = mat_path(folder, name)
        if not p.is_file():
            raise StageError(f"{p}: required input missing (run the stage that writes {name}.mat first)")
        try:
            out[name] = load_mat(p)
        except MatFileError as exc:
            raise StageError(str(exc)) from None
    for name in optional:
        p = mat_path(folder, name)
        if p.is_file():
            try:
                out[name] = load_mat(p)
            except MatFileError as exc:
                raise StageError(str(exc)) from None
    return out


def _generic(module_name: str, label: str) -> Callable[[UnitContext], dict]:
    def execute(ctx: UnitContext) -> dict:
        mod = _module(module_name, label)
        inputs = load_inputs(ctx.folder, mod.READS, getattr(mod, "OPTIONAL", ()))
        return mod.run(inputs, ctx.params, ctx.kernels, log=ctx.log)
    return execute


def _stage1(ctx: UnitContext) -> dict:
    """ps_load_initial (doris) or ps_load_initial_gamma (snap, gamma), by the dataset's flavour."""
    name = "load_gamma" if ctx.dataset.flavour in ("snap", "gamma") else "load"
    mod = _module(name, "1")
    return mod.run(ctx.dataset, ctx.patch, ctx.params, log=ctx.log)


def _stage5b(ctx: UnitContext) -> dict:
    merge = _module("merge", "5b")
    ifgstd = _module("ifgstd", "5b")
    patches = merge.collect_patches(ctx.dataset, log=ctx.log)
    out = merge.run(patches, ctx.params, ctx.kernels, log=ctx.log)
    out.update(ifgstd.run(out, ctx.params, ctx.kernels, log=ctx.log))
    return out


def _stage6(ctx: UnitContext) -> dict:
    mod = _module("unwrap", "6")
    inputs = load_inputs(ctx.folder, mod.READS, getattr(mod, "OPTIONAL", ()))
    sm = inputs.get("scla_smooth2")
    if sm is not None and sm.get("K_ps_uw") is not None and sm["K_ps_uw"].shape[0] != inputs["ps2"]["xy"].shape[0]:
        # as ps_unwrap: a scla_smooth2 of another PS set (before a re-merge) is deleted, not used
        mat_path(ctx.folder, "scla_smooth2").unlink(missing_ok=True)
        inputs.pop("scla_smooth2")
        ctx.log("scla_smooth2.mat belonged to another PS set (row count differs): deleted")
    return mod.run(inputs, ctx.params, ctx.kernels, log=ctx.log, scratch_dir=ctx.scratch,
                   ifg_executor=ctx.extra.get("ifg_executor"))


EXECUTORS: dict[str, Callable[[UnitContext], dict]] = {
    "1": _stage1,
    "2": _generic("gamma", "2"),
    "3": _generic("select", "3"),
    "4": _generic("weed", "4"),
    "5a": _generic("correct", "5a"),
    "5b": _stage5b,
    "6": _stage6,
    "7": _generic("scla", "7"),
    "8": _generic("scn", "8"),
}
